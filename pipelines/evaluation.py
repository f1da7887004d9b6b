"""Test-split metrics of a zoo model, the same for the CLI, the manifest and the tests."""

import importlib

import numpy as np
from sklearn import metrics

from pipelines import data


def predict_arrays(model, X, batch_size=256):
    """Runs `model` on raw X (validated) through tf.data; returns the output array."""
    dataset = data.make_dataset(data.as_input_dict(X, model), batch_size=batch_size)
    output = model.predict(dataset, verbose=0)
    if isinstance(output, dict):  # several named heads
        return {name: np.asarray(value) for name, value in output.items()}
    return np.asarray(output)


def classification_metrics(y_true, probabilities):
    """accuracy, macro F1 and log loss; ROC AUC too for two classes.

    Example:

        classification_metrics([0, 1], [[0.9, 0.1], [0.2, 0.8]])["accuracy"]   # 1.0
    """
    y_true = np.asarray(y_true)
    probabilities = np.asarray(probabilities, dtype="float64")
    probabilities = probabilities / probabilities.sum(axis=-1, keepdims=True)  # float32 drift
    predicted = probabilities.argmax(axis=-1)
    labels = np.arange(probabilities.shape[-1])
    result = {
        "accuracy": float(metrics.accuracy_score(y_true, predicted)),
        "f1_macro": float(metrics.f1_score(y_true, predicted, average="macro")),
        "log_loss": float(metrics.log_loss(y_true, probabilities, labels=labels)),
    }
    if probabilities.shape[-1] == 2:
        result["roc_auc"] = float(metrics.roc_auc_score(y_true, probabilities[:, 1]))
    return result


def regression_metrics(y_true, predicted):
    """R^2, MAE and RMSE."""
    y_true = np.asarray(y_true, dtype="float64").ravel()
    predicted = np.asarray(predicted, dtype="float64").reshape(len(y_true), -1)[:, 0]
    return {
        "r2": float(metrics.r2_score(y_true, predicted)),
        "mae": float(metrics.mean_absolute_error(y_true, predicted)),
        "rmse": float(np.sqrt(metrics.mean_squared_error(y_true, predicted))),
    }


def multitask_metrics(model, y_true, outputs):
    """Each head's metrics, keyed "<head>_<metric>", and "score", the mean over heads of
    accuracy (classification heads) and R^2 (regression heads).

    Example:

        multitask_metrics(model, {"fine": y, "coarse": z}, model.predict(x))["coarse_accuracy"]
    """
    from pipelines.multitask import head_kinds, targets_as_dict

    kinds = head_kinds(model)
    y_true = targets_as_dict(y_true, kinds)
    result, headline = {}, []
    for head, kind in kinds.items():
        if kind == "classification":
            values = classification_metrics(y_true[head], outputs[head])
            headline.append(values["accuracy"])
        else:
            values = regression_metrics(y_true[head], outputs[head])
            headline.append(values["r2"])
        result.update({f"{head}_{key}": value for key, value in values.items()})
    result["score"] = float(np.mean(headline))
    return result


# Tasks scored by their own protocol on the whole dataset (test split), with the function
# that does it ("module:function", imported when used): metrics(model, dataset) -> dict.
DATASET_METRICS = {
    "driving": "pipelines.driving:driving_metrics",  # closed-loop driving (issue 12)
    "recommendation": "pipelines.recommendation:evaluate_split",  # MovieLens protocols
    "credit_risk": "pipelines.finance:credit_metrics",  # baselines and cost beside the model
    "speech_recognition": "pipelines.speech:asr_metrics",  # CTC: WER/CER, greedy and beam
    "self_supervised": "pipelines.transfer:probe_metrics",  # probes of the frozen encoder
    "segmentation": "pipelines.detection:segmentation_metrics",  # mean IoU
    "detection": "pipelines.detection:detection_metrics",  # COCO mAP
    "speech_enhancement": "pipelines.speech:enhancement_metrics",  # SI-SDR gains, baseline
    "text_classification": "pipelines.text:dataset_metrics",  # macro recall, f1 (issue 8)
    "generation": "pipelines.generative:generation_metrics",  # FD in our classifier's features
    "denoising": "pipelines.enhancement:image_metrics",  # PSNR/SSIM vs scikit-image baselines
    "super_resolution": "pipelines.enhancement:image_metrics",
    "inpainting": "pipelines.enhancement:image_metrics",
}


def _output_metrics(task, model, y, output):
    """Metrics of a task scored from the model's outputs on X_test and y_test."""
    if task == "multitask":
        return multitask_metrics(model, y, output)
    if task == "retrieval":
        from pipelines.retrieval import KEY, QUERY, retrieval_metrics

        return retrieval_metrics(output[QUERY], output[KEY], y)
    if task == "node_classification":
        from pipelines.graph import PROBABILITIES, node_metrics

        return node_metrics(y, output[PROBABILITIES])
    if task in ("classification", "graph_classification"):
        return classification_metrics(y, output)
    return regression_metrics(y, output)


def evaluate(model, dataset, split="test"):
    """Metrics of `model` on a split ("test" or "train") of a `datasets.Dataset`.

    Tasks in `DATASET_METRICS` are scored by their protocol on the test split only.

    Example:

        evaluate(zoo.get("cnn-digits"), datasets.load("digits"))   # {'accuracy': ...}
    """
    if split not in ("test", "train"):
        raise ValueError(f'`split` must be "test" or "train". Received: split={split!r}')
    if dataset.task in DATASET_METRICS:
        if split != "test":
            raise ValueError(
                f"A {dataset.task!r} dataset is evaluated on its test split by its protocol "
                f"({DATASET_METRICS[dataset.task]}). Received: split={split!r}"
            )
        module, function = DATASET_METRICS[dataset.task].split(":")
        return getattr(importlib.import_module(module), function)(model, dataset)
    X, y = (
        (dataset.X_test, dataset.y_test) if split == "test" else (dataset.X_train, dataset.y_train)
    )
    return _output_metrics(dataset.task, model, y, predict_arrays(model, X))


def evaluate_batches(model, task, batches):
    """Metrics of a classification or regression `model` on a stream of (x, y) batches.

    The batches (e.g. `pipelines.shards.open_shards(DIR).dataset("test")`, which keeps its
    order) are read twice, once for the outputs (`model.predict`) and once for the targets;
    only those are kept.
    """
    output = np.asarray(model.predict(batches.map(lambda x, y: x), verbose=0))
    y_true = np.concatenate([np.reshape(y, -1) for y in batches.map(lambda x, y: y)])
    if task == "classification":
        return classification_metrics(y_true, output)
    return regression_metrics(y_true, output)


HEADLINE_METRIC = {
    "classification": "accuracy",
    "regression": "r2",
    "multitask": "score",
    "retrieval": "recall_at_1",
    "node_classification": "accuracy",
    "graph_classification": "accuracy",
    "speech_recognition": "wer",
    "self_supervised": "linear_probe_accuracy",
    "segmentation": "mean_iou",
    "detection": "map50",
    "speech_enhancement": "si_sdr_gain_db",
    "image_enhancement": "psnr_db",
    "generation": "fd",
}


def report(name, model, dataset, weights="pretrained"):
    """What `python cli.py evaluate NAME` prints: `evaluate`, or the dataset's protocol.

    A dataset whose provenance names a "protocol" (the graphs: seeded label draws, each a
    training of a fresh model) is scored by it, with its baselines (`pipelines.graph`); one
    with "baseline_metrics" (baselines scored on the same test split when it was loaded,
    e.g. {"baseline_accuracy": ...}) gets them beside the model's metrics. MovieLens runs
    its whole protocol (5 folds / leave-one-out ranking, `pipelines.recommendation`, with
    the shipped row's config and recipe when `weights` is "pretrained"); a driving entry
    gets the other recipe's closed-loop metrics (BC / DAgger) beside its own.
    """
    if dataset.task == "recommendation":
        from pipelines.recommendation import protocol_metrics
        from zoo.weights import read_manifest

        row = read_manifest().get(name, {}) if weights == "pretrained" else {}
        return protocol_metrics(name, model, row.get("config"), row.get("training"))
    import zoo

    if zoo.get_entry(name).recipe.get("trainer") == "transfer":  # issue 10: vs from scratch
        from pipelines.transfer import transfer_metrics

        return transfer_metrics(name, model, dataset)
    if dataset.task == "self_supervised":  # issue 10: fine-tuned vs from scratch, probes
        from pipelines.transfer import ssl_metrics

        return ssl_metrics(name, model, dataset)
    if "protocol" in dataset.provenance:
        from pipelines.graph import run_protocol

        return run_protocol(name, model, dataset)
    metrics = {**evaluate(model, dataset), **dataset.provenance.get("baseline_metrics", {})}
    if dataset.task == "text_classification":  # computed on first use, not at loading
        from datasets.text import baseline_metrics

        metrics.update(baseline_metrics(dataset.name))
    if dataset.task == "driving":
        from pipelines.driving import other_recipes

        metrics.update(other_recipes(name, dataset))
    return metrics

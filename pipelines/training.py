"""A recorded training run of a zoo entry, as `python cli.py train NAME` runs it.

A run trains the entry on its dataset's training split (10% held out, seeded, for validation
and checkpointing), evaluates the best checkpoint on the test split, and writes a directory:

    runs/NAME-YYYYmmdd-HHMMSS/
      config.json          resolved builder config, training settings, data, versions, command
      history.csv          one row per epoch (loss, metrics, validation)
      metrics.json         test-split metrics of the best and of the final weights
      learning_curve.png   loss and headline metric per epoch
      tensorboard/         TensorBoard logs
      best.weights.h5      lowest validation loss
      final.weights.h5     after the last epoch

`publish=True` (or later `publish_run(run_dir)`) then copies the best weights to
`zoo/weights/NAME.weights.h5`, verifies both exports on them, and writes the manifest row
(sha256, metrics, versions, the training command).

Example:

    run = train_run("cnn-digits", epochs=5, seed=0, out="runs")
    run["metrics"]["best"]["accuracy"]
"""

import datetime
import json
import pathlib
import shutil
import tempfile

import keras
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import datasets  # noqa: E402
import zoo  # noqa: E402
from pipelines import evaluation  # noqa: E402
from pipelines.classification import ZooClassifier  # noqa: E402
from pipelines.multitask import ZooMultiTask  # noqa: E402
from pipelines.regression import ZooRegressor  # noqa: E402
from pipelines.retrieval import ZooRetriever  # noqa: E402

VALIDATION_SPLIT = 0.1


def estimator_for(name, **params):
    """Returns a `ZooClassifier`, `ZooRegressor`, `ZooMultiTask` or `ZooRetriever` for `name`'s task."""
    task = zoo.get_entry(name).task
    estimators = {
        "classification": ZooClassifier,
        "regression": ZooRegressor,
        "multitask": ZooMultiTask,
        "retrieval": ZooRetriever,
    }
    return estimators[task](name, **params)


def software_versions():
    """Keras, backend and TensorFlow versions, for run configs and manifest rows."""
    import tensorflow as tf

    backend = keras.backend.backend()
    module = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}[backend]
    return {
        "keras": keras.__version__,
        "backend": backend,
        "backend_version": __import__(module).__version__,
        "tensorflow": tf.__version__,
    }


def plot_learning_curve(history, task, path):
    """Saves loss and the headline metric per epoch (train and validation) as a PNG.

    A multitask run plots the total loss and the metric of each head.
    """
    if task == "multitask":
        metrics = sorted(
            key
            for key in history
            if key.endswith(("_accuracy", "_mean_absolute_error")) and not key.startswith("val_")
        )
    elif task == "retrieval":
        metrics = []  # the contrastive loss is the only training curve
    else:
        metrics = [{"classification": "accuracy", "regression": "mean_absolute_error"}[task]]
    keys = ["loss", *metrics]
    figure, axes = plt.subplots(1, len(keys), figsize=(5 * len(keys), 4), squeeze=False)
    for axis, key in zip(axes[0], keys):
        for prefix, style in (("", "-"), ("val_", "--")):
            if prefix + key in history:
                values = history[prefix + key]
                axis.plot(range(1, len(values) + 1), values, style, label=prefix + key)
        axis.set_xlabel("epoch")
        axis.set_title(key)
        axis.legend()
        axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def train_run(
    name,
    epochs=None,
    batch_size=None,
    seed=0,
    out="runs",
    overrides=None,
    publish=False,
    mixed_precision=False,
    verbose=1,
    command=None,
):
    """Trains entry `name` on its dataset and writes a run directory; returns a summary.

    Args:
        name: the zoo name.
        epochs, batch_size: override the entry's recipe.
        seed: seeds the initialisation, the shuffling and the validation split.
        out: parent directory of the run directory.
        overrides: builder arguments, e.g. {"dropout": 0.4}.
        publish: also write the shipped weights file and its manifest row.
        mixed_precision: train under the "mixed_float16" policy (for GPUs).
        verbose: Keras verbosity (1: a progress bar).
        command: the command line to record (defaults to the equivalent CLI command).
    """
    entry = zoo.get_entry(name)
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(entry.defaults))
    if unknown:
        raise ValueError(
            f"{name!r} has no argument {', '.join(unknown)}. "
            f"Its arguments: {', '.join(entry.defaults)}."
        )
    data = datasets.load(entry.dataset)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir = pathlib.Path(out) / f"{name}-{stamp}"
    run_dir.mkdir(parents=True, exist_ok=False)
    if mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_float16")

    callbacks = [
        keras.callbacks.CSVLogger(str(run_dir / "history.csv")),
        keras.callbacks.TensorBoard(log_dir=str(run_dir / "tensorboard")),
        keras.callbacks.ModelCheckpoint(
            str(run_dir / "best.weights.h5"),
            monitor="val_loss",
            save_best_only=True,
            save_weights_only=True,
        ),
    ]
    estimator = estimator_for(
        name,
        epochs=epochs,
        batch_size=batch_size,
        random_state=seed,
        validation_split=VALIDATION_SPLIT,
        callbacks=callbacks,
        verbose=verbose,
        **{f"model__{key}": value for key, value in overrides.items()},
    )
    settings = {
        "epochs": estimator._setting("epochs"),
        "batch_size": estimator._setting("batch_size"),
        "learning_rate": estimator._setting("learning_rate"),
        "lr_schedule": estimator._setting("lr_schedule"),
        "optimizer": estimator.optimizer,
        "seed": seed,
        "validation_split": VALIDATION_SPLIT,
        "mixed_precision": mixed_precision,
    }
    if command is None:
        sets = " ".join(f"--set {key}={value}" for key, value in overrides.items())
        command = f"python cli.py train {name} --seed {seed} {sets}".strip()
    estimator.fit(data.X_train, data.y_train)
    estimator.model_.save_weights(run_dir / "final.weights.h5")
    if mixed_precision:
        keras.mixed_precision.set_global_policy("float32")
    # Score the weights as `zoo.get` loads them: in a fresh float32 model.
    model = entry.build(**estimator.model_config_)
    model.load_weights(run_dir / "final.weights.h5")
    final_metrics = evaluation.evaluate(model, data)
    model.load_weights(run_dir / "best.weights.h5")
    best_metrics = evaluation.evaluate(model, data)

    config = {
        "name": name,
        "model_config": estimator.model_config_,
        "training": settings,
        "dataset": data.describe(),
        "class_names": data.class_names,
        "versions": software_versions(),
        "date": datetime.date.today().isoformat(),
        "command": command,
    }
    (run_dir / "config.json").write_text(json.dumps(config, indent=2, default=str) + "\n")
    metrics = {"split": "test", "best": best_metrics, "final": final_metrics}
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    plot_learning_curve(estimator.history_, entry.task, run_dir / "learning_curve.png")

    summary = {"run_dir": str(run_dir), "metrics": metrics, "config": config}
    if publish:
        summary["published"] = publish_run(run_dir)
    return summary


def publish_run(run_dir):
    """Ships the best weights of a finished run as the pretrained weights of its entry.

    Both exports (SavedModel and ONNX) are made from those weights and verified by
    reloading; the formats that pass are recorded in the manifest row, with the run's
    test metrics, config, versions and the training command that produced the weights.

    Example:

        publish_run("runs/cnn-digits-20261129-101500")
    """
    from pipelines.export import export_model

    run_dir = pathlib.Path(run_dir)
    config = json.loads((run_dir / "config.json").read_text())
    metrics = json.loads((run_dir / "metrics.json").read_text())
    name = config["name"]
    model = zoo.get_entry(name).build(**config["model_config"])
    weights_path = run_dir / "best.weights.h5"
    zoo.weights.load_into(model, weights_path)
    exports_verified = []
    # Labels name the classes of a one-output classifier; a multitask entry's class names
    # (a dict per head) stay in the manifest row.
    labels = config["class_names"] if isinstance(config["class_names"], list) else None
    with tempfile.TemporaryDirectory() as directory:
        for format in ("saved_model", "onnx"):
            export_model(
                model,
                directory,
                format=format,
                labels=labels,
                text_inputs=config["dataset"].get("text_inputs"),
            )
            exports_verified.append(format)
    file_name = f"{name}.weights.h5"
    with zoo.weights.atomic_path(zoo.weights.SHIPPED_DIR / file_name) as tmp:
        shutil.copyfile(weights_path, tmp)
    row = {
        "file": file_name,
        "sha256": zoo.weights.sha256_of(zoo.weights.SHIPPED_DIR / file_name),
        "dataset": config["dataset"],
        "class_names": config["class_names"],
        "metrics": metrics["best"],
        "parameters": model.count_params(),
        "config": config["model_config"],
        "training": config["training"],
        "versions": config["versions"],
        "date": config["date"],
        "command": config["command"],
        "exports_verified": exports_verified,
    }
    zoo.weights.write_manifest_row(name, row)
    return row

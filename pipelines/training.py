"""A recorded training run of a zoo entry, as `python cli.py train NAME` runs it.

A run trains the entry on its dataset's training split (10% held out, seeded, for validation
and checkpointing, unless the entry's recipe sets another `validation_split`; with 0 the whole
split trains and the "best" checkpoint is the latest), evaluates the best checkpoint on the
test split, and writes a directory:

    runs/NAME-YYYYmmdd-HHMMSS/   (NAME-YYYYmmdd-HHMMSS-2, -3, ... when that one exists)
      config.json          resolved builder config, training settings, data, versions, command
      history.csv          one row per epoch (loss, metrics, validation, epoch_seconds)
      metrics.json         test-split metrics of the best and of the final weights
      learning_curve.png   loss and headline metric per epoch
      tensorboard/         TensorBoard logs
      best.weights.h5      lowest validation loss (without validation: the latest)
      final.weights.h5     after the last epoch
      backup.npz           the whole training state after the last finished epoch (resume)

With `data_dir` (`python cli.py train NAME --data DIR`) the run streams its data from a
shard directory written by `python cli.py prepare NAME` (`pipelines.shards`) instead of
loading the dataset: the train shards train, the validation shards (the same 10% split, made
when the shards were written) validate, the test shards are scored.

Every file is written under a temporary name, flushed and renamed into place
(`zoo.weights.atomic_path`), so a run killed at any moment leaves whole files only; the
next run (or resume) removes the temporary files of killed writers. A killed run continues
with `train_run(name, resume=run_dir)` (`python cli.py train NAME --resume RUN_DIR`): it
restores every model variable (seed-generator states included), the optimizer's variables,
the epoch, the history and the best validation loss from `backup.npz`, and ends with the
weights an uninterrupted run ends with. A run that fails before its first epoch ends leaves
no directory.

`publish=True` (or later `publish_run(run_dir)`) then verifies both exports on the best
weights, and ships them (`zoo.weights.publish`: `zoo/weights/NAME.SHA12.weights.h5` and the
manifest row, with sha256, metrics, versions and the training command, changed together under
a lock).

Example:

    run = train_run("cnn-digits", epochs=5, seed=0, out="runs")
    run["metrics"]["best"]["accuracy"]
"""

import dataclasses
import datetime
import io
import json
import math
import pathlib
import shutil
import sys
import tempfile
import time

import keras
import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import datasets  # noqa: E402
import zoo  # noqa: E402
from pipelines import checks, distributed, evaluation  # noqa: E402
from pipelines.base import take  # noqa: E402
from pipelines.classification import ZooClassifier  # noqa: E402
from pipelines.multitask import ZooMultiTask  # noqa: E402
from pipelines.regression import ZooRegressor  # noqa: E402
from pipelines.retrieval import ZooRetriever  # noqa: E402

VALIDATION_SPLIT = 0.1
BACKUP = "backup.npz"
MONITOR = "val_loss"


def estimator_for(name, **params):
    """The estimator that trains `name`: the trainer its recipe names, else its task's."""
    entry = zoo.get_entry(name)
    if entry.recipe.get("calibrate"):  # finance entries: class weights, calibration
        from pipelines.finance import CalibratedClassifier

        return CalibratedClassifier(name, **params)
    task = entry.task
    trainer = entry.recipe.get("trainer")  # a recipe whose training is not its task's default
    if trainer == "dagger":  # drive-dagger
        from pipelines.driving import DAggerClassifier

        return DAggerClassifier(name, **params)
    if trainer == "two_tower":  # in-batch softmax with keras-rs corrections
        from pipelines.recommendation import ZooTwoTower

        return ZooTwoTower(name, **params)
    if trainer == "transfer":  # a pretrained backbone, a new head, then fine-tuning
        settings = ("pretrained", "freeze", "fine_tune_epochs", "fine_tune_learning_rate")
        return ZooClassifier(name, **{key: entry.recipe[key] for key in settings}, **params)
    if trainer == "simclr":  # self-supervised: two views of each image, no labels
        from pipelines.transfer import ZooSimCLR

        return ZooSimCLR(name, **params)
    if trainer == "neumf":  # rated pairs and sampled unrated ones, two heads
        from pipelines.recommendation import ZooNeuMF

        return ZooNeuMF(name, **params)
    if task == "speech_recognition":  # CTC on waveforms (issue 11)
        from pipelines.speech import ZooCTC

        return ZooCTC(name, **params)
    if task == "speech_enhancement":  # noisy -> clean waveforms, minus SI-SDR (issue 11)
        from pipelines.speech import ZooEnhancer

        return ZooEnhancer(name, **params)
    if task in ("segmentation", "detection"):  # masks / CenterNet boxes (issue 10)
        from pipelines.detection import ZooDetector, ZooSegmenter

        estimator = ZooSegmenter if task == "segmentation" else ZooDetector
        return estimator(name, **params)
    if task == "generation":  # issue 9: GAN / CVAE, a custom step on three backends
        from pipelines.generative import ZooGenerator

        return ZooGenerator(name, **params)
    if task == "image_enhancement":  # issue 9: images in, images out
        from pipelines.enhancement import ZooImageEnhancer

        return ZooImageEnhancer(name, **params)
    if task in ("node_classification", "graph_classification"):
        from pipelines import graph

        return graph.ESTIMATORS[task](name, **params)
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

    A multitask run plots the total loss and the metric of each head; a model with several
    outputs also gets each output's loss.
    """
    if task == "multitask":
        metrics = sorted(
            key
            for key in history
            if key.endswith(("_accuracy", "_mean_absolute_error")) and not key.startswith("val_")
        )
    elif task in ("retrieval", "node_classification", "speech_recognition", "speech_enhancement"):
        metrics = []  # the contrastive loss / the loss on the labelled nodes / CTC only
    else:
        headline = {"classification": "accuracy", "graph_classification": "accuracy"}
        metrics = [headline.get(task, "mean_absolute_error")]
    # the headline metric when the run recorded it, and each output's loss (several outputs)
    metrics = [key for key in metrics if key in history]
    metrics += sorted(k for k in history if k.endswith("_loss") and not k.startswith("val_"))
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
    with zoo.weights.atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=100, format="png")
    plt.close(figure)


def _write_json(path, value):
    zoo.weights.write_text_atomic(path, json.dumps(value, indent=2, default=str) + "\n")


class RunRecorder(keras.callbacks.Callback):
    """Writes a run's files after every epoch, atomically, and restores a killed run.

    At each epoch end: `best.weights.h5` when the validation loss improved, `history.csv`,
    then `backup.npz`: every variable of the model (`model.variables`, which holds the
    seed-generator states of Dropout and augmentation layers that `save_weights` leaves out)
    and of the optimizer (its iteration count drives the learning-rate schedules), the number
    of finished epochs, the history and the best validation loss (on PyTorch also torch's
    global random state, which unseeded Dropout layers draw from there). When `backup.npz` exists at
    `on_train_begin`, all of it is restored and Keras starts at the next epoch
    (`model._initial_epoch`, as `keras.callbacks.BackupAndRestore` does).
    """

    def __init__(self, run_dir):
        super().__init__()
        self.run_dir = pathlib.Path(run_dir)
        self.history = {}
        self.best = math.inf
        self.epochs_done = 0

    def on_train_begin(self, logs=None):
        path = self.run_dir / BACKUP
        began, self._began = getattr(self, "_began", False), True
        if began or not path.exists():  # a second fit of the run (fine-tuning) continues
            return
        with np.load(path, allow_pickle=False) as backup:
            state = json.loads(str(backup["state"]))
            model_values = [backup[f"model_{i}"] for i in range(state["model_variables"])]
            optimizer_values = [
                backup[f"optimizer_{i}"] for i in range(state["optimizer_variables"])
            ]
            torch_rng = backup["torch_rng"] if "torch_rng" in backup.files else None
        optimizer = self.model.optimizer
        if not optimizer.built:
            optimizer.build(self.model.trainable_variables)
        for kind, variables, values in (
            ("model", self.model.variables, model_values),
            ("optimizer", optimizer.variables, optimizer_values),
        ):
            shapes = [tuple(v.shape) for v in variables]
            if shapes != [value.shape for value in values]:
                raise ValueError(
                    f"{path} holds the training state of another {kind} "
                    f"({len(values)} variables, expected {len(variables)} of shapes "
                    f"{shapes[:3]}...): resume a run of the same entry and settings."
                )
            for variable, value in zip(variables, values):
                variable.assign(value)
        if torch_rng is not None and keras.backend.backend() == "torch":
            import torch

            torch.set_rng_state(torch.from_numpy(torch_rng))
        self.epochs_done = state["epochs_done"]
        self.history = state["history"]
        self.best = math.inf if state["best"] is None else state["best"]
        self.model._initial_epoch = self.epochs_done

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs = {key: float(value) for key, value in (logs or {}).items()}
        # Wall seconds of the epoch (training and validation), before any file is written.
        logs["epoch_seconds"] = time.perf_counter() - self._epoch_start
        for key, value in logs.items():
            self.history.setdefault(key, []).append(value)
        self.epochs_done = epoch + 1
        current = logs.get(MONITOR)
        if current is None or current < self.best:  # no validation: the latest is the best
            self.best = math.inf if current is None else current
            with zoo.weights.atomic_path(self.run_dir / "best.weights.h5") as tmp:
                self.model.save_weights(tmp)
        self._write_history()
        self._write_backup()

    def _write_history(self):
        keys = sorted(self.history)
        lines = [",".join(["epoch", *keys])]
        for index in range(self.epochs_done):
            values = [self.history[key][index] for key in keys]
            lines.append(",".join([str(index), *map(repr, values)]))
        zoo.weights.write_text_atomic(self.run_dir / "history.csv", "\n".join(lines) + "\n")

    def _write_backup(self):
        model_variables = self.model.variables
        optimizer_variables = self.model.optimizer.variables
        state = {
            "epochs_done": self.epochs_done,
            "history": self.history,
            "best": None if math.isinf(self.best) else self.best,
            "model_variables": len(model_variables),
            "optimizer_variables": len(optimizer_variables),
        }
        arrays = {"state": np.array(json.dumps(state))}
        if keras.backend.backend() == "torch":
            # Unseeded Dropout layers draw from torch's global generator on PyTorch.
            import torch

            arrays["torch_rng"] = torch.get_rng_state().numpy()
        for prefix, variables in (("model", model_variables), ("optimizer", optimizer_variables)):
            for index, variable in enumerate(variables):
                arrays[f"{prefix}_{index}"] = keras.ops.convert_to_numpy(variable.value)
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        with zoo.weights.atomic_path(self.run_dir / BACKUP) as tmp:
            pathlib.Path(tmp).write_bytes(buffer.getvalue())


def check_mixed_precision(value):
    """Returns False, "float16" or "bfloat16" for a `mixed_precision` setting, or raises."""
    if value is None or value is False:
        return False
    if value is True:
        return "float16"
    if value in ("float16", "bfloat16"):
        return value
    raise ValueError(
        'mixed_precision must be False, "bfloat16" or "float16" (True: "float16"). '
        f"Received: mixed_precision={value!r}"
    )


def _new_run_dir(out, name):
    """Creates a new, unique run directory under `out` (`-2`, `-3`, ... on a clash)."""
    out = pathlib.Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"out must be a directory. Received: out={str(out)!r}, a file.")
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    try:
        out.mkdir(parents=True, exist_ok=True)
        for child in out.iterdir():  # what killed runs' writers left behind
            if child.is_dir():
                zoo.weights.remove_stale_temporaries(child)
        for attempt in range(1, 10_000):
            run_dir = out / (f"{name}-{stamp}" + (f"-{attempt}" if attempt > 1 else ""))
            try:
                run_dir.mkdir()
                return run_dir
            except FileExistsError:
                continue
    except OSError as error:
        raise ValueError(
            f"out must be a writable directory. Received: out={str(out)!r} "
            f"({error.strerror or error})."
        ) from None
    raise ValueError(f"Could not create a new run directory in out={str(out)!r}.")


def _resumed_settings(name, run_dir, given):
    """The settings recorded in `run_dir`'s config.json; refuses contradicting ones."""
    run_dir = pathlib.Path(run_dir)
    config_path = run_dir / "config.json"
    if not run_dir.is_dir() or not config_path.is_file():
        raise ValueError(
            "resume must be the directory of a run of `train` (with config.json). "
            f"Received: resume={str(run_dir)!r}"
        )
    config = _read_json(config_path)
    if config.get("name") != name:
        raise ValueError(
            f"resume={str(run_dir)!r} is a run of {config.get('name')!r}, not of {name!r}."
        )
    recorded = {
        "epochs": config["training"]["epochs"],
        "batch_size": config["training"]["batch_size"],
        "seed": config["training"]["seed"],
        "overrides": config.get("overrides", {}),
        "mixed_precision": check_mixed_precision(config["training"]["mixed_precision"]),
        "data_dir": config.get("data_dir"),
    }
    for key, value in given.items():
        if value not in (None, {}, False) and value != recorded[key]:
            raise ValueError(
                f"A resumed run keeps its recorded settings: {key}={recorded[key]!r} in "
                f"{config_path}. Received: {key}={value!r}"
            )
    return recorded, config.get("command")


def _read_json(path):
    try:
        return json.loads(pathlib.Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"Cannot read {path}: {error}") from None


def _open_training_shards(data_dir):
    """The shard directory `train_run` streams from, verified, with the splits it needs."""
    from pipelines import shards

    source = shards.open_shards(data_dir, what="data_dir (--data)")
    missing = [split for split in ("train", "validation", "test") if split not in source.splits]
    if missing or source.validation_fraction != VALIDATION_SPLIT:
        raise ValueError(
            f"data_dir must hold train, validation and test shards with a {VALIDATION_SPLIT:g} "
            f"validation split (`python cli.py prepare NAME`, the default). Received: "
            f"{str(data_dir)!r} with the splits {list(source.splits)}, validation fraction "
            f"{source.validation_fraction}."
        )
    return source


def train_run(
    name,
    epochs=None,
    batch_size=None,
    seed=None,
    out="runs",
    overrides=None,
    publish=False,
    mixed_precision=False,
    verbose=1,
    command=None,
    resume=None,
    distribution=None,
    limit=None,
    data_dir=None,
):
    """Trains entry `name` on its dataset and writes a run directory; returns a summary.

    Args:
        name: the zoo name.
        epochs, batch_size: override the entry's recipe (positive integers).
        seed: seeds the initialisation, the shuffling and the validation split (default 0).
        out: parent directory of the run directory.
        overrides: builder arguments, e.g. {"dropout": 0.4}.
        publish: also write the shipped weights file and its manifest row.
        mixed_precision: False (float32), "bfloat16" (the "mixed_bfloat16" policy: pays on
            CPUs with AVX512_BF16 and on TPUs, see bench/results-scale-2026-11-29.md) or
            "float16" (the "mixed_float16" policy, for GPUs; True means "float16"). Layers
            compute in the low precision and keep float32 variables; the output layers of
            the zoo's builders and the loss stay float32, and the weights are saved, scored
            and exported in a float32 model.
        verbose: Keras verbosity (1: a progress bar).
        command: the command line to record (defaults to the equivalent CLI command).
        resume: the directory of a killed run of `name` to continue (its recorded settings
            are used; `out` is ignored).
        distribution: a data-parallel distribution (see `pipelines.distributed`); in a
            multi-process run only process 0 writes the run directory (and publishes), the
            others train the same model and return {"run_dir": None, "process_id": i}.
        limit: train on the first `limit` samples of the training split only (quick checks
            and benchmarks; the test split stays whole).
        data_dir: a shard directory (`python cli.py prepare NAME`) to stream the data from
            instead of loading the dataset into memory: training on its train split,
            validation on its validation split (it must have been written with the 10% of
            `VALIDATION_SPLIT`), test metrics on its test split.
    """
    entry = zoo.get_entry(name)
    overrides = dict(overrides or {})
    # `augment` (an augmentation policy, pipelines.augment) is a training setting given
    # with the builder arguments (`--set augment=randaugment`); the rest go to the builder,
    # and so does `augment` when the builder takes it (asr-digits-ctc's waveform augmentations).
    training_settings = {
        key: overrides[key]
        for key in ("augment",)
        if key in overrides and key not in entry.defaults
    }
    builder = {key: value for key, value in overrides.items() if key not in training_settings}
    entry.check_overrides(builder)
    for setting, value in (("epochs", epochs), ("batch_size", batch_size)):
        if value is not None:
            checks.check_positive_int(setting, value)
    if seed is not None:
        checks.check_int("seed", seed)
    mixed_precision = check_mixed_precision(mixed_precision)
    if resume is not None and distribution is not None:
        raise ValueError(
            "resume continues a one-process run; a distributed run cannot be resumed. "
            "Received: resume with a distribution"
        )
    if resume is not None:
        given = {
            "epochs": epochs,
            "batch_size": batch_size,
            "seed": seed,
            "overrides": overrides,
            "mixed_precision": mixed_precision,
            "data_dir": None if data_dir is None else str(data_dir),
        }
        recorded, recorded_command = _resumed_settings(name, resume, given)
        data_dir = recorded["data_dir"]
        epochs, batch_size, seed = recorded["epochs"], recorded["batch_size"], recorded["seed"]
        overrides, mixed_precision = recorded["overrides"], recorded["mixed_precision"]
        command = recorded_command or command
    seed = 0 if seed is None else int(seed)
    if data_dir is not None and limit is not None:
        raise ValueError(
            "limit takes the first samples of a dataset loaded into memory; a shard directory "
            f"streams whole splits. Received: limit={limit!r} with data_dir={str(data_dir)!r}"
        )
    source = None
    if data_dir is not None:
        source = _open_training_shards(data_dir)
        data = None
    else:
        data = datasets.load(entry.dataset)
        if limit is not None:
            data = _first_samples(data, checks.check_positive_int("limit", limit))
    recorder_dir = pathlib.Path(resume) if resume is not None else None
    callbacks = []  # the run's callbacks, added once the run directory exists
    estimator = estimator_for(
        name,
        epochs=epochs,
        batch_size=batch_size,
        random_state=seed,
        validation_split=entry.recipe.get("validation_split", VALIDATION_SPLIT),
        callbacks=callbacks,
        verbose=verbose,
        distribution=distribution,
        **{f"model__{key}": value for key, value in builder.items()},
        **training_settings,
    )
    if training_settings and not isinstance(estimator, ZooClassifier):
        raise ValueError(
            f"augment applies to classifiers of images; {name!r} trains with "
            f"{type(estimator).__name__}. Received: augment={training_settings['augment']!r}"
        )
    settings = {
        "epochs": estimator._setting("epochs"),
        "batch_size": estimator._setting("batch_size"),
        "learning_rate": estimator._setting("learning_rate"),
        "lr_schedule": estimator._setting("lr_schedule"),
        "optimizer": estimator.optimizer,
        "seed": seed,
        "validation_split": estimator.validation_split,
        "mixed_precision": mixed_precision,
    }
    preferred = entry.recipe.get("backend")
    if preferred and preferred != keras.backend.backend() and verbose:
        print(
            f"note: the recipe of {name} was tuned for time on the {preferred} backend; "
            f"this run uses {keras.backend.backend()} (KERAS_BACKEND or --backend {preferred} "
            "to match it).",
            file=sys.stderr,
        )
    if limit is not None:
        settings["limit"] = limit
    scratch = None
    if distribution is not None:
        settings["distribution"] = distributed.describe(distribution)
        if distributed.process_index() != 0:
            # The other processes run the same steps and callbacks (their saves take part
            # in the same collectives as process 0's) into a directory removed at the end.
            scratch = tempfile.mkdtemp(prefix="zoo-process-")
            out, publish = scratch, False
    if command is None:
        sets = " ".join(f"--set {key}={value}" for key, value in overrides.items())
        command = f"python cli.py train {name} --seed {seed} {sets}".strip()
        if data_dir is not None:
            command += f" --data {data_dir}"

    if recorder_dir is None:
        run_dir = _new_run_dir(out, name)
    else:
        run_dir = recorder_dir
        zoo.weights.remove_stale_temporaries(run_dir)
    recorder = RunRecorder(run_dir)
    callbacks += [recorder, keras.callbacks.TensorBoard(log_dir=str(run_dir / "tensorboard"))]
    previous_policy = keras.mixed_precision.global_policy()
    try:
        # What a resume needs, before the first epoch.
        _write_json(
            run_dir / "config.json",
            {
                "name": name,
                "training": settings,
                "overrides": overrides,
                "command": command,
                "data_dir": None if data_dir is None else str(data_dir),
            },
        )
        if mixed_precision:
            keras.mixed_precision.set_global_policy(f"mixed_{mixed_precision}")
        try:
            if source is not None:
                estimator.fit(source)
            else:
                estimator.fit(data.X_train, data.y_train)
        finally:
            keras.mixed_precision.set_global_policy(previous_policy)
        with zoo.weights.atomic_path(run_dir / "final.weights.h5") as tmp:
            estimator.model_.save_weights(tmp)
    except BaseException:
        if recorder_dir is None and not (run_dir / BACKUP).exists():
            shutil.rmtree(run_dir, ignore_errors=True)  # nothing worth keeping or resuming
        raise
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    if scratch is not None:
        return {"run_dir": None, "process_id": distributed.process_index()}
    estimator.history_ = recorder.history
    # Score the weights as `zoo.get` loads them: in a fresh float32 model.
    model = entry.build(**estimator.model_config_)
    model.load_weights(run_dir / "final.weights.h5")
    if source is not None:
        test = source.dataset("test")
        final_metrics = evaluation.evaluate_batches(model, entry.task, test)
        model.load_weights(run_dir / "best.weights.h5")
        best_metrics = evaluation.evaluate_batches(model, entry.task, test)
        description = {**(source.manifest.get("source") or {}), "shards": str(data_dir)}
        description["validation"] = source.manifest.get("validation")
        class_names = source.class_names
    else:
        final_metrics = evaluation.evaluate(model, data)
        model.load_weights(run_dir / "best.weights.h5")
        best_metrics = evaluation.evaluate(model, data)
        description, class_names = data.describe(), data.class_names

    config = {
        "name": name,
        "model_config": estimator.model_config_,
        "training": settings,
        "overrides": overrides,
        "dataset": description,
        "class_names": class_names,
        "versions": software_versions(),
        "date": datetime.date.today().isoformat(),
        "command": command,
        "data_dir": None if data_dir is None else str(data_dir),
    }
    _write_json(run_dir / "config.json", config)
    metrics = {"split": "test", "best": best_metrics, "final": final_metrics}
    _write_json(run_dir / "metrics.json", metrics)
    plot_learning_curve(recorder.history, entry.task, run_dir / "learning_curve.png")

    summary = {"run_dir": str(run_dir), "metrics": metrics, "config": config}
    if publish:
        summary["published"] = publish_run(run_dir)
    return summary


def _first_samples(data, limit):
    """`data` with only the first `limit` samples of its training split."""
    first = slice(limit)
    return dataclasses.replace(
        data, X_train=take(data.X_train, first), y_train=take(data.y_train, first)
    )


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
    needed = ("config.json", "metrics.json", "best.weights.h5")
    if not run_dir.is_dir() or not all((run_dir / file).is_file() for file in needed):
        what = "a file" if run_dir.is_file() else "not a finished run directory"
        raise ValueError(
            f"run_dir must be the directory of a finished run of `train` (with "
            f"{', '.join(needed)}). Received: {str(run_dir)!r} ({what})."
        )
    config = _read_json(run_dir / "config.json")
    metrics = _read_json(run_dir / "metrics.json")
    if "model_config" not in config or "best" not in metrics:
        raise ValueError(
            f"run_dir {str(run_dir)!r} is not a finished run: its config.json or metrics.json "
            "lacks the final results. Resume it with `train NAME --resume RUN_DIR`."
        )
    name = config["name"]
    model = zoo.get_entry(name).build(**config["model_config"])
    weights_path = run_dir / "best.weights.h5"
    zoo.weights.load_into(model, weights_path)
    exports_verified = []
    # Labels name the classes of a one-output classifier (not a generator's classes, issue 9);
    # a multitask entry's class names (a dict per head) and those of a model with several
    # outputs (a node classifier's probabilities and embeddings) stay in the manifest row.
    one_output = not isinstance(model.output, dict)
    labels = config["class_names"] if isinstance(config["class_names"], list) else None
    labels = labels if one_output and "probabilities" in model.output_names else None
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
    # Text entries (issue 8): the vocabulary ships beside the weights, named in the row.
    from pipelines.text import ship_vocabularies

    dataset = config["dataset"]
    text_inputs, extra_files = ship_vocabularies(name, dataset.get("text_inputs"))
    if extra_files:
        dataset = {**dataset, "text_inputs": text_inputs}

    def make_row(file_name, sha256):
        return {
            "file": file_name,
            "sha256": sha256,
            "dataset": dataset,
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

    return zoo.weights.publish(name, weights_path, make_row, extra_files=extra_files)

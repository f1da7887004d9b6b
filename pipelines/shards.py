"""Datasets larger than memory: sharded TFRecord files written once, read by streaming.

`prepare(name)` (`python cli.py prepare NAME`) writes a dataset's splits as TFRecord shards in
the cache, `$ZOO_HOME/shards/DATASET` (default `~/.cache/keras-zoo/shards/DATASET`):

    fashion_mnist/
      manifest.json                      format, element spec, classes, counts, sha256 per shard
      train-00000-of-00004.tfrecord      90% of the training split (seeded, stratified)
      validation-00000-of-00001.tfrecord the other 10%: the split `train_run` holds out
      test-00000-of-00001.tfrecord       the test split

The directory is built under a temporary name and renamed into place
(`zoo.weights.atomic_path`), so a reader sees a whole shard set or none; a re-run with the
same settings verifies the existing copy (sha256 of every shard) and leaves it alone.

`open_shards(directory)` reads the manifest, checks that every shard is there with its size
and sha256 (an error names the missing or corrupt file), and builds `tf.data` pipelines:
shard files in a seeded random order -> `interleave` (parallel, deterministic) -> a bounded,
seeded shuffle buffer -> batch -> `parse_example` on whole batches (parallel) -> prefetch.
Memory is the shuffle buffer and a few batches, whatever the size of the data; the
estimators (`ZooClassifier(...).fit(directory)`) read the classes and counts from the
manifest, so `fit` makes no extra pass over the data, and the `Normalization` layers adapt
on a stream.

Why TFRecord: `bench/streaming.py` measured it against `tf.data.Dataset.save` snapshots
on this machine (both far faster than training needs), and TFRecord files are portable
(any TensorFlow reads them, with a CRC per record), where snapshots are an internal format.

Validation: the validation split is made once, when the shards are written, by the rule
`train_run` applies to arrays (`train_test_split(test_size=0.1, random_state=seed,
stratify=y)` over the training split, seed 0 by default), and its indices are stored in
that order; `fit` evaluates on it when the estimator's `validation_split` equals the
fraction the shards were written with (the CLI's `train --data` does), and trains on the
`train` shards only either way.

Example:

    directory = prepare("fashion_mnist")["directory"]
    shards = open_shards(directory)
    shards.count("train"), shards.classes           # 54000, [0, 1, ..., 9]
    ZooClassifier("cnn-fashion-mnist", epochs=2).fit(directory)
"""

import dataclasses
import datetime
import json
import math
import os
import pathlib

import numpy as np
import tensorflow as tf
from sklearn.model_selection import train_test_split

import zoo
from pipelines import checks, data

FORMAT = "keras-zoo-shards"
VERSION = 1
MANIFEST = "manifest.json"
SPLITS = ("train", "validation", "test")
SHARD_BYTES = 16 * 2**20  # default size of a training shard
DEFAULT_SHUFFLE_BUFFER = 10_000
DEFAULT_CYCLE_LENGTH = 4
PREPARE = "python cli.py prepare NAME"


class ShardError(ValueError):
    """A shard directory that is missing, incomplete, corrupt or of another layout."""


def shards_root():
    """`$ZOO_HOME/shards` (default `~/.cache/keras-zoo/shards`)."""
    return zoo.weights.cache_dir() / "shards"


def default_directory(dataset, seed=0, validation_split=0.1, repeat=1):
    """The cache directory of a dataset's shards; non-default settings are in its name."""
    name = dataset
    if seed != 0:
        name += f"-seed{seed}"
    if validation_split != 0.1:
        name += f"-val{validation_split:g}"
    if repeat != 1:
        name += f"-x{repeat}"
    return shards_root() / name


# -- writing ------------------------------------------------------------------------------


def _stored_dtype(array):
    """uint8 when every value is an integer in 0..255 (lossless, 4x smaller than float32)."""
    if array.dtype == np.uint8:
        return np.uint8
    if array.min() >= 0 and array.max() <= 255 and np.array_equal(array, np.round(array)):
        return np.uint8
    return np.float32


def _example(x_parts, y_value):
    feature = {
        f"x/{name}": tf.train.Feature(bytes_list=tf.train.BytesList(value=[value.tobytes()]))
        for name, value in x_parts.items()
    }
    feature["y"] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[y_value.tobytes()]))
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def _write_split(directory, split, x, y, index, num_shards):
    """Writes samples `index` (in that order) of x, y as `num_shards` contiguous shards."""
    rows = []
    count = len(index)
    bounds = [count * shard // num_shards for shard in range(num_shards + 1)]
    for shard in range(num_shards):
        name = f"{split}-{shard:05d}-of-{num_shards:05d}.tfrecord"
        path = directory / name
        with tf.io.TFRecordWriter(str(path)) as writer:
            for i in index[bounds[shard] : bounds[shard + 1]]:
                writer.write(_example({k: v[i] for k, v in x.items()}, y[i]))
        rows.append(
            {
                "file": name,
                "count": int(bounds[shard + 1] - bounds[shard]),
                "bytes": path.stat().st_size,
                "sha256": zoo.weights.sha256_of(path),
            }
        )
    return rows


def write_shards(
    directory,
    splits,
    *,
    classes=None,
    class_names=None,
    num_shards=None,
    validation=None,
    source=None,
):
    """Writes {split: (x, y, index)} as a shard directory, atomically; returns the manifest.

    Args:
        directory: where the shard set goes (built under a temporary name beside it).
        splits: {"train": (x, y, index), ...}: x a dict {input name: array} (the name "x"
            for a dataset of one array), y the encoded targets (class ids, or float values),
            index the samples of x and y to write, in order (it may repeat samples).
        classes: the label values the class ids stand for (classification), else None.
        class_names: human-readable names of the classes, else None.
        num_shards: shards of the train split (default: about 16 MiB each); the other splits
            get shards in proportion to their size.
        validation: how the validation split was made (recorded in the manifest).
        source: the dataset's description (provenance), recorded in the manifest.
    """
    directory = pathlib.Path(directory)
    first_x, first_y, _ = next(iter(splits.values()))
    stored = {}
    for name in first_x:
        arrays = {id(x[name]): x[name] for x, _, _ in splits.values()}.values()
        kinds = {_stored_dtype(array) for array in arrays}
        stored[name] = np.uint8 if kinds == {np.uint8} else np.float32
    inputs = {
        name: {
            "shape": list(array.shape[1:]),
            "dtype": "float32",
            "stored_dtype": np.dtype(stored[name]).name,
        }
        for name, array in first_x.items()
    }
    target_dtype = "int64" if classes is not None else "float32"
    target = {"shape": list(np.shape(first_y)[1:]), "dtype": target_dtype}
    sample_bytes = sum(
        int(np.prod(spec["shape"], dtype=np.int64)) * np.dtype(spec["stored_dtype"]).itemsize
        for spec in inputs.values()
    )
    train_count = len(splits["train"][2])
    if num_shards is None:
        num_shards = max(1, math.ceil(train_count * (sample_bytes + 32) / SHARD_BYTES))
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "inputs": inputs,
        "target": target,
        "classes": None if classes is None else np.asarray(classes).tolist(),
        "class_names": class_names,
        "validation": validation,
        "source": source,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "splits": {},
    }
    zoo.weights.remove_stale_temporaries(directory.parent)
    with zoo.weights.atomic_path(directory) as tmp:
        tmp.mkdir()
        converted = {}  # the train and validation splits share their arrays
        for split, (x, y, index) in splits.items():
            index = np.asarray(index)
            if len(index) == 0:
                continue
            shards = max(1, round(num_shards * len(index) / train_count))
            for name, array in x.items():
                if id(array) not in converted:
                    converted[id(array)] = array.astype(stored[name], copy=False)
            x_stored = {name: converted[id(array)] for name, array in x.items()}
            y_stored = np.asarray(y).astype(target_dtype, copy=False)
            entry = {"count": int(len(index))}
            if classes is not None:
                entry["label_counts"] = np.bincount(
                    y_stored[index], minlength=len(classes)
                ).tolist()
            entry["shards"] = _write_split(tmp, split, x_stored, y_stored, index, shards)
            manifest["splits"][split] = entry
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def prepare(name, out=None, num_shards=None, seed=0, validation_split=0.1, repeat=1):
    """Writes the shards of a dataset (or of a zoo entry's dataset) once; returns a summary.

    Args:
        name: a `datasets.load` name ("fashion_mnist") or a zoo entry ("cnn-fashion-mnist").
        out: the shard directory (default: `default_directory(...)` in the cache).
        num_shards: shards of the train split (default: about 16 MiB each).
        seed: seed of the validation split (train_run's default seed is 0).
        validation_split: fraction of the training split held out (0: none).
        repeat: write the train split this many times over (to measure streaming on data
            larger than memory; the validation and test splits are written once).

    Returns:
        {"directory", "manifest", "created"}: `created` is False when a shard set written
        with the same settings was already there and passed verification (nothing written).
    """
    import datasets

    if name not in datasets.list_datasets():
        if name not in zoo.list_models():
            import difflib

            known = datasets.list_datasets() + zoo.list_models()
            close = difflib.get_close_matches(str(name), known, n=3, cutoff=0.4)
            hint = f" Did you mean: {', '.join(close)}?" if close else ""
            raise ValueError(
                f"name must be a dataset ({', '.join(datasets.list_datasets())}) or a zoo "
                f"entry. Received: {name!r}.{hint}"
            )
        name = zoo.get_entry(name).dataset
    checks.check_int("seed", seed)
    checks.check_positive_int("repeat", repeat)
    if num_shards is not None:
        checks.check_positive_int("num_shards", num_shards)
    if not (validation_split == 0 or 0 < validation_split < 1):
        raise ValueError(
            "validation_split must be 0 or in (0, 1). "
            f"Received: validation_split={validation_split!r}"
        )
    directory = pathlib.Path(out) if out is not None else None
    directory = directory or default_directory(name, seed, validation_split, repeat)
    settings = {
        "dataset": name,
        "seed": seed,
        "fraction": validation_split,
        "repeat": repeat,
    }
    if (directory / MANIFEST).exists():
        existing = open_shards(directory, verify=False)
        recorded = existing.manifest.get("validation") or {}
        recorded_settings = {key: recorded.get(key) for key in settings}
        if recorded_settings != settings:
            raise ShardError(
                f"{directory} holds shards written with other settings {recorded_settings}. "
                f"Received: {settings}. Choose another directory (out=...) or remove it."
            )
        try:
            existing.verify()
            return {"directory": str(directory), "manifest": existing.manifest, "created": False}
        except ShardError:
            pass  # rewritten below; the new directory replaces the damaged one atomically
    dataset = datasets.load(name)
    if dataset.task not in ("classification", "regression") or isinstance(dataset.y_train, dict):
        raise ValueError(
            f"prepare writes datasets of one target per sample (classification, regression). "
            f"Received: {name!r}, a {dataset.task} dataset."
        )
    x_train = _as_x(dataset.X_train, "X_train")
    x_test = _as_x(dataset.X_test, "X_test")
    classes = None
    if dataset.task == "classification":
        y_train, classes = checks.encode_labels(dataset.y_train, "y_train", fitting=True)
        y_test, _ = checks.encode_labels(dataset.y_test, "y_test", False, classes)
    else:
        y_train = data.as_array(dataset.y_train, "y_train")
        y_test = data.as_array(dataset.y_test, "y_test")
    count = len(y_train)
    if validation_split:
        # The rule of train_run (ZooEstimator._split_validation), with the same seed.
        train_index, validation_index = train_test_split(
            np.arange(count),
            test_size=validation_split,
            random_state=seed,
            stratify=y_train if classes is not None else None,
        )
    else:
        train_index, validation_index = np.arange(count), np.arange(0)
    splits = {
        "train": (x_train, y_train, np.tile(train_index, repeat)),
        "validation": (x_train, y_train, validation_index),
        "test": (x_test, y_test, np.arange(len(y_test))),
    }
    validation = {
        **settings,
        "rule": "sklearn train_test_split(arange(n), test_size=fraction, random_state=seed, "
        "stratify=labels) over the training split, as train_run holds out its validation",
    }
    manifest = write_shards(
        directory,
        splits,
        classes=classes,
        class_names=dataset.class_names,
        num_shards=num_shards,
        validation=validation,
        source=dataset.describe(),
    )
    return {"directory": str(directory), "manifest": manifest, "created": True}


def _as_x(X, what):
    if isinstance(X, dict):
        return {name: data.as_array(value, f"{what}[{name!r}]") for name, value in X.items()}
    return {"x": data.as_array(X, what)}


# -- reading ------------------------------------------------------------------------------


def _read_manifest(directory, what):
    path = directory / MANIFEST
    if not directory.is_dir():
        kind = "a file" if directory.exists() else "does not exist"
        raise ShardError(
            f"{what} must be a shard directory written by `{PREPARE}`. "
            f"Received: {str(directory)!r} ({kind})."
        )
    if not path.is_file():
        raise ShardError(
            f"{what} must be a shard directory written by `{PREPARE}` (with {MANIFEST}). "
            f"Received: {str(directory)!r}, which has no {MANIFEST}."
        )
    try:
        manifest = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ShardError(f"The shard manifest {path} cannot be read: {error}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ShardError(
            f"{path} is not a shard manifest (format {FORMAT!r}). Received: "
            f"format {manifest.get('format') if isinstance(manifest, dict) else None!r}"
        )
    if manifest.get("version") != VERSION:
        raise ShardError(
            f"{path} has shard format version {manifest.get('version')!r}; this version reads "
            f"{VERSION}. Write the shards again with `{PREPARE}`."
        )
    for key in ("inputs", "target", "splits"):
        if not isinstance(manifest.get(key), dict):
            raise ShardError(f"{path} lacks {key!r}: it is incomplete. Write it again.")
    for split, entry in manifest["splits"].items():
        counted = sum(shard["count"] for shard in entry["shards"])
        if counted != entry["count"]:
            raise ShardError(
                f"{path}: the {split} split counts {entry['count']} samples but its shards "
                f"hold {counted}."
            )
    return manifest


@dataclasses.dataclass
class Shards:
    """A verified shard directory (see `open_shards`) and the `tf.data` pipelines over it.

    Attributes:
        directory: the shard directory.
        manifest: its manifest.json.
        shuffle_buffer: samples in the training shuffle buffer (bounds the memory).
        cycle_length: shard files read at once (interleaved).
    """

    directory: pathlib.Path
    manifest: dict
    shuffle_buffer: int = DEFAULT_SHUFFLE_BUFFER
    cycle_length: int = DEFAULT_CYCLE_LENGTH

    @property
    def classes(self):
        """The label values of the class ids 0..K-1 (classification), else None."""
        classes = self.manifest.get("classes")
        return None if classes is None else np.asarray(classes)

    @property
    def class_names(self):
        return self.manifest.get("class_names")

    @property
    def splits(self):
        return tuple(self.manifest["splits"])

    @property
    def validation_fraction(self):
        """The fraction held out in the validation split (0 when there is none)."""
        if "validation" not in self.manifest["splits"]:
            return 0
        return (self.manifest.get("validation") or {}).get("fraction", 0)

    def _split(self, split):
        if split not in self.manifest["splits"]:
            raise ShardError(
                f"The shard directory {self.directory} has no {split!r} split. "
                f"Its splits: {list(self.manifest['splits'])}."
            )
        return self.manifest["splits"][split]

    def count(self, split):
        """Samples in `split`."""
        return self._split(split)["count"]

    def label_counts(self, split):
        """Samples per class id in `split` (classification), else None."""
        return self._split(split).get("label_counts")

    def files(self, split):
        return [self.directory / shard["file"] for shard in self._split(split)["shards"]]

    def verify(self, sha256=True):
        """Checks every shard: present, of its recorded size and (by default) sha256.

        Raises `ShardError` naming the first missing, truncated or corrupt file.
        """
        for split, entry in self.manifest["splits"].items():
            for shard in entry["shards"]:
                path = self.directory / shard["file"]
                if not path.is_file():
                    raise ShardError(
                        f"The shard file {path} ({split} split) is missing. Write the shards "
                        f"again with `{PREPARE}`."
                    )
                size = path.stat().st_size
                if size != shard["bytes"]:
                    raise ShardError(
                        f"The shard file {path} is truncated or changed: {size} bytes, "
                        f"expected {shard['bytes']}. Write the shards again with `{PREPARE}`."
                    )
                if sha256:
                    actual = zoo.weights.sha256_of(path)
                    if actual != shard["sha256"]:
                        raise ShardError(
                            f"The shard file {path} is corrupt: its sha256 is {actual}, "
                            f"expected {shard['sha256']}. Write the shards again with "
                            f"`{PREPARE}`."
                        )
        return self

    def check_model(self, model, what="X"):
        """Raises unless the shards' inputs fit the model's inputs (names and shapes)."""
        specs = data.input_specs(model)
        inputs = self.manifest["inputs"]
        if list(inputs) == ["x"] and len(specs) == 1:
            pairs = {next(iter(specs)): inputs["x"]}
        else:
            data.check_keys(
                inputs, specs, f"the inputs of the shards in {self.directory}", "inputs"
            )
            pairs = {name: inputs[name] for name in specs}
        for name, spec in pairs.items():
            expected, shape = specs[name], tuple(spec["shape"])
            if len(shape) != len(expected) or any(
                e is not None and e != a for e, a in zip(expected, shape)
            ):
                raise ValueError(
                    f"{what}: the shards in {self.directory} hold samples of shape {shape} "
                    f"for the model's input {name!r}, which takes {data._shape_text(expected)}."
                )

    def _parse(self, records):
        features = {
            f"x/{name}": tf.io.FixedLenFeature([], tf.string) for name in self.manifest["inputs"]
        }
        features["y"] = tf.io.FixedLenFeature([], tf.string)
        parsed = tf.io.parse_example(records, features)
        x = {}
        for name, spec in self.manifest["inputs"].items():
            raw = tf.io.decode_raw(parsed[f"x/{name}"], tf.dtypes.as_dtype(spec["stored_dtype"]))
            x[name] = tf.cast(tf.reshape(raw, [-1, *spec["shape"]]), tf.float32)
        target = self.manifest["target"]
        y = tf.io.decode_raw(parsed["y"], tf.dtypes.as_dtype(target["dtype"]))
        y = tf.reshape(y, [-1, *target["shape"]])
        if list(x) == ["x"]:
            return x["x"], y
        return x, y

    def dataset(self, split, batch_size=256, shuffle=False, seed=None):
        """A `tf.data` pipeline of (x, y) batches of `split`, streamed from its shards.

        Args:
            split: "train", "validation" or "test".
            batch_size: samples per batch.
            shuffle: shuffle the order of the shard files and the samples (a buffer of
                `shuffle_buffer` samples), differently in every epoch, seeded by `seed`.
            seed: the shuffle seed.

        Unshuffled, the samples come in their stored order (the order `prepare` wrote, so
        predictions line up with the split's targets); shuffled, `cycle_length` shard files
        are read at once, interleaved, in parallel.

        x is a float32 tensor (shards of one input) or a dict keyed by input name; y holds
        class ids (int64) or float32 targets. The count of the split is asserted: a shard
        that holds fewer or more records than the manifest says fails the pipeline.
        """
        count = self.count(split)
        files = [str(path) for path in self.files(split)]
        file_names = tf.data.Dataset.from_tensor_slices(files)
        if shuffle and len(files) > 1:
            file_seed = None if seed is None else seed + 1
            file_names = file_names.shuffle(
                len(files), seed=file_seed, reshuffle_each_iteration=True
            )
        records = file_names.interleave(
            tf.data.TFRecordDataset,
            # Unshuffled: one file after the other, the stored order (predictions align).
            cycle_length=max(1, min(len(files), self.cycle_length)) if shuffle else 1,
            block_length=1,
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=True,
        )
        records = records.apply(tf.data.experimental.assert_cardinality(count))
        if shuffle:
            buffer = min(self.shuffle_buffer, count)
            records = records.shuffle(buffer, seed=seed, reshuffle_each_iteration=True)
        batches = records.batch(batch_size)
        batches = batches.map(self._parse, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        return batches.prefetch(tf.data.AUTOTUNE)

    # -- what the estimators call (pipelines.base.ZooEstimator) ----------------------------

    def streams(self, model, batch_size, seed, validation_split, what="X"):
        """The training streams of `ZooEstimator.fit` (see `data.Streams`)."""
        self.check_model(model, what)
        fraction = self.validation_fraction
        if validation_split and validation_split != fraction:
            raise ValueError(
                f"validation_split={validation_split!r} differs from the validation split the "
                f"shards in {self.directory} were written with ({fraction or 'none'}): the "
                "split is fixed when the shards are written. Set validation_split to "
                f"{fraction or 0} or write them again with `{PREPARE} --validation-split "
                f"{validation_split}`."
            )
        train = self.dataset("train", batch_size, shuffle=True, seed=seed)
        plain = self.dataset("train", max(batch_size, 256))
        validation = None
        if validation_split:
            validation = self.dataset("validation", max(batch_size, 256))
        return data.Streams(
            train=train,
            validation=validation,
            x=plain.map(lambda x, y: x),
            y=plain.map(lambda x, y: y),
            count=self.count("train"),
            classes=self.classes,
            label_counts=self.label_counts("train"),
        )


def open_shards(directory, verify=True, shuffle_buffer=DEFAULT_SHUFFLE_BUFFER, what="directory"):
    """Opens a shard directory written by `prepare`/`write_shards`, verified.

    Args:
        directory: the shard directory.
        verify: True checks every shard's size and sha256 (a pass at disk speed over the
            files, about a second per GB); "size" checks sizes only; False checks nothing.
        shuffle_buffer: samples in the training shuffle buffer.
        what: the argument name used in error messages.

    Raises `ShardError` (a ValueError) naming the directory or the missing/corrupt file.
    """
    directory = pathlib.Path(directory)
    manifest = _read_manifest(directory, what)
    shards = Shards(directory, manifest, shuffle_buffer=shuffle_buffer)
    if verify:
        shards.verify(sha256=verify is True)
    return shards


def is_shard_directory(path):
    return os.path.isfile(os.path.join(path, MANIFEST))

"""Any input (NumPy array, pandas DataFrame, dict of arrays, tf.data.Dataset) to `tf.data`.

Arrays are validated at the boundary against the model's named inputs (keys, shapes, dtypes,
NaN/inf, lengths), so a user mistake is a clear `ValueError` here and never a stack trace from
inside a graph. `make_dataset` then builds the one input pipeline every estimator trains and
predicts through: slices -> shuffle (seeded) -> batch -> prefetch. tf.data runs on the CPU
whatever backend Keras uses, and Keras feeds its batches to TensorFlow, JAX or PyTorch.

Input larger than memory is streamed: `open_source` turns a shard directory
(`pipelines.shards`, written by `python cli.py prepare NAME`) or an image folder
(`image_folder`: DIR/CLASS_NAME/*.png) into `Streams`, the pipelines `fit` trains on.

Example:

    x = as_input_dict(X, model)                  # {"image": float32 (n, 28, 28)}
    dataset = make_dataset(x, y, batch_size=128, shuffle=True, seed=0)
    folder = image_folder("photos")              # classes from the folder names
"""

import dataclasses
import os
import pathlib

import numpy as np
import pandas as pd
import tensorflow as tf


def input_specs(model):
    """Returns {input name: shape without the batch axis} of a Keras model."""
    return {tensor.name: tuple(tensor.shape[1:]) for tensor in model.inputs}


def _shape_text(shape):
    return "(n, " + ", ".join("any" if d is None else str(d) for d in shape) + ")"


def as_array(values, what):
    """Converts `values` to a float32 array, rejecting strings, NaN, inf and empty input."""
    if isinstance(values, (pd.DataFrame, pd.Series)):
        values = values.to_numpy()
    array = np.asarray(values)
    if array.dtype.kind not in "biuf":
        try:
            array = array.astype("float32")
        except (TypeError, ValueError) as error:
            example = next((v for v in array.ravel() if isinstance(v, (str, bytes))), None)
            message = f"{what} must hold numbers. Received dtype {array.dtype}" + (
                f" with values such as {example!r}." if example is not None else f" ({error})."
            )
            raise type(error)(message) from None
    array = array.astype("float32", copy=False)
    if array.ndim == 0 or array.size == 0:
        raise ValueError(f"{what} is empty. Received an array of shape {array.shape}.")
    if not np.isfinite(array).all():
        bad = int((~np.isfinite(array)).reshape(len(array), -1).any(axis=1).sum())
        raise ValueError(
            f"{what} contains NaN or infinite values in {bad} of {len(array)} samples. "
            "Impute or drop them first."
        )
    return array


def as_input_dict(X, model):
    """Returns {input name: float32 array} for the inputs of `model`, validated.

    X may be an array or DataFrame (models with one input) or a dict keyed by input name.
    """
    specs = input_specs(model)
    if isinstance(X, dict):
        check_keys(X, specs, "X", "inputs")
        arrays = {name: as_array(X[name], f"X[{name!r}]") for name in specs}
    elif len(specs) == 1:
        (name,) = specs
        arrays = {name: as_array(X, "X")}
    else:
        raise ValueError(
            f"This model has several inputs {sorted(specs)}: pass X as a dict keyed by "
            f"those names. Received: {type(X).__name__}"
        )
    for name, array in arrays.items():
        expected = specs[name]
        if array.ndim - 1 != len(expected) or any(
            e is not None and e != a for e, a in zip(expected, array.shape[1:])
        ):
            raise ValueError(
                f"Input {name!r} must have shape {_shape_text(expected)}. Received: {array.shape}"
            )
    check_same_length(arrays)
    return arrays


def check_keys(given, expected, what, kind):
    """Raises when the keys of `given` are not exactly `expected`, naming both differences.

    Example:

        check_keys({"feature": X}, ["features"], "X", "inputs")
        # ValueError: The keys of X must be the model's inputs ['features'].
        #             Missing: ['features']; unexpected: ['feature'].
    """
    missing = sorted(set(expected) - set(given))
    unexpected = sorted(set(given) - set(expected))
    if missing or unexpected:
        raise ValueError(
            f"The keys of {what} must be the model's {kind} {sorted(expected)}. "
            f"Missing: {missing}; unexpected: {unexpected}."
        )


def check_same_length(named_arrays):
    """Raises when arrays that describe the same samples have different lengths.

    A value may be a dict of arrays (several inputs or outputs): each of its arrays is
    checked, named like `y['fine']`.
    """
    lengths = {}
    for name, array in named_arrays.items():
        if isinstance(array, dict):
            lengths.update(
                {f"{name}[{key!r}]": len(v) for key, v in array.items() if v is not None}
            )
        elif array is not None:
            lengths[name] = len(array)
    if len(set(lengths.values())) > 1:
        described = ", ".join(f"{name} has {length}" for name, length in lengths.items())
        raise ValueError(f"Inconsistent numbers of samples: {described}.")


def make_dataset(x, y=None, sample_weight=None, batch_size=32, shuffle=False, seed=None):
    """Builds the input pipeline: slices -> (shuffle) -> batch -> prefetch (2 batches).

    Args:
        x: dict {input name: array}.
        y: targets (array, or dict for several outputs), or None to predict.
        sample_weight: per-sample weights, or None.
        batch_size: samples per batch.
        shuffle: reshuffle the whole training set every epoch (seeded by `seed`).
        seed: shuffle seed, for reproducible runs.

    The order of epoch k depends on the seeds and on how many iterators of the dataset were
    made before (tf.data draws new shuffle seeds for each one). A resumed run replays the
    epochs it skips by making as many iterators (`ZooEstimator._train` does it), so it sees
    the orders of an uninterrupted run, and the orders are those the shipped weights were
    trained with.
    """
    if len(x) == 1:
        # A one-input functional model takes a plain tensor, not a dict.
        (x,) = x.values()
    parts = (x,) if y is None else (x, y) if sample_weight is None else (x, y, sample_weight)
    dataset = tf.data.Dataset.from_tensor_slices(parts)
    if shuffle:
        count = len(next(iter(x.values())) if isinstance(x, dict) else x)
        dataset = dataset.shuffle(count, seed=seed, reshuffle_each_iteration=True)
    return fixed_prefetch(dataset.batch(batch_size))


def fixed_prefetch(batches):
    """`batches` with a fixed 2-batch prefetch and tf.data's autotuner off.

    Batches computed from arrays in memory have nothing to tune but the prefetch depth, and
    the autotuner costs more than it gives on 2 cores: with it, cnn-fashion-mnist-fast's
    epochs alternated between about 12 s and 20 s; with a fixed 2-batch prefetch and the
    autotuner off they take a steady 10.6-10.9 s (bench/results-scale-2026-11-29.md).
    """
    options = tf.data.Options()
    options.autotune.enabled = False
    return batches.prefetch(2).with_options(options)


def prepare_user_dataset(dataset, model, batch_size):
    """Validates a user's `tf.data.Dataset` and batches it when its elements are samples.

    Elements may be `x` or `(x, y)`, where x is a tensor (one-input models) or a dict keyed
    by input name. A dataset whose x has the rank of a model input is batched here; one whose
    x is one rank higher is taken as already batched.
    """
    specs = input_specs(model)
    element = dataset.element_spec
    x_spec = element[0] if isinstance(element, tuple) else element
    if isinstance(x_spec, dict):
        check_keys(x_spec, specs, "the dataset's x", "inputs")
        shapes = {name: x_spec[name].shape for name in specs}
    elif len(specs) == 1:
        shapes = {next(iter(specs)): x_spec.shape}
    else:
        raise ValueError(
            f"This model has several inputs {sorted(specs)}: the dataset must yield dicts."
        )
    batched = None
    for name, shape in shapes.items():
        expected = specs[name]
        if shape.rank == len(expected):
            this_batched = False
            sample_shape = tuple(shape)
        elif shape.rank == len(expected) + 1:
            this_batched = True
            sample_shape = tuple(shape[1:])
        else:
            sample_shape = tuple(shape)
            this_batched = None
        matches = this_batched is not None and all(
            e is None or a is None or e == a for e, a in zip(expected, sample_shape)
        )
        if not matches:
            raise ValueError(
                f"Dataset input {name!r} must have samples of shape {_shape_text(expected)}. "
                f"Received elements of shape {tuple(shape)}."
            )
        batched = this_batched
    if not batched:
        dataset = dataset.batch(batch_size)
    return dataset.prefetch(tf.data.AUTOTUNE)


# -- input larger than memory: shard directories and image folders ------------------------


@dataclasses.dataclass
class Streams:
    """What `ZooEstimator.fit` trains on when the input is streamed (shards, image folders).

    Attributes:
        train: shuffled (x, y) batches of the training samples (seeded).
        validation: (x, y) batches of the validation samples, or None.
        x: unshuffled x batches of the training samples (to adapt `Normalization` layers).
        y: unshuffled y batches of the training samples.
        count: training samples.
        classes: the label values of the class ids 0..K-1, or None (regression).
        label_counts: training samples per class id, or None.
    """

    train: tf.data.Dataset
    validation: object
    x: tf.data.Dataset
    y: tf.data.Dataset
    count: int
    classes: object = None
    label_counts: list = None


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
_IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM")


def _image_layout(model, what):
    """(height, width, channels, squeeze) of a one-input image model, or a ValueError."""
    specs = input_specs(model)
    if len(specs) == 1:
        shape = next(iter(specs.values()))
        if len(shape) == 2 and None not in shape:
            return shape[0], shape[1], 1, True
        if len(shape) == 3 and None not in shape and shape[2] in (1, 3):
            return shape[0], shape[1], shape[2], False
    raise ValueError(
        f"{what} is an image folder, but this model's inputs are not one image: "
        f"{ {name: _shape_text(shape) for name, shape in specs.items()} }. Expected one "
        "input of shape (n, height, width) or (n, height, width, 1 or 3)."
    )


class ImageFolder:
    """A folder of images laid out as `keras.utils.image_dataset_from_directory` reads them:
    DIR/CLASS_NAME/*.png (also .jpg, .jpeg, .bmp, .gif), read and decoded as they stream.

    The classes are the sub-folder names, sorted (they become the estimator's `classes_`);
    `files` lists the images, sorted by class and then by name, and `labels` their class ids
    (the order `predict` returns). Only the file names are held in memory. Images are
    decoded to the model's input: grayscale or RGB as its channels say, resized to its
    height and width when they differ (bilinear), raw 0..255 values as float32 (scaling is
    part of every model).

    Every file is checked when the folder is opened: the sub-folders must hold images only
    (by suffix and by their first bytes), each class at least one, so a stray file is an
    error naming it, not a failure inside a training graph.

    Example:

        folder = image_folder("photos")               # photos/cat/1.png, photos/dog/2.png
        clf = ZooClassifier("cnn-fashion-mnist", epochs=3).fit(folder)
        clf.classes_, clf.predict(folder)[:5]
    """

    def __init__(self, directory, what="directory"):
        self.directory = pathlib.Path(directory)
        self.what = what
        directory = self.directory
        expected = "an image folder (DIR/CLASS_NAME/*.png: one sub-folder of images per class)"
        if not directory.is_dir():
            kind = "a file" if directory.exists() else "which does not exist"
            raise ValueError(f"{what} must be {expected}. Received: {str(directory)!r}, {kind}.")
        entries = sorted(p for p in directory.iterdir() if not p.name.startswith("."))
        class_dirs = [p for p in entries if p.is_dir()]
        stray = [p for p in entries if not p.is_dir()]
        if not entries:
            raise ValueError(
                f"{what} must be {expected}. Received: {str(directory)!r}, an empty directory."
            )
        if not class_dirs:
            raise ValueError(
                f"{what} must be {expected} or a shard directory (with manifest.json, written "
                f"by `python cli.py prepare NAME`). Received: {str(directory)!r}, which holds "
                f"files only (e.g. {stray[0].name!r}) and no class folders."
            )
        if stray:
            raise ValueError(
                f"{what} must be {expected}: files belong in a class folder. Received: "
                f"{str(stray[0])!r} directly in {str(directory)!r}."
            )
        self.classes = np.array([p.name for p in class_dirs])
        files, labels = [], []
        for label, class_dir in enumerate(class_dirs):
            images = sorted(p for p in class_dir.iterdir() if not p.name.startswith("."))
            if not images:
                raise ValueError(
                    f"{what}: the class folder {str(class_dir)!r} holds no images. Expected "
                    f"at least one {'/'.join(IMAGE_SUFFIXES)} file per class."
                )
            for path in images:
                _check_image_file(path, what)
            files += [str(p) for p in images]
            labels += [label] * len(images)
        self.files = files
        self.labels = np.array(labels, dtype="int64")

    def __repr__(self):
        return f"image_folder({str(self.directory)!r})"

    def dataset(self, model, index=None, batch_size=256, shuffle=False, seed=None):
        """(x, y) batches of the images `index` (default all), decoded for `model`."""
        height, width, channels, squeeze = _image_layout(model, self.what)
        index = np.arange(len(self.files)) if index is None else np.asarray(index)
        paths = np.asarray(self.files)[index]
        pairs = tf.data.Dataset.from_tensor_slices((paths, self.labels[index]))
        if shuffle:
            pairs = pairs.shuffle(len(index), seed=seed, reshuffle_each_iteration=True)

        def load(path, label):
            image = tf.io.decode_image(
                tf.io.read_file(path), channels=channels, expand_animations=False
            )
            image = tf.cast(image, tf.float32)
            size = tf.shape(image)[:2]
            image = tf.cond(
                tf.reduce_all(size == (height, width)),
                lambda: image,
                lambda: tf.image.resize(image, (height, width)),
            )
            image = tf.ensure_shape(image, (height, width, channels))
            return (image[..., 0] if squeeze else image), label

        images = pairs.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        return images.batch(batch_size).prefetch(tf.data.AUTOTUNE)

    def streams(self, model, batch_size, seed, validation_split, what="X"):
        """The training streams of `ZooEstimator.fit` (see `Streams`).

        `validation_split` holds out images by the rule the estimators apply to arrays
        (seeded, stratified `train_test_split` over the images in `files` order).
        """
        from sklearn.model_selection import train_test_split

        _image_layout(model, what)
        train_index = np.arange(len(self.files))
        validation = None
        if validation_split:
            train_index, validation_index = train_test_split(
                train_index, test_size=validation_split, random_state=seed, stratify=self.labels
            )
            validation = self.dataset(model, validation_index, max(batch_size, 256))
        plain = self.dataset(model, train_index, max(batch_size, 256))
        return Streams(
            train=self.dataset(model, train_index, batch_size, shuffle=True, seed=seed),
            validation=validation,
            x=plain.map(lambda x, y: x),
            y=plain.map(lambda x, y: y),
            count=len(train_index),
            classes=self.classes,
            label_counts=np.bincount(
                self.labels[train_index], minlength=len(self.classes)
            ).tolist(),
        )

    def predict_dataset(self, model, batch_size):
        """x batches of every image, in `files` order."""
        return self.dataset(model, batch_size=batch_size).map(lambda x, y: x)


def _check_image_file(path, what):
    if path.is_dir() or path.suffix.lower() not in IMAGE_SUFFIXES:
        kind = "a folder" if path.is_dir() else f"a {path.suffix or 'suffix-less'} file"
        raise ValueError(
            f"{what}: the class folders must hold images ({', '.join(IMAGE_SUFFIXES)}). "
            f"Received: {str(path)!r}, {kind}."
        )
    with open(path, "rb") as file:
        head = file.read(8)
    if not head.startswith(_IMAGE_MAGIC):
        raise ValueError(
            f"{what}: {str(path)!r} is not a readable image: its content is not PNG, JPEG, "
            f"GIF or BMP (first bytes {head!r})."
        )


def image_folder(directory):
    """Opens an image folder (DIR/CLASS_NAME/*.png) for `fit` and `predict` (see `ImageFolder`)."""
    return ImageFolder(directory)


def open_source(X, what="X"):
    """A streamed input from X: a shard directory, an image folder, or such an object.

    A path is a shard directory when it holds manifest.json (`python cli.py prepare`),
    otherwise it must be an image folder; anything else is an error naming `what`, what was
    expected and what was received.
    """
    from pipelines import shards

    if isinstance(X, (ImageFolder, shards.Shards)):
        return X
    path = pathlib.Path(X)
    if path.is_dir() and shards.is_shard_directory(path):
        return shards.open_shards(path, what=what)
    return ImageFolder(path, what=what)


def is_source(X):
    """True for what `open_source` takes: a path, an `ImageFolder`, a `shards.Shards`."""
    from pipelines import shards

    return isinstance(X, (str, os.PathLike, ImageFolder, shards.Shards))

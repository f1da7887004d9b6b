"""Any input (NumPy array, pandas DataFrame, dict of arrays, tf.data.Dataset) to `tf.data`.

Arrays are validated at the boundary against the model's named inputs (keys, shapes, dtypes,
NaN/inf, lengths), so a user mistake is a clear `ValueError` here and never a stack trace from
inside a graph. `make_dataset` then builds the one input pipeline every estimator trains and
predicts through: slices -> shuffle (seeded) -> batch -> prefetch. tf.data runs on the CPU
whatever backend Keras uses, and Keras feeds its batches to TensorFlow, JAX or PyTorch.

Example:

    x = as_input_dict(X, model)                  # {"image": float32 (n, 28, 28)}
    dataset = make_dataset(x, y, batch_size=128, shuffle=True, seed=0)
"""

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
    """Builds the input pipeline: slices -> (shuffle) -> batch -> prefetch.

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
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)


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

"""Validation of the estimators' settings and targets, and local seeding: one home per rule.

Every check raises at the boundary with the argument's name, what was expected and what was
received, e.g. "learning_rate must be a positive finite number. Received: learning_rate=0".

Example:

    check_positive_int("epochs", 0)     # ValueError: epochs must be a positive integer. ...
    labels, classes = encode_labels(["b", "a", "b"], "y", fitting=True)   # [1, 0, 1], ['a', 'b']
    with local_random_state(0):
        ...                              # seeded; the caller's global generators are restored
"""

import contextlib
import math
import numbers
import random

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import column_or_1d

OPTIMIZERS = (
    "adam",
    "adamw",
    "sgd",
    "rmsprop",
    "adagrad",
    "adadelta",
    "adamax",
    "nadam",
    "lion",
    "ftrl",
)

# Which estimator trains the entries of each task, for the error that names the right one.
ESTIMATOR_OF_TASK = {
    "classification": "ZooClassifier",
    "regression": "ZooRegressor",
    "multitask": "ZooMultiTask",
    "retrieval": "ZooRetriever",
    "node_classification": "pipelines.graph.ZooNodeClassifier",
    "graph_classification": "pipelines.graph.ZooGraphClassifier",
    "image_enhancement": "pipelines.enhancement.ZooImageEnhancer",
    "generation": "pipelines.generative.ZooGenerator",
}


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_int(name, value):
    """Raises unless `value` is an integer (bool refused); returns it as an int."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer. Received: {name}={value!r}")
    return int(value)


def check_positive_int(name, value):
    """Raises unless `value` is an integer >= 1 (bool refused); returns it as an int."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer. Received: {name}={value!r}")
    return int(value)


def check_positive_number(name, value):
    """Raises unless `value` is a finite real number > 0; returns it as a float."""
    if not _is_number(value) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive finite number. Received: {name}={value!r}")
    return float(value)


def check_task(estimator_name, model, task, expected):
    """Raises when the zoo entry `model` has another task than the estimator trains."""
    if task != expected:
        raise ValueError(
            f"{estimator_name} trains entries of task {expected!r}, but {model!r} is a "
            f"{task} entry: use {ESTIMATOR_OF_TASK.get(task, 'another estimator')}. "
            f"Received: model={model!r}"
        )


def check_optimizer(optimizer):
    """Raises unless `optimizer` is a known optimizer name or a Keras optimizer instance.

    Nothing is built: a Keras optimizer made only to be checked would take the name "adam"
    and the real one "adam_1", which changes the bytes of the weights files it is saved in.
    """
    import keras

    if isinstance(optimizer, keras.optimizers.Optimizer):
        return
    if not isinstance(optimizer, str) or optimizer.lower() not in OPTIMIZERS:
        raise ValueError(
            f"optimizer must be the name of a Keras optimizer ({', '.join(OPTIMIZERS)}) or a "
            f"keras.optimizers.Optimizer instance. Received: optimizer={optimizer!r}"
        )


def make_optimizer(optimizer, learning_rate):
    """A fresh Keras optimizer from a name or an `keras.optimizers.Optimizer` instance.

    An instance is a template: each fit gets a new optimizer of its class and config (an
    optimizer is bound to the variables of the model it trained), with `learning_rate`
    replacing its own when `learning_rate` is not None.
    """
    import keras

    if isinstance(optimizer, keras.optimizers.Optimizer):
        config = optimizer.get_config()
        if learning_rate is not None:
            config["learning_rate"] = learning_rate
        return type(optimizer).from_config(config)
    check_optimizer(optimizer)
    return keras.optimizers.get(
        {"class_name": optimizer.lower(), "config": {"learning_rate": learning_rate}}
    )


def derive_seed(random_state):
    """The integer seed of `random_state`: None, an int in [0, 2**32), or a NumPy generator.

    Like scikit-learn, a `np.random.RandomState` or `np.random.Generator` is accepted: one
    integer is drawn from it per fit (so the generator advances, and successive fits differ).
    """
    if random_state is None:
        return None
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(0, 2**31 - 1))
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(0, 2**31 - 1))
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        if 0 <= random_state < 2**32:
            return int(random_state)
    raise ValueError(
        "random_state must be None, an integer in [0, 2**32) or a numpy.random.Generator / "
        f"RandomState. Received: random_state={random_state!r}"
    )


def check_class_weight(class_weight):
    """Raises unless class_weight is None, "balanced" or {label: finite weight >= 0}."""
    if class_weight is None or (isinstance(class_weight, str) and class_weight == "balanced"):
        return
    if not isinstance(class_weight, dict):
        raise ValueError(
            'class_weight must be None, "balanced" or a dict. '
            f"Received: class_weight={class_weight!r}"
        )
    for label, weight in class_weight.items():
        if not _is_number(weight) or not math.isfinite(weight) or weight < 0:
            raise ValueError(
                f"class_weight[{label!r}] must be a finite number >= 0. "
                f"Received: class_weight={class_weight!r}"
            )


def refuse_sparse(X, what="X"):
    """Raises a TypeError for a SciPy sparse matrix or array: the zoo's models take dense input."""
    if sp.issparse(X):
        raise TypeError(
            f"Sparse input is not supported: {what} must be dense. Convert it with "
            f"{what}.toarray(). Received: a sparse {type(X).__name__} of shape {X.shape}"
        )


def encode_labels(y, what, fitting, classes=None):
    """Validates class labels and encodes them as int32 indices into the sorted classes.

    Args:
        y: one label per sample (array, list, pandas Series or a one-column array).
        what: the name in messages, e.g. "y" or "y['fine']".
        fitting: True to learn the classes from y (at least 2), False to check y against
            `classes`.
        classes: the known classes when not fitting.

    Returns:
        (encoded int32 array, classes).
    """
    if isinstance(y, (pd.Series, pd.DataFrame)):
        y = y.to_numpy()
    y = np.asarray(y)
    if y.ndim == 0 or len(y) == 0:
        raise ValueError(f"{what} is empty. Received: an array of shape {y.shape}")
    if y.ndim != 1 and not (y.ndim == 2 and y.shape[1] == 1):
        raise ValueError(
            f"{what} must be one label per sample (1-D). Received: an array of shape {y.shape}"
        )
    y = column_or_1d(y, warn=True)  # warns (DataConversionWarning) for a column vector
    if pd.isna(y).any():
        raise ValueError(f"{what} contains missing labels (NaN or None).")
    check_classification_targets(y)  # "Unknown label type: continuous ..." for real values
    if fitting:
        classes = np.unique(y)
        if len(classes) < 2:
            raise ValueError(
                f"A classifier needs at least 2 classes; {what} has 1 class: {classes.tolist()}."
            )
    unseen = np.setdiff1d(y, classes)
    if len(unseen):
        raise ValueError(
            f"{what} contains labels never seen when fitting: {unseen[:10].tolist()}. "
            f"Known labels: {classes.tolist()}."
        )
    return np.searchsorted(classes, y).astype("int32"), classes


@contextlib.contextmanager
def local_random_state(seed):
    """Seeds Python, NumPy, TensorFlow, PyTorch and Keras' global seed for the block only.

    Keras draws its initialisers' and layers' seeds from these global generators, so a fit
    inside the block is reproducible; on leaving it, the caller's generator states are put
    back as they were. With seed None nothing is seeded or restored.
    """
    if seed is None:
        yield
        return
    import keras
    from keras.src.backend.common import global_state
    from keras.src.random import seed_generator
    from keras.src.utils import rng_utils

    saved_python = random.getstate()
    saved_numpy = np.random.get_state()
    saved_keras = {
        key: global_state.get_global_attribute(key)
        for key in (rng_utils.GLOBAL_RANDOM_SEED, seed_generator.GLOBAL_SEED_GENERATOR)
    }
    saved_tf = _tf_seed_state()
    saved_torch = None
    if keras.backend.backend() == "torch":
        import torch

        saved_torch = torch.get_rng_state()
    try:
        keras.utils.set_random_seed(seed)
        yield
    finally:
        random.setstate(saved_python)
        np.random.set_state(saved_numpy)
        for key, value in saved_keras.items():
            global_state.set_global_attribute(key, value)
        _restore_tf_seed_state(saved_tf)
        if saved_torch is not None:
            import torch

            torch.set_rng_state(saved_torch)


def _tf_seed_state():
    from tensorflow.python.eager import context

    ctx = context.context()
    rng = getattr(ctx, "_rng", None)
    return ctx._seed, rng.getstate() if rng is not None else None


def _restore_tf_seed_state(state):
    from tensorflow.python.eager import context

    seed, rng_state = state
    ctx = context.context()
    if seed is None:
        ctx._seed = None
        ctx._rng = None
    else:
        ctx._set_global_seed(seed)
        if rng_state is not None:
            ctx._rng.setstate(rng_state)

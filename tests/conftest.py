"""Shared test settings: quiet TensorFlow, the TensorFlow backend unless told otherwise."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(scope="session")
def breast_cancer():
    import datasets

    return datasets.load("breast_cancer")


@pytest.fixture(scope="session")
def digits():
    import datasets

    return datasets.load("digits")


@pytest.fixture
def small_tabular(breast_cancer):
    """120 training rows of the breast cancer data: (X, y) with y in {0, 1}."""
    return breast_cancer.X_train[:120], breast_cancer.y_train[:120]


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(scope="session")
def load_dataset():
    """`load_dataset(name, **kwargs)`: a dataset, loaded once per test session.

    `name` is a `datasets.load` name, or a loader function (e.g.
    `datasets.av_mnist.load_av_mnist_asterisk`) called with `kwargs`. Every test that reads
    a data package (Debian's dataset-fashion-mnist, espeak-ng, the asterisk recordings) goes
    through here. The README's test command installs those packages, so a missing one is a
    test failure that names its install command, never a skip.
    """
    import datasets

    cache = {}

    def load(name, **kwargs):
        key = (name, tuple(sorted(kwargs.items())))
        if key not in cache:
            try:
                cache[key] = datasets.load(name) if isinstance(name, str) else name(**kwargs)
            except datasets.DatasetMissingError as error:
                pytest.fail(f"a data package the tests need is missing: {error}")
        return cache[key]

    return load


def pytest_collection_modifyitems(items):
    """tests/test_backends.py first, the rest in their order: it is the longest module (three
    backend processes and every entry's dataset), so under pytest-xdist (`-n 2`, the
    project's default) one worker starts it at once while the other takes the rest."""
    items.sort(key=lambda item: item.path.name != "test_backends.py")

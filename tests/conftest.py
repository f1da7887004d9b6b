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
    """`load_dataset(name)`: the dataset, or a skip naming its install command.

    Outside CI a missing data package (e.g. Debian's dataset-fashion-mnist) skips the test;
    in CI (CI=true, where .ci/run installs every data package) it fails it.
    """
    import datasets

    def load(name):
        try:
            return datasets.load(name)
        except datasets.DatasetMissingError as error:
            if os.environ.get("CI"):
                pytest.fail(str(error))
            pytest.skip(str(error))

    return load

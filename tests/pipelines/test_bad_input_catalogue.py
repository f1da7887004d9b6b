"""The bad-input catalogue: every known user mistake ends in a clear error, on every backend.

One table, CASES: (case, call, expected error type, message fragment). It runs on TensorFlow
in this process, and the same table runs on JAX and on PyTorch in one subprocess per backend
(KERAS_BACKEND is read once, at import): this file is also a script that runs the table and
prints one JSON line per case. Validation fails before any training, so the table is fast.
Add a row for every new case.
"""

import json
import os
import pathlib
import subprocess
import sys

if __name__ == "__main__":
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import tensorflow as tf

import zoo
from pipelines import ZooClassifier, ZooMultiTask, ZooRegressor, ZooRetriever

ROOT = pathlib.Path(__file__).resolve().parents[2]
FAST = dict(epochs=1, batch_size=16, random_state=0)

_rng = np.random.default_rng(0)
X = _rng.normal(size=(40, 30)).astype("float32")
Y = np.arange(40) % 2
XR = _rng.normal(size=(40, 10)).astype("float32")
YR = _rng.normal(size=40).astype("float32")


def clf(**settings):
    return ZooClassifier("mlp-breast-cancer", **{**FAST, **settings})


def reg(**settings):
    return ZooRegressor("mlp-diabetes", **{**FAST, **settings})


def renamed_columns_at_predict():
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(30)])
    fitted = clf().fit(frame, Y)
    fitted.predict(frame[frame.columns[::-1]])


def dataset(x, y):
    return tf.data.Dataset.from_tensor_slices((x, y))


def with_env(name, value, call):
    """Runs `call` with the environment variable `name` set to `value`, then restores it."""
    previous = os.environ.get(name)
    os.environ[name] = value
    try:
        return call()
    finally:
        if previous is None:
            del os.environ[name]
        else:
            os.environ[name] = previous


def with_manifest(text, call):
    """Runs `call` with a shipped-weights directory whose manifest.json holds `text`."""
    import tempfile

    with tempfile.TemporaryDirectory() as directory:
        (pathlib.Path(directory) / "manifest.json").write_text(text)
        return with_env("ZOO_WEIGHTS_DIR", directory, call)


def with_zoo_home_a_file(call):
    """Runs `call` with $ZOO_HOME pointing at a regular file."""
    import tempfile

    with tempfile.NamedTemporaryFile() as file:
        return with_env("ZOO_HOME", file.name, call)


def export_zero_features():
    import tempfile

    from pipelines.export import export_model

    model = zoo.get("mlp-breast-cancer", weights=None, num_features=0)
    with tempfile.TemporaryDirectory() as directory:
        export_model(model, directory, format="saved_model")


# (case, call, expected error type, fragment of the message)
CASES = [
    (
        "learning_rate=0",
        lambda: clf(learning_rate=0).fit(X, Y),
        ValueError,
        "learning_rate must be a positive finite number. Received: learning_rate=0",
    ),
    (
        "learning_rate<0",
        lambda: clf(learning_rate=-0.1).fit(X, Y),
        ValueError,
        "Received: learning_rate=-0.1",
    ),
    (
        "learning_rate=nan",
        lambda: reg(learning_rate=float("nan")).fit(XR, YR),
        ValueError,
        "Received: learning_rate=nan",
    ),
    (
        "epochs=0",
        lambda: clf(epochs=0).fit(X, Y),
        ValueError,
        "epochs must be a positive integer. Received: epochs=0",
    ),
    ("epochs=-1", lambda: clf(epochs=-1).fit(X, Y), ValueError, "Received: epochs=-1"),
    ("epochs=1.5", lambda: reg(epochs=1.5).fit(XR, YR), ValueError, "Received: epochs=1.5"),
    (
        "batch_size=0",
        lambda: clf(batch_size=0).fit(X, Y),
        ValueError,
        "batch_size must be a positive integer. Received: batch_size=0",
    ),
    ("batch_size<0", lambda: reg(batch_size=-4).fit(XR, YR), ValueError, "Received: batch_size=-4"),
    (
        "optimizer=None",
        lambda: clf(optimizer=None).fit(X, Y),
        ValueError,
        "optimizer must be the name of a Keras optimizer",
    ),
    (
        "optimizer misspelt",
        lambda: clf(optimizer="adamm").fit(X, Y),
        ValueError,
        "Received: optimizer='adamm'",
    ),
    (
        "lr_schedule unknown",
        lambda: clf(lr_schedule="linear").fit(X, Y),
        ValueError,
        "Received: lr_schedule='linear'",
    ),
    (
        "validation_split=1.5",
        lambda: clf(validation_split=1.5).fit(X, Y),
        ValueError,
        "validation_split must be in (0, 1)",
    ),
    (
        "regressor on a classification entry",
        lambda: ZooRegressor("cnn-digits", **FAST).fit(np.zeros((4, 8, 8)), np.zeros(4)),
        ValueError,
        "'cnn-digits' is a classification entry: use ZooClassifier",
    ),
    (
        "classifier on a regression entry",
        lambda: ZooClassifier("mlp-diabetes", **FAST).fit(XR, Y),
        ValueError,
        "'mlp-diabetes' is a regression entry: use ZooRegressor",
    ),
    (
        "multitask on a classification entry",
        lambda: ZooMultiTask("mlp-breast-cancer", **FAST).fit(X, {"y": Y}),
        ValueError,
        "is a classification entry: use ZooClassifier",
    ),
    (
        "retriever on a regression entry",
        lambda: ZooRetriever("mlp-diabetes", **FAST).fit({"features": XR}),
        ValueError,
        "is a regression entry: use ZooRegressor",
    ),
    (
        "random_state a string",
        lambda: clf(random_state="seed").fit(X, Y),
        ValueError,
        "random_state must be None, an integer in [0, 2**32) or a numpy.random.Generator",
    ),
    (
        "random_state<0",
        lambda: clf(random_state=-1).fit(X, Y),
        ValueError,
        "Received: random_state=-1",
    ),
    (
        "class_weight<0",
        lambda: clf(class_weight={0: -1.0}).fit(X, Y),
        ValueError,
        "class_weight[0] must be a finite number >= 0",
    ),
    (
        "class_weight nan",
        lambda: clf(class_weight={1: float("nan")}).fit(X, Y),
        ValueError,
        "class_weight[1] must be a finite number >= 0",
    ),
    (
        "class_weight a list",
        lambda: clf(class_weight=[1, 2]).fit(X, Y),
        ValueError,
        'class_weight must be None, "balanced" or a dict',
    ),
    (
        "class_weight unknown label",
        lambda: clf(class_weight={9: 2.0}).fit(X, Y),
        ValueError,
        "class_weight names labels that are not in y",
    ),
    (
        "class_weight on a regressor",
        lambda: reg(class_weight="balanced").fit(XR, YR),
        ValueError,
        "class_weight applies to classifiers only",
    ),
    (
        "warm_start not a bool",
        lambda: clf(warm_start="yes").fit(X, Y),
        ValueError,
        "warm_start must be True or False",
    ),
    (
        "unexpected argument",
        lambda: ZooClassifier("mlp-breast-cancer", dropout=0.3).fit(X, Y),
        TypeError,
        "unexpected argument 'dropout'",
    ),
    (
        "continuous y to a classifier",
        lambda: clf().fit(X, np.linspace(0, 1, 40)),
        ValueError,
        "Unknown label type: continuous",
    ),
    (
        "y of 2 columns",
        lambda: clf().fit(X, np.zeros((40, 2))),
        ValueError,
        "y must be one label per sample (1-D)",
    ),
    ("one class", lambda: clf().fit(X, np.ones(40)), ValueError, "has 1 class"),
    ("y None", lambda: clf().fit(X), ValueError, "requires y to be passed"),
    (
        "zero-feature X",
        lambda: clf().fit(np.zeros((12, 0)), np.arange(12) % 2),
        ValueError,
        "0 feature(s) (shape=(12, 0)) while a minimum of 1 is required",
    ),
    (
        "zero-feature X regressor",
        lambda: reg().fit(np.zeros((12, 0)), np.zeros(12)),
        ValueError,
        "0 feature(s)",
    ),
    ("zero samples", lambda: reg().fit(np.zeros((0, 10)), np.zeros(0)), ValueError, "0 sample(s)"),
    ("1-D X", lambda: clf().fit(X[:, 0], Y), ValueError, "Expected 2D array"),
    (
        "sparse X",
        lambda: clf().fit(sp.csr_matrix(X), Y),
        TypeError,
        "Sparse input is not supported",
    ),
    ("complex X", lambda: reg().fit(XR + 1j, YR), ValueError, "Complex data not supported"),
    (
        "NaN in X",
        lambda: clf().fit(np.where(X > 2, np.nan, X), Y),
        ValueError,
        "contains NaN or infinite values",
    ),
    (
        "strings in X",
        lambda: clf().fit(np.full((40, 30), "a", object), Y),
        ValueError,
        "must hold numbers",
    ),
    ("X and y lengths differ", lambda: clf().fit(X, Y[:-1]), ValueError, "X has 40, y has 39"),
    (
        "sample_weight<0",
        lambda: clf().fit(X, Y, sample_weight=-np.ones(40)),
        ValueError,
        "Negative values in data passed to `sample_weight`",
    ),
    (
        "sample_weight length",
        lambda: clf().fit(X, Y, sample_weight=np.ones(39)),
        ValueError,
        "sample_weight.shape == (39,), expected (40,)",
    ),
    (
        "sample_weight leaves one class",
        lambda: clf().fit(X, Y, sample_weight=(Y == 1).astype(float)),
        ValueError,
        "leave 1 class",
    ),
    (
        "sample_weight with a dataset",
        lambda: clf().fit(dataset(X, Y), sample_weight=np.ones(40)),
        ValueError,
        "sample_weight applies to array input",
    ),
    (
        "infinite tf.data.Dataset",
        lambda: clf().fit(dataset(X, Y).repeat()),
        ValueError,
        "X is an infinite tf.data.Dataset",
    ),
    (
        "infinite validation dataset",
        lambda: clf().fit(dataset(X, Y), validation_data=dataset(X, Y).repeat()),
        ValueError,
        "validation_data is an infinite tf.data.Dataset",
    ),
    (
        "NaN in a tf.data.Dataset",
        lambda: clf().fit(dataset(np.where(X > 2, np.nan, X), Y)),
        ValueError,
        "contains NaN or infinite values in x",
    ),
    (
        "one class in a tf.data.Dataset",
        lambda: clf().fit(dataset(X, np.zeros(40, "int64"))),
        ValueError,
        "have 1 class",
    ),
    (
        "float labels in a tf.data.Dataset",
        lambda: clf().fit(dataset(X, np.linspace(0, 1, 40))),
        ValueError,
        "must yield integer class ids",
    ),
    (
        "DataFrame columns reordered at predict",
        renamed_columns_at_predict,
        ValueError,
        "The feature names should match those that were passed during fit",
    ),
    (
        "override of the wrong type",
        lambda: zoo.get("cnn-digits", weights=None, dropout="abc"),
        ValueError,
        "dropout must be a number (default 0.3). Received: 'abc'",
    ),
    (
        "unknown override",
        lambda: zoo.get("cnn-digits", weights=None, dropout_rate=0.1),
        ValueError,
        "'cnn-digits' has no argument dropout_rate",
    ),
    (
        "model__ override of the wrong type",
        lambda: clf(model__hidden_units="wide").fit(X, Y),
        ValueError,
        "hidden_units must be an integer (default 32). Received: 'wide'",
    ),
    (
        "sha256 argument that is a path",
        lambda: zoo.get("cnn-digits", weights="https://example.invalid/w.h5", sha256="../x"),
        zoo.WeightsError,
        "sha256 must be 64 hexadecimal digits. Received: sha256='../x'",
    ),
    (
        "manifest that is not JSON",
        lambda: with_manifest("{not json", lambda: zoo.get("cnn-digits")),
        zoo.WeightsError,
        "manifest.json",
    ),
    (
        "manifest that is a list",
        lambda: with_manifest("[]", lambda: zoo.get("cnn-digits")),
        zoo.WeightsError,
        "manifest.json",
    ),
    (
        "ZOO_HOME that is a file",
        lambda: with_zoo_home_a_file(
            lambda: zoo.get("cnn-digits", weights="https://example.invalid/w.h5", sha256="a" * 64)
        ),
        zoo.WeightsError,
        "ZOO_HOME",
    ),
    (
        "export of a zero-feature model",
        export_zero_features,
        ValueError,
        "'features' with shape (None, 0)",
    ),
    (
        "pretrained sha256 that differs",
        lambda: zoo.get("mlp-breast-cancer", sha256="0" * 64),
        zoo.WeightsError,
        "sha256",
    ),
]


def run_case(call, error_type, fragment):
    """Returns None when `call` raises `error_type` with `fragment`, else what went wrong."""
    try:
        call()
    except error_type as error:
        if fragment in str(error):
            return None
        return f"{type(error).__name__} without {fragment!r}: {error}"
    except Exception as error:  # noqa: BLE001 - reported as the case's failure
        return f"expected {error_type.__name__}, got {type(error).__name__}: {error}"
    return f"no error (expected {error_type.__name__})"


@pytest.mark.parametrize(
    "call, error_type, fragment", [case[1:] for case in CASES], ids=[case[0] for case in CASES]
)
def test_catalogue_on_tensorflow(call, error_type, fragment):
    problem = run_case(call, error_type, fragment)
    assert problem is None, problem


def test_case_names_are_unique():
    names = [case[0] for case in CASES]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_catalogue_on_backend(backend):
    env = {
        **os.environ,
        "KERAS_BACKEND": backend,
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "PYTHONPATH": str(ROOT),
    }
    result = subprocess.run(
        [sys.executable, __file__],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert {row["backend"] for row in rows} == {backend}
    assert [row["case"] for row in rows] == [case[0] for case in CASES]
    failures = {row["case"]: row["problem"] for row in rows if row["problem"]}
    assert not failures, failures


if __name__ == "__main__":
    import keras

    for name, call, error_type, fragment in CASES:
        print(
            json.dumps(
                {
                    "backend": keras.backend.backend(),
                    "case": name,
                    "problem": run_case(call, error_type, fragment),
                }
            ),
            flush=True,
        )

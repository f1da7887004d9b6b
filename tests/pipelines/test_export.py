"""SavedModel (TF Serving layout) and ONNX export: names, layout, dynamic batch, numbers,
and nothing left behind when verification fails.

The models are small and untrained (their Normalization layers adapted on random data, so
the exported graph must carry non-trivial constants); each artifact is exported once per
module and shared between the tests.
"""

import json
import os
import pathlib
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

import zoo
from pipelines import export
from pipelines.export import ExportError, export_model

BACKEND = keras.backend.backend()
ROOT = pathlib.Path(__file__).resolve().parents[2]
LABELS = ["malignant", "benign"]

needs_saved_model = pytest.mark.skipif(
    BACKEND not in ("tensorflow", "jax"), reason="SavedModel export needs TF or JAX"
)
needs_onnx = pytest.mark.skipif(BACKEND != "tensorflow", reason="ONNX export needs TF")


def _classifier():
    model = zoo.get("mlp-breast-cancer", weights=None)
    rng = np.random.default_rng(0)
    model.get_layer("normalize").adapt(rng.normal(50.0, 20.0, (64, 30)).astype("float32"))
    return model


def _regressor():
    model = zoo.get("mlp-diabetes", weights=None)
    rng = np.random.default_rng(1)
    model.get_layer("normalize").adapt(rng.normal(0.0, 0.05, (64, 10)).astype("float32"))
    # Targets in the units of the diabetes data (25..346): outputs far above 1.
    model.get_layer("prediction").adapt(rng.normal(150.0, 77.0, (64, 1)).astype("float32"))
    return model


def _two_headed():
    """Two named inputs, a dict of two named outputs."""
    image = keras.Input(shape=(8, 8), name="image")
    features = keras.Input(shape=(3,), name="features")
    x = keras.layers.Concatenate(name="join")(
        [keras.layers.Flatten(name="flatten")(image), features]
    )
    x = keras.layers.Dense(8, activation="relu", name="hidden")(x)
    outputs = {
        "species": keras.layers.Dense(4, activation="softmax", name="species")(x),
        "weight": keras.layers.Dense(1, name="weight")(x),
    }
    return keras.Model({"image": image, "features": features}, outputs, name="two_headed")


@pytest.fixture(scope="module")
def models():
    keras.utils.set_random_seed(0)
    return {"classifier": _classifier(), "regressor": _regressor(), "multi": _two_headed()}


@pytest.fixture(scope="module")
def sample():
    rng = np.random.default_rng(2)
    return {
        "classifier": rng.normal(50.0, 20.0, (8, 30)).astype("float32"),
        "regressor": rng.normal(0.0, 0.05, (8, 10)).astype("float32"),
        "multi": {
            "image": rng.uniform(0, 16, (8, 8, 8)).astype("float32"),
            "features": rng.normal(size=(8, 3)).astype("float32"),
        },
    }


@pytest.fixture(scope="module")
def exported(models, sample, tmp_path_factory):
    """{(kind, format): report}, exported once for the whole module."""
    root = tmp_path_factory.mktemp("exports")
    formats = [
        f
        for f, ok in (
            ("saved_model", BACKEND in ("tensorflow", "jax")),
            ("onnx", BACKEND == "tensorflow"),
        )
        if ok
    ]
    reports = {"root": root}
    for kind, model in models.items():
        labels = LABELS if kind == "classifier" else None
        for format in formats:
            reports[kind, format] = export_model(
                model, root, format=format, version=3, labels=labels, sample=sample[kind]
            )
    return reports


def _keras(model, x):
    return keras.ops.convert_to_numpy(model(x, training=False))


def _serve(report):
    import tensorflow as tf

    return tf.saved_model.load(report["path"]).signatures["serving_default"]


def _session(report):
    import onnxruntime

    return onnxruntime.InferenceSession(report["path"], providers=["CPUExecutionProvider"])


# -- SavedModel -------------------------------------------------------------------------------


@needs_saved_model
def test_saved_model_tf_serving_layout(exported):
    root = exported["root"]
    report = exported["classifier", "saved_model"]
    assert pathlib.Path(report["path"]) == root / "mlp_breast_cancer" / "3"
    assert (root / "mlp_breast_cancer" / "3" / "saved_model.pb").is_file()
    assert (root / "mlp_breast_cancer" / "3" / "variables").is_dir()
    # Nothing but the version directory: no temporary names left beside it.
    assert sorted(p.name for p in (root / "mlp_breast_cancer").iterdir()) == ["3"]
    assert report["format"] == "saved_model" and report["max_abs_diff"] <= 1e-5


@needs_saved_model
def test_saved_model_classifier_signature(exported):
    import tensorflow as tf

    serve = _serve(exported["classifier", "saved_model"])
    inputs = serve.structured_input_signature[1]
    assert list(inputs) == ["features"]
    assert inputs["features"].shape.as_list() == [None, 30]
    assert inputs["features"].dtype == tf.float32
    outputs = serve.structured_outputs
    assert sorted(outputs) == ["class", "class_id", "probabilities"]
    assert outputs["class_id"].dtype == tf.int64
    assert outputs["class"].dtype == tf.string
    assert exported["classifier", "saved_model"]["inputs"] == ["features"]


@needs_saved_model
@pytest.mark.parametrize("batch", [1, 8])
def test_saved_model_dynamic_batch_and_labels(exported, models, sample, batch):
    x = sample["classifier"][:batch]
    got = _serve(exported["classifier", "saved_model"])(features=x)
    probabilities = got["probabilities"].numpy()
    np.testing.assert_allclose(probabilities, _keras(models["classifier"], x), atol=1e-5)
    class_id = got["class_id"].numpy()
    np.testing.assert_array_equal(class_id, probabilities.argmax(axis=-1))
    assert [c.decode() for c in got["class"].numpy()] == [LABELS[i] for i in class_id]


@needs_saved_model
def test_saved_model_regressor(exported, models, sample):
    serve = _serve(exported["regressor", "saved_model"])
    assert list(serve.structured_input_signature[1]) == ["features"]
    assert list(serve.structured_outputs) == ["prediction"]
    for batch in (1, 8):
        x = sample["regressor"][:batch]
        expected = _keras(models["regressor"], x)
        assert np.abs(expected).max() > 10  # in target units, not standardized
        np.testing.assert_allclose(serve(features=x)["prediction"].numpy(), expected, rtol=1e-5)


@needs_saved_model
def test_saved_model_multi_output(exported, models, sample):
    serve = _serve(exported["multi", "saved_model"])
    assert sorted(serve.structured_input_signature[1]) == ["features", "image"]
    assert sorted(serve.structured_outputs) == ["species", "weight"]  # no class outputs
    got = serve(**sample["multi"])
    expected = models["multi"](sample["multi"], training=False)
    for name in ("species", "weight"):
        np.testing.assert_allclose(got[name].numpy(), expected[name], atol=1e-5)


@needs_saved_model
def test_default_labels_are_class_indices(models, tmp_path):
    report = export_model(models["classifier"], tmp_path, name="indices")
    assert report["path"] == str(tmp_path / "indices" / "1")
    x = np.random.default_rng(5).normal(50.0, 20.0, (16, 30)).astype("float32")
    got = _serve(report)(features=x)
    expected = [str(i) for i in _keras(models["classifier"], x).argmax(axis=-1)]
    assert [c.decode() for c in got["class"].numpy()] == expected


@needs_saved_model
def test_reexport_replaces_version_and_keeps_others(models, tmp_path):
    model = models["regressor"]
    export_model(model, tmp_path, version=1)
    export_model(model, tmp_path, version=2)
    export_model(model, tmp_path, version=2)  # replaced in place
    assert sorted(p.name for p in (tmp_path / "mlp_diabetes").iterdir()) == ["1", "2"]


# -- ONNX -------------------------------------------------------------------------------------


@needs_onnx
def test_onnx_file_names_and_metadata(exported):
    import onnx

    report = exported["classifier", "onnx"]
    assert report["path"] == str(exported["root"] / "mlp_breast_cancer.onnx")
    proto = onnx.load(report["path"])
    onnx.checker.check_model(proto, full_check=True)
    assert proto.model_version == 3
    metadata = {p.key: p.value for p in proto.metadata_props}
    assert json.loads(metadata["labels"]) == LABELS
    session = _session(report)
    (features,) = session.get_inputs()
    assert features.name == "features" and features.type == "tensor(float)"
    assert not isinstance(features.shape[0], int) and features.shape[1:] == [30]
    assert sorted(o.name for o in session.get_outputs()) == ["class_id", "probabilities"]
    assert report["outputs"] == ["probabilities", "class_id"]


@needs_onnx
@pytest.mark.parametrize("batch", [1, 8])
def test_onnx_values_dynamic_batch(exported, models, sample, batch):
    session = _session(exported["classifier", "onnx"])
    x = sample["classifier"][:batch]
    probabilities, class_id = session.run(["probabilities", "class_id"], {"features": x})
    np.testing.assert_allclose(probabilities, _keras(models["classifier"], x), atol=1e-5)
    assert class_id.dtype == np.int64
    np.testing.assert_array_equal(class_id, probabilities.argmax(axis=-1))


@needs_onnx
def test_onnx_regressor_and_multi_output(exported, models, sample):
    session = _session(exported["regressor", "onnx"])
    assert [o.name for o in session.get_outputs()] == ["prediction"]
    x = sample["regressor"]
    (prediction,) = session.run(["prediction"], {"features": x})
    np.testing.assert_allclose(prediction, _keras(models["regressor"], x), rtol=1e-5)

    session = _session(exported["multi", "onnx"])
    assert sorted(i.name for i in session.get_inputs()) == ["features", "image"]
    assert sorted(o.name for o in session.get_outputs()) == ["species", "weight"]
    got = dict(zip(["species", "weight"], session.run(["species", "weight"], sample["multi"])))
    expected = models["multi"](sample["multi"], training=False)
    for name in ("species", "weight"):
        np.testing.assert_allclose(got[name], expected[name], atol=1e-5)


@needs_onnx
def test_onnx_of_mixed_precision_model_is_float32(tmp_path):
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        model = zoo.get("cnn-digits", weights=None, filters=4, dense_units=8)
    finally:
        keras.config.set_dtype_policy(previous)
    x = np.random.default_rng(3).uniform(0, 16, (4, 8, 8)).astype("float32")
    report = export_model(model, tmp_path, format="onnx", sample=x)
    (image,) = _session(report).get_inputs()
    assert image.name == "image" and image.type == "tensor(float)"
    (probabilities,) = _session(report).run(["probabilities"], {"image": x})
    np.testing.assert_allclose(probabilities, _keras(model, x), atol=5e-3)  # float16 model


@needs_onnx
def test_onnx_of_spectrogram_and_rnn_model(tmp_path):
    """The tf2onnx workarounds (pipelines/export/onnx_file.py): the STFT as a DFT matmul and
    the GRU unrolled while tracing; both are restored afterwards."""
    from keras.src.backend.tensorflow import math as tf_math

    audio = keras.Input(shape=(800,), name="audio")
    x = keras.layers.MelSpectrogram(
        fft_length=64,
        sequence_stride=32,
        sequence_length=64,
        num_mel_bins=8,
        sampling_rate=8000,
        name="mel",
    )(audio)
    x = keras.layers.Permute((2, 1), name="time_major")(x)
    x = keras.layers.GRU(4, use_cudnn=False, name="gru")(x)
    outputs = keras.layers.Dense(3, activation="softmax", name="probabilities")(x)
    model = keras.Model(audio, outputs, name="tiny_audio")
    stft = tf_math.stft
    x = np.random.default_rng(6).normal(0.0, 0.05, (4, 800)).astype("float32")
    report = export_model(model, tmp_path, format="onnx", sample=x)
    assert tf_math.stft is stft and model.get_layer("gru").unroll is False
    (probabilities,) = _session(report).run(["probabilities"], {"audio": x})
    np.testing.assert_allclose(probabilities, _keras(model, x), atol=1e-5)


# -- failures ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "format",
    [
        pytest.param("saved_model", marks=needs_saved_model),
        pytest.param("onnx", marks=needs_onnx),
    ],
)
def test_failed_verification_raises_and_leaves_nothing(models, tmp_path, monkeypatch, format):
    real = export.spec.keras_outputs

    def corrupted(*args):
        # Off by 1e-4 relative: beyond the 1e-5 (relative above 1) tolerance.
        return {k: v + 1e-4 * np.maximum(1, np.abs(v)) for k, v in real(*args).items()}

    monkeypatch.setattr(export.spec, "keras_outputs", corrupted)
    root = tmp_path / "exports"
    with pytest.raises(ExportError, match="differs from the Keras model"):
        export_model(models["regressor"], root, format=format)
    assert not root.exists()


@needs_saved_model
def test_failed_reexport_keeps_the_previous_version(models, tmp_path, monkeypatch):
    model = models["regressor"]
    export_model(model, tmp_path)
    real = export.spec.keras_outputs
    monkeypatch.setattr(
        export.spec, "keras_outputs", lambda *a: {k: v - 1.0 for k, v in real(*a).items()}
    )
    with pytest.raises(ExportError):
        export_model(model, tmp_path)
    assert sorted(p.name for p in (tmp_path / "mlp_diabetes").iterdir()) == ["1"]
    assert (tmp_path / "mlp_diabetes" / "1" / "saved_model.pb").is_file()


def test_bad_format_is_a_value_error(models, tmp_path):
    with pytest.raises(ValueError, match=r"format must be one of .*Received: format='tflite'"):
        export_model(models["classifier"], tmp_path, format="tflite")
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"labels": ["a", "b", "c"]}, "labels must name each of the 2 classes"),
        ({"version": 0}, "version must be a positive integer"),
        ({"name": "../up"}, "name must be"),
        ({"sample": np.zeros((4, 29), "float32")}, r"sample\['features'\] must have shape"),
    ],
)
def test_bad_arguments_are_value_errors(models, tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        export_model(models["classifier"], tmp_path, **kwargs)


@pytest.mark.parametrize("format", ["saved_model", "onnx"])
def test_zero_size_input_is_refused(tmp_path, format):
    model = zoo.get("mlp-breast-cancer", weights=None, num_features=0)
    with pytest.raises(ValueError, match=r"input 'features' with shape \(None, 0\)"):
        export_model(model, tmp_path, format=format)
    assert not any(tmp_path.iterdir())


def test_zero_size_sample_is_refused(models, tmp_path):
    with pytest.raises(ValueError, match=r"sample\['features'\] must have shape .*\(0, 30\)"):
        export_model(models["classifier"], tmp_path, sample=np.zeros((0, 30), "float32"))


def test_unsupported_backend_says_what_to_do(models, tmp_path, monkeypatch):
    monkeypatch.setattr(export.keras.backend, "backend", lambda: "torch")
    with pytest.raises(ExportError, match="KERAS_BACKEND=tensorflow"):
        export_model(models["classifier"], tmp_path)
    assert not any(tmp_path.iterdir())


# -- the estimator and the other backends -----------------------------------------------------


@needs_saved_model
def test_fitted_classifier_exports_with_its_labels(tmp_path):
    from pipelines import ZooClassifier

    rng = np.random.default_rng(4)
    X = rng.normal(size=(40, 30)).astype("float32")
    y = np.where(X[:, 0] > 0, "yes", "no")
    clf = ZooClassifier("mlp-breast-cancer", epochs=1, random_state=0).fit(X, y)
    report = clf.export(tmp_path, format="saved_model")
    assert report["path"] == str(tmp_path / "mlp_breast_cancer" / "1")
    classes = _serve(report)(features=X[:5])["class"].numpy()
    np.testing.assert_array_equal([c.decode() for c in classes], clf.predict(X[:5]))


JAX_SCRIPT = textwrap.dedent(
    """
    import sys
    import numpy as np
    import zoo
    from pipelines.export import ExportError, export_model

    model = zoo.get("mlp-breast-cancer", weights=None)
    report = export_model(model, sys.argv[1], labels=["a", "b"])
    try:
        export_model(model, sys.argv[1], format="onnx")
    except ExportError as error:
        print("ONNX:", error)
    """
)


@pytest.mark.slow
def test_jax_backend_saved_model_serves_in_tensorflow(tmp_path):
    """On JAX the SavedModel goes through jax2tf; ONNX is refused with advice."""
    env = {**os.environ, "KERAS_BACKEND": "jax", "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", JAX_SCRIPT, str(tmp_path)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "KERAS_BACKEND=tensorflow" in result.stdout
    assert not (tmp_path / "mlp_breast_cancer.onnx").exists()
    if BACKEND in ("tensorflow", "jax"):
        serve = _serve({"path": str(tmp_path / "mlp_breast_cancer" / "1")})
        got = serve(features=np.ones((3, 30), "float32"))
        assert sorted(got) == ["class", "class_id", "probabilities"]
        assert got["probabilities"].shape == (3, 2)

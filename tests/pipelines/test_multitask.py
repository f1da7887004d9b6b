"""ZooMultiTask: a model with a dict of named heads behind the scikit-learn API.

Trained on small slices of Fashion-MNIST with a shrunken trunk (4 filters, no augmentation),
so the fits take seconds; the shipped weights are evaluated on the real 10,000-image test split.
"""

import pickle

import keras
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

import zoo
from pipelines import ZooMultiTask, evaluation
from pipelines.multitask import head_kinds

SMALL = {
    "model__filters": 4,
    "model__dense_units": 16,
    "model__flip": False,
    "model__translation": 0.0,
}
COARSE_NAMES = np.array(["tops", "bottoms", "footwear", "bags"])


@pytest.fixture(scope="module")
def fashion(load_dataset):
    return load_dataset("fashion_mnist_multitask")


@pytest.fixture(scope="module")
def small(fashion):
    """256 training and 128 test images; coarse labels as strings (any labels work)."""

    def part(X, y, count):
        return X[:count], {"fine": y["fine"][:count], "coarse": COARSE_NAMES[y["coarse"][:count]]}

    return part(fashion.X_train, fashion.y_train, 256), part(fashion.X_test, fashion.y_test, 128)


@pytest.fixture(scope="module")
def fitted(small):
    (X, y), _ = small
    estimator = ZooMultiTask("multitask-fashion", epochs=2, batch_size=64, random_state=0, **SMALL)
    return estimator.fit(X, y)


def test_fit_predict_score(fitted, small):
    _, (X_test, y_test) = small
    assert fitted.heads_ == {"fine": "classification", "coarse": "classification"}
    assert fitted.classes_["coarse"].tolist() == sorted(COARSE_NAMES.tolist())
    assert set(fitted.history_) >= {"loss", "fine_accuracy", "coarse_accuracy"}
    predicted = fitted.predict(X_test)
    assert set(predicted) == {"fine", "coarse"}
    assert set(predicted["coarse"]) <= set(COARSE_NAMES)
    assert predicted["fine"].shape == (128,)
    probabilities = fitted.predict_proba(X_test)
    assert probabilities["fine"].shape == (128, 10) and probabilities["coarse"].shape == (128, 4)
    np.testing.assert_allclose(probabilities["coarse"].sum(axis=1), 1.0, atol=1e-5)
    heads = fitted.score_heads(X_test, y_test)
    assert set(heads) == {"fine", "coarse"}
    expected = np.mean(predicted["coarse"] == y_test["coarse"])
    assert heads["coarse"] == pytest.approx(expected)
    score = fitted.score(X_test, y_test)
    assert isinstance(score, float) and score == pytest.approx(np.mean(list(heads.values())))
    # A DataFrame with one column per head is the same y.
    assert fitted.score(X_test, pd.DataFrame(y_test)) == pytest.approx(score)


def test_loss_weights_reach_compile(fitted, small):
    assert fitted.model_.get_compile_config()["loss_weights"] == {"fine": 1.0, "coarse": 0.5}
    (X, y), _ = small
    estimator = ZooMultiTask(
        "multitask-fashion", epochs=1, batch_size=64, loss_weights={"fine": 0}, **SMALL
    ).fit(X[:64], {key: value[:64] for key, value in y.items()})
    assert estimator.model_.get_compile_config()["loss_weights"] == {"fine": 0.0, "coarse": 0.5}


def test_clone_and_grid_search_over_loss_weights(small):
    (X, y), _ = small
    estimator = ZooMultiTask("multitask-fashion", epochs=1, batch_size=64, random_state=0, **SMALL)
    copy = clone(estimator.set_params(loss_weights={"coarse": 0.2}))
    assert copy.get_params()["loss_weights"] == {"coarse": 0.2}
    assert copy.get_params()["model__filters"] == 4
    search = GridSearchCV(
        estimator,
        {"loss_weights": [{"coarse": 0.0}, {"coarse": 1.0}], "model__dense_units": [16]},
        cv=2,
    )
    search.fit(X[:128], pd.DataFrame({key: value[:128] for key, value in y.items()}))
    assert len(search.cv_results_["mean_test_score"]) == 2
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    assert search.best_params_["loss_weights"] in ({"coarse": 0.0}, {"coarse": 1.0})


def test_pickle_round_trip(fitted, small):
    _, (X_test, _) = small
    restored = pickle.loads(pickle.dumps(fitted))
    before, after = fitted.predict_proba(X_test[:16]), restored.predict_proba(X_test[:16])
    for head in ("fine", "coarse"):
        np.testing.assert_allclose(after[head], before[head], atol=1e-6)
    assert restored.classes_["coarse"].tolist() == fitted.classes_["coarse"].tolist()


def test_missing_and_unexpected_heads(small, fitted):
    (X, y), _ = small
    estimator = ZooMultiTask("multitask-fashion", epochs=1, **SMALL)
    with pytest.raises(ValueError, match=r"Missing: \['coarse'\]; unexpected: \['colour'\]"):
        estimator.fit(X, {"fine": y["fine"], "colour": y["coarse"]})
    with pytest.raises(ValueError, match=r"Missing: \['fine'\]; unexpected: \[\]"):
        fitted.score(X, {"coarse": y["coarse"]})
    with pytest.raises(ValueError, match="must be a dict"):
        estimator.fit(X, y["fine"])
    with pytest.raises(ValueError, match=r"loss_weights names heads .*\['colour'\]"):
        ZooMultiTask("multitask-fashion", epochs=1, loss_weights={"colour": 1.0}, **SMALL).fit(
            X[:32], {key: value[:32] for key, value in y.items()}
        )
    with pytest.raises(ValueError, match=r"keys of X must be the model's inputs"):
        fitted.predict({"picture": X[:4]})


def test_mismatched_lengths(small):
    (X, y), _ = small
    estimator = ZooMultiTask("multitask-fashion", epochs=1, **SMALL)
    with pytest.raises(ValueError, match=r"y\['fine'\] has 100, y\['coarse'\] has 99"):
        estimator.fit(X[:100], {"fine": y["fine"][:100], "coarse": y["coarse"][:99]})
    with pytest.raises(ValueError, match=r"X has 90, y\['fine'\] has 100"):
        estimator.fit(X[:90], {key: value[:100] for key, value in y.items()})


def test_head_kinds_and_metrics_of_a_regression_head():
    image = keras.Input(shape=(4,), name="features")
    outputs = {
        "kind": keras.layers.Dense(3, activation="softmax", name="kind")(image),
        "size": keras.layers.Dense(1, name="size")(image),
    }
    model = keras.Model(image, outputs)
    assert head_kinds(model) == {"kind": "classification", "size": "regression"}
    y = {"kind": np.array([0, 1, 2, 1]), "size": np.array([1.0, 2.0, 3.0, 4.0])}
    output = {"kind": np.eye(3)[[0, 1, 2, 0]], "size": np.array([[1.0], [2.0], [3.0], [4.0]])}
    metrics = evaluation.multitask_metrics(model, y, output)
    assert metrics["kind_accuracy"] == 0.75 and metrics["size_r2"] == 1.0
    assert metrics["score"] == pytest.approx(0.875)


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="ONNX export needs TF")
def test_export_carries_every_head(fitted, small, tmp_path):
    import onnxruntime
    import tensorflow as tf

    _, (X_test, _) = small
    images = X_test[:8].astype("float32")
    expected = fitted.predict_proba(images)
    saved = fitted.export(tmp_path, format="saved_model")
    assert sorted(saved["outputs"]) == ["coarse", "fine"]
    serve = tf.saved_model.load(saved["path"]).signatures["serving_default"]
    got = serve(image=tf.constant(images))
    onnx = fitted.export(tmp_path, format="onnx")
    session = onnxruntime.InferenceSession(onnx["path"], providers=["CPUExecutionProvider"])
    names = [output.name for output in session.get_outputs()]
    assert sorted(names) == ["coarse", "fine"]
    got_onnx = dict(zip(names, session.run(names, {"image": images})))
    for head in ("fine", "coarse"):
        np.testing.assert_allclose(got[head].numpy(), expected[head], atol=1e-5)
        np.testing.assert_allclose(got_onnx[head], expected[head], atol=1e-5)


def test_shipped_weights_meet_both_bars(fashion):
    model = zoo.get("multitask-fashion")
    assert model.count_params() < 1_000_000
    metrics = evaluation.evaluate(model, fashion)
    assert metrics["fine_accuracy"] >= 0.91, metrics
    assert metrics["coarse_accuracy"] >= 0.97, metrics
    recorded = zoo.weights.read_manifest()["multitask-fashion"]["metrics"]
    for key, value in metrics.items():
        assert value == pytest.approx(recorded[key], abs=1e-4), key


def test_cli_predict_prints_each_head(fashion, tmp_path, capsys):
    import cli

    np.save(tmp_path / "three.npy", fashion.X_test[:3])
    assert cli.main(["predict", "multitask-fashion", str(tmp_path / "three.npy")]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3
    truth = [fashion.class_names["fine"][i] for i in fashion.y_test["fine"][:3]]
    for line, label in zip(lines, truth):
        assert f"fine={label} " in line and "coarse=" in line

"""Every user mistake is a clear error at the boundary, never a stack trace from inside TF."""

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

import zoo
from pipelines import ZooClassifier, ZooRegressor

FAST = dict(epochs=1, batch_size=32, random_state=0)


@pytest.fixture(scope="module")
def fitted(breast_cancer):
    X, y = breast_cancer.X_train[:100], breast_cancer.y_train[:100]
    return ZooClassifier("mlp-breast-cancer", **FAST).fit(X, y), X, y


def test_unknown_zoo_name_in_a_pipeline(small_tabular):
    with pytest.raises(zoo.UnknownModelError, match="Did you mean: mlp-breast-cancer"):
        ZooClassifier("mlp-breast-cancr", **FAST).fit(*small_tabular)


def test_wrong_input_shape(digits):
    flat = digits.X_train[:50].reshape(50, 64)
    with pytest.raises(
        ValueError, match=r"'image' must have shape \(n, 8, 8\). Received: \(50, 64\)"
    ):
        ZooClassifier("cnn-digits", **FAST).fit(flat, digits.y_train[:50])


def test_wrong_shape_at_predict(fitted):
    clf, X, _ = fitted
    with pytest.raises(
        ValueError, match="X has 10 features, but ZooClassifier is expecting 30 features"
    ):
        clf.predict(X[:, :10])


def test_strings_into_an_image_model(digits):
    images = np.full((5, 8, 8), "pixel", dtype=object)
    with pytest.raises(ValueError, match="must hold numbers.*'pixel'"):
        ZooClassifier("cnn-digits", **FAST).fit(images, np.arange(5) % 2)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_inf_in_X(small_tabular, bad):
    X, y = small_tabular
    X = X.copy()
    X[3, 4] = bad
    with pytest.raises(ValueError, match="NaN or infinite values in 1 of 120 samples"):
        ZooClassifier("mlp-breast-cancer", **FAST).fit(X, y)


def test_X_and_y_of_different_lengths(small_tabular):
    X, y = small_tabular
    with pytest.raises(ValueError, match="X has 120, y has 119"):
        ZooClassifier("mlp-breast-cancer", **FAST).fit(X, y[:-1])


def test_empty_X():
    with pytest.raises(ValueError, match=r"0 sample\(s\) \(shape=\(0, 10\)\)"):
        ZooRegressor("mlp-diabetes", **FAST).fit(np.zeros((0, 10)), np.zeros(0))


def test_unseen_labels_in_validation_data(small_tabular):
    X, y = small_tabular
    with pytest.raises(ValueError, match=r"never seen when fitting: \[7\]"):
        ZooClassifier("mlp-breast-cancer", **FAST).fit(
            X, y, validation_data=(X[:5], [0, 1, 7, 0, 1])
        )


def test_unseen_labels_when_warm_starting(fitted):
    clf, X, y = fitted
    clf.set_params(warm_start=True)
    try:
        with pytest.raises(ValueError, match="never seen when fitting"):
            clf.fit(X, np.where(y == 1, 5, 0))
    finally:
        clf.set_params(warm_start=False)


def test_class_weight_for_an_unknown_label(small_tabular):
    with pytest.raises(ValueError, match="class_weight names labels that are not in y"):
        ZooClassifier("mlp-breast-cancer", class_weight={9: 2.0}, **FAST).fit(*small_tabular)


def test_a_single_class_cannot_be_learned(small_tabular):
    X, _ = small_tabular
    with pytest.raises(ValueError, match="at least 2 classes"):
        ZooClassifier("mlp-breast-cancer", **FAST).fit(X, np.ones(len(X)))


@pytest.mark.parametrize("method", ["predict", "predict_proba", "score"])
def test_predict_before_fit(small_tabular, method):
    X, y = small_tabular
    clf = ZooClassifier("mlp-breast-cancer")
    args = (X, y) if method == "score" else (X,)
    with pytest.raises(NotFittedError):
        getattr(clf, method)(*args)


def test_dict_input_with_wrong_keys(fitted):
    clf, X, _ = fitted
    with pytest.raises(ValueError, match=r"Missing: \['features'\]; unexpected: \['feature'\]"):
        clf.predict({"feature": X})


def test_y_none(small_tabular):
    with pytest.raises(ValueError, match="requires y to be passed"):
        ZooClassifier("mlp-breast-cancer", **FAST).fit(small_tabular[0])


def test_bad_validation_split(small_tabular):
    with pytest.raises(ValueError, match="validation_split must be in"):
        ZooClassifier("mlp-breast-cancer", validation_split=1.5, **FAST).fit(*small_tabular)


def test_evaluate_refuses_an_unknown_split_and_a_protocol_task_off_its_test_split(breast_cancer):
    import dataclasses

    from pipelines import evaluation

    model = zoo.get("mlp-breast-cancer")
    with pytest.raises(ValueError, match=r'`split` must be "test" or "train". Received: split='):
        evaluation.evaluate(model, breast_cancer, split="validation")
    detection = dataclasses.replace(breast_cancer, task="detection")
    with pytest.raises(ValueError, match=r"'detection' dataset is evaluated on its test split"):
        evaluation.evaluate(model, detection, split="train")
    train = evaluation.evaluate(model, breast_cancer, split="train")
    assert train["accuracy"] > 0.9  # the model's own training split

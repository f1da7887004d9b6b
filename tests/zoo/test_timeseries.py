"""timeseries-attention: the S&P 500 volume data, its shipped weights, attention weights."""

import numpy as np
import pytest

import datasets
import zoo
from datasets import timeseries
from pipelines import evaluation
from pipelines.regression import ZooRegressor
from zoo.models.sequence import attention_weights


@pytest.fixture(scope="module")
def data():
    return datasets.load("sp500_volume")


@pytest.fixture(scope="module")
def model():
    return zoo.get("timeseries-attention")


def test_windows_shapes_and_chronology(data):
    assert data.task == "regression"
    assert data.X_train.dtype == data.X_test.dtype == np.float32
    assert data.X_train.shape[1:] == data.X_test.shape[1:] == (timeseries.WINDOW, 3)
    assert data.y_train.shape == (len(data.X_train),)
    assert data.y_test.shape == (len(data.X_test),)
    train_dates, test_dates = timeseries.split_dates()
    assert len(train_dates) == len(data.y_train) and len(test_dates) == len(data.y_test)
    assert train_dates.max() < test_dates.min()
    assert str(test_dates.min().date()) >= timeseries.TEST_START
    assert train_dates.is_monotonic_increasing and test_dates.is_monotonic_increasing
    # y is tomorrow's log volume: the next window ends with it.
    np.testing.assert_array_equal(data.y_train[:-1], data.X_train[1:, -1, timeseries.TARGET_INDEX])
    np.testing.assert_array_equal(data.y_test[:-1], data.X_test[1:, -1, timeseries.TARGET_INDEX])


def test_shipped_weights_beat_both_baselines(data, model):
    metrics = evaluation.evaluate(model, data)
    base = timeseries.baselines(data)
    assert base == data.provenance["baselines_test"]
    assert metrics["mae"] < base["persistence"]["mae"]
    assert metrics["mae"] < base["seasonal_naive_5d"]["mae"]
    recorded = zoo.weights.read_manifest()["timeseries-attention"]
    assert metrics["mae"] == pytest.approx(recorded["metrics"]["mae"], abs=1e-4)
    for name, values in base.items():
        assert recorded["dataset"]["baselines_test"][name] == pytest.approx(values)


def test_attention_weights_are_a_distribution_over_time(data, model):
    weights = attention_weights(model, data.X_test[:64])
    assert weights.shape == (64, timeseries.WINDOW)
    assert (weights >= 0).all()
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-5)
    with pytest.raises(ValueError, match="Received: shape"):
        attention_weights(model, data.X_test[:4, :, :2])


def test_regressor_fits_a_small_slice(data):
    regressor = ZooRegressor(
        "timeseries-attention", epochs=2, batch_size=32, random_state=0, model__units=8
    )
    regressor.fit(data.X_train[-256:], data.y_train[-256:])
    predicted = regressor.predict(data.X_test[:16])
    assert predicted.shape == (16,) and np.isfinite(predicted).all()
    assert np.isfinite(regressor.history_["loss"]).all()
    # The output is in the target's units (log volume about 21-22), not standardised.
    assert 18 < float(np.median(predicted)) < 25

"""The shipped weights meet their bars on the real test splits, and match their manifest."""

import pytest

import zoo
from pipelines import evaluation

# The bars of issue 2, measured on each dataset's fixed test split.
BARS = {
    "cnn-digits": {"accuracy": 0.98},
    "cnn-fashion-mnist": {"accuracy": 0.92},
    "mlp-breast-cancer": {"accuracy": 0.96, "roc_auc": 0.99},
    "mlp-diabetes": {"r2": 0.45},
}


@pytest.mark.parametrize("name", sorted(BARS))
def test_shipped_weights_meet_the_bar_on_the_test_split(name, load_dataset):
    data = load_dataset(zoo.get_entry(name).dataset)
    metrics = evaluation.evaluate(zoo.get(name), data)
    for metric, bar in BARS[name].items():
        assert metrics[metric] >= bar, (name, metric, metrics[metric])
    # The manifest reports what the file really scores.
    recorded = zoo.weights.read_manifest()[name]["metrics"]
    for metric, value in metrics.items():
        assert value == pytest.approx(recorded[metric], abs=1e-4), (name, metric)


def test_fashion_model_under_one_million_parameters():
    assert zoo.info("cnn-fashion-mnist")["parameters"] < 1_000_000

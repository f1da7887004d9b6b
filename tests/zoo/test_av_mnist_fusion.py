"""The shipped av-mnist-fusion weights on the AV-MNIST-style test split, and its input errors."""

import numpy as np
import pytest

import zoo
from pipelines.evaluation import predict_arrays

NAME = "av-mnist-fusion"


@pytest.fixture(scope="module")
def model():
    return zoo.get(NAME)


@pytest.fixture(scope="module")
def test_split(load_dataset):
    data = load_dataset("av_mnist")
    return data.X_test, data.y_test


@pytest.fixture(scope="module")
def accuracies(model, test_split):
    X, y = test_split

    def accuracy(inputs):
        return float((predict_arrays(model, inputs).argmax(-1) == y).mean())

    return {
        "fused": accuracy(X),
        "image_only": accuracy({"image": X["image"], "audio": np.zeros_like(X["audio"])}),
        "audio_only": accuracy({"image": np.zeros_like(X["image"]), "audio": X["audio"]}),
    }


def test_fusion_beats_the_best_single_modality(accuracies):
    best_single = max(accuracies["image_only"], accuracies["audio_only"])
    assert accuracies["fused"] >= best_single + 0.05, accuracies


def test_a_missing_modality_still_beats_chance(accuracies):
    # Chance is 0.10; each modality alone is degraded to roughly 0.6-0.75 by construction.
    assert accuracies["image_only"] > 0.4, accuracies
    assert accuracies["audio_only"] > 0.4, accuracies


def test_shipped_metrics_match_the_manifest(accuracies):
    shipped = zoo.info(NAME)["weights"]["metrics"]["accuracy"]
    assert accuracies["fused"] == pytest.approx(shipped, abs=1e-6)


def test_model_card_names_the_inputs():
    card = zoo.info(NAME)
    inputs = {spec["name"]: spec for spec in card["inputs"]}
    assert inputs["image"]["shape"] == (None, 28, 28)
    assert inputs["audio"]["shape"] == (None, 8000)
    assert inputs["audio"]["modality"] == "audio"
    assert [output["name"] for output in card["outputs"]] == ["probabilities"]


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda X: {"image": X["image"]}, "Missing: \\['audio'\\]"),
        (lambda X: {**X, "video": X["image"]}, "unexpected: \\['video'\\]"),
        (lambda X: {"image": X["image"], "audio": X["audio"][:3]}, "Inconsistent numbers"),
        (lambda X: {"image": X["image"], "audio": X["audio"][:, :4000]}, "'audio' must have shape"),
        (lambda X: X["image"], "pass X as a dict"),
    ],
)
def test_bad_input_is_a_clear_value_error(model, test_split, change, message):
    X = {key: value[:5] for key, value in test_split[0].items()}
    with pytest.raises(ValueError, match=message):
        predict_arrays(model, change(X))


def test_unknown_fusion_is_a_clear_value_error():
    with pytest.raises(ValueError, match="`fusion` must be one of .*Received: fusion='sum'"):
        zoo.get(NAME, weights=None, fusion="sum")

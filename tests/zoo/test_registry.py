"""The registry: listing, did-you-mean, model cards, overrides."""

import keras
import pytest

import zoo

FIRST_ENTRIES = ["cnn-digits", "cnn-fashion-mnist", "mlp-breast-cancer", "mlp-diabetes"]


def test_list_models_with_fnmatch_patterns():
    assert set(FIRST_ENTRIES) <= set(zoo.list_models())
    assert zoo.list_models("cnn-*") == ["cnn-digits", "cnn-fashion-mnist", "cnn-fashion-mnist-fast"]
    assert zoo.list_models("*diabetes") == ["mlp-diabetes"]
    assert zoo.list_models("drive-*") == ["drive-bc", "drive-dagger"]
    assert zoo.list_models("asr-*") == ["asr-digits-ctc", "asr-prompts-ctc"]  # issue 11 (speech)
    assert zoo.list_models("speaker-*") == ["speaker-id"]
    assert zoo.list_models("speech-en*") == ["speech-enhance"]
    assert zoo.list_models("*-composites") == ["detect-composites", "segment-composites"]
    assert zoo.list_models("*-photos") == ["denoise-photos", "inpaint-photos"]  # issue 9
    assert zoo.list_models("*-fashion-mnist") == [
        "cnn-fashion-mnist",
        "cvae-fashion-mnist",
        "dcgan-fashion-mnist",
        "ssl-fashion-mnist",
    ]
    assert zoo.list_models("nothing-*") == []


def test_unknown_name_suggests_the_closest_names():
    with pytest.raises(zoo.UnknownModelError, match="Did you mean: cnn-digits"):
        zoo.get("cnn-digit")


@pytest.mark.parametrize("name", FIRST_ENTRIES)
def test_every_entry_builds_a_named_functional_model(name):
    model = zoo.get(name, weights=None)
    assert isinstance(model, keras.Model)
    assert all(not tensor.name.startswith("keras_tensor") for tensor in model.inputs)
    assert model.output_names in (["probabilities"], ["prediction"])


def test_regularisation_rates_are_builder_arguments():
    model = zoo.get("cnn-digits", weights=None, dropout=0.45, l2=0.02)
    assert model.get_layer("dropout1").rate == 0.45
    assert model.get_layer("dense").kernel_regularizer.l2 == pytest.approx(0.02)


def test_override_of_unknown_argument_lists_the_known_ones():
    with pytest.raises(ValueError, match="has no argument dropuot.*dropout"):
        zoo.get("cnn-digits", weights=None, dropuot=0.1)


def test_override_that_changes_shapes_with_pretrained_weights_names_the_argument():
    with pytest.raises(ValueError, match=r"filters=8 \(pretrained: 32\)"):
        zoo.get("cnn-digits", filters=8)
    with pytest.raises(ValueError, match=r"filters=8 \(pretrained: 32\)"):
        zoo.get("cnn-digits", num_classes=3, filters=8)  # a new head, but not a new backbone


def test_override_that_keeps_shapes_loads_pretrained_weights():
    model = zoo.get("cnn-digits", dropout=0.5)
    assert model.get_layer("dropout1").rate == 0.5


def test_fashion_model_is_under_one_million_parameters():
    assert zoo.get("cnn-fashion-mnist", weights=None).count_params() < 1_000_000


@pytest.mark.parametrize("name", FIRST_ENTRIES)
def test_model_card(name):
    card = zoo.info(name)
    assert card["task"] in ("classification", "regression")
    assert card["inputs"][0]["name"] in ("image", "features")
    assert card["parameters"] == zoo.get(name, weights=None).count_params()
    assert card["weights"]["sha256"] and card["weights"]["command"].startswith(
        "python cli.py train"
    )
    assert card["provenance"]["licence"]
    assert set(card["exports_verified"]) == {"saved_model", "onnx"}
    assert "dropout" in card["defaults"]


def test_card_points_to_the_written_model_card():
    assert zoo.info("av-mnist-fusion")["card"].endswith("zoo/cards/av-mnist-fusion.md")
    assert zoo.info("cnn-digits")["card"] is None


@pytest.mark.parametrize("name", ["sentiment-tweets", "spam-triage"])  # issue 8: text
def test_text_entries_take_named_token_ids(name):
    model = zoo.get(name, weights=None)
    assert [tensor.name for tensor in model.inputs] == ["token_ids"]
    assert model.inputs[0].dtype == "int32" and model.output_names == ["probabilities"]

"""Issue 10, transfer learning: new heads on pretrained backbones, feature extractors, the
frozen-then-fine-tuned recipe of `ZooClassifier`, and the shipped `transfer-digits`."""

import warnings

import keras
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

import zoo
from pipelines import ZooClassifier


@pytest.fixture(scope="module")
def three_digits(digits):
    """90 training and 60 test digits of the classes 0, 1, 2 (labels 0..2)."""
    keep_train = digits.y_train < 3
    keep_test = digits.y_test < 3
    return (
        digits.X_train[keep_train][:90],
        digits.y_train[keep_train][:90],
        digits.X_test[keep_test][:60],
        digits.y_test[keep_test][:60],
    )


def _values(model, names):
    return {
        f"{name}/{index}": np.array(weight)
        for name in names
        for index, weight in enumerate(model.get_layer(name).weights)
    }


def test_pretrained_with_a_new_number_of_classes_keeps_the_backbone_and_lists_the_head():
    shipped = zoo.get("cnn-digits")
    with pytest.warns(UserWarning, match=r"probabilities \[\[128, 10\], \[10\]\] -> "):
        model = zoo.get("cnn-digits", num_classes=3)
    report = model.zoo_transfer
    assert report["source"] == "cnn-digits"
    assert report["reinitialised"] == [
        {
            "layer": "probabilities",
            "pretrained_shapes": [[128, 10], [10]],
            "shapes": [[128, 3], [3]],
        }
    ]
    assert set(report["loaded"]) == {
        "block1_conv1", "block1_bn1", "block1_conv2", "block1_bn2",
        "block2_conv1", "block2_bn1", "block2_conv2", "block2_bn2", "dense",
    }  # fmt: skip
    for key, value in _values(shipped, report["loaded"]).items():
        np.testing.assert_array_equal(value, _values(model, report["loaded"])[key])
    assert model.output.shape == (None, 3)


def test_backbone_has_named_feature_outputs_with_the_shipped_weights():
    extractor = zoo.backbone("cnn-fashion-mnist-fast")  # the classifier is wrapped (TTA)
    assert {name: tuple(t.shape) for name, t in extractor.output.items()} == {
        "block1": (None, 14, 14, 16),
        "block2": (None, 7, 7, 32),
        "block3": (None, 3, 3, 64),
        "features": (None, 256),
    }
    images = np.random.default_rng(0).uniform(0, 255, (2, 28, 28)).astype("float32")
    features = extractor.predict(images, verbose=0)["features"]
    head = zoo.transfer.classifier_core(zoo.get("cnn-fashion-mnist-fast"))
    dense = head.get_layer("probabilities")
    logits = features @ np.array(dense.kernel) + np.array(dense.bias)
    expected = head.predict(images, verbose=0)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(keras.ops.softmax(logits)), expected,
                               atol=1e-5)  # fmt: skip


def test_backbone_of_a_model_without_an_image_classifier_head_is_refused():
    with pytest.raises(ValueError, match="image classifier"):
        zoo.backbone("mlp-breast-cancer")


def test_frozen_backbone_trains_only_the_head_with_batchnorm_in_inference_mode(three_digits):
    X, y, _, _ = three_digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = ZooClassifier(
            "cnn-digits", pretrained=True, freeze="backbone", epochs=2, random_state=0
        ).fit(X, y)
    shipped = zoo.get("cnn-digits")
    backbone = clf.model_.zoo_transfer["loaded"]
    before, after = _values(shipped, backbone), _values(clf.model_, backbone)
    for key in before:  # kernels and BatchNorm moving statistics untouched
        np.testing.assert_array_equal(before[key], after[key], err_msg=key)
    assert len(clf.history_["loss"]) == 2


def test_fine_tuning_unfreezes_all_but_batchnorm_after_the_head_epochs(three_digits):
    X, y, X_test, y_test = three_digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = ZooClassifier(
            "cnn-digits",
            pretrained=True,
            freeze="backbone",
            epochs=2,
            fine_tune_epochs=2,
            fine_tune_learning_rate=1e-3,
            random_state=0,
        ).fit(X, y)
    shipped = zoo.get("cnn-digits")
    assert len(clf.history_["loss"]) == 4
    assert not np.array_equal(
        np.array(shipped.get_layer("block1_conv1").kernel),
        np.array(clf.model_.get_layer("block1_conv1").kernel),
    )
    bn = _values(shipped, ["block1_bn1"])
    for key, value in _values(clf.model_, ["block1_bn1"]).items():
        np.testing.assert_array_equal(value, bn[key], err_msg=key)
    assert clf.score(X_test, y_test) > 0.9


def test_the_transfer_recipe_works_with_clone_and_grid_search(three_digits):
    X, y, _, _ = three_digits
    estimator = ZooClassifier(
        "cnn-digits", pretrained=True, freeze="backbone", epochs=1, fine_tune_epochs=1
    )
    assert clone(estimator).get_params()["fine_tune_epochs"] == 1
    search = GridSearchCV(estimator, {"fine_tune_learning_rate": [1e-4, 1e-3]}, cv=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        search.fit(X[:60], y[:60])
    assert search.best_params_["fine_tune_learning_rate"] in (1e-4, 1e-3)


@pytest.mark.parametrize(
    "params, message",
    [
        (dict(pretrained=True, freeze="all"), 'freeze must be None or "backbone"'),
        (dict(freeze="backbone"), "needs pretrained=True"),
        (dict(pretrained=True, freeze="backbone", fine_tune_epochs=-1), "fine_tune_epochs"),
        (dict(pretrained=True, fine_tune_learning_rate=0), "fine_tune_learning_rate"),
        (dict(pretrained="cnn-digit"), "Did you mean: cnn-digits"),
    ],
)
def test_bad_transfer_settings_are_refused_naming_the_argument(three_digits, params, message):
    X, y, _, _ = three_digits
    with pytest.raises(ValueError, match=message):
        ZooClassifier("cnn-digits", epochs=1, **params).fit(X, y)


def test_transfer_digits_beats_the_same_model_from_scratch(load_dataset):
    """The shipped transfer vs one from-scratch seed (`evaluate` averages three)."""
    from pipelines import transfer

    data = load_dataset("mnist_digits_100")
    model = zoo.get("transfer-digits")
    metrics = transfer.transfer_metrics("transfer-digits", model, data, seeds=(0,))
    assert metrics["transfer_accuracy"] >= 0.87
    assert metrics["transfer_accuracy"] > metrics["scratch_accuracy"], metrics

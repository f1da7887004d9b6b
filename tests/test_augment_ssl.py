"""Issue 10: augmentation policies (training batches only, seeded, absent from exports) and
self-supervised pre-training (`ZooSimCLR`, the shipped `ssl-fashion-mnist`)."""

import numpy as np
import pytest
import tensorflow as tf

import zoo
from pipelines import ZooClassifier, augment, data
from zoo.layers.contrastive import ViewPairLogits


@pytest.fixture(scope="module")
def fashion(load_dataset):
    return load_dataset("fashion_mnist")


def _batches(images, labels):
    return data.make_dataset({"image": images}, labels, batch_size=len(images))


@pytest.mark.parametrize("policy", [p for p in augment.POLICIES if p != "none"])
def test_each_policy_changes_the_images_reproducibly_and_keeps_the_pixel_range(fashion, policy):
    images, labels = fashion.X_train[:16], fashion.y_train[:16]
    first = [next(iter(augment.augment_batches(_batches(images, labels), policy, 10, seed=3)))]
    again = next(iter(augment.augment_batches(_batches(images, labels), policy, 10, seed=3)))
    x, y = first[0]
    np.testing.assert_array_equal(np.asarray(x), np.asarray(again[0]))  # seeded
    assert x.shape == images.shape and float(tf.reduce_min(x)) >= 0.0
    assert float(tf.reduce_max(x)) <= 255.0
    assert not np.allclose(np.asarray(x), images)  # the policy did something
    if policy in augment.MIXING:
        y = np.asarray(y)
        assert y.shape == (16, 10) and np.allclose(y.sum(axis=1), 1.0)
        assert (y.max(axis=1) < 1.0).any()  # some labels are blended
    else:
        np.testing.assert_array_equal(np.asarray(y), labels)


def test_a_policy_trains_and_leaves_prediction_and_exports_untouched(fashion, tmp_path):
    X, y = fashion.X_train[:128], fashion.y_train[:128]
    plain = ZooClassifier("cnn-fashion-mnist", epochs=1, random_state=0, model__flip=False)
    mixed = ZooClassifier(
        "cnn-fashion-mnist", augment="mixup", epochs=1, random_state=0, model__flip=False
    )
    mixed.fit(X, y, validation_data=(fashion.X_test[:64], fashion.y_test[:64]))
    plain.fit(X, y)
    assert mixed._loss() == "categorical_crossentropy" and np.isfinite(mixed.history_["loss"]).all()
    assert "val_accuracy" in mixed.history_
    assert mixed.model_.count_params() == plain.model_.count_params()  # no layer added
    names = {layer.name for layer in mixed.model_.layers}
    assert not names & {"mix_up", "cut_mix", "rand_augment", "random_erasing"}
    probabilities = mixed.predict_proba(fashion.X_test[:8])
    np.testing.assert_allclose(probabilities, mixed.predict_proba(fashion.X_test[:8]))


@pytest.mark.parametrize("policy", ["autoaugment", 3, ""])
def test_an_unknown_policy_is_refused_naming_augment(fashion, policy):
    with pytest.raises(ValueError, match="augment must be None or one of"):
        ZooClassifier("cnn-fashion-mnist", augment=policy, epochs=1).fit(
            fashion.X_train[:32], fashion.y_train[:32]
        )


def test_cli_set_augment_reaches_the_estimator_and_is_refused_for_non_classifiers(tmp_path):
    from pipelines.training import train_run

    summary = train_run(
        "cnn-digits", epochs=1, out=tmp_path, limit=200, verbose=0, overrides={"augment": "cutmix"}
    )
    assert summary["config"]["overrides"] == {"augment": "cutmix"}
    assert "--set augment=cutmix" in summary["config"]["command"]
    with pytest.raises(ValueError, match="augment applies to classifiers of images"):
        train_run("mlp-diabetes", epochs=1, out=tmp_path, overrides={"augment": "mixup"})


def test_view_pair_logits_compare_first_views_with_second_views():
    embeddings = np.eye(4, dtype="float32")[[0, 1, 0, 1]]  # views of 2 samples, stacked
    logits = np.asarray(ViewPairLogits(temperature=0.5)(embeddings))
    np.testing.assert_allclose(logits, [[2.0, 0.0], [0.0, 2.0]])


def test_simclr_pretraining_lowers_its_loss_and_embeds_on_the_unit_sphere(fashion):
    from pipelines.training import estimator_for

    est = estimator_for("ssl-fashion-mnist", epochs=3, batch_size=64, random_state=0)
    est.fit(fashion.X_train[:512], fashion.y_train[:512])  # labels ignored
    losses = est.history_["loss"]
    assert losses[-1] < losses[0] and losses[0] < np.log(64) + 0.5, losses
    embeddings = est.transform(fashion.X_test[:8])
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-5)
    assert 0.0 <= est.score(fashion.X_test[:64]) <= 1.0
    with pytest.raises(ValueError, match="grayscale images"):
        est.transform(fashion.X_test[:4].reshape(4, -1))


def test_the_shipped_encoder_takes_a_new_head_through_the_transfer_api():
    model = zoo.get("ssl-fashion-mnist", num_classes=10)
    report = model.zoo_transfer
    assert "block3_conv2" in report["loaded"] and not report["reinitialised"]
    assert report["new"] == ["head_dense", "probabilities"]
    assert report["unused"] == ["dense", "projection"]  # the pre-training's projection head
    assert model.output_shape == (None, 10)


def test_shipped_ssl_fine_tuning_beats_the_same_model_from_scratch(load_dataset):
    """One seed of each (`cli.py evaluate` averages three), on the same 600 labels and the
    whole test split; the issue's +0.05 is not met (the card says so), the gain is asserted."""
    from pipelines import transfer

    dataset = load_dataset("fashion_mnist_ssl")
    metrics = transfer.ssl_metrics("ssl-fashion-mnist", zoo.get("ssl-fashion-mnist"), dataset, (0,))
    assert metrics["fine_tune_accuracy"] > metrics["scratch_accuracy"] >= 0.78, metrics

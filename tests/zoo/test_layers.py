"""Tests for zoo.layers on the current Keras backend."""

import keras
import numpy as np
import pytest

from zoo.layers import (
    FUSIONS,
    AttentionFusion,
    AttentionPooling,
    ConcatFusion,
    FlipAveraged,
    GatedFusion,
    ModalityDropout,
    audio_encoder,
    fusion_layer,
    image_cnn_encoder,
)


def _rng():
    return np.random.default_rng(0)


def _modalities(batch_size=4):
    rng = _rng()
    return [
        rng.normal(size=(batch_size, 12)).astype("float32"),
        rng.normal(size=(batch_size, 8)).astype("float32"),
        rng.normal(size=(batch_size, 5)).astype("float32"),
    ]


def _modality_inputs():
    return [
        keras.Input(shape=(12,), name="image_features"),
        keras.Input(shape=(8,), name="text_features"),
        keras.Input(shape=(5,), name="audio_features"),
    ]


# AttentionPooling


def test_attention_pooling_in_a_model_with_mask():
    inputs = keras.Input(shape=(6, 4), name="sequence")
    masked = keras.layers.Masking(mask_value=0.0)(inputs)
    pooled, weights = AttentionPooling(units=8, return_attention_scores=True)(masked)
    model = keras.Model(inputs, {"pooled": pooled, "weights": weights})

    x = _rng().normal(size=(3, 6, 4)).astype("float32")
    x[0, 4:] = 0.0  # two padded steps
    x[1, 1] = 0.0  # one padded step in the middle
    outputs = model.predict(x, verbose=0)

    assert outputs["pooled"].shape == (3, 4)
    assert outputs["weights"].shape == (3, 6)
    np.testing.assert_allclose(outputs["weights"].sum(axis=-1), 1.0, atol=1e-6)
    np.testing.assert_array_equal(outputs["weights"][0, 4:], 0.0)
    assert outputs["weights"][1, 1] == 0.0
    assert np.all(outputs["weights"][2] > 0.0)
    expected = np.einsum("bt,btd->bd", outputs["weights"], x)
    np.testing.assert_allclose(outputs["pooled"], expected, atol=1e-5)


def test_attention_pooling_returns_scores_only_when_asked():
    x = _rng().normal(size=(2, 5, 3)).astype("float32")
    layer = AttentionPooling()
    pooled = layer(x)
    assert pooled.shape == (2, 3)
    pooled_again, weights = layer(x, return_attention_scores=True)
    assert weights.shape == (2, 5)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(pooled_again),
        keras.ops.convert_to_numpy(pooled),
        atol=1e-6,
    )


def test_attention_pooling_all_masked_sample_is_zero():
    x = _rng().normal(size=(2, 4, 3)).astype("float32")
    mask = np.array([[True, True, False, False], [False] * 4])
    pooled, weights = AttentionPooling(return_attention_scores=True)(x, mask=mask)
    pooled = keras.ops.convert_to_numpy(pooled)
    weights = keras.ops.convert_to_numpy(weights)
    np.testing.assert_array_equal(weights[1], 0.0)
    np.testing.assert_array_equal(pooled[1], 0.0)
    np.testing.assert_allclose(weights[0].sum(), 1.0, atol=1e-6)


def test_attention_pooling_rejects_non_sequences():
    with pytest.raises(ValueError, match="Received: input_shape"):
        AttentionPooling()(np.zeros((2, 3), "float32"))


# Fusion


@pytest.mark.parametrize("fusion", FUSIONS)
def test_fusion_in_a_model(fusion):
    inputs = _modality_inputs()
    fused = fusion_layer(fusion, units=16)(inputs)
    model = keras.Model(inputs, fused)
    outputs = model.predict(_modalities(), verbose=0)
    assert outputs.shape == (4, 16)
    assert np.all(np.isfinite(outputs))


def test_attention_fusion_weights_over_modalities():
    x = _modalities()
    x[1][2] = 0.0  # sample 2 misses the second modality
    layer = fusion_layer("attention", units=8, num_heads=2)
    fused, weights = layer(x, return_attention_scores=True)
    assert fused.shape == (4, 8)
    weights = keras.ops.convert_to_numpy(weights)
    assert weights.shape == (4, 3)
    np.testing.assert_allclose(weights.sum(axis=-1), 1.0, atol=1e-6)
    assert weights[2, 1] == 0.0
    assert np.all(weights[[0, 1, 3]] > 0.0)
    # The constructor flag gives the same tuple.
    scored = AttentionFusion(8, num_heads=2, return_attention_scores=True)
    assert len(scored(x)) == 2


def test_gated_fusion_leaves_out_a_zero_modality():
    x = _modalities()
    x[2][:] = 0.0
    layer = GatedFusion(units=6)
    before = keras.ops.convert_to_numpy(layer(x))
    # A missing modality's projection must not reach the output.
    projection = layer.projections[2]
    projection.bias.assign(np.full((6,), 3.0, "float32"))
    after = keras.ops.convert_to_numpy(layer(x))
    np.testing.assert_allclose(after, before, atol=1e-6)


def test_unknown_fusion_is_a_clear_error():
    with pytest.raises(ValueError) as info:
        fusion_layer("sum", units=8)
    message = str(info.value)
    assert "`fusion`" in message
    assert "'concat', 'attention', 'gated'" in message
    assert "Received: fusion='sum'" in message


def test_fusion_needs_several_modalities():
    with pytest.raises(ValueError, match="at least 2 modalities"):
        ConcatFusion(4)([np.zeros((2, 3), "float32")])


def test_attention_fusion_checks_heads():
    with pytest.raises(ValueError, match="Received: units=10, num_heads=4"):
        AttentionFusion(10, num_heads=4)


# ModalityDropout


def test_modality_dropout_is_identity_at_inference():
    x = [
        _rng().uniform(0, 255, (5, 6, 6)).astype("float32"),
        _rng().normal(size=(5, 7)).astype("float32"),
    ]
    x[1][3] = 0.0  # a missing modality stays missing
    layer = ModalityDropout(0.9, seed=1)
    for outputs in (layer(x), layer(x, training=False)):
        for got, expected in zip(outputs, x):
            np.testing.assert_array_equal(keras.ops.convert_to_numpy(got), expected)

    inputs = [keras.Input((6, 6), name="a"), keras.Input((7,), name="b")]
    model = keras.Model(inputs, ModalityDropout(0.9)(inputs))
    for got, expected in zip(model.predict(x, verbose=0), x):
        np.testing.assert_array_equal(got, expected)


def test_modality_dropout_never_drops_every_modality():
    rng = _rng()
    batch_size = 512
    x = [
        rng.uniform(1, 255, (batch_size, 4, 4, 3)).astype("float32"),
        rng.uniform(1, 2, (batch_size, 10)).astype("float32"),
        rng.uniform(1, 2, (batch_size, 3, 2)).astype("float32"),
    ]
    x[0][: batch_size // 2] = 0.0  # half the samples have no image at all
    outputs = ModalityDropout(0.8, seed=3)(x, training=True)
    outputs = [keras.ops.convert_to_numpy(out) for out in outputs]

    kept = []
    for got, expected in zip(outputs, x):
        flat_got = got.reshape(batch_size, -1)
        flat_expected = expected.reshape(batch_size, -1)
        dropped = np.all(flat_got == 0.0, axis=1)
        # Each modality of a sample is either dropped whole or untouched.
        np.testing.assert_array_equal(flat_got[~dropped], flat_expected[~dropped])
        kept.append(~dropped)
    kept = np.stack(kept, axis=1)
    assert np.all(kept.any(axis=1)), "a sample lost all its modalities"
    assert not kept[: batch_size // 2, 0].any()  # missing stays missing
    assert 0.1 < kept.mean() < 0.7  # it does drop, at roughly the rate


def test_modality_dropout_checks_rate():
    with pytest.raises(ValueError, match="Received: rate=1"):
        ModalityDropout(1)


# Encoders


def test_image_cnn_encoder_shapes():
    gray = keras.Input(shape=(16, 16), name="gray_image")
    color = keras.Input(shape=(16, 16, 3), name="color_image")
    gray_features = image_cnn_encoder(gray, filters=(4, 8), units=6)
    color_features = image_cnn_encoder(color, filters=(4,), units=5, l2=0, name="color_encoder")
    model = keras.Model([gray, color], [gray_features, color_features])
    rng = _rng()
    outputs = model.predict(
        [rng.uniform(0, 255, (2, 16, 16)), rng.uniform(0, 255, (2, 16, 16, 3))],
        verbose=0,
    )
    assert outputs[0].shape == (2, 6)
    assert outputs[1].shape == (2, 5)
    assert isinstance(model.get_layer("image_encoder"), keras.Model)
    assert isinstance(model.get_layer("color_encoder"), keras.Model)


def test_audio_encoder_shapes_and_batch_independence():
    waveform = keras.Input(shape=(2000,), name="audio")
    features = audio_encoder(waveform, filters=(4,), units=6)
    model = keras.Model(waveform, features)
    x = _rng().uniform(-1, 1, (2, 2000)).astype("float32")
    x[0] *= 1e-4  # a quiet clip next to a loud one
    outputs = model.predict(x, verbose=0)
    assert outputs.shape == (2, 6)
    alone = model.predict(x[:1], verbose=0)
    np.testing.assert_allclose(alone, outputs[:1], atol=1e-5)


def test_encoders_reject_bad_shapes():
    with pytest.raises(ValueError, match="Received: inputs.shape"):
        image_cnn_encoder(keras.Input(shape=(8,), name="bad_image"))
    with pytest.raises(ValueError, match="Received: inputs.shape"):
        audio_encoder(keras.Input(shape=(100, 1), name="bad_audio"))


# Serialization


@pytest.mark.parametrize(
    "layer",
    [
        AttentionPooling(units=5, return_attention_scores=True, name="pool"),
        ConcatFusion(6, activation="tanh"),
        AttentionFusion(8, num_heads=2, dropout=0.1),
        GatedFusion(7),
        ModalityDropout(0.25, seed=4),
    ],
    ids=lambda layer: layer.__class__.__name__,
)
def test_get_config_round_trip(layer):
    config = layer.get_config()
    restored = layer.__class__.from_config(config)
    assert restored.get_config() == config
    # Through Keras's own serialization, as a saved model does it.
    revived = keras.layers.deserialize(keras.layers.serialize(layer))
    assert type(revived) is type(layer)
    assert revived.get_config() == config


def _full_model():
    image = keras.Input(shape=(12, 12), name="image")
    audio = keras.Input(shape=(1600,), name="audio")
    sequence = keras.Input(shape=(5, 4), name="sequence")
    image_in, audio_in = ModalityDropout(0.3, seed=0)([image, audio])
    image_features = image_cnn_encoder(image_in, filters=(4,), units=8)
    audio_features = audio_encoder(audio_in, filters=(4,), units=8)
    masked = keras.layers.Masking(mask_value=0.0)(sequence)
    pooled = AttentionPooling(name="pool")(masked)
    modalities = [image_features, audio_features, pooled]
    outputs = {fusion: fusion_layer(fusion, 8, name=fusion)(modalities) for fusion in FUSIONS}
    _, outputs["fusion_weights"] = fusion_layer(
        "attention", 8, num_heads=2, return_attention_scores=True, name="scored"
    )(modalities)
    return keras.Model({"image": image, "audio": audio, "sequence": sequence}, outputs)


def test_save_and_load_keras_file(tmp_path):
    model = _full_model()
    rng = _rng()
    x = {
        "image": rng.uniform(0, 255, (3, 12, 12)).astype("float32"),
        "audio": rng.uniform(-1, 1, (3, 1600)).astype("float32"),
        "sequence": rng.normal(size=(3, 5, 4)).astype("float32"),
    }
    x["sequence"][0, 3:] = 0.0
    x["audio"][2] = 0.0
    expected = model.predict(x, verbose=0)

    path = tmp_path / "layers.keras"
    keras.saving.save_model(model, path)
    restored = keras.saving.load_model(path, safe_mode=True)
    got = restored.predict(x, verbose=0)

    assert sorted(got) == sorted(expected)
    for key in expected:
        np.testing.assert_array_equal(got[key], expected[key], err_msg=key)
    np.testing.assert_allclose(got["fusion_weights"].sum(axis=-1), 1.0, atol=1e-6)


def test_flip_averaged_mirrors_only_in_inference():
    core = keras.Sequential([keras.layers.Flatten(), keras.layers.Dense(3, activation="softmax")])
    averaged = FlipAveraged(core, name="probabilities")
    x = _rng().normal(size=(2, 4, 5)).astype("float32")
    once, mirror = core(x), core(x[:, :, ::-1])
    once, mirror = keras.ops.convert_to_numpy(once), keras.ops.convert_to_numpy(mirror)
    assert not np.allclose(once, mirror)  # the input is not symmetric: the mirror matters
    inferred = keras.ops.convert_to_numpy(averaged(x))
    np.testing.assert_allclose(inferred, (once + mirror) / 2, atol=1e-6)
    trained = keras.ops.convert_to_numpy(averaged(x, training=True))
    np.testing.assert_allclose(trained, once, atol=1e-6)


def test_flip_averaged_round_trips_and_checks_its_axis(tmp_path):
    image = keras.Input(shape=(4, 5), name="image")
    core = keras.Sequential([keras.layers.Flatten(), keras.layers.Dense(3)])
    model = keras.Model(image, FlipAveraged(core, name="probabilities")(image))
    x = _rng().normal(size=(2, 4, 5)).astype("float32")
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)
    with pytest.raises(ValueError, match="axis must be a positive int.*Received: axis=0"):
        FlipAveraged(core, axis=0)

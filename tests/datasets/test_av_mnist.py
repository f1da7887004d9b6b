"""The constructed AV-MNIST-style dataset: shapes, determinism, unseen test voices.

The first load synthesises the clips with espeak-ng and caches them (about a minute on two
cores); the tests then read the cache.
"""

import numpy as np
import pytest

from datasets import av_mnist


@pytest.fixture(scope="module")
def data(load_dataset):
    return load_dataset("av_mnist")


def test_shapes_dtypes_and_ranges(data):
    assert set(data.X_train) == set(data.X_test) == {"image", "audio"}
    assert data.X_train["image"].shape == (4000, 28, 28)
    assert data.X_train["audio"].shape == (4000, av_mnist.CLIP_SAMPLES)
    assert data.X_test["image"].shape == (1000, 28, 28)
    assert data.X_test["audio"].shape == (1000, 8000)
    for split in (data.X_train, data.X_test):
        assert split["image"].dtype == split["audio"].dtype == np.float32
        assert 0 <= split["image"].min() and split["image"].max() <= 255
        assert -1 <= split["audio"].min() and split["audio"].max() <= 1
    assert np.array_equal(np.bincount(data.y_test), np.full(10, 100))
    assert data.provenance["constructed"] is True
    assert "espeak-ng" in data.provenance["source"]


def test_loading_is_deterministic(data):
    again = av_mnist.load_av_mnist()
    for key in ("image", "audio"):
        np.testing.assert_array_equal(again.X_train[key], data.X_train[key])
        np.testing.assert_array_equal(again.X_test[key], data.X_test[key])
    np.testing.assert_array_equal(again.y_train, data.y_train)


def test_synthesis_reproduces_the_cached_clip():
    """Re-synthesising a clip from its recorded voice gives the cached waveform."""
    cached = av_mnist._cached()
    i = 0
    label = cached["labels"][cached["train_index"][i]]
    job = (
        av_mnist.WORDS[label],
        str(cached["accent"][i]),
        str(cached["variant"][i]),
        int(cached["speed"][i]),
        int(cached["pitch"][i]),
    )
    first = av_mnist._synthesise(job)
    np.testing.assert_array_equal(first, av_mnist._synthesise(job))
    clip = cached["audio"][i].astype("float32") / 32767.0
    start = int(np.flatnonzero(clip)[0])
    segment = clip[start : start + len(first)]
    scale = np.dot(segment, first) / np.dot(first, first)
    np.testing.assert_allclose(segment, first * scale, atol=2e-4)


def test_test_voices_are_unseen_in_training():
    train, test = av_mnist.voices("train"), av_mnist.voices("test")
    assert len(train) == 4000 and len(test) == 1000
    assert not {variant for _, variant in train} & {variant for _, variant in test}
    assert not set(train) & set(test)
    assert {variant for _, variant in test} <= set(av_mnist.TEST_VARIANTS)
    assert len({voice for voice in test}) > 50  # many voices, not a handful


def test_degradation_levels_are_parameters():
    cached = av_mnist._cached()
    images = cached["images"][:50]
    kept = av_mnist.degrade_images(images, cached["images"], components=784)
    np.testing.assert_allclose(kept, images, atol=1e-2)
    clean = cached["audio"][:4].astype("float32") / 32767.0
    noisy = av_mnist.add_noise(clean, snr_db=-6.0)
    noise_rms = np.sqrt(np.mean((noisy - clean) ** 2))
    assert noise_rms == pytest.approx(av_mnist.TARGET_RMS * 10**0.3, rel=0.05)


def test_asterisk_real_recordings(load_dataset):
    real = load_dataset(av_mnist.load_av_mnist_asterisk, audio_snr_db=None)
    assert real.X_test["audio"].shape == (1000, 8000)
    assert real.X_test["audio"].dtype == np.float32
    assert "asterisk" in real.provenance["source"]
    rms = np.sqrt(np.mean(real.X_test["audio"] ** 2, axis=1))
    assert np.all(rms > 0.01)

"""Issue 9: the image-quality toolkit (zoo.quality), the photo datasets, the enhancement
estimator, its bad input, the shipped enhancement entries against their baselines, and
their exports."""

import keras
import numpy as np
import pytest

import zoo
from pipelines import enhancement
from zoo import quality

ENHANCEMENT = ["denoise-photos", "espcn-x3", "inpaint-photos"]


@pytest.fixture(scope="module")
def pair():
    rng = np.random.default_rng(0)
    clean = rng.uniform(0, 255, (2, 32, 32, 1)).astype("float32")
    noisy = np.clip(clean + rng.normal(0, 20, clean.shape), 0, 255).astype("float32")
    return clean, noisy


def test_ssim_matches_keras_ops_image_ssim(pair):
    clean, noisy = pair
    ours = np.asarray(quality.ssim(clean, noisy, 255.0))
    theirs = np.asarray(keras.ops.image.ssim(clean, noisy, max_val=255.0))
    np.testing.assert_allclose(ours, theirs, atol=1e-4)
    np.testing.assert_allclose(np.asarray(quality.ssim(clean, clean, 255.0)), 1.0, atol=1e-5)


def test_psnr_per_image_and_the_metric_classes(pair):
    clean, noisy = pair
    mse = ((clean - noisy) ** 2).reshape(2, -1).mean(axis=1)
    expected = 10 * np.log10(255.0**2 / mse)
    np.testing.assert_allclose(np.asarray(quality.psnr(clean, noisy)), expected, rtol=1e-5)
    metric = quality.PSNR(max_val=255.0)
    metric.update_state(clean, noisy)
    assert float(metric.result()) == pytest.approx(expected.mean(), rel=1e-5)
    ssim_metric = quality.SSIM(max_val=255.0)
    ssim_metric.update_state(clean, noisy)
    assert 0 < float(ssim_metric.result()) < 1
    restored = quality.PSNR.from_config(metric.get_config())
    assert restored.max_val == 255.0


def test_ssim_loss_and_ms_ssim(pair):
    clean, noisy = pair
    loss = quality.SSIMLoss(max_val=255.0, l1_weight=0.1)
    assert float(keras.ops.mean(loss.call(clean, clean))) == pytest.approx(0.0, abs=1e-5)
    assert float(loss(clean, noisy)) > 0.01
    config = keras.saving.serialize_keras_object(loss)
    assert keras.saving.deserialize_keras_object(config).l1_weight == pytest.approx(0.1)
    scores = quality.ms_ssim(clean, noisy, 255.0, power_factors=(0.5, 0.5))
    assert np.all(np.asarray(scores) < 1.0)
    with pytest.raises(ValueError, match="needs images of at least 176 pixels"):
        quality.ms_ssim(clean, noisy, 255.0)
    with pytest.raises(ValueError, match="max_val must be a positive number"):
        quality.SSIMLoss(max_val=0)
    with pytest.raises(ValueError, match="one shape"):
        quality.ssim(clean, noisy[:, :16])


def test_frechet_distance_of_known_gaussians():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(4000, 3))
    b = rng.normal(size=(4000, 3)) + np.array([2.0, 0.0, 0.0])
    assert quality.frechet_distance(a, b) == pytest.approx(4.0, abs=0.2)
    assert quality.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(ValueError, match="same d"):
        quality.frechet_distance(a, b[:, :2])
    with pytest.raises(ValueError, match=r"\(n, 28, 28\)"):
        quality.fashion_features(np.zeros((2, 32, 32)))
    with pytest.raises(ValueError, match=r"\[0, 255\]"):
        quality.fashion_features(np.full((2, 28, 28), 300.0))


def test_pixel_shuffle():
    from zoo.layers import PixelShuffle

    x = np.arange(2 * 4 * 5 * 9, dtype="float32").reshape(2, 4, 5, 9)
    out = np.asarray(PixelShuffle(3)(x))
    assert out.shape == (2, 12, 15, 1)
    assert out[0, 0, 1, 0] == x[0, 0, 0, 1] and out[0, 1, 0, 0] == x[0, 0, 0, 3]
    with pytest.raises(ValueError, match="scale must be an integer >= 2"):
        PixelShuffle(1)


def test_photo_datasets_hold_out_whole_photos(load_dataset):
    from datasets import photos

    assert not set(photos.TRAIN_PHOTOS) & set(photos.TEST_PHOTOS)
    data = load_dataset("photos_x3")
    assert data.X_test.shape[1:] == (32, 32, 1) and data.y_test.shape[1:] == (96, 96, 1)
    assert data.X_train.shape[1:] == (16, 16, 1) and data.y_train.shape[1:] == (48, 48, 1)
    assert 0 <= data.y_train.min() and data.y_train.max() <= 255
    inpaint = load_dataset("photos_inpaint")
    mask = inpaint.X_test["mask"]
    assert set(np.unique(mask)) == {0.0, 1.0} and 0.05 < mask.mean() < 0.3
    assert np.all(inpaint.X_test["image"][mask == 1] == 0)


def test_enhancer_trains_predicts_and_scores(load_dataset):
    data = load_dataset("photos_x3")
    enhancer = enhancement.ZooImageEnhancer("espcn-x3", epochs=1, batch_size=16, random_state=0)
    enhancer.fit(data.X_train[:64], data.y_train[:64])
    assert enhancer.predict(data.X_test[:2]).shape == (2, 96, 96, 1)
    assert 10 < enhancer.score(data.X_test[:2], data.y_test[:2]) < 60


@pytest.mark.parametrize(
    "X, match",
    [
        (np.zeros((2, 16, 16, 3)), r"one-channel images, shape \(n, height, width, 1\)"),
        (np.zeros((2, 16, 16)), r"one-channel images"),
        (np.full((2, 16, 16, 1), 256.0), r"pixel values in \[0, 255\]"),
        (np.full((2, 16, 16, 1), -1.0), r"pixel values in \[0, 255\]"),
    ],
)
def test_enhancer_refuses_bad_images(X, match):
    enhancer = enhancement.ZooImageEnhancer("denoise-photos", epochs=1)
    with pytest.raises(ValueError, match=match):
        enhancer.fit(X, np.zeros((2, 16, 16, 1)))


def test_inpainting_refuses_a_mask_that_is_not_binary():
    enhancer = enhancement.ZooImageEnhancer("inpaint-photos", epochs=1)
    X = {"image": np.zeros((2, 16, 16, 1)), "mask": np.full((2, 16, 16, 1), 0.5)}
    with pytest.raises(ValueError, match=r"X\['mask'\] must be a mask of 0 \(known\) and 1"):
        enhancer.fit(X, np.zeros((2, 16, 16, 1)))


# The bars of issue 9 on the held-out photos: (metric, margin over its baseline). Only
# espcn-x3 meets its bar; inpaint-photos does not (its card says so) and is held to the
# floor it measured, so that a regression still fails here.
RELATIVE_BARS = {"espcn-x3": ("psnr_db", 1.0)}
MEASURED_FLOORS = {"inpaint-photos": ("psnr_db", 27.1)}


@pytest.mark.parametrize("name", ["espcn-x3", "inpaint-photos"])
def test_shipped_enhancement_against_its_baseline(name, load_dataset):
    from pipelines import evaluation

    data = load_dataset(zoo.get_entry(name).dataset)
    metrics = evaluation.evaluate(zoo.get(name), data)
    if name in RELATIVE_BARS:
        key, margin = RELATIVE_BARS[name]
        assert metrics[key] >= metrics[f"baseline_{key}"] + margin, metrics
    else:
        key, floor = MEASURED_FLOORS[name]
        assert metrics[key] >= floor, metrics
    assert "ssim" in metrics and "baseline_ssim" in metrics
    recorded = zoo.weights.read_manifest()[name]["metrics"]
    for metric, value in metrics.items():
        assert value == pytest.approx(recorded[metric], abs=1e-3), (name, metric)


def test_shipped_denoiser_on_a_few_held_out_tiles(load_dataset):
    """denoise-photos at sigma 25 on every 9th held-out tile (8 of 72), beside non-local
    means with the h the manifest's run tuned: tuning h over three sigmas (what `cli.py
    evaluate` does) takes 20 s on 2 cores. Floor: what the shipped file measured there."""
    from datasets.photos import TEST_SIGMA, add_noise

    clean = load_dataset("photos_denoise").y_test
    noisy = add_noise(clean, TEST_SIGMA, seed=int(TEST_SIGMA))[::9]
    clean = clean[::9]
    recorded = zoo.weights.read_manifest()["denoise-photos"]["metrics"]
    baseline = enhancement.nl_means(noisy, TEST_SIGMA, recorded["baseline_h_factor"])
    model = enhancement._predict(zoo.get("denoise-photos"), noisy)
    noisy_psnr = enhancement.psnr(noisy, clean)
    gain = float(np.mean(enhancement.psnr(model, clean) - noisy_psnr))
    baseline_gain = float(np.mean(enhancement.psnr(baseline, clean) - noisy_psnr))
    assert 12.9 <= gain, (gain, baseline_gain)
    assert 13.0 <= baseline_gain <= 13.5, baseline_gain  # the baseline itself is unchanged


def test_enhancement_exports_reload_and_match(tmp_path):
    """The two-input inpainting model, on real-sized images, in both formats."""
    from pipelines.export import export_model

    model = zoo.get("inpaint-photos")
    rng = np.random.default_rng(0)
    sample = {
        "image": rng.uniform(0, 255, (2, 40, 48, 1)).astype("float32"),
        "mask": (rng.uniform(size=(2, 40, 48, 1)) < 0.2).astype("float32"),
    }
    for format in ("saved_model", "onnx"):
        report = export_model(model, tmp_path, format=format, sample=sample)
        assert report["max_abs_diff"] < 1e-2, report  # pixels 0..255

"""Image enhancement (denoising, super-resolution, inpainting): the estimator, the test
metrics and the scikit-image / PIL baselines, all on the same held-out photos.

Training is plain compile/fit (MSE on pixels), through `ZooImageEnhancer`, an
`ArrayTargetsEstimator` whose X and y are images (the waveform one is
`pipelines.speech.ZooEnhancer`). The metrics (`image_metrics`, which `evaluation.evaluate`
dispatches to on the dataset's task through `DATASET_METRICS`) are per-tile means over the
96x96 tiles of the held-out photos (`datasets.photos`), peak 255:

- denoising: `psnr_gain_db` (PSNR of the output minus PSNR of the noisy input) and
  `psnr_db`, `ssim` at sigma 25, and the same at sigma 15 and 50 (`..._sigma15`); the
  baseline is scikit-image's `denoise_nl_means` (fast mode, 5x5 patches, 13x13 search)
  with its filter strength h tuned per sigma on tiles of the TRAINING photos.
- super_resolution: `psnr_db` and `ssim` on the luma, a border of 3 pixels shaved (the
  usual protocol); the baseline is PIL's bicubic upscaling of the same low-resolution input.
- inpainting: `psnr_db` over the pixels of the holes only, `ssim` over the whole tile; the
  baseline is scikit-image's `inpaint_biharmonic` on the same masks.

The baselines take seconds (72 tiles of 96x96) and are computed once per process.
"""

import numpy as np
from sklearn.utils.validation import check_is_fitted

from pipelines import data
from pipelines.base import ArrayTargetsEstimator
from zoo import quality

TASKS = ("denoising", "super_resolution", "inpainting")
PEAK = 255.0
SR_SHAVE = 3
NLM_H_FACTORS = (0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.2)  # h / sigma, the grid tuned over


def check_images(values, what, mask=False):
    """Validates a batch of one-channel images (n, h, w, 1) with values in [0, 255] (masks:
    0 or 1); returns it as float32."""
    array = data.as_array(values, what)
    if array.ndim != 4 or array.shape[-1] != 1 or min(array.shape[1:3]) < 1:
        raise ValueError(
            f"{what} must be a batch of one-channel images, shape (n, height, width, 1). "
            f"Received: shape {array.shape}"
        )
    if mask and not np.isin(array, (0.0, 1.0)).all():
        raise ValueError(
            f"{what} must be a mask of 0 (known) and 1 (hole) values. Received: values "
            f"such as {np.unique(array)[:5].tolist()}"
        )
    low, high = float(array.min()), float(array.max())
    if low < 0.0 or high > PEAK:
        raise ValueError(
            f"{what} must hold pixel values in [0, 255]. Received: values in "
            f"[{low:.4g}, {high:.4g}]"
        )
    return array


def check_enhancement_input(X, what="X"):
    """Validates the input of an enhancement model: images, or {"image", "mask"}."""
    if isinstance(X, dict):
        checked = {key: check_images(X[key], f"{what}[{key!r}]", key == "mask") for key in X}
        shapes = {key: value.shape for key, value in checked.items()}
        if len(set(shapes.values())) > 1:
            raise ValueError(f"The arrays of {what} must have one shape. Received: {shapes}")
        return checked
    return check_images(X, what)


class ZooImageEnhancer(ArrayTargetsEstimator):
    """Trains an image-enhancement entry (image in, image out) with MSE on pixels.

    X: one-channel images (n, h, w, 1) with pixels in [0, 255] (inpainting: a dict
    {"image", "mask"}); y: the target images. `predict` returns the output images, `score`
    the mean per-image PSNR (dB) against y. See `ZooEstimator` for the arguments.

    Example:

        enhancer = ZooImageEnhancer("denoise-photos", epochs=2, random_state=0)
        enhancer.fit(noisy_patches, clean_patches).score(noisy_tiles, clean_tiles)
    """

    _task = "image_enhancement"

    def _loss(self):
        return "mean_squared_error"

    def _validate_X(self, X, reset):
        return check_enhancement_input(X)

    def _encode_targets(self, y, fitting):
        self._refuse_class_weight()
        return check_images(y, "y")

    def _dataset_targets(self, targets):
        data.as_array(targets, "y")

    def predict(self, X):
        """The enhanced images, (n, h', w', 1), pixels."""
        return np.asarray(self._predict_raw(X))

    def score(self, X, y, sample_weight=None):
        """Mean per-image PSNR (dB, peak 255) of `predict(X)` against y."""
        check_is_fitted(self, "model_")
        y = check_images(y, "y")
        predicted = self.predict(X)
        if predicted.shape != y.shape:
            raise ValueError(
                f"y must have the shape of the model's output {predicted.shape}. "
                f"Received: {y.shape}"
            )
        return float(np.mean(psnr(predicted, y)))


def psnr(predicted, target, mask=None):
    """Per-image PSNR (dB, peak 255) in float64; with `mask`, over the pixels where it is 1."""
    error = np.square(np.asarray(predicted, "float64") - np.asarray(target, "float64"))
    if mask is None:
        mse = error.reshape(len(error), -1).mean(axis=1)
    else:
        mask = np.asarray(mask, "float64").reshape(len(error), -1)
        mse = (error.reshape(len(error), -1) * mask).sum(axis=1) / mask.sum(axis=1)
    return 10.0 * np.log10(PEAK**2 / np.maximum(mse, 1e-12))


def ssim(predicted, target):
    """Per-image SSIM (peak 255), `zoo.quality.ssim`."""
    return np.asarray(quality.ssim(np.float32(predicted), np.float32(target), PEAK), "float64")


def _predict(model, X):
    from pipelines.evaluation import predict_arrays

    return np.clip(predict_arrays(model, X, batch_size=16), 0.0, PEAK)


def _shave(images, border=SR_SHAVE):
    return images[:, border:-border, border:-border]


def image_metrics(model, dataset):
    """The model's test metrics and the baseline's, side by side (see the module doc)."""
    if dataset.task not in TASKS:
        raise ValueError(f"dataset must be one of the tasks {TASKS}. Received: {dataset.task!r}")
    metrics = {}
    if dataset.task == "denoising":
        from datasets.photos import EVAL_SIGMAS, TEST_SIGMA, add_noise

        clean = dataset.y_test
        for sigma in EVAL_SIGMAS:
            noisy = add_noise(clean, sigma, seed=int(sigma))
            out = _predict(model, noisy)
            values = {
                "psnr_db": float(np.mean(psnr(out, clean))),
                "psnr_gain_db": float(np.mean(psnr(out, clean) - psnr(noisy, clean))),
                "ssim": float(np.mean(ssim(out, clean))),
            }
            suffix = "" if sigma == TEST_SIGMA else f"_sigma{sigma:g}"
            metrics.update({key + suffix: value for key, value in values.items()})
            if sigma == TEST_SIGMA:
                metrics["noisy_psnr_db"] = float(np.mean(psnr(noisy, clean)))
    elif dataset.task == "super_resolution":
        out = _predict(model, dataset.X_test)
        truth = dataset.y_test
        metrics["psnr_db"] = float(np.mean(psnr(_shave(out), _shave(truth))))
        metrics["ssim"] = float(np.mean(ssim(_shave(out), _shave(truth))))
    else:
        out = _predict(model, dataset.X_test)
        truth, mask = dataset.y_test, dataset.X_test["mask"]
        metrics["psnr_db"] = float(np.mean(psnr(out, truth, mask)))
        metrics["ssim"] = float(np.mean(ssim(out, truth)))
    return {**metrics, **baseline_metrics(dataset)}


def baseline_metrics(dataset):
    """The baseline's metrics on the dataset's test split (a few seconds; kept for the
    process, keyed by the dataset name and a hash of its test split)."""
    import hashlib

    digest = hashlib.sha256()
    for part in (dataset.y_test, dataset.X_test):
        for array in part.values() if isinstance(part, dict) else (part,):
            digest.update(np.ascontiguousarray(array).tobytes())
    key = (dataset.name, digest.hexdigest())
    if key not in _BASELINES:
        compute = {
            "denoising": _denoise_baseline,
            "super_resolution": _sr_baseline,
            "inpainting": _inpaint_baseline,
        }[dataset.task]
        _BASELINES[key] = compute(dataset)
    return dict(_BASELINES[key])


_BASELINES = {}


def nl_means(noisy, sigma, h_factor):
    """scikit-image `denoise_nl_means` of each image (fast mode, 5x5 patches, 13x13 search),
    h = h_factor * sigma, the known sigma given."""
    from skimage.restoration import denoise_nl_means

    out = [
        denoise_nl_means(
            image[..., 0] / PEAK,
            h=h_factor * sigma / PEAK,
            sigma=sigma / PEAK,
            patch_size=5,
            patch_distance=6,
            fast_mode=True,
        )
        * PEAK
        for image in noisy
    ]
    return np.clip(np.stack(out)[..., None], 0.0, PEAK).astype("float32")


def tune_nl_means(sigma, tiles=None):
    """The h / sigma of `NLM_H_FACTORS` with the best mean PSNR on 24 tiles of the training
    photos (never the test photos) at this sigma; returns (factor, {factor: PSNR})."""
    from datasets.photos import TRAIN_PHOTOS, add_noise, photo_tiles

    if tiles is None:
        tiles, _ = photo_tiles(TRAIN_PHOTOS[:8])
        tiles = tiles[np.random.default_rng(7).permutation(len(tiles))[:24]]
    noisy = add_noise(tiles, sigma, seed=1000 + int(sigma))
    scores = {
        factor: float(np.mean(psnr(nl_means(noisy, sigma, factor), tiles)))
        for factor in NLM_H_FACTORS
    }
    return max(scores, key=scores.get), scores


def _denoise_baseline(dataset):
    from datasets.photos import EVAL_SIGMAS, TEST_SIGMA, add_noise

    clean = dataset.y_test
    result = {}
    for sigma in EVAL_SIGMAS:
        factor, _ = tune_nl_means(sigma)
        noisy = add_noise(clean, sigma, seed=int(sigma))
        out = nl_means(noisy, sigma, factor)
        suffix = "" if sigma == TEST_SIGMA else f"_sigma{sigma:g}"
        result[f"baseline_psnr_db{suffix}"] = float(np.mean(psnr(out, clean)))
        result[f"baseline_psnr_gain_db{suffix}"] = float(
            np.mean(psnr(out, clean) - psnr(noisy, clean))
        )
        result[f"baseline_ssim{suffix}"] = float(np.mean(ssim(out, clean)))
        result[f"baseline_h_factor{suffix}"] = factor
    return result


def _sr_baseline(dataset):
    from datasets.photos import upscale_bicubic

    out = upscale_bicubic(dataset.X_test)
    truth = dataset.y_test
    return {
        "baseline_psnr_db": float(np.mean(psnr(_shave(out), _shave(truth)))),
        "baseline_ssim": float(np.mean(ssim(_shave(out), _shave(truth)))),
    }


def biharmonic(images, masks):
    """scikit-image `inpaint_biharmonic` of each image with its mask (1 = hole)."""
    from skimage.restoration import inpaint_biharmonic

    out = [
        inpaint_biharmonic(image[..., 0] / PEAK, mask[..., 0].astype(bool)) * PEAK
        for image, mask in zip(images, masks)
    ]
    return np.clip(np.stack(out)[..., None], 0.0, PEAK).astype("float32")


def _inpaint_baseline(dataset):
    images, masks = dataset.X_test["image"], dataset.X_test["mask"]
    out = biharmonic(images, masks)
    truth = dataset.y_test
    return {
        "baseline_psnr_db": float(np.mean(psnr(out, truth, masks))),
        "baseline_ssim": float(np.mean(ssim(out, truth))),
    }


def baseline_outputs(dataset, X):
    """The baseline's output for the inputs X of the dataset's task (pictures, tests)."""
    if dataset.task == "denoising":
        from datasets.photos import TEST_SIGMA

        factor = baseline_metrics(dataset)["baseline_h_factor"]
        return nl_means(X, TEST_SIGMA, factor)
    if dataset.task == "super_resolution":
        from datasets.photos import upscale_bicubic

        return upscale_bicubic(X)
    return biharmonic(X["image"], X["mask"])


def save_examples(model, dataset, path, tiles=(0, 17, 30, 60)):
    """A before/after PNG of test tiles: input, baseline, model, ground truth (one row per
    tile, PSNR in each title). Used for the model cards.

    Example:

        save_examples(zoo.get("denoise-photos"), datasets.load("photos_denoise"), "d.png")
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from zoo.weights import atomic_path

    index = np.asarray(tiles)
    X = (
        {k: v[index] for k, v in dataset.X_test.items()}
        if isinstance(dataset.X_test, dict)
        else dataset.X_test[index]
    )
    truth = dataset.y_test[index]
    mask = X["mask"] if isinstance(X, dict) else None
    shown_input = X["image"] if mask is not None else X
    columns = [
        ("input", shown_input),
        ("baseline", baseline_outputs(dataset, X)),
        ("model", _predict(model, X)),
        ("truth", truth),
    ]
    figure, axes = plt.subplots(len(index), 4, figsize=(10, 2.6 * len(index)), squeeze=False)
    for row in range(len(index)):
        for column, (title, images) in enumerate(columns):
            axis = axes[row, column]
            image = images[row, ..., 0]
            axis.imshow(image, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
            if title in ("baseline", "model") or (title == "input" and mask is None):
                if image.shape == truth[row, ..., 0].shape:
                    value = psnr(
                        images[row : row + 1],
                        truth[row : row + 1],
                        None if mask is None else mask[row : row + 1],
                    )[0]
                    title = f"{title} {value:.2f} dB"
            axis.set_title(title, fontsize=9)
            axis.axis("off")
    figure.tight_layout()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=90, format="png")
    plt.close(figure)

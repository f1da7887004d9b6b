"""Image-quality toolkit: PSNR and SSIM (functions, Keras metrics), an SSIM / MS-SSIM loss,
and the Fréchet distance in the features of the zoo's own Fashion-MNIST classifier.

Everything that runs inside a model or a training step is `keras.ops` (TensorFlow, JAX and
PyTorch alike); the Fréchet distance is NumPy/SciPy on features the Keras model computes.

Images are (batch, height, width, channels), channels last, with values in [0, max_val].

FD, not FID: the Inception-v3 weights FID is defined with cannot be downloaded here, so
`fashion_fd` is the Fréchet distance between Gaussians fitted to the penultimate-layer
features ("dense", 256 ReLU units) of the shipped `cnn-fashion-mnist` classifier: "FD in our
classifier's features". Its values are not comparable with published FIDs; compare them
with `fd_floor`, the distance between two sets of REAL images (test vs train), which is what
a perfect generator would score at that sample size.

Example:

    from zoo import quality
    quality.psnr(clean, denoised, max_val=255.0)          # (batch,) dB
    model.compile(loss=quality.SSIMLoss(max_val=1.0), metrics=[quality.PSNR(max_val=1.0)])
    quality.fashion_fd(generated, real_test)               # a float, lower is better
"""

import keras
import numpy as np
from keras import ops

# The five-scale weights of Wang, Simoncelli & Bovik (2003), "Multi-scale structural
# similarity for image quality assessment".
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def _check_pair(image1, image2):
    shape1, shape2 = tuple(ops.shape(image1)), tuple(ops.shape(image2))
    if len(shape1) != 4 or shape1 != shape2:
        raise ValueError(
            "image1 and image2 must be batches of images of one shape (batch, height, width, "
            f"channels). Received: shapes {shape1} and {shape2}"
        )


def psnr(image1, image2, max_val=255.0):
    """Peak signal-to-noise ratio of each image pair, in dB: 10 log10(max_val^2 / MSE).

    Returns a (batch,) tensor (identical images give +inf). `keras.ops.psnr` gives one value
    for the whole batch; per-image values are what image-restoration papers average.
    """
    _check_pair(image1, image2)
    image1 = ops.cast(image1, "float32")
    image2 = ops.cast(image2, "float32")
    mse = ops.mean(ops.square(image1 - image2), axis=(1, 2, 3))
    return 10.0 * ops.log10(float(max_val) ** 2 / mse)


def _gaussian_window(size, sigma, channels):
    coords = np.arange(size, dtype="float64") - (size - 1) / 2.0
    g = np.exp(-(coords**2) / (2.0 * sigma**2))
    g /= g.sum()
    window = np.outer(g, g).astype("float32")
    return ops.convert_to_tensor(np.tile(window[:, :, None, None], (1, 1, channels, 1)))


def _ssim_parts(image1, image2, max_val, filter_size, filter_sigma, k1=0.01, k2=0.03):
    """(SSIM, contrast-structure) means per image, Gaussian window, 'valid' positions."""
    channels = int(ops.shape(image1)[-1])
    window = _gaussian_window(filter_size, filter_sigma, channels)

    def blur(x):
        return ops.depthwise_conv(x, window, strides=1, padding="valid")

    c1, c2 = (k1 * max_val) ** 2, (k2 * max_val) ** 2
    mu1, mu2 = blur(image1), blur(image2)
    sigma11 = blur(image1 * image1) - mu1 * mu1
    sigma22 = blur(image2 * image2) - mu2 * mu2
    sigma12 = blur(image1 * image2) - mu1 * mu2
    luminance = (2.0 * mu1 * mu2 + c1) / (mu1 * mu1 + mu2 * mu2 + c1)
    cs = (2.0 * sigma12 + c2) / (sigma11 + sigma22 + c2)
    return ops.mean(luminance * cs, axis=(1, 2, 3)), ops.mean(cs, axis=(1, 2, 3))


def ssim(image1, image2, max_val=255.0, filter_size=11, filter_sigma=1.5):
    """Structural similarity of each image pair (Wang et al. 2004), a (batch,) tensor.

    Gaussian 11x11 window (sigma 1.5), K1 = 0.01, K2 = 0.03, the mean over the 'valid'
    window positions and the channels: the numbers of `keras.ops.image.ssim` and
    TensorFlow's `image.ssim` (this version also gives the contrast-structure term MS-SSIM needs).
    """
    _check_pair(image1, image2)
    image1 = ops.cast(image1, "float32")
    image2 = ops.cast(image2, "float32")
    return _ssim_parts(image1, image2, float(max_val), filter_size, filter_sigma)[0]


def ms_ssim(image1, image2, max_val=255.0, power_factors=MS_SSIM_WEIGHTS, filter_size=11):
    """Multi-scale SSIM (Wang, Simoncelli & Bovik 2003), a (batch,) tensor.

    One scale per power factor, halving the size (2x2 average pooling) between scales: the
    contrast-structure terms of the finer scales and the SSIM of the coarsest, each raised
    to its factor. The images need at least filter_size * 2^(scales - 1) pixels a side (the
    default five scales: 176); pass fewer factors for small patches, e.g. (0.5, 0.5).
    Negative terms are clipped to 0 before the powers (as TensorFlow's `image.ssim_multiscale` does
    with its ReLU).
    """
    _check_pair(image1, image2)
    scales = len(power_factors)
    smallest = filter_size * 2 ** (scales - 1)
    height, width = ops.shape(image1)[1], ops.shape(image1)[2]
    if height is not None and min(height, width) < smallest:
        raise ValueError(
            f"ms_ssim with {scales} scales and filter_size {filter_size} needs images of at "
            f"least {smallest} pixels a side. Received: {height}x{width}; pass fewer "
            "power_factors."
        )
    x1, x2 = ops.cast(image1, "float32"), ops.cast(image2, "float32")
    result = 1.0
    for index, factor in enumerate(power_factors):
        full, cs = _ssim_parts(x1, x2, float(max_val), filter_size, 1.5)
        term = full if index == scales - 1 else cs
        result = result * ops.power(ops.relu(term), factor)
        if index < scales - 1:
            x1 = ops.average_pool(x1, 2, strides=2, padding="valid")
            x2 = ops.average_pool(x2, 2, strides=2, padding="valid")
    return result


@keras.saving.register_keras_serializable(package="zoo")
class SSIMLoss(keras.losses.Loss):
    """1 - SSIM (or 1 - MS-SSIM with `power_factors`), per sample, as a Keras loss.

    Args:
        max_val: the value range of the images (1.0 for [0, 1], 255.0 for pixels).
        power_factors: None for SSIM; a tuple of MS-SSIM scale weights for MS-SSIM.
        l1_weight: adds l1_weight * mean |y_true - y_pred| / max_val (the SSIM + L1 mix of
            Zhao et al. 2017, "Loss functions for image restoration with neural networks").

    Example:

        model.compile(optimizer="adam", loss=SSIMLoss(max_val=1.0, l1_weight=0.16))
    """

    def __init__(self, max_val=1.0, power_factors=None, l1_weight=0.0, name="ssim_loss", **kw):
        super().__init__(name=name, **kw)
        if not isinstance(max_val, (int, float)) or isinstance(max_val, bool) or max_val <= 0:
            raise ValueError(f"max_val must be a positive number. Received: max_val={max_val!r}")
        self.max_val = float(max_val)
        self.power_factors = None if power_factors is None else tuple(power_factors)
        self.l1_weight = float(l1_weight)

    def call(self, y_true, y_pred):
        y_true = ops.cast(y_true, "float32")
        y_pred = ops.cast(y_pred, "float32")
        if self.power_factors is None:
            similarity = ssim(y_true, y_pred, self.max_val)
        else:
            similarity = ms_ssim(y_true, y_pred, self.max_val, self.power_factors)
        loss = 1.0 - similarity
        if self.l1_weight:
            l1 = ops.mean(ops.abs(y_true - y_pred), axis=(1, 2, 3)) / self.max_val
            loss = loss + self.l1_weight * l1
        return loss

    def get_config(self):
        return {
            **super().get_config(),
            "max_val": self.max_val,
            "power_factors": self.power_factors,
            "l1_weight": self.l1_weight,
        }


class _ImageMean(keras.metrics.Metric):
    """The mean over images of a per-image quality value."""

    def __init__(self, max_val=255.0, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.max_val = float(max_val)
        self.total = self.add_variable(shape=(), initializer="zeros", name="total")
        self.count = self.add_variable(shape=(), initializer="zeros", name="count")

    def _values(self, y_true, y_pred):
        raise NotImplementedError

    def update_state(self, y_true, y_pred, sample_weight=None):
        values = self._values(ops.cast(y_true, "float32"), ops.cast(y_pred, "float32"))
        self.total.assign_add(ops.sum(values))
        self.count.assign_add(ops.cast(ops.shape(values)[0], "float32"))

    def result(self):
        return self.total / ops.maximum(self.count, 1.0)

    def reset_state(self):
        self.total.assign(0.0)
        self.count.assign(0.0)

    def get_config(self):
        return {**super().get_config(), "max_val": self.max_val}


@keras.saving.register_keras_serializable(package="zoo")
class PSNR(_ImageMean):
    """Mean per-image PSNR (dB) as a Keras metric. Example: `metrics=[PSNR(max_val=255.0)]`."""

    def __init__(self, max_val=255.0, name="psnr", **kwargs):
        super().__init__(max_val=max_val, name=name, **kwargs)

    def _values(self, y_true, y_pred):
        mse = ops.mean(ops.square(y_true - y_pred), axis=(1, 2, 3))
        return 10.0 * ops.log10(self.max_val**2 / ops.maximum(mse, 1e-10))


@keras.saving.register_keras_serializable(package="zoo")
class SSIM(_ImageMean):
    """Mean per-image SSIM as a Keras metric. Example: `metrics=[SSIM(max_val=255.0)]`."""

    def __init__(self, max_val=255.0, name="ssim", **kwargs):
        super().__init__(max_val=max_val, name=name, **kwargs)

    def _values(self, y_true, y_pred):
        return ssim(y_true, y_pred, self.max_val)


# -- Fréchet distance in our classifier's features -------------------------------------------

FD_CLASSIFIER = "cnn-fashion-mnist"
FD_LAYER = "dense"


def frechet_distance(features1, features2):
    """Fréchet distance between Gaussians fitted to two feature sets (n, d) (Heusel et al.
    2017): |mu1 - mu2|^2 + Tr(S1 + S2 - 2 (S1 S2)^1/2).

    Example:

        frechet_distance(rng.normal(size=(500, 8)), rng.normal(size=(500, 8)))   # ~0.1
    """
    from scipy import linalg

    a = np.asarray(features1, "float64")
    b = np.asarray(features2, "float64")
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or min(len(a), len(b)) < 2:
        raise ValueError(
            "features1 and features2 must be (n, d) arrays with the same d and n >= 2. "
            f"Received: shapes {a.shape} and {b.shape}"
        )
    mu1, mu2 = a.mean(axis=0), b.mean(axis=0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root, _ = linalg.sqrtm(s1 @ s2, disp=False)
    if not np.isfinite(root).all():  # near-singular product: regularise (as pytorch-fid does)
        offset = np.eye(len(s1)) * 1e-6
        root = linalg.sqrtm((s1 + offset) @ (s2 + offset))
    root = np.real(root)
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2.0 * np.trace(root))


def fashion_features(images, classifier=None, batch_size=500):
    """The 256 penultimate-layer features of `cnn-fashion-mnist` for 28x28 images (0..255).

    Args:
        images: (n, 28, 28) or (n, 28, 28, 1) pixel values in [0, 255].
        classifier: the classifier to use (default: the shipped `cnn-fashion-mnist`).
    """
    images = np.asarray(images, "float32")
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim != 3 or images.shape[1:] != (28, 28) or len(images) == 0:
        raise ValueError(
            f"images must be (n, 28, 28) Fashion-MNIST-sized images. Received: {images.shape}"
        )
    if images.min() < 0 or images.max() > 255:
        raise ValueError(
            "images must hold pixel values in [0, 255]. Received: values in "
            f"[{images.min():.3g}, {images.max():.3g}]"
        )
    if classifier is None:
        import zoo

        classifier = zoo.get(FD_CLASSIFIER)
    extractor = keras.Model(classifier.inputs, classifier.get_layer(FD_LAYER).output)
    return np.asarray(extractor.predict(images, batch_size=batch_size, verbose=0), "float64")


def fashion_fd(images, reference, classifier=None):
    """FD in our classifier's features between `images` and `reference` (both (n, 28, 28),
    0..255). Lower is better; compare with the real-vs-real floor at the same sample size."""
    return frechet_distance(
        fashion_features(images, classifier), fashion_features(reference, classifier)
    )

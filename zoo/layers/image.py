"""Image layers: keras.ops only."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="zoo")
class PixelShuffle(keras.layers.Layer):
    """Sub-pixel convolution's rearrangement (Shi et al. 2016, ESPCN): (h, w, c * r^2) ->
    (h * r, w * r, c), `keras.ops.depth_to_space`, for images of any size.

    Args:
        scale: the upscaling factor r (an integer >= 2).

    Example:

        PixelShuffle(3)(np.zeros((1, 8, 8, 9), "float32")).shape   # (1, 24, 24, 1)
    """

    def __init__(self, scale, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(scale, int) or isinstance(scale, bool) or scale < 2:
            raise ValueError(f"scale must be an integer >= 2. Received: scale={scale!r}")
        self.scale = scale

    def call(self, inputs):
        return ops.depth_to_space(inputs, self.scale, data_format="channels_last")

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape
        if channels is not None and channels % (self.scale**2):
            raise ValueError(
                f"PixelShuffle({self.scale}) needs channels divisible by {self.scale**2}. "
                f"Received: input shape {input_shape}"
            )
        grow = lambda d: None if d is None else d * self.scale  # noqa: E731
        return (
            batch,
            grow(height),
            grow(width),
            None if channels is None else channels // self.scale**2,
        )

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


@keras.saving.register_keras_serializable(package="zoo")
class HoleFill(keras.layers.Layer):
    """A smooth first fill of the holes of an image: normalised convolution (Knutsson &
    Westin 1993) at several scales, the finest window that reaches known pixels winning.

    Call it on [known, keep]: `known` the image with the holes set to 0, `keep` 1 on known
    pixels and 0 in the holes (batch, h, w, 1). For each window size (largest first) the
    fill is mean(known) / mean(keep) over the window wherever the window holds at least a
    `min_known` share of known pixels; pixels no window reaches take the image's mean.
    Known pixels are returned unchanged.

    Args:
        sizes: the window sizes, odd, e.g. (63, 31, 15, 7, 3).
        min_known: the share of known pixels a window needs for its estimate.

    Example:

        fill = HoleFill()([image * (1 - mask), 1 - mask])
    """

    def __init__(self, sizes=(63, 31, 15, 7, 3), min_known=0.05, **kwargs):
        super().__init__(**kwargs)
        sizes = tuple(int(size) for size in sizes)
        if not sizes or any(size < 1 or size % 2 == 0 for size in sizes):
            raise ValueError(f"sizes must be odd positive window sizes. Received: {sizes!r}")
        self.sizes = sizes
        self.min_known = float(min_known)

    def call(self, inputs):
        known, keep = inputs
        total = ops.sum(known, axis=(1, 2, 3), keepdims=True)
        count = ops.sum(keep, axis=(1, 2, 3), keepdims=True)
        fill = ops.zeros_like(known) + total / ops.maximum(count, 1.0)
        for size in sorted(self.sizes, reverse=True):
            pool = lambda x, s=size: ops.average_pool(x, s, strides=1, padding="same")  # noqa: E731
            share = pool(keep)
            estimate = pool(known) / ops.maximum(share, 1e-6)
            fill = ops.where(share >= self.min_known, estimate, fill)
        return known + (1.0 - keep) * fill

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "sizes": list(self.sizes), "min_known": self.min_known}

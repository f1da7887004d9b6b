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

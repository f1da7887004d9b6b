"""Test-time augmentation as a layer: keras.layers and keras.ops only."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="zoo")
class FlipAveraged(keras.layers.Wrapper):
    """Runs `layer` on its input and, in inference only, on the mirror image too; averages.

    Test-time augmentation by horizontal flips, inside the model so that every export and
    server does it too. In training (`training=True`) the wrapped layer runs once, on the
    input as given, so training costs what it cost before; in inference it runs twice.

    Args:
        layer: the layer or model to wrap; its output must not depend on the batch.
        axis: the input axis that is mirrored (2: the width of (batch, height, width[, c])).

    Example:

        core = keras.Sequential([keras.layers.Flatten(), keras.layers.Dense(3)])
        averaged = FlipAveraged(core)
        averaged(np.ones((2, 4, 4), "float32"))   # (core(x) + core(x[:, :, ::-1])) / 2
    """

    def __init__(self, layer, axis=2, **kwargs):
        super().__init__(layer, **kwargs)
        if not isinstance(axis, int) or isinstance(axis, bool) or axis < 1:
            raise ValueError(
                f"axis must be a positive int (not the batch axis). Received: axis={axis!r}"
            )
        self.axis = axis

    def call(self, inputs, training=None):
        outputs = self.layer(inputs, training=training)
        if training:
            return outputs
        mirrored = self.layer(ops.flip(inputs, axis=self.axis), training=training)
        return (outputs + mirrored) / 2

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}

"""Layers and the loss of contrastive (CLIP-style) dual encoders: keras.ops only.

Example:

    unit = keras.layers.UnitNormalization
    a, b = unit()(audio_features), unit()(text_features)    # unit L2 norm
    logits = SimilarityLogits(temperature=0.1)([a, b])      # (batch, batch)
    # train with loss=info_nce_loss (the targets are implied: row i matches column i)
"""

import keras
from keras import layers, ops


@keras.saving.register_keras_serializable(package="zoo")
class SimilarityLogits(layers.Layer):
    """Cosine-similarity logits of every pair of a batch: (a @ b.T) / temperature.

    Given two (batch, dim) L2-normalised embeddings, returns (batch, batch) logits whose
    row i scores a[i] against every b[j]; the matching pair is the diagonal. Used to train
    dual encoders with `info_nce_loss` (targets: the row index, implied).

    Args:
        temperature: float > 0; lower gives sharper softmaxes.
    """

    def __init__(self, temperature=0.1, **kwargs):
        super().__init__(**kwargs)
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0. Received: temperature={temperature!r}")
        self.temperature = float(temperature)

    def call(self, inputs):
        first, second = inputs
        return ops.matmul(first, ops.transpose(second)) / self.temperature

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], input_shape[1][0])

    def get_config(self):
        config = super().get_config()
        config.update({"temperature": self.temperature})
        return config


@keras.saving.register_keras_serializable(package="zoo")
class ViewPairLogits(SimilarityLogits):
    """`SimilarityLogits` between the two halves of one batch of embeddings.

    A batch that stacks two views of B samples, (2B, dim) with the first views first, gives
    the (B, B) logits of first views against second views: the input of a SimCLR-style
    pre-training with `info_nce_loss`, with both views in one forward pass (one set of
    BatchNormalization statistics, and the encoder's own layers, not a nested copy).
    """

    def call(self, inputs):
        half = ops.shape(inputs)[0] // 2
        return super().call((inputs[:half], inputs[half:]))

    def compute_output_shape(self, input_shape):
        half = None if input_shape[0] is None else input_shape[0] // 2
        return (half, half)


@keras.saving.register_keras_serializable(package="zoo")
def info_nce_loss(y_true, y_pred):
    """Symmetric in-batch InfoNCE of (batch, batch) similarity logits; y_true is ignored.

    Per row i: the mean of the cross-entropy of row i against class i (a -> b) and of
    column i against class i (b -> a), as in CLIP. Runs on every Keras backend.
    """
    del y_true
    y_pred = ops.cast(y_pred, "float32")
    labels = ops.arange(ops.shape(y_pred)[0])
    forward = ops.sparse_categorical_crossentropy(labels, y_pred, from_logits=True)
    backward = ops.sparse_categorical_crossentropy(labels, ops.transpose(y_pred), from_logits=True)
    return 0.5 * (forward + backward)

"""Attention pooling: a learned, mask-aware weighted average over time."""

import keras
from keras import layers, ops


@keras.saving.register_keras_serializable(package="zoo")
class AttentionPooling(layers.Layer):
    """Pools a sequence `(batch, time, dim)` into one vector `(batch, dim)`.

    Each step `h_t` gets a score `s_t = v . tanh(W h_t + b)`; the scores are
    turned into weights with a softmax over time, and the output is the
    weighted sum of the steps. The layer respects a Keras mask (from
    `keras.layers.Masking`, `Embedding(mask_zero=True)`, ... or passed as
    `mask=`): masked steps get a weight of exactly zero. A sample whose steps
    are all masked gets all-zero weights and an all-zero output.

    Args:
        units: int. Width of the scoring projection `W`. Defaults to `None`,
            which uses the feature size `dim` of the input.
        return_attention_scores: bool. If `True`, the layer returns a tuple
            `(pooled, weights)` where `weights` has shape `(batch, time)` and
            sums to one over the unmasked steps. It can also be set for one
            call with the call argument of the same name. Defaults to `False`.
        **kwargs: other keyword arguments of `keras.layers.Layer`, such as
            `name` and `dtype`.

    Call arguments:
        inputs: a tensor of shape `(batch, time, dim)`.
        mask: optional boolean tensor of shape `(batch, time)`; `True` marks
            the steps to keep.
        return_attention_scores: optional bool overriding the constructor
            argument for this call.

    Example:

    ```python
    inputs = keras.Input(shape=(None, 16), name="sequence")
    x = keras.layers.Masking(mask_value=0.0)(inputs)
    pooled, weights = AttentionPooling(return_attention_scores=True)(x)
    model = keras.Model(inputs, {"pooled": pooled, "weights": weights})
    outputs = model.predict(np.random.rand(2, 5, 16))
    outputs["pooled"].shape  # (2, 16)
    outputs["weights"].sum(axis=-1)  # [1.0, 1.0]
    ```
    """

    def __init__(self, units=None, return_attention_scores=False, **kwargs):
        super().__init__(**kwargs)
        if units is not None and units <= 0:
            raise ValueError(f"`units` must be a positive integer or None. Received: units={units}")
        self.units = units
        self.return_attention_scores = return_attention_scores
        self.supports_masking = True

    def build(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(
                "`AttentionPooling` expects an input of shape "
                f"(batch, time, dim). Received: input_shape={input_shape}"
            )
        hidden_dim = self.units or input_shape[-1]
        self.hidden = layers.Dense(
            hidden_dim,
            activation="tanh",
            dtype=self.dtype_policy,
            name="hidden",
        )
        self.hidden.build(input_shape)
        self.score = layers.Dense(1, use_bias=False, dtype=self.dtype_policy, name="score")
        self.score.build(tuple(input_shape[:-1]) + (hidden_dim,))

    def call(self, inputs, mask=None, return_attention_scores=None):
        if return_attention_scores is None:
            return_attention_scores = self.return_attention_scores
        scores = ops.squeeze(self.score(self.hidden(inputs)), axis=-1)
        # Softmax in float32, so that it is stable under mixed precision.
        scores = ops.cast(scores, "float32")
        if mask is not None:
            mask = ops.cast(mask, "bool")
            scores = ops.where(mask, scores, -1e9)
        weights = ops.softmax(scores, axis=-1)
        if mask is not None:
            # Exact zeros, also for a sample whose steps are all masked.
            weights = ops.where(mask, weights, 0.0)
        weights = ops.cast(weights, inputs.dtype)
        pooled = ops.sum(ops.expand_dims(weights, axis=-1) * inputs, axis=1)
        if return_attention_scores:
            return pooled, weights
        return pooled

    def compute_mask(self, inputs, mask=None):
        # The time axis is pooled away, so there is nothing left to mask.
        return None

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "return_attention_scores": self.return_attention_scores,
            }
        )
        return config

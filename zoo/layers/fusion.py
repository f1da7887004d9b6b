"""Fusion of several modality feature vectors, and modality dropout.

Every fusion layer takes a list of feature vectors, one per modality, of
shapes `[(batch, dim_1), (batch, dim_2), ...]` (the sizes may differ), and
returns one vector of shape `(batch, units)`. Pick one by name with
`fusion_layer("concat" | "attention" | "gated", units)`.

Missing modalities. A modality whose feature vector is all zeros is treated
as absent: "attention" fusion gives it no attention weight and "gated"
fusion leaves it out of the sum; "concat" fusion sees its zeros. This is the
convention `ModalityDropout` uses for dropped modalities, and the one a
caller uses at predict time to say "this modality is missing": pass zeros.
"""

import keras
from keras import layers, ops

from zoo.layers.attention import AttentionPooling

FUSIONS = ("concat", "attention", "gated")


def _is_present(x):
    """Boolean `(batch,)`: whether a sample of `x` has any non-zero value."""
    return ops.any(ops.not_equal(x, 0), axis=tuple(range(1, len(x.shape))))


def _check_inputs(layer, input_shape):
    if not isinstance(input_shape, (list, tuple)) or not all(
        isinstance(shape, (list, tuple)) for shape in input_shape
    ):
        raise ValueError(
            f"`{layer.__class__.__name__}` expects a list of tensors, one per "
            f"modality. Received: input_shape={input_shape}"
        )
    if len(input_shape) < 2:
        raise ValueError(
            f"`{layer.__class__.__name__}` needs at least 2 modalities. "
            f"Received: {len(input_shape)} input(s)"
        )


def _check_vectors(layer, input_shape):
    _check_inputs(layer, input_shape)
    for shape in input_shape:
        if len(shape) != 2:
            raise ValueError(
                f"`{layer.__class__.__name__}` expects feature vectors of "
                f"shape (batch, dim). Received: input_shape={input_shape}"
            )


@keras.saving.register_keras_serializable(package="zoo")
class ConcatFusion(layers.Layer):
    """Concatenates the modality vectors and projects them to `units`.

    Args:
        units: int. Size of the fused vector.
        activation: activation of the projection. Defaults to `"relu"`.
        **kwargs: other keyword arguments of `keras.layers.Layer`.

    Example:

    ```python
    image = keras.Input(shape=(64,), name="image_features")
    text = keras.Input(shape=(32,), name="text_features")
    fused = ConcatFusion(units=16)([image, text])  # (batch, 16)
    ```
    """

    def __init__(self, units, activation="relu", **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.activation = keras.activations.get(activation)

    def build(self, input_shape):
        _check_vectors(self, input_shape)
        total_dim = sum(shape[-1] for shape in input_shape)
        self.projection = layers.Dense(
            self.units,
            activation=self.activation,
            dtype=self.dtype_policy,
            name="projection",
        )
        self.projection.build((None, total_dim))

    def call(self, inputs):
        return self.projection(ops.concatenate(list(inputs), axis=-1))

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], self.units)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "activation": keras.activations.serialize(self.activation),
            }
        )
        return config


@keras.saving.register_keras_serializable(package="zoo")
class AttentionFusion(layers.Layer):
    """Cross-modal attention over the modality vectors.

    Each modality vector is projected to `units` by its own `Dense` layer,
    which makes the modalities a short sequence of tokens
    `(batch, num_modalities, units)`. Multi-head self-attention lets every
    token look at the others (with a residual connection and layer
    normalization), and `AttentionPooling` pools the tokens into one vector.
    Modalities whose input is all zeros are masked out of both steps.

    Args:
        units: int. Size of the tokens and of the fused vector. Must be
            divisible by `num_heads`.
        num_heads: int. Number of attention heads. Defaults to `4`.
        dropout: float. Dropout rate on the attention probabilities.
            Defaults to `0.0`.
        return_attention_scores: bool. If `True`, the layer returns a tuple
            `(fused, weights)` where `weights` has shape
            `(batch, num_modalities)`: the pooling weight of each modality,
            summing to one over the present modalities. Can also be set for
            one call with the call argument of the same name. Defaults to
            `False`.
        **kwargs: other keyword arguments of `keras.layers.Layer`.

    Example:

    ```python
    image = keras.Input(shape=(64,), name="image_features")
    text = keras.Input(shape=(32,), name="text_features")
    fused, weights = AttentionFusion(units=16, return_attention_scores=True)(
        [image, text]
    )  # (batch, 16), (batch, 2)
    ```
    """

    def __init__(
        self,
        units,
        num_heads=4,
        dropout=0.0,
        return_attention_scores=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if units % num_heads != 0:
            raise ValueError(
                "`units` must be divisible by `num_heads`. "
                f"Received: units={units}, num_heads={num_heads}"
            )
        self.units = units
        self.num_heads = num_heads
        self.dropout = dropout
        self.return_attention_scores = return_attention_scores

    def build(self, input_shape):
        _check_vectors(self, input_shape)
        self.projections = []
        for i, shape in enumerate(input_shape):
            projection = layers.Dense(self.units, dtype=self.dtype_policy, name=f"projection_{i}")
            projection.build(shape)
            self.projections.append(projection)
        token_shape = (None, len(input_shape), self.units)
        self.attention = layers.MultiHeadAttention(
            num_heads=self.num_heads,
            key_dim=self.units // self.num_heads,
            dropout=self.dropout,
            dtype=self.dtype_policy,
            name="attention",
        )
        self.attention.build(token_shape, token_shape)
        self.norm = layers.LayerNormalization(dtype=self.dtype_policy, name="norm")
        self.norm.build(token_shape)
        self.pooling = AttentionPooling(dtype=self.dtype_policy, name="pooling")
        self.pooling.build(token_shape)

    def call(self, inputs, training=None, return_attention_scores=None):
        if return_attention_scores is None:
            return_attention_scores = self.return_attention_scores
        tokens = ops.stack(
            [projection(x) for projection, x in zip(self.projections, inputs)],
            axis=1,
        )
        present = ops.stack([_is_present(x) for x in inputs], axis=1)
        attended = self.attention(
            tokens,
            tokens,
            query_mask=present,
            value_mask=present,
            training=training,
        )
        tokens = self.norm(tokens + attended)
        fused, weights = self.pooling(tokens, mask=present, return_attention_scores=True)
        if return_attention_scores:
            return fused, weights
        return fused

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "num_heads": self.num_heads,
                "dropout": self.dropout,
                "return_attention_scores": self.return_attention_scores,
            }
        )
        return config


@keras.saving.register_keras_serializable(package="zoo")
class GatedFusion(layers.Layer):
    """Gated multimodal unit (Arevalo et al., 2017) for any number of inputs.

    Each modality `x_i` becomes `h_i = tanh(W_i x_i)` of size `units`. Gates
    `z_i = sigmoid(V_i [x_1, ..., x_n])`, computed from the concatenation of
    all modalities, decide per feature how much of each modality goes into
    the output `sum_i z_i * h_i`. A modality whose input is all zeros is left
    out of the sum.

    Args:
        units: int. Size of the fused vector.
        **kwargs: other keyword arguments of `keras.layers.Layer`.

    Example:

    ```python
    image = keras.Input(shape=(64,), name="image_features")
    text = keras.Input(shape=(32,), name="text_features")
    fused = GatedFusion(units=16)([image, text])  # (batch, 16)
    ```
    """

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        _check_vectors(self, input_shape)
        self.num_modalities = len(input_shape)
        self.projections = []
        for i, shape in enumerate(input_shape):
            projection = layers.Dense(
                self.units,
                activation="tanh",
                dtype=self.dtype_policy,
                name=f"projection_{i}",
            )
            projection.build(shape)
            self.projections.append(projection)
        total_dim = sum(shape[-1] for shape in input_shape)
        self.gates = layers.Dense(
            self.num_modalities * self.units,
            activation="sigmoid",
            dtype=self.dtype_policy,
            name="gates",
        )
        self.gates.build((None, total_dim))

    def call(self, inputs):
        inputs = list(inputs)
        features = ops.stack(
            [projection(x) for projection, x in zip(self.projections, inputs)],
            axis=1,
        )  # (batch, num_modalities, units)
        gates = self.gates(ops.concatenate(inputs, axis=-1))
        gates = ops.reshape(gates, (-1, self.num_modalities, self.units))
        present = ops.stack([_is_present(x) for x in inputs], axis=1)
        present = ops.cast(ops.expand_dims(present, axis=-1), features.dtype)
        return ops.sum(gates * features * present, axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], self.units)

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units})
        return config


def fusion_layer(fusion, units, **kwargs):
    """Returns the fusion layer named by `fusion`.

    Args:
        fusion: str. One of `"concat"` (`ConcatFusion`), `"attention"`
            (`AttentionFusion`) or `"gated"` (`GatedFusion`).
        units: int. Size of the fused vector.
        **kwargs: passed to the layer, e.g. `num_heads` and
            `return_attention_scores` for `"attention"`, `name` for any.

    Example:

    ```python
    image = keras.Input(shape=(64,), name="image_features")
    text = keras.Input(shape=(32,), name="text_features")
    fused = fusion_layer("gated", units=16)([image, text])  # (batch, 16)
    ```
    """
    classes = {
        "concat": ConcatFusion,
        "attention": AttentionFusion,
        "gated": GatedFusion,
    }
    if fusion not in classes:
        raise ValueError(
            f"`fusion` must be one of {', '.join(map(repr, FUSIONS))}. Received: fusion={fusion!r}"
        )
    return classes[fusion](units, **kwargs)


@keras.saving.register_keras_serializable(package="zoo")
class ModalityDropout(layers.Layer):
    """Drops whole modalities at random during training.

    During training, each modality of each sample is dropped with
    probability `rate`: its whole tensor for that sample is set to zero. The
    layer never drops all the modalities of a sample: if every modality that
    was present got dropped, one of them, chosen at random, is kept. At
    inference the layer is the identity.

    Missing modalities at predict time: pass zeros for that modality. A
    modality that is all zeros in the input stays all zeros, so to the rest
    of the model it looks just like a modality dropped in training, which is
    what the model has learned to cope with. Put the layer where the zeros
    are seen:

    - on the raw model inputs (right after `keras.Input`), so that a caller
      who passes a zero image or a silent waveform produces exactly what a
      dropped modality produced in training; or
    - on the feature vectors right before a fusion layer, where the fusion
      layers treat an all-zero vector as absent (see `AttentionFusion` and
      `GatedFusion`); then "missing" means a zero feature vector.

    Inputs that are already all zeros are counted as missing, not as kept,
    when the layer makes sure that each sample keeps a modality.

    Args:
        rate: float in `[0, 1)`. Probability of dropping each modality.
        seed: optional int, the random seed.
        **kwargs: other keyword arguments of `keras.layers.Layer`.

    Call arguments:
        inputs: a list of tensors, one per modality, of any shapes sharing
            the batch size.
        training: bool, whether to drop modalities.

    Example:

    ```python
    image = keras.Input(shape=(28, 28), name="image")
    audio = keras.Input(shape=(8000,), name="audio")
    image, audio = ModalityDropout(rate=0.3)([image, audio])
    ```
    """

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= rate < 1:
            raise ValueError(f"`rate` must be in the range [0, 1). Received: rate={rate}")
        self.rate = rate
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True

    def build(self, input_shape):
        _check_inputs(self, input_shape)

    def call(self, inputs, training=None):
        inputs = list(inputs)
        if not training or self.rate == 0:
            return inputs
        num_modalities = len(inputs)
        batch_size = ops.shape(inputs[0])[0]
        present = ops.stack([_is_present(x) for x in inputs], axis=1)
        noise = keras.random.uniform((batch_size, num_modalities), seed=self.seed_generator)
        keep = ops.logical_and(noise >= self.rate, present)
        # Where nothing present was kept, keep one present modality at random.
        fallback = ops.one_hot(
            ops.argmax(noise + ops.cast(present, noise.dtype), axis=1),
            num_modalities,
        )
        kept_none = ops.logical_not(ops.any(keep, axis=1, keepdims=True))
        keep = ops.where(kept_none, ops.cast(fallback, "bool"), keep)
        outputs = []
        for i, x in enumerate(inputs):
            keep_x = ops.reshape(keep[:, i], (-1,) + (1,) * (len(x.shape) - 1))
            outputs.append(x * ops.cast(keep_x, x.dtype))
        return outputs

    def compute_output_shape(self, input_shape):
        return list(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({"rate": self.rate, "seed": self.seed})
        return config

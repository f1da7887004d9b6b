"""Text models built from keras-hub layers; they take WordPiece token ids.

Input "token_ids": int32 (n, sequence_length), "[START]" (id 2) first, "[PAD]" (id 0) after
the text (`pipelines.text.TextEncoder` makes them from raw strings, inside tf.data and inside
the exported SavedModel). The classifier is `keras_hub.layers.TokenAndPositionEmbedding`
(padding masked) -> `keras_hub.layers.TransformerEncoder` blocks -> the mean over the real
(non-padding) tokens -> Dense softmax "probabilities". Only keras.layers / keras.ops /
keras-hub layers (themselves keras.ops), so the models train and predict on TensorFlow, JAX
and PyTorch.
"""

import keras
import keras_hub
from keras import layers, ops

from zoo.registry import register

TEXT_INPUT = "token_ids"


@keras.saving.register_keras_serializable(package="zoo")
class TokenMeanPooling(layers.Layer):
    """Mean of a sequence (n, T, d) over the positions whose token id is not 0 (padding).

    A row of padding only gives zeros (not NaN). Called as `pooling([sequence, token_ids])`.
    """

    def call(self, inputs):
        sequence, token_ids = inputs
        real = ops.cast(ops.not_equal(token_ids, 0), sequence.dtype)[..., None]
        total = ops.sum(sequence * real, axis=1)
        return total / ops.maximum(ops.sum(real, axis=1), 1.0)

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        sequence_shape = input_shape[0]
        return (sequence_shape[0], sequence_shape[2])


def transformer_text_classifier(
    vocabulary_size,
    sequence_length,
    embedding_dim,
    num_heads,
    intermediate_dim,
    num_layers,
    dropout,
    num_classes,
    name,
):
    """token ids -> TokenAndPositionEmbedding -> TransformerEncoder x N -> mean -> softmax."""
    for arg, value in (
        ("vocabulary_size", vocabulary_size),
        ("sequence_length", sequence_length),
        ("embedding_dim", embedding_dim),
        ("num_heads", num_heads),
        ("num_layers", num_layers),
        ("num_classes", num_classes),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(f"`{arg}` must be a positive integer. Received: {arg}={value!r}")
    if vocabulary_size < 4:
        raise ValueError(
            "`vocabulary_size` must hold the reserved tokens and some text (>= 4). "
            f"Received: vocabulary_size={vocabulary_size}"
        )
    if embedding_dim % num_heads:
        raise ValueError(
            f"`embedding_dim` must be divisible by `num_heads`. Received: "
            f"embedding_dim={embedding_dim}, num_heads={num_heads}"
        )
    if not 0 <= dropout < 1:
        raise ValueError(f"`dropout` must be in [0, 1). Received: dropout={dropout!r}")
    token_ids = keras.Input(shape=(sequence_length,), dtype="int32", name=TEXT_INPUT)
    x = keras_hub.layers.TokenAndPositionEmbedding(
        vocabulary_size=vocabulary_size,
        sequence_length=sequence_length,
        embedding_dim=embedding_dim,
        mask_zero=True,
        name="embedding",
    )(token_ids)
    x = layers.Dropout(dropout, name="embedding_dropout")(x)
    for index in range(num_layers):
        x = keras_hub.layers.TransformerEncoder(
            intermediate_dim=intermediate_dim,
            num_heads=num_heads,
            dropout=dropout,
            name=f"encoder_{index}",
        )(x)
    x = TokenMeanPooling(name="pool")([x, token_ids])
    x = layers.Dropout(dropout, name="pool_dropout")(x)
    probabilities = layers.Dense(
        num_classes, activation="softmax", dtype="float32", name="probabilities"
    )(x)
    return keras.Model(token_ids, probabilities, name=name)


@register(
    "sentiment-tweets",
    task="classification",
    dataset="tweets_sentiment",
    topic="sentiment analysis with a transformer encoder (keras-hub)",
    recipe={
        "epochs": 4,
        "batch_size": 64,
        "learning_rate": 1e-3,
        "class_weight": "balanced",
        "text": True,
    },
)
def sentiment_tweets(
    vocabulary_size=8000,
    sequence_length=48,
    embedding_dim=64,
    num_heads=2,
    intermediate_dim=128,
    num_layers=1,
    dropout=0.1,
    num_classes=3,
):
    """3-class tweet sentiment (negative / neutral / positive) from WordPiece ids."""
    return transformer_text_classifier(
        vocabulary_size,
        sequence_length,
        embedding_dim,
        num_heads,
        intermediate_dim,
        num_layers,
        dropout,
        num_classes,
        name="sentiment_tweets",
    )


@register(
    "spam-triage",
    task="classification",
    dataset="spam_assassin",
    topic="customer-service triage: spam filtering with a transformer encoder (keras-hub)",
    recipe={"epochs": 4, "batch_size": 32, "learning_rate": 1e-3, "text": True},
)
def spam_triage(
    vocabulary_size=8000,
    sequence_length=256,
    embedding_dim=64,
    num_heads=2,
    intermediate_dim=128,
    num_layers=1,
    dropout=0.1,
    num_classes=2,
):
    """ham / spam from the WordPiece ids of an email's body (headers stripped)."""
    return transformer_text_classifier(
        vocabulary_size,
        sequence_length,
        embedding_dim,
        num_heads,
        intermediate_dim,
        num_layers,
        dropout,
        num_classes,
        name="spam_triage",
    )

"""Text classifiers on WordPiece token ids.

Input "token_ids": int32 (n, sequence_length), "[START]" (id 2) first, "[PAD]" (id 0) after
the text (`pipelines.text.TextEncoder` makes them from raw strings, in the input pipeline and
in the exported SavedModel). Two builders:

- `ngram_cnn_text_classifier` (the shipped entries): a fastText-style bag of token and hashed
  token-bigram embeddings (means over the real tokens) beside a 1-D CNN over the token
  embeddings (widths 2, 3, 4, max over time), concatenated -> Dropout -> Dense softmax.
- `transformer_text_classifier`: `keras_hub.layers.TokenAndPositionEmbedding` (padding
  masked) -> `keras_hub.layers.TransformerEncoder` blocks -> mean over the real tokens ->
  Dense softmax (validated worse on both data sets; the cards have the comparison).

Only keras.layers / keras.ops / keras-hub layers (themselves keras.ops), so the models train
and predict on TensorFlow, JAX and PyTorch.
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


@keras.saving.register_keras_serializable(package="zoo")
class TokenBigrams(layers.Layer):
    """Ids (n, T) -> hashed ids of the adjacent pairs (n, T - 1), in [1, buckets).

    The pair (a, b) of real tokens gets `(a * 8191 + b) % (buckets - 1) + 1`; a pair that
    touches padding (id 0) gets 0. int32 arithmetic: `a` must stay below 2**18.
    """

    def __init__(self, buckets, **kwargs):
        super().__init__(**kwargs)
        if isinstance(buckets, bool) or not isinstance(buckets, int) or buckets < 2:
            raise ValueError(f"`buckets` must be an integer >= 2. Received: buckets={buckets!r}")
        self.buckets = buckets

    def call(self, token_ids):
        token_ids = ops.cast(token_ids, "int32")
        first, second = token_ids[:, :-1], token_ids[:, 1:]
        hashed = (first * 8191 + second) % (self.buckets - 1) + 1
        real = ops.logical_and(ops.greater(first, 0), ops.greater(second, 0))
        return ops.where(real, hashed, ops.zeros_like(hashed))

    def compute_output_shape(self, input_shape):
        length = None if input_shape[1] is None else input_shape[1] - 1
        return (input_shape[0], length)

    def get_config(self):
        return {**super().get_config(), "buckets": self.buckets}


def ngram_cnn_text_classifier(
    vocabulary_size,
    sequence_length,
    embedding_dim,
    bigram_buckets,
    bigram_dim,
    filters,
    kernel_sizes,
    dropout,
    num_classes,
    name,
):
    """token ids -> [mean token embedding, mean hashed-bigram embedding, CNN max] -> softmax."""
    for arg, value in (
        ("vocabulary_size", vocabulary_size),
        ("sequence_length", sequence_length),
        ("embedding_dim", embedding_dim),
        ("bigram_buckets", bigram_buckets),
        ("bigram_dim", bigram_dim),
        ("filters", filters),
        ("num_classes", num_classes),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(f"`{arg}` must be a positive integer. Received: {arg}={value!r}")
    if vocabulary_size < 4 or vocabulary_size >= 2**18:
        raise ValueError(
            "`vocabulary_size` must hold the reserved tokens and some text (>= 4) and stay "
            f"below 2**18. Received: vocabulary_size={vocabulary_size}"
        )
    if sequence_length < 2 or bigram_buckets < 2:
        raise ValueError(
            "`sequence_length` and `bigram_buckets` must be >= 2. Received: "
            f"sequence_length={sequence_length}, bigram_buckets={bigram_buckets}"
        )
    kernel_sizes = list(kernel_sizes)
    if not kernel_sizes or not all(isinstance(k, int) and k > 0 for k in kernel_sizes):
        raise ValueError(
            f"`kernel_sizes` must be a list of positive integers. Received: {kernel_sizes!r}"
        )
    if not 0 <= dropout < 1:
        raise ValueError(f"`dropout` must be in [0, 1). Received: dropout={dropout!r}")
    token_ids = keras.Input(shape=(sequence_length,), dtype="int32", name=TEXT_INPUT)
    embedded = layers.Embedding(vocabulary_size, embedding_dim, name="embedding")(token_ids)
    features = [TokenMeanPooling(name="token_mean")([embedded, token_ids])]
    bigrams = TokenBigrams(bigram_buckets, name="bigrams")(token_ids)
    bigram_embedded = layers.Embedding(bigram_buckets, bigram_dim, name="bigram_embedding")(bigrams)
    features.append(TokenMeanPooling(name="bigram_mean")([bigram_embedded, bigrams]))
    for width in kernel_sizes:
        convolved = layers.Conv1D(
            filters, width, activation="relu", padding="same", name=f"conv_{width}"
        )(embedded)
        features.append(layers.GlobalMaxPooling1D(name=f"max_{width}")(convolved))
    x = layers.Concatenate(name="features")(features)
    x = layers.Dropout(dropout, name="dropout")(x)
    probabilities = layers.Dense(
        num_classes, activation="softmax", dtype="float32", name="probabilities"
    )(x)
    return keras.Model(token_ids, probabilities, name=name)


@register(
    "sentiment-tweets",
    task="classification",
    dataset="tweets_sentiment",
    topic="sentiment analysis: token and bigram bags beside a 1-D CNN on WordPiece ids",
    recipe={
        "epochs": 3,
        "batch_size": 64,
        "learning_rate": 1e-3,
        "class_weight": "balanced",
        "text": True,
    },
)
def sentiment_tweets(
    vocabulary_size=8000,
    sequence_length=48,
    embedding_dim=48,
    bigram_buckets=16384,
    bigram_dim=16,
    filters=64,
    kernel_sizes=(2, 3, 4),
    dropout=0.3,
    num_classes=3,
):
    """3-class tweet sentiment (negative / neutral / positive) from WordPiece ids."""
    return ngram_cnn_text_classifier(
        vocabulary_size,
        sequence_length,
        embedding_dim,
        bigram_buckets,
        bigram_dim,
        filters,
        kernel_sizes,
        dropout,
        num_classes,
        name="sentiment_tweets",
    )


@register(
    "spam-triage",
    task="classification",
    dataset="spam_assassin",
    topic="customer-service triage: spam filtering, token and bigram bags beside a 1-D CNN",
    recipe={
        "epochs": 12,
        "batch_size": 64,
        "learning_rate": 1e-3,
        "class_weight": "balanced",
        "text": True,
    },
)
def spam_triage(
    vocabulary_size=8000,
    sequence_length=512,
    embedding_dim=64,
    bigram_buckets=8192,
    bigram_dim=16,
    filters=64,
    kernel_sizes=(2, 3, 4),
    dropout=0.3,
    num_classes=2,
):
    """ham / spam from the WordPiece ids of an email's body (headers stripped)."""
    return ngram_cnn_text_classifier(
        vocabulary_size,
        sequence_length,
        embedding_dim,
        bigram_buckets,
        bigram_dim,
        filters,
        kernel_sizes,
        dropout,
        num_classes,
        name="spam_triage",
    )

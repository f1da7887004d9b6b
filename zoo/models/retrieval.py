"""Cross-modal retrieval: dual encoders that map two modalities into one embedding space.

A builder returns a model with one named input per modality and a dict output
{"<modality>_embedding": L2-normalised vectors}; a row's two embeddings are trained to be
close (cosine similarity) and far from the other rows' (symmetric in-batch InfoNCE, CLIP
style: `zoo.layers.contrastive.SimilarityLogits` + `info_nce_loss`, used by
`pipelines.retrieval.ZooRetriever`).
"""

import keras
from keras import layers, regularizers

from zoo.layers import AttentionPooling, audio_encoder
from zoo.registry import register


@register(
    "speech-text-retrieval",
    task="retrieval",
    dataset="speech_text",
    topic="cross-modal alignment: contrastive dual encoder for speech <-> text retrieval",
    recipe={
        "epochs": 100,
        "batch_size": 64,
        "learning_rate": 2e-3,
        "lr_schedule": "cosine",
        "temperature": 0.1,
    },
    embeddings=("audio_embedding", "text_embedding"),
)
def speech_text_retrieval(
    vocabulary_size=47,
    text_length=40,
    audio_samples=24000,
    sampling_rate=8000,
    embedding_dim=64,
    char_embedding_dim=32,
    text_units=64,
    audio_units=128,
    audio_filters=(32, 64),
    num_mel_bins=32,
    dropout=0.2,
    l2=1e-4,
):
    """A speech tower and a text tower projected into one L2-normalised embedding space.

    Inputs: "audio", a raw mono waveform in [-1, 1] of `audio_samples` samples at
    `sampling_rate` Hz, and "text", int32 character ids (0 = padding) of `text_length`
    characters (`datasets.speech_text.encode_text` makes them from strings). The audio goes
    through `audio_encoder` (log-mel -> Conv1D blocks -> bidirectional GRU -> attention
    pooling); the text through Embedding(mask_zero=True) -> a forward GRU whose states are
    attention-pooled (`AttentionPooling`, masked) and a backward GRU's last state,
    concatenated. Each tower ends in a linear projection to `embedding_dim` and
    `keras.layers.UnitNormalization`, so the dot product of the two outputs is their cosine
    similarity.
    Outputs: {"audio_embedding": (n, embedding_dim), "text_embedding": (n, embedding_dim)}.

    Args:
        vocabulary_size: number of character ids (ids 0..vocabulary_size-1; 0 pads).
        text_length: characters per text input.
        audio_samples: samples per audio input.
        sampling_rate: samples per second of the audio.
        embedding_dim: size of the shared embedding space.
        char_embedding_dim: size of the character embeddings.
        text_units: GRU units of the text tower (half per direction).
        audio_units: feature size of the audio encoder.
        audio_filters: filters of the audio encoder's convolution blocks.
        num_mel_bins: mel bands of the audio spectrogram.
        dropout: dropout rate inside both towers.
        l2: L2 factor of the kernel regularizers.

    Example:

        model = speech_text_retrieval()
        out = model.predict({"audio": np.zeros((2, 24000)), "text": np.ones((2, 40), "int32")})
        out["audio_embedding"] @ out["text_embedding"].T      # (2, 2) cosine similarities
    """
    audio = keras.Input(shape=(audio_samples,), name="audio")
    text = keras.Input(shape=(text_length,), dtype="int32", name="text")

    audio_features = audio_encoder(
        audio,
        sampling_rate=sampling_rate,
        num_mel_bins=num_mel_bins,
        units=audio_units,
        filters=tuple(audio_filters),
        frame_seconds=0.032,
        hop_seconds=0.016,
        dropout=dropout,
        l2=l2,
        use_cudnn=False,  # a SavedModel that must also serve on CPU
    )
    audio_embedding = layers.Dense(
        embedding_dim, kernel_regularizer=regularizers.L2(l2), name="audio_projection"
    )(audio_features)
    audio_embedding = layers.UnitNormalization(name="audio_embedding", dtype="float32")(
        audio_embedding
    )

    x = layers.Embedding(
        vocabulary_size, char_embedding_dim, mask_zero=True, name="char_embedding"
    )(text)
    # Both directions, without `Bidirectional`: on TensorFlow an unrolled (ONNX export)
    # masked `Bidirectional` GRU gave other numbers than the loop (up to 0.26 on the
    # embedding, measured with Keras 3.15.1), while masked one-direction GRUs agree exactly.
    # The forward states are attention-pooled (masked); the backward GRU adds its last state.
    forward = layers.GRU(
        max(text_units // 2, 1), return_sequences=True, use_cudnn=False, name="text_gru_forward"
    )(x)
    backward = layers.GRU(
        max(text_units // 2, 1), go_backwards=True, use_cudnn=False, name="text_gru_backward"
    )(x)
    pooled = AttentionPooling(name="text_pooling")(forward)
    x = layers.Concatenate(name="text_features")([pooled, backward])
    x = layers.Dropout(dropout, name="text_dropout")(x)
    text_embedding = layers.Dense(
        embedding_dim, kernel_regularizer=regularizers.L2(l2), name="text_projection"
    )(x)
    text_embedding = layers.UnitNormalization(name="text_embedding", dtype="float32")(
        text_embedding
    )
    return keras.Model(
        inputs={"audio": audio, "text": text},
        outputs={"audio_embedding": audio_embedding, "text_embedding": text_embedding},
        name="speech_text_retrieval",
    )

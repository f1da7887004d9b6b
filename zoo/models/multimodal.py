"""Multimodal classifiers: one encoder per modality, a fusion layer, one softmax head.

Each builder takes raw inputs under named keys (scaling, spectrograms and the like are
layers of the model) and returns the class probabilities under the output name
"probabilities", so the zoo's pipelines, CLI, evaluation and exports take a dict X keyed by
input name.
"""

import keras
from keras import layers, regularizers

from zoo.layers import ModalityDropout, audio_encoder, fusion_layer, image_cnn_encoder
from zoo.registry import register


@register(
    "av-mnist-fusion",
    task="classification",
    dataset="av_mnist",
    topic="multimodal fusion of image and audio (AV-MNIST), robust to a missing modality",
    recipe={"epochs": 40, "batch_size": 64, "learning_rate": 2e-3, "lr_schedule": "cosine"},
)
def av_mnist_fusion(
    num_classes=10,
    fusion="gated",
    units=64,
    image_filters=(16, 32),
    audio_filters=(16, 32),
    num_mel_bins=32,
    sampling_rate=8000,
    audio_samples=8000,
    modality_dropout=0.3,
    dropout=0.2,
    l2=1e-4,
    seed=None,
):
    """An image CNN and an audio encoder fused into one digit classifier (AV-MNIST).

    Inputs: "image", raw 28x28 grayscale pixels (0..255), and "audio", a raw mono waveform
    in [-1, 1] of `audio_samples` samples at `sampling_rate` Hz. The image goes through
    `image_cnn_encoder` and the audio through `audio_encoder` (log-mel spectrogram ->
    convolutions -> bidirectional GRU -> attention pooling); `fusion_layer(fusion)` merges the
    two feature vectors and a softmax head gives the class probabilities.

    Missing modality: `ModalityDropout` sits on the raw inputs, so in training each modality
    of a sample is zeroed with probability `modality_dropout` (never both). At predict time,
    pass zeros for a missing modality (`np.zeros((n, 28, 28))` for the image or
    `np.zeros((n, audio_samples))`, silence, for the audio): the model then sees exactly
    what it saw when that modality was dropped in training, and classifies from the other.

    Args:
        num_classes: number of classes.
        fusion: "concat", "attention" or "gated" (see `zoo.layers.fusion_layer`).
        units: size of each modality's feature vector and of the fused vector.
        image_filters: filters of each convolution block of the image encoder.
        audio_filters: filters of each convolution block of the audio encoder.
        num_mel_bins: mel bands of the audio spectrogram.
        sampling_rate: samples per second of the audio input.
        audio_samples: length of the audio input, in samples.
        modality_dropout: probability of dropping each modality in training.
        dropout: dropout rate inside each encoder and before the softmax.
        l2: L2 factor of the encoder kernel regularizers and of the head.
        seed: seed of the modality dropout (None: random).

    Example:

        model = av_mnist_fusion(fusion="concat")
        model.predict({"image": np.zeros((1, 28, 28)), "audio": np.zeros((1, 8000))})
    """
    image = keras.Input(shape=(28, 28), name="image")
    audio = keras.Input(shape=(audio_samples,), name="audio")
    kept_image, kept_audio = ModalityDropout(modality_dropout, seed=seed, name="modality_dropout")(
        [image, audio]
    )
    image_features = image_cnn_encoder(
        kept_image, filters=tuple(image_filters), units=units, dropout=dropout, l2=l2
    )
    audio_features = audio_encoder(
        kept_audio,
        sampling_rate=sampling_rate,
        num_mel_bins=num_mel_bins,
        units=units,
        filters=tuple(audio_filters),
        hop_seconds=0.016,
        dropout=dropout,
        l2=l2,
        use_cudnn=False,  # a SavedModel that must also serve on CPU
    )
    fused = fusion_layer(fusion, units, name="fusion")([image_features, audio_features])
    x = layers.Dropout(dropout, name="head_dropout")(fused)
    probabilities = layers.Dense(
        num_classes,
        activation="softmax",
        kernel_regularizer=regularizers.L2(l2),
        dtype="float32",
        name="probabilities",
    )(x)
    return keras.Model(
        inputs={"image": image, "audio": audio},
        outputs=probabilities,
        name="av_mnist_fusion",
    )

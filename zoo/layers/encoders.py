"""Small front ends that turn raw images and raw audio into feature vectors.

Each builder takes a symbolic input tensor, builds a named `keras.Model`
sub-model on it and returns the sub-model's output `(batch, units)`. The
sub-model is a single layer of the outer model, so it can be fetched with
`model.get_layer(name)` to freeze it or to reuse it in another model.
"""

import math

import keras
from keras import layers

from zoo.layers.attention import AttentionPooling


def _regularizer(l2):
    return keras.regularizers.L2(l2) if l2 else None


def image_cnn_encoder(
    inputs,
    filters=(32, 64),
    units=128,
    dropout=0.25,
    l2=1e-4,
    name="image_encoder",
):
    """A small CNN from raw pixels to a feature vector.

    The images are raw pixel values in `[0, 255]`, of shape `(H, W)`
    (grayscale) or `(H, W, C)`; the encoder rescales them to `[0, 1]`
    itself. Each entry of `filters` adds a block `Conv2D(3x3) ->
    BatchNormalization -> ReLU -> MaxPooling2D(2)`; then global average
    pooling, dropout and a `Dense(units, relu)` projection.

    Args:
        inputs: symbolic tensor of shape `(batch, H, W)` or
            `(batch, H, W, C)`.
        filters: tuple of ints, the filters of each convolution block.
        units: int, size of the output feature vector.
        dropout: float, dropout rate before the projection.
        l2: float, L2 weight decay on the convolution and projection kernels;
            `0` or `None` for none.
        name: str, name of the sub-model.

    Returns:
        A tensor of shape `(batch, units)`.

    Example:

    ```python
    images = keras.Input(shape=(28, 28), name="image")
    features = image_cnn_encoder(images, units=64)
    outputs = keras.layers.Dense(10, activation="softmax")(features)
    model = keras.Model(images, outputs)
    model.get_layer("image_encoder").trainable = False  # freeze the encoder
    ```
    """
    shape = tuple(inputs.shape[1:])
    if len(shape) not in (2, 3):
        raise ValueError(
            "`image_cnn_encoder` expects images of shape (batch, H, W) or "
            f"(batch, H, W, C). Received: inputs.shape={inputs.shape}"
        )
    image = keras.Input(shape=shape, dtype=inputs.dtype, name=f"{name}_input")
    x = image
    if len(shape) == 2:
        if None in shape:
            raise ValueError(
                "`image_cnn_encoder` needs a known height and width for "
                f"grayscale (batch, H, W) images. Received: shape={shape}"
            )
        x = layers.Reshape(shape + (1,), name="add_channel")(x)
    x = layers.Rescaling(1.0 / 255.0, name="rescaling")(x)
    for i, block_filters in enumerate(filters, start=1):
        x = layers.Conv2D(
            block_filters,
            3,
            padding="same",
            use_bias=False,
            kernel_regularizer=_regularizer(l2),
            name=f"block{i}_conv",
        )(x)
        x = layers.BatchNormalization(name=f"block{i}_bn")(x)
        x = layers.ReLU(name=f"block{i}_relu")(x)
        x = layers.MaxPooling2D(2, name=f"block{i}_pool")(x)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    x = layers.Dense(
        units,
        activation="relu",
        kernel_regularizer=_regularizer(l2),
        name="projection",
    )(x)
    return keras.Model(image, x, name=name)(inputs)


def audio_encoder(
    inputs,
    sampling_rate=8000,
    num_mel_bins=40,
    units=128,
    filters=(32, 64),
    frame_seconds=0.025,
    hop_seconds=0.010,
    dropout=0.25,
    l2=1e-4,
    use_cudnn="auto",
    name="audio_encoder",
):
    """A small encoder from a raw mono waveform to a feature vector.

    `keras.layers.MelSpectrogram` (log-mel, in dB) -> per-bin batch
    normalization -> one block `Conv1D(3) -> BatchNormalization -> ReLU ->
    MaxPooling1D(2)` per entry of `filters` -> a bidirectional GRU ->
    `AttentionPooling` over time -> dropout -> `Dense(units, relu)`.

    The spectrogram's `top_db` clipping is switched off on purpose: Keras
    clips at the maximum of the whole batch, which would make a clip's
    features depend on the other clips in its batch. Silence (all zeros)
    gives a constant floor of -100 dB.

    Args:
        inputs: symbolic tensor of shape `(batch, samples)`, a waveform with
            values in `[-1, 1]` as TensorFlow's audio `decode_wav` gives them.
        sampling_rate: int, samples per second of the waveform.
        num_mel_bins: int, number of mel bands.
        units: int, size of the output feature vector.
        filters: tuple of ints, the filters of each convolution block.
        frame_seconds: float, length of an analysis window, in seconds.
        hop_seconds: float, step between windows, in seconds.
        dropout: float, dropout rate before the projection.
        l2: float, L2 weight decay on the convolution and projection kernels;
            `0` or `None` for none.
        use_cudnn: passed to `keras.layers.GRU`; use `False` for a model to
            be exported to a SavedModel that must also serve on CPU.
        name: str, name of the sub-model.

    Returns:
        A tensor of shape `(batch, units)`.

    Example:

    ```python
    waveform = keras.Input(shape=(8000,), name="audio")
    features = audio_encoder(waveform, sampling_rate=8000, units=64)
    outputs = keras.layers.Dense(10, activation="softmax")(features)
    model = keras.Model(waveform, outputs)
    ```
    """
    if len(inputs.shape) != 2:
        raise ValueError(
            "`audio_encoder` expects a mono waveform of shape "
            f"(batch, samples). Received: inputs.shape={inputs.shape}"
        )
    frame_length = round(sampling_rate * frame_seconds)
    waveform = keras.Input(shape=tuple(inputs.shape[1:]), dtype=inputs.dtype, name=f"{name}_input")
    x = layers.MelSpectrogram(
        fft_length=2 ** math.ceil(math.log2(frame_length)),
        sequence_length=frame_length,
        sequence_stride=round(sampling_rate * hop_seconds),
        sampling_rate=sampling_rate,
        num_mel_bins=num_mel_bins,
        top_db=1e4,  # Never clips; see the docstring.
        name="mel_spectrogram",
    )(waveform)  # (batch, num_mel_bins, frames)
    x = layers.Permute((2, 1), name="time_major")(x)
    x = layers.BatchNormalization(name="mel_bn")(x)
    for i, block_filters in enumerate(filters, start=1):
        x = layers.Conv1D(
            block_filters,
            3,
            padding="same",
            use_bias=False,
            kernel_regularizer=_regularizer(l2),
            name=f"block{i}_conv",
        )(x)
        x = layers.BatchNormalization(name=f"block{i}_bn")(x)
        x = layers.ReLU(name=f"block{i}_relu")(x)
        x = layers.MaxPooling1D(2, name=f"block{i}_pool")(x)
    x = layers.Bidirectional(
        layers.GRU(max(units // 2, 1), return_sequences=True, use_cudnn=use_cudnn),
        name="gru",
    )(x)
    x = AttentionPooling(name="attention_pooling")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    x = layers.Dense(
        units,
        activation="relu",
        kernel_regularizer=_regularizer(l2),
        name="projection",
    )(x)
    return keras.Model(waveform, x, name=name)(inputs)

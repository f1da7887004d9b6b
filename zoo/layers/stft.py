"""An exportable STFT and its inverse as fixed convolutions (issue 11, speech enhancement).

`STFT` is a Conv1D whose (non-trainable) kernels are the sqrt-Hann-windowed DFT; `InverseSTFT`
a Conv1DTranspose whose kernels are the windowed inverse DFT (overlap-add). With a periodic
sqrt-Hann window at 50% overlap the two windows' product sums to one, so `InverseSTFT(STFT(x))`
gives `x` back (to float32 rounding); both pad and crop a hop at each end, so that every
sample is covered by two frames. keras.ops only: the layers run on TensorFlow, JAX and PyTorch
and convert to ONNX (Conv, ConvTranspose).

Example:

    audio = keras.Input(shape=(16000,), name="audio")
    spectrum = STFT(256, 128)(audio)                  # (batch, 126, 258): real | imaginary
    back = InverseSTFT(256, 128, 16000)(spectrum)     # (batch, 16000), equal to audio
"""

import keras
import numpy as np
from keras import layers, ops


def _window(frame_length):
    n = np.arange(frame_length)
    return np.sqrt(0.5 - 0.5 * np.cos(2 * np.pi * n / frame_length))  # periodic sqrt-Hann


def dft_kernels(frame_length):
    """(analysis (frame_length, 1, 2 * bins), synthesis (frame_length, 1, 2 * bins)) kernels.

    bins = frame_length // 2 + 1; channels [0, bins) are the real parts, [bins, 2 * bins)
    the imaginary parts of the one-sided spectrum.
    """
    bins = frame_length // 2 + 1
    n = np.arange(frame_length)[:, None]
    k = np.arange(bins)[None, :]
    angle = 2 * np.pi * n * k / frame_length
    window = _window(frame_length)[:, None]
    analysis = np.concatenate([window * np.cos(angle), -window * np.sin(angle)], axis=1)
    weight = np.full(bins, 2.0)
    weight[0] = 1.0
    if frame_length % 2 == 0:
        weight[-1] = 1.0
    synthesis = np.concatenate([weight * np.cos(angle), -weight * np.sin(angle)], axis=1)
    synthesis = window * synthesis / frame_length
    return analysis[:, None, :].astype("float32"), synthesis[:, None, :].astype("float32")


def _check(frame_length, hop):
    if not isinstance(frame_length, int) or frame_length < 4 or frame_length % 2:
        raise ValueError(f"frame_length must be an even int >= 4. Received: {frame_length!r}")
    if hop * 2 != frame_length:
        raise ValueError(
            f"hop must be frame_length // 2 (50% overlap, sqrt-Hann). Received: hop={hop!r} "
            f"for frame_length={frame_length}"
        )


@keras.saving.register_keras_serializable(package="zoo")
class STFT(layers.Layer):
    """Waveforms (batch, samples) -> spectra (batch, frames, 2 * bins): real | imaginary.

    The waveform is zero-padded by `hop` samples at both ends; frames = samples // hop + 1
    (samples a multiple of hop). The kernel is a fixed, non-trainable weight.

    Args:
        frame_length: samples per frame (even).
        hop: frame step, frame_length // 2.
    """

    def __init__(self, frame_length=256, hop=128, **kwargs):
        super().__init__(**kwargs)
        _check(frame_length, hop)
        self.frame_length = frame_length
        self.hop = hop

    def build(self, input_shape):
        analysis, _ = dft_kernels(self.frame_length)
        self.kernel = self.add_weight(
            name="kernel",
            shape=analysis.shape,
            initializer=keras.initializers.Constant(analysis),
            trainable=False,
        )

    def call(self, waveform):
        x = ops.expand_dims(ops.cast(waveform, self.compute_dtype), -1)
        x = ops.pad(x, [[0, 0], [self.hop, self.hop], [0, 0]])
        return ops.conv(x, ops.cast(self.kernel, self.compute_dtype), strides=self.hop)

    def compute_output_shape(self, input_shape):
        samples = input_shape[1]
        frames = None if samples is None else samples // self.hop + 1
        return (input_shape[0], frames, self.frame_length + 2)

    def get_config(self):
        return {**super().get_config(), "frame_length": self.frame_length, "hop": self.hop}


@keras.saving.register_keras_serializable(package="zoo")
class InverseSTFT(layers.Layer):
    """Spectra (batch, frames, 2 * bins) -> waveforms (batch, length), overlap-add.

    Undoes `STFT(frame_length, hop)` on waveforms of `length` samples (the padding is cut).

    Args:
        frame_length: samples per frame (even).
        hop: frame step, frame_length // 2.
        length: samples of the waveform.
    """

    def __init__(self, frame_length=256, hop=128, length=16000, **kwargs):
        super().__init__(**kwargs)
        _check(frame_length, hop)
        self.frame_length = frame_length
        self.hop = hop
        self.length = length

    def build(self, input_shape):
        _, synthesis = dft_kernels(self.frame_length)
        self.kernel = self.add_weight(
            name="kernel",
            shape=synthesis.shape,
            initializer=keras.initializers.Constant(synthesis),
            trainable=False,
        )

    def call(self, spectrum):
        x = ops.conv_transpose(
            ops.cast(spectrum, self.compute_dtype),
            ops.cast(self.kernel, self.compute_dtype),
            strides=self.hop,
            padding="valid",
        )
        return x[:, self.hop : self.hop + self.length, 0]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.length)

    def get_config(self):
        return {
            **super().get_config(),
            "frame_length": self.frame_length,
            "hop": self.hop,
            "length": self.length,
        }


@keras.saving.register_keras_serializable(package="zoo")
class LogPower(layers.Layer):
    """Spectra (batch, frames, 2 * bins) -> level-free log power (batch, frames, bins).

    log(power + 1e-6 * mean power) - log(mean power), the mean over the clip's frames and
    bins: a clip's gain does not change it, and a silent clip gives zeros.
    """

    def call(self, spectrum):
        bins = spectrum.shape[-1] // 2
        power = ops.square(spectrum[..., :bins]) + ops.square(spectrum[..., bins:])
        mean = ops.mean(power, axis=(1, 2), keepdims=True) + 1e-12
        return ops.log(power + 1e-6 * mean + 1e-12) - ops.log(mean)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] // 2)

"""Speech layers of issue 11: padding masks, seeded audio augmentation: keras.ops only."""

import keras
from keras import layers, ops


@keras.saving.register_keras_serializable(package="zoo")
class PaddingMask(layers.Layer):
    """Passes `features` through with a Keras mask marking the frames of `raw` that are real.

    A frame of the raw (batch, time, dim) input is padding when all its values are exactly
    zero. The features (batch, time, units) are returned as they are; the mask (batch, time)
    flows to mask-aware layers after it (a GRU, `AttentionPooling`). Use it when a layer
    between the input and the recurrent layer (`Normalization`) turns the zero padding into
    other values.

    Call arguments:
        inputs: a list `[raw, features]` of two tensors with the same batch and time axes.

    Example:

        raw = keras.Input(shape=(29, 12), name="frames")
        x = keras.layers.Normalization()(raw)
        x = PaddingMask()([raw, x])
        x = keras.layers.GRU(16)(x)          # skips the all-zero frames of `raw`
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs):
        return inputs[1]

    def compute_mask(self, inputs, mask=None):
        return ops.any(ops.not_equal(inputs[0], 0), axis=-1)

    def compute_output_shape(self, input_shape):
        return input_shape[1]


def _check_range(name, value, low=None):
    if (
        not isinstance(value, (tuple, list))
        or len(value) != 2
        or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
        or value[0] > value[1]
        or (low is not None and value[0] < low)
    ):
        bound = f", both >= {low}" if low is not None else ""
        raise ValueError(
            f"`{name}` must be a (low, high) pair of numbers with low <= high{bound}. "
            f"Received: {name}={value!r}"
        )
    return tuple(float(v) for v in value)


class _Augmentation(layers.Layer):
    """Base of the seeded augmentation layers: identity unless `training` is true."""

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True

    def call(self, inputs, training=None):
        if not training:
            return inputs
        return self.augment(inputs)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


def _uniform(layer, batch, low, high):
    return keras.random.uniform((batch,), low, high, seed=layer.seed_generator)


@keras.saving.register_keras_serializable(package="zoo")
class RandomNoise(_Augmentation):
    """Adds white Gaussian noise to waveforms at a random SNR (dB), in training only.

    Each clip of a (batch, samples) batch draws its SNR uniformly from `snr_db`; the noise
    power is the clip's mean power (over its non-zero samples) divided by 10^(SNR/10).

    Example:

        RandomNoise(snr_db=(5, 30), seed=1)(waveforms, training=True)
    """

    def __init__(self, snr_db=(5.0, 30.0), seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.snr_db = _check_range("snr_db", snr_db)

    def augment(self, inputs):
        batch = ops.shape(inputs)[0]
        snr = _uniform(self, batch, *self.snr_db)
        loud = ops.cast(ops.not_equal(inputs, 0), inputs.dtype)
        power = ops.sum(inputs**2, axis=-1) / ops.maximum(ops.sum(loud, axis=-1), 1.0)
        scale = ops.sqrt(power / ops.power(10.0, snr / 10.0))
        noise = keras.random.normal(ops.shape(inputs), seed=self.seed_generator)
        return inputs + noise * scale[:, None] * loud

    def get_config(self):
        return {**super().get_config(), "snr_db": self.snr_db}


@keras.saving.register_keras_serializable(package="zoo")
class RandomGain(_Augmentation):
    """Multiplies each waveform by a random gain drawn uniformly in `gain_db`, in training.

    Example:

        RandomGain(gain_db=(-6, 6), seed=1)(waveforms, training=True)
    """

    def __init__(self, gain_db=(-6.0, 6.0), seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.gain_db = _check_range("gain_db", gain_db)

    def augment(self, inputs):
        gain = ops.power(10.0, _uniform(self, ops.shape(inputs)[0], *self.gain_db) / 20.0)
        return inputs * gain[:, None]

    def get_config(self):
        return {**super().get_config(), "gain_db": self.gain_db}


def _resample(inputs, positions):
    """Linear interpolation of (batch, samples) `inputs` at fractional `positions`
    (batch, samples); positions outside [0, samples - 1] give 0."""
    length = ops.shape(inputs)[-1]
    left = ops.floor(positions)
    fraction = positions - left
    left = ops.cast(left, "int32")
    inside = ops.logical_and(positions >= 0, positions <= ops.cast(length - 1, positions.dtype))
    left_c = ops.clip(left, 0, length - 1)
    right_c = ops.clip(left + 1, 0, length - 1)
    a = ops.take_along_axis(inputs, left_c, axis=-1)
    b = ops.take_along_axis(inputs, right_c, axis=-1)
    return ops.where(inside, a + (b - a) * fraction, ops.zeros_like(a))


def _content_span(inputs):
    """(first, end) per waveform of a (batch, samples) batch: the index of the first non-zero
    sample and one past the last (0 and 0 for an all-zero waveform), as float32."""
    length = ops.shape(inputs)[-1]
    index = ops.arange(length, dtype="float32")[None, :]
    loud = ops.not_equal(inputs, 0)
    end = ops.max(ops.where(loud, index + 1.0, 0.0), axis=-1)
    first = ops.min(ops.where(loud, index, ops.cast(length, "float32")), axis=-1)
    return ops.minimum(first, end), end


@keras.saving.register_keras_serializable(package="zoo")
class RandomTimeShift(_Augmentation):
    """Delays (or advances) each waveform by a random whole number of samples, in training.

    The shift is drawn uniformly in [-max_shift, max_shift]; samples shifted in are zeros.
    With `fit`, the shift is clipped so that no non-zero sample leaves the clip (a word is
    never cut off; the zero padding is what moves).

    Example:

        RandomTimeShift(max_shift=800, seed=1)(waveforms, training=True)   # +-0.1 s at 8 kHz
    """

    def __init__(self, max_shift=800, fit=False, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        if not isinstance(max_shift, int) or isinstance(max_shift, bool) or max_shift < 0:
            raise ValueError(
                f"`max_shift` must be a non-negative integer. Received: max_shift={max_shift!r}"
            )
        self.max_shift = max_shift
        self.fit = bool(fit)

    def augment(self, inputs):
        batch, length = ops.shape(inputs)[0], ops.shape(inputs)[-1]
        shift = ops.round(_uniform(self, batch, -self.max_shift - 0.49, self.max_shift + 0.49))
        if self.fit:
            first, end = _content_span(inputs)
            shift = ops.clip(shift, -first, ops.cast(length, "float32") - end)
        positions = ops.arange(length, dtype="float32")[None, :] - shift[:, None]
        return _resample(inputs, positions)

    def get_config(self):
        return {**super().get_config(), "max_shift": self.max_shift, "fit": self.fit}


@keras.saving.register_keras_serializable(package="zoo")
class RandomSpeed(_Augmentation):
    """Plays each waveform faster or slower by a random factor in `factor`, in training.

    Resampling by linear interpolation changes tempo and pitch together (a tape played at
    another speed); the clip keeps its length (zeros after a sped-up clip's end, a slowed
    clip's tail cut off). With `fit`, a clip is slowed down at most as far as its zero padding
    allows, so its last non-zero sample stays inside (a word is never cut off).

    Example:

        RandomSpeed(factor=(0.9, 1.1), seed=1)(waveforms, training=True)
    """

    def __init__(self, factor=(0.9, 1.1), fit=False, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.factor = _check_range("factor", factor, low=0.1)
        self.fit = bool(fit)

    def augment(self, inputs):
        batch, length = ops.shape(inputs)[0], ops.shape(inputs)[-1]
        factor = _uniform(self, batch, *self.factor)
        if self.fit:
            _, end = _content_span(inputs)
            factor = ops.maximum(factor, end / ops.cast(length, "float32"))
        positions = ops.arange(length, dtype="float32")[None, :] * factor[:, None]
        return _resample(inputs, positions)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor, "fit": self.fit}


@keras.saving.register_keras_serializable(package="zoo")
class SpecAugment(_Augmentation):
    """SpecAugment masking of (batch, time, freq) features, in training only.

    Each example gets `time_masks` bands of up to `time_width` consecutive frames and
    `freq_masks` bands of up to `freq_width` consecutive channels set to `mask_value` (0 on
    normalised features is the mean). Park et al., 2019, without time warping.

    Example:

        SpecAugment(freq_masks=2, freq_width=8, time_masks=2, time_width=10)(x, training=True)
    """

    def __init__(
        self,
        freq_masks=2,
        freq_width=8,
        time_masks=2,
        time_width=10,
        mask_value=0.0,
        seed=None,
        **kwargs,
    ):
        super().__init__(seed=seed, **kwargs)
        for name, value in (
            ("freq_masks", freq_masks),
            ("freq_width", freq_width),
            ("time_masks", time_masks),
            ("time_width", time_width),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(
                    f"`{name}` must be a non-negative integer. Received: {name}={value!r}"
                )
        self.freq_masks, self.freq_width = freq_masks, freq_width
        self.time_masks, self.time_width = time_masks, time_width
        self.mask_value = float(mask_value)

    def _bands(self, batch, size, count, width):
        """(batch, size) bool, True inside one of `count` random bands of <= width steps."""
        index = ops.arange(size, dtype="float32")[None, :]
        masked = ops.zeros((batch, size), dtype="bool")
        for _ in range(count):
            span = ops.floor(_uniform(self, batch, 0.0, width + 1.0))
            start = ops.floor(_uniform(self, batch, 0.0, 1.0) * ops.maximum(size - span, 1.0))
            inside = ops.logical_and(index >= start[:, None], index < (start + span)[:, None])
            masked = ops.logical_or(masked, inside)
        return masked

    def augment(self, inputs):
        batch, frames, channels = (ops.shape(inputs)[i] for i in range(3))
        time = self._bands(batch, frames, self.time_masks, self.time_width)
        freq = self._bands(batch, channels, self.freq_masks, self.freq_width)
        masked = ops.logical_or(time[:, :, None], freq[:, None, :])
        return ops.where(masked, ops.full_like(inputs, self.mask_value), inputs)

    def get_config(self):
        return {
            **super().get_config(),
            "freq_masks": self.freq_masks,
            "freq_width": self.freq_width,
            "time_masks": self.time_masks,
            "time_width": self.time_width,
            "mask_value": self.mask_value,
        }


@keras.saving.register_keras_serializable(package="zoo")
class UtteranceNormalization(layers.Layer):
    """Per-utterance normalisation of (batch, frames, channels) log-mel features (dB).

    Each utterance's channel means over its active frames are subtracted (cepstral-mean
    style: a fixed spectral tilt of the microphone or voice cancels), and the result is
    divided by the utterance's standard deviation over its active frames and channels. A
    frame is active when one of its channels is above `floor` + 0.1 dB (the padding of a
    zero-padded clip sits at the mel layer's floor); inactive frames are normalised with
    the same statistics. Active in training and inference alike.

    Example:

        x = keras.layers.MelSpectrogram(min_power=1e-6, ...)(audio)   # floor -60 dB
        x = UtteranceNormalization(floor=-60.0)(keras.layers.Permute((2, 1))(x))
    """

    def __init__(self, floor=-60.0, epsilon=1e-3, **kwargs):
        super().__init__(**kwargs)
        self.floor = float(floor)
        self.epsilon = float(epsilon)

    def call(self, inputs):
        active = ops.cast(ops.max(inputs, axis=-1, keepdims=True) > self.floor + 0.1, "float32")
        active = ops.cast(active, inputs.dtype)
        count = ops.maximum(ops.sum(active, axis=1, keepdims=True), 1.0)  # (batch, 1, 1)
        mean = ops.sum(inputs * active, axis=1, keepdims=True) / count  # (batch, 1, channels)
        centred = inputs - mean
        channels = ops.cast(ops.shape(inputs)[-1], inputs.dtype)
        variance = ops.sum(centred**2 * active, axis=(1, 2), keepdims=True) / (count * channels)
        return centred / ops.sqrt(variance + self.epsilon)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "floor": self.floor, "epsilon": self.epsilon}

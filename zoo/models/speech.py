"""Speech models of issue 11: speaker identification, CTC speech recognition.

`speaker-id`: raw frames (batch, 29, 12) of 12 LPC cepstrum coefficients, zero-padded at the
end -> `Normalization` "normalize" (adapted per coefficient on the training frames by the
pipeline) -> GaussianNoise (training only) -> `zoo.layers.PaddingMask` (the all-zero raw
frames are masked) -> GRU over the
real frames (unrolled over the fixed 29 frames, `use_cudnn=False`, so that the SavedModel
serves on CPU and tf2onnx converts it) -> `AttentionPooling` over the real frames ->
Dropout -> Dense softmax over the speakers.

`asr-digits-ctc`: raw 8 kHz waveforms -> seeded augmentation (speed, time shift, gain, noise
at a random SNR; training only, `zoo.layers.audio`) -> `keras.layers.MelSpectrogram` (log-mel,
10 ms hop) -> BatchNormalization -> SpecAugment masks (training only) -> two strided Conv1D
(40 ms frames) -> residual dilated Conv1D blocks -> Dense -> log-softmax: per-frame
log-probabilities for CTC (class 0 the blank). No recurrent layer: the receptive field of the
dilated convolutions (about 1.5 s) covers a word and its neighbours, and the model exports to
ONNX without unrolling.
"""

import keras
from keras import layers, regularizers

from zoo.layers import AttentionPooling
from zoo.layers.audio import (
    PaddingMask,
    RandomGain,
    RandomNoise,
    RandomSpeed,
    RandomTimeShift,
    SpecAugment,
    UtteranceNormalization,
)
from zoo.layers.stft import STFT, InverseSTFT, LogPower
from zoo.registry import register


@register(
    "speaker-id",
    task="classification",
    dataset="japanese_vowels",
    topic="speaker identification from LPC cepstra with a masked GRU and attention pooling",
    recipe={"epochs": 40, "batch_size": 16, "learning_rate": 2e-3, "validation_split": 0},
)
def speaker_id(
    max_frames=29,
    num_coefficients=12,
    num_classes=9,
    units=64,
    attention_units=32,
    noise=0.4,
    dropout=0.3,
    l2=1e-4,
):
    """A masked GRU with attention pooling naming one of 9 speakers from an utterance.

    Input "frames": raw (batch, max_frames, num_coefficients) LPC cepstra, zero frames after
    the utterance's end; output: (batch, num_classes) speaker probabilities.

    Args:
        max_frames: frames per (padded) utterance.
        num_coefficients: LPC cepstrum coefficients per frame.
        num_classes: speakers.
        units: width of the GRU.
        attention_units: width of the attention scoring projection.
        noise: standard deviation of the Gaussian noise added to the normalised frames in
            training only (augmentation; 0: none).
        dropout: dropout rate after the pooling.
        l2: L2 factor of the GRU and output kernels.

    Example:

        model = speaker_id()
        model.predict(np.zeros((1, 29, 12), "float32"))   # (1, 9) probabilities
    """
    frames = keras.Input(shape=(max_frames, num_coefficients), name="frames")
    x = layers.Normalization(name="normalize")(frames)
    if noise:
        x = layers.GaussianNoise(noise, seed=0, name="augment_noise")(x)
    x = PaddingMask(name="padding_mask")([frames, x])
    x = layers.GRU(
        units,
        return_sequences=True,
        kernel_regularizer=regularizers.L2(l2),
        recurrent_regularizer=regularizers.L2(l2),
        use_cudnn=False,
        unroll=True,
        name="encoder",
    )(x)
    x = AttentionPooling(units=attention_units, name="attention")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    probabilities = layers.Dense(
        num_classes,
        activation="softmax",
        kernel_regularizer=regularizers.L2(l2),
        dtype="float32",
        name="probabilities",
    )(x)
    return keras.Model(frames, probabilities, name="speaker_id")


def _augmentation(x, augment, seed):
    """The waveform augmentations named in `augment` (training only), in a fixed order."""
    known = ("gain", "noise", "shift", "speed", "specaugment")
    unknown = [name for name in augment if name not in known]
    if unknown:
        raise ValueError(
            f"`augment` names augmentations from {known}. Received: unknown {unknown} in "
            f"augment={augment!r}"
        )
    if "speed" in augment:
        x = RandomSpeed(factor=(0.85, 1.15), fit=True, seed=seed, name="augment_speed")(x)
    if "shift" in augment:
        x = RandomTimeShift(max_shift=1600, fit=True, seed=seed + 1, name="augment_shift")(x)
    if "gain" in augment:
        x = RandomGain(gain_db=(-10.0, 6.0), seed=seed + 2, name="augment_gain")(x)
    if "noise" in augment:
        x = RandomNoise(snr_db=(5.0, 40.0), seed=seed + 3, name="augment_noise")(x)
    return x


def ctc_recognizer(
    clip_samples,
    vocabulary_size,
    sample_rate,
    num_mel_bins,
    filters,
    kernel_size,
    dilations,
    dropout,
    augment,
    name,
    normalize="batch",
    strides=(2, 2),
):
    """Raw waveform -> log-mel -> strided and dilated Conv1D -> per-frame log-probabilities.

    `vocabulary_size` counts the tokens without the blank; the output has one more class,
    class 0 being CTC's blank. `strides`: the two downsampling convolutions' strides over
    the 10 ms log-mel frames ((2, 2): 40 ms output frames; (2, 1): 20 ms).
    """
    audio = keras.Input(shape=(clip_samples,), name="audio")
    x = _augmentation(audio, augment, seed=0)
    x = layers.MelSpectrogram(
        fft_length=256,
        sequence_length=200,  # 25 ms
        sequence_stride=80,  # 10 ms
        sampling_rate=sample_rate,
        num_mel_bins=num_mel_bins,
        min_freq=60.0,
        max_freq=sample_rate / 2,
        min_power=1e-6,  # a -60 dB floor: digital silence and a quiet room look alike
        top_db=1e4,  # never clips at the batch maximum (DESIGN.md)
        name="log_mel",
    )(x)  # (batch, mels, frames), dB
    x = layers.Permute((2, 1), name="time_major")(x)
    if normalize not in ("batch", "utterance"):
        raise ValueError(
            f'`normalize` must be "batch" or "utterance". Received: normalize={normalize!r}'
        )
    if normalize == "utterance":
        x = UtteranceNormalization(floor=-60.0, name="utterance_norm")(x)
    x = layers.BatchNormalization(name="mel_bn")(x)
    if "specaugment" in augment:
        x = SpecAugment(
            freq_masks=2, freq_width=6, time_masks=2, time_width=8, seed=5, name="specaugment"
        )(x)
    for i, stride in enumerate(strides, start=1):  # 10 ms -> 40 ms frames by default
        x = layers.Conv1D(filters, kernel_size, strides=stride, padding="same", name=f"down{i}")(x)
        x = layers.BatchNormalization(name=f"down{i}_bn")(x)
        x = layers.ReLU(name=f"down{i}_relu")(x)
    for i, rate in enumerate(dilations, start=1):
        y = layers.Conv1D(
            filters, kernel_size, dilation_rate=rate, padding="same", name=f"context{i}"
        )(x)
        y = layers.BatchNormalization(name=f"context{i}_bn")(y)
        y = layers.ReLU(name=f"context{i}_relu")(y)
        y = layers.Dropout(dropout, name=f"context{i}_dropout")(y)
        x = layers.Add(name=f"context{i}_residual")([x, y])
    logits = layers.Dense(vocabulary_size + 1, dtype="float32", name="logits")(x)
    log_probs = layers.Activation("log_softmax", dtype="float32", name="log_probs")(logits)
    return keras.Model(audio, log_probs, name=name)


@register(
    "asr-digits-ctc",
    task="speech_recognition",
    dataset="digit_strings",
    topic="connected-digit speech recognition with CTC from raw waveforms",
    recipe={"epochs": 30, "batch_size": 32, "learning_rate": 2e-3, "lr_schedule": "cosine"},
)
def asr_digits_ctc(
    clip_samples=44000,
    vocabulary_size=10,
    sample_rate=8000,
    num_mel_bins=40,
    filters=96,
    kernel_size=5,
    dilations=(1, 2, 4, 1),
    dropout=0.1,
    augment=("gain", "specaugment"),
    normalize="batch",
):
    """A convolutional CTC recogniser of spoken digit strings ("three five one").

    Input "audio": raw 8 kHz mono waveforms (batch, clip_samples) in [-1, 1], zero-padded at
    the end; output "log_probs": (batch, frames, 11) per-frame log-probabilities over the
    blank (0) and the words "zero".."nine" (1..10), one frame per 40 ms. Decode outside the
    model with `pipelines.speech.decode` (greedy or beam search, `keras.ops.ctc_decode`).

    Args:
        clip_samples: samples per clip (5.5 s at 8 kHz).
        vocabulary_size: tokens (digit words) without the blank.
        sample_rate: the waveform's sample rate.
        num_mel_bins: log-mel channels.
        filters: width of every convolution.
        kernel_size: convolution kernel, in frames.
        dilations: one residual dilated convolution block per entry.
        dropout: dropout in each residual block.
        augment: training-only augmentations, any of "speed", "shift", "gain", "noise"
            (waveform) and "specaugment" (log-mel masks); () for none. The default keeps the
            two that cannot cut words off a clip (the card's ablation: speed and shift
            changes pushed the ends of long strings out of the 5.5 s window).
        normalize: "batch" (BatchNormalization of the log-mel channels) or "utterance"
            (`UtteranceNormalization`, per-utterance channel means and scale, then
            BatchNormalization).

    Example:

        model = asr_digits_ctc()
        model.predict(np.zeros((1, 44000), "float32")).shape   # (1, 138, 11)
    """
    return ctc_recognizer(
        clip_samples,
        vocabulary_size,
        sample_rate,
        num_mel_bins,
        filters,
        kernel_size,
        tuple(dilations),
        dropout,
        tuple(augment),
        name="asr_digits_ctc",
        normalize=normalize,
    )


@register(
    "speech-enhance",
    task="speech_enhancement",
    dataset="noisy_prompts",
    topic="speech enhancement: a spectral mask from a dilated Conv1D net, STFT as convolutions",
    recipe={"epochs": 30, "batch_size": 16, "learning_rate": 2e-3, "lr_schedule": "cosine"},
)
def speech_enhance(
    clip_samples=16000,
    frame_length=256,
    filters=96,
    kernel_size=3,
    dilations=(1, 2, 4, 8, 1, 2, 4, 8),
    dropout=0.0,
):
    """A mask estimator that cleans noisy 8 kHz speech, waveform in, waveform out.

    Input "audio": noisy mono waveforms (batch, clip_samples) in [-1, 1]; output "enhanced":
    the enhanced waveforms (batch, clip_samples). The waveform goes through `STFT` (a fixed
    Conv1D: sqrt-Hann-windowed DFT, `frame_length` samples, 50% overlap), its level-free log
    power (`LogPower`) through a per-frame Dense layer, joined with the clip's per-bin mean
    and minimum log power (a noise-floor estimate, as in minimum statistics) and through
    residual dilated Conv1D blocks; a sigmoid mask per frame and bin scales the real and
    imaginary parts, and `InverseSTFT` (a fixed Conv1DTranspose, overlap-add) gives the
    waveform back. With a mask of ones the output equals the input.

    Args:
        clip_samples: samples per clip (2 s at 8 kHz), a multiple of frame_length // 2.
        frame_length: STFT frame (256 samples = 32 ms; the hop is half of it).
        filters: width of the mask network.
        kernel_size: convolution kernel, in frames.
        dilations: one residual dilated convolution block per entry.
        dropout: dropout in each block.

    Example:

        model = speech_enhance()
        model.predict(np.zeros((1, 16000), "float32")).shape   # (1, 16000)
    """
    hop = frame_length // 2
    if clip_samples % hop:
        raise ValueError(
            f"clip_samples must be a multiple of frame_length // 2 = {hop}. "
            f"Received: clip_samples={clip_samples}"
        )
    frames = clip_samples // hop + 1
    audio = keras.Input(shape=(clip_samples,), name="audio")
    spectrum = STFT(frame_length, hop, name="stft")(audio)
    log_power = LogPower(name="log_power")(spectrum)
    mean = layers.GlobalAveragePooling1D(name="clip_mean")(log_power)
    negated = layers.Rescaling(-1.0, name="negate")(log_power)
    floor = layers.Rescaling(-1.0, name="clip_minimum")(
        layers.GlobalMaxPooling1D(name="negated_max")(negated)
    )
    context = layers.Concatenate(name="clip_statistics")([mean, floor])
    context = layers.Dense(filters, activation="relu", name="context")(context)
    context = layers.RepeatVector(frames, name="context_per_frame")(context)
    x = layers.Dense(filters, name="frame_in")(log_power)
    x = layers.Concatenate(name="features")([x, context])
    x = layers.Conv1D(filters, 1, name="mix_in")(x)
    x = layers.BatchNormalization(name="mix_in_bn")(x)
    x = layers.ReLU(name="mix_in_relu")(x)
    for i, rate in enumerate(dilations, start=1):
        y = layers.Conv1D(
            filters, kernel_size, dilation_rate=rate, padding="same", name=f"context{i}"
        )(x)
        y = layers.BatchNormalization(name=f"context{i}_bn")(y)
        y = layers.ReLU(name=f"context{i}_relu")(y)
        if dropout:
            y = layers.Dropout(dropout, name=f"context{i}_dropout")(y)
        x = layers.Add(name=f"context{i}_residual")([x, y])
    mask = layers.Dense(frame_length // 2 + 1, activation="sigmoid", name="mask")(x)
    mask = layers.Concatenate(name="mask_real_imaginary")([mask, mask])
    masked = layers.Multiply(name="masked_spectrum")([spectrum, mask])
    enhanced = InverseSTFT(frame_length, hop, clip_samples, dtype="float32", name="enhanced")(
        masked
    )
    return keras.Model(audio, enhanced, name="speech_enhance")


@register(
    "asr-prompts-ctc",
    task="speech_recognition",
    dataset="asterisk_prompts",
    topic="character-level CTC recognition of real telephone prompts from raw waveforms",
    recipe={
        "epochs": 45,
        "batch_size": 16,
        "learning_rate": 2e-3,
        "lr_schedule": "cosine",
        "validation_groups": "transcript",  # validation transcripts held out whole
    },
)
def asr_prompts_ctc(
    clip_samples=32000,
    vocabulary_size=28,
    sample_rate=8000,
    num_mel_bins=40,
    filters=128,
    kernel_size=5,
    dilations=(1, 2, 4, 8, 1, 2),
    dropout=0.1,
    augment=("gain", "specaugment"),
    normalize="batch",
    strides=(2, 1),
):
    """A convolutional character-level CTC recogniser of spoken prompts ("please hold").

    Input "audio": raw 8 kHz mono waveforms (batch, clip_samples) in [-1, 1], zero-padded at
    the end; output "log_probs": (batch, frames, 29) per-frame log-probabilities over the
    blank (0) and the characters a..z, apostrophe and space (1..28), one frame per 20 ms
    (`strides` 2, 1 over the 10 ms log-mel frames). Decode outside the model with
    `pipelines.speech.decode`. The other arguments are those of `asr_digits_ctc`.

    Example:

        model = asr_prompts_ctc()
        model.predict(np.zeros((1, 32000), "float32")).shape   # (1, 200, 29)
    """
    return ctc_recognizer(
        clip_samples,
        vocabulary_size,
        sample_rate,
        num_mel_bins,
        filters,
        kernel_size,
        tuple(dilations),
        dropout,
        tuple(augment),
        name="asr_prompts_ctc",
        normalize=normalize,
        strides=tuple(strides),
    )

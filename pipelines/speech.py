"""Speech recognition with CTC: training, decoding, error rates, WAV input (issue 11).

A CTC entry's model takes raw 8 kHz waveforms and returns per-frame log-probabilities
(batch, frames, vocabulary), class 0 being CTC's blank. It trains with `keras.losses.CTC`
on int32 label rows (batch, max_labels), 0-padded (`ZooCTC`). Decoding happens outside the
model, with `keras.ops.ctc_decode` (greedy or beam search), so exports (SavedModel, ONNX)
return the log-probabilities and the caller decodes them (`decode`); tf2onnx's CTC decoding
is fragile and beam search does not convert (DESIGN.md).

Error rates are edit distances over references (`error_rate`): WER over words, CER over
characters (spaces included), both summed over the corpus and divided by the reference
length (the usual corpus-level definition).

Speech enhancement (`ZooEnhancer`, `enhancement_metrics`): noisy waveforms in, enhanced
waveforms out, trained with minus SI-SDR (`NegativeSISDR`, `si_sdr`), scored by SI-SDR gain
beside spectral subtraction (`spectral_subtraction`) tuned on training clips only;
`enhance_file` is `cli.py predict speech-enhance noisy.wav --out clean.wav`.

Example:

    model = zoo.get("asr-digits-ctc")
    log_probs = model.predict(waveforms)                  # (n, frames, 11)
    decode(log_probs, strategy="beam_search")             # [[4, 2], ...] label ids
"""

import keras
import numpy as np

from pipelines import data
from pipelines.base import ZooEstimator

MAX_WAV_SECONDS = 60.0


class ZooCTC(ZooEstimator):
    """Trains a zoo CTC model (task "speech_recognition") on waveforms and label rows.

    y is an integer array (n, max_labels): label ids >= 1, 0-padded at the end (0 is the
    blank). `predict(X)` returns the greedy transcripts as lists of label ids;
    `predict_log_probs(X)` the model's output. See `ZooEstimator` for the arguments.

    Example:

        ctc = ZooCTC("asr-digits-ctc", epochs=2, random_state=0)
        ctc.fit({"audio": waveforms}, labels)
        ctc.predict({"audio": waveforms[:2]})   # [[3, 1], [5]]
    """

    _task = "speech_recognition"

    def _loss(self):
        return keras.losses.CTC()

    def _metrics(self):
        return []

    def _stratify_labels(self, y):
        return None

    def _encode_targets(self, y, fitting):
        if self.class_weight is not None:
            raise ValueError("class_weight applies to classifiers only; ZooCTC got one.")
        raw = np.asarray(y)
        y = data.as_array(y, "y")  # refuses strings, NaN, empty input
        if y.ndim != 2 or not np.issubdtype(raw.dtype, np.integer) or y.min() < 0:
            raise ValueError(
                "y must be an integer array (n, max_labels) of label ids >= 1, 0-padded. "
                f"Received: an array of shape {y.shape} and dtype {raw.dtype}"
            )
        if not (y > 0).any(axis=1).all():
            raise ValueError("y: every row needs at least one label id >= 1 (0 is padding).")
        return raw.astype("int32")

    def _dataset_targets(self, targets):
        self._encode_targets(targets, True)

    def predict_log_probs(self, X):
        """Per-frame log-probabilities (n, frames, vocabulary)."""
        return np.asarray(self._predict_raw(X))

    def predict(self, X, strategy="greedy"):
        """The decoded label ids of each sample (a list of lists)."""
        return decode(self.predict_log_probs(X), strategy=strategy)


def decode(log_probs, strategy="greedy", beam_width=16):
    """CTC-decodes per-frame log-probabilities with `keras.ops.ctc_decode`.

    Args:
        log_probs: (n, frames, vocabulary) scores, class 0 the blank.
        strategy: "greedy" (best class per frame, repeats merged, blanks dropped) or
            "beam_search".
        beam_width: the beam of "beam_search".

    Returns:
        A list of n lists of label ids (>= 1).

    Example:

        decode(np.log([[[0.1, 0.9], [0.9, 0.1]]]))   # [[1]]
    """
    if strategy not in ("greedy", "beam_search"):
        raise ValueError(
            f'strategy must be "greedy" or "beam_search". Received: strategy={strategy!r}'
        )
    log_probs = np.asarray(log_probs, "float32")
    if log_probs.ndim != 3:
        raise ValueError(
            f"log_probs must be (n, frames, vocabulary). Received: shape {log_probs.shape}"
        )
    lengths = np.full((len(log_probs),), log_probs.shape[1], "int32")
    decoded, _ = keras.ops.ctc_decode(
        log_probs, lengths, strategy=strategy, beam_width=beam_width, mask_index=0
    )
    decoded = np.asarray(keras.ops.convert_to_numpy(decoded))[0]
    return [[int(i) for i in row if i > 0] for row in decoded]


def edit_distance(reference, hypothesis):
    """Levenshtein distance between two sequences (substitutions, insertions, deletions)."""
    previous = list(range(len(hypothesis) + 1))
    for i, ref in enumerate(reference, start=1):
        current = [i]
        for j, hyp in enumerate(hypothesis, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref != hyp)))
        previous = current
    return previous[-1]


def error_rate(references, hypotheses, unit="word"):
    """Corpus error rate: summed edit distances over the summed reference lengths.

    Args:
        references, hypotheses: lists of strings of equal length.
        unit: "word" (WER, whitespace-split words) or "char" (CER, characters).

    Example:

        error_rate(["one two"], ["one three"])            # 0.5
        error_rate(["ab"], ["b"], unit="char")            # 0.5
    """
    if unit not in ("word", "char"):
        raise ValueError(f'unit must be "word" or "char". Received: unit={unit!r}')
    if len(references) != len(hypotheses):
        raise ValueError(
            f"references and hypotheses must have the same length. Received: "
            f"{len(references)} and {len(hypotheses)}"
        )
    split = str.split if unit == "word" else list
    errors = sum(edit_distance(split(r), split(h)) for r, h in zip(references, hypotheses))
    total = sum(len(split(r)) for r in references)
    if total == 0:
        raise ValueError("references are all empty: an error rate needs reference units.")
    return errors / total


def read_wav_file(path):
    """(float32 waveform (samples, channels) in [-1, 1], sample rate) of a WAV file.

    Reads PCM 8/16/24/32-bit integer and 32/64-bit IEEE float WAV files with any number of
    channels, by walking the RIFF chunks (Python's `wave` module refuses the float formats).

    Raises:
        ValueError: a missing, empty, truncated or otherwise unreadable file, naming it.
    """
    import pathlib

    path = pathlib.Path(path)
    if not path.is_file():
        raise ValueError(f"audio file not found: {str(path)!r}")
    raw = path.read_bytes()
    if len(raw) < 44 or raw[:4] != b"RIFF" or raw[8:12] != b"WAVE":
        raise ValueError(
            f"{str(path)!r} is not a WAV file (expected a RIFF/WAVE header). Received: "
            f"{len(raw)} bytes starting {raw[:12]!r}"
        )
    fmt, payload, position = None, None, 12
    while position + 8 <= len(raw):
        chunk, size = (
            raw[position : position + 4],
            int.from_bytes(raw[position + 4 : position + 8], "little"),
        )
        body = raw[position + 8 : position + 8 + size]
        if chunk == b"fmt ":
            fmt = body
        elif chunk == b"data":
            payload = body
            break
        position += 8 + size + (size & 1)
    if fmt is None or len(fmt) < 16 or payload is None:
        raise ValueError(f"{str(path)!r} is a corrupt WAV file: no 'fmt ' or 'data' chunk.")
    code = int.from_bytes(fmt[0:2], "little")
    channels = int.from_bytes(fmt[2:4], "little")
    rate = int.from_bytes(fmt[4:8], "little")
    bits = int.from_bytes(fmt[14:16], "little")
    if code == 0xFFFE and len(fmt) >= 26:  # WAVE_FORMAT_EXTENSIBLE: the sub-format's code
        code = int.from_bytes(fmt[24:26], "little")
    if channels < 1 or rate < 1:
        raise ValueError(f"{str(path)!r} is a corrupt WAV file: {channels} channels at {rate} Hz.")
    dtypes = {(1, 8): "u1", (1, 16): "<i2", (1, 32): "<i4", (3, 32): "<f4", (3, 64): "<f8"}
    if (code, bits) == (1, 24):
        whole = len(payload) // (3 * channels) * 3 * channels
        b = np.frombuffer(payload[:whole], "u1").reshape(-1, 3).astype("int32")
        samples = ((b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)) << 8 >> 8) / 8388608.0
    elif (code, bits) in dtypes:
        dtype = np.dtype(dtypes[(code, bits)])
        frame = dtype.itemsize * channels
        samples = np.frombuffer(payload[: len(payload) // frame * frame], dtype)
        if code == 1:
            scale = {1: 128.0, 2: 32768.0, 4: 2147483648.0}[dtype.itemsize]
            samples = (samples.astype("float64") - (128.0 if dtype.itemsize == 1 else 0)) / scale
    else:
        raise ValueError(
            f"{str(path)!r}: unsupported WAV encoding (format code {code}, {bits}-bit). "
            "Expected PCM 8/16/24/32-bit or IEEE float 32/64-bit."
        )
    samples = np.asarray(samples, "float32").reshape(-1, channels)
    if not np.isfinite(samples).all():
        raise ValueError(f"{str(path)!r} holds NaN or infinite samples.")
    return samples, rate


def load_clip(path, sample_rate=8000, max_samples=None, min_seconds=0.1, mix_stereo=True):
    """A WAV file as the mono float32 waveform a speech model takes.

    Stereo (or more channels) is averaged to mono when `mix_stereo` (else refused); any
    sample rate is resampled (polyphase, scipy) to `sample_rate`; clips shorter than
    `min_seconds` or longer than `max_samples` (after resampling) are refused; a shorter
    clip is zero-padded to `max_samples` at the end.

    Raises:
        ValueError: a missing/corrupt/empty file, too short or too long audio, or stereo
            with `mix_stereo=False`; the message names the file and what was expected.

    Example:

        load_clip("clip.wav", max_samples=44000)   # (44000,) float32 at 8 kHz
    """
    from scipy.signal import resample_poly

    samples, rate = read_wav_file(path)
    if samples.shape[0] == 0:
        raise ValueError(f"{str(path)!r} holds no audio samples (an empty WAV file).")
    if samples.shape[1] > 1 and not mix_stereo:
        raise ValueError(
            f"{str(path)!r}: expected mono audio. Received: {samples.shape[1]} channels"
        )
    seconds = samples.shape[0] / rate
    if seconds > MAX_WAV_SECONDS:
        raise ValueError(f"{str(path)!r} is {seconds:.1f} s long; at most {MAX_WAV_SECONDS} s.")
    waveform = samples.mean(axis=1)
    if rate != sample_rate:
        divisor = np.gcd(rate, sample_rate)
        waveform = resample_poly(waveform, sample_rate // divisor, rate // divisor)
    waveform = np.asarray(waveform, "float32")
    if seconds < min_seconds:
        raise ValueError(
            f"{str(path)!r} is too short: {seconds * 1000:.0f} ms; at least "
            f"{min_seconds * 1000:.0f} ms of audio is needed."
        )
    if max_samples is not None:
        if len(waveform) > max_samples:
            raise ValueError(
                f"{str(path)!r} is too long for the model: {len(waveform) / sample_rate:.2f} s "
                f"at {sample_rate} Hz; the model takes at most {max_samples / sample_rate:.2f} "
                "s (cut it into shorter clips)."
            )
        waveform = np.pad(waveform, (0, max_samples - len(waveform)))
    return waveform


def asr_metrics(model, dataset, batch_size=64):
    """WER and CER of a CTC model: greedy on the test split, also beam search, and on the
    real digit strings for the digit dataset (`wer_real`, `cer_real`)."""
    from pipelines.evaluation import predict_arrays

    vocabulary = dataset.provenance["vocabulary"]  # id -> token; 0 is the blank
    separator = dataset.provenance.get("token_separator", " ")

    def to_text(row):
        return separator.join(vocabulary[int(i)] for i in row if int(i) > 0)

    result = {}
    sets = [("", dataset.X_test, dataset.y_test)]
    if dataset.name == "digit_strings":
        from datasets.speech import load_real_digit_strings

        audio, labels = load_real_digit_strings()
        sets.append(("_real", {"audio": audio}, labels))
    for suffix, X, y in sets:
        log_probs = predict_arrays(model, X, batch_size=batch_size)
        references = [to_text(row) for row in y]
        for strategy, tag in (("greedy", ""), ("beam_search", "_beam")):
            hypotheses = [to_text(row) for row in decode(log_probs, strategy=strategy)]
            result[f"wer{tag}{suffix}"] = error_rate(references, hypotheses, "word")
            result[f"cer{tag}{suffix}"] = error_rate(references, hypotheses, "char")
    return result


def transcribe_files(model, paths, vocabulary, separator=" ", strategy="greedy"):
    """[(path, transcript)] of WAV files, read with `load_clip` at the model's input length.

    Example:

        transcribe_files(zoo.get("asr-digits-ctc"), ["clip.wav"], ["<blank>", "zero", ...])
    """
    from pipelines.evaluation import predict_arrays

    clip_samples = int(model.inputs[0].shape[1])
    waveforms = np.stack([load_clip(path, max_samples=clip_samples) for path in paths])
    log_probs = predict_arrays(model, {model.inputs[0].name: waveforms})
    decoded = decode(log_probs, strategy=strategy)
    return [(path, separator.join(vocabulary[i] for i in ids)) for path, ids in zip(paths, decoded)]


# -- speech enhancement (issue 11: speech-enhance) ------------------------------------------


def si_sdr(reference, estimate):
    """Scale-invariant signal-to-distortion ratio in dB, per clip (Le Roux et al., 2019).

    Both are made zero-mean; the reference is scaled to best fit the estimate; SI-SDR is the
    energy of the scaled reference over that of what is left. Arrays (n, samples) or
    (samples,); returns (n,) or a float.

    Example:

        si_sdr(clean, clean + 0.1 * noise)   # about 20 dB for unit-RMS clean and noise
    """
    reference = np.asarray(reference, "float64")
    estimate = np.asarray(estimate, "float64")
    if reference.shape != estimate.shape:
        raise ValueError(
            f"reference and estimate must have the same shape. Received: {reference.shape} "
            f"and {estimate.shape}"
        )
    reference = reference - reference.mean(axis=-1, keepdims=True)
    estimate = estimate - estimate.mean(axis=-1, keepdims=True)
    scale = (reference * estimate).sum(-1, keepdims=True) / (
        (reference**2).sum(-1, keepdims=True) + 1e-12
    )
    target = scale * reference
    residual = estimate - target
    return 10 * np.log10(((target**2).sum(-1) + 1e-12) / ((residual**2).sum(-1) + 1e-12))


@keras.saving.register_keras_serializable(package="zoo")
class NegativeSISDR(keras.losses.Loss):
    """Loss: minus the SI-SDR (dB) of waveforms (batch, samples), keras.ops only."""

    def __init__(self, name="negative_si_sdr", **kwargs):
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):
        ops = keras.ops
        y_true = y_true - ops.mean(y_true, axis=-1, keepdims=True)
        y_pred = y_pred - ops.mean(y_pred, axis=-1, keepdims=True)
        energy = ops.sum(ops.square(y_true), axis=-1, keepdims=True) + 1e-8
        target = ops.sum(y_true * y_pred, axis=-1, keepdims=True) / energy * y_true
        residual = y_pred - target
        ratio = (ops.sum(ops.square(target), axis=-1) + 1e-8) / (
            ops.sum(ops.square(residual), axis=-1) + 1e-8
        )
        return -10.0 * ops.log(ratio) / np.log(10.0)


class ZooEnhancer(ZooEstimator):
    """Trains a zoo speech-enhancement model (task "speech_enhancement"): noisy waveforms
    in, clean waveforms as targets, minus SI-SDR as the loss.

    y is a float array (n, samples) of clean waveforms, as long as the model's input.
    `predict(X)` returns the enhanced waveforms (n, samples). See `ZooEstimator`.

    Example:

        enhancer = ZooEnhancer("speech-enhance", epochs=2, random_state=0)
        enhancer.fit({"audio": noisy}, clean)
        enhancer.predict({"audio": noisy[:2]}).shape   # (2, 16000)
    """

    _task = "speech_enhancement"

    def _loss(self):
        return NegativeSISDR()

    def _metrics(self):
        return []

    def _stratify_labels(self, y):
        return None

    def _encode_targets(self, y, fitting):
        if self.class_weight is not None:
            raise ValueError("class_weight applies to classifiers only; ZooEnhancer got one.")
        raw = np.asarray(y)
        y = data.as_array(y, "y")  # refuses strings, NaN, empty input
        if y.ndim != 2 or not np.issubdtype(raw.dtype, np.floating):
            raise ValueError(
                "y must be a float array (n, samples) of clean waveforms. Received: an array "
                f"of shape {y.shape} and dtype {raw.dtype}"
            )
        config = {**self._entry().defaults, **self._model_overrides()}
        samples = config.get("clip_samples") if fitting else None
        if samples is not None and y.shape[1] != samples:
            raise ValueError(
                f"y must hold waveforms of {samples} samples (the model's input). Received: "
                f"shape {y.shape}"
            )
        return raw.astype("float32")

    def _dataset_targets(self, targets):
        self._encode_targets(targets, False)

    def predict(self, X):
        """The enhanced waveforms (n, samples)."""
        return np.asarray(self._predict_raw(X))


def _spectra(waveforms, frame_length=256):
    from scipy.signal import stft

    _, _, spectrum = stft(waveforms, nperseg=frame_length, noverlap=frame_length // 2, axis=-1)
    return spectrum  # (n, bins, frames)


def spectral_subtraction(noisy, over_subtraction, floor, percentile, spectrum=None):
    """Power spectral subtraction with the noisy phase (NumPy/SciPy), the baseline.

    The noise power of each frequency bin is the `percentile` of the clip's frame powers
    in that bin; the clean power estimate is max(power - over_subtraction * noise,
    floor**2 * power); the waveform comes back by the inverse STFT (Hann, 256 samples, 50%).

    Example:

        spectral_subtraction(noisy, over_subtraction=2.0, floor=0.1, percentile=20)
    """
    from scipy.signal import istft

    noisy = np.asarray(noisy, "float32")
    spectrum = _spectra(noisy) if spectrum is None else spectrum
    power = np.abs(spectrum) ** 2
    noise = np.percentile(power, percentile, axis=-1, keepdims=True)
    clean = np.maximum(power - over_subtraction * noise, floor**2 * power)
    gain = np.sqrt(clean / np.maximum(power, 1e-20))
    _, waveform = istft(spectrum * gain, nperseg=256, noverlap=128, time_axis=-1, freq_axis=-2)
    return waveform[..., : noisy.shape[-1]].astype("float32")


SUBTRACTION_GRID = {
    "over_subtraction": (0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0, 24.0, 32.0),
    "floor": (0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3),
    "percentile": (5, 10, 20, 30, 40, 50, 60, 70),
}
SUBTRACTION_START = {"over_subtraction": 2.0, "floor": 0.05, "percentile": 20}


def tune_spectral_subtraction(noisy, clean, rounds=2):
    """The `SUBTRACTION_GRID` setting of the best mean SI-SDR gain on (training) clips.

    A coordinate search: from `SUBTRACTION_START`, each parameter in turn takes its best
    grid value with the others fixed, for `rounds` rounds.
    """
    noisy = np.asarray(noisy, "float32")
    spectrum = _spectra(noisy)
    before = si_sdr(clean, noisy).mean()
    scores = {}

    def score(setting):
        key = tuple(sorted(setting.items()))
        if key not in scores:
            out = spectral_subtraction(noisy, spectrum=spectrum, **setting)
            scores[key] = si_sdr(clean, out).mean() - before
        return scores[key]

    best = dict(SUBTRACTION_START)
    for _ in range(rounds):
        for name, values in SUBTRACTION_GRID.items():
            best[name] = max(values, key=lambda value: score({**best, name: value}))
    return best


TUNING_CLIPS = 300
_TUNED = {}


def baseline_settings(dataset):
    """The spectral subtraction settings tuned on the dataset's first `TUNING_CLIPS`
    training clips (cached per dataset name and size)."""
    key = (dataset.name, len(dataset.y_train))
    if key not in _TUNED:
        noisy = dataset.X_train["audio"][:TUNING_CLIPS]
        _TUNED[key] = tune_spectral_subtraction(noisy, dataset.y_train[:TUNING_CLIPS])
    return _TUNED[key]


def enhancement_metrics(model, dataset, batch_size=32):
    """SI-SDR gains of the model and of tuned spectral subtraction on the test clips.

    The test split holds `provenance["test_clips_per_snr"]` clips at each SNR of
    `provenance["test_snr_db"]`, in that order. Keys (dB): `si_sdr_gain_db` (at 5 dB SNR,
    the headline) and `si_sdr_gain_db_{snr}` for every SNR; `si_sdr_db_{snr}` (output) and
    `noisy_si_sdr_db_{snr}` (input); the same with the prefix `baseline_`; per noise kind at
    5 dB, `si_sdr_gain_db_5_{kind}` and `baseline_si_sdr_gain_db_5_{kind}`; and the
    baseline's tuned settings (`baseline_over_subtraction`, `_floor`, `_percentile`).
    """
    from pipelines.evaluation import predict_arrays

    noisy = dataset.X_test["audio"]
    clean = dataset.y_test
    snrs = np.repeat(dataset.provenance["test_snr_db"], dataset.provenance["test_clips_per_snr"])
    if len(snrs) != len(clean):
        raise ValueError(
            f"the test split must hold {len(snrs)} clips (test_clips_per_snr per SNR). "
            f"Received: {len(clean)}"
        )
    kinds = dataset.provenance["noises"]
    per_snr = dataset.provenance["test_clips_per_snr"]
    noise = np.array([kinds[k % len(kinds)] for k in range(per_snr)] * (len(snrs) // per_snr))
    settings = baseline_settings(dataset)
    outputs = {
        "": predict_arrays(model, {"audio": noisy}, batch_size=batch_size),
        "baseline_": spectral_subtraction(noisy, **settings),
    }
    before = si_sdr(clean, noisy)
    result = {}
    for prefix, enhanced in outputs.items():
        after = si_sdr(clean, enhanced)
        for snr in dataset.provenance["test_snr_db"]:
            rows = snrs == snr
            gain = float(np.mean(after[rows] - before[rows]))
            result[f"{prefix}si_sdr_gain_db_{snr}"] = gain
            if snr == 5:
                result[f"{prefix}si_sdr_gain_db"] = gain
                for kind in kinds:
                    part = rows & (noise == kind)
                    value = float(np.mean(after[part] - before[part])) if part.any() else np.nan
                    result[f"{prefix}si_sdr_gain_db_5_{kind}"] = value
            result[f"{prefix}si_sdr_db_{snr}"] = float(np.mean(after[rows]))
            result[f"noisy_si_sdr_db_{snr}"] = float(np.mean(before[rows]))
    result.update({f"baseline_{key}": float(value) for key, value in settings.items()})
    return result


def write_wav(path, waveform, sample_rate=8000):
    """Writes a mono 16-bit PCM WAV file atomically (clipped to [-1, 1])."""
    import wave

    from zoo.weights import atomic_path

    pcm = np.round(np.clip(np.asarray(waveform, "float64"), -1, 1) * 32767).astype("<i2")
    with atomic_path(path) as tmp:
        with wave.open(str(tmp), "wb") as file:
            file.setnchannels(1)
            file.setsampwidth(2)
            file.setframerate(sample_rate)
            file.writeframes(pcm.tobytes())


def enhance_file(model, path, out):
    """Enhances the WAV file `path` (any rate, mono or stereo; `load_clip`) into the 8 kHz
    16-bit WAV `out`. A clip longer than the model's input (2 s) is cut into consecutive
    pieces of that length (the last one zero-padded), each enhanced on its own and joined
    again; returns the number of samples written.

    Raises:
        ValueError: `out` not a .wav path; an unreadable, empty or too short file (under
            0.1 s); a file over `MAX_WAV_SECONDS`.
    """
    from pipelines.evaluation import predict_arrays

    if out is None or not str(out).lower().endswith(".wav"):
        raise ValueError(
            f"speech enhancement writes a WAV file: give --out FILE.wav. Received: --out {out!r}"
        )
    clip_samples = int(model.inputs[0].shape[1])
    waveform = load_clip(path)
    pieces = -(-len(waveform) // clip_samples)
    padded = np.pad(waveform, (0, pieces * clip_samples - len(waveform)))
    enhanced = predict_arrays(model, {"audio": padded.reshape(pieces, clip_samples)})
    enhanced = np.asarray(enhanced).reshape(-1)[: len(waveform)]
    write_wav(out, enhanced)
    return len(enhanced)

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
from pipelines.base import ArrayTargetsEstimator

MAX_WAV_SECONDS = 60.0


class ZooCTC(ArrayTargetsEstimator):
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

    def _encode_targets(self, y, fitting):
        self._refuse_class_weight()
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

    def _split_validation(self, x, y, weights):
        """A recipe with `"validation_groups": "transcript"` holds out whole transcripts
        (`transcript_validation_split`): every copy and rendering of a validation transcript
        is a validation sample, none a training one. Otherwise the spine's seeded split."""
        if not self.validation_split or self._entry().recipe.get("validation_groups") != (
            "transcript"
        ):
            return super()._split_validation(x, y, weights)
        train_idx, val_idx = transcript_validation_split(y, self.validation_split, self._seed)
        x_train = {name: array[train_idx] for name, array in x.items()}
        x_val = {name: array[val_idx] for name, array in x.items()}
        w_train = None if weights is None else weights[train_idx]
        return x_train, y[train_idx], w_train, (x_val, y[val_idx])

    def predict_log_probs(self, X):
        """Per-frame log-probabilities (n, frames, vocabulary)."""
        return np.asarray(self._predict_raw(X))

    def predict(self, X, strategy="greedy"):
        """The decoded label ids of each sample (a list of lists)."""
        return decode(self.predict_log_probs(X), strategy=strategy)


def transcript_validation_split(y, share, seed):
    """(training indices, validation indices) of label rows `y`, holding out a seeded `share`
    of the DISTINCT label rows (transcripts) whole: identical rows (a real recording repeated,
    its synthetic renderings) never sit on both sides.

    Example:

        train_idx, val_idx = transcript_validation_split(labels, 0.1, seed=0)
    """
    _, group = np.unique(np.asarray(y), axis=0, return_inverse=True)
    group = np.ravel(group)
    groups = int(group.max()) + 1
    held = np.random.default_rng(seed).permutation(groups)[: max(1, int(round(share * groups)))]
    is_val = np.isin(group, held)
    return np.flatnonzero(~is_val), np.flatnonzero(is_val)


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
    real digit strings for the digit dataset (`wer_real`, `cer_real`). A dataset whose
    provenance names a "baseline_transcript" also gets `baseline_cer` and `baseline_wer`:
    the error rates of outputting that transcript for every test clip."""
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
    if "baseline_transcript" in dataset.provenance:  # one transcript for every test clip
        guess = [dataset.provenance["baseline_transcript"]] * len(dataset.y_test)
        references = [to_text(row) for row in dataset.y_test]
        result["baseline_cer"] = error_rate(references, guess, "char")
        result["baseline_wer"] = error_rate(references, guess, "word")
    return result


def transcribe_files(model, paths, vocabulary, separator=" ", strategy="greedy", prepare=None):
    """[(path, transcript)] of WAV files, read with `load_clip` at the model's input length.

    `prepare`: None (the clip zero-padded at the end), or a function that turns the 8 kHz
    waveform into the model's input as its dataset prepared the training clips (e.g.
    `datasets.speech.prompt_clip`: silence trimmed, lead-in, level), returning None when the
    waveform does not fit.

    Example:

        transcribe_files(zoo.get("asr-digits-ctc"), ["clip.wav"], ["<blank>", "zero", ...])
    """
    from pipelines.evaluation import predict_arrays

    clip_samples = int(model.inputs[0].shape[1])
    if prepare is None:
        waveforms = np.stack([load_clip(path, max_samples=clip_samples) for path in paths])
    else:
        waveforms = []
        for path in paths:
            waveform = load_clip(path)
            clip = prepare(waveform)
            if clip is None or len(clip) != clip_samples:
                raise ValueError(
                    f"{str(path)!r} is too long for the model: {len(waveform) / 8000:.2f} s at "
                    f"8000 Hz, more than {clip_samples / 8000:.2f} s even with its leading and "
                    "trailing silence trimmed (cut it into shorter clips)."
                )
            waveforms.append(clip)
        waveforms = np.stack(waveforms)
    log_probs = predict_arrays(model, {model.inputs[0].name: waveforms})
    decoded = decode(log_probs, strategy=strategy)
    return [(path, separator.join(vocabulary[i] for i in ids)) for path, ids in zip(paths, decoded)]


def forced_align(log_probs, label_ids):
    """CTC Viterbi alignment of a KNOWN transcript to one clip's per-frame log-probabilities.

    The best CTC path (blank 0) that spells exactly `label_ids`: over the states blank,
    label 1, blank, label 2, ..., blank, a path starts in the first blank or label 1, stays
    or moves one state per frame, may skip a blank between two DIFFERENT labels (a repeated
    label, "eight eight", needs a blank frame between its two copies), and ends in the
    last label or the last blank.

    Args:
        log_probs: (frames, classes) log-probabilities of one clip, class 0 the blank.
        label_ids: the transcript's label ids (each in 1..classes-1; 0-padding at the end
            is dropped, so a row of `load_digit_strings()`'s labels works as it is).

    Returns:
        (spans, score): spans[k] = (first_frame, last_frame) of the frames the best path
        gives label k (inclusive); score, the path's summed log-probability. An empty
        transcript gives ([], the all-blank path's score).

    Raises:
        ValueError: log_probs not a finite 2-D array, a label id out of range or 0 inside
            the transcript, or more labels (plus one blank per adjacent repeat) than frames.

    Example:

        lp = np.log([[0.1, 0.8, 0.1], [0.8, 0.1, 0.1], [0.1, 0.8, 0.1]])
        forced_align(lp, [1, 1])   # ([(0, 0), (2, 2)], log(0.8 ** 3))
    """
    log_probs = np.asarray(log_probs, "float64")
    if log_probs.ndim != 2 or log_probs.shape[0] < 1 or log_probs.shape[1] < 2:
        raise ValueError(
            "log_probs must be one clip's (frames, classes) log-probabilities with at least "
            f"one frame and two classes. Received: shape {log_probs.shape}"
        )
    if np.isnan(log_probs).any() or np.isposinf(log_probs).any():
        raise ValueError("log_probs must not contain NaN or +inf. Received: such values")
    raw = np.asarray(label_ids)
    if raw.ndim != 1 or (raw.size and not np.issubdtype(raw.dtype, np.integer)):
        raise ValueError(
            "label_ids must be a 1-D sequence of integer label ids. Received: an array of "
            f"shape {raw.shape} and dtype {raw.dtype}"
        )
    labels = raw.astype("int64")
    nonzero = np.flatnonzero(labels)
    labels = labels[: nonzero[-1] + 1] if len(nonzero) else labels[:0]  # trailing padding
    frames, classes = log_probs.shape
    if ((labels < 1) | (labels >= classes)).any():
        raise ValueError(
            f"label_ids must be in 1..{classes - 1} (0 is the blank, allowed only as padding "
            f"at the end). Received: label_ids={raw.tolist()}"
        )
    repeats = int((labels[1:] == labels[:-1]).sum())
    if len(labels) + repeats > frames:
        raise ValueError(
            f"label_ids: {len(labels)} labels with {repeats} adjacent repeats need at least "
            f"{len(labels) + repeats} frames; log_probs has {frames}. Received: "
            f"label_ids={labels.tolist()}"
        )
    if not len(labels):
        return [], float(log_probs[:, 0].sum())
    states = np.zeros(2 * len(labels) + 1, "int64")
    states[1::2] = labels
    emit = log_probs[:, states]  # (frames, states)
    n = len(states)
    skip = np.zeros(n, bool)  # state s may be entered from s - 2
    skip[3::2] = labels[1:] != labels[:-1]
    score = np.full(n, -np.inf)
    score[:2] = emit[0, :2]
    back = np.zeros((frames, n), "int64")
    for t in range(1, frames):
        stay, step = score, np.concatenate([[-np.inf], score[:-1]])
        jump = np.where(skip, np.concatenate([[-np.inf, -np.inf], score[:-2]]), -np.inf)
        candidates = np.stack([stay, step, jump])
        move = candidates.argmax(axis=0)
        back[t] = np.arange(n) - move
        score = candidates[move, np.arange(n)] + emit[t]
    end = n - 1 if score[n - 1] >= score[n - 2] else n - 2
    best = float(score[end])
    if not np.isfinite(best):
        raise ValueError("log_probs: no path spells label_ids (every path has -inf score).")
    path = np.empty(frames, "int64")
    path[-1] = end
    for t in range(frames - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    spans = []
    for k in range(len(labels)):
        hit = np.flatnonzero(path == 2 * k + 1)
        spans.append((int(hit[0]), int(hit[-1])))
    return spans, best


def frame_timing(model):
    """(frame_seconds, offset_seconds) of a CTC model's output frames, read from its layers.

    Output frame j of `asr-digits-ctc` stands for the input samples
    [offset + j * hop, offset + (j + 1) * hop): the log-mel hop (80 samples, 10 ms) times the
    strides of the Conv1D layers (2 x 2) gives hop = 320 samples, 40 ms at 8 kHz. The STFT is
    centred (mel frame i is centred on sample 80 i) and each "same" strided convolution keeps
    its output j centred on input 2 j (first) and 2 j + 1 (second), so output frame j is
    centred on mel frame 4 j + 2, sample 320 j + 160: the middle of [320 j, 320 j + 320), so
    offset = 0. Checks that the clip's input samples / output frames agree (44000 / 138 =
    318.8 samples: the last frame is partial).
    """
    mel = [layer for layer in model.layers if isinstance(layer, keras.layers.MelSpectrogram)]
    if len(mel) != 1:
        raise ValueError(
            f"model must have one MelSpectrogram layer. Received: {len(mel)} in {model.name}"
        )
    config = mel[0].get_config()
    hop = int(config["sequence_stride"])
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv1D):
            hop *= int(layer.strides[0])
    samples = int(model.inputs[0].shape[1])
    frames = int(model.outputs[0].shape[1])
    if abs(samples / frames - hop) > hop / frames + 1:
        raise ValueError(
            f"model: {samples} input samples over {frames} frames is not a hop of {hop} "
            "samples; frame_timing does not know this architecture."
        )
    rate = float(config["sampling_rate"])
    return hop / rate, 0.0


def word_boundaries(spans, frame_seconds, offset_seconds=0.0, claim_blanks=False):
    """[(start_s, end_s)] of each aligned label from `forced_align`'s spans.

    By default a word runs from its first label frame's start to its last label frame's end
    (`frame_timing` gives the frame duration and offset). CTC models are peaky: a word is
    often one or two label frames, and `asr-digits-ctc`'s come near the word's END (its
    receptive field sees the whole word first), so these spans start late. With
    `claim_blanks`, each word also owns the blank frames before it: it starts where the
    previous word's label frames end (the first word at the clip's start).
    """
    words = []
    for k, (first, last) in enumerate(spans):
        if claim_blanks:
            first = spans[k - 1][1] + 1 if k else 0
        words.append(
            (offset_seconds + first * frame_seconds, offset_seconds + (last + 1) * frame_seconds)
        )
    return words


def silence_boundaries(waveform, words, sample_rate=8000, frame_ms=10.0, threshold_db=-35.0):
    """The baseline: word boundaries found from a recording's silences, without a model.

    The waveform is cut into `frame_ms` frames; a frame is voiced when its RMS is within
    `threshold_db` of the loudest frame's. Runs of voiced frames are segments; the `words`
    longest segments, put back in time order, are the words (start of its first frame, end of
    its last). With fewer segments than words, the longest segment is halved until there are
    enough. Returns [(start_s, end_s)] * words.
    """
    waveform = np.asarray(waveform, "float64")
    step = int(round(sample_rate * frame_ms / 1000))
    usable = len(waveform) // step * step
    rms = np.sqrt(np.mean(waveform[:usable].reshape(-1, step) ** 2, axis=1))
    voiced = rms > rms.max() * 10 ** (threshold_db / 20) if rms.max() > 0 else rms > 0
    edges = np.flatnonzero(np.diff(np.concatenate([[0], voiced.astype(int), [0]])))
    segments = [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2])]  # [a, b) frames
    segments = sorted(sorted(segments, key=lambda s: s[0] - s[1])[:words])
    while 0 < len(segments) < words:
        a, b = max(segments, key=lambda s: s[1] - s[0])
        if b - a < 2:
            break
        segments.remove((a, b))
        segments = sorted([*segments, (a, (a + b) // 2), ((a + b) // 2, b)])
    seconds = step / sample_rate
    return [(a * seconds, b * seconds) for a, b in segments]


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


class ZooEnhancer(ArrayTargetsEstimator):
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

    def _encode_targets(self, y, fitting):
        self._refuse_class_weight()
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

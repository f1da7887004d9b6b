"""Speech datasets of issue 11: speaker identification and connected-digit recognition.

`load_japanese_vowels` ("japanese_vowels", classification): Kudo, Toyama and Shimbo's
Japanese Vowels data (UCI, CC BY 4.0), as shipped inside the sktime wheel
(`sktime.datasets.load_japanese_vowels`): nine male speakers each uttered the vowels /ae/
twice; every utterance is 7..29 frames of 12 LPC cepstrum coefficients (sampling rate
10 kHz, frame length 25.6 ms, shift 6.4 ms). Real recordings; nothing is constructed.

Split: the standard one of the source (and of the UCR/UEA archive): 270 training utterances
(30 per speaker), 370 test utterances (24..88 per speaker, recorded separately).

X is float32 (n, `MAX_FRAMES` = 29, 12): each utterance's frames, zero-padded at the end
(the model masks all-zero frames; a real frame is never all zero); y is int64 speaker
0..8 (`class_names` "speaker 1" .. "speaker 9").

Baseline (`provenance["baseline_metrics"]["baseline_accuracy"]`): 1-nearest-neighbour with
dependent dynamic time warping (Euclidean frame distance, no warping window) on the same
split, computed when the data is loaded (`dtw_1nn_accuracy`, NumPy, about five seconds).

`load_digit_strings` ("digit_strings", speech_recognition): connected digit strings of 1..7
digits ("three five one"), for CTC recognition.
- Train: `TRAIN_STRINGS` SYNTHETIC strings spoken by Debian espeak-ng (formant synthesis,
  not a human voice) with a seeded random English accent, voice variant (one of the
  training variants), speed and pitch; words are joined by " " or ", " (a pause), at random
  (a string that would not fit in a clip is said again at 175 words/min without pauses).
- Train, extra voices (v2): `TTS_STRINGS` SYNTHETIC strings by Debian flite (voices kal,
  a diphone voice; awb, rms, slt, clustergen voices trained on the CMU ARCTIC speakers'
  recordings) and festival (kal_diphone, ked_diphone, cmu_us_slt_arctic_hts), each with a
  seeded duration stretch, target F0 and tape-speed factor; half of them are said as one
  sentence, half are built from words synthesised one by one and joined by 10..300 ms of
  silence (`_tts_split`). Their own seed: the espeak-ng splits are those of v1.
- Test (`X_test`): `TEST_STRINGS` SYNTHETIC strings spoken by the `HELD_OUT_VOICES` (24)
  voice variants that never occur in training (`held_out_variants()`).
- Real test (`load_real_digit_strings()`, never trained on): `REAL_STRINGS` strings built
  from the REAL asterisk recordings `digits/0.wav` .. `digits/9.wav` (Allison Smith, 8 kHz,
  CC-BY-SA-3.0): each digit's trimmed recording, joined by seeded gaps of 20..80 ms of
  silence, with 20..60 ms of silence before and after.
Every clip is 8 kHz mono float32, RMS-normalised to `TARGET_RMS` and zero-padded at the end
to `CLIP_SAMPLES` (44,000 = 5.5 s; the longest string fits). X is {"audio": (n, 44000)};
y is int32 (n, 7): the digits as label ids digit + 1 (0 is CTC's blank and the padding).
The synthetic clips are cached (int16) in `$ZOO_HOME/datasets/digit_strings-v2.npz`.
"""

import concurrent.futures
import pathlib
import shutil
import subprocess

import numpy as np

from datasets.audio import (
    ACCENTS,
    INSTALL_ESPEAK,
    VARIANTS,
    asterisk_transcripts,
    espeak,
    read_wav,
    to_8k,
    trim_silence,
)
from datasets.base import Dataset, DatasetMissingError, cache_file, read_npz, save_npz_atomic

MAX_FRAMES = 29
NUM_COEFFICIENTS = 12
INSTALL_SKTIME = "pip install sktime"


def _arrays(split):
    """(X float32 (n, MAX_FRAMES, 12) zero-padded, lengths (n,), y int64 (n,)) of a split."""
    try:
        from sktime.datasets import load_japanese_vowels as sktime_loader
    except ImportError:
        raise DatasetMissingError(
            "The Japanese vowels data ships inside the `sktime` package, which is not "
            f"installed. Install it with: {INSTALL_SKTIME}"
        ) from None
    frame, labels = sktime_loader(split=split, return_X_y=True)
    X = np.zeros((len(frame), MAX_FRAMES, NUM_COEFFICIENTS), dtype="float32")
    lengths = np.zeros(len(frame), dtype="int64")
    for row in range(len(frame)):
        utterance = np.stack([np.asarray(frame.iloc[row, column]) for column in range(12)], -1)
        lengths[row] = len(utterance)
        X[row, : len(utterance)] = utterance
    return X, lengths, labels.astype("int64") - 1


def dtw_distances(A, lengths_a, B, lengths_b):
    """Dependent DTW distances (n_a, n_b) between zero-padded multivariate sequences.

    The frame cost is the Euclidean distance between the 12-dimensional frames; the path
    may step (1, 0), (0, 1) or (1, 1) with no window; the distance of a pair is the summed
    cost of the best path from the first frames to the last real frames of both. Vectorised
    over all pairs (one dynamic-programming grid over the padded frames).

    Example:

        dtw_distances(X[:1], lengths[:1], X[:1], lengths[:1])   # [[0.]]
    """
    A, B = np.asarray(A, "float64"), np.asarray(B, "float64")
    n_a, t_a, _ = A.shape
    n_b, t_b, _ = B.shape
    D = np.full((n_a, n_b, t_a + 1, t_b + 1), np.inf)
    D[:, :, 0, 0] = 0.0
    for i in range(t_a):
        cost = np.sqrt(((A[:, None, i, None, :] - B[None, :, :, :]) ** 2).sum(-1))  # (na,nb,tb)
        for j in range(t_b):
            best = np.minimum(np.minimum(D[:, :, i, j + 1], D[:, :, i + 1, j]), D[:, :, i, j])
            D[:, :, i + 1, j + 1] = cost[:, :, j] + best
    rows = np.arange(n_a)[:, None]
    columns = np.arange(n_b)[None, :]
    return D[rows, columns, np.asarray(lengths_a)[:, None], np.asarray(lengths_b)[None, :]]


def dtw_1nn_accuracy(X_train, lengths_train, y_train, X_test, lengths_test, y_test):
    """Accuracy of 1-NN with `dtw_distances` (test utterances against training ones)."""
    predicted = []
    for start in range(0, len(X_test), 64):  # bounded memory
        part = slice(start, start + 64)
        distances = dtw_distances(X_test[part], lengths_test[part], X_train, lengths_train)
        predicted.append(np.asarray(y_train)[np.argmin(distances, axis=1)])
    return float(np.mean(np.concatenate(predicted) == np.asarray(y_test)))


def load_japanese_vowels():
    """Speaker identification (9 speakers) from 12 LPC cepstra per frame, standard split.

    See the module docstring for the source, the padding, the split and the baseline.

    Example:

        data = load_japanese_vowels()
        data.X_train.shape, data.X_test.shape    # (270, 29, 12), (370, 29, 12)
        data.provenance["baseline_metrics"]      # {'baseline_accuracy': ...}
    """
    X_train, lengths_train, y_train = _arrays("train")
    X_test, lengths_test, y_test = _arrays("test")
    import sktime

    baseline = dtw_1nn_accuracy(X_train, lengths_train, y_train, X_test, lengths_test, y_test)
    return Dataset(
        name="japanese_vowels",
        task="classification",
        X_train=X_train,
        y_train=y_train,
        X_test=X_test,
        y_test=y_test,
        split=(
            "the source's standard split: 270 training utterances (30 per speaker), 370 test "
            "utterances recorded separately"
        ),
        feature_names=[f"lpc_cepstrum_{k}" for k in range(NUM_COEFFICIENTS)],
        class_names=[f"speaker {k}" for k in range(1, 10)],
        provenance={
            "source": (
                f"sktime {sktime.__version__} `sktime.datasets.load_japanese_vowels`: UCI "
                "Japanese Vowels (M. Kudo, J. Toyama, M. Shimbo), 9 male speakers uttering "
                "/ae/, 12 LPC cepstrum coefficients per 25.6 ms frame, 7..29 frames"
            ),
            "licence": "CC BY 4.0 (UCI Machine Learning Repository); sktime: BSD-3-Clause",
            "install": INSTALL_SKTIME,
            "citation": (
                "M. Kudo, J. Toyama, M. Shimbo. Multidimensional curve classification using "
                "passing-through regions. Pattern Recognition Letters 20 (1999) 1103-1111"
            ),
            "padding": f"zero frames after the last real frame, to {MAX_FRAMES} frames",
            "baseline": "1-NN, dependent DTW (Euclidean frame cost, no window), same split",
            "baseline_metrics": {"baseline_accuracy": baseline},
        },
    )


DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
MAX_DIGITS = 7
CLIP_SAMPLES = 44000  # 5.5 s at 8 kHz
TARGET_RMS = 0.05
TRAIN_STRINGS = 2000
TEST_STRINGS = 300
REAL_STRINGS = 300
HELD_OUT_VOICES = 24
DIGITS_SEED = 11
DIGITS_CACHE_VERSION = 2
SPEED_RANGE = (110, 200)
PITCH_RANGE = (20, 80)
DIGIT_SOUNDS = pathlib.Path("/usr/share/asterisk/sounds/en_US_f_Allison/digits")
INSTALL_ASTERISK = "sudo apt-get install asterisk-core-sounds-en-wav"
# Extra TRAINING voices (v2): Debian flite (kal: diphone; awb, rms, slt: clustergen voices
# trained on CMU ARCTIC speakers) and festival (kal/ked diphone, the slt HTS voice).
TTS_STRINGS = 2000
TTS_VOICES = (
    ("flite", "kal"),
    ("flite", "awb"),
    ("flite", "rms"),
    ("flite", "slt"),
    ("festival", "kal_diphone"),
    ("festival", "ked_diphone"),
    ("festival", "cmu_us_slt_arctic_hts"),
)
STRETCH_RANGE = (0.85, 1.6)  # duration stretch (flite; festival diphone voices)
F0_RANGE = (85, 240)  # target mean F0 in Hz (flite kal/awb/slt; festival diphone voices)
TAPE_RANGE = (0.88, 1.12)  # resampling factor: tempo, pitch and formants together
ISOLATED_SHARE = 0.5  # strings built from words synthesised one by one, joined by silences
INSTALL_TTS = (
    "sudo apt-get install flite festival festvox-kallpc8k festvox-kdlpc8k festvox-us-slt-hts"
)
# The token vocabulary (id -> token, 0 the CTC blank) and the separator of each CTC dataset.
VOCABULARIES = {"digit_strings": (["<blank>", *DIGIT_WORDS], " ")}


def digits_to_text(label_ids):
    """The words of a row of label ids (digit + 1; 0 = padding): [3, 1] -> "two zero"."""
    return " ".join(DIGIT_WORDS[int(i) - 1] for i in label_ids if int(i) > 0)


def held_out_variants():
    """The espeak-ng voice variants of the synthetic test split (never in training)."""
    order = np.random.default_rng(DIGITS_SEED).permutation(len(VARIANTS))
    return sorted((VARIANTS[i] for i in order[:HELD_OUT_VOICES]), key=str.lower)


def _labels(rng, count):
    labels = np.zeros((count, MAX_DIGITS), "int32")
    for row in range(count):
        length = rng.integers(1, MAX_DIGITS + 1)
        labels[row, :length] = rng.integers(0, 10, size=length) + 1
    return labels


def _place(waveform):
    """RMS-normalised, zero-padded to CLIP_SAMPLES (raises when the clip is too long)."""
    if len(waveform) > CLIP_SAMPLES:
        raise ValueError(f"a digit string of {len(waveform)} samples exceeds {CLIP_SAMPLES}")
    clip = np.zeros(CLIP_SAMPLES, "float32")
    clip[: len(waveform)] = waveform
    rms = float(np.sqrt(np.mean(np.asarray(waveform, "float64") ** 2))) if len(waveform) else 0
    return np.clip(clip * (TARGET_RMS / max(rms, 1e-9)), -1, 1)


def _synthesise(job):
    text, accent, variant, speed, pitch = job
    return espeak(text, accent, variant, speed, pitch)


def _synthetic_split(rng, count, variants):
    labels = _labels(rng, count)
    jobs = []
    for row in labels:
        separator = ", " if rng.random() < 0.5 else " "
        text = separator.join(DIGIT_WORDS[i - 1] for i in row if i > 0)
        jobs.append(
            (
                text,
                ACCENTS[rng.integers(len(ACCENTS))],
                variants[rng.integers(len(variants))],
                int(rng.integers(*SPEED_RANGE)),
                int(rng.integers(*PITCH_RANGE)),
            )
        )
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        waveforms = list(pool.map(_synthesise, jobs))
    for k, (job, waveform) in enumerate(zip(jobs, waveforms)):
        if len(waveform) > CLIP_SAMPLES:  # slow and with pauses: said again, faster, no pauses
            jobs[k] = (job[0].replace(",", ""), job[1], job[2], max(job[3], 175), job[4])
            waveforms[k] = _synthesise(jobs[k])
    too_long = [job[0] for job, w in zip(jobs, waveforms) if len(w) > CLIP_SAMPLES]
    if too_long:
        raise ValueError(f"espeak-ng strings longer than {CLIP_SAMPLES} samples: {too_long[:3]}")
    audio = np.round(np.stack([_place(w) for w in waveforms]) * 32767).astype("int16")
    voices = np.array([f"{job[1]}+{job[2]} s{job[3]} p{job[4]}" for job in jobs])
    return audio, labels, voices


def _flite(jobs):
    """8 kHz float32 waveforms of flite `jobs` [(voice, text, stretch, f0)]."""
    import tempfile

    def one(job):
        voice, text, stretch, f0 = job
        with tempfile.TemporaryDirectory() as folder:
            out = f"{folder}/out.wav"
            command = ["flite", "-voice", voice, "--setf", f"duration_stretch={stretch:.3f}"]
            command += ["--setf", f"int_f0_target_mean={f0:.1f}", "-t", text, "-o", out]
            subprocess.run(command, capture_output=True, check=True)
            return to_8k(*read_wav(out))

    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(one, jobs))


def _festival(jobs):
    """8 kHz float32 waveforms of festival `jobs` [(voice, text, stretch, f0)]: one batch
    script per voice and half (two festival processes at a time)."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        scripts = {}
        for k, (voice, text, stretch, f0) in enumerate(jobs):
            key = (voice, k % 2)
            lines = scripts.setdefault(key, [f"(voice_{voice})"])
            if "diphone" in voice:  # the HTS voice ignores both settings
                lines.append(f"(Parameter.set 'Duration_Stretch {stretch:.3f})")
                lines.append(
                    f"(set! int_lr_params '((target_f0_mean {f0:.1f}) (target_f0_std "
                    f"{f0 / 8:.1f}) (model_f0_mean 170) (model_f0_std 34)))"
                )
            lines.append(
                f'(utt.save.wave (utt.synth (Utterance Text "{text}")) "{folder}/{k}.wav" \'riff)'
            )
        paths = []
        for n, lines in enumerate(scripts.values()):
            paths.append(pathlib.Path(folder) / f"script{n}.scm")
            paths[-1].write_text("\n".join(lines) + "\n")
        run = lambda path: subprocess.run(["festival", "-b", str(path)], capture_output=True)  # noqa: E731
        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
            for result in pool.map(run, paths):
                result.check_returncode()
        return [to_8k(*read_wav(f"{folder}/{k}.wav")) for k in range(len(jobs))]


def _tape(waveform, factor):
    """`waveform` played `factor` times faster (tempo, pitch and formants together)."""
    from scipy.signal import resample_poly

    return resample_poly(waveform, 100, int(round(100 * factor))).astype("float32")


def _tts_split(rng, count):
    """`count` training strings by the flite and festival `TTS_VOICES` (audio int16, labels,
    voice descriptions). A seeded share `ISOLATED_SHARE` is built from words synthesised one
    by one and joined by 10..300 ms of silence; the rest is said as one sentence, words
    joined by " " or ", ". Each string draws a voice, a duration stretch, a target F0 and a
    tape-speed factor; a string too long for the clip is played faster until it fits."""
    labels = _labels(rng, count)
    plans, requests = [], []
    for row in labels:
        engine, voice = TTS_VOICES[rng.integers(len(TTS_VOICES))]
        stretch, f0 = rng.uniform(*STRETCH_RANGE), rng.uniform(*F0_RANGE)
        tape = rng.uniform(*TAPE_RANGE)
        words = [DIGIT_WORDS[i - 1] for i in row if i > 0]
        if rng.random() < ISOLATED_SHARE:
            texts = words
            gaps = rng.integers(80, 2401, size=len(words) + 1)  # 10..300 ms
            kind = "isolated"
        else:
            texts = [(", " if rng.random() < 0.5 else " ").join(words)]
            gaps = rng.integers(80, 801, size=2)  # 10..100 ms before and after
            kind = "sentence"
        first = len(requests)
        requests.extend((engine, voice, text, stretch, f0) for text in texts)
        plans.append(
            (
                first,
                len(texts),
                gaps,
                tape,
                f"{engine}:{voice} {kind} x{stretch:.2f} f0 {f0:.0f} tape {tape:.2f}",
            )
        )
    waveforms = [None] * len(requests)
    for engine, synthesise in (("flite", _flite), ("festival", _festival)):
        chosen = [k for k, request in enumerate(requests) if request[0] == engine]
        for k, waveform in zip(chosen, synthesise([requests[k][1:] for k in chosen])):
            waveforms[k] = trim_silence(waveform)
    audio, voices = [], []
    for first, n, gaps, tape, description in plans:
        pieces = [np.zeros(gaps[0], "float32")]
        for k in range(n):
            pieces.append(waveforms[first + k])
            pieces.append(np.zeros(gaps[k + 1], "float32"))
        waveform = _tape(np.concatenate(pieces), tape)
        if len(waveform) > CLIP_SAMPLES:
            waveform = _tape(waveform, np.ceil(100 * len(waveform) / (CLIP_SAMPLES - 400)) / 100)
            description += " (faster to fit)"
        audio.append(_place(waveform))
        voices.append(description)
    audio = np.round(np.stack(audio) * 32767).astype("int16")
    return audio, labels, np.array(voices)


def _require_synthesisers(dataset):
    """Raises DatasetMissingError, with the install commands, unless espeak-ng, flite and
    festival (the synthetic voices of `dataset`) are all installed."""
    missing = [tool for tool in ("espeak-ng", "flite", "festival") if shutil.which(tool) is None]
    if missing:
        raise DatasetMissingError(
            f"{dataset} needs espeak-ng, flite and festival (missing: {missing}). "
            f"Install them with: {INSTALL_ESPEAK}; {INSTALL_TTS}"
        )


def synthetic_digit_strings():
    """The cached espeak-ng digit strings: {"train_audio", "train_labels", "train_voice",
    "test_audio", "test_labels", "test_voice"} (audio int16), built on first use."""
    path = cache_file(f"digit_strings-v{DIGITS_CACHE_VERSION}.npz")
    cached = read_npz(path)
    if cached is not None and len(cached.get("train_labels", ())) == TRAIN_STRINGS + TTS_STRINGS:
        return cached
    _require_synthesisers("digit_strings")
    held_out = set(held_out_variants())
    train_variants = [v for v in VARIANTS if v not in held_out]
    rng = np.random.default_rng(DIGITS_SEED + 1)
    arrays = {}
    for split, count, variants in (
        ("train", TRAIN_STRINGS, train_variants),
        ("test", TEST_STRINGS, sorted(held_out, key=str.lower)),
    ):
        audio, labels, voices = _synthetic_split(rng, count, variants)
        arrays.update(
            {f"{split}_audio": audio, f"{split}_labels": labels, f"{split}_voice": voices}
        )
    # The flite/festival strings come after the espeak-ng ones, from their own seed, so the
    # espeak-ng splits (and the held-out test voices) are exactly those of v1.
    audio, labels, voices = _tts_split(np.random.default_rng(DIGITS_SEED + 3), TTS_STRINGS)
    for key, extra in (("audio", audio), ("labels", labels), ("voice", voices)):
        arrays[f"train_{key}"] = np.concatenate([arrays[f"train_{key}"], extra])
    save_npz_atomic(path, arrays)
    return arrays


def real_digit_recordings():
    """{digit: trimmed 8 kHz float32 waveform} of the asterisk digits 0..9."""
    if not DIGIT_SOUNDS.exists():
        raise DatasetMissingError(
            f"The asterisk digit recordings are missing ({DIGIT_SOUNDS}). "
            f"Install them with: {INSTALL_ASTERISK}"
        )
    return {d: trim_silence(to_8k(*read_wav(DIGIT_SOUNDS / f"{d}.wav"))) for d in range(10)}


def load_real_digit_strings(count=REAL_STRINGS, with_boundaries=False):
    """REAL test strings from the asterisk digit recordings (never trained on).

    Returns (audio float32 (count, CLIP_SAMPLES), labels int32 (count, 7)), and with
    `with_boundaries` also a list of per-string [(start_s, end_s)] word boundaries (where
    each digit's trimmed recording was placed).
    """
    recordings = real_digit_recordings()
    rng = np.random.default_rng(DIGITS_SEED + 2)
    labels = _labels(rng, count)
    audio, boundaries = [], []
    for row in labels:
        pieces = [np.zeros(int(rng.integers(160, 481)), "float32")]
        position, words = len(pieces[0]), []
        for k, label in enumerate(row[row > 0]):
            if k:
                gap = np.zeros(int(rng.integers(160, 641)), "float32")
                pieces.append(gap)
                position += len(gap)
            word = recordings[int(label) - 1]
            pieces.append(word)
            words.append((position / 8000, (position + len(word)) / 8000))
            position += len(word)
        pieces.append(np.zeros(int(rng.integers(160, 481)), "float32"))
        audio.append(_place(np.concatenate(pieces)))
        boundaries.append(words)
    audio = np.stack(audio)
    return (audio, labels, boundaries) if with_boundaries else (audio, labels)


def load_digit_strings():
    """Connected digit strings for CTC: synthetic train, held-out-voice synthetic test.

    See the module docstring; the real test strings come from `load_real_digit_strings()`.

    Example:

        data = load_digit_strings()
        data.X_train["audio"].shape, data.y_train.shape    # (4000, 44000), (4000, 7)
        digits_to_text(data.y_test[0])                       # e.g. "four two"
    """
    arrays = synthetic_digit_strings()
    as_float = lambda a: a.astype("float32") / 32767.0  # noqa: E731
    held_out = held_out_variants()
    return Dataset(
        name="digit_strings",
        task="speech_recognition",
        X_train={"audio": as_float(arrays["train_audio"])},
        y_train=arrays["train_labels"],
        X_test={"audio": as_float(arrays["test_audio"])},
        y_test=arrays["test_labels"],
        split=(
            f"{TRAIN_STRINGS} SYNTHETIC espeak-ng strings of 1..{MAX_DIGITS} digits by "
            f"{len(VARIANTS) - HELD_OUT_VOICES} voice variants and {TTS_STRINGS} by "
            f"{len(TTS_VOICES)} flite/festival voices (train); {TEST_STRINGS} espeak-ng ones by "
            f"{HELD_OUT_VOICES} HELD-OUT variants (test); {REAL_STRINGS} REAL strings built "
            "from the asterisk digit recordings (second test set, never trained on)"
        ),
        provenance={
            "source": (
                "SYNTHETIC: Debian espeak-ng (formant synthesis) speaking digit words with "
                "seeded accents, voice variants, speed and pitch, and Debian flite (kal, "
                "awb, rms, slt) and festival (kal_diphone, ked_diphone, "
                "cmu_us_slt_arctic_hts) voices (training only); REAL second test set: "
                "asterisk-core-sounds-en-wav digits/0..9.wav (en_US_f_Allison, 8 kHz)"
            ),
            "licence": (
                "synthetic tool output: espeak-ng (GPL-3.0), flite, festival and its voices "
                "(free licences, /usr/share/doc/<package>/copyright); asterisk sounds "
                "CC-BY-SA-3.0"
            ),
            "install": f"{INSTALL_ESPEAK}; {INSTALL_TTS}; {INSTALL_ASTERISK}",
            "held_out_voices": held_out,
            "sample_rate": 8000,
            "clip_samples": CLIP_SAMPLES,
            "vocabulary": ["<blank>", *DIGIT_WORDS],
            "token_separator": " ",
            "constructed": True,
        },
    )


# --- asterisk_prompts (issue 11, `asr-prompts-ctc`) -----------------------------------------
PROMPT_SOUNDS = pathlib.Path("/usr/share/asterisk/sounds/en")
PROMPT_CHARACTERS = "abcdefghijklmnopqrstuvwxyz' "
PROMPT_CLIP_SAMPLES = 32000  # 4 s at 8 kHz (about 93% of the usable prompts fit)
PROMPT_TEST_SHARE = 0.15
PROMPTS_SEED = 31
PROMPTS_CACHE_VERSION = 3
REAL_REPEATS = 2  # each real training recording appears twice in X_train (the test speaker)
VOCABULARIES["asterisk_prompts"] = (["<blank>", *PROMPT_CHARACTERS], "")


def prompt_text(transcript):
    """A prompt transcript in the 28-character vocabulary, or None when it is left out.

    Lower-cased; hyphens and slashes become spaces; other punctuation (. , ! ? " : ; and
    "...") is removed and runs of spaces are collapsed. Left out (None): descriptions in
    brackets or parentheses ("[ascending tones]", "(1 second of silence)", "at [@]"), and
    transcripts with digits or symbols (# $ * + < > = @ & %), whose spoken form is ambiguous
    ("500": "five hundred" or "five oh oh"; "#": "pound").

    Example:

        prompt_text("Please enter your password, followed by the pound key.")
        # 'please enter your password followed by the pound key'
    """
    if any(c in transcript for c in "[]()0123456789#$*+<>=@&%"):
        return None
    text = transcript.lower().replace("-", " ").replace("/", " ")
    text = "".join(c for c in text if c in PROMPT_CHARACTERS)
    text = " ".join(text.split())
    return text or None


def prompt_transcripts():
    """{prompt name: raw transcript} of the asterisk English prompts (`name: text` lines)."""
    if not PROMPT_SOUNDS.exists():
        raise DatasetMissingError(
            f"The asterisk English prompts are missing ({PROMPT_SOUNDS}). "
            f"Install them with: {INSTALL_ASTERISK}"
        )
    return asterisk_transcripts()


def _encode_text(texts):
    """int32 (n, longest) label rows: character ids 1..28, 0-padded."""
    labels = np.zeros((len(texts), max(len(t) for t in texts)), "int32")
    for row, text in enumerate(texts):
        labels[row, : len(text)] = [PROMPT_CHARACTERS.index(c) + 1 for c in text]
    return labels


def prompt_split():
    """The prompts' split: {"train": [(name, text)], "test": [...], "left_out": {reason:
    count}}. Prompts whose transcript `prompt_text` leaves out are left out; of the distinct
    transcripts of the rest, a seeded `PROMPT_TEST_SHARE` is held out whole: every recording
    of a test transcript is a test prompt, so no test transcript is ever trained on.
    (Recordings longer than `PROMPT_CLIP_SAMPLES` are dropped later, when the clips are
    built, and counted.)"""
    transcripts = prompt_transcripts()
    names = sorted(str(p.relative_to(PROMPT_SOUNDS))[:-4] for p in PROMPT_SOUNDS.rglob("*.wav"))
    kept, left_out = [], {"no transcript": 0, "transcript left out": 0, "longer than clip": 0}
    for name in names:
        if name not in transcripts:
            left_out["no transcript"] += 1
            continue
        text = prompt_text(transcripts[name])
        if text is None:
            left_out["transcript left out"] += 1
            continue
        kept.append((name, text))
    texts = sorted({text for _, text in kept})  # prompts sharing a transcript go together
    order = np.random.default_rng(PROMPTS_SEED).permutation(len(texts))
    test_texts = {texts[i] for i in order[: int(round(PROMPT_TEST_SHARE * len(texts)))]}
    return {
        "test": [(name, text) for name, text in kept if text in test_texts],
        "train": [(name, text) for name, text in kept if text not in test_texts],
        "left_out": left_out,
    }


def _prompt_audio(names):
    """(int16 clips (n, PROMPT_CLIP_SAMPLES) or None per name when too long) of recordings."""
    clips = []
    for name in names:
        waveform = trim_silence(to_8k(*read_wav(PROMPT_SOUNDS / f"{name}.wav")))
        waveform = np.concatenate([np.zeros(400, "float32"), waveform])  # 50 ms lead-in
        clips.append(_place_prompt(waveform))
    return clips


def prompt_clip(waveform):
    """An 8 kHz float32 waveform prepared as the dataset prepares its recordings (what
    `cli.py predict asr-prompts-ctc` feeds the model): silence trimmed, 50 ms of lead-in,
    RMS-normalised and zero-padded to `PROMPT_CLIP_SAMPLES` (float32 in [-1, 1]); None when
    it is longer than the clip after trimming.

    Example:

        prompt_clip(waveform).shape   # (32000,)
    """
    waveform = np.asarray(waveform, "float32")
    clip = _place_prompt(np.concatenate([np.zeros(400, "float32"), trim_silence(waveform)]))
    return None if clip is None else clip.astype("float32") / 32767.0


PREPARE_CLIP = {"asterisk_prompts": prompt_clip}  # dataset -> what predict applies to a WAV


def _place_prompt(waveform):
    if len(waveform) > PROMPT_CLIP_SAMPLES:
        return None
    clip = np.zeros(PROMPT_CLIP_SAMPLES, "float32")
    clip[: len(waveform)] = waveform
    rms = float(np.sqrt(np.mean(np.asarray(waveform, "float64") ** 2))) if len(waveform) else 0
    clip = np.clip(clip * (TARGET_RMS / max(rms, 1e-9)), -1, 1)
    return np.round(clip * 32767).astype("int16")


def _synthetic_prompts(texts, rng):
    """int16 clips and descriptions of SYNTHETIC renderings of `texts`: each text once by
    espeak-ng (seeded accent, training voice variant, speed, pitch) and once by a seeded
    flite/festival voice (`TTS_VOICES`, duration stretch, F0, tape speed). Renderings longer
    than the clip are dropped."""
    held_out = set(held_out_variants())
    variants = [v for v in VARIANTS if v not in held_out]
    espeak_jobs = [
        (
            text,
            ACCENTS[rng.integers(len(ACCENTS))],
            variants[rng.integers(len(variants))],
            int(rng.integers(130, 190)),
            int(rng.integers(*PITCH_RANGE)),
        )
        for text in texts
    ]
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        waveforms = list(pool.map(_synthesise, espeak_jobs))
    descriptions = [f"espeak-ng {j[1]}+{j[2]} s{j[3]} p{j[4]}" for j in espeak_jobs]
    requests = []
    for text in texts:
        engine, voice = TTS_VOICES[rng.integers(len(TTS_VOICES))]
        stretch, f0 = rng.uniform(0.85, 1.3), rng.uniform(*F0_RANGE)
        requests.append((engine, voice, text, stretch, f0, rng.uniform(*TAPE_RANGE)))
    tts = [None] * len(requests)
    for engine, synthesise in (("flite", _flite), ("festival", _festival)):
        chosen = [k for k, request in enumerate(requests) if request[0] == engine]
        for k, waveform in zip(chosen, synthesise([requests[k][1:5] for k in chosen])):
            tts[k] = _tape(trim_silence(waveform), requests[k][5])
    waveforms += tts
    descriptions += [f"{r[0]}:{r[1]} x{r[3]:.2f} f0 {r[4]:.0f} tape {r[5]:.2f}" for r in requests]
    clips = [_place_prompt(np.concatenate([np.zeros(400, "float32"), w])) for w in waveforms]
    return clips, descriptions, list(texts) + list(texts)


def asterisk_prompt_arrays():
    """The cached arrays of `load_asterisk_prompts` (built on first use, about a minute)."""
    path = cache_file(f"asterisk_prompts-v{PROMPTS_CACHE_VERSION}.npz")
    cached = read_npz(path)
    if cached is not None:
        return cached
    _require_synthesisers("asterisk_prompts")
    split = prompt_split()
    arrays, too_long = {}, {}
    for part in ("train", "test"):
        names = [name for name, _ in split[part]]
        clips = _prompt_audio(names)
        keep = [k for k, clip in enumerate(clips) if clip is not None]
        too_long[part] = len(clips) - len(keep)
        arrays[f"{part}_audio"] = np.stack([clips[k] for k in keep])
        arrays[f"{part}_text"] = np.array([split[part][k][1] for k in keep])
        arrays[f"{part}_source"] = np.array([f"real:{names[k]}" for k in keep])
    # Synthetic renderings of the TRAINING transcripts only (all of them, also those whose
    # real recording is too long: a faster synthetic voice may fit).
    texts = sorted({text for _, text in split["train"]})
    clips, descriptions, synthetic_texts = _synthetic_prompts(
        texts, np.random.default_rng(PROMPTS_SEED + 1)
    )
    keep = [k for k, clip in enumerate(clips) if clip is not None]
    arrays["synthetic_audio"] = np.stack([clips[k] for k in keep])
    arrays["synthetic_text"] = np.array([synthetic_texts[k] for k in keep])
    arrays["synthetic_source"] = np.array([descriptions[k] for k in keep])
    arrays["counts"] = np.array(
        [
            split["left_out"]["no transcript"],
            split["left_out"]["transcript left out"],
            too_long["train"],
            too_long["test"],
            len(clips) - len(keep),
        ]
    )
    save_npz_atomic(path, arrays)
    return arrays


def most_frequent_text(texts):
    """The most frequent of `texts` (a tie goes to the first in order): the baseline's output."""
    counts = {}
    for text in texts:
        counts[text] = counts.get(text, 0) + 1
    return max(counts, key=lambda text: counts[text])  # max keeps the first of a tie


def load_asterisk_prompts():
    """Character-level CTC recognition of the REAL asterisk English prompts.

    One speaker (Allison Smith), 8 kHz, CC-BY-SA-3.0 (Debian `asterisk-core-sounds-en-wav`),
    transcripts from `core-sounds-en.txt.gz` mapped by `prompt_text` to lower-case letters,
    apostrophe and space. The usable prompts' distinct transcripts are split (seeded): the
    test prompts are held out WHOLE and no test transcript is trained on (`prompt_split`).
    Each recording is trimmed of silence, given 50 ms of lead-in, RMS-normalised and
    zero-padded to `PROMPT_CLIP_SAMPLES` (4 s; longer recordings are left out and counted in
    provenance["left_out"]). Training adds SYNTHETIC
    renderings of the training transcripts only (espeak-ng, flite, festival); each real
    training recording appears `REAL_REPEATS` times. X is
    {"audio": (n, 32000)} float32; y int32 (n, longest) character ids 1..28 (0: padding and
    CTC's blank). The baseline (`provenance["baseline_transcript"]`) outputs the most frequent
    real training transcript for every clip; `pipelines.speech.asr_metrics` scores it.

    Example:

        data = load_asterisk_prompts()
        data.X_test["audio"].shape        # (n_test, 32000): real held-out prompts
    """
    arrays = asterisk_prompt_arrays()
    as_float = lambda a: a.astype("float32") / 32767.0  # noqa: E731
    real_train = [str(t) for t in arrays["train_text"]]
    train_text = real_train * REAL_REPEATS + [str(t) for t in arrays["synthetic_text"]]
    real_audio = [arrays["train_audio"]] * REAL_REPEATS
    test_text = [str(t) for t in arrays["test_text"]]
    counts = [int(c) for c in arrays["counts"]]
    return Dataset(
        name="asterisk_prompts",
        task="speech_recognition",
        X_train={"audio": as_float(np.concatenate([*real_audio, arrays["synthetic_audio"]]))},
        y_train=_encode_text(train_text),
        X_test={"audio": as_float(arrays["test_audio"])},
        y_test=_encode_text(test_text),
        split=(
            f"{len(real_train)} REAL training prompts (each {REAL_REPEATS} times) and "
            f"{len(arrays['synthetic_text'])} "
            "SYNTHETIC renderings of their transcripts (espeak-ng, flite, festival) (train); "
            f"{len(test_text)} REAL prompts held out whole (test; seeded, "
            f"{PROMPT_TEST_SHARE:.0%} of the distinct transcripts)"
        ),
        provenance={
            "source": (
                "REAL: asterisk-core-sounds-en-wav /usr/share/asterisk/sounds/en "
                "(en_US_f_Allison, 8 kHz, one speaker) with core-sounds-en.txt transcripts; "
                "SYNTHETIC (training only): espeak-ng, flite (kal, awb, rms, slt), festival "
                "(kal_diphone, ked_diphone, cmu_us_slt_arctic_hts) reading the training "
                "transcripts"
            ),
            "licence": (
                "asterisk sounds CC-BY-SA-3.0; synthetic tool output: espeak-ng (GPL-3.0), "
                "flite, festival and its voices (free licences)"
            ),
            "install": f"{INSTALL_ASTERISK}; {INSTALL_ESPEAK}; {INSTALL_TTS}",
            "left_out": {
                "no transcript": counts[0],
                "transcript with brackets, digits or symbols": counts[1],
                "real training recording longer than 4 s": counts[2],
                "real test recording longer than 4 s": counts[3],
                "synthetic rendering longer than 4 s": counts[4],
            },
            "sample_rate": 8000,
            "clip_samples": PROMPT_CLIP_SAMPLES,
            "vocabulary": ["<blank>", *PROMPT_CHARACTERS],
            "token_separator": "",
            "baseline_transcript": most_frequent_text(real_train),
            "constructed": False,
        },
    )

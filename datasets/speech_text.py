"""Spoken prompts and their transcripts, for speech <-> text retrieval.

Real speech: the prompts of Debian's `asterisk-core-sounds-en-wav` (one professional female
speaker, Allison Smith, 8 kHz mono WAV, CC-BY-SA-3.0) with their transcripts from
`/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz` ("path: transcript" lines).
Prompts whose transcript is a bracketed description (tones, beeps, silence) or empty are
dropped.

Fixed sizes (documented, constructed):
- Text: lowercased, cut at a word boundary to at most `MAX_CHARS` (40) characters, about
  what is said in the first 3 s; prompts with the same cut text are one "text" (group).
- Audio: leading and trailing silence trimmed, the first `CLIP_SAMPLES` (24,000 = 3 s at
  8 kHz) kept, zero-padded at the end when shorter, RMS normalised to `TARGET_RMS`.

Split (seeded): the distinct cut texts are split `TEST_FRACTION` (20%) test / 80% train with
`SEED`; the test split is one REAL recording per test text (so every test text occurs
once and retrieval among the test texts is well posed). The train split is every real
recording of a train text PLUS `SYNTHETIC_PER_TEXT` (4) SYNTHETIC clips per train text,
spoken by Debian espeak-ng (formant synthesis, not a human voice) with seeded random English
accents, voice variants, speed and pitch; only TRAIN texts are ever synthesised.

X is a dict {"audio": float32 (n, 24000) waveform in [-1, 1] at 8 kHz, "text": int32
(n, 40) character ids (see `encode_text`, 0 = padding)}; y is the int64 id of the text of
each row (rows with equal y say the same text); `all_texts()[y]` gives the strings.
The synthetic clips are cached (int16) in `$ZOO_HOME/datasets/speech_text-v1.npz`, written
atomically.

Licences: asterisk core sounds CC-BY-SA-3.0; espeak-ng GPL-3.0 (its output is synthetic
speech, not covered by the GPL).
"""

import concurrent.futures
import pathlib
import shutil

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

SEED = 31
CACHE_VERSION = 1
SAMPLE_RATE = 8000
CLIP_SAMPLES = 24000  # 3 s at 8 kHz
MAX_CHARS = 40
TARGET_RMS = 0.05
TEST_FRACTION = 0.2
SYNTHETIC_PER_TEXT = 4
SPEED_RANGE = (130, 200)
PITCH_RANGE = (20, 80)
SOUNDS = pathlib.Path("/usr/share/asterisk/sounds/en_US_f_Allison")
INSTALL_ASTERISK = "sudo apt-get install asterisk-core-sounds-en-wav asterisk-core-sounds-en"

# Character vocabulary: id 0 is padding, 1 is any other character.
ALPHABET = " abcdefghijklmnopqrstuvwxyz0123456789'.,?!-#*"
VOCABULARY_SIZE = len(ALPHABET) + 2
_IDS = {char: index + 2 for index, char in enumerate(ALPHABET)}


def encode_text(texts, length=MAX_CHARS):
    """Character ids of strings: int32 (n, length), lowercased, cut or zero-padded.

    Characters outside `ALPHABET` map to 1; 0 is padding (the model masks it).

    Example:

        encode_text(["Goodbye."])[0, :9]    # [9 17 17 6 4 27 7 7 0]... ids of "goodbye." then 0
    """
    if isinstance(texts, str):
        raise ValueError(f"texts must be a list of strings. Received: a single string {texts!r}")
    out = np.zeros((len(texts), length), "int32")
    for row, text in enumerate(texts):
        ids = [_IDS.get(char, 1) for char in str(text).lower()[:length]]
        out[row, : len(ids)] = ids
    return out


def cut_text(text, limit=MAX_CHARS):
    """Lowercases, squeezes spaces and cuts `text` at a word boundary to <= `limit` chars."""
    text = " ".join(str(text).lower().split())
    if len(text) <= limit:
        return text
    cut = text[: limit + 1].rsplit(" ", 1)[0]
    return cut if cut else text[:limit]


def cache_path():
    """`$ZOO_HOME/datasets/speech_text-v1.npz` (default `~/.cache/keras-zoo/datasets/...`)."""
    return cache_file(f"speech_text-v{CACHE_VERSION}.npz")


def _place(waveform):
    clip = np.zeros(CLIP_SAMPLES, "float32")
    waveform = waveform[:CLIP_SAMPLES]
    clip[: len(waveform)] = waveform
    rms = float(np.sqrt(np.mean(waveform.astype("float64") ** 2))) if len(waveform) else 0.0
    return np.clip(clip * (TARGET_RMS / max(rms, 1e-9)), -1, 1)


def real_prompts():
    """[(relative path, full transcript)] of the asterisk prompts with a spoken transcript."""
    if not SOUNDS.exists():
        raise DatasetMissingError(
            f"The asterisk prompts are missing ({SOUNDS}). Install them with: {INSTALL_ASTERISK}"
        )
    return sorted(
        (path, text)
        for path, text in asterisk_transcripts().items()
        if text and not text.startswith(("[", "(")) and (SOUNDS / f"{path}.wav").exists()
    )


def _read_wav(path):
    return trim_silence(to_8k(*read_wav(path)))


def split_texts():
    """(train texts, test texts): the seeded split of the distinct cut transcripts."""
    texts = sorted({cut_text(text) for _, text in real_prompts()})
    order = np.random.default_rng(SEED).permutation(len(texts))
    test_count = round(TEST_FRACTION * len(texts))
    test = sorted(texts[i] for i in order[:test_count])
    train = sorted(texts[i] for i in order[test_count:])
    return train, test


def all_texts():
    """The texts y indexes: train texts then test texts (see `split_texts`)."""
    train, test = split_texts()
    return train + test


def _synthesise(args):
    """One job (text, accent, variant, speed, pitch) -> its trimmed 8 kHz clip."""
    return espeak(*args)


def _build_synthetic(path, train_texts):
    if shutil.which("espeak-ng") is None:
        raise DatasetMissingError(f"speech_text needs espeak-ng. Install it with: {INSTALL_ESPEAK}")
    rng = np.random.default_rng(SEED + 1)
    jobs = []
    for text in train_texts:
        for _ in range(SYNTHETIC_PER_TEXT):
            jobs.append(
                (
                    text,
                    ACCENTS[rng.integers(len(ACCENTS))],
                    VARIANTS[rng.integers(len(VARIANTS))],
                    int(rng.integers(*SPEED_RANGE)),
                    int(rng.integers(*PITCH_RANGE)),
                )
            )
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        waveforms = list(pool.map(_synthesise, jobs, chunksize=16))
    arrays = {
        "audio": np.round(np.stack([_place(w) for w in waveforms]) * 32767).astype("int16"),
        "text": np.array([job[0] for job in jobs]),
        "voice": np.array([f"{job[1]}+{job[2]} s{job[3]} p{job[4]}" for job in jobs]),
    }
    save_npz_atomic(path, arrays)
    return arrays


def synthetic_clips(train_texts):
    """The cached espeak-ng clips of the TRAIN texts: {"audio", "text", "voice"}."""
    path = cache_path()
    cached = read_npz(path)  # None when missing or damaged
    texts = None if cached is None or "text" not in cached else set(cached["text"].tolist())
    if texts is not None and sorted(texts) == sorted(train_texts):
        return cached
    return _build_synthetic(path, train_texts)  # missing, damaged or stale: built anew


def load_speech_text(synthetic=True):
    """Loads the speech <-> text pairs (see the module docstring).

    Args:
        synthetic: add the espeak-ng clips of the train texts to the train split.

    Example:

        data = load_speech_text()
        data.X_test["audio"].shape, data.X_test["text"].shape   # (n, 24000), (n, 40)
    """
    prompts = real_prompts()
    train_texts, test_texts = split_texts()
    ids = {text: index for index, text in enumerate(train_texts + test_texts)}
    test_set = set(test_texts)
    real_train, real_test, seen = [], [], set()
    for path, text in prompts:
        cut = cut_text(text)
        if cut in test_set:
            if cut in seen:
                continue  # one real recording per test text
            seen.add(cut)
            real_test.append((path, cut))
        else:
            real_train.append((path, cut))
    train_audio = [_place(_read_wav(SOUNDS / f"{p}.wav")) for p, _ in real_train]
    train_text = [t for _, t in real_train]
    test_audio = np.stack([_place(_read_wav(SOUNDS / f"{p}.wav")) for p, _ in real_test])
    test_text = [t for _, t in real_test]
    real_count = len(train_text)
    if synthetic:
        clips = synthetic_clips(train_texts)
        train_audio = np.concatenate(
            [np.stack(train_audio), clips["audio"].astype("float32") / 32767.0]
        )
        train_text = train_text + clips["text"].tolist()
    else:
        train_audio = np.stack(train_audio)
    synth_note = (
        f" + {len(train_text) - real_count} SYNTHETIC espeak-ng clips "
        f"({SYNTHETIC_PER_TEXT} per train text)"
        if synthetic
        else ""
    )
    return Dataset(
        name="speech_text",
        task="retrieval",
        X_train={"audio": train_audio.astype("float32"), "text": encode_text(train_text)},
        y_train=np.array([ids[t] for t in train_text], "int64"),
        X_test={"audio": test_audio.astype("float32"), "text": encode_text(test_text)},
        y_test=np.array([ids[t] for t in test_text], "int64"),
        split=(
            f"{len(ids)} distinct transcripts (cut to {MAX_CHARS} chars) of asterisk prompts, "
            f"seeded permutation (seed {SEED}): {len(test_texts)} test texts, one REAL recording "
            f"each; train: {real_count} REAL recordings of the other {len(train_texts)} texts"
            + synth_note
        ),
        class_names=None,  # y indexes all_texts()
        provenance={
            # Character-id inputs: exports take raw strings there (pipelines/export/serving.py).
            "text_inputs": {"text": ALPHABET},
            "source": (
                "REAL prompts of Debian asterisk-core-sounds-en-wav (en_US_f_Allison, 8 kHz) "
                "with transcripts from asterisk-core-sounds-en core-sounds-en.txt.gz; audio "
                f"trimmed, first {CLIP_SAMPLES} samples (3 s), RMS {TARGET_RMS}; train split "
                "adds SYNTHETIC espeak-ng voices speaking the train transcripts only"
            ),
            "licence": (
                "asterisk core sounds CC-BY-SA-3.0; espeak-ng GPL-3.0 tool output (synthetic)"
            ),
            "install": f"{INSTALL_ASTERISK}; {INSTALL_ESPEAK}",
            "citation": "Asterisk core sounds (Digium / Allison Smith)",
            "constructed": synthetic,
        },
    )

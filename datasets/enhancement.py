"""Speech enhancement data of issue 11: real asterisk prompts mixed with constructed noise.

`load_noisy_prompts` ("noisy_prompts", speech_enhancement):
- Speech: the REAL asterisk English prompts (Debian `asterisk-core-sounds-en-wav`,
  `en_US_f_Allison`: one female speaker, 568 prompts, 8 kHz, CC-BY-SA-3.0), trimmed of
  leading and trailing silence. The prompts are split WHOLE, seeded: `TEST_FRACTION` (20%)
  of them are held out; no part of a held-out prompt is ever trained on.
- Noise: no real noise recordings install offline, so the noise is CONSTRUCTED, seeded, of
  five kinds (`NOISES`): white; pink (1/f power); brown (1/f^2, integrated white noise,
  high-passed at 20 Hz); hum (mains at 50 or 60 Hz with 2..12 harmonics of random
  amplitudes and phases, plus a little white noise); babble (3..6 other prompts of the SAME
  split summed at random offsets, so the test babble is held-out speech too).
- Mixing: clean speech is scaled to RMS `TARGET_RMS` over its own samples (the prompt, not
  the padding), the noise to the power that gives the clip's SNR relative to that
  (active-speech SNR), the sum clipped to [-1, 1].
- Clips: `CLIP_SAMPLES` (16,000 = 2 s at 8 kHz). A longer prompt gives a window (the first
  2 s in the test split, a random one in training); a shorter one is placed at a random
  offset in silence.
- Train: `TRAIN_CLIPS` clips of random training prompts, each with a random noise kind at a
  random SNR in `TRAIN_SNR_RANGE` (-5..15 dB).
- Test: every held-out prompt once, its noise kind seeded (the kinds in turn), mixed at each
  of `TEST_SNRS` (0, 5, 10 dB) with the same noise: 3 x 114 clips, in that order (all 0 dB
  clips, then 5, then 10; `provenance["test_snr_db"]` and `["test_clips_per_snr"]`);
  `held_out_clips()` names each test clip's SNR, noise kind and prompt.

X is {"audio": noisy float32 (n, 16000)}; y is the clean float32 (n, 16000) (the target).
The clips are cached (int16) in `$ZOO_HOME/datasets/noisy_prompts-v1.npz`.
"""

import pathlib

import numpy as np

from datasets.audio import SAMPLE_RATE, read_wav, to_8k, trim_silence
from datasets.base import Dataset, DatasetMissingError, cache_file, read_npz, save_npz_atomic

SOUNDS = pathlib.Path("/usr/share/asterisk/sounds/en_US_f_Allison")
INSTALL_ASTERISK = "sudo apt-get install asterisk-core-sounds-en-wav"
CLIP_SAMPLES = 16000  # 2 s at 8 kHz
TARGET_RMS = 0.05
TEST_FRACTION = 0.2
TRAIN_CLIPS = 2400
TRAIN_SNR_RANGE = (-5.0, 15.0)
TEST_SNRS = (0, 5, 10)
NOISES = ("white", "pink", "brown", "hum", "babble")
SEED = 11
CACHE_VERSION = 1


def prompt_paths():
    """The asterisk English prompt files (sorted relative paths without ".wav")."""
    if not SOUNDS.exists():
        raise DatasetMissingError(
            f"The asterisk prompts are missing ({SOUNDS}). Install them with: {INSTALL_ASTERISK}"
        )
    return sorted(str(path.relative_to(SOUNDS))[:-4] for path in SOUNDS.rglob("*.wav"))


def split_prompts(names):
    """(train names, test names): a seeded split of whole prompts, `TEST_FRACTION` held out."""
    order = np.random.default_rng(SEED).permutation(len(names))
    count = int(round(TEST_FRACTION * len(names)))
    test = sorted(names[i] for i in order[:count])
    train = sorted(names[i] for i in order[count:])
    return train, test


def _read(name):
    return trim_silence(to_8k(*read_wav(SOUNDS / f"{name}.wav"))).astype("float32")


def _rms(x):
    return float(np.sqrt(np.mean(np.asarray(x, "float64") ** 2))) if len(x) else 0.0


def _window(speech, rng, first):
    """(clip, speech mask) of `CLIP_SAMPLES`: a window of a long prompt (the first one when
    `first`), a short prompt at a random offset in silence."""
    clip, active = np.zeros(CLIP_SAMPLES, "float32"), np.zeros(CLIP_SAMPLES, bool)
    if len(speech) >= CLIP_SAMPLES:
        start = 0 if first else int(rng.integers(0, len(speech) - CLIP_SAMPLES + 1))
        clip[:] = speech[start : start + CLIP_SAMPLES]
        active[:] = True
    else:
        offset = int(rng.integers(0, CLIP_SAMPLES - len(speech) + 1))
        clip[offset : offset + len(speech)] = speech
        active[offset : offset + len(speech)] = True
    return clip * (TARGET_RMS / max(_rms(clip[active]), 1e-9)), active


def _coloured(rng, exponent):
    """Gaussian noise whose power falls as 1/f**exponent (0 white, 1 pink, 2 brown)."""
    spectrum = np.fft.rfft(rng.standard_normal(CLIP_SAMPLES))
    frequencies = np.fft.rfftfreq(CLIP_SAMPLES, 1 / SAMPLE_RATE)
    gain = np.where(frequencies >= 20.0, np.maximum(frequencies, 20.0) ** (-exponent / 2), 0.0)
    return np.fft.irfft(spectrum * gain, CLIP_SAMPLES)


def make_noise(kind, rng, speeches):
    """One `CLIP_SAMPLES` noise of `kind` (one of `NOISES`), unit RMS.

    `speeches` are the trimmed prompts babble is drawn from (those of the clip's split).
    """
    if kind in ("white", "pink", "brown"):
        noise = _coloured(rng, NOISES.index(kind))
    elif kind == "hum":
        t = np.arange(CLIP_SAMPLES) / SAMPLE_RATE
        mains = rng.choice([50.0, 60.0]) * rng.uniform(0.99, 1.01)
        noise = np.zeros(CLIP_SAMPLES)
        for harmonic in range(1, int(rng.integers(2, 13)) + 1):
            amplitude = rng.uniform(0.1, 1.0) / harmonic**0.5
            noise += amplitude * np.sin(2 * np.pi * mains * harmonic * t + rng.uniform(0, 6.3))
        noise = noise / max(_rms(noise), 1e-9) + 0.05 * rng.standard_normal(CLIP_SAMPLES)
    elif kind == "babble":
        noise = np.zeros(CLIP_SAMPLES)
        for _ in range(int(rng.integers(3, 7))):
            speech = speeches[int(rng.integers(len(speeches)))]
            talker = np.resize(speech, max(len(speech), CLIP_SAMPLES))  # looped when short
            start = int(rng.integers(0, len(talker) - CLIP_SAMPLES + 1))
            part = talker[start : start + CLIP_SAMPLES]
            noise += part / max(_rms(part), 1e-9) * rng.uniform(0.5, 1.0)
    else:
        raise ValueError(f"kind must be one of {NOISES}. Received: kind={kind!r}")
    return (noise / max(_rms(noise), 1e-9)).astype("float32")


def mix(clean, active, noise, snr_db):
    """`clean` + `noise` scaled to `snr_db` below the active speech's power, in [-1, 1]."""
    scale = _rms(clean[active]) / max(_rms(noise), 1e-9) / 10 ** (snr_db / 20)
    return np.clip(clean + scale * noise, -1.0, 1.0).astype("float32")


def _build():
    names = prompt_paths()
    train_names, test_names = split_prompts(names)
    speech = {name: _read(name) for name in names}
    train_speech = [speech[n] for n in train_names]
    test_speech = [speech[n] for n in test_names]
    rng = np.random.default_rng(SEED + 1)
    arrays = {"train_clean": [], "train_noisy": [], "train_snr": [], "train_noise": []}
    for _ in range(TRAIN_CLIPS):
        clean, active = _window(train_speech[int(rng.integers(len(train_speech)))], rng, False)
        kind = NOISES[int(rng.integers(len(NOISES)))]
        snr = float(rng.uniform(*TRAIN_SNR_RANGE))
        arrays["train_clean"].append(clean)
        arrays["train_noisy"].append(mix(clean, active, make_noise(kind, rng, train_speech), snr))
        arrays["train_snr"].append(snr)
        arrays["train_noise"].append(kind)
    rng = np.random.default_rng(SEED + 2)
    test = [
        (_window(test_speech[k], rng, True), NOISES[k % len(NOISES)])
        for k in range(len(test_names))
    ]
    noises = [make_noise(kind, rng, test_speech) for _, kind in test]
    for key in ("test_clean", "test_noisy", "test_snr", "test_noise", "test_prompt"):
        arrays[key] = []
    for snr in TEST_SNRS:
        for ((clean, active), kind), noise, name in zip(test, noises, test_names):
            arrays["test_clean"].append(clean)
            arrays["test_noisy"].append(mix(clean, active, noise, snr))
            arrays["test_snr"].append(snr)
            arrays["test_noise"].append(kind)
            arrays["test_prompt"].append(name)
    out = {}
    for key, values in arrays.items():
        if key.endswith(("clean", "noisy")):
            out[key] = np.round(np.clip(np.stack(values), -1, 1) * 32767).astype("int16")
        else:
            out[key] = np.asarray(values)
    return out


def noisy_prompt_arrays():
    """The cached clips: {"train_clean", "train_noisy" (int16), "train_snr", "train_noise",
    "test_clean", "test_noisy", "test_snr", "test_noise", "test_prompt"}, built on first use."""
    path = cache_file(f"noisy_prompts-v{CACHE_VERSION}.npz")
    cached = read_npz(path)
    if cached is not None and len(cached.get("train_snr", ())) == TRAIN_CLIPS:
        return cached
    arrays = _build()
    save_npz_atomic(path, arrays)
    return arrays


def load_noisy_prompts():
    """Real asterisk prompts in constructed noise, prompts held out whole (module docstring).

    Example:

        data = load_noisy_prompts()
        data.X_train["audio"].shape, data.y_train.shape    # (2400, 16000), (2400, 16000)
        data.provenance["test_snr_db"]                     # [0, 5, 10]
    """
    arrays = noisy_prompt_arrays()
    as_float = lambda a: a.astype("float32") / 32767.0  # noqa: E731
    held_out = len(set(arrays["test_prompt"].tolist()))
    return Dataset(
        name="noisy_prompts",
        task="speech_enhancement",
        X_train={"audio": as_float(arrays["train_noisy"])},
        y_train=as_float(arrays["train_clean"]),
        X_test={"audio": as_float(arrays["test_noisy"])},
        y_test=as_float(arrays["test_clean"]),
        split=(
            f"asterisk prompts split whole, seeded: {held_out} held out (test, each at "
            f"{', '.join(map(str, TEST_SNRS))} dB SNR), the rest give {TRAIN_CLIPS} training "
            f"clips at random SNRs in {TRAIN_SNR_RANGE[0]:g}..{TRAIN_SNR_RANGE[1]:g} dB"
        ),
        provenance={
            "source": (
                "REAL speech: asterisk-core-sounds-en-wav (en_US_f_Allison, one female "
                "speaker, 8 kHz); CONSTRUCTED noise (seeded): white, pink, brown, mains hum, "
                "babble of other prompts of the same split"
            ),
            "licence": "asterisk sounds CC-BY-SA-3.0 (Digium, Allison Smith)",
            "install": INSTALL_ASTERISK,
            "sample_rate": SAMPLE_RATE,
            "clip_samples": CLIP_SAMPLES,
            "noises": list(NOISES),
            "test_snr_db": list(TEST_SNRS),
            "test_clips_per_snr": held_out,
            "test_noise_order": "held-out prompt k (sorted by name) gets NOISES[k % 5]",
            "constructed": True,
        },
    )


def held_out_clips():
    """{"snr_db", "noise", "prompt"}: one entry per test clip, in the order of X_test."""
    arrays = noisy_prompt_arrays()
    return {
        "snr_db": arrays["test_snr"].astype("int64"),
        "noise": [str(k) for k in arrays["test_noise"]],
        "prompt": [str(p) for p in arrays["test_prompt"]],
    }

"""Audio helpers shared by the speech loaders (`av_mnist`, `speech_text`).

Everything works on mono float32 waveforms in [-1, 1]: reading 16-bit PCM WAV (a file or
espeak-ng's stdout), resampling to the zoo's 8 kHz, trimming silence, and synthesising a
clip with Debian's espeak-ng (formant synthesis, GPL-3.0; its output is not covered by the
GPL) in one of its English accents and voice variants; and reading the asterisk prompts'
transcripts (`asterisk_transcripts`).

Example:

    waveform = trim_silence(to_8k(*read_wav("digits/7.wav")))   # any 16-bit mono WAV
    clip = espeak("seven", accent="en-gb", variant="Alex", speed=150, pitch=50)
"""

import gzip
import pathlib
import subprocess
import wave

import numpy as np

from datasets.base import DatasetMissingError

SAMPLE_RATE = 8000  # every clip of the zoo is 8 kHz mono
ESPEAK_RATE = 22050  # espeak-ng's output rate
INSTALL_ESPEAK = "sudo apt-get install espeak-ng"
ASTERISK_TRANSCRIPTS = pathlib.Path("/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz")
INSTALL_ASTERISK_TRANSCRIPTS = "sudo apt-get install asterisk-core-sounds-en"
# espeak-ng's English accents (`espeak-ng --voices=en`).
ACCENTS = (
    "en-us",
    "en-gb",
    "en-gb-scotland",
    "en-gb-x-gbclan",
    "en-gb-x-rp",
    "en-gb-x-gbcwmd",
    "en-029",
    "en-us-nyc",
)
# espeak-ng's voice variants (`espeak-ng --voices=variant`), sorted case-insensitively.
VARIANTS = tuple(
    sorted(
        """adam Alex Alicia Andrea Andy Annie antonio aunty belinda benjamin boris caleb david
    Demonic Denis Diogo ed edward edward2 Gene Gene2 gustave announcer Henrique Hugo iven
    iven2 iven3 iven4 Jacky john kaukovalta Lee linda marcelo Marco Mario max Michael michel
    miguel Mike Mr Nguyen pablo paul pedro quincy RicishayMax RicishayMax2 RicishayMax3 rob
    robert robosoft robosoft2 robosoft3 robosoft4 robosoft5 robosoft6 robosoft7 robosoft8
    steph steph2 steph3 Storm Tweaky UniRobot zac anika anikaRobot AnxiousAndy fast f2 f3
    f4 f5 whisperf grandpa klatt klatt2 klatt3 klatt4 klatt5 klatt6 m2 m3 m4 m5 m6 m7
    norbert sandro shelby travis victor whisper m8 f1 croak m1 grandma""".split(),
        key=str.lower,
    )
)


def parse_wav_bytes(data):
    """float32 samples in [-1, 1) of a 16-bit mono PCM WAV byte string.

    Reads everything after the "data" chunk header, so a stream whose chunk sizes are 0
    (espeak-ng's `--stdout`) parses too; an odd trailing byte is dropped.

    Raises:
        ValueError: when `data` has no "data" chunk.

    Example:

        stdout = subprocess.run(["espeak-ng", "--stdout", "hi"], capture_output=True).stdout
        parse_wav_bytes(stdout)   # float32 samples at 22,050 Hz
    """
    start = data.find(b"data")
    if start < 0:
        raise ValueError(
            f"data must be a WAV byte string with a 'data' chunk. Received: {len(data)} bytes "
            f"starting {bytes(data[:12])!r}"
        )
    payload = data[start + 8 :]
    return np.frombuffer(payload[: len(payload) // 2 * 2], dtype="<i2").astype("float32") / 32768.0


def read_wav(path):
    """(float32 samples in [-1, 1), sample rate) of a 16-bit mono PCM WAV file.

    Raises:
        ValueError: when the file is not 16-bit PCM.
    """
    with wave.open(str(path), "rb") as file:
        rate, width = file.getframerate(), file.getsampwidth()
        raw = file.readframes(file.getnframes())
    if width != 2:
        raise ValueError(f"{path}: expected 16-bit PCM. Received: {8 * width}-bit")
    return np.frombuffer(raw, dtype="<i2").astype("float32") / 32768.0, rate


def to_8k(waveform, rate):
    """`waveform` sampled at `rate` Hz, resampled (polyphase, scipy) to 8 kHz float32.

    A waveform already at 8 kHz is returned as it is.
    """
    from scipy.signal import resample_poly

    if rate == SAMPLE_RATE:
        return waveform
    divisor = np.gcd(rate, SAMPLE_RATE)
    return resample_poly(waveform, SAMPLE_RATE // divisor, rate // divisor).astype("float32")


def trim_silence(waveform, threshold=0.02):
    """Drops leading and trailing samples whose magnitude is at most `threshold` of the peak.

    An all-silent waveform is returned as it is.

    Example:

        trim_silence(np.array([0.0, 0.5, -1.0, 0.01], "float32"))   # [0.5, -1.0]
    """
    loud = np.flatnonzero(np.abs(waveform) > threshold * max(np.abs(waveform).max(), 1e-9))
    return waveform[loud[0] : loud[-1] + 1] if len(loud) else waveform


def espeak(text, accent, variant, speed, pitch):
    """`text` spoken by espeak-ng: a trimmed 8 kHz float32 waveform.

    Args:
        text: what is said.
        accent: an espeak-ng voice, e.g. one of `ACCENTS`.
        variant: an espeak-ng voice variant, e.g. one of `VARIANTS`.
        speed: words per minute (espeak-ng `-s`).
        pitch: 0..99 (espeak-ng `-p`).
    """
    command = [
        "espeak-ng",
        "-v",
        f"{accent}+{variant}",
        "-s",
        str(speed),
        "-p",
        str(pitch),
        "--stdout",
        text,
    ]
    result = subprocess.run(command, capture_output=True, check=True)
    return trim_silence(to_8k(parse_wav_bytes(result.stdout), ESPEAK_RATE))


def asterisk_transcripts():
    """{prompt name: transcript} of the asterisk English prompts, as written in Debian's
    `core-sounds-en.txt.gz` ("name: transcript" lines; ";" starts a comment), unfiltered."""
    if not ASTERISK_TRANSCRIPTS.exists():
        raise DatasetMissingError(
            f"The asterisk prompt transcripts are missing ({ASTERISK_TRANSCRIPTS}). "
            f"Install them with: {INSTALL_ASTERISK_TRANSCRIPTS}"
        )
    transcripts = {}
    with gzip.open(ASTERISK_TRANSCRIPTS, "rt", encoding="utf-8", errors="replace") as file:
        for line in file:
            if line.startswith(";") or ":" not in line:
                continue
            name, text = line.split(":", 1)
            transcripts[name.strip()] = text.strip()
    return transcripts

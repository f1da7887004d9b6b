"""The shared audio helpers (datasets.audio) on WAVs written here: no data package needed."""

import io
import wave

import numpy as np
import pytest

from datasets import audio


def _wav_bytes(samples, rate=8000, width=2):
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(width)
        file.setframerate(rate)
        file.writeframes(samples.tobytes())
    return buffer.getvalue()


def test_parse_wav_bytes_reads_pcm_even_with_zero_chunk_sizes():
    samples = np.array([0, 16384, -32768, 32767, -1], "<i2")
    data = _wav_bytes(samples)
    expected = samples.astype("float32") / 32768.0
    np.testing.assert_array_equal(audio.parse_wav_bytes(data), expected)
    # espeak-ng's --stdout writes 0 for the RIFF and data sizes: only the header position counts.
    start = data.find(b"data")
    zeroed = data[:4] + b"\0\0\0\0" + data[8 : start + 4] + b"\0\0\0\0" + data[start + 8 :]
    np.testing.assert_array_equal(audio.parse_wav_bytes(zeroed), expected)
    # An odd trailing byte (a truncated stream) is dropped.
    np.testing.assert_array_equal(audio.parse_wav_bytes(data + b"\x01"), expected)


def test_parse_wav_bytes_without_data_chunk_names_it():
    with pytest.raises(ValueError, match="'data' chunk. Received: 5 bytes"):
        audio.parse_wav_bytes(b"hello")


def test_read_wav_returns_samples_and_rate(tmp_path):
    samples = np.array([1000, -2000, 3000], "<i2")
    path = tmp_path / "clip.wav"
    path.write_bytes(_wav_bytes(samples, rate=22050))
    waveform, rate = audio.read_wav(path)
    assert rate == 22050 and waveform.dtype == np.float32
    np.testing.assert_array_equal(waveform, samples / np.float32(32768.0))


def test_read_wav_refuses_8_bit(tmp_path):
    path = tmp_path / "clip.wav"
    path.write_bytes(_wav_bytes(np.array([1, 2, 3], "u1"), width=1))
    with pytest.raises(ValueError, match="expected 16-bit PCM. Received: 8-bit"):
        audio.read_wav(path)


def test_to_8k_keeps_duration_and_pitch():
    rate = 22050
    t = np.arange(rate) / rate  # 1 s of a 440 Hz tone
    resampled = audio.to_8k(np.sin(2 * np.pi * 440 * t).astype("float32"), rate)
    assert resampled.dtype == np.float32 and len(resampled) == 8000
    spectrum = np.abs(np.fft.rfft(resampled))
    assert np.argmax(spectrum) == 440  # 1 Hz bins over 1 s
    same = np.ones(5, "float32")
    assert audio.to_8k(same, 8000) is same


def test_trim_silence_keeps_the_loud_middle():
    waveform = np.array([0.0, 0.01, 0.5, 0.0, -1.0, 0.02, 0.0], "float32")
    np.testing.assert_array_equal(audio.trim_silence(waveform), [0.5, 0.0, -1.0])
    silent = np.zeros(4, "float32")
    np.testing.assert_array_equal(audio.trim_silence(silent), silent)

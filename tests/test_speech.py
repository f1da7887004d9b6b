"""Issue 11 (speech): speaker-id, the audio augmentation layers, WAV reading, CTC training,
decoding and error rates, asr-digits-ctc's shipped weights and its CLI prediction."""

import hashlib
import os
import pathlib
import subprocess
import sys
import wave

import keras
import numpy as np
import pytest

import zoo
from datasets import speech
from pipelines import evaluation, training
from pipelines.speech import (
    ZooCTC,
    decode,
    error_rate,
    forced_align,
    frame_timing,
    load_clip,
    read_wav_file,
    silence_boundaries,
    word_boundaries,
)
from zoo.layers.audio import (
    PaddingMask,
    RandomGain,
    RandomNoise,
    RandomSpeed,
    RandomTimeShift,
    SpecAugment,
    UtteranceNormalization,
)

ROOT = pathlib.Path(__file__).resolve().parents[1]


# -- speaker-id ------------------------------------------------------------------------------


def test_japanese_vowels_split_padding_and_baseline(load_dataset):
    data = load_dataset("japanese_vowels")
    assert data.X_train.shape == (270, 29, 12) and data.X_test.shape == (370, 29, 12)
    assert sorted(np.unique(data.y_train)) == list(range(9))
    assert np.bincount(data.y_train).tolist() == [30] * 9
    real = np.any(data.X_train != 0, axis=-1)
    lengths = real.sum(axis=1)
    assert lengths.min() >= 7 and lengths.max() <= 29
    assert all(real[i, : lengths[i]].all() for i in range(len(real)))  # padding only at the end
    baseline = data.provenance["baseline_metrics"]["baseline_accuracy"]
    assert 0.85 < baseline < 0.97
    # DTW of an utterance with itself is 0; the distance is symmetric.
    d = speech.dtw_distances(data.X_train[:3], lengths[:3], data.X_train[:3], lengths[:3])
    np.testing.assert_allclose(np.diag(d), 0.0, atol=1e-9)
    np.testing.assert_allclose(d, d.T, rtol=1e-9)


def test_speaker_id_beats_the_dtw_baseline(load_dataset):
    data = load_dataset("japanese_vowels")
    metrics = evaluation.report("speaker-id", zoo.get("speaker-id"), data)
    assert metrics["accuracy"] >= 0.97
    assert metrics["accuracy"] > metrics["baseline_accuracy"]


def test_padding_mask_marks_real_frames():
    raw = np.zeros((2, 4, 3), "float32")
    raw[0, :2] = 1.0
    raw[1, :3] = -0.5
    layer = PaddingMask()
    features = np.ones((2, 4, 5), "float32")
    np.testing.assert_array_equal(np.asarray(layer([raw, features])), features)
    mask = np.asarray(layer.compute_mask([raw, features]))
    assert mask.tolist() == [[True, True, False, False], [True, True, True, False]]


# -- augmentation ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def waveforms():
    rng = np.random.default_rng(0)
    x = (0.1 * np.sin(np.arange(8000) / 7.0) * rng.uniform(0.5, 1.5, (4, 1))).astype("float32")
    x[:, 6000:] = 0.0  # padding
    return x


@pytest.mark.parametrize(
    "layer",
    [RandomNoise, RandomGain, RandomTimeShift, RandomSpeed],
    ids=lambda c: c.__name__,
)
def test_waveform_augmentations_are_seeded_and_training_only(layer, waveforms):
    a, b = layer(seed=3), layer(seed=3)
    np.testing.assert_array_equal(np.asarray(a(waveforms)), waveforms)  # inference: identity
    out_a, out_b = np.asarray(a(waveforms, training=True)), np.asarray(b(waveforms, training=True))
    np.testing.assert_array_equal(out_a, out_b)  # same seed, same draw
    assert out_a.shape == waveforms.shape and not np.allclose(out_a, waveforms)
    again = layer.from_config(a.get_config())
    assert again.get_config() == a.get_config()


def test_noise_snr_and_gain_ranges(waveforms):
    noisy = np.asarray(RandomNoise(snr_db=(10.0, 10.0), seed=1)(waveforms, training=True))
    noise = noisy - waveforms
    loud = waveforms[:, :6000]
    snr = 10 * np.log10((loud**2).mean(1) / (noise[:, :6000] ** 2).mean(1))
    np.testing.assert_allclose(snr, 10.0, atol=0.5)
    assert (noise[:, 6000:] == 0).all()  # padding stays silent
    gained = np.asarray(RandomGain(gain_db=(-6.0, 6.0), seed=1)(waveforms, training=True))
    ratio = np.abs(gained[:, :100]).sum(1) / np.abs(waveforms[:, :100]).sum(1)
    assert ((ratio >= 10 ** (-6 / 20) - 1e-4) & (ratio <= 10 ** (6 / 20) + 1e-4)).all()


def test_time_shift_and_speed_move_the_signal(waveforms):
    x = np.zeros((1, 100), "float32")
    x[0, 50] = 1.0
    shifted = np.asarray(RandomTimeShift(max_shift=10, seed=2)(x, training=True))
    assert shifted.sum() == pytest.approx(1.0) and abs(int(np.argmax(shifted)) - 50) <= 10
    ramp = np.arange(100, dtype="float32")[None, :] / 100
    fast = np.asarray(RandomSpeed(factor=(2.0, 2.0), seed=2)(ramp, training=True))
    np.testing.assert_allclose(fast[0, :50], ramp[0, ::2], atol=1e-6)
    assert (fast[0, 50:] == 0).all()


def test_fitted_speed_and_shift_never_cut_the_signal():
    x = np.zeros((3, 100), "float32")
    x[:, 10:90] = 1.0
    x[1] = 0.0  # silent clip: unchanged
    slow = np.asarray(RandomSpeed(factor=(0.5, 0.5), fit=True, seed=1)(x, training=True))
    assert (slow[[0, 2], 98] > 0).all() and (slow[1] == 0).all()  # slowed only to x0.9
    shift = np.asarray(RandomTimeShift(max_shift=50, fit=True, seed=1)(x, training=True))
    np.testing.assert_allclose(shift[[0, 2]].sum(1), 80.0, atol=1e-4)
    assert (shift[1] == 0).all()
    assert RandomSpeed(fit=True).get_config()["fit"] is True


def test_utterance_normalization_ignores_padding_and_channel_offsets():
    rng = np.random.default_rng(0)
    x = np.full((2, 30, 8), -60.0, "float32")  # the mel floor: padding
    x[:, :20] = rng.normal(-20.0, 5.0, (2, 20, 8))
    shifted = x.copy()
    shifted[:, :20] += np.linspace(-10, 10, 8)  # a fixed spectral tilt on the active frames
    layer = UtteranceNormalization(floor=-60.0)
    out, out_shifted = np.asarray(layer(x)), np.asarray(layer(shifted))
    np.testing.assert_allclose(out[:, :20].mean(1), 0.0, atol=1e-4)
    np.testing.assert_allclose(out[:, :20].std(axis=(1, 2)), 1.0, atol=1e-3)
    np.testing.assert_allclose(out_shifted[:, :20], out[:, :20], atol=1e-3)
    assert UtteranceNormalization.from_config(layer.get_config()).floor == -60.0


def test_specaugment_masks_bands():
    x = np.ones((8, 40, 20), "float32")
    out = np.asarray(
        SpecAugment(freq_masks=1, freq_width=5, time_masks=1, time_width=6, seed=0)(
            x, training=True
        )
    )
    masked = out == 0
    freq = masked.all(axis=1).sum(axis=1)  # whole channels masked per example
    time = masked.all(axis=2).sum(axis=1)
    assert (freq <= 5).all() and (time <= 6).all() and masked.any()
    np.testing.assert_array_equal(np.asarray(SpecAugment()(x)), x)


@pytest.mark.parametrize(
    "build, match",
    [
        (lambda: RandomNoise(snr_db=(30, 5)), "snr_db"),
        (lambda: RandomGain(gain_db=3), "gain_db"),
        (lambda: RandomTimeShift(max_shift=-1), "max_shift"),
        (lambda: RandomSpeed(factor=(0.0, 1.0)), "factor"),
        (lambda: SpecAugment(time_masks=1.5), "time_masks"),
        (lambda: zoo.get("asr-digits-ctc", weights=None, augment=("reverb",)), "augment"),
    ],
)
def test_augmentation_arguments_are_checked(build, match):
    with pytest.raises(ValueError, match=match):
        build()


# -- decoding and error rates ----------------------------------------------------------------


def test_greedy_and_beam_decoding():
    # frames: 1 1 blank 1 2 -> [1, 1, 2]
    best = [1, 1, 0, 1, 2]
    probs = np.full((1, 5, 3), 0.05, "float32")
    probs[0, np.arange(5), best] = 0.9
    log_probs = np.log(probs / probs.sum(-1, keepdims=True))
    assert decode(log_probs) == [[1, 1, 2]]
    assert decode(log_probs, strategy="beam_search", beam_width=4) == [[1, 1, 2]]
    with pytest.raises(ValueError, match="strategy"):
        decode(log_probs, strategy="viterbi")
    with pytest.raises(ValueError, match="shape"):
        decode(log_probs[0])


def test_error_rates():
    assert error_rate(["one two three"], ["one three"]) == pytest.approx(1 / 3)
    assert error_rate(["one two", "five"], ["one two", "five six"]) == pytest.approx(1 / 3)
    assert error_rate(["abc"], ["abd"], unit="char") == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="same length"):
        error_rate(["a"], [])
    with pytest.raises(ValueError, match="unit"):
        error_rate(["a"], ["a"], unit="phone")


# -- WAV reading -----------------------------------------------------------------------------


def _write_pcm(path, samples, rate, width=2):
    samples = np.atleast_2d(np.asarray(samples, "float64").T).T  # (n, channels)
    scale = {1: 127, 2: 32767, 3: 8388607}[width]
    ints = np.round(samples * scale).astype("int32")
    if width == 1:
        payload = (ints + 128).astype("uint8").tobytes()
    elif width == 2:
        payload = ints.astype("<i2").tobytes()
    else:
        payload = b"".join(int(v).to_bytes(3, "little", signed=True) for v in ints.ravel())
    with wave.open(str(path), "wb") as file:
        file.setnchannels(samples.shape[1])
        file.setsampwidth(width)
        file.setframerate(rate)
        file.writeframes(payload)


def _write_float(path, samples, rate):
    samples = np.atleast_2d(np.asarray(samples, "float32").T).T
    channels = samples.shape[1]
    data = samples.astype("<f4").tobytes()
    fmt = (
        (3).to_bytes(2, "little")
        + channels.to_bytes(2, "little")
        + rate.to_bytes(4, "little")
        + (rate * 4 * channels).to_bytes(4, "little")
        + (4 * channels).to_bytes(2, "little")
        + (32).to_bytes(2, "little")
    )
    body = b"WAVE" + b"fmt " + len(fmt).to_bytes(4, "little") + fmt
    body += b"data" + len(data).to_bytes(4, "little") + data
    path.write_bytes(b"RIFF" + len(body).to_bytes(4, "little") + body)


@pytest.mark.parametrize("rate", [8000, 16000, 22050, 44100])
@pytest.mark.parametrize("kind", ["pcm16", "float32", "stereo16", "pcm24", "pcm8"])
def test_wav_files_of_any_common_format_load_at_8k(tmp_path, rate, kind):
    seconds = 0.5
    t = np.arange(int(rate * seconds)) / rate
    tone = 0.5 * np.sin(2 * np.pi * 440 * t)
    path = tmp_path / "clip.wav"
    if kind == "float32":
        _write_float(path, tone, rate)
    elif kind == "stereo16":
        _write_pcm(path, np.stack([tone, tone], -1), rate)
    else:
        _write_pcm(path, tone, rate, width={"pcm16": 2, "pcm24": 3, "pcm8": 1}[kind])
    samples, got_rate = read_wav_file(path)
    assert got_rate == rate and samples.shape[1] == (2 if kind == "stereo16" else 1)
    np.testing.assert_allclose(samples[:, 0], tone, atol=0.01)
    clip = load_clip(path, max_samples=8000)
    assert clip.shape == (8000,) and clip.dtype == np.float32
    assert (clip[4000:] == 0).all()  # 0.5 s of audio, zero-padded
    np.testing.assert_allclose(np.abs(clip[100:3900]).max(), 0.5, atol=0.03)


def test_bad_wav_input_is_refused_clearly(tmp_path):
    with pytest.raises(ValueError, match="not found"):
        load_clip(tmp_path / "missing.wav")
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunkjunk" + bytes(40))
    with pytest.raises(ValueError, match="corrupt"):
        load_clip(corrupt)
    text = tmp_path / "notes.wav"
    text.write_text("this is not audio at all, just some text to fill a few bytes up")
    with pytest.raises(ValueError, match="not a WAV"):
        load_clip(text)
    empty = tmp_path / "empty.wav"
    _write_pcm(empty, np.zeros(0), 8000)
    with pytest.raises(ValueError, match="no audio samples"):
        load_clip(empty)
    short = tmp_path / "short.wav"
    _write_pcm(short, np.zeros(400), 8000)
    with pytest.raises(ValueError, match="too short"):
        load_clip(short)
    long = tmp_path / "long.wav"
    _write_pcm(long, np.zeros(16000), 8000)
    with pytest.raises(ValueError, match="too long for the model"):
        load_clip(long, max_samples=8000)
    stereo = tmp_path / "stereo.wav"
    _write_pcm(stereo, np.zeros((8000, 2)), 8000)
    with pytest.raises(ValueError, match="expected mono"):
        load_clip(stereo, mix_stereo=False)


# -- CTC training and asr-digits-ctc ---------------------------------------------------------


@pytest.fixture(scope="module")
def digit_data():
    return speech.load_digit_strings()


def test_digit_strings_are_built_as_documented(digit_data):
    data = digit_data
    train_count = speech.TRAIN_STRINGS + speech.TTS_STRINGS
    assert data.X_train["audio"].shape == (train_count, speech.CLIP_SAMPLES)
    assert data.X_test["audio"].shape == (speech.TEST_STRINGS, speech.CLIP_SAMPLES)
    # The synthetic test split is exactly the one of the first version (comparable bars).
    arrays = speech.synthetic_digit_strings()
    digest = hashlib.sha256(arrays["test_audio"].tobytes()).hexdigest()[:16]
    assert digest == "b7995e49b5a615aa"
    lengths = (data.y_train > 0).sum(1)
    assert lengths.min() == 1 and lengths.max() == speech.MAX_DIGITS
    held_out = set(speech.held_out_variants())
    assert len(held_out) >= 20
    voices = arrays["train_voice"]
    train_voices = {voice.split("+")[1].split(" ")[0] for voice in voices[: speech.TRAIN_STRINGS]}
    assert not train_voices & held_out
    tts = {voice.split(" ")[0] for voice in voices[speech.TRAIN_STRINGS :]}
    assert tts == {f"{engine}:{name}" for engine, name in speech.TTS_VOICES}
    audio, labels, bounds = speech.load_real_digit_strings(count=5, with_boundaries=True)
    assert audio.shape == (5, speech.CLIP_SAMPLES)
    assert [len(b) for b in bounds] == (labels > 0).sum(1).tolist()
    assert speech.digits_to_text([3, 1, 0]) == "two zero"


def test_ctc_estimator_trains_a_few_steps_and_checks_y(digit_data):
    X = {"audio": digit_data.X_train["audio"][:16]}
    y = digit_data.y_train[:16]
    ctc = ZooCTC("asr-digits-ctc", epochs=1, batch_size=8, random_state=0, model__filters=16)
    ctc.fit(X, y)
    assert np.isfinite(ctc.history_["loss"]).all()
    decoded = ctc.predict({"audio": X["audio"][:2]})
    assert len(decoded) == 2 and all(isinstance(row, list) for row in decoded)
    with pytest.raises(ValueError, match="label ids"):
        ZooCTC("asr-digits-ctc", epochs=1).fit(X, y.astype("float32"))
    with pytest.raises(ValueError, match="at least one label"):
        ZooCTC("asr-digits-ctc", epochs=1).fit(X, np.zeros_like(y))


def test_train_run_gives_augment_to_a_builder_that_takes_it(digit_data, monkeypatch, tmp_path):
    # `--set augment=...` is the builder's waveform augmentations here, not an image policy:
    # an unknown one reaches the builder and is refused there, before any training.
    monkeypatch.setattr(training.datasets, "load", lambda name: digit_data)
    with pytest.raises(ValueError, match="`augment` names augmentations"):
        training.train_run(
            "asr-digits-ctc", epochs=1, out=str(tmp_path), overrides={"augment": ("reverb",)}
        )


# Issue 11's bars: wer <= 0.05 (held-out synthetic voices) and wer_real <= 0.20 (real strings);
# the shipped weights meet both (zoo/cards/asr-digits-ctc.md).
WER_FLOOR, WER_REAL_FLOOR = 0.05, 0.20


def test_asr_digits_ctc_error_rates_and_manifest(digit_data):
    metrics = evaluation.report("asr-digits-ctc", zoo.get("asr-digits-ctc"), digit_data)
    assert metrics["wer"] <= WER_FLOOR, metrics
    assert metrics["wer_real"] <= WER_REAL_FLOOR, metrics
    assert metrics["wer_beam"] <= metrics["wer"] + 0.01
    recorded = zoo.weights.read_manifest()["asr-digits-ctc"]["metrics"]
    for key, value in metrics.items():
        assert value == pytest.approx(recorded[key], abs=1e-4), key


def test_cli_predict_prints_the_transcript(tmp_path):
    audio, labels = speech.load_real_digit_strings(count=2)
    paths = []
    for row in range(2):
        path = tmp_path / f"clip{row}.wav"
        length = int(np.flatnonzero(audio[row])[-1]) + 1
        _write_pcm(path, audio[row, :length], 8000)
        paths.append(str(path))
    result = subprocess.run(
        [sys.executable, "cli.py", "predict", "asr-digits-ctc", *paths],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.strip().splitlines()
    assert [line.split("\t")[0] for line in lines] == paths
    assert all(set(line.split("\t")[1].split()) <= set(speech.DIGIT_WORDS) for line in lines)


def test_asr_model_output_is_per_frame_log_probabilities():
    model = zoo.get("asr-digits-ctc", weights=None)
    out = np.asarray(model.predict(np.zeros((1, speech.CLIP_SAMPLES), "float32"), verbose=0))
    assert out.shape[-1] == 11 and out.shape[1] == 138
    np.testing.assert_allclose(np.exp(out).sum(-1), 1.0, atol=1e-5)
    assert keras.backend.backend() in ("tensorflow", "jax", "torch")


# -- forced alignment (issue 11, time alignment) ---------------------------------------------


def test_forced_align_finds_the_best_path_through_a_repeated_label():
    # 7 frames, classes blank/1/2. Greedy reads "1 2" (frames 1-4 then 5); the known
    # transcript "1 1 2" must put a blank between the two 1s: frame 3 (the cheapest one).
    p = np.array(
        [
            [0.7, 0.2, 0.1],
            [0.2, 0.7, 0.1],
            [0.3, 0.6, 0.1],
            [0.45, 0.5, 0.05],
            [0.2, 0.7, 0.1],
            [0.1, 0.1, 0.8],
            [0.8, 0.1, 0.1],
        ]
    )
    spans, score = forced_align(np.log(p), [1, 1, 2, 0, 0])  # trailing padding dropped
    assert spans == [(1, 2), (4, 4), (5, 5)]
    assert score == pytest.approx(np.log(0.7 * 0.7 * 0.6 * 0.45 * 0.7 * 0.8 * 0.8))
    assert decode(np.log(p)[None]) == [[1, 2]]
    # Two frames of "1 1" need the blank between: only three frames can hold it.
    spans, score = forced_align(np.log(p[:3]), [1, 1])
    assert spans == [(0, 0), (2, 2)] and score == pytest.approx(np.log(0.2 * 0.2 * 0.6))
    # An empty transcript: the all-blank path.
    assert forced_align(np.log(p), []) == ([], pytest.approx(np.log(p[:, 0]).sum()))
    words = word_boundaries([(1, 2), (4, 4)], 0.04)
    np.testing.assert_allclose(words, [(0.04, 0.12), (0.16, 0.2)])
    claimed = word_boundaries([(1, 2), (4, 4)], 0.04, claim_blanks=True)
    np.testing.assert_allclose(claimed, [(0.0, 0.12), (0.12, 0.2)])


@pytest.mark.parametrize(
    "log_probs, labels, match",
    [
        (np.zeros((2, 3)), [1, 1], "label_ids: 2 labels with 1 adjacent repeats need at least 3"),
        (np.zeros((4, 3)), [1, 2, 1, 2, 2], "need at least 6 frames; log_probs has 4"),
        (np.zeros((4, 3)), [3], "label_ids must be in 1..2"),
        (np.zeros((4, 3)), [1, 0, 2], "label_ids must be in 1..2"),
        (np.zeros((4, 3)), [[1]], "label_ids must be a 1-D"),
        (np.zeros((4, 3)), [1.5], "label_ids must be a 1-D sequence of integer"),
        (np.zeros((1, 4, 3)), [1], "log_probs must be one clip's"),
        (np.full((4, 3), np.nan), [1], "must not contain NaN"),
    ],
)
def test_forced_align_refuses_bad_input(log_probs, labels, match):
    with pytest.raises(ValueError, match=match):
        forced_align(log_probs, labels)


def test_shipped_model_aligns_real_strings_inside_their_words():
    model = zoo.get("asr-digits-ctc")
    assert frame_timing(model) == (0.04, 0.0)  # 80-sample hop x two stride-2 convolutions
    audio, labels, truth = speech.load_real_digit_strings(count=3, with_boundaries=True)
    log_probs = np.asarray(model.predict(audio, verbose=0))
    for lp, row, words, waveform in zip(log_probs, labels, truth, audio):
        spans, score = forced_align(lp, row)
        assert len(spans) == len(words) and np.isfinite(score)
        # Every word's label frames lie inside the true word (one 40 ms frame of slack) ...
        for (start, end), (first, last) in zip(words, spans):
            assert start - 0.04 <= (first + last + 1) / 2 * 0.04 <= end + 0.04
        # ... and with the blanks before them, words start within 0.2 s on average.
        aligned = word_boundaries(spans, 0.04, claim_blanks=True)
        assert np.mean([abs(a[0] - t[0]) for a, t in zip(aligned, words)]) < 0.2
        assert len(silence_boundaries(waveform, len(words))) == len(words)


# -- asr-prompts-ctc: character-level CTC on the real asterisk prompts -------------------------


@pytest.fixture(scope="module")
def prompt_data():
    return speech.load_asterisk_prompts()


def test_prompt_transcripts_map_to_the_character_vocabulary():
    assert speech.prompt_text("Please enter your password, followed by the pound key.") == (
        "please enter your password followed by the pound key"
    )
    assert speech.prompt_text("That's an agent-logged off...") == "that's an agent logged off"
    for left_out in ("[ascending tones]", "press 0 for help", "(1 second of silence)", "#"):
        assert speech.prompt_text(left_out) is None
    assert speech.most_frequent_text(["b", "a", "a", "b", "c"]) == "b"  # a tie: the first
    vocabulary, separator = speech.VOCABULARIES["asterisk_prompts"]
    assert len(vocabulary) == 29 and vocabulary[0] == "<blank>" and separator == ""


def test_asterisk_prompts_hold_real_test_prompts_out_whole(prompt_data):
    data = prompt_data
    arrays = speech.asterisk_prompt_arrays()
    assert data.X_test["audio"].shape == (len(arrays["test_text"]), speech.PROMPT_CLIP_SAMPLES)
    assert all(str(s).startswith("real:") for s in arrays["test_source"])
    # No test transcript is trained on, neither as a real recording nor synthesised.
    train_texts = {str(t) for t in arrays["train_text"]} | {
        str(t) for t in arrays["synthetic_text"]
    }
    assert not {str(t) for t in arrays["test_text"]} & train_texts
    split = speech.prompt_split()
    assert {str(t) for t in arrays["synthetic_text"]} <= {t for _, t in split["train"]}
    assert data.y_train.shape[0] == data.X_train["audio"].shape[0]
    assert data.provenance["baseline_transcript"] in {str(t) for t in arrays["train_text"]}
    assert sum(data.provenance["left_out"].values()) > 0


def test_prompt_validation_holds_out_whole_transcripts(prompt_data):
    from pipelines.speech import transcript_validation_split

    y = prompt_data.y_train
    train_idx, val_idx = transcript_validation_split(y, 0.1, seed=0)
    assert len(train_idx) + len(val_idx) == len(y) and not set(train_idx) & set(val_idx)
    as_text = lambda rows: {row.tobytes() for row in rows}  # noqa: E731
    assert not as_text(y[train_idx]) & as_text(y[val_idx])  # no transcript on both sides
    held = len(as_text(y[val_idx])) / len(as_text(y))
    assert 0.09 < held < 0.11
    again = transcript_validation_split(y, 0.1, seed=0)[1]
    assert np.array_equal(again, val_idx)  # seeded
    assert not np.array_equal(transcript_validation_split(y, 0.1, seed=1)[1], val_idx)
    assert zoo.get_entry("asr-prompts-ctc").recipe["validation_groups"] == "transcript"


def test_prompt_clip_prepares_a_wav_as_the_dataset_prepared_it():
    from datasets.audio import read_wav, to_8k

    arrays = speech.asterisk_prompt_arrays()
    name = str(arrays["test_source"][0])[len("real:") :]
    raw = to_8k(*read_wav(speech.PROMPT_SOUNDS / f"{name}.wav"))
    silence = np.zeros(2000, "float32")  # leading and trailing silence is trimmed again
    clip = speech.prompt_clip(np.concatenate([silence, raw, silence]))
    np.testing.assert_allclose(clip, arrays["test_audio"][0] / 32767.0, atol=1e-6)
    assert speech.prompt_clip(np.ones(40000, "float32")) is None  # longer than the clip


# Issue 11's bar for asr-prompts-ctc: cer <= 0.45 on the held-out real prompts (the shipped
# weights: cer 0.3503, cer_beam 0.3434; zoo/cards/asr-prompts-ctc.md).
CER_PROMPTS_FLOOR = 0.45


def test_asr_prompts_ctc_error_rates_beat_the_baseline(prompt_data):
    metrics = evaluation.report("asr-prompts-ctc", zoo.get("asr-prompts-ctc"), prompt_data)
    assert metrics["cer"] <= CER_PROMPTS_FLOOR, metrics
    assert metrics["cer_beam"] <= metrics["cer"], metrics
    assert metrics["cer"] < metrics["baseline_cer"], metrics
    recorded = zoo.weights.read_manifest()["asr-prompts-ctc"]["metrics"]
    for key, value in metrics.items():
        assert value == pytest.approx(recorded[key], abs=1e-4), key


def test_transcribe_files_joins_characters_and_refuses_bad_input(tmp_path):
    from pipelines.speech import transcribe_files

    model = zoo.get("asr-prompts-ctc")
    arrays = speech.asterisk_prompt_arrays()
    clip = arrays["test_audio"][0].astype("float32") / 32767.0
    path = tmp_path / "prompt.wav"
    _write_pcm(path, clip[: int(np.flatnonzero(clip)[-1]) + 1], 8000)
    vocabulary, separator = speech.VOCABULARIES["asterisk_prompts"]
    [(name, text)] = transcribe_files(model, [str(path)], vocabulary, separator)
    assert name == str(path) and set(text) <= set(speech.PROMPT_CHARACTERS) and text
    prepare = speech.PREPARE_CLIP["asterisk_prompts"]  # what cli.py predict applies
    [(_, prepared)] = transcribe_files(model, [str(path)], vocabulary, separator, prepare=prepare)
    assert set(prepared) <= set(speech.PROMPT_CHARACTERS) and prepared
    long = tmp_path / "long.wav"
    _write_pcm(long, np.zeros(40000), 8000)
    with pytest.raises(ValueError, match="too long for the model"):
        transcribe_files(model, [str(long)], vocabulary, separator)
    with pytest.raises(ValueError, match="too long for the model"):
        transcribe_files(model, [str(long)], vocabulary, separator, prepare=prepare)
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF....WAVEjunk" * 4)
    with pytest.raises(ValueError, match="corrupt WAV"):
        transcribe_files(model, [str(corrupt)], vocabulary, separator)

"""Issue 11 (speech enhancement): the STFT layers, the noisy_prompts data, SI-SDR, training
on a tiny slice, exports, the CLI (WAV in, WAV out) and speech-enhance's shipped weights
against tuned spectral subtraction."""

import wave

import keras
import numpy as np
import pytest

import cli
import zoo
from datasets import enhancement
from pipelines.export import export_model
from pipelines.speech import (
    NegativeSISDR,
    ZooEnhancer,
    si_sdr,
    spectral_subtraction,
    tune_spectral_subtraction,
)
from zoo.layers.stft import STFT, InverseSTFT, LogPower

# The bar: at 5 dB SNR the model's SI-SDR gain beats spectral subtraction's by 3 dB.
MARGIN_DB = 3.0


@pytest.fixture(scope="module")
def data(load_dataset):
    return load_dataset("noisy_prompts")


def _write_wav(path, samples, rate, channels=1):
    pcm = np.round(np.clip(samples, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as file:
        file.setnchannels(channels)
        file.setsampwidth(2)
        file.setframerate(rate)
        file.writeframes(pcm.tobytes())


def test_stft_matches_numpy_and_inverts_exactly():
    x = np.random.default_rng(0).normal(0.0, 0.1, (2, 2048)).astype("float32")
    spectrum = np.asarray(STFT(256, 128)(x))
    assert spectrum.shape == (2, 17, 258)
    window = np.sqrt(0.5 - 0.5 * np.cos(2 * np.pi * np.arange(256) / 256))
    reference = np.fft.rfft(np.pad(x[1], 128)[384:640] * window)  # frame 3
    np.testing.assert_allclose(spectrum[1, 3, :129], reference.real, atol=1e-4)
    np.testing.assert_allclose(spectrum[1, 3, 129:], reference.imag, atol=1e-4)
    back = np.asarray(InverseSTFT(256, 128, 2048)(spectrum))
    np.testing.assert_allclose(back, x, atol=1e-5)
    layer = InverseSTFT.from_config(InverseSTFT(64, 32, 512, name="i").get_config())
    assert (layer.frame_length, layer.hop, layer.length) == (64, 32, 512)
    power = np.asarray(LogPower()(np.concatenate([spectrum, np.zeros_like(spectrum)])))
    np.testing.assert_allclose(power[2:], 0.0, atol=1e-4)  # a silent clip: zeros, not NaN
    np.testing.assert_allclose(np.asarray(LogPower()(3 * spectrum)), power[:2], atol=1e-4)
    with pytest.raises(ValueError, match="hop must be"):
        STFT(256, 64)


def test_a_mask_of_ones_gives_the_input_back():
    model = zoo.get("speech-enhance", weights=None, clip_samples=2048, filters=8)
    mask = model.get_layer("mask")
    kernel, bias = mask.get_weights()
    mask.set_weights([np.zeros_like(kernel), np.full_like(bias, 40.0)])  # sigmoid(40) = 1
    x = np.random.default_rng(1).normal(0.0, 0.05, (2, 2048)).astype("float32")
    np.testing.assert_allclose(model.predict(x, verbose=0), x, atol=1e-5)
    with pytest.raises(ValueError, match="clip_samples must be a multiple"):
        zoo.get("speech-enhance", weights=None, clip_samples=2000)


def test_noisy_prompts_hold_prompts_out_whole_at_the_stated_snrs(data):
    names = enhancement.prompt_paths()
    train, test = enhancement.split_prompts(names)
    assert len(names) == 568 and not set(train) & set(test) and len(test) == 114
    clips = enhancement.held_out_clips()
    assert set(clips["prompt"]) == set(test)
    assert data.X_train["audio"].shape == (enhancement.TRAIN_CLIPS, 16000)
    assert data.X_test["audio"].shape == data.y_test.shape == (342, 16000)
    assert clips["snr_db"].tolist() == np.repeat([0, 5, 10], 114).tolist()
    assert set(clips["noise"]) == set(enhancement.NOISES)
    # The same clean clip at 0, 5 and 10 dB; the SNR is the active speech's over the noise's.
    np.testing.assert_array_equal(data.y_test[:114], data.y_test[228:])
    for row in (3, 114 + 40, 228 + 77):
        clean, noise = data.y_test[row], data.X_test["audio"][row] - data.y_test[row]
        speech = np.flatnonzero(clean)
        active = slice(speech[0], speech[-1] + 1)  # the prompt (silence only around it)
        snr = 10 * np.log10(np.mean(clean[active] ** 2) / np.mean(noise**2))
        assert snr == pytest.approx(clips["snr_db"][row], abs=0.3)
    for kind in enhancement.NOISES:
        noise = enhancement.make_noise(kind, np.random.default_rng(0), [data.y_test[0]])
        assert noise.shape == (16000,) and np.sqrt(np.mean(noise**2)) == pytest.approx(1, abs=1e-3)
    with pytest.raises(ValueError, match="kind must be one of"):
        enhancement.make_noise("rain", np.random.default_rng(0), [])


def test_si_sdr_and_its_loss_agree():
    rng = np.random.default_rng(2)
    clean = rng.normal(0, 1, (3, 4000)).astype("float32")
    estimate = (2.0 * clean + rng.normal(0, 0.1, clean.shape)).astype("float32")
    values = si_sdr(clean, estimate)
    assert values == pytest.approx([26.0] * 3, abs=0.3)  # 10 log10(2**2 / 0.1**2)
    loss = np.asarray(NegativeSISDR()(clean, estimate))
    assert float(loss) == pytest.approx(-values.mean(), abs=1e-3)
    with pytest.raises(ValueError, match="same shape"):
        si_sdr(clean, estimate[:, :10])


def test_enhancer_trains_on_a_tiny_slice_and_checks_y(data):
    X = {"audio": data.X_train["audio"][:16]}
    y = data.y_train[:16]
    enhancer = ZooEnhancer("speech-enhance", epochs=1, batch_size=8, random_state=0)
    enhancer.set_params(model__filters=8, model__dilations=(1, 2))
    enhancer.fit(X, y)
    assert np.isfinite(enhancer.history_["loss"]).all()
    assert enhancer.predict({"audio": X["audio"][:2]}).shape == (2, 16000)
    with pytest.raises(ValueError, match="float array"):
        ZooEnhancer("speech-enhance", epochs=1).fit(X, (y * 100).astype("int32"))
    with pytest.raises(ValueError, match="16000 samples"):
        ZooEnhancer("speech-enhance", epochs=1).fit(X, y[:, :800])


def test_spectral_subtraction_is_tuned_on_the_given_clips(data):
    noisy, clean = data.X_train["audio"][:12], data.y_train[:12]
    settings = tune_spectral_subtraction(noisy, clean, rounds=1)
    assert set(settings) == {"over_subtraction", "floor", "percentile"}
    out = spectral_subtraction(noisy, **settings)
    assert out.shape == noisy.shape
    assert si_sdr(clean, out).mean() > si_sdr(clean, noisy).mean()


def test_shipped_weights_beat_spectral_subtraction_by_3_db(data):
    """The manifest's figures meet the bar, and the shipped file still scores them on the
    5 dB clips (the baseline with its recorded, training-tuned settings)."""
    recorded = zoo.weights.read_manifest()["speech-enhance"]["metrics"]
    assert recorded["si_sdr_gain_db"] >= recorded["baseline_si_sdr_gain_db"] + MARGIN_DB
    rows = slice(114, 228)  # the 5 dB clips
    noisy, clean = data.X_test["audio"][rows], data.y_test[rows]
    before = si_sdr(clean, noisy)
    model = zoo.get("speech-enhance")
    gain = np.mean(si_sdr(clean, model.predict(noisy, batch_size=38, verbose=0)) - before)
    assert gain == pytest.approx(recorded["si_sdr_gain_db"], abs=1e-3)
    settings = {
        key: recorded[f"baseline_{key}"] for key in ("over_subtraction", "floor", "percentile")
    }
    baseline = np.mean(si_sdr(clean, spectral_subtraction(noisy, **settings)) - before)
    assert baseline == pytest.approx(recorded["baseline_si_sdr_gain_db"], abs=1e-3)


def test_cli_predict_writes_an_enhanced_wav(data, tmp_path, capsys):
    # 3 s of a held-out noisy clip pair at 16 kHz stereo: resampled, cut into two pieces.
    from scipy.signal import resample_poly

    noisy = np.concatenate([data.X_test["audio"][120], data.X_test["audio"][121, :8000]])
    stereo = np.repeat(resample_poly(noisy, 2, 1)[:, None], 2, axis=1)
    source, out = tmp_path / "noisy.wav", tmp_path / "clean.wav"
    _write_wav(source, stereo, 16000, channels=2)
    assert cli.main(["predict", "speech-enhance", str(source), "--out", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    with wave.open(str(out), "rb") as file:
        assert (file.getframerate(), file.getsampwidth(), file.getnchannels()) == (8000, 2, 1)
        assert file.getnframes() == 24000
    errors = {
        "give --out FILE.wav": [str(source)],
        "one WAV file": [str(source), str(source), "--out", str(out)],
        "too short": [str(_short(tmp_path)), "--out", str(out)],
        "corrupt WAV": [str(_corrupt(tmp_path)), "--out", str(out)],
    }
    for message, args in errors.items():
        assert cli.main(["predict", "speech-enhance", *args]) == 2
        assert message in capsys.readouterr().err


def _short(tmp_path):
    path = tmp_path / "short.wav"
    _write_wav(path, np.zeros(300), 8000)
    return path


def _corrupt(tmp_path):
    path = tmp_path / "corrupt.wav"
    path.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunkjunk" + bytes(40))
    return path


@pytest.mark.parametrize("format", ["saved_model", "onnx"])
def test_a_small_enhancer_exports_verified(tmp_path, format):
    model = zoo.get("speech-enhance", weights=None, clip_samples=1024, filters=8, dilations=(1,))
    x = np.random.default_rng(3).normal(0.0, 0.05, (2, 1024)).astype("float32")
    export_model(model, tmp_path, format=format, sample=x)  # reloads and compares
    assert keras.ops.shape(model(x)) == (2, 1024)

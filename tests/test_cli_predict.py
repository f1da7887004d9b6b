"""`python cli.py predict` on files a user may get wrong: one `error: ...` line, exit 2.

Most cases run `cli.main` in this process (the same code path as the command line, without
a TensorFlow start per case); one case runs the real command in a subprocess to check that
no traceback reaches the user.
"""

import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import cli

ROOT = pathlib.Path(__file__).resolve().parents[1]


def predict(capsys, *args):
    """(exit code, stdout, stderr) of `cli.py predict ARGS`."""
    code = cli.main(["predict", *map(str, args)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_error_line(code, err, *fragments):
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def test_good_npy_and_csv_predict_one_line_per_sample(tmp_path, capsys, breast_cancer):
    x = breast_cancer.X_test[:3]
    np.save(tmp_path / "x.npy", x)
    np.savetxt(tmp_path / "x.csv", x, delimiter=",")
    code, out, err = predict(capsys, "mlp-breast-cancer", tmp_path / "x.npy", tmp_path / "x.csv")
    assert code == 0, err
    lines = out.strip().splitlines()
    assert len(lines) == 6
    by_npy = [line.split("\t")[1:] for line in lines[:3]]
    by_csv = [line.split("\t")[1:] for line in lines[3:]]
    assert by_npy == by_csv  # the same samples, the same labels and probabilities


def _save(name, array):
    def make(directory):
        np.save(directory / name, array)
        return directory / name

    return make


def _write(name, content):
    def make(directory):
        (directory / name).write_bytes(content)
        return directory / name

    return make


def _directory(directory):
    (directory / "batch.npy").mkdir()
    return directory / "batch.npy"


BAD_FILES = {
    "empty-npy": (
        _save("x.npy", np.zeros((0, 30), "float32")),
        ["holds no samples", "(n, 30)", "Received: shape (0, 30)"],
    ),
    "zero-byte-npy": (_write("x.npy", b""), ["cannot be read as a .npy file"]),
    "wrong-width-npy": (
        _save("x.npy", np.zeros((4, 29), "float32")),
        ["expected samples of shape (n, 30)", "Received: shape (4, 29)"],
    ),
    "string-npy": (_save("x.npy", np.array(["a", "b"])), ["expected numbers", "dtype <U1"]),
    "csv-wrong-columns": (
        _write("x.csv", b"1,2,3\n4,5,6\n"),
        ["expected samples of shape (n, 30) (30 columns per row)", "Received: shape (2, 3)"],
    ),
    "empty-csv": (_write("x.csv", b""), ["cannot be read as a .csv file"]),
    "directory": (_directory, ["is a directory"]),
    "missing": (lambda directory: directory / "missing.npy", ["missing.npy: no such file"]),
    "unknown-suffix": (
        _write("x.txt", b"1"),
        ["predict reads .npy, .csv or image files", "'.txt'"],
    ),
    "image-for-features": (
        _write("x.png", b""),
        ["this input takes samples of shape (30,)", "not (height, width)"],
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_files_for_a_tabular_model(tmp_path, capsys, case):
    make, fragments = BAD_FILES[case]
    path = make(tmp_path)
    code, out, err = predict(capsys, "mlp-breast-cancer", path)
    assert_one_error_line(code, err, str(path), *fragments)
    assert out == ""


@pytest.mark.parametrize(
    "content, name", [(b"", "empty"), (b"\x89PNG\r\n\x1a\n" + b"\0" * 40, "corrupt")]
)
def test_empty_or_corrupt_png(tmp_path, capsys, content, name):
    path = tmp_path / f"{name}.png"
    path.write_bytes(content)
    code, out, err = predict(capsys, "cnn-digits", path)
    assert_one_error_line(code, err, str(path), "cannot be read as an image")
    assert out == ""


def test_good_png_predicts(tmp_path, capsys):
    from PIL import Image

    Image.fromarray(np.full((16, 16), 200, "uint8")).save(tmp_path / "digit.png")
    code, out, err = predict(capsys, "cnn-digits", tmp_path / "digit.png")
    assert code == 0, err
    (line,) = out.strip().splitlines()
    # The image is resized to the model's 8x8 grayscale input: 200 everywhere.
    import zoo

    expected = zoo.get("cnn-digits").predict(np.full((1, 8, 8), 200.0, "float32"), verbose=0)[0]
    best = int(np.argmax(expected))
    assert line.split("\t") == [f"{tmp_path / 'digit.png'}[0]", str(best), f"{expected[best]:.4f}"]


def test_multi_input_files_of_different_lengths(tmp_path, capsys):
    np.save(tmp_path / "image.npy", np.zeros((3, 28, 28), "float32"))
    np.save(tmp_path / "audio.npy", np.zeros((2, 8000), "float32"))
    image, audio = f"image={tmp_path / 'image.npy'}", f"audio={tmp_path / 'audio.npy'}"
    code, out, err = predict(capsys, "av-mnist-fusion", image, audio)
    assert_one_error_line(code, err, "same number of samples", "'image': 3", "'audio': 2")


def test_directory_in_a_real_subprocess_has_no_traceback(tmp_path):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, str(ROOT / "cli.py"), "predict", "mlp-breast-cancer", str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    # TensorFlow's C++ start-up lines may come first; the CLI prints exactly one line.
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert errors == [f"error: {tmp_path}: is a directory; predict reads .npy, .csv or image files"]
    assert result.stderr.strip().splitlines()[-1] == errors[0]


def test_out_saves_every_output_in_full(tmp_path, capsys, breast_cancer):
    import zoo

    x = breast_cancer.X_test[:5]
    np.save(tmp_path / "a.npy", x[:2])
    np.save(tmp_path / "b.npy", x[2:])
    out = tmp_path / "outputs.npz"
    code, _, err = predict(
        capsys, "mlp-breast-cancer", tmp_path / "a.npy", tmp_path / "b.npy", "--out", out
    )
    assert code == 0, err
    with np.load(out) as saved:
        assert sorted(saved.files) == ["probabilities"]
        expected = zoo.get("mlp-breast-cancer").predict(x, verbose=0)
        np.testing.assert_allclose(saved["probabilities"], expected, atol=1e-6)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left


def test_out_must_be_an_npz(tmp_path, capsys, breast_cancer):
    np.save(tmp_path / "x.npy", breast_cancer.X_test[:1])
    code, _, err = predict(
        capsys, "mlp-breast-cancer", tmp_path / "x.npy", "--out", tmp_path / "o.txt"
    )
    assert_one_error_line(code, err, "--out must name a .npz file")

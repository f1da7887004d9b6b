"""User mistakes around train, publish, export and the weights files: one `error:` line, exit 2.

`cli.main` runs in process (the same code path as `python cli.py`, minus the ~8 s start), so
these stay cheap; tests/test_cli.py checks the subprocess path itself.
"""

import json
import os
import pathlib

import keras
import pytest

import cli
import zoo
from pipelines import training
from zoo import weights

ENTRY = "mlp-breast-cancer"


def run_cli(capsys, *args):
    """Returns (exit code, stderr) of `python cli.py ARGS`."""
    try:
        code = cli.main([str(a) for a in args])
    except SystemExit as exit:  # argparse's own usage errors
        code = exit.code
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--batch-size", "0"],
            "argument --batch-size: expected a positive integer. Received: '0'",
        ),
        (["--batch-size", "-1"], "argument --batch-size: expected a positive integer"),
        (["--epochs", "0"], "argument --epochs: expected a positive integer. Received: '0'"),
        (["--epochs", "-3"], "argument --epochs: expected a positive integer"),
    ],
)
def test_train_counts_must_be_positive(capsys, tmp_path, args, message):
    code, err = run_cli(capsys, "train", ENTRY, "--out", tmp_path, *args)
    assert code == 2 and message in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", ["train", "export"])
def test_out_must_be_a_writable_directory(capsys, tmp_path, command):
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    code, err = run_cli(capsys, command, ENTRY, "--out", a_file)
    assert code == 2 and "--out must be a directory" in err and str(a_file) in err
    # A path no one can create (a read-only or pseudo file system, even for root).
    code, err = run_cli(capsys, command, ENTRY, "--out", "/proc/zoo-out")
    assert code == 2 and "--out must be a writable directory" in err
    assert not os.path.exists("/proc/zoo-out")


def test_runs_started_in_the_same_second_get_their_own_directories(tmp_path):
    first = training._new_run_dir(tmp_path, ENTRY)
    second = training._new_run_dir(tmp_path, ENTRY)
    assert first != second and first.is_dir() and second.is_dir()


def test_a_failed_train_leaves_no_run_directory_and_restores_the_policy(monkeypatch, tmp_path):
    def fail(self, *args, **kwargs):
        assert len(list(tmp_path.iterdir())) == 1  # the run directory exists by now
        raise RuntimeError("training failed")

    monkeypatch.setattr(training.ZooClassifier, "fit", fail)
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        with pytest.raises(RuntimeError, match="training failed"):
            training.train_run(ENTRY, epochs=1, out=tmp_path, verbose=0, mixed_precision=True)
        assert keras.mixed_precision.global_policy().name == "mixed_bfloat16"  # the previous one
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert list(tmp_path.iterdir()) == []


def test_resume_refuses_what_is_not_a_run_of_the_entry(capsys, tmp_path):
    code, err = run_cli(capsys, "train", ENTRY, "--resume", tmp_path)
    assert code == 2 and "resume must be the directory of a run" in err
    (tmp_path / "config.json").write_text(json.dumps({"name": "cnn-digits"}))
    code, err = run_cli(capsys, "train", ENTRY, "--resume", tmp_path)
    assert code == 2 and "is a run of 'cnn-digits'" in err


def test_publish_needs_a_finished_run_directory(capsys, tmp_path):
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    code, err = run_cli(capsys, "publish", a_file)
    assert (
        code == 2 and "run_dir must be the directory of a finished run" in err and "a file" in err
    )
    code, err = run_cli(capsys, "publish", tmp_path)
    assert code == 2 and "not a finished run directory" in err


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "is empty"),
        ("{not json", "is not valid JSON"),
        ("[]", "must be a JSON object {name: row}. Received: a JSON list"),
        ('{"mlp-breast-cancer": {"file": "x.weights.h5"}}', "without sha256, metrics, config"),
    ],
)
def test_a_broken_manifest_is_named(capsys, monkeypatch, tmp_path, text, message):
    (tmp_path / "manifest.json").write_text(text)
    monkeypatch.setenv("ZOO_WEIGHTS_DIR", str(tmp_path))
    code, err = run_cli(capsys, "evaluate", ENTRY)
    assert code == 2 and message in err and str(tmp_path / "manifest.json") in err


@pytest.fixture
def shipped_url():
    row = weights.read_manifest()[ENTRY]
    return (weights.SHIPPED_DIR / row["file"]).as_uri(), row["sha256"]


@pytest.mark.parametrize("home", ["", "a-file"])
def test_zoo_home_must_be_a_directory(monkeypatch, tmp_path, shipped_url, home):
    if home:
        (tmp_path / home).write_text("")
        home = str(tmp_path / home)
    monkeypatch.setenv("ZOO_HOME", home)
    url, sha = shipped_url
    with pytest.raises(zoo.WeightsError, match=r"\$ZOO_HOME must name the weights cache directory"):
        zoo.get(ENTRY, weights=url, sha256=sha)


def test_a_read_only_zoo_home_is_blamed_on_the_cache(monkeypatch, shipped_url):
    monkeypatch.setenv("ZOO_HOME", "/proc/zoo-cache")  # not writable, even for root
    url, sha = shipped_url
    with pytest.raises(zoo.WeightsError, match=r"Cannot write the weights cache /proc/zoo-cache"):
        zoo.get(ENTRY, weights=url, sha256=sha)


@pytest.mark.parametrize("sha", ["../../escape", "ab" * 31 + "/.", "0" * 63])
def test_sha256_must_be_64_hex_digits(monkeypatch, tmp_path, shipped_url, sha):
    monkeypatch.setenv("ZOO_HOME", str(tmp_path / "cache"))
    url, _ = shipped_url
    with pytest.raises(zoo.WeightsError, match="sha256 must be 64 hexadecimal digits"):
        zoo.get(ENTRY, weights=url, sha256=sha)
    assert not (tmp_path / "cache").exists() and not (tmp_path / "escape").exists()
    local = pathlib.Path(url[len("file://") :])
    with pytest.raises(zoo.WeightsError, match="sha256 must be 64 hexadecimal digits"):
        zoo.get(ENTRY, weights=local, sha256=sha)


def test_mixed_precision_takes_bfloat16_or_float16(capsys, tmp_path):
    code, err = run_cli(capsys, "train", ENTRY, "--mixed-precision", "int8", "--out", tmp_path)
    assert code == 2 and "--mixed-precision" in err and "'int8'" in err
    with pytest.raises(ValueError, match=r"mixed_precision must be False.*Received: mixed_preci"):
        training.train_run(ENTRY, epochs=1, out=tmp_path, verbose=0, mixed_precision="fp8")
    assert list(tmp_path.iterdir()) == []

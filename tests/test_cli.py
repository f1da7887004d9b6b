"""The command line: every command, run as a user would, in a subprocess."""

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def cli(*args, check=True):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, str(ROOT / "cli.py"), *map(str, args)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if check:
        assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_list_is_a_table_with_the_shipped_metric():
    out = cli("list").stdout
    assert out.splitlines()[0].split() == [
        "name",
        "task",
        "parameters",
        "dataset",
        "shipped",
        "metric",
    ]
    assert any(
        line.startswith("cnn-digits ") and "accuracy 0.9" in line for line in out.splitlines()
    )
    assert cli("list", "mlp-*").stdout.count("mlp-") == 2


def test_info_shows_the_card_and_the_command():
    out = cli("info", "mlp-diabetes").stdout
    assert (
        '"task": "regression"' in out and "reproduce with: python cli.py train mlp-diabetes" in out
    )


def test_train_writes_a_run_directory(tmp_path):
    result = cli("train", "cnn-digits", "--epochs", 2, "--out", tmp_path, "--set", "dropout=0.2")
    (run_dir,) = tmp_path.iterdir()
    names = {p.name for p in run_dir.iterdir()}
    assert {
        "config.json",
        "history.csv",
        "metrics.json",
        "learning_curve.png",
        "tensorboard",
        "best.weights.h5",
        "final.weights.h5",
    } <= names
    config = json.loads((run_dir / "config.json").read_text())
    assert config["model_config"]["dropout"] == 0.2 and config["training"]["epochs"] == 2
    assert "--set dropout=0.2" in config["command"]
    assert len((run_dir / "history.csv").read_text().splitlines()) == 3
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert 0 <= metrics["best"]["accuracy"] <= 1
    assert "run directory" in result.stdout
    # The run's weights evaluate through the CLI too.
    evaluated = json.loads(
        cli("evaluate", "cnn-digits", "--weights", run_dir / "best.weights.h5").stdout
    )
    assert evaluated["accuracy"] == pytest.approx(metrics["best"]["accuracy"])


def test_evaluate_shipped_weights():
    metrics = json.loads(cli("evaluate", "mlp-breast-cancer").stdout)
    assert metrics["accuracy"] >= 0.96 and metrics["roc_auc"] >= 0.99


def test_predict_reads_npy_and_csv(tmp_path):
    import datasets

    data = datasets.load("digits")
    np.save(tmp_path / "batch.npy", data.X_test[:3])
    np.save(tmp_path / "one.npy", data.X_test[0])
    out = cli("predict", "cnn-digits", tmp_path / "batch.npy", tmp_path / "one.npy").stdout
    lines = out.strip().splitlines()
    assert len(lines) == 4
    assert lines[0].split("\t")[1] == str(data.y_test[0])
    tabular = datasets.load("diabetes")
    np.savetxt(tmp_path / "rows.csv", tabular.X_test[:2], delimiter=",")
    assert (
        len(cli("predict", "mlp-diabetes", tmp_path / "rows.csv").stdout.strip().splitlines()) == 2
    )


def test_export_both_formats(tmp_path):
    saved = json.loads(
        cli("export", "cnn-digits", "--format", "saved_model", "--out", tmp_path).stdout
    )
    assert (tmp_path / "cnn-digits" / "1" / "saved_model.pb").exists()
    assert saved["max_abs_diff"] <= 1e-5
    onnx = json.loads(cli("export", "cnn-digits", "--format", "onnx", "--out", tmp_path).stdout)
    assert pathlib.Path(onnx["path"]).exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "cnn-digits", "--epochz", "2"], "unrecognized arguments: --epochz"),
        (["train", "cnn-digits", "--set", "dropuot=0.1"], "has no argument dropuot"),
        (["train", "cnn-digits", "--set", "dropout"], "--set takes key=value"),
        (["info", "cnn-digit"], "Did you mean: cnn-digits"),
        (["evaluate", "cnn-digits", "--weights", "/nonexistent.weights.h5"], "No weights file"),
        (["export", "cnn-digits", "--format", "tflite"], "invalid choice: 'tflite'"),
    ],
)
def test_user_mistakes_are_one_line_errors(args, message):
    result = cli(*args, check=False)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr

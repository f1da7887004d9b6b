"""Training runs and publishing, in process (the CLI tests run the same code as a user)."""

import json
import pathlib

import keras
import pytest

import zoo
from pipelines import evaluation
from pipelines.training import publish_run, train_run
from zoo import weights


@pytest.fixture
def shipped_dir(monkeypatch, tmp_path):
    """Publishes into a temporary zoo/weights, leaving the real one alone."""
    directory = tmp_path / "weights"
    directory.mkdir()
    monkeypatch.setenv("ZOO_WEIGHTS_DIR", str(directory))
    return directory


def test_mixed_precision_run_is_published_in_float32(tmp_path, shipped_dir, breast_cancer):
    summary = train_run(
        "mlp-breast-cancer", epochs=2, out=tmp_path / "runs", verbose=0, mixed_precision="bfloat16"
    )
    assert keras.mixed_precision.global_policy().name == "float32"  # restored
    config = json.loads((tmp_path / "runs").glob("*/config.json").__next__().read_text())
    assert config["training"]["mixed_precision"] == "bfloat16"
    row = publish_run(summary["run_dir"])
    assert row["file"] == f"mlp-breast-cancer.{row['sha256'][:12]}.weights.h5"
    assert row["sha256"] == weights.sha256_of(shipped_dir / row["file"])
    assert row["exports_verified"] == ["saved_model", "onnx"]
    assert json.loads((shipped_dir / "manifest.json").read_text())["mlp-breast-cancer"] == row
    # What was published is what zoo.get now loads, and it scores what the row says.
    metrics = evaluation.evaluate(zoo.get("mlp-breast-cancer"), breast_cancer)
    assert metrics["accuracy"] == pytest.approx(row["metrics"]["accuracy"])


def test_unknown_override_is_refused_before_any_work(tmp_path):
    with pytest.raises(ValueError, match="has no argument widht"):
        train_run("mlp-diabetes", out=tmp_path, overrides={"widht": 3})
    assert list(tmp_path.iterdir()) == []


def test_a_recipe_without_validation_trains_on_the_whole_split(monkeypatch, tmp_path):
    entry = zoo.get_entry("mlp-breast-cancer")
    monkeypatch.setitem(entry.recipe, "validation_split", 0.0)
    summary = train_run("mlp-breast-cancer", epochs=2, out=tmp_path, verbose=0)
    run_dir = pathlib.Path(summary["run_dir"])
    assert summary["config"]["training"]["validation_split"] == 0.0
    header = (run_dir / "history.csv").read_text().splitlines()[0].split(",")
    assert "val_loss" not in header and "epoch_seconds" in header
    # No validation loss to choose by: the best checkpoint is the latest weights.
    best = (run_dir / "best.weights.h5").read_bytes()
    assert best == (run_dir / "final.weights.h5").read_bytes()
    assert summary["metrics"]["best"] == summary["metrics"]["final"]


def test_recipe_steps_per_execution_changes_speed_not_the_result(monkeypatch, breast_cancer):
    from pipelines import ZooClassifier

    def fit():
        clf = ZooClassifier("mlp-breast-cancer", epochs=2, batch_size=32, random_state=0)
        return clf.fit(breast_cancer.X_train, breast_cancer.y_train).model_

    plain = fit()
    entry = zoo.get_entry("mlp-breast-cancer")
    monkeypatch.setitem(entry.recipe, "steps_per_execution", 4)
    grouped = fit()
    expected = 1 if keras.backend.backend() == "torch" else 4  # PyTorch takes 1 only
    assert (plain.steps_per_execution, grouped.steps_per_execution) == (1, expected)
    for a, b in zip(plain.get_weights(), grouped.get_weights()):
        assert abs(a - b).max() < 1e-6

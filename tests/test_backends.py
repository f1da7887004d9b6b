"""Every entry builds, loads its shipped weights, predicts and trains on all three backends.

Each backend runs in its own process (KERAS_BACKEND is read once, at import); JAX and PyTorch
predictions must match TensorFlow's within 1e-4. In the same processes, the shipped weights
of every entry reproduce their golden outputs (tests/golden/NAME.npz, made by
tests/golden/make_golden.py) within `GOLDEN_ATOL` (absolute) on each backend, with no
dataset needed.
"""

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
GOLDEN_ATOL = 1e-4
REGENERATE = "KERAS_BACKEND=tensorflow python tests/golden/make_golden.py NAME"


def run_backend(backend, out):
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "backend_check.py"), str(out)],
        cwd=ROOT,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"backend: {backend}" in result.stdout
    with open(f"{out}.golden.json") as file:
        golden = json.load(file)
    return dict(np.load(out)), golden


def check_golden(backend, golden):
    """Every shipped entry has golden outputs, made from its current weights, reproduced."""
    import zoo

    manifest = zoo.weights.read_manifest()
    assert sorted(golden) == sorted(manifest), f"golden files vs shipped entries; {REGENERATE}"
    for name, report in golden.items():
        assert report["sha256"] == manifest[name]["sha256"], (
            f"{name}: the golden outputs were made from other weights; if the weights changed "
            f"on purpose, regenerate: {REGENERATE}"
        )
        for output, diff in report["max_abs_diff"].items():
            assert diff is not None, f"{backend}: {name} gives no output {output!r} of that shape"
            assert diff <= GOLDEN_ATOL, f"{backend}: {name}/{output} off by {diff:.3g}"


def test_golden_files_cover_the_shipped_weights():
    """Fast, in this process: one golden file per shipped entry, made from its weights."""
    import zoo

    manifest = zoo.weights.read_manifest()
    files = sorted((ROOT / "tests" / "golden").glob("*.npz"))
    assert sorted(path.stem for path in files) == sorted(manifest), REGENERATE
    for path in files:
        with np.load(path) as golden:
            assert str(golden["sha256"]) == manifest[path.stem]["sha256"], REGENERATE
            assert any(key.startswith("output/") for key in golden.files)


def test_golden_check_catches_a_drift():
    report = {"sha256": "x", "max_abs_diff": {"probabilities": 2 * GOLDEN_ATOL}}
    import zoo

    golden = {
        name: {**report, "sha256": row["sha256"]}
        for name, row in zoo.weights.read_manifest().items()
    }
    with pytest.raises(AssertionError, match="off by 0.0002"):
        check_golden("jax", golden)
    golden[next(iter(golden))]["sha256"] = "0" * 64
    with pytest.raises(AssertionError, match="made from other weights"):
        check_golden("jax", golden)


@pytest.fixture(scope="module")
def tensorflow_run(tmp_path_factory):
    return run_backend("tensorflow", tmp_path_factory.mktemp("tf") / "out.npz")


def test_golden_outputs_on_tensorflow(tensorflow_run):
    check_golden("tensorflow", tensorflow_run[1])


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_backend_matches_tensorflow_and_golden_outputs(backend, tensorflow_run, tmp_path):
    predictions, golden = run_backend(backend, tmp_path / "out.npz")
    check_golden(backend, golden)
    tensorflow_predictions = tensorflow_run[0]
    assert set(predictions) == set(tensorflow_predictions)
    for name, expected in tensorflow_predictions.items():
        # 1e-4 absolute, or 1e-5 relative for large values: float32 rounding of a CTC
        # log-probability near -31 (asr-digits-ctc, an all-but-impossible class) differs by
        # 1.4e-4 between TensorFlow and JAX.
        np.testing.assert_allclose(predictions[name], expected, atol=1e-4, rtol=1e-5, err_msg=name)

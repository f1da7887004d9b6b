"""Every entry builds, loads its shipped weights, predicts and trains on all three backends.

Each backend runs in its own process (KERAS_BACKEND is read once, at import); JAX and PyTorch
predictions must match TensorFlow's within 1e-4.
"""

import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


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
    return dict(np.load(out))


@pytest.fixture(scope="module")
def tensorflow_predictions(tmp_path_factory):
    return run_backend("tensorflow", tmp_path_factory.mktemp("tf") / "out.npz")


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_backend_matches_tensorflow(backend, tensorflow_predictions, tmp_path):
    predictions = run_backend(backend, tmp_path / "out.npz")
    assert set(predictions) == set(tensorflow_predictions)
    for name, expected in tensorflow_predictions.items():
        np.testing.assert_allclose(predictions[name], expected, atol=1e-4, err_msg=name)

"""Distributed training: several JAX processes over loopback, Ray Train, GridSearchCV on Ray,
TensorFlow's MirroredStrategy, and the command line's errors for bad combinations.

The multi-process runs train mlp-breast-cancer for 2 epochs on the first 400 training
samples (360 after the validation split: every global batch of 32 splits evenly over two
processes) and must end within 1e-5 of a one-process JAX run on the same global batches.
"""

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from helpers import weights_arrays

ROOT = pathlib.Path(__file__).resolve().parents[1]
RUN = ("train", "mlp-breast-cancer", "--backend", "jax", "--epochs", "2", "--limit", "400")


def cli(*args, tmp=None):
    """Runs cli.py in a subprocess whose temporary files go to `tmp` (checked empty after;
    None for Ray, whose socket paths must stay short)."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(ROOT)}
    env["RAY_USAGE_STATS_ENABLED"] = "0"
    if tmp is not None:
        tmp.mkdir(exist_ok=True)
        env["TMPDIR"] = str(tmp)
    return subprocess.run(
        [sys.executable, str(ROOT / "cli.py"), *map(str, args), "--quiet"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def max_difference(first, second):
    assert sorted(first) == sorted(second)
    return max(float(np.max(np.abs(first[key] - second[key]))) for key in first)


def only_run_dir(out):
    runs = [path for path in pathlib.Path(out).iterdir() if not path.name.startswith(".")]
    assert len(runs) == 1, runs
    return runs[0]


@pytest.fixture(scope="module")
def one_process_run(tmp_path_factory):
    """The reference: one JAX process on the same global batches."""
    base = tmp_path_factory.mktemp("one-process")
    result = cli(*RUN, "--out", base / "runs", tmp=base / "tmp")
    assert result.returncode == 0, result.stderr[-3000:]
    return only_run_dir(base / "runs")


@pytest.mark.slow
def test_two_local_processes_end_with_the_one_process_weights(tmp_path, one_process_run):
    result = cli(*RUN, "--local-processes", "2", "--out", tmp_path / "runs", tmp=tmp_path / "tmp")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    run_dir = only_run_dir(tmp_path / "runs")  # process 1 wrote no run directory
    assert f"run directory: {run_dir}" in result.stdout
    assert list((tmp_path / "tmp").iterdir()) == []  # logs and process 1's scratch removed
    difference = max_difference(
        weights_arrays(run_dir / "final.weights.h5"),
        weights_arrays(one_process_run / "final.weights.h5"),
    )
    assert difference < 1e-5
    config = json.loads((run_dir / "config.json").read_text())
    assert config["training"]["distribution"] == {
        "kind": "DataParallel",
        "processes": 2,
        "devices": 2,
    }
    assert "--local-processes 2" in config["command"]
    reference = np.genfromtxt(one_process_run / "history.csv", delimiter=",", names=True)
    history = np.genfromtxt(run_dir / "history.csv", delimiter=",", names=True)
    assert history.dtype.names == reference.dtype.names and len(history) == len(reference)
    for key in set(history.dtype.names) - {"epoch_seconds"}:  # wall times differ
        np.testing.assert_allclose(history[key], reference[key], atol=1e-5, err_msg=key)


@pytest.mark.slow
def test_two_ray_workers_end_with_the_one_process_weights(tmp_path, one_process_run):
    result = cli(*RUN, "--ray", "local", "--workers", "2", "--out", tmp_path / "runs")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    run_dir = only_run_dir(tmp_path / "runs")  # process 0's run, back on the driver
    assert f"run directory: {run_dir}" in result.stdout
    for name in ("config.json", "metrics.json", "history.csv", "best.weights.h5"):
        assert (run_dir / name).is_file()
    difference = max_difference(
        weights_arrays(run_dir / "final.weights.h5"),
        weights_arrays(one_process_run / "final.weights.h5"),
    )
    assert difference < 1e-5


def test_a_failing_process_is_named_with_its_log(tmp_path):
    result = cli(
        *RUN, "--local-processes", "2", "--set", "widht=3", "--out", tmp_path, tmp=tmp_path / "t"
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "of 2 failed (exit code 2); the others were stopped" in result.stderr
    assert "has no argument widht" in result.stderr  # the end of that process's log
    assert list((tmp_path / "t").iterdir()) == []


@pytest.mark.slow
def test_sigterm_stops_every_local_process(tmp_path):
    import time

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(ROOT)}
    command = [sys.executable, str(ROOT / "cli.py"), "train", "cnn-digits", "--backend", "jax"]
    command += ["--local-processes", "2", "--epochs", "200", "--quiet", "--out", str(tmp_path)]
    parent = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    children_file = pathlib.Path(f"/proc/{parent.pid}/task/{parent.pid}/children")
    try:
        deadline = time.monotonic() + 120
        children = []
        while len(children) < 2 and time.monotonic() < deadline and parent.poll() is None:
            time.sleep(0.5)
            children = [int(pid) for pid in children_file.read_text().split()]
        assert len(children) == 2
        time.sleep(2)
        parent.terminate()
        assert parent.wait(timeout=60) == 128 + 15
    finally:
        parent.kill()
    for pid in children:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)  # stopped and reaped by the parent


@pytest.mark.slow
def test_grid_search_on_ray_finds_the_local_best_params(breast_cancer):
    import joblib
    import ray
    from ray.util.joblib import register_ray
    from sklearn.model_selection import GridSearchCV

    from pipelines import ZooClassifier
    from pipelines.distributed import init_ray

    X, y = breast_cancer.X_train[:200], breast_cancer.y_train[:200]
    grid = {"learning_rate": [1e-4, 1e-2], "batch_size": [16, 64]}

    def search():
        estimator = ZooClassifier("mlp-breast-cancer", epochs=2, random_state=0)
        return GridSearchCV(estimator, grid, cv=2, n_jobs=2)

    local = search().fit(X, y)
    init_ray("local", num_cpus=2)
    try:
        register_ray()
        with joblib.parallel_backend("ray"):
            remote = search().fit(X, y)
    finally:
        ray.shutdown()
    assert remote.best_params_ == local.best_params_
    np.testing.assert_allclose(
        remote.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"], atol=1e-6
    )


def test_shard_batches_gives_each_process_its_part_of_every_global_batch():
    from pipelines.distributed import shard_batches

    dataset = tf.data.Dataset.from_tensor_slices((np.arange(21), np.arange(21) * 10)).batch(8)

    def rows(part):
        return [x.tolist() for x, _ in part.as_numpy_iterator()]

    # 21 rows in batches of 8: the last batch of 5 is cut to 4.
    assert rows(shard_batches(dataset, 2, 0)) == [[0, 1, 2, 3], [8, 9, 10, 11], [16, 17]]
    assert rows(shard_batches(dataset, 2, 1)) == [[4, 5, 6, 7], [12, 13, 14, 15], [18, 19]]
    assert rows(shard_batches(dataset, 2, None)) == [
        list(range(8)),
        list(range(8, 16)),
        [16, 17, 18, 19],
    ]
    for x, y in shard_batches(dataset, 2, 1).as_numpy_iterator():
        assert (y == x * 10).all()  # x and y stay aligned
    # A last batch smaller than the number of devices is dropped, not fed empty.
    tiny = tf.data.Dataset.from_tensor_slices(np.arange(9)).batch(8)
    assert [b.tolist() for b in shard_batches(tiny, 2, 1).as_numpy_iterator()] == [[4, 5, 6, 7]]


BAD_FLAGS = [
    (["--process-id", "1"], "--process-id needs --num-processes"),
    (["--num-processes", "2", "--process-id", "0"], "Received: no --coordinator"),
    (
        ["--num-processes", "2", "--process-id", "2", "--coordinator", "127.0.0.1:1234"],
        "--process-id must be in 0..1 (--num-processes 2). Received: --process-id 2",
    ),
    (
        ["--num-processes", "2", "--process-id", "0", "--coordinator", "localhost"],
        "--coordinator must be HOST:PORT",
    ),
    (["--coordinator", "127.0.0.1:1234"], "--coordinator needs --num-processes"),
    (["--workers", "2"], "--workers needs --ray ADDRESS"),
    (["--local-processes", "2", "--ray", "local"], "Received: --local-processes and --ray"),
    (
        ["--local-processes", "2", "--backend", "tensorflow"],
        "needs the JAX backend in Keras 3.15 (--backend jax). Received: backend 'tensorflow'",
    ),
    (
        ["--gpus", "all", "--backend", "jax"],
        "needs the TensorFlow backend (--backend tensorflow). Received: backend 'jax'",
    ),
    (
        ["--gpus", "all", "--backend", "tensorflow"],
        "Received: --gpus all with 0 GPUs",
    ),
    (
        ["--local-processes", "2", "--backend", "jax", "--resume", "runs/x"],
        "a distributed run cannot be resumed",
    ),
]


@pytest.mark.parametrize("flags, message", BAD_FLAGS, ids=lambda v: " ".join(v)[:40])
def test_bad_distribution_flags_are_named(flags, message, monkeypatch, tmp_path, capsys):
    import cli as zoo_cli

    if tf.config.list_logical_devices("GPU") and "--gpus" in flags:
        pytest.skip("this machine has GPUs: --gpus all trains")
    monkeypatch.setenv("KERAS_BACKEND", "tensorflow")  # main() sets it from --backend
    code = zoo_cli.main(["train", "mlp-breast-cancer", "--out", str(tmp_path), *flags])
    captured = capsys.readouterr()
    assert code == 2
    assert message in captured.err
    assert captured.err.startswith("error: ") and "Traceback" not in captured.err
    assert list(tmp_path.iterdir()) == []


def test_estimator_distribution_is_validated_in_fit_and_cloned(breast_cancer):
    import keras
    from sklearn.base import clone

    from pipelines import ZooClassifier

    X, y = breast_cancer.X_train[:64], breast_cancer.y_train[:64]
    data_parallel = keras.distribution.DataParallel(devices=keras.distribution.list_devices())
    estimator = ZooClassifier("mlp-breast-cancer", epochs=1, distribution=data_parallel)
    assert estimator.get_params()["distribution"] is data_parallel
    copy = clone(estimator)
    assert type(copy.distribution) is keras.distribution.DataParallel
    assert copy.distribution is not data_parallel
    with pytest.raises(ValueError, match="needs the JAX backend.*Received: distribution="):
        estimator.fit(X, y)  # the tests run on TensorFlow
    with pytest.raises(ValueError, match="distribution must be None, a keras.distribution"):
        ZooClassifier("mlp-breast-cancer", distribution="jax").fit(X, y)
    assert not hasattr(estimator, "model_")


def test_mirrored_strategy_trains_like_one_device(breast_cancer):
    """MirroredStrategy over this machine's one CPU device: the code path of `--gpus all`
    (several GPUs could not be tried here). On the same batches it gives the weights of a
    plain fit; with the estimator's reshuffled arrays the order differs from a plain fit's
    (Keras iterates a distributed dataset differently, so tf.data draws other shuffle
    seeds) but two runs agree."""
    from pipelines import ZooClassifier

    X, y = breast_cancer.X_train[:128].astype("float32"), breast_cancer.y_train[:128]
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    settings = dict(epochs=2, random_state=0)
    batches = tf.data.Dataset.from_tensor_slices((X, y)).batch(32)
    mirrored = ZooClassifier("mlp-breast-cancer", distribution=strategy, **settings).fit(batches)
    plain = ZooClassifier("mlp-breast-cancer", **settings).fit(batches)
    for a, b in zip(mirrored.model_.get_weights(), plain.model_.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-6)
    np.testing.assert_allclose(mirrored.predict_proba(X), plain.predict_proba(X), atol=1e-6)
    first, second = (
        ZooClassifier("mlp-breast-cancer", distribution=strategy, **settings).fit(X, y)
        for _ in range(2)
    )
    for a, b in zip(first.model_.get_weights(), second.model_.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_a_global_batch_must_split_evenly_over_the_devices():
    import keras

    from pipelines.distributed import check_batch_size

    mesh = keras.distribution.DeviceMesh((2,), ["batch"], ["cpu:0", "cpu:1"])
    two_devices = keras.distribution.DataParallel(device_mesh=mesh)
    check_batch_size(two_devices, 32)
    with pytest.raises(ValueError, match=r"multiple of the number of devices \(2\).*batch_size=33"):
        check_batch_size(two_devices, 33)

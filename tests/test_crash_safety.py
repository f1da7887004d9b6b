"""Crash safety: SIGKILL at random moments, concurrent publishes, and --resume.

The CLI runs in subprocesses exactly as a user runs it, on the tiny mlp-breast-cancer entry,
publishing into a temporary weights directory ($ZOO_WEIGHTS_DIR). After every kill nothing
may be torn: every .h5 loads, every JSON parses, every manifest row's sha256 matches its file.
"""

import glob
import importlib.util
import json
import os
import pathlib
import random
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from helpers import weights_arrays

ROOT = pathlib.Path(__file__).resolve().parents[1]
ENTRY = "mlp-breast-cancer"
# Kill moments per command, as fractions of its window [0.3, 1.0] x its scale x the length of
# a whole `train --publish`: one seeded draw in each half, so every command gets one moment
# early (starting up, the first epochs) and one late (checkpoints, the publish, the export's
# rename) in every run; a command already finished by then counts as not killed. Each trial
# costs one Python+TensorFlow start (~8 s).
MOMENTS = ((0.3, 0.65), (0.65, 1.0))


def _env(weights_dir):
    return {
        **os.environ,
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "PYTHONPATH": str(ROOT),
        "ZOO_WEIGHTS_DIR": str(weights_dir),
    }


def _cli(args, weights_dir):
    return subprocess.Popen(
        [sys.executable, str(ROOT / "cli.py"), *map(str, args)],
        cwd=ROOT,
        env=_env(weights_dir),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _run(args, weights_dir):
    process = _cli(args, weights_dir)
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr[-3000:]


def _kill_after(args, weights_dir, delay):
    """Starts the command, SIGKILLs it after `delay` s; True when it was killed."""
    process = _cli(args, weights_dir)
    try:
        process.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGKILL)
        process.communicate()
        return True
    stderr = process.stderr.read()
    assert process.returncode == 0, stderr[-3000:]
    return False


def _shipped_dir(tmp_path):
    """A temporary weights directory holding the shipped manifest and the entry's file."""
    from zoo import weights

    directory = tmp_path / "weights"
    directory.mkdir()
    shutil.copyfile(weights.MANIFEST_PATH, directory / "manifest.json")
    row = json.loads(weights.MANIFEST_PATH.read_text())[ENTRY]
    shutil.copyfile(weights.SHIPPED_DIR / row["file"], directory / row["file"])
    return directory


def _check_nothing_torn(root, weights_dir, model):
    """Every file a killed command may have written is whole."""
    from zoo import weights

    for path in pathlib.Path(root).rglob("*"):
        if not path.is_file() or ".zootmp" in path.name or "tensorboard" in path.parts:
            continue
        if path.name.endswith(".weights.h5") and path.parent != weights_dir:
            model.load_weights(path)
        elif path.suffix == ".json":
            json.loads(path.read_text())
        elif path.suffix == ".npz":
            with np.load(path) as backup:
                json.loads(str(backup["state"]))
        elif path.suffix == ".png":
            import matplotlib.image

            matplotlib.image.imread(path)
        elif path.suffix == ".onnx":
            import onnx

            onnx.checker.check_model(onnx.load(path))
    for version in pathlib.Path(root).glob("sm/*/1"):
        assert (version / "saved_model.pb").stat().st_size > 0, version
        assert (version / "variables" / "variables.index").exists(), version
    if (pathlib.Path(root) / "sm").exists():
        assert list(pathlib.Path(root).glob("sm/*/1")), "the SavedModel version vanished"
    manifest = json.loads((weights_dir / "manifest.json").read_text())
    for name, row in manifest.items():
        if (weights_dir / row["file"]).exists() or name == ENTRY:
            assert weights.sha256_of(weights_dir / row["file"]) == row["sha256"], name
    model.load_weights(weights_dir / manifest[ENTRY]["file"])


def test_sigkill_at_random_moments_never_tears_a_file(tmp_path):
    import zoo
    from zoo import weights

    weights_dir = _shipped_dir(tmp_path)
    runs = tmp_path / "runs"
    model = zoo.get(ENTRY, weights=None)
    train = ["train", ENTRY, "--epochs", 6, "--out", runs, "--quiet"]
    start = time.monotonic()
    _run([*train, "--publish"], weights_dir)
    duration = time.monotonic() - start
    (finished,) = runs.iterdir()
    saved_model_export = ["export", ENTRY, "--format", "saved_model", "--out", tmp_path / "sm"]
    rng = random.Random(6)
    commands = {
        "train": (train, 1.0),
        "train --publish": ([*train, "--publish"], 1.0),
        "publish": (["publish", finished], 1.1),
        "export": (["export", ENTRY, "--format", "onnx", "--out", tmp_path / "exports"], 0.9),
        "export saved_model": (saved_model_export, 0.9),
    }
    # A SavedModel version already there: the re-export replaces the directory, and a kill
    # at any moment must leave the old version or the new one (an atomic exchange).
    _run(saved_model_export, weights_dir)
    killed = {}
    for label, (args, scale) in commands.items():
        killed[label] = 0
        for low, high in MOMENTS:
            delay = rng.uniform(low, high) * duration * scale
            killed[label] += _kill_after(args, weights_dir, delay)
            _check_nothing_torn(tmp_path, weights_dir, model)
    print(f"\nkill trials per command: {len(MOMENTS)}; killed (rest had finished): {killed}")
    # Whatever the killed writers left is theirs (dead process ids) and is removed: by the
    # next publish in the weights directory, by the next export beside its targets, by the
    # next run (or resume) in the run directories.
    _run(["publish", finished], weights_dir)
    for run_dir in runs.iterdir():
        weights.remove_stale_temporaries(run_dir)
    _run(commands["export"][0], weights_dir)
    _run(saved_model_export, weights_dir)
    assert not [p for p in tmp_path.rglob("*") if ".zootmp" in p.name]
    manifest = json.loads((weights_dir / "manifest.json").read_text())
    assert sorted(p.name for p in weights_dir.glob("*.weights.h5")) == sorted(
        {row["file"] for row in manifest.values()} & {p.name for p in weights_dir.iterdir()}
    )
    _check_nothing_torn(tmp_path, weights_dir, model)


PUBLISHER = """
import importlib.util, pathlib, sys
spec = importlib.util.spec_from_file_location("w", sys.argv[1])
w = importlib.util.module_from_spec(spec)
spec.loader.exec_module(w)
source = pathlib.Path(sys.argv[2])
for i in range(int(sys.argv[4])):
    for name in (f"{sys.argv[3]}-{i}", f"{sys.argv[3]}-again"):
        source.write_bytes(f"{name} {i}".encode())
        w.publish(name, source, lambda f, s: {"file": f, "sha256": s, "metrics": {}, "config": {}})
"""


def test_concurrent_publishes_lose_no_row(tmp_path):
    weights_dir = tmp_path / "weights"
    env = {**os.environ, "ZOO_WEIGHTS_DIR": str(weights_dir)}
    rounds = 30
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                PUBLISHER,
                str(ROOT / "zoo" / "weights.py"),
                str(tmp_path / f"{prefix}.bin"),
                prefix,
                str(rounds),
            ],
            env=env,
        )
        for prefix in ("a", "b")
    ]
    for process in processes:
        assert process.wait(timeout=120) == 0
    manifest = json.loads((weights_dir / "manifest.json").read_text())
    expected = {f"{p}-{i}" for p in "ab" for i in range(rounds)} | {"a-again", "b-again"}
    assert set(manifest) == expected  # 62 rows, none lost
    spec = importlib.util.spec_from_file_location("w", ROOT / "zoo" / "weights.py")
    w = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(w)
    for row in manifest.values():
        assert w.sha256_of(weights_dir / row["file"]) == row["sha256"]
    # A republished entry's old file is gone: one file per row, nothing else.
    assert {p.name for p in weights_dir.glob("*.weights.h5")} == {
        row["file"] for row in manifest.values()
    }


def _history(run_dir):
    """history.csv as one dict per epoch, without the epochs' wall times (checked > 0)."""
    import csv

    with open(run_dir / "history.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert all(float(row.pop("epoch_seconds")) > 0 for row in rows)
    return rows


@pytest.mark.parametrize("backend", ["tensorflow", "jax", "torch"])
def test_resume_after_sigkill_ends_with_the_uninterrupted_weights(tmp_path, backend):
    """Every backend: seed-generator states, optimizer state, the replayed shuffle orders
    and (PyTorch) the global generator of unseeded Dropout are all restored."""
    weights_dir = tmp_path / "weights"
    train = ["train", ENTRY, "--epochs", 8, "--quiet", "--seed", 3, "--backend", backend]
    killed_runs = tmp_path / "killed"
    process = _cli([*train, "--out", killed_runs], weights_dir)
    epoch = random.Random(f"6-{backend}").randint(1, 6)  # SIGKILL once this many are done
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        history = glob.glob(str(killed_runs / "*" / "history.csv"))
        if history and len(pathlib.Path(history[0]).read_text().splitlines()) > epoch:
            break
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.communicate()
    (run_dir,) = killed_runs.iterdir()
    assert not (run_dir / "final.weights.h5").exists()  # it was killed mid-training
    _run(["train", ENTRY, "--resume", run_dir, "--quiet", "--backend", backend], weights_dir)
    _run([*train, "--out", tmp_path / "whole"], weights_dir)
    (whole,) = (tmp_path / "whole").iterdir()
    resumed = weights_arrays(run_dir / "final.weights.h5")
    uninterrupted = weights_arrays(whole / "final.weights.h5")
    assert sorted(resumed) == sorted(uninterrupted) and resumed
    for key in resumed:
        np.testing.assert_array_equal(resumed[key], uninterrupted[key], err_msg=key)
    resumed_history, whole_history = _history(run_dir), _history(whole)
    assert resumed_history == whole_history and len(resumed_history) == 8


@pytest.mark.parametrize("stage", ["new file written", "manifest renamed"])
def test_a_publish_killed_between_its_steps_leaves_one_whole_state(monkeypatch, tmp_path, stage):
    """The two states a kill can leave, made by hand: each loads, the next publish tidies."""
    from zoo import weights

    monkeypatch.setenv("ZOO_WEIGHTS_DIR", str(tmp_path))
    old, new = tmp_path / "old.bin", tmp_path / "new.bin"
    old.write_bytes(b"old weights")
    new.write_bytes(b"new weights")
    row = lambda f, s: {"file": f, "sha256": s, "metrics": {}, "config": {}}  # noqa: E731
    weights.publish("x", old, row)
    old_file = weights.shipped_file_name("x", weights.sha256_of(old))
    new_file = weights.shipped_file_name("x", weights.sha256_of(new))
    shutil.copyfile(new, tmp_path / new_file)
    if stage == "manifest renamed":
        (tmp_path / "manifest.json").write_text(
            json.dumps({"x": row(new_file, weights.sha256_of(new))})
        )
    (tmp_path / f".{new_file}.zootmp999999999.abc{new_file}").write_bytes(b"half")
    current = weights.read_manifest()["x"]
    assert weights.sha256_of(tmp_path / current["file"]) == current["sha256"]
    assert current["file"] == (new_file if stage == "manifest renamed" else old_file)
    weights.publish("y", old, row)
    names = {p.name for p in tmp_path.iterdir() if p.name.endswith(".weights.h5")}
    assert names == {current["file"], weights.shipped_file_name("y", weights.sha256_of(old))}
    assert not [p for p in tmp_path.iterdir() if ".zootmp" in p.name]


def test_a_live_writers_temporary_file_is_left_alone(tmp_path):
    from zoo import weights

    live = tmp_path / f".a.h5.zootmp{os.getpid()}.xyz.a.h5"
    dead = tmp_path / ".a.h5.zootmp999999999.xyz.a.h5"
    live.write_text("mine")
    dead.write_text("killed")
    assert weights.remove_stale_temporaries(tmp_path) == [dead]
    assert live.exists()

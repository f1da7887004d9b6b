"""datasets.base.build_lock: one process at a time builds a cold cache."""

import subprocess
import sys

from datasets.base import build_lock

PROBE = """
import fcntl, sys
with open(sys.argv[1], "a") as handle:
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        print("held")
    else:
        print("free")
"""


def _probe(path):
    return subprocess.run(
        [sys.executable, "-c", PROBE, str(path)], capture_output=True, text=True, timeout=60
    ).stdout.strip()


def test_the_lock_excludes_other_processes_and_is_reentrant(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_HOME", str(tmp_path))
    path = tmp_path / "datasets" / ".toy.lock"
    with build_lock("toy"):
        assert _probe(path) == "held"
        with build_lock("toy"):  # a loader that loads through datasets.load again
            assert _probe(path) == "held"
        assert _probe(path) == "held"
    assert _probe(path) == "free"

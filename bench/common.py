"""Helpers shared by the benchmark scripts in bench/ (not a test module).

Every script prints the command that produced its figures, the machine it ran on, and a
markdown table. Heavy runs go under `flock /tmp/zoo-heavy.lock` (see bench/README.md).
"""

import os
import pathlib
import platform
import shlex
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = pathlib.Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import keras  # noqa: E402
import numpy as np  # noqa: E402


def command_line():
    """The command that ran this script, as a user would type it from the repo root."""
    script = os.path.relpath(os.path.abspath(sys.argv[0]), ROOT)
    args = " ".join(shlex.quote(a) for a in sys.argv[1:])
    return f"PYTHONPATH=. python {script} {args}".rstrip()


def machine():
    """One line: CPU model, cores, memory, backend and library versions."""
    model = platform.processor() or "unknown CPU"
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    memory = "?"
    try:
        with open("/proc/meminfo") as file:
            kib = int(file.readline().split()[1])
        memory = f"{kib / 2**20:.0f} GiB"
    except OSError:
        pass
    import tensorflow as tf

    return (
        f"{model}, {os.cpu_count()} cores (nproc), {memory} RAM; Python "
        f"{platform.python_version()}, keras {keras.__version__} ({keras.backend.backend()} "
        f"backend), tensorflow {tf.__version__}"
    )


def header(title):
    print(f"# {title}")
    print(f"command: {command_line()}")
    print(f"machine: {machine()}")
    print(f"date:    {time.strftime('%Y-%m-%d %H:%M:%S %Z')}")
    print(flush=True)


def table(headers, rows):
    """Prints a markdown table."""
    print("| " + " | ".join(headers) + " |")
    print("|" + "|".join("---" for _ in headers) + "|")
    for row in rows:
        print("| " + " | ".join(str(cell) for cell in row) + " |")
    print(flush=True)


def fashion_mnist():
    """The Fashion-MNIST bundle from datasets.load (raw 0..255 float32 pixels, int labels)."""
    import datasets

    return datasets.load("fashion_mnist")


class EpochTimer(keras.callbacks.Callback):
    """Records the wall time of every training epoch (seconds).

    `ZooEstimator.fit` uses its callbacks as given, so the times recorded during `fit` are
    on this object (a `sklearn.clone` of the estimator would copy it).
    """

    def __init__(self):
        super().__init__()
        self.times = []
        self._start = None

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.times.append(time.perf_counter() - self._start)


def latencies(function, x, repeats, warmup=10):
    """Seconds per call of `function(x)`: `repeats` timed calls after `warmup` untimed ones."""
    for _ in range(warmup):
        function(x)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function(x)
        times.append(time.perf_counter() - start)
    return times


def percentile(values, q):
    return float(np.percentile(np.asarray(values, "float64"), q))

"""Streaming from shards vs in memory: training throughput and peak memory as data grows.

`ZooClassifier("cnn-fashion-mnist").fit` trains on Fashion-MNIST's training split repeated
1x, 4x and 16x, (a) from NumPy arrays in memory (the whole set as float32, sliced by
`tf.data`, shuffled over the whole set) and (b) streamed from TFRecord shards written by
`pipelines.shards.prepare(..., repeat=R)` (shard order shuffled, 4 files interleaved,
a 10,000-sample shuffle buffer). Each configuration runs in its own process for a fixed
number of training steps (not whole epochs); the figures are:

- samples/s: training samples per second over the steps after `--warmup` (graph tracing and
  the in-memory shuffle buffer fill excluded), and the ratio streamed / in memory
  (target >= 0.9);
- peak RSS: the process's peak resident memory (`os.wait4` rusage `ru_maxrss` of that one
  child; the child's own /proc VmHWM agrees), target: streamed flat within 20% from 1x to
  16x while in memory grows;
- setup: seconds from the start of `fit` to the first training step (loading, shard
  verification, adapting, building the pipeline, filling the shuffle buffer).

A first section compares the read speed of the two on-disk formats the shards could use,
TFRecord (interleaved, `parse_example` on batches) and `tf.data.Dataset.save` snapshots,
with the same shuffle/batch pipeline and no training.

    flock /tmp/zoo-heavy.lock env PYTHONPATH=. python bench/streaming.py
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
NAME = "cnn-fashion-mnist"
TRAIN_BYTES = 60_000 * 784 * 4  # Fashion-MNIST training images as float32


def table(headers, rows):
    """A markdown table (as `common.table`, without importing Keras into this process)."""
    print("| " + " | ".join(headers) + " |")
    print("|" + "|".join("---" for _ in headers) + "|")
    for row in rows:
        print("| " + " | ".join(str(cell) for cell in row) + " |")
    print(flush=True)


def peak_rss_mib():
    """This process's peak resident memory (VmHWM), MiB."""
    with open("/proc/self/status") as file:
        for line in file:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def child(args):
    """One configuration, in this process: prints one JSON line of figures."""
    import common
    import numpy as np

    from pipelines import ZooClassifier, shards

    class StepTimer(common.keras.callbacks.Callback):
        """Times every training step and stops training after `steps` of them."""

        def __init__(self, steps):
            super().__init__()
            self.steps = steps
            self.times = []

        def on_train_batch_end(self, batch, logs=None):
            self.times.append(time.perf_counter())
            if len(self.times) >= self.steps:
                self.model.stop_training = True

    timer = StepTimer(args.steps)
    clf = ZooClassifier(
        NAME, epochs=1, batch_size=args.batch_size, random_state=0, callbacks=[timer]
    )
    start = time.perf_counter()
    if args.child == "memory":
        fashion = common.fashion_mnist()
        X = np.tile(fashion.X_train, (args.scale, 1, 1))
        y = np.tile(fashion.y_train, args.scale)
        del fashion
        start = time.perf_counter()
        clf.fit(X, y)
        samples = len(y)
    else:
        source = shards.open_shards(args.shards_dir, shuffle_buffer=args.shuffle_buffer)
        samples = source.count("train")
        clf.fit(source)
    times = np.asarray(timer.times)
    timed = times[args.warmup :]
    rate = (len(timed) - 1) * args.batch_size / (timed[-1] - timed[0])
    print(
        json.dumps(
            {
                "mode": args.child,
                "scale": args.scale,
                "samples": samples,
                "steps": len(times),
                "samples_per_s": rate,
                "setup_s": times[0] - start,
                "vmhwm_mib": peak_rss_mib(),
            }
        ),
        flush=True,
    )


def available_bytes():
    with open("/proc/meminfo") as file:
        for line in file:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return 0


def run_child(argv):
    """Runs this script as a child; returns (its JSON figures, its peak RSS in MiB)."""
    env = {**os.environ, "PYTHONPATH": f"{ROOT}:{HERE}", "TF_CPP_MIN_LOG_LEVEL": "2"}
    import tempfile

    with tempfile.TemporaryFile(mode="w+") as err:
        process = subprocess.Popen(
            [sys.executable, __file__, *argv],
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            env=env,
        )
        out = process.stdout.read()
        # wait4 reaps this one child and returns its own resource usage (its peak RSS).
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            err.seek(0)
            raise RuntimeError(f"child {argv} failed:\n{err.read()[-3000:]}")
    return out, usage.ru_maxrss / 1024


def compare_formats(work, rounds):
    """Full passes over the 1x training set: TFRecord shards vs Dataset.save snapshots."""
    import common
    import tensorflow as tf

    from pipelines import shards

    source = shards.open_shards(work / "x1")
    files = [str(path) for path in source.files("train")]
    snapshot = work / "snapshot-x1"
    if not snapshot.exists():
        tf.data.Dataset.save(
            source.dataset("train", batch_size=1024).unbatch(),
            str(snapshot),
            shard_func=lambda x, y: tf.cast(y % len(files), tf.int64),
        )
    batch = 128

    def from_tfrecord():
        return source.dataset("train", batch_size=batch, shuffle=True, seed=0)

    def from_snapshot():
        def reader(datasets):
            datasets = datasets.shuffle(len(files), seed=1)
            return datasets.interleave(
                lambda d: d, cycle_length=4, num_parallel_calls=tf.data.AUTOTUNE
            )

        loaded = tf.data.Dataset.load(str(snapshot), reader_func=reader)
        return loaded.shuffle(10_000, seed=0).batch(batch).prefetch(tf.data.AUTOTUNE)

    rows = []
    for name, make in (
        ("TFRecord (pipelines.shards)", from_tfrecord),
        ("Dataset.save", from_snapshot),
    ):
        rates = []
        for _ in range(rounds):
            start, count = time.perf_counter(), 0
            for x, _ in make():
                count += int(x.shape[0])
            rates.append(count / (time.perf_counter() - start))
        rows.append((name, count, " / ".join(f"{r:,.0f}" for r in rates)))
    print("## On-disk format: read speed (full pass, shuffle 10,000, batch 128, no training)\n")
    common.table(["format", "samples", "samples/s per pass"], rows)


def setup(args):
    """The header, the shards of every scale (written once) and the format comparison."""
    import common

    from pipelines import shards

    sys.argv = json.loads(os.environ.get("STREAMING_BENCH_ARGV", json.dumps(sys.argv)))
    common.header("Streaming from shards vs in memory (cnn-fashion-mnist, Fashion-MNIST)")
    work = pathlib.Path(args.work)
    rows = []
    for scale in args.scales:
        start = time.perf_counter()
        result = shards.prepare(
            "fashion_mnist", out=work / f"x{scale}", validation_split=0, repeat=scale
        )
        size = sum(s["bytes"] for s in result["manifest"]["splits"]["train"]["shards"])
        count = result["manifest"]["splits"]["train"]["count"]
        shard_count = len(result["manifest"]["splits"]["train"]["shards"])
        seconds = f"{time.perf_counter() - start:.1f}"
        rows.append(
            (
                f"{scale}x",
                f"{count:,}",
                shard_count,
                f"{size / 2**20:,.0f}",
                f"{count * 784 * 4 / 2**20:,.0f}",
                seconds if result["created"] else f"{seconds} (existed: verified)",
            )
        )
    print("## Shards written (`shards.prepare('fashion_mnist', repeat=R, validation_split=0)`)\n")
    common.table(
        ["scale", "train samples", "shards", "on disk MiB (uint8)", "float32 MiB", "write s"], rows
    )
    compare_formats(work, args.format_rounds)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--steps", type=int, default=150, help="training steps per configuration")
    parser.add_argument("--warmup", type=int, default=20, help="steps left out of samples/s")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--shuffle-buffer", type=int, default=10_000)
    parser.add_argument("--format-rounds", type=int, default=3)
    parser.add_argument("--work", default="/tmp/zoo-streaming-bench", help="shard directories")
    parser.add_argument("--rounds", type=int, default=2, help="runs per configuration (best kept)")
    parser.add_argument("--child", choices=("setup", "memory", "shards"), help=argparse.SUPPRESS)
    parser.add_argument("--scale", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--shards-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "setup":
        return setup(args)
    if args.child:
        return child(args)
    os.environ["STREAMING_BENCH_ARGV"] = json.dumps(sys.argv)  # the header's command line
    out, _ = run_child(["--child", "setup", "--work", args.work, "--scales", *map(str, args.scales),
                        "--format-rounds", str(args.format_rounds)])  # fmt: skip
    print(out, flush=True)
    work = pathlib.Path(args.work)
    common_args = [
        "--steps", str(args.steps), "--warmup", str(args.warmup),
        "--batch-size", str(args.batch_size), "--shuffle-buffer", str(args.shuffle_buffer),
    ]  # fmt: skip
    results = {}
    for round_ in range(args.rounds):
        for scale in args.scales:
            for mode in ("memory", "shards"):
                argv = ["--child", mode, "--scale", str(scale), *common_args]
                need = 4 * scale * TRAIN_BYTES
                if mode == "memory" and need > available_bytes() - 2 * 2**30:
                    print(f"skipped in memory {scale}x: needs ~{need / 2**30:.0f} GiB")
                    continue
                if mode == "shards":
                    argv += ["--shards-dir", str(work / f"x{scale}")]
                out, rss = run_child(argv)
                figures = json.loads(out.strip().splitlines()[-1])
                figures["ru_maxrss_mib"] = rss
                figures["round"] = round_ + 1
                print("raw:", json.dumps(figures), flush=True)
                best = results.get((mode, scale))
                if best is None or figures["samples_per_s"] > best["samples_per_s"]:
                    results[(mode, scale)] = {
                        **figures,
                        "peak": max(rss, (best or {}).get("peak", 0)),
                    }
                else:
                    best["peak"] = max(best["peak"], rss)
    print()
    print(
        f"## Training: {args.steps} steps of batch {args.batch_size} per configuration, "
        f"samples/s over steps {args.warmup + 1}..{args.steps}, best of {args.rounds} "
        "runs; peak RSS: the largest of the runs\n"
    )
    rows = []
    skipped = {
        "samples": 0,
        "samples_per_s": float("nan"),
        "peak": float("nan"),
        "setup_s": float("nan"),
    }
    for scale in args.scales:
        memory, streamed = results.get(("memory", scale), skipped), results[("shards", scale)]
        rows.append(
            (
                f"{scale}x",
                f"{streamed['samples']:,}",
                f"{memory['samples_per_s']:,.0f}",
                f"{streamed['samples_per_s']:,.0f}",
                f"{streamed['samples_per_s'] / memory['samples_per_s']:.2f}",
                f"{memory['peak']:,.0f}",
                f"{streamed['peak']:,.0f}",
                f"{memory['setup_s']:.1f} / {streamed['setup_s']:.1f}",
            )
        )
    table(
        [
            "scale",
            "train samples",
            "in memory samples/s",
            "streamed samples/s",
            "ratio (target >= 0.9)",
            "in memory peak RSS MiB",
            "streamed peak RSS MiB",
            "setup s (memory / streamed)",
        ],
        rows,
    )
    low, high = min(args.scales), max(args.scales)
    flat = results[("shards", high)]["peak"] / results[("shards", low)]["peak"]
    grown = results.get(("memory", high), skipped)["peak"] / results[("memory", low)]["peak"]
    print(
        f"streamed peak RSS {high}x / {low}x: {flat:.2f} (target <= 1.20); in memory: {grown:.2f}"
    )


if __name__ == "__main__":
    main()

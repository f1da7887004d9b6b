"""Training samples/s in mixed bfloat16 vs float32, per backend, for a zoo entry.

Each (backend, precision) cell runs in its own process (`KERAS_BACKEND` is read at import):
`ZooClassifier(NAME)` trains on the first --samples Fashion-MNIST training images for
--epochs epochs at the recipe's batch size, under the "float32" or the "mixed_bfloat16"
policy (as `python cli.py train NAME --mixed-precision bfloat16` sets it). The figure is the
median samples/s over epochs 2..N (epoch 1 traces or compiles). The ratio bfloat16 / float32
says where the low precision pays: on CPUs it needs AVX512_BF16 or AMX (`lscpu` flags).

Run (from the repository root; heavy, ~5 min on 2 CPU cores):

    flock /tmp/zoo-heavy.lock env PYTHONPATH=. python bench/mixed_precision.py
"""

import argparse
import json
import os
import subprocess
import sys

from common import ROOT, EpochTimer, fashion_mnist, header, table  # noqa: I001 (sets sys.path)

BACKENDS = ("tensorflow", "torch", "jax")
POLICIES = ("float32", "mixed_bfloat16")


def worker(args):
    """Trains once under args.policy on this process's backend; prints a JSON line."""
    import keras
    import numpy as np

    from pipelines import ZooClassifier

    data = fashion_mnist()
    keras.mixed_precision.set_global_policy(args.policy)
    timer = EpochTimer()
    clf = ZooClassifier(args.name, epochs=args.epochs, random_state=0, callbacks=[timer])
    clf.fit(data.X_train[: args.samples], data.y_train[: args.samples])
    batch_size = clf._setting("batch_size")
    per_second = [args.samples / seconds for seconds in timer.times[1:]]
    accuracy = float(np.mean(clf.predict(data.X_test) == data.y_test))
    print(
        "RESULT "
        + json.dumps(
            {
                "samples_per_s": float(np.median(per_second)),
                "epoch_seconds": timer.times,
                "batch_size": batch_size,
                "test_accuracy": accuracy,
            }
        ),
        flush=True,
    )


def cell(args, backend, policy):
    command = [
        sys.executable,
        os.path.abspath(__file__),
        "--worker",
        "--name",
        args.name,
        "--policy",
        policy,
        "--samples",
        str(args.samples),
        "--epochs",
        str(args.epochs),
    ]
    env = {**os.environ, "KERAS_BACKEND": backend, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(command, env=env, capture_output=True, text=True, cwd=ROOT)
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    raise RuntimeError(f"{backend} {policy} failed:\n{done.stderr[-3000:]}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--name", default="cnn-fashion-mnist-fast")
    parser.add_argument("--backends", nargs="+", choices=BACKENDS, default=list(BACKENDS))
    parser.add_argument("--samples", type=int, default=12000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--policy", choices=POLICIES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    header(f"mixed bfloat16 vs float32 training throughput, {args.name}")
    print(f"data: Fashion-MNIST train[:{args.samples}], {args.epochs} epochs per cell\n")
    rows = []
    for backend in args.backends:
        results = {}
        for policy in POLICIES:
            results[policy] = cell(args, backend, policy)
            epochs = ", ".join(f"{t:.1f}" for t in results[policy]["epoch_seconds"])
            print(f"{backend} {policy}: epoch seconds {epochs}", flush=True)
        base, low = results["float32"], results["mixed_bfloat16"]
        rows.append(
            [
                backend,
                f"{base['samples_per_s']:,.0f}",
                f"{low['samples_per_s']:,.0f}",
                f"{low['samples_per_s'] / base['samples_per_s']:.2f}",
                f"{base['test_accuracy']:.4f} / {low['test_accuracy']:.4f}",
            ]
        )
    print()
    table(
        [
            "backend",
            "float32 samples/s",
            "mixed_bfloat16 samples/s",
            "ratio bf16 / f32",
            "test acc after the run (f32 / bf16)",
        ],
        rows,
    )


if __name__ == "__main__":
    main()

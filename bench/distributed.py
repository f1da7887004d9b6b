"""Two-process data-parallel training vs one process on the same global batches (JAX).

Trains `ZooClassifier(ENTRY)` from the same seed twice: once in one JAX process, once in two
processes joined over loopback (`keras.distribution.DataParallel`, each process feeding its
half of every global batch, `pipelines.distributed`). Prints the largest absolute
difference between the final weights of the two runs and the median epoch time of each
(epochs 2..N; epoch 1 compiles), with their ratio (two processes / one).

    flock /tmp/zoo-heavy.lock env PYTHONPATH=. TF_CPP_MIN_LOG_LEVEL=2 \\
        python bench/distributed.py --entry cnn-digits --samples 1408 --epochs 4

The sample count is cut to a multiple of the batch size, so every global batch splits evenly
and the two runs see exactly the same batches. Both processes run on this machine's cores:
on one machine this measures the overhead of the collectives, not a speed-up.
"""

import argparse
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile

os.environ["KERAS_BACKEND"] = "jax"
os.environ.setdefault("JAX_PLATFORMS", "cpu")
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

DATASETS = {"cnn-digits": "digits", "mlp-breast-cancer": "breast_cancer"}


def train(args, out, distribution=None):
    """One run (one process of it): fits, saves final weights and epoch times to `out`."""
    import numpy as np
    from common import EpochTimer

    import datasets
    from pipelines import ZooClassifier

    data = datasets.load(DATASETS[args.entry])
    count = args.samples - args.samples % args.batch_size
    timer = EpochTimer()
    estimator = ZooClassifier(
        args.entry,
        epochs=args.epochs,
        batch_size=args.batch_size,
        random_state=0,
        callbacks=[timer],
        distribution=distribution,
    )
    estimator.fit(data.X_train[:count], data.y_train[:count])
    weights = {f"w{i}": w for i, w in enumerate(estimator.model_.get_weights())}
    np.savez(out, times=np.array(timer.times), **weights)


def worker(args):
    from pipelines import distributed

    distribution = None
    if args.process_id is not None:
        distribution = distributed.initialize(args.coordinator, 2, args.process_id)
    train(args, args.result, distribution)


def run_workers(args, directory, processes):
    """Starts the run's processes (1, or 2 over loopback) and waits for them."""
    from pipelines.distributed import LOOPBACK, free_port

    base = [
        sys.executable,
        __file__,
        "--entry",
        args.entry,
        "--samples",
        str(args.samples),
        "--epochs",
        str(args.epochs),
        "--batch-size",
        str(args.batch_size),
    ]
    coordinator = f"{LOOPBACK}:{free_port()}"
    env = {**os.environ, "JAX_COORDINATOR_BIND_ADDRESS": coordinator}
    children = []
    for rank in range(processes):
        result = pathlib.Path(directory) / f"{processes}-{rank}.npz"
        command = [*base, "--result", str(result)]
        if processes > 1:
            command += ["--process-id", str(rank), "--coordinator", coordinator]
        children.append(subprocess.Popen(command, env=env))
    codes = [child.wait() for child in children]
    if any(codes):
        sys.exit(f"a training process failed: exit codes {codes}")
    return [pathlib.Path(directory) / f"{processes}-{rank}.npz" for rank in range(processes)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entry", choices=sorted(DATASETS), default="cnn-digits")
    parser.add_argument("--samples", type=int, default=1408, help="training samples used")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=32, help="the global batch")
    parser.add_argument("--result", help=argparse.SUPPRESS)
    parser.add_argument("--process-id", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--coordinator", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.result:
        worker(args)
        return

    import common
    import numpy as np

    common.header("Two-process data-parallel training vs one process (JAX, CPU, loopback)")
    with tempfile.TemporaryDirectory() as directory:
        (one,) = run_workers(args, directory, 1)
        two = run_workers(args, directory, 2)
        results = {"one": np.load(one), "two-0": np.load(two[0]), "two-1": np.load(two[1])}
        keys = [key for key in results["one"].files if key != "times"]

        def difference(a, b):
            return max(float(np.max(np.abs(results[a][k] - results[b][k]))) for k in keys)

        def median_epoch(name):
            return statistics.median(results[name]["times"][1:].tolist())

        def test_accuracy(name):
            import datasets
            import zoo

            data = datasets.load(DATASETS[args.entry])
            model = zoo.get(args.entry, weights=None)
            model.set_weights([results[name][key] for key in keys])
            for layer in model.layers:  # set_weights leaves Normalization's mean unset
                if hasattr(layer, "finalize_state"):
                    layer.finalize_state()
            probabilities = model.predict(data.X_test, verbose=0)
            if probabilities.shape[-1] == 1:  # one sigmoid unit
                predicted = (probabilities[:, 0] > 0.5).astype(int)
            else:
                predicted = np.argmax(probabilities, axis=-1)
            return float(np.mean(predicted == data.y_test))

        one_time, two_time = median_epoch("one"), median_epoch("two-0")
        count = args.samples - args.samples % args.batch_size
        print(
            f"{args.entry}: {count} training samples, global batch {args.batch_size}, "
            f"{args.epochs} epochs, seed 0\n"
        )
        common.table(
            ["figure", "value"],
            [
                [
                    "max abs weight difference, 2 processes vs 1",
                    f"{difference('one', 'two-0'):.3g}",
                ],
                [
                    "max abs weight difference, process 0 vs process 1",
                    f"{difference('two-0', 'two-1'):.3g}",
                ],
                ["test accuracy, 1 process", f"{test_accuracy('one'):.4f}"],
                ["test accuracy, 2 processes", f"{test_accuracy('two-0'):.4f}"],
                ["median epoch time, 1 process (s)", f"{one_time:.2f}"],
                ["median epoch time, 2 processes (s)", f"{two_time:.2f}"],
                ["epoch time ratio, 2 processes / 1", f"{two_time / one_time:.2f}"],
                [
                    "epoch times, 1 process (s)",
                    " ".join(f"{t:.2f}" for t in results["one"]["times"]),
                ],
                [
                    "epoch times, 2 processes (s)",
                    " ".join(f"{t:.2f}" for t in results["two-0"]["times"]),
                ],
            ],
        )


if __name__ == "__main__":
    main()

"""Training throughput of `ZooClassifier.fit` against a hand-written ideal tf.data `model.fit`.

Both sides train the same model (`zoo.get("cnn-fashion-mnist", weights=None)`) on the same
Fashion-MNIST training slice with the same batch size, optimizer (Adam, the recipe's learning
rate with its cosine decay), loss and number of epochs. The ideal side feeds

    tf.data.Dataset.from_tensor_slices((x, y)).shuffle(n).batch(B).prefetch(AUTOTUNE)

to `model.fit`. Throughput is samples per second of each epoch after the first (the first
epoch traces the graph); the table gives the median over epochs 2..N, and the ratio
pipeline / ideal (target >= 0.95). `fit()` wall time (validation, dataset building, compile,
tracing and all epochs) is printed too.

Run (from the repository root; heavy, so under the shared lock):

    flock /tmp/zoo-heavy.lock env PYTHONPATH=. \
        python bench/fit_throughput.py --samples 20000 --epochs 4
"""

import argparse
import time

import keras
import numpy as np
import tensorflow as tf
from common import EpochTimer, fashion_mnist, header, table  # noqa: I001 (sets sys.path)

import zoo
from pipelines import ZooClassifier

NAME = "cnn-fashion-mnist"


def run_pipeline(x, y, args):
    timer = EpochTimer()
    clf = ZooClassifier(
        NAME,
        epochs=args.epochs,
        batch_size=args.batch_size,
        random_state=args.seed,
        callbacks=[timer],
    )
    start = time.perf_counter()
    clf.fit(x, y)
    return timer.times, time.perf_counter() - start


def run_ideal(x, y, args):
    recipe = zoo.get_entry(NAME).recipe
    keras.utils.set_random_seed(args.seed)
    timer = EpochTimer()
    start = time.perf_counter()
    model = zoo.get(NAME, weights=None)
    steps = -(-len(y) // args.batch_size)
    learning_rate = keras.optimizers.schedules.CosineDecay(
        recipe["learning_rate"], decay_steps=steps * args.epochs
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    dataset = (
        tf.data.Dataset.from_tensor_slices((x, y))
        .shuffle(len(y), seed=args.seed)
        .batch(args.batch_size)
        .prefetch(tf.data.AUTOTUNE)
    )
    model.fit(dataset, epochs=args.epochs, callbacks=[timer], verbose=0)
    return timer.times, time.perf_counter() - start


def main():
    recipe = zoo.get_entry(NAME).recipe
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--samples",
        type=int,
        default=20000,
        help="first N training images (default 20000; 60000 = all)",
    )
    parser.add_argument("--epochs", type=int, default=4, help="epochs per fit (>= 2)")
    parser.add_argument("--batch-size", type=int, default=recipe["batch_size"])
    parser.add_argument(
        "--rounds", type=int, default=1, help="times to run the pair, alternating which goes first"
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.epochs < 2:
        parser.error("--epochs must be >= 2 (the first epoch is the warm-up)")

    header("fit throughput: ZooClassifier.fit vs ideal tf.data model.fit")
    data = fashion_mnist()
    x = np.ascontiguousarray(data.X_train[: args.samples], "float32")
    y = np.asarray(data.y_train[: args.samples], "int64")
    print(
        f"data: Fashion-MNIST train[:{len(y)}], batch {args.batch_size}, "
        f"{args.epochs} epochs (epoch 1 = warm-up), Adam lr {recipe['learning_rate']} "
        f"cosine, seed {args.seed}\n",
        flush=True,
    )

    results = {"pipeline": [], "ideal": []}
    walls = {"pipeline": [], "ideal": []}
    for round_index in range(args.rounds):
        order = ["pipeline", "ideal"] if round_index % 2 == 0 else ["ideal", "pipeline"]
        for which in order:
            runner = run_pipeline if which == "pipeline" else run_ideal
            times, wall = runner(x, y, args)
            print(
                f"round {round_index + 1} {which:8s} epoch seconds: "
                + ", ".join(f"{t:.2f}" for t in times)
                + f"; fit() {wall:.1f} s",
                flush=True,
            )
            results[which].extend(len(y) / t for t in times[1:])
            walls[which].append(wall)
    print()
    medians = {k: float(np.median(v)) for k, v in results.items()}
    rows = [
        [
            which,
            f"{medians[which]:,.0f}",
            f"{min(results[which]):,.0f} .. {max(results[which]):,.0f}",
            f"{np.median(walls[which]):.1f}",
        ]
        for which in ("pipeline", "ideal")
    ]
    table(["fit", "samples/s (median, epochs 2..N)", "min .. max", "fit() wall s"], rows)
    ratio = medians["pipeline"] / medians["ideal"]
    print(
        f"ratio pipeline / ideal = {ratio:.3f} (target >= 0.95: "
        f"{'met' if ratio >= 0.95 else 'NOT met'})"
    )


if __name__ == "__main__":
    main()

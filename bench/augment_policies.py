"""Test accuracy of `cnn-fashion-mnist` trained with each augmentation policy vs none.

Every run is the CLI's training (`pipelines.training.train_run`, the same as
`python cli.py train cnn-fashion-mnist --epochs E --set augment=P --set flip=False
--set translation=0.0`, on the first `--limit` training images): same epochs, seed 0,
the model's own flip and translation layers off so that the policy is the only augmentation.
Writes a markdown table and a PNG of one training batch as each policy transforms it.

    python bench/augment_policies.py --epochs 6 --limit 10000 \
        --out bench/results-augment-2026-11-29.md --figure zoo/cards/cnn-fashion-mnist-policies.png
"""

import argparse
import json
import pathlib
import tempfile
import time

import numpy as np

NAME = "cnn-fashion-mnist"


def sample_grid(path, seed=0, count=8):
    """One row of `count` training images per policy, as the policy leaves them."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import datasets
    from pipelines import augment, data

    images = datasets.load("fashion_mnist").X_train[:count]
    labels = datasets.load("fashion_mnist").y_train[:count]
    figure, axes = plt.subplots(
        len(augment.POLICIES), count, figsize=(count * 1.1, len(augment.POLICIES) * 1.25)
    )
    for row, policy in enumerate(augment.POLICIES):
        batches = data.make_dataset({"image": images}, labels, batch_size=count)
        x, y = next(iter(augment.augment_batches(batches, policy, 10, seed=seed)))
        for column in range(count):
            axis = axes[row, column]
            axis.imshow(np.asarray(x[column]), cmap="gray", vmin=0, vmax=255)
            axis.set_xticks([])
            axis.set_yticks([])
            if column == 0:
                axis.set_ylabel(policy, fontsize=8)
    figure.suptitle("one training batch under each policy (seed 0)", fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=90)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--limit", type=int, default=None, help="first N training images")
    parser.add_argument("--policies", nargs="*", default=None)
    parser.add_argument("--out", default=None, help="markdown table to write")
    parser.add_argument("--figure", default=None, help="PNG of the augmented samples")
    args = parser.parse_args()

    import keras

    from pipelines import augment
    from pipelines.training import train_run
    from zoo.weights import write_text_atomic

    if args.figure:
        sample_grid(args.figure)
    rows = []
    for policy in args.policies or augment.POLICIES:
        start = time.perf_counter()
        with tempfile.TemporaryDirectory() as out:
            summary = train_run(
                NAME,
                epochs=args.epochs,
                seed=0,
                out=out,
                overrides={"augment": policy, "flip": False, "translation": 0.0},
                limit=args.limit,
                verbose=0,
            )
        metrics = summary["metrics"]["final"]  # after the last epoch: same epochs for all
        rows.append((policy, metrics["accuracy"], metrics["log_loss"], time.perf_counter() - start))
        print(json.dumps({"policy": policy, **metrics}), flush=True)
    none = dict((row[0], row[1]) for row in rows).get("none")
    images = "all" if args.limit is None else f"the first {args.limit:,}"
    limit = "" if args.limit is None else f" --limit {args.limit}"
    lines = [
        f"`{NAME}`, {images} training images, {args.epochs} epochs, seed 0, flip and "
        f"translation layers off, {keras.backend.backend()} backend, accuracy on the 10,000 "
        f"test images after the last epoch; `python bench/augment_policies.py --epochs "
        f"{args.epochs}{limit}`",
        "",
        "| policy | test accuracy | vs none | test log loss | run (s) |",
        "|---|---|---|---|---|",
    ]
    for policy, accuracy, loss, seconds in rows:
        gain = "" if none is None or policy == "none" else f"{accuracy - none:+.4f}"
        lines.append(f"| `{policy}` | {accuracy:.4f} | {gain} | {loss:.4f} | {seconds:.0f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        write_text_atomic(pathlib.Path(args.out), text)


if __name__ == "__main__":
    main()

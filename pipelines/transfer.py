"""Transfer learning through the spine: the from-scratch baseline and the learning curves.

`transfer_metrics` is what `python cli.py evaluate transfer-digits` prints: the shipped
(transferred, fine-tuned) model's test metrics as "transfer_accuracy" and the same
architecture trained from scratch on the same labelled samples, with the same total epochs,
batch size and learning rate, as "scratch_accuracy" (mean over `SCRATCH_SEEDS` seeds, with
its standard deviation), on the same held-out test split.

Plot the learning curves of the card (test accuracy per epoch, transferred vs scratch):

    python -m pipelines.transfer plot transfer-digits zoo/cards/transfer-digits-curves.png
"""

import sys

import numpy as np

import zoo
from pipelines import evaluation
from pipelines.classification import ZooClassifier

SCRATCH_SEEDS = (0, 1, 2)
CURVE_STRIDE = 5  # every 5th held-out sample is scored after every epoch of the curves


def _shipped_config(name):
    row = zoo.weights.read_manifest().get(name)
    return dict(row["config"]) if row else {}


def scratch_estimator(name, seed, config=None):
    """The entry's architecture from a random init, trained for the transfer recipe's total
    epochs (head + fine-tuning) at its learning rate and batch size."""
    recipe = zoo.get_entry(name).recipe
    config = _shipped_config(name) if config is None else config
    return ZooClassifier(
        name,
        epochs=recipe["epochs"] + recipe.get("fine_tune_epochs", 0),
        batch_size=recipe["batch_size"],
        learning_rate=recipe["learning_rate"],
        random_state=seed,
        **{f"model__{key}": value for key, value in config.items()},
    )


def transfer_estimator(name, seed, config=None):
    """The entry's transfer recipe (`pipelines.training.estimator_for`) with `seed`."""
    from pipelines.training import estimator_for

    config = _shipped_config(name) if config is None else config
    return estimator_for(
        name, random_state=seed, **{f"model__{key}": value for key, value in config.items()}
    )


def transfer_metrics(name, model, dataset, seeds=SCRATCH_SEEDS):
    """The shipped model's metrics ("transfer_accuracy", ...) beside the from-scratch
    baseline's ("scratch_accuracy", "scratch_accuracy_sd") on the same test split."""
    result = evaluation.evaluate(model, dataset)
    result["transfer_accuracy"] = result["accuracy"]
    scores = [
        scratch_estimator(name, seed)
        .fit(dataset.X_train, dataset.y_train)
        .score(dataset.X_test, dataset.y_test)
        for seed in seeds
    ]
    result["scratch_accuracy"] = float(np.mean(scores))
    result["scratch_accuracy_sd"] = float(np.std(scores))
    result["scratch_seeds"] = len(seeds)
    result["labelled"] = int(len(dataset.y_train))
    return result


def plot_curves(name, path, seed=0):
    """Test accuracy per epoch of the transfer recipe and of the from-scratch baseline
    (same data, seed, epochs), saved as a PNG."""
    import matplotlib

    import datasets

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = datasets.load(zoo.get_entry(name).dataset)
    recipe = zoo.get_entry(name).recipe
    figure, axis = plt.subplots(figsize=(7, 4))
    for label, estimator in (
        ("transferred (head, then fine-tuning)", transfer_estimator(name, seed)),
        ("from scratch", scratch_estimator(name, seed)),
    ):
        estimator.fit(
            data.X_train,
            data.y_train,
            validation_data=(data.X_test[::CURVE_STRIDE], data.y_test[::CURVE_STRIDE]),
        )
        values = estimator.history_["val_accuracy"]
        axis.plot(range(1, len(values) + 1), values, label=f"{label}: {values[-1]:.3f}")
    axis.axvline(recipe["epochs"] + 0.5, color="grey", linestyle=":", label="backbone unfrozen")
    axis.set_xlabel("epoch")
    axis.set_ylabel(
        f"accuracy on every {CURVE_STRIDE}th held-out sample ({len(data.y_test[::CURVE_STRIDE]):,})"
    )
    axis.set_title(f"{name}: {len(data.y_train)} labelled training samples")
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    with zoo.weights.atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=100, format="png")
    plt.close(figure)


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] != "plot":
        raise SystemExit("usage: python -m pipelines.transfer plot NAME OUT.png")
    plot_curves(sys.argv[2], sys.argv[3])

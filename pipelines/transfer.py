"""Transfer learning and self-supervised pre-training through the spine.

Transfer: the from-scratch baseline and the learning curves. Self-supervised: `ZooSimCLR`
pre-trains an encoder without labels and `ssl_metrics` fine-tunes it on few labels beside
the same architecture from scratch (`python cli.py evaluate ssl-fashion-mnist`).

`transfer_metrics` is what `python cli.py evaluate transfer-digits` prints: the shipped
(transferred, fine-tuned) model's test metrics as "transfer_accuracy" and the same
architecture trained from scratch on the same labelled samples, with the same total epochs,
batch size and learning rate, as "scratch_accuracy" (mean over `SCRATCH_SEEDS` seeds, with
its standard deviation), on the same held-out test split.

Plot the learning curves of the card (test accuracy per epoch, transferred vs scratch):

    python -m pipelines.transfer plot transfer-digits zoo/cards/transfer-digits-curves.png
"""

import functools
import sys

import keras
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.utils.validation import check_is_fitted

import zoo
from pipelines import data, evaluation
from pipelines.classification import ZooClassifier
from pipelines.retrieval import ZooRetriever, retrieval_metrics
from zoo.layers.contrastive import ViewPairLogits

SCRATCH_SEEDS = (0, 1, 2)
CURVE_STRIDE = 5  # every 5th held-out sample is scored after every epoch of the curves


def _shipped_config(name):
    row = zoo.weights.read_manifest().get(name)
    return dict(row["config"]) if row else {}


def from_scratch(name, seed, settings, config=None):
    """The entry's architecture from a random init, trained for a transfer recipe's total
    epochs (head + fine-tuning) at its learning rate, batch size and augmentation:
    `settings` is the recipe ("epochs", "fine_tune_epochs", "batch_size", ...)."""
    return ZooClassifier(
        name,
        epochs=settings["epochs"] + settings.get("fine_tune_epochs", 0),
        batch_size=settings["batch_size"],
        learning_rate=settings["learning_rate"],
        augment=settings.get("augment"),
        random_state=seed,
        **{f"model__{key}": value for key, value in (config or {}).items()},
    )


def scratch_estimator(name, seed, config=None):
    """`from_scratch` with the entry's transfer recipe and its shipped builder arguments."""
    config = _shipped_config(name) if config is None else config
    return from_scratch(name, seed, zoo.get_entry(name).recipe, config)


def seed_scores(make, X, y, X_test, y_test, seeds=SCRATCH_SEEDS):
    """Mean and standard deviation of the test accuracy of `make(seed)` fitted on X, y."""
    scores = [make(seed).fit(X, y).score(X_test, y_test) for seed in seeds]
    return float(np.mean(scores)), float(np.std(scores))


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
    result["scratch_accuracy"], result["scratch_accuracy_sd"] = seed_scores(
        functools.partial(scratch_estimator, name),
        dataset.X_train,
        dataset.y_train,
        dataset.X_test,
        dataset.y_test,
        seeds,
    )
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


# -- self-supervised pre-training ------------------------------------------------------------

# The layer whose output (flattened) is the encoder's representation: what the probes and
# the classifier head read ("dense" and "projection" above it are the projection head).
REPRESENTATION = "block3_pool"


def view_layers(seed):
    """The random transformations that make a view (SimCLR's, for 28x28 grayscale): zoomed-in
    crops, flips, shifts, contrast and brightness. Keras preprocessing layers, run in tf.data."""
    layers = keras.layers
    return [
        layers.RandomZoom((-0.4, 0.0), fill_mode="constant", seed=seed),
        layers.RandomTranslation(0.15, 0.15, fill_mode="constant", seed=seed + 1),
        layers.RandomFlip("horizontal", seed=seed + 2),
        layers.RandomContrast(0.5, value_range=(0, 255), seed=seed + 3),
        layers.RandomBrightness(0.3, value_range=(0, 255), seed=seed + 4),
    ]


def two_views(batches, seed):
    """Batches of (B, H, W) images and y -> (2B, H, W) batches: a random view of each image,
    then another view of each (`view_layers`), pixel values kept in 0..255; y unchanged."""
    import tensorflow as tf

    transforms = view_layers(seed)

    def view(images):
        x = tf.cast(images, "float32")[..., None]
        for layer in transforms:
            x = layer(x, training=True)
        return tf.clip_by_value(x, 0.0, 255.0)[..., 0]

    def pair(x, y):
        return tf.concat([view(x), view(x)], axis=0), y

    return data.fixed_prefetch(batches.map(pair))


class ZooSimCLR(ZooRetriever):
    """Pre-trains a zoo image encoder (task "self_supervised") without labels, SimCLR-style.

    Every batch gives two random views of each image (`view_layers`, stacked in one batch);
    the encoder embeds both and the symmetric in-batch InfoNCE (`ZooRetriever`'s loss, at
    `temperature`) pulls each image's two views together and pushes the other images'
    apart. y is ignored.
    `transform(X)` (and `predict(X)`) return the L2-normalised embeddings; `score(X)` is the
    pretext accuracy: how often a view of an image retrieves the other view of the same
    image among the views of X (recall@1).

    Example:

        est = ZooSimCLR("ssl-fashion-mnist", epochs=1, random_state=0).fit(images)
        est.transform(images[:5]).shape      # (5, 64)
    """

    _task = "self_supervised"

    def _inputs(self, X, what="X"):
        if isinstance(X, dict) or np.ndim(X) != 3:
            shape = "keys " + str(sorted(X)) if isinstance(X, dict) else np.shape(X)
            raise ValueError(
                f"{what} must be an array of grayscale images (n, height, width). "
                f"Received: {type(X).__name__} with {shape}"
            )
        return data.as_input_dict(X, self.model_)

    def _data_overrides(self, X):
        return {}

    def _trainer(self):
        """The encoder on a batch of both views, then first views' similarity logits against
        second views' (the encoder's own layers: its weights files stay the encoder's)."""
        temperature = self._setting("temperature") or 0.1
        logits = ViewPairLogits(temperature, name="view_pair_logits")(self.model_.output)
        return keras.Model(self.model_.input, logits, name=f"{self.model_.name}_trainer")

    def _datasets_from_arrays(self, X, y, validation_data, continuing, sample_weight=None):
        train, validation = super()._datasets_from_arrays(
            X, y, validation_data, continuing, sample_weight
        )
        seed = int(self._seed) % (2**31 - 16)
        train = two_views(train, seed)
        if validation is not None:
            validation = two_views(validation, seed + 8)
        return train, validation

    def transform(self, X):
        """The L2-normalised embeddings of the images X, (n, projection_units)."""
        check_is_fitted(self, "model_")
        return np.asarray(self._predict_raw(self._inputs(X)))

    def predict(self, X):
        """The embeddings of X (as `transform`)."""
        return self.transform(X)

    def score(self, X, y=None, sample_weight=None):
        """Pretext recall@1: a random view of each image retrieving its other view among X's."""
        if sample_weight is not None:
            raise ValueError("ZooSimCLR.score takes no sample_weight. Received one.")
        check_is_fitted(self, "model_")
        x = self._inputs(X)
        batches = data.make_dataset(x, np.zeros(len(X), "float32"), batch_size=len(X))
        views, _ = next(iter(two_views(batches, 1234)))
        embeddings = np.asarray(self.model_.predict(views, verbose=0))
        return retrieval_metrics(embeddings[: len(X)], embeddings[len(X) :])["recall_at_1"]


def representation(model):
    """The encoder of `model` up to its representation (`REPRESENTATION`, flattened)."""
    features = keras.layers.Flatten()(model.get_layer(REPRESENTATION).output)
    return keras.Model(model.inputs, features)


def probe_metrics(model, dataset):
    """Frozen-representation probes of a self-supervised encoder, on the test split:
    "linear_probe_accuracy" (logistic regression, C=0.1, on the standardised
    representation of the labelled training images) and "knn_accuracy" (the 5 nearest
    labelled images by the cosine of their embeddings)."""
    from datasets.fashion_mnist import labelled_indices

    labelled = labelled_indices(dataset)
    X, y = dataset.X_train[labelled], dataset.y_train[labelled]
    features = representation(model)
    train_features = evaluation.predict_arrays(features, X)
    test_features = evaluation.predict_arrays(features, dataset.X_test)
    mean, scale = train_features.mean(axis=0), train_features.std(axis=0) + 1e-6
    probe = LogisticRegression(C=0.1, max_iter=2000)
    probe.fit((train_features - mean) / scale, y)
    linear = probe.score((test_features - mean) / scale, dataset.y_test)
    knn = KNeighborsClassifier(5, metric="cosine").fit(evaluation.predict_arrays(model, X), y)
    nearest = knn.score(evaluation.predict_arrays(model, dataset.X_test), dataset.y_test)
    return {
        "linear_probe_accuracy": float(linear),
        "knn_accuracy": float(nearest),
        "labelled": int(len(labelled)),
    }


def fine_tune_estimator(name, seed, pretrained=True):
    """The few-label classifier of a self-supervised entry: its recipe's "fine_tune"
    settings, from the shipped encoder (transfer API) or, with `pretrained=False`, the same
    architecture from scratch for the same total epochs at the same learning rate."""
    settings = dict(zoo.get_entry(name).recipe["fine_tune"])
    if pretrained:
        return ZooClassifier(
            name, pretrained=True, freeze="backbone", random_state=seed, **settings
        )
    return from_scratch(name, seed, settings)


def ssl_metrics(name, model, dataset, seeds=SCRATCH_SEEDS):
    """What `python cli.py evaluate ssl-fashion-mnist` prints: the probes (`probe_metrics`),
    "fine_tune_accuracy" (the shipped encoder fine-tuned on the labelled images through the
    transfer API) and "scratch_accuracy" (the same architecture from scratch on the same
    labels), each a mean over `seeds`, on the whole test split."""
    from datasets.fashion_mnist import labelled_indices

    labelled = labelled_indices(dataset)
    X, y = dataset.X_train[labelled], dataset.y_train[labelled]
    result = probe_metrics(model, dataset)
    for key, pretrained in (("fine_tune_accuracy", True), ("scratch_accuracy", False)):
        result[key], result[f"{key}_sd"] = seed_scores(
            functools.partial(fine_tune_estimator, name, pretrained=pretrained),
            X,
            y,
            dataset.X_test,
            dataset.y_test,
            seeds,
        )
    result["seeds"] = len(seeds)
    return result


def plot_neighbours(name, path, queries=8, neighbours=6):
    """For `queries` test images (one per class, the first of each), their nearest training
    images by embedding cosine among the 60,000 (no labels used), saved as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import datasets

    dataset = datasets.load(zoo.get_entry(name).dataset)
    model = zoo.get(name)
    train = evaluation.predict_arrays(model, dataset.X_train)
    picked = [int(np.flatnonzero(dataset.y_test == label)[0]) for label in range(queries)]
    query = evaluation.predict_arrays(model, dataset.X_test[picked])
    nearest = np.argsort(-(query @ train.T), axis=1)[:, :neighbours]
    size = (0.9 * (neighbours + 1), 0.95 * queries)
    figure, axes = plt.subplots(queries, neighbours + 1, figsize=size)
    for row, index in enumerate(picked):
        images = [dataset.X_test[index], *dataset.X_train[nearest[row]]]
        for column, image in enumerate(images):
            axis = axes[row, column]
            axis.imshow(image, cmap="gray", vmin=0, vmax=255)
            axis.set_xticks([])
            axis.set_yticks([])
        axes[row, 0].set_ylabel(dataset.class_names[dataset.y_test[index]], fontsize=7)
    axes[0, 0].set_title("test", fontsize=8)
    axes[0, 1].set_title(
        f"{neighbours} nearest training images (no labels used)", fontsize=8, loc="left"
    )
    figure.subplots_adjust(left=0.1, right=0.99, top=0.95, bottom=0.01, wspace=0.05, hspace=0.08)
    with zoo.weights.atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=90, format="png")
    plt.close(figure)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "neighbours":
        plot_neighbours(sys.argv[2], sys.argv[3])
        raise SystemExit(0)
    if len(sys.argv) != 4 or sys.argv[1] != "plot":
        raise SystemExit("usage: python -m pipelines.transfer plot|neighbours NAME OUT.png")
    plot_curves(sys.argv[2], sys.argv[3])

"""Graphs through the spine: semi-supervised node classification and its evaluation protocol.

A whole graph is one sample (`zoo.layers.graph`): X is a dict of padded arrays
{"node_features" (g, nodes, features), "edge_index" (g, edges, 2), "edge_weight" (g, edges)}
and, for node classification, y is (g, nodes) with the class of each labelled node and -1
(`UNLABELLED`) for the others, scikit-learn's convention for semi-supervised labels.
`ZooNodeClassifier` trains on the labelled nodes only (a sample weight of 0 on the others),
through the same `ZooEstimator.fit` (tf.data, seeding, callbacks, run records) as every
other entry; `check_graphs` validates the graph arrays first, so edges out of range, ragged
or non-finite features and mismatched arrays are a clear ValueError, never a stack trace.

`run_protocol` is what `python cli.py evaluate gcn-karate` prints: the mean and standard
deviation of the test accuracy over seeded label draws, each a training of a fresh model
(draw k: labels `datasets.graphs.label_draw(labels, k, ...)`, weights initialised with seed
k), beside the classical baselines on the same draws.

Example:

    data = datasets.load("karate_club")
    clf = ZooNodeClassifier("gcn-karate", random_state=0).fit(data.X_train, data.y_train)
    clf.score(data.X_test, data.y_test), clf.transform(data.X_test).shape   # (1, 34, 2)
"""

import numpy as np

from pipelines import data
from pipelines.base import ZooEstimator
from pipelines.classification import ZooClassifier

UNLABELLED = -1
GRAPH_INPUTS = ("node_features", "edge_index", "edge_weight")
PROBABILITIES = "probabilities"
EMBEDDING = "embedding"


def _array(value, what):
    try:
        array = np.asarray(value)
    except ValueError as error:  # NumPy >= 1.24 refuses ragged nested sequences
        raise ValueError(
            f"{what} must be a regular (padded) array; graphs of different sizes are padded "
            f"to the largest. Received ragged input ({error})."
        ) from None
    if array.dtype == object:
        raise ValueError(
            f"{what} must be a regular (padded) numeric array; graphs of different sizes are "
            "padded to the largest. Received ragged input of dtype object."
        )
    return array


def check_graphs(X, what="X"):
    """Validates a dict of graph arrays; returns it with NumPy arrays, or raises ValueError.

    Checks: a dict with the keys node_features, edge_index and edge_weight (others, e.g.
    node_mask, are kept); node_features (g, nodes, features) finite numbers; edge_index
    (g, edges, 2) integers in 0..nodes-1; edge_weight (g, edges) finite and >= 0; the same
    number g of graphs in each.

    Example:

        check_graphs({"node_features": x, "edge_index": [[[0, 40]]], "edge_weight": [[1.0]]})
        # ValueError: X['edge_index'] must hold node ids in 0..33 ... Received ids up to 40
    """
    if not isinstance(X, dict):
        raise ValueError(
            f"{what} must be a dict of graph arrays with the keys {list(GRAPH_INPUTS)}. "
            f"Received: {type(X).__name__}"
        )
    missing = [key for key in GRAPH_INPUTS if key not in X]
    if missing:
        raise ValueError(
            f"{what} must have the keys {list(GRAPH_INPUTS)}. Missing: {missing}; "
            f"received: {sorted(X)}."
        )
    arrays = {key: _array(value, f"{what}[{key!r}]") for key, value in X.items()}
    features, index, weight = (arrays[key] for key in GRAPH_INPUTS)
    if features.ndim != 3 or features.dtype.kind not in "biuf" or features.size == 0:
        raise ValueError(
            f"{what}['node_features'] must be numbers of shape (graphs, nodes, features). "
            f"Received: shape {features.shape}, dtype {features.dtype}"
        )
    if not np.isfinite(features).all():
        raise ValueError(f"{what}['node_features'] contains NaN or infinite values.")
    if index.ndim != 3 or index.shape[-1] != 2 or index.dtype.kind not in "biuf":
        raise ValueError(
            f"{what}['edge_index'] must be node ids of shape (graphs, edges, 2) "
            f"(source, target). Received: shape {index.shape}, dtype {index.dtype}"
        )
    if index.size and (
        index.dtype.kind == "f"
        and not np.array_equal(index, np.round(index))
        or not np.isfinite(index).all()
    ):
        raise ValueError(f"{what}['edge_index'] must hold integer node ids.")
    nodes = features.shape[1]
    if index.size and (index.min() < 0 or index.max() >= nodes):
        raise ValueError(
            f"{what}['edge_index'] must hold node ids in 0..{nodes - 1} (node_features has "
            f"{nodes} nodes). Received ids from {int(index.min())} to {int(index.max())}."
        )
    if weight.shape != index.shape[:2]:
        raise ValueError(
            f"{what}['edge_weight'] must have shape (graphs, edges) = {index.shape[:2]}, one "
            f"weight per edge. Received: shape {weight.shape}"
        )
    if weight.dtype.kind not in "biuf" or not np.isfinite(weight).all() or (weight < 0).any():
        raise ValueError(f"{what}['edge_weight'] must be finite numbers >= 0.")
    counts = {key: len(value) for key, value in arrays.items()}
    if len(set(counts.values())) != 1:
        raise ValueError(f"{what}'s arrays must describe the same graphs. Received: {counts}")
    arrays["edge_index"] = index.astype("int32")
    return arrays


def check_node_labels(y, shape, what="y"):
    """Validates node labels (graphs, nodes): integers, -1 for unlabelled; returns them."""
    labels = _array(y, what)
    if labels.shape != tuple(shape):
        raise ValueError(
            f"{what} must have one label per node, shape (graphs, nodes) = {tuple(shape)}, "
            f"with {UNLABELLED} for unlabelled nodes. Received: shape {labels.shape}"
        )
    if labels.dtype.kind not in "biuf" or not np.array_equal(labels, np.round(labels)):
        raise ValueError(
            f"{what} must hold integer class ids (or {UNLABELLED} for unlabelled nodes). "
            f"Received dtype {labels.dtype}"
        )
    labels = labels.astype("int64")
    if (labels < UNLABELLED).any():
        raise ValueError(f"{what} holds negative labels other than {UNLABELLED} (unlabelled).")
    return labels


class ZooNodeClassifier(ZooEstimator):
    """Semi-supervised node classification with a zoo graph model (see the module docstring).

    `fit(X, y)`: X a dict of graph arrays, y (graphs, nodes) class ids with -1 for the
    unlabelled nodes; only labelled nodes enter the loss. `predict_proba(X)` (graphs, nodes,
    classes), `predict(X)` (graphs, nodes) class ids, `transform(X)` the node embeddings,
    `score(X, y)` the accuracy over the nodes labelled in y. The entry's recipe may set
    "graph_passes": the passes over the graphs in one epoch (for one graph, an epoch of a
    single step would spend most of its time in Keras' per-epoch work). Other arguments:
    `ZooEstimator`; `sample_weight` and `class_weight` are refused.

    Example:

        clf = ZooNodeClassifier("gcn-karate", random_state=0).fit(X, y)
        clf.predict(X)[0, :5]
    """

    _task = "node_classification"

    def _validate_X(self, X, reset):
        X = check_graphs(X)
        if reset:
            self.__dict__.pop("n_features_in_", None)
            self.__dict__.pop("feature_names_in_", None)
            self._graph_shape = X["node_features"].shape
        return X

    def _loss(self):
        return {PROBABILITIES: "sparse_categorical_crossentropy", EMBEDDING: None}

    def _metrics(self):
        return None

    def _task_overrides(self):
        _, nodes, features = self._graph_shape
        return {"num_classes": len(self.classes_), "num_nodes": nodes, "num_features": features}

    def _encode_targets(self, y, fitting):
        shape = self._graph_shape[:2] if fitting else np.shape(y)
        labels = check_node_labels(y, shape)
        labelled = labels != UNLABELLED
        if fitting:
            classes = np.unique(labels[labelled])
            if len(classes) < 2:
                raise ValueError(
                    "Node classification needs labelled nodes of at least 2 classes. "
                    f"Received labels of {len(classes)} class(es): {classes.tolist()}"
                )
            self.classes_ = classes
        unknown = np.setdiff1d(labels[labelled], self.classes_)
        if unknown.size:
            raise ValueError(
                f"y holds classes not seen in fit: {unknown.tolist()}. Known: "
                f"{self.classes_.tolist()}"
            )
        encoded = np.where(labelled, np.searchsorted(self.classes_, labels), 0)
        self._labelled = labelled.astype("float32")
        return {PROBABILITIES: encoded.astype("int32")}

    def _sample_weights(self, targets):
        return {PROBABILITIES: self._labelled}

    def _combined_weights(self, targets, sample_weight, first_input):
        if sample_weight is not None or self.class_weight is not None:
            raise ValueError(
                "ZooNodeClassifier weighs nodes by their labels (-1: not in the loss); "
                "sample_weight and class_weight are not supported. Received: "
                f"sample_weight={'given' if sample_weight is not None else None}, "
                f"class_weight={self.class_weight!r}"
            )
        return self._sample_weights(targets)

    def _stratify_labels(self, y):
        return None

    def _train(self, model, train, validation, continuing):
        passes = int(self._entry().recipe.get("graph_passes", 1))
        if passes > 1:
            train = train.repeat(passes)
        return super()._train(model, train, validation, continuing)

    def _outputs(self, X):
        X = self._validate_X(X, reset=False)
        (node_input,) = [t for t in self.model_.inputs if t.name == "node_features"]
        expected = tuple(node_input.shape[1:])
        got = X["node_features"].shape[1:]
        if any(e is not None and e != g for e, g in zip(expected, got)):
            raise ValueError(
                f"X['node_features'] must have shape (graphs, {expected[0]}, {expected[1]}) "
                f"like the graphs of fit. Received: {X['node_features'].shape}"
            )
        inputs = data.as_input_dict({key: X[key] for key in GRAPH_INPUTS}, self.model_)
        return self.model_.predict(data.make_dataset(inputs, batch_size=8), verbose=0)

    def predict_proba(self, X):
        """Class probabilities (graphs, nodes, classes), one column per entry of `classes_`."""
        return np.asarray(self._outputs(X)[PROBABILITIES])

    def predict(self, X):
        """The most probable class (from `classes_`) of every node, (graphs, nodes)."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=-1)]

    def transform(self, X):
        """The node embeddings (graphs, nodes, embedding_units)."""
        return np.asarray(self._outputs(X)[EMBEDDING])

    def score(self, X, y):
        """Accuracy over the nodes labelled in y (the others, -1, are not counted)."""
        predicted = self.predict(X)
        labels = check_node_labels(y, predicted.shape)
        labelled = labels != UNLABELLED
        if not labelled.any():
            raise ValueError("y labels no node (all -1): there is nothing to score.")
        return float(np.mean(predicted[labelled] == labels[labelled]))


def node_metrics(y_true, probabilities):
    """Accuracy and macro F1 over the labelled nodes of y_true (graphs, nodes); -1 skipped."""
    from sklearn import metrics

    y_true = np.asarray(y_true)
    predicted = np.asarray(probabilities).argmax(axis=-1)
    labelled = y_true != UNLABELLED
    return {
        "accuracy": float(np.mean(predicted[labelled] == y_true[labelled])),
        "f1_macro": float(metrics.f1_score(y_true[labelled], predicted[labelled], average="macro")),
        "nodes": int(labelled.sum()),
    }


def run_protocol(name, model, dataset, draws=None, verbose=False):
    """The multi-draw evaluation of a node-classification entry, with its baselines.

    For draws k = 0..draws-1 (default: `dataset.provenance["protocol"]["draws"]`): label the
    nodes of `datasets.graphs.label_draw(labels, k, ...)`, train a fresh `ZooNodeClassifier`
    (the entry's recipe and `model`'s config, `random_state=k`) and score the other nodes;
    the baselines (`datasets.graphs.baselines`) run on the same draws.

    Returns {"accuracy", "accuracy_sd", "baseline_accuracy" (the better baseline's mean),
    "baseline_<name>_accuracy" per baseline, "draws", "shipped_accuracy"} where
    shipped_accuracy is `model` (the shipped weights: draw 0) on draw 0's test nodes.
    """
    from datasets import graphs

    protocol = dataset.provenance["protocol"]
    draws = protocol["draws"] if draws is None else draws
    how = {key: protocol[key] for key in ("per_class", "fraction") if key in protocol}
    labels = graphs.all_labels(dataset)
    import zoo

    row = zoo.weights.read_manifest().get(name)  # the shipped model's builder arguments
    config = dict(row["config"]) if row else {}
    accuracies, baseline_runs = [], []
    for draw in range(draws):
        labelled = graphs.label_draw(labels, draw, **how)
        y_train = np.full((1, len(labels)), UNLABELLED)
        y_train[0, labelled] = labels[labelled]
        y_test = np.where(y_train >= 0, UNLABELLED, labels[None])
        estimator = ZooNodeClassifier(
            name, random_state=draw, **{f"model__{key}": value for key, value in config.items()}
        )
        estimator.fit(dataset.X_train, y_train)
        accuracies.append(estimator.score(dataset.X_test, y_test))
        baseline_runs.append(graphs.baselines(dataset, labelled))
        if verbose:
            print(f"draw {draw}: accuracy {accuracies[-1]:.4f} baselines {baseline_runs[-1]}")
    result = {
        "accuracy": float(np.mean(accuracies)),
        "accuracy_sd": float(np.std(accuracies)),
    }
    means = {key: float(np.mean([run[key] for run in baseline_runs])) for key in baseline_runs[0]}
    result["baseline_accuracy"] = max(means.values())
    for key, value in means.items():
        result[f"baseline_{key}_accuracy"] = value
        result[f"baseline_{key}_accuracy_sd"] = float(np.std([run[key] for run in baseline_runs]))
    result["draws"] = draws
    result["labelled"] = how
    from pipelines import evaluation

    result["shipped_accuracy"] = evaluation.evaluate(model, dataset)["accuracy"]
    return result


def plot_node_embeddings(name, path):
    """Saves the shipped model's 2-D node embeddings of its graph as a PNG (for the card).

    Each node is a point at its embedding (the first two principal components when the
    embedding is wider than 2), coloured by its true class; the nodes labelled in training
    (draw 0) are ringed, misclassified test nodes crossed. Run:
    `python -m pipelines.graph plot gcn-karate zoo/cards/gcn-karate-embedding.png`.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import datasets
    import zoo
    from datasets import graphs

    dataset = datasets.load(zoo.get_entry(name).dataset)
    model = zoo.get(name)
    outputs = model.predict(
        {key: dataset.X_test[key] for key in GRAPH_INPUTS}, batch_size=1, verbose=0
    )
    points = np.asarray(outputs[EMBEDDING])[0]
    axes_names = ("embedding 1", "embedding 2")
    if points.shape[1] > 2:
        centred = points - points.mean(axis=0)
        _, _, components = np.linalg.svd(centred, full_matrices=False)
        points = centred @ components[:2].T
        axes_names = ("principal component 1", "principal component 2")
    labels = graphs.all_labels(dataset)
    predicted = np.asarray(outputs[PROBABILITIES])[0].argmax(axis=-1)
    labelled = dataset.y_train[0] != UNLABELLED
    figure, axis = plt.subplots(figsize=(6, 5))
    for index, class_name in enumerate(dataset.class_names):
        members = labels == index
        axis.scatter(*points[members].T, s=25, label=class_name, alpha=0.8)
    axis.scatter(
        *points[labelled].T, s=140, facecolors="none", edgecolors="black", label="labelled (draw 0)"
    )
    wrong = ~labelled & (predicted != labels)
    axis.scatter(*points[wrong].T, s=60, marker="x", color="red", label="misclassified")
    axis.set_xlabel(axes_names[0])
    axis.set_ylabel(axes_names[1])
    axis.set_title(f"{name}: node embeddings (shipped weights)")
    axis.legend(fontsize=8)
    axis.grid(alpha=0.3)
    figure.tight_layout()
    with zoo.weights.atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=100, format="png")
    plt.close(figure)


if __name__ == "__main__":
    import sys

    if len(sys.argv) != 4 or sys.argv[1] != "plot":
        raise SystemExit("usage: python -m pipelines.graph plot NAME OUT.png")
    plot_node_embeddings(sys.argv[2], sys.argv[3])


class ZooGraphClassifier(ZooClassifier):
    """Graph-level classification: one label per graph, X a dict of padded graphs.

    Like `ZooClassifier` (labels, `classes_`, `predict_proba`, `score`, class weights), with
    X validated by `check_graphs` (edges in range, regular arrays, weights >= 0) and a
    "node_mask" (graphs, nodes) of 0/1 values required: the pooling layers read out the
    real nodes only.

    Example:

        clf = ZooGraphClassifier("gcn-pool-drosophila", random_state=0).fit(X, y)
        clf.score(X_test, y_test)
    """

    _task = "graph_classification"

    def _validate_X(self, X, reset):
        X = check_graphs(X)
        mask = X.get("node_mask")
        if mask is None or mask.shape != X["node_features"].shape[:2]:
            raise ValueError(
                "X['node_mask'] must mark the real nodes of each graph, shape (graphs, nodes) "
                f"= {X['node_features'].shape[:2]}. Received: "
                f"{None if mask is None else mask.shape}"
            )
        if not np.isin(mask, (0, 1)).all():
            raise ValueError("X['node_mask'] must hold 0 (padding) or 1 (a real node).")
        return super()._validate_X(X, reset)


ESTIMATORS = {
    "node_classification": ZooNodeClassifier,
    "graph_classification": ZooGraphClassifier,
}

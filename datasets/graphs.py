"""Real graphs for semi-supervised node classification: Zachary's karate club and the
Drosophila larva mushroom-body connectome.

A whole graph is one sample, in the padded dense layout of `zoo.layers.graph`:

    X = {"node_features": float32 (1, nodes, features),
         "edge_index":    int32   (1, edges, 2)      (source, target), each undirected edge
                                                      listed in both directions,
         "edge_weight":   float32 (1, edges)}
    y = int64 (1, nodes): the class of a node, or -1 (UNLABELLED), scikit-learn's convention
        for semi-supervised labels (`sklearn.semi_supervised`).

The split is transductive: the model sees the whole graph; `y_train` holds the labels of the
nodes of label draw 0 (`label_draw(labels, 0, ...)`) and -1 elsewhere, `y_test` the labels of
every other node and -1 at the labelled ones. The evaluation protocol (`provenance
["protocol"]`, run by `pipelines.graph.run_protocol`) repeats this over seeded draws 0..k-1.

karate_club (source: `networkx.karate_club_graph()`, networkx's BSD-3-Clause licence; the data
are Zachary's 1977 observations, W. W. Zachary, "An information flow model for conflict and
fission in small groups", J. Anthropol. Res. 33:452-473): 34 members, 78 friendships weighted
by the number of contexts in which the two members interacted (Zachary's matrix C, networkx's
"weight"), 2 classes: the faction each member joined after the split ("club": "Mr. Hi" or
"Officer"). Label draw: 1 member per faction, uniformly at random. Node features
(`spectral_features`): the first non-trivial eigenvector of the random-walk Laplacian
`I - D^-1 A` of the weighted graph, the Fiedler vector (a 1-D spectral embedding; no label
is used to make it).

drosophila (source: the graspologic 3.4.4 wheel's `datasets/drosophila/left_adjacency.csv`
and `left_cell_labels.csv`, read as files; graspologic is MIT-licensed; the data are the left
hemisphere of the larval mushroom body connectome reconstructed by electron microscopy, K.
Eichler et al., "The complete connectome of a learning and memory centre in an insect brain",
Nature 548:175-182, 2017): 209 neurons, directed synapse counts between them; 4 classes, the
cell types I (mushroom body input neurons), K (Kenyon cells), O (output neurons) and P
(projection neurons). The edges are directed (a synapse s -> t), weighted log(1 + A_st)
(self-synapses dropped); node features (`connectome_features`): log(1 + in/out degree),
log(1 + in/out synapse count) and a 6-dimensional adjacency spectral embedding of the
directed graph (the top 3 left and right singular vectors of log(1 + A), scaled by the
square roots of their singular values). Label draw: 10% of the neurons, stratified by cell
type (at least one per type).

Baselines on the same draws (`baselines`): scikit-learn's `LabelSpreading` with the graph's
weighted adjacency as its kernel, and (drosophila) logistic regression on the spectral
embedding of the labelled neurons.

Example:

    data = load_karate_club()
    data.X_train["node_features"].shape, (data.y_train >= 0).sum()   # (1, 34, 4), 2
"""

import importlib.util
import pathlib

import numpy as np

from datasets.base import Dataset, DatasetMissingError

UNLABELLED = -1
GRASPOLOGIC = "pip install --no-deps graspologic==3.4.4"
KARATE_FACTIONS = ["Mr. Hi", "Officer"]
SPECTRAL_DIMENSIONS = 1
EMBEDDING_DIMENSIONS = 3  # singular vectors per side: 6 features


def label_draw(labels, seed, per_class=None, fraction=None):
    """Indices of the labelled nodes of draw `seed` (sorted), made with NumPy's default_rng.

    `per_class`: that many nodes of each class, uniformly at random. `fraction`: that share of
    the nodes, stratified by class (round(fraction * class size), at least 1 per class).

    Example:

        label_draw(np.array([0, 0, 1, 1, 1]), seed=3, per_class=1)   # e.g. array([1, 4])
    """
    if (per_class is None) == (fraction is None):
        raise ValueError(
            "label_draw takes one of per_class or fraction. "
            f"Received: per_class={per_class!r}, fraction={fraction!r}"
        )
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    chosen = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        count = per_class if per_class is not None else max(1, round(fraction * len(members)))
        chosen.append(rng.choice(members, size=min(count, len(members)), replace=False))
    return np.sort(np.concatenate(chosen))


def edge_list(adjacency):
    """(edges, 2) int32 (source, target) pairs and float32 weights of the non-zero entries.

    `adjacency[s, t]` is the weight of the edge s -> t; a symmetric matrix lists each
    undirected edge in both directions.
    """
    adjacency = np.asarray(adjacency)
    sources, targets = np.nonzero(adjacency)
    index = np.stack([sources, targets], axis=1).astype("int32")
    return index, adjacency[sources, targets].astype("float32")


def spectral_features(adjacency, dimensions=SPECTRAL_DIMENSIONS):
    """The first `dimensions` non-trivial eigenvectors of the random-walk Laplacian I - D^-1 A.

    Computed through the symmetric normalised Laplacian (its eigenvectors times D^-1/2), each
    scaled to unit norm with its sign fixed so that its largest entry is positive.
    """
    adjacency = np.asarray(adjacency, dtype="float64")
    degree = adjacency.sum(axis=1)
    scale = 1.0 / np.sqrt(np.maximum(degree, 1e-12))
    laplacian = np.eye(len(adjacency)) - scale[:, None] * adjacency * scale[None, :]
    _, vectors = np.linalg.eigh(laplacian)
    vectors = vectors[:, 1 : dimensions + 1] * scale[:, None]
    vectors /= np.linalg.norm(vectors, axis=0, keepdims=True)
    signs = np.sign(vectors[np.abs(vectors).argmax(axis=0), np.arange(vectors.shape[1])])
    return (vectors * signs).astype("float32")


def adjacency_spectral_embedding(adjacency, dimensions=EMBEDDING_DIMENSIONS):
    """Directed adjacency spectral embedding of log(1 + A): [U sqrt(S), V sqrt(S)], top `d`."""
    u, s, vt = np.linalg.svd(np.log1p(np.asarray(adjacency, dtype="float64")))
    root = np.sqrt(s[:dimensions])
    left, right = u[:, :dimensions] * root, vt[:dimensions].T * root
    signs = np.sign(left.sum(axis=0) + 1e-12)  # the sign of an SVD pair is arbitrary
    return np.concatenate([left * signs, right * signs], axis=1).astype("float32")


def connectome_features(adjacency):
    """Degree and spectral node features of a directed weighted graph (see the module doc)."""
    adjacency = np.asarray(adjacency, dtype="float64")
    degrees = np.stack(
        [
            (adjacency > 0).sum(axis=0),  # in-degree
            (adjacency > 0).sum(axis=1),  # out-degree
            adjacency.sum(axis=0),  # synapses in
            adjacency.sum(axis=1),  # synapses out
        ],
        axis=1,
    )
    return np.concatenate(
        [np.log1p(degrees), adjacency_spectral_embedding(adjacency)], axis=1
    ).astype("float32")


def _transductive(name, adjacency, labels, features, draw, class_names, split, provenance):
    """The Dataset of one graph: y_train = draw 0's labels, y_test = the other nodes'."""
    index, weight = edge_list(adjacency)
    X = {
        "node_features": features[None],
        "edge_index": index[None],
        "edge_weight": weight[None],
    }
    labelled = label_draw(labels, 0, **draw)
    y_train = np.full((1, len(labels)), UNLABELLED, dtype="int64")
    y_train[0, labelled] = labels[labelled]
    y_test = np.where(y_train >= 0, UNLABELLED, labels[None]).astype("int64")
    return Dataset(
        name=name,
        task="node_classification",
        X_train=X,
        y_train=y_train,
        X_test=X,
        y_test=y_test,
        split=split,
        class_names=list(class_names),
        provenance={**provenance, "label_draw": dict(draw)},
    )


def karate_graph():
    """(weighted adjacency (34, 34), faction labels (34,)) of Zachary's karate club."""
    import networkx as nx

    graph = nx.karate_club_graph()
    nodes = sorted(graph.nodes)
    adjacency = nx.to_numpy_array(graph, nodelist=nodes, weight="weight")
    labels = np.array([KARATE_FACTIONS.index(graph.nodes[n]["club"]) for n in nodes])
    return adjacency, labels


def load_karate_club():
    """Zachary's karate club: 34 members, weighted friendships, 2 factions (module docstring).

    Example:

        data = load_karate_club()
        data.y_test[0]   # the faction of every member but the two labelled ones, else -1
    """
    import networkx as nx

    adjacency, labels = karate_graph()
    return _transductive(
        "karate_club",
        adjacency,
        labels,
        spectral_features(adjacency),
        {"per_class": 1},
        KARATE_FACTIONS,
        split=(
            "transductive: the whole graph (34 nodes, 156 directed edges) is the one sample; "
            "train labels: draw 0 (numpy default_rng(0)), 1 member per faction; test: the "
            "other 32 members"
        ),
        provenance={
            "source": (
                f"networkx {nx.__version__} karate_club_graph(): Zachary's karate club, "
                "interaction counts as edge weights, 'club' as the faction"
            ),
            "licence": "networkx: BSD-3-Clause; data published by Zachary (1977)",
            "install": "pip install networkx",
            "citation": (
                "W. W. Zachary, An information flow model for conflict and fission in small "
                "groups, J. Anthropol. Res. 33:452-473 (1977)"
            ),
            "node_features": (
                f"spectral: the first {SPECTRAL_DIMENSIONS} non-trivial eigenvector(s) of the "
                "random-walk Laplacian of the weighted graph (the Fiedler vector)"
            ),
            "protocol": {"draws": 50, "per_class": 1},
        },
    )


def drosophila_files():
    """The graspologic wheel's drosophila directory (its data files, not the module)."""
    spec = importlib.util.find_spec("graspologic")
    if spec is None or not spec.submodule_search_locations:
        raise DatasetMissingError(
            "The Drosophila connectome ships inside the graspologic wheel, which is not "
            f"installed. Install it (data only, without its dependencies) with: {GRASPOLOGIC}"
        )
    folder = pathlib.Path(spec.submodule_search_locations[0]) / "datasets" / "drosophila"
    if not (folder / "left_adjacency.csv").is_file():
        raise DatasetMissingError(
            f"graspologic is installed but {folder} lacks left_adjacency.csv. Reinstall it "
            f"with: {GRASPOLOGIC}"
        )
    return folder


def drosophila_graph(side="left"):
    """(directed synapse counts (n, n), cell-type labels (n,), class names) of one side."""
    if side not in ("left", "right"):
        raise ValueError(f'side must be "left" or "right". Received: side={side!r}')
    folder = drosophila_files()
    adjacency = np.loadtxt(folder / f"{side}_adjacency.csv", dtype="float64")
    names = np.loadtxt(folder / f"{side}_cell_labels.csv", dtype=str)
    class_names = sorted(set(names.tolist()))
    labels = np.array([class_names.index(name) for name in names])
    return adjacency, labels, class_names


def load_drosophila():
    """The left larval mushroom body connectome, 209 neurons in 4 cell types (module doc).

    Example:

        data = load_drosophila()
        data.class_names   # ['I', 'K', 'O', 'P']
    """
    adjacency, labels, class_names = drosophila_graph("left")
    directed = np.log1p(adjacency)
    np.fill_diagonal(directed, 0.0)
    data = _transductive(
        "drosophila",
        directed,
        labels,
        connectome_features(adjacency),
        {"fraction": 0.1},
        class_names,
        split=(
            "transductive: the whole left-hemisphere graph (209 neurons) is the one sample; "
            "train labels: draw 0 (numpy default_rng(0)), 10% of the neurons stratified by "
            "cell type; test: the other neurons"
        ),
        provenance={
            "source": (
                "graspologic 3.4.4 wheel, datasets/drosophila/left_adjacency.csv and "
                "left_cell_labels.csv (read as files): the left hemisphere of the larval "
                "Drosophila mushroom body connectome, directed synapse counts"
            ),
            "licence": "graspologic: MIT; data published by Eichler et al. (2017)",
            "install": GRASPOLOGIC,
            "citation": (
                "K. Eichler et al., The complete connectome of a learning and memory centre "
                "in an insect brain, Nature 548:175-182 (2017)"
            ),
            "cell_types": {
                "I": "mushroom body input neurons",
                "K": "Kenyon cells",
                "O": "mushroom body output neurons",
                "P": "projection neurons",
            },
            "edges": "directed s -> t, weight log(1 + A_st) of the synapse count",
            "node_features": (
                "log(1 + in/out degree), log(1 + in/out synapses), adjacency spectral "
                f"embedding of log(1 + A) ({2 * EMBEDDING_DIMENSIONS} dimensions)"
            ),
            "protocol": {"draws": 20, "fraction": 0.1},
        },
    )
    return data


def all_labels(dataset):
    """Every node's class (1-D) of a transductive graph dataset: train and test labels."""
    return np.where(dataset.y_train[0] >= 0, dataset.y_train[0], dataset.y_test[0])


def dense_adjacency(dataset):
    """The weighted adjacency (n, n) of the dataset's graph, from its edge list."""
    nodes = dataset.X_train["node_features"].shape[1]
    adjacency = np.zeros((nodes, nodes))
    index = dataset.X_train["edge_index"][0]
    adjacency[index[:, 0], index[:, 1]] = dataset.X_train["edge_weight"][0]
    return adjacency


def baselines(dataset, labelled):
    """Test accuracy (nodes not in `labelled`) of the classical baselines on one label draw.

    - "label_spreading": `sklearn.semi_supervised.LabelSpreading` (alpha 0.2, the default)
      with the graph's weighted adjacency, symmetrised (A + A^T), as its kernel.
    - "spectral_logreg" (datasets with an adjacency spectral embedding in their features,
      drosophila): `LogisticRegression` on the embedding of the labelled nodes.

    Example:

        baselines(load_karate_club(), label_draw(labels, 0, per_class=1))
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.semi_supervised import LabelSpreading

    labels = all_labels(dataset)
    adjacency = dense_adjacency(dataset)
    adjacency = adjacency + adjacency.T  # label spreading needs a symmetric kernel
    test = np.setdiff1d(np.arange(len(labels)), labelled)
    partial = np.full(len(labels), UNLABELLED)
    partial[labelled] = labels[labelled]

    def kernel(a, b=None):
        b = a if b is None else b
        return adjacency[np.ix_(a[:, 0].astype(int), b[:, 0].astype(int))]

    spreading = LabelSpreading(kernel=kernel, max_iter=1000)
    spreading.fit(np.arange(len(labels), dtype="float64")[:, None], partial)
    result = {"label_spreading": float(np.mean(spreading.transduction_[test] == labels[test]))}
    if dataset.name == "drosophila":
        embedding = dataset.X_train["node_features"][0][:, 4:]
        logreg = LogisticRegression(max_iter=2000).fit(embedding[labelled], labels[labelled])
        result["spectral_logreg"] = float(np.mean(logreg.predict(embedding[test]) == labels[test]))
    return result


EGO_FEATURES = ["log_in_degree", "log_out_degree", "log_synapses_in", "log_synapses_out"]
GRAPH_STATISTICS = [
    "nodes",
    "edges",
    "density",
    "reciprocity",
    "mean_log_weight",
    "max_in_degree",
    "max_out_degree",
    "mean_degree",
]


def ego_networks(adjacency):
    """The 1-hop ego-network of every node of a directed graph, as padded-able lists.

    Node i's ego-network holds i and every neuron it sends synapses to or receives them
    from, with all synapses among them. The centre is not marked: it is one of the nodes,
    listed in ascending id order like the others.
    """
    adjacency = np.asarray(adjacency, dtype="float64").copy()
    np.fill_diagonal(adjacency, 0.0)
    networks = []
    for centre in range(len(adjacency)):
        members = np.union1d(
            np.flatnonzero(adjacency[centre]), np.flatnonzero(adjacency[:, centre])
        )
        members = np.union1d(members, [centre])
        networks.append(adjacency[np.ix_(members, members)])
    return networks


def ego_node_features(sub):
    """log(1 + in/out degree) and log(1 + synapses in/out) of each node inside its subgraph."""
    return np.log1p(
        np.stack([(sub > 0).sum(0), (sub > 0).sum(1), sub.sum(0), sub.sum(1)], axis=1)
    ).astype("float32")


def graph_statistics(sub):
    """The GRAPH_STATISTICS of one directed weighted subgraph (the baseline's features)."""
    nodes = len(sub)
    linked = sub > 0
    edges = int(linked.sum())
    possible = max(nodes * (nodes - 1), 1)
    mutual = int((linked & linked.T).sum())
    return [
        nodes,
        edges,
        edges / possible,
        mutual / max(edges, 1),
        float(np.log1p(sub[linked]).mean()) if edges else 0.0,
        int(linked.sum(0).max()),
        int(linked.sum(1).max()),
        edges / nodes,
    ]


def _padded_graphs(subgraphs, max_nodes, max_edges):
    count = len(subgraphs)
    features = np.zeros((count, max_nodes, len(EGO_FEATURES)), "float32")
    index = np.zeros((count, max_edges, 2), "int32")
    weight = np.zeros((count, max_edges), "float32")  # padded edges: weight 0, node 0 -> 0
    mask = np.zeros((count, max_nodes), "float32")
    for row, sub in enumerate(subgraphs):
        edges, weights = edge_list(np.log1p(sub))
        features[row, : len(sub)] = ego_node_features(sub)
        index[row, : len(edges)] = edges
        weight[row, : len(edges)] = weights
        mask[row, : len(sub)] = 1.0
    return {
        "node_features": features,
        "edge_index": index,
        "edge_weight": weight,
        "node_mask": mask,
    }


def load_drosophila_ego():
    """Ego-networks of the Drosophila mushroom body connectome, classed by the centre's type.

    Graph-level task (graph pooling): each neuron's 1-hop ego-network (`ego_networks`: the
    neuron, its synaptic partners in either direction and every synapse among them; the centre
    is not marked) is one graph; its label is the centre's cell type (I, K, O, P). Train: the
    209 ego-networks of the left hemisphere; test: the 213 of the right hemisphere, a
    separately reconstructed circuit (the two sides share no neuron); the graphs of each side
    are in a seeded random order of their centres (`provenance["neurons"]`: NumPy
    default_rng(0) for the left, (1) for the right). Node features: log(1 +
    in/out degree) and log(1 + synapses in/out) inside the ego-network; edges directed,
    weight log(1 + synapses); graphs padded to the largest (121 nodes), `node_mask` marks the
    real nodes. Baseline (`provenance["baseline_metrics"]`): logistic regression on the
    standardised GRAPH_STATISTICS of each ego-network, trained on the left, scored on the right.

    Example:

        data = load_drosophila_ego()
        data.X_train["node_mask"].sum(axis=1)[:3], data.y_train[:3]
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    sides, neurons = {}, {}
    for seed, side in enumerate(("left", "right")):
        adjacency, labels, class_names = drosophila_graph(side)
        # The csv files list the neurons by type; a seeded order mixes the types, so that
        # the first graphs of a split (quick checks, --limit) are not all of one class.
        neurons[side] = np.random.default_rng(seed).permutation(len(labels))
        networks = ego_networks(adjacency)
        sides[side] = ([networks[i] for i in neurons[side]], labels[neurons[side]])
    everything = sides["left"][0] + sides["right"][0]
    max_nodes = max(len(sub) for sub in everything)
    max_edges = max(int((sub > 0).sum()) for sub in everything)
    X_train = _padded_graphs(sides["left"][0], max_nodes, max_edges)
    X_test = _padded_graphs(sides["right"][0], max_nodes, max_edges)
    y_train, y_test = sides["left"][1].astype("int64"), sides["right"][1].astype("int64")
    statistics = {
        side: np.array([graph_statistics(sub) for sub in sides[side][0]], "float64")
        for side in sides
    }
    baseline = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))
    baseline.fit(statistics["left"], y_train)
    predicted = baseline.predict(statistics["right"])
    return Dataset(
        name="drosophila_ego",
        task="graph_classification",
        X_train=X_train,
        y_train=y_train,
        X_test=X_test,
        y_test=y_test,
        split=(
            "by hemisphere: train = the 209 ego-networks of the left mushroom body, test = the "
            f"213 of the right; padded to {max_nodes} nodes and {max_edges} edges"
        ),
        class_names=class_names,
        provenance={
            "source": (
                "graspologic 3.4.4 wheel, datasets/drosophila/{left,right}_adjacency.csv and "
                "*_cell_labels.csv (read as files): the larval Drosophila mushroom body "
                "connectome, both hemispheres; one 1-hop ego-network per neuron"
            ),
            "licence": "graspologic: MIT; data published by Eichler et al. (2017)",
            "install": GRASPOLOGIC,
            "citation": (
                "K. Eichler et al., The complete connectome of a learning and memory centre "
                "in an insect brain, Nature 548:175-182 (2017)"
            ),
            "task": "the cell type of the (unmarked) centre neuron of each ego-network",
            "node_features": list(EGO_FEATURES),
            "neurons": {side: order.tolist() for side, order in neurons.items()},
            "baseline_metrics": {
                "baseline_accuracy": float(np.mean(predicted == y_test)),
                "baseline": "logistic regression on " + ", ".join(GRAPH_STATISTICS),
            },
        },
    )

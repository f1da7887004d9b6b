"""Graph convolutional networks (Kipf & Welling 2017) on sparse edge lists.

A whole graph is one sample. The inputs are named "node_features" (batch, nodes, features),
"edge_index" (batch, edges, 2) int32 (source, target) node ids and "edge_weight" (batch,
edges); the outputs are "probabilities" (batch, nodes, classes), a softmax per node, and
"embedding" (batch, nodes, embedding_units), the node embeddings the classifier reads (the
output of the last graph convolution), so both serve from the SavedModel and ONNX exports.
"""

import keras
from keras import layers, regularizers

from zoo.layers.graph import GraphConvolution, GraphPooling
from zoo.registry import register


def graph_inputs(num_nodes, num_features):
    """The three named inputs of a graph model."""
    return {
        "node_features": keras.Input((num_nodes, num_features), name="node_features"),
        "edge_index": keras.Input((None, 2), dtype="int32", name="edge_index"),
        "edge_weight": keras.Input((None,), name="edge_weight"),
    }


def _mixed_layer(x, edges, units, l2, use_bias, skip, directed, name):
    """tanh of the sum of graph convolutions (forward, and reverse when `directed`) and, with
    `skip`, a Dense map of the node's own features (for graphs whose neighbours differ)."""
    kernel_regularizer = regularizers.L2(l2) if l2 else None
    parts = [
        GraphConvolution(
            units,
            use_bias=use_bias,
            kernel_regularizer=kernel_regularizer,
            direction=direction,
            name=f"{name}_{direction}",
        )([x, *edges])
        for direction in (("forward", "reverse") if directed else ("forward",))
    ]
    if skip:
        parts.append(
            layers.Dense(
                units, use_bias=False, kernel_regularizer=kernel_regularizer, name=f"{name}_self"
            )(x)
        )
    return layers.Activation("tanh", name=name)(layers.Add(name=f"{name}_sum")(parts))


def gcn_node_classifier(
    name,
    num_nodes,
    num_features,
    num_classes,
    hidden_units,
    embedding_units,
    dropout,
    l2,
    use_bias,
    normalize=False,
    skip=False,
    directed=False,
):
    """[Normalization ->] Dropout -> GCN(hidden, tanh) -> Dropout -> GCN(embedding, tanh) ->
    Dense softmax. The Normalization layer ("normalize", per feature) is adapted on the
    training graph's nodes by the pipeline, so raw node features go in."""
    inputs = graph_inputs(num_nodes, num_features)
    edges = [inputs["edge_index"], inputs["edge_weight"]]
    x = inputs["node_features"]
    if normalize:
        x = layers.Normalization(name="normalize")(x)
    x = layers.Dropout(dropout, name="dropout1")(x)
    if not (skip or directed):
        x = GraphConvolution(
            hidden_units,
            activation="tanh",
            use_bias=use_bias,
            kernel_regularizer=regularizers.L2(l2),
            name="gcn1",
        )([x, *edges])
        x = layers.Dropout(dropout, name="dropout2")(x)
        embedding = GraphConvolution(
            embedding_units, activation="tanh", use_bias=use_bias, name="embedding"
        )([x, *edges])
    else:
        x = _mixed_layer(x, edges, hidden_units, l2, use_bias, skip, directed, "gcn1")
        x = layers.Dropout(dropout, name="dropout2")(x)
        embedding = _mixed_layer(
            x, edges, embedding_units, 0.0, use_bias, skip, directed, "embedding"
        )
    probabilities = layers.Dense(
        num_classes, activation="softmax", use_bias=use_bias, dtype="float32", name="probabilities"
    )(embedding)
    return keras.Model(inputs, {"probabilities": probabilities, "embedding": embedding}, name=name)


@register(
    "gcn-karate",
    task="node_classification",
    dataset="karate_club",
    topic="graph convolution: semi-supervised node classification, node embeddings",
    recipe={
        "epochs": 10,
        "batch_size": 1,
        "learning_rate": 0.01,
        "validation_split": 0,
        "graph_passes": 20,
    },
)
def gcn_karate(
    num_nodes=34,
    num_features=1,
    num_classes=2,
    hidden_units=16,
    embedding_units=2,
    dropout=0.5,
    l2=5e-4,
    use_bias=False,
):
    """A two-layer GCN for Zachary's karate club, 2-D node embeddings, 1 label per faction.

    Node features are spectral (`datasets.graphs.spectral_features`). Without biases the
    model is odd in its input (f(-x) = -f(x) before the softmax), so the two labelled
    members fix only the orientation of the spectral axes, not a threshold along them.

    Args:
        num_nodes: nodes per graph (34 members).
        num_features: node features (1 spectral coordinate, the Fiedler vector).
        num_classes: 2 factions.
        hidden_units: width of the first graph convolution.
        embedding_units: width of the node embedding (the second graph convolution).
        dropout: dropout rate on the node features and the hidden layer.
        l2: L2 factor of the first graph convolution's kernel.
        use_bias: biases in the graph convolutions and the classifier.

    Example:

        model = gcn_karate()
        data = datasets.load("karate_club")
        model.predict(data.X_test)["embedding"].shape   # (1, 34, 2)
    """
    return gcn_node_classifier(
        "gcn_karate",
        num_nodes,
        num_features,
        num_classes,
        hidden_units,
        embedding_units,
        dropout,
        l2,
        use_bias,
    )


@register(
    "gcn-drosophila",
    task="node_classification",
    dataset="drosophila",
    topic="graph convolution: semi-supervised cell-type classification in a connectome",
    recipe={
        "epochs": 10,
        "batch_size": 1,
        "learning_rate": 0.01,
        "validation_split": 0,
        "graph_passes": 20,
    },
)
def gcn_drosophila(
    num_nodes=209,
    num_features=10,
    num_classes=4,
    hidden_units=32,
    embedding_units=2,
    dropout=0.5,
    l2=5e-4,
    skip=False,
    directed=True,
):
    """A two-layer GCN for the larval mushroom body connectome: 4 cell types, 10% labelled.

    Node features (`datasets.graphs.connectome_features`): log degrees and synapse counts in
    and out, and a 6-dimensional adjacency spectral embedding; normalised inside the model.

    Args:
        num_nodes: neurons per graph (209, the left hemisphere).
        num_features: node features (10).
        num_classes: 4 cell types.
        hidden_units: width of the first graph convolution.
        embedding_units: width of the node embedding (the second graph convolution).
        dropout: dropout rate on the node features and the hidden layer.
        l2: L2 factor of the first graph convolution's kernel.

    Example:

        model = gcn_drosophila()
        model.predict(datasets.load("drosophila").X_test)["probabilities"].shape  # (1, 209, 4)
    """
    return gcn_node_classifier(
        "gcn_drosophila",
        num_nodes,
        num_features,
        num_classes,
        hidden_units,
        embedding_units,
        dropout,
        l2,
        use_bias=True,
        normalize=True,
        skip=skip,
        directed=directed,
    )


@register(
    "gcn-pool-drosophila",
    task="graph_classification",
    dataset="drosophila_ego",
    topic="graph pooling: graph-level classification of connectome ego-networks",
    recipe={"epochs": 60, "batch_size": 16, "learning_rate": 0.005},
)
def gcn_pool_drosophila(
    num_nodes=121,
    num_features=4,
    num_classes=4,
    hidden_units=32,
    pooling=("mean", "max", "attention"),
    dropout=0.2,
    l2=5e-4,
):
    """GCN layers over each ego-network, then graph pooling readouts, then a softmax.

    Inputs: the three graph inputs and "node_mask" (batch, nodes), 1 for real nodes and 0
    for padding. Two graph convolutions read the directed edges both ways (forward and
    reverse) with a skip of each node's own features; `zoo.layers.GraphPooling` readouts
    (`pooling`: any of "mean", "sum", "max", "attention", concatenated) make one vector per
    graph; a Dense layer and a softmax classify it.

    Args:
        num_nodes: nodes per padded graph (121, the largest ego-network).
        num_features: node features (4: log degrees and synapse counts in and out).
        num_classes: 4 cell types of the centre neuron.
        hidden_units: width of the graph convolutions and of the dense layer.
        pooling: the readouts, concatenated.
        dropout: dropout rate before the classifier.
        l2: L2 factor of the graph convolutions' kernels.

    Example:

        model = gcn_pool_drosophila()
        model.predict(datasets.load("drosophila_ego").X_test)   # (213, 4) probabilities
    """
    inputs = graph_inputs(num_nodes, num_features)
    inputs["node_mask"] = keras.Input((num_nodes,), name="node_mask")
    edges = [inputs["edge_index"], inputs["edge_weight"]]
    x = layers.Normalization(name="normalize")(inputs["node_features"])
    for index in (1, 2):
        x = _mixed_layer(x, edges, hidden_units, l2, True, True, True, f"gcn{index}")
    readouts = [
        GraphPooling(mode, name=f"pool_{mode}")([x, inputs["node_mask"]]) for mode in pooling
    ]
    x = layers.Concatenate(name="readout")(readouts) if len(readouts) > 1 else readouts[0]
    x = layers.Dense(hidden_units, activation="relu", name="dense")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    probabilities = layers.Dense(
        num_classes, activation="softmax", dtype="float32", name="probabilities"
    )(x)
    return keras.Model(inputs, probabilities, name="gcn_pool_drosophila")

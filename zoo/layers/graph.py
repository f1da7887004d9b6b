"""Graph layers on sparse edge lists: graph convolution and graph pooling (keras.ops only).

A batch of graphs is a padded dense batch, so that a whole graph is one sample:

    node_features  (batch, nodes, features)   float   padded nodes: zeros
    edge_index     (batch, edges, 2)          int     (source, target) node ids in 0..nodes-1
    edge_weight    (batch, edges)             float   padded edges: weight 0

Inside the layers the batch is one disjoint union of its graphs: node `i` of graph `b` becomes
node `b * nodes + i`, and every message passes along an edge list through `keras.ops.take`
(gather at the sources) and `keras.ops.segment_sum` (sum at the targets). No dense adjacency
matrix is ever made, so memory grows with the number of edges. An edge of weight 0 carries
nothing, which is how padded edges are ignored; an undirected graph lists each edge in both
directions.
"""

import keras
from keras import layers, ops

POOLINGS = ("mean", "sum", "max", "attention")
DIRECTIONS = ("forward", "reverse")


def _flat_graph(node_features, edge_index, edge_weight):
    """(batch*nodes, features) features, flat source/target ids and weights of the union."""
    shape = ops.shape(node_features)
    batch, nodes = shape[0], shape[1]
    flat = ops.reshape(node_features, (-1, shape[2]))
    edge_index = ops.cast(edge_index, "int32")
    offsets = ops.reshape(ops.arange(batch, dtype="int32") * nodes, (-1, 1))
    sources = ops.reshape(edge_index[..., 0] + offsets, (-1,))
    targets = ops.reshape(edge_index[..., 1] + offsets, (-1,))
    weights = ops.reshape(ops.cast(edge_weight, node_features.dtype), (-1,))
    return flat, sources, targets, weights, batch * nodes


@keras.saving.register_keras_serializable(package="zoo")
class GraphConvolution(layers.Layer):
    """Kipf & Welling's graph convolution, `D^-1/2 (A + I) D^-1/2 X W + b`, on an edge list.

    `A` is the weighted adjacency given by the edge list (`A[t, s]` = the weight of the edge
    s -> t), `I` adds a self-loop of weight 1 to every node and `D` is the diagonal of the
    weighted in-degrees of `A + I`. Each node's new features are the degree-normalised sum of
    its own and its in-neighbours' transformed features: for an edge s -> t of weight w the
    message `w / sqrt(d_s d_t) * (X W)_s` is gathered at the source and summed at the target
    with `keras.ops.segment_sum`.

    Args:
        units: int, the width of the output features.
        activation: activation after the bias (default None: linear).
        use_bias: whether to add a bias.
        kernel_initializer, bias_initializer: initializers of `W` and `b`.
        kernel_regularizer: regularizer of `W` (e.g. L2, as in Kipf & Welling).
        direction: "forward" (messages go source -> target, as above) or "reverse" (along
            the edges reversed, target -> source, normalised by out-degrees): a directed
            graph can be read both ways by two layers.
        **kwargs: other `keras.layers.Layer` arguments (`name`, `dtype`).

    Call arguments:
        inputs: a list `[node_features, edge_index, edge_weight]` of shapes
            (batch, nodes, features), (batch, edges, 2) and (batch, edges).

    Returns:
        (batch, nodes, units) node features.

    Example:

        x = keras.Input((34, 34), name="node_features")
        e = keras.Input((None, 2), dtype="int32", name="edge_index")
        w = keras.Input((None,), name="edge_weight")
        h = GraphConvolution(16, activation="relu")([x, e, w])   # (batch, 34, 16)
    """

    def __init__(
        self,
        units,
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        direction="forward",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if direction not in DIRECTIONS:
            raise ValueError(
                f"`direction` must be one of {DIRECTIONS}. Received: direction={direction!r}"
            )
        self.direction = direction
        if isinstance(units, bool) or not isinstance(units, int) or units <= 0:
            raise ValueError(f"`units` must be a positive integer. Received: units={units!r}")
        self.units = units
        self.activation = keras.activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)

    def build(self, input_shape):
        if not isinstance(input_shape, (list, tuple)) or len(input_shape) != 3:
            raise ValueError(
                "GraphConvolution takes [node_features, edge_index, edge_weight]. "
                f"Received: input_shape={input_shape}"
            )
        features, edges, weights = (tuple(shape) for shape in input_shape)
        if len(features) != 3 or features[-1] is None:
            raise ValueError(
                "node_features must have shape (batch, nodes, features) with a known number "
                f"of features. Received: {features}"
            )
        if len(edges) != 3 or edges[-1] != 2 or len(weights) != 2:
            raise ValueError(
                "edge_index must have shape (batch, edges, 2) and edge_weight (batch, edges). "
                f"Received: {edges} and {weights}"
            )
        self.kernel = self.add_weight(
            name="kernel",
            shape=(features[-1], self.units),
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                name="bias", shape=(self.units,), initializer=self.bias_initializer
            )

    def call(self, inputs):
        node_features, edge_index, edge_weight = inputs
        transformed = ops.matmul(node_features, self.kernel)
        flat, sources, targets, weights, count = _flat_graph(transformed, edge_index, edge_weight)
        if self.direction == "reverse":
            sources, targets = targets, sources
        degree = ops.segment_sum(weights, targets, num_segments=count) + 1.0  # + self-loop
        norm = ops.rsqrt(degree)
        coefficient = weights * ops.take(norm, sources) * ops.take(norm, targets)
        messages = ops.take(flat, sources, axis=0) * ops.expand_dims(coefficient, -1)
        summed = ops.segment_sum(messages, targets, num_segments=count)
        summed = summed + flat * ops.expand_dims(norm * norm, -1)  # the self-loop
        output = ops.reshape(summed, ops.shape(transformed))
        if self.bias is not None:
            output = output + self.bias
        return self.activation(output)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0][:-1]) + (self.units,)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "activation": keras.activations.serialize(self.activation),
                "use_bias": self.use_bias,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
                "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
                "direction": self.direction,
            }
        )
        return config


@keras.saving.register_keras_serializable(package="zoo")
class GraphPooling(layers.Layer):
    """Pools the node features of each graph into one vector: a graph-level readout.

    The nodes of a batch are one flat list; `keras.ops.segment_sum` / `segment_max` over
    the graph index of every node reduce them per graph. A node mask (1 for real nodes, 0 for
    padding) keeps padded nodes out of every readout.

    Args:
        mode: "mean", "sum", "max" or "attention" (a learned score per node, `v . tanh(W h
            + b)`, turned into weights by a softmax over the real nodes of each graph:
            `exp(s - max_g s) / sum_g exp(s - max_g s)`, the max and sum being segment ops).
        units: width of the scoring projection `W` for "attention" (default: the feature
            size).
        **kwargs: other `keras.layers.Layer` arguments.

    Call arguments:
        inputs: `[node_features, node_mask]`, shapes (batch, nodes, dim) and (batch, nodes).

    Returns:
        (batch, dim) one vector per graph. A graph without real nodes gives zeros.

    Example:

        pooled = GraphPooling("attention")([h, node_mask])   # (batch, dim)
    """

    def __init__(self, mode="mean", units=None, **kwargs):
        super().__init__(**kwargs)
        if mode not in POOLINGS:
            raise ValueError(f"`mode` must be one of {POOLINGS}. Received: mode={mode!r}")
        if units is not None and (
            isinstance(units, bool) or not isinstance(units, int) or units <= 0
        ):
            raise ValueError(
                f"`units` must be a positive integer or None. Received: units={units!r}"
            )
        self.mode = mode
        self.units = units

    def build(self, input_shape):
        if not isinstance(input_shape, (list, tuple)) or len(input_shape) != 2:
            raise ValueError(
                "GraphPooling takes [node_features, node_mask]. "
                f"Received: input_shape={input_shape}"
            )
        features, mask = (tuple(shape) for shape in input_shape)
        if len(features) != 3 or len(mask) != 2 or features[-1] is None:
            raise ValueError(
                "GraphPooling takes node_features (batch, nodes, dim) and node_mask (batch, "
                f"nodes). Received: {features} and {mask}"
            )
        if self.mode == "attention":
            hidden = self.units or features[-1]
            self.hidden = layers.Dense(hidden, activation="tanh", name="hidden")
            self.hidden.build(features)
            self.score = layers.Dense(1, use_bias=False, name="score")
            self.score.build(features[:-1] + (hidden,))

    def call(self, inputs):
        node_features, node_mask = inputs
        shape = ops.shape(node_features)
        batch, nodes = shape[0], shape[1]
        flat = ops.reshape(node_features, (-1, shape[2]))
        mask = ops.reshape(ops.cast(node_mask, node_features.dtype), (-1,))
        real = mask > 0
        graph = ops.reshape(
            ops.broadcast_to(ops.expand_dims(ops.arange(batch, dtype="int32"), 1), (batch, nodes)),
            (-1,),
        )
        count = ops.segment_sum(mask, graph, num_segments=batch)
        if self.mode == "max":
            lowest = ops.where(ops.expand_dims(real, -1), flat, -1e9)
            pooled = ops.segment_max(lowest, graph, num_segments=batch)
            return ops.where(ops.expand_dims(count > 0, -1), pooled, 0.0)
        if self.mode == "attention":
            scores = ops.squeeze(self.score(self.hidden(flat)), -1)
            scores = ops.where(real, scores, -1e9)
            top = ops.segment_max(scores, graph, num_segments=batch)
            weights = ops.exp(scores - ops.take(top, graph)) * mask
            total = ops.segment_sum(weights, graph, num_segments=batch)
            weights = weights / ops.maximum(ops.take(total, graph), 1e-12)
        elif self.mode == "mean":
            weights = mask / ops.maximum(ops.take(count, graph), 1.0)
        else:
            weights = mask
        return ops.segment_sum(flat * ops.expand_dims(weights, -1), graph, num_segments=batch)

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], input_shape[0][-1])

    def get_config(self):
        config = super().get_config()
        config.update({"mode": self.mode, "units": self.units})
        return config

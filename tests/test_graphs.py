"""Graph neural networks: the graph layers, the graph loaders, node classification through the
spine (fit, the multi-draw protocol, evaluate's keys), exports and bad input."""

import dataclasses
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest

import datasets
import zoo
from datasets import graphs
from pipelines import evaluation
from pipelines.graph import ZooNodeClassifier, check_graphs, run_protocol
from zoo.layers.graph import GraphConvolution, GraphPooling

ROOT = Path(__file__).resolve().parents[1]


def random_graphs(rng, graphs_count=2, nodes=6, features=3, edges=10):
    """A padded batch: graph 1 has its last 2 edges as padding (weight 0)."""
    x = rng.normal(size=(graphs_count, nodes, features)).astype("float32")
    index = rng.integers(0, nodes, (graphs_count, edges, 2)).astype("int32")
    weight = rng.uniform(0.5, 2.0, (graphs_count, edges)).astype("float32")
    weight[1, -2:] = 0.0
    return x, index, weight


def dense_gcn(x, index, weight, kernel):
    """D^-1/2 (A + I) D^-1/2 X W with dense matrices, one graph at a time."""
    outputs = []
    for features, edges, weights in zip(x, index, weight):
        adjacency = np.eye(len(features))
        np.add.at(adjacency, (edges[:, 1], edges[:, 0]), weights)  # A[target, source]
        scale = 1.0 / np.sqrt(adjacency.sum(axis=1))
        outputs.append((scale[:, None] * adjacency * scale[None, :]) @ features @ kernel)
    return np.stack(outputs)


def test_graph_convolution_is_the_normalised_adjacency_product():
    x, index, weight = random_graphs(np.random.default_rng(0))
    layer = GraphConvolution(4, use_bias=False)
    got = keras.ops.convert_to_numpy(layer([x, index, weight]))
    expected = dense_gcn(x, index, weight, keras.ops.convert_to_numpy(layer.kernel))
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_graph_convolution_config_round_trip():
    layer = GraphConvolution(
        5, activation="tanh", use_bias=False, kernel_regularizer=keras.regularizers.L2(0.01)
    )
    copy = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert isinstance(copy, GraphConvolution)
    assert copy.get_config() == layer.get_config()
    with pytest.raises(ValueError, match="units"):
        GraphConvolution(0)


@pytest.mark.parametrize("mode", ["mean", "sum", "max", "attention"])
def test_graph_pooling_reads_out_the_real_nodes_of_each_graph(mode):
    rng = np.random.default_rng(1)
    h = rng.normal(size=(3, 5, 4)).astype("float32")
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [0, 0, 0, 0, 0]], "float32")
    layer = GraphPooling(mode, units=3)
    got = keras.ops.convert_to_numpy(layer([h, mask]))
    real = [h[0, :3], h[1], None]
    for row, nodes in enumerate(real):
        if nodes is None:
            np.testing.assert_array_equal(got[row], 0.0)  # no real node: zeros
        elif mode == "mean":
            np.testing.assert_allclose(got[row], nodes.mean(axis=0), atol=1e-5)
        elif mode == "sum":
            np.testing.assert_allclose(got[row], nodes.sum(axis=0), atol=1e-5)
        elif mode == "max":
            np.testing.assert_allclose(got[row], nodes.max(axis=0), atol=1e-5)
        else:  # a convex combination of the real nodes: padding changes nothing
            padded = h.copy()
            padded[0, 3:] = 100.0
            again = keras.ops.convert_to_numpy(layer([padded, mask]))
            np.testing.assert_allclose(again[0], got[0], atol=1e-5)
            assert np.all(got[row] <= nodes.max(axis=0) + 1e-5)
            assert np.all(got[row] >= nodes.min(axis=0) - 1e-5)
    copy = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert copy.get_config() == layer.get_config()


BACKEND_SCRIPT = textwrap.dedent(
    """
    import sys
    import keras
    import numpy as np
    from zoo.layers.graph import GraphConvolution, GraphPooling

    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 6, 3)).astype("float32")
    index = rng.integers(0, 6, (2, 10, 2)).astype("int32")
    weight = rng.uniform(0.5, 2.0, (2, 10)).astype("float32")
    mask = np.array([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]], "float32")
    inputs = {
        "node_features": keras.Input((6, 3), name="node_features"),
        "edge_index": keras.Input((None, 2), dtype="int32", name="edge_index"),
        "edge_weight": keras.Input((None,), name="edge_weight"),
        "node_mask": keras.Input((6,), name="node_mask"),
    }
    edges = [inputs["edge_index"], inputs["edge_weight"]]
    h = GraphConvolution(4, activation="tanh", name="gcn")([inputs["node_features"], *edges])
    outputs = {"nodes": h}
    for mode in ("mean", "sum", "max", "attention"):
        outputs[mode] = GraphPooling(mode, name=mode)([h, inputs["node_mask"]])
    model = keras.Model(inputs, outputs)
    if keras.backend.backend() == "tensorflow":
        model.save_weights(sys.argv[1])
    else:
        model.load_weights(sys.argv[1])
    feed = {"node_features": x, "edge_index": index, "edge_weight": weight, "node_mask": mask}
    np.savez(sys.argv[2], **model.predict(feed, verbose=0))
    """
)


def test_graph_layers_agree_on_tensorflow_jax_and_torch(tmp_path):
    script = tmp_path / "graph_layers.py"
    script.write_text(BACKEND_SCRIPT)
    weights = tmp_path / "graph.weights.h5"
    results = {}
    for backend in ("tensorflow", "jax", "torch"):
        out = tmp_path / f"{backend}.npz"
        env = {**os.environ, "KERAS_BACKEND": backend, "PYTHONPATH": str(ROOT)}
        env["TF_CPP_MIN_LOG_LEVEL"] = "3"
        done = subprocess.run(
            [sys.executable, str(script), str(weights), str(out)],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        results[backend] = dict(np.load(out))
    for backend in ("jax", "torch"):
        for key, value in results["tensorflow"].items():
            np.testing.assert_allclose(results[backend][key], value, atol=1e-5, err_msg=key)


# -- loaders -------------------------------------------------------------------------------


def test_karate_loader_one_graph_two_labelled_members():
    data = datasets.load("karate_club")
    x = data.X_train
    assert x["node_features"].shape == (1, 34, graphs.SPECTRAL_DIMENSIONS)
    assert x["edge_index"].shape == (1, 156, 2) and x["edge_index"].dtype == np.int32
    assert x["edge_weight"].shape == (1, 156) and x["edge_weight"].min() >= 1.0
    assert data.class_names == ["Mr. Hi", "Officer"]
    labelled = data.y_train[0] >= 0
    assert labelled.sum() == 2 and sorted(data.y_train[0, labelled]) == [0, 1]
    assert np.array_equal(data.y_test[0] >= 0, ~labelled)  # the other 32 nodes are the test
    labels = graphs.all_labels(data)
    assert np.bincount(labels).tolist() == [17, 17]
    # Seeded: the same draw again, another draw elsewhere.
    first = graphs.label_draw(labels, 0, per_class=1)
    assert np.array_equal(first, np.flatnonzero(labelled))
    assert np.array_equal(first, graphs.label_draw(labels, 0, per_class=1))
    draws = {tuple(graphs.label_draw(labels, seed, per_class=1)) for seed in range(10)}
    assert len(draws) > 5


def test_drosophila_loader_ten_percent_labelled(load_dataset):
    data = load_dataset("drosophila")
    assert data.X_train["node_features"].shape == (1, 209, 10)
    assert data.class_names == ["I", "K", "O", "P"]
    labels = graphs.all_labels(data)
    assert np.bincount(labels).tolist() == [21, 101, 29, 58]
    labelled = np.flatnonzero(data.y_train[0] >= 0)
    assert len(labelled) == 21 and set(labels[labelled]) == {0, 1, 2, 3}
    index = data.X_train["edge_index"][0]
    assert index.max() < 209 and (index[:, 0] != index[:, 1]).all()  # no self-loops
    # Directed: the weight of s -> t is log(1 + synapses from s to t).
    adjacency, _, _ = graphs.drosophila_graph("left")
    expected = np.log1p(adjacency[index[:, 0], index[:, 1]])
    np.testing.assert_allclose(data.X_train["edge_weight"][0], expected, rtol=1e-6)


def test_drosophila_without_graspologic_says_how_to_install(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "graspologic" else real(name)
    )
    with pytest.raises(datasets.DatasetMissingError, match="pip install --no-deps graspologic"):
        datasets.load("drosophila")


def test_label_draw_needs_one_rule():
    with pytest.raises(ValueError, match="per_class or fraction"):
        graphs.label_draw([0, 1], 0)


# -- node classification through the spine -------------------------------------------------


@pytest.fixture(scope="module")
def karate():
    return datasets.load("karate_club")


def test_protocol_trains_fresh_models_on_each_draw_and_prints_the_baselines(karate):
    small = dataclasses.replace(
        karate, provenance={**karate.provenance, "protocol": {"draws": 3, "per_class": 1}}
    )
    result = evaluation.report("gcn-karate", zoo.get("gcn-karate"), small)
    for key in ("accuracy", "accuracy_sd", "baseline_accuracy", "shipped_accuracy"):
        assert 0.0 <= result[key] <= 1.0, key
    assert result["draws"] == 3
    assert result["baseline_accuracy"] == result["baseline_label_spreading_accuracy"]
    # Draw 0 of the protocol is the shipped run: same labels, same seed, same recipe.
    single = run_protocol("gcn-karate", zoo.get("gcn-karate"), karate, draws=1)
    assert single["accuracy"] == pytest.approx(result["shipped_accuracy"], abs=1e-6)
    assert result["accuracy"] >= 0.9


def test_node_classifier_fit_predict_transform_score(karate):
    clf = ZooNodeClassifier("gcn-karate", epochs=3, random_state=0)
    clf.fit(karate.X_train, karate.y_train)
    assert clf.predict_proba(karate.X_test).shape == (1, 34, 2)
    assert clf.predict(karate.X_test).shape == (1, 34)
    assert clf.transform(karate.X_test).shape == (1, 34, 2)
    assert 0.0 <= clf.score(karate.X_test, karate.y_test) <= 1.0
    assert clf.classes_.tolist() == [0, 1]


def bad_inputs(karate):
    x = {key: value.copy() for key, value in karate.X_train.items()}
    out_of_range = {**x, "edge_index": x["edge_index"].copy()}
    out_of_range["edge_index"][0, 0, 1] = 34
    negative = {**x, "edge_index": x["edge_index"].copy()}
    negative["edge_index"][0, 3, 0] = -1
    ragged = {**x, "node_features": [np.zeros((34, 1)), np.zeros((20, 1))]}
    nan = {**x, "node_features": x["node_features"].copy()}
    nan["node_features"][0, 0, 0] = np.nan
    return {
        "edges out of range": (out_of_range, r"edge_index.*0\.\.33.*to 34"),
        "negative edge": (negative, r"edge_index.*from -1"),
        "ragged features": (ragged, "ragged"),
        "NaN features": (nan, "NaN"),
        "weights per edge": ({**x, "edge_weight": x["edge_weight"][:, :5]}, "edge_weight"),
        "negative weight": ({**x, "edge_weight": -x["edge_weight"]}, "edge_weight.*>= 0"),
        "missing key": ({"node_features": x["node_features"]}, "Missing.*edge_index"),
        "not a dict": (x["node_features"], "dict of graph arrays"),
    }


@pytest.mark.parametrize(
    "case",
    [
        "edges out of range",
        "negative edge",
        "ragged features",
        "NaN features",
        "weights per edge",
        "negative weight",
        "missing key",
        "not a dict",
    ],
)
def test_bad_graph_input_is_a_clear_error(karate, case):
    X, message = bad_inputs(karate)[case]
    with pytest.raises(ValueError, match=message):
        check_graphs(X)
    with pytest.raises(ValueError, match=message):
        ZooNodeClassifier("gcn-karate", epochs=1).fit(X, karate.y_train)


def test_bad_labels_are_a_clear_error(karate):
    clf = ZooNodeClassifier("gcn-karate", epochs=1)
    with pytest.raises(ValueError, match="one label per node"):
        clf.fit(karate.X_train, karate.y_train[:, :10])
    one_class = np.where(karate.y_train == 1, -1, karate.y_train)
    with pytest.raises(ValueError, match="at least 2 classes"):
        clf.fit(karate.X_train, one_class)
    with pytest.raises(ValueError, match="integer class ids"):
        clf.fit(karate.X_train, karate.y_train + 0.5)
    with pytest.raises(ValueError, match="sample_weight"):
        clf.fit(karate.X_train, karate.y_train, sample_weight=np.ones(1))
    fitted = ZooNodeClassifier("gcn-karate", epochs=1).fit(karate.X_train, karate.y_train)
    smaller = {**karate.X_test, "node_features": karate.X_test["node_features"][:, :20]}
    smaller["edge_index"] = np.zeros((1, 1, 2), "int32")
    smaller["edge_weight"] = np.ones((1, 1), "float32")
    with pytest.raises(ValueError, match=r"shape \(graphs, 34, 1\)"):
        fitted.predict(smaller)


@pytest.mark.parametrize("format", ["saved_model", "onnx"])
def test_export_takes_the_graph_and_gives_probabilities_and_embeddings(karate, format, tmp_path):
    from pipelines.export import export_model

    sample = {key: np.repeat(value, 2, axis=0) for key, value in karate.X_test.items()}
    report = export_model(zoo.get("gcn-karate"), tmp_path, format=format, sample=sample)
    assert sorted(report["inputs"]) == ["edge_index", "edge_weight", "node_features"]
    assert sorted(report["outputs"]) == ["embedding", "probabilities"]
    assert report["max_abs_diff"] < 1e-5


# -- graph-level classification with pooling (gcn-pool-drosophila) --------------------------


@pytest.fixture(scope="module")
def ego(load_dataset):
    return load_dataset("drosophila_ego")


def test_ego_network_loader_left_trains_right_tests(ego):
    assert ego.task == "graph_classification" and ego.class_names == ["I", "K", "O", "P"]
    assert ego.X_train["node_features"].shape == (209, 121, 4)
    assert ego.X_test["node_features"].shape == (213, 121, 4)
    mask = ego.X_train["node_mask"]
    assert set(np.unique(mask)) == {0.0, 1.0}
    # Every edge joins real nodes; padded edges have weight 0.
    for graph in range(0, 209, 20):
        real = int(mask[graph].sum())
        weight = ego.X_train["edge_weight"][graph]
        assert ego.X_train["edge_index"][graph][weight > 0].max() < real
    # One ego-network, rebuilt by hand: the first graph's centre and its partners either way.
    adjacency, labels, _ = graphs.drosophila_graph("left")
    np.fill_diagonal(adjacency, 0)
    order = np.asarray(ego.provenance["neurons"]["left"])
    assert sorted(order) == list(range(209))
    centre = order[0]
    partners = np.flatnonzero((adjacency[centre] > 0) | (adjacency[:, centre] > 0))
    assert mask[0].sum() == len(np.union1d(partners, [centre]))
    assert np.array_equal(ego.y_train, labels[order])
    assert len(set(ego.y_train[:24])) >= 3  # the seeded order mixes the types
    assert 0.5 < ego.provenance["baseline_metrics"]["baseline_accuracy"] < 1.0


def test_graph_classifier_trains_and_evaluate_prints_the_baseline(ego):
    from pipelines.graph import ZooGraphClassifier

    head = {key: value[:24] for key, value in ego.X_train.items()}
    clf = ZooGraphClassifier("gcn-pool-drosophila", epochs=1, batch_size=8, random_state=0)
    clf.fit(head, ego.y_train[:24])
    assert clf.predict_proba({k: v[:5] for k, v in ego.X_test.items()}).shape == (5, 4)
    result = evaluation.report("gcn-pool-drosophila", zoo.get("gcn-pool-drosophila"), ego)
    assert {"accuracy", "baseline_accuracy", "f1_macro"} <= set(result)
    # Far above the majority class (0.469); level with the graph-statistics baseline
    # (0.8685 against 0.8732: the card says so).
    assert result["accuracy"] >= 0.85 and result["baseline_accuracy"] >= 0.85


def test_graph_classifier_refuses_bad_graphs(ego):
    from pipelines.graph import ZooGraphClassifier

    head = {key: value[:4].copy() for key, value in ego.X_train.items()}
    clf = ZooGraphClassifier("gcn-pool-drosophila", epochs=1)
    no_mask = {key: value for key, value in head.items() if key != "node_mask"}
    with pytest.raises(ValueError, match="node_mask"):
        clf.fit(no_mask, ego.y_train[:4])
    with pytest.raises(ValueError, match="node_mask.*0 .padding. or 1"):
        clf.fit({**head, "node_mask": head["node_mask"] * 0.5}, ego.y_train[:4])
    wrong = {**head, "edge_index": head["edge_index"].copy()}
    wrong["edge_index"][2, 0, 0] = 500
    with pytest.raises(ValueError, match=r"edge_index.*0\.\.120.*to 500"):
        clf.fit(wrong, ego.y_train[:4])


@pytest.mark.parametrize("format", ["saved_model", "onnx"])
def test_pooling_model_exports(ego, format, tmp_path):
    from pipelines.export import export_model

    sample = {key: value[:3] for key, value in ego.X_test.items()}
    model = zoo.get("gcn-pool-drosophila")
    report = export_model(model, tmp_path, format=format, sample=sample, labels=ego.class_names)
    assert sorted(report["inputs"]) == ["edge_index", "edge_weight", "node_features", "node_mask"]
    assert "probabilities" in report["outputs"] and "class_id" in report["outputs"]


@pytest.mark.parametrize("name", ["gcn-karate", "gcn-drosophila", "gcn-pool-drosophila"])
def test_graph_entries_are_shipped_carded_and_exported(name):
    card = zoo.info(name)
    assert card["card"] and card["card"].endswith(f"zoo/cards/{name}.md")
    assert set(card["exports_verified"]) == {"saved_model", "onnx"}
    assert card["provenance"]["licence"] and card["weights"]["command"].startswith(
        f"python cli.py train {name}"
    )
    names = {tensor["name"] for tensor in card["inputs"]}
    assert {"node_features", "edge_index", "edge_weight"} <= names
    if card["task"] == "node_classification":
        assert {output["name"] for output in card["outputs"]} == {"probabilities", "embedding"}

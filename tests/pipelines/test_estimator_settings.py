"""Documented behaviour of the estimators' settings: optimizer instances, NumPy generators as
random_state, local seeding, sample_weight, the registry's override and head declarations."""

import random

import keras
import numpy as np
import pytest
import tensorflow as tf

import zoo
from pipelines import ZooClassifier, ZooMultiTask, ZooRegressor

FAST = dict(epochs=2, batch_size=16)


@pytest.fixture
def tabular():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(48, 6)).astype("float32")
    return X, (X[:, 0] > 0).astype(int)


def test_optimizer_instance_is_a_template(tabular):
    template = keras.optimizers.SGD(learning_rate=0.2, momentum=0.5)
    clf = ZooClassifier("mlp-breast-cancer", optimizer=template, random_state=0, **FAST)
    clf.fit(*tabular).fit(*tabular)  # a fresh optimizer per fit: refitting works
    used = clf.model_.optimizer
    assert used is not template and isinstance(used, keras.optimizers.SGD)
    assert float(used.learning_rate) == pytest.approx(0.2)
    assert float(used.momentum) == pytest.approx(0.5)
    clf.set_params(learning_rate=0.01).fit(*tabular)
    assert float(clf.model_.optimizer.learning_rate) == pytest.approx(0.01)


def test_random_state_as_a_numpy_generator(tabular):
    X, y = tabular
    first = ZooClassifier("mlp-breast-cancer", random_state=np.random.default_rng(3), **FAST)
    second = ZooClassifier("mlp-breast-cancer", random_state=np.random.default_rng(3), **FAST)
    np.testing.assert_array_equal(
        first.fit(X, y).predict_proba(X), second.fit(X, y).predict_proba(X)
    )
    # The generator advances: a refit draws another seed, like scikit-learn's estimators.
    again = first.fit(X, y).predict_proba(X)
    assert not np.array_equal(again, second.predict_proba(X))
    legacy = ZooRegressor("mlp-diabetes", random_state=np.random.RandomState(0), **FAST)
    assert legacy.fit(X, X[:, 1]).predict(X).shape == (48,)


def test_fit_leaves_the_global_random_state_as_it_found_it(tabular):
    from keras.src.backend.common import global_state

    random.seed(11)
    np.random.seed(11)
    tf.random.set_seed(11)
    expected = (random.random(), np.random.rand(), float(tf.random.uniform(())))
    random.seed(11)
    np.random.seed(11)
    tf.random.set_seed(11)
    keras_seed = global_state.get_global_attribute("global_random_seed")
    ZooClassifier("mlp-breast-cancer", random_state=5, **FAST).fit(*tabular)
    assert global_state.get_global_attribute("global_random_seed") == keras_seed
    assert (random.random(), np.random.rand(), float(tf.random.uniform(()))) == expected


def test_same_random_state_same_fit_and_seeds_differ(tabular):
    X, y = tabular
    runs = [
        ZooClassifier("mlp-breast-cancer", random_state=seed, **FAST).fit(X, y).predict_proba(X)
        for seed in (4, 4, 5)
    ]
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.allclose(runs[0], runs[2])


def test_sample_weight_changes_the_fit(tabular):
    X, y = tabular
    settings = dict(random_state=0, learning_rate=0.05, **FAST)
    plain = ZooClassifier("mlp-breast-cancer", **settings).fit(X, y).predict_proba(X)
    ones = ZooClassifier("mlp-breast-cancer", **settings).fit(X, y, sample_weight=np.ones(48))
    np.testing.assert_allclose(ones.predict_proba(X), plain, rtol=1e-6)
    skewed = np.where(y == 1, 10.0, 0.1)
    weighted = ZooClassifier("mlp-breast-cancer", **settings).fit(X, y, sample_weight=skewed)
    # Weighting class 1 up moves probability mass towards it.
    assert weighted.predict_proba(X)[:, 1].mean() > plain[:, 1].mean() + 0.05


def test_feature_names_in_and_n_features_in(tabular):
    import pandas as pd

    X, y = tabular
    frame = pd.DataFrame(X, columns=list("abcdef"))
    clf = ZooClassifier("mlp-breast-cancer", random_state=0, **FAST).fit(frame, y)
    assert clf.n_features_in_ == 6
    assert clf.feature_names_in_.tolist() == list("abcdef")
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        np.testing.assert_array_equal(clf.predict(frame), clf.predict(X))
    with pytest.raises(ValueError, match="Feature names must be in the same order"):
        clf.predict(frame[list("fedcba")])
    wide = np.tile(X, (1, 5))  # the entry's default 30 features: dict input infers none
    clf.fit({"features": wide}, y)  # and keeps no n_features_in_ from the previous fit
    assert not hasattr(clf, "n_features_in_")


def test_registry_check_overrides_types():
    entry = zoo.get_entry("mlp-breast-cancer")
    entry.check_overrides({"hidden_units": np.int64(8), "dropout": 0, "l2": 1e-3})
    with pytest.raises(
        ValueError, match=r"dropout must be a number \(default 0.3\). Received: True"
    ):
        entry.check_overrides({"dropout": True})
    with pytest.raises(ValueError, match=r"depth must be an integer \(default 1\). Received: 1.5"):
        entry.check_overrides({"depth": 1.5})
    with pytest.raises(ValueError, match="has no argument width"):
        entry.check_overrides({"width": 3})


def test_registry_declares_heads_and_embeddings():
    assert zoo.get_entry("multitask-fashion").heads == {
        "fine": "classification",
        "coarse": "classification",
    }
    assert zoo.get_entry("speech-text-retrieval").embeddings == (
        "audio_embedding",
        "text_embedding",
    )
    assert zoo.get_entry("cnn-digits").heads == {} and zoo.get_entry("cnn-digits").embeddings == ()
    with pytest.raises(ValueError, match="`heads`.*required for task 'multitask'"):
        zoo.register("toy-multitask", task="multitask", dataset="x", topic="x")
    estimator = ZooMultiTask("multitask-fashion")
    assert estimator._probe_heads() == zoo.get_entry("multitask-fashion").heads


def test_pretrained_sha256_is_honoured():
    row = zoo.weights.read_manifest()["mlp-breast-cancer"]
    assert zoo.get("mlp-breast-cancer", sha256=row["sha256"].upper()).count_params() > 0
    with pytest.raises(zoo.WeightsError, match="Received: sha256='abc'"):
        zoo.get("mlp-breast-cancer", sha256="abc")


def test_cli_predict_prints_every_embedding_component(tmp_path, capsys):
    import cli

    rng = np.random.default_rng(0)
    np.save(tmp_path / "audio.npy", rng.uniform(-0.1, 0.1, size=(2, 24000)).astype("float32"))
    np.save(tmp_path / "text.npy", rng.integers(1, 47, size=(2, 40)).astype("int32"))
    args = ["predict", "speech-text-retrieval"]
    args += [f"audio={tmp_path / 'audio.npy'}", f"text={tmp_path / 'text.npy'}"]
    assert cli.main([*args, "--out", str(tmp_path / "embeddings.npz")]) == 0
    lines = capsys.readouterr().out.strip().splitlines()[:-1]  # the last says where it saved
    assert len(lines) == 2
    with np.load(tmp_path / "embeddings.npz") as saved:
        assert sorted(saved.files) == ["audio_embedding", "text_embedding"]
        for line, audio in zip(lines, saved["audio_embedding"]):
            printed = dict(cell.split("=", 1) for cell in line.split("\t")[1:])
            np.testing.assert_allclose(
                np.array(printed["audio_embedding"].split(), float), audio, atol=1e-4
            )
    for line in lines:
        cells = dict(cell.split("=", 1) for cell in line.split("\t")[1:])
        assert sorted(cells) == ["audio_embedding", "text_embedding"]
        for values in cells.values():
            vector = np.array(values.split(), float)
            assert vector.shape == (64,)
            assert np.linalg.norm(vector) == pytest.approx(1, abs=1e-3)

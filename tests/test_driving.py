"""Driving by behaviour cloning: the simulator, the expert, the recording, BC, DAgger, metrics."""

import numpy as np
import pytest

import zoo
from datasets import driving
from pipelines.classification import ZooClassifier
from pipelines.driving import (
    DAggerClassifier,
    check_observations,
    driving_metrics,
    frame_strip,
    model_policy,
    other_recipes,
)

FEW_SEEDS = [100_000, 100_001]  # two held-out episodes


@pytest.fixture(scope="module")
def data(load_dataset):
    return load_dataset("driving")


def test_expert_drives_sane_episodes_and_beats_random():
    seeds = [3, 4]
    expert = driving.rollout(driving.expert_policy, seeds)
    random = driving.rollout(driving.random_policy(0), seeds)
    duration = driving.ENV_CONFIG["duration"]
    assert not expert["crashed"].any()
    np.testing.assert_array_equal(expert["lengths"], [duration, duration])
    # Every step's reward is in [0, 1]; the expert keeps it high (fast, no collision).
    assert (expert["returns"] <= duration).all() and expert["returns"].mean() > 0.6 * duration
    assert expert["returns"].mean() > random["returns"].mean()
    assert (random["lengths"] <= duration).all()


def test_recording_is_seeded_and_reproducible():
    first, again = driving.record([7, 8]), driving.record([7, 8])
    for key in ("observations", "expert_actions", "episodes", "returns"):
        np.testing.assert_array_equal(first[key], again[key])
    other = driving.record([9])
    assert not np.array_equal(first["observations"][:5], other["observations"][:5])
    assert first["observations"].shape[1:] == driving.OBSERVATION_SHAPE
    assert first["observations"].dtype == np.float32
    assert set(np.unique(first["expert_actions"])) <= set(range(len(driving.ACTIONS)))
    # The expert's actions are what it executed in its own demonstrations.
    np.testing.assert_array_equal(first["actions"], first["expert_actions"])
    assert np.bincount(first["episodes"]).tolist() == first["lengths"].tolist()


def test_dataset_split_by_seed_and_provenance(data):
    assert data.task == "driving" and data.class_names == list(driving.ACTIONS)
    assert data.X_train.shape[1:] == data.X_test.shape[1:] == driving.OBSERVATION_SHAPE
    assert len(data.y_train) == len(data.X_train) <= 30 * len(driving.TRAIN_SEEDS)
    assert len(data.y_test) == len(data.X_test) <= 30 * len(driving.TEST_SEEDS)
    assert not set(driving.TRAIN_SEEDS) & set(driving.TEST_SEEDS)
    dagger_range = range(driving.DAGGER_SEED_START, driving.DAGGER_SEED_START + 10_000)
    assert not set(dagger_range) & (set(driving.TEST_SEEDS) | set(driving.TRAIN_SEEDS))
    assert data.provenance["source"].startswith("SIMULATED: highway-env")
    assert data.provenance["constructed"] and "MIT" in data.provenance["licence"]
    expert = data.provenance["expert_test"]
    assert len(expert["returns"]) == len(driving.TEST_SEEDS)
    assert expert["collision_rate"] <= 0.05
    assert driving.cache_path().exists()
    # Every action occurs in the demonstrations (lane changes are the rare ones).
    assert (np.bincount(data.y_train, minlength=5) > 0).all()


def test_behaviour_cloning_trains_and_drives(data):
    clf = ZooClassifier("drive-bc", epochs=3, batch_size=64, random_state=0)
    clf.fit(data.X_train[:1200], data.y_train[:1200])
    assert clf.predict_proba(data.X_test[:8]).shape == (8, len(clf.classes_))
    assert clf.history_["loss"][-1] < clf.history_["loss"][0]
    assert clf.score(data.X_test, data.y_test) > 1 / len(driving.ACTIONS)  # above chance
    result = driving.rollout(model_policy(clf.model_), FEW_SEEDS[:1])
    assert 1 <= result["lengths"][0] <= driving.ENV_CONFIG["duration"]


def test_dagger_one_round_on_a_tiny_budget(data, monkeypatch):
    monkeypatch.setattr(DAggerClassifier, "_dagger_budget", lambda self, count: (1, 2))
    clf = DAggerClassifier("drive-dagger", epochs=1, batch_size=64, random_state=0)
    clf.fit(data.X_train[:300], data.y_train[:300])
    (log,) = clf.dagger_log_
    assert log["seeds"] == [driving.DAGGER_SEED_START, driving.DAGGER_SEED_START + 2]
    assert 2 <= log["states_added"] <= 2 * driving.ENV_CONFIG["duration"]
    assert clf.dagger_samples_ == 300 + log["states_added"]
    assert 0.0 <= log["disagreement"] <= 1.0
    assert clf.predict(data.X_test[:4]).shape == (4,)


def test_the_recipe_selects_the_dagger_trainer():
    from pipelines.training import estimator_for

    assert type(estimator_for("drive-dagger")) is DAggerClassifier
    assert type(estimator_for("drive-bc")) is ZooClassifier


def test_evaluate_keys_on_few_episodes(data):
    metrics = driving_metrics(zoo.get("drive-bc"), data, seeds=FEW_SEEDS)
    for prefix in ("", "random_"):
        assert 0 <= metrics[f"{prefix}collision_rate"] <= 1
        assert metrics[f"{prefix}return_ratio"] >= 0
    assert metrics["expert_collision_rate"] == 0.0 and metrics["episodes"] == 2
    assert {"accuracy", "f1_macro", "log_loss", "expert_mean_return"} <= set(metrics)
    assert metrics["return_ratio"] == pytest.approx(
        metrics["mean_return"] / metrics["expert_mean_return"]
    )
    others = other_recipes("drive-bc", data, seeds=FEW_SEEDS[:1])
    if "drive-dagger" in zoo.weights.read_manifest():
        assert {"dagger_return_ratio", "dagger_collision_rate"} <= set(others)


def test_frame_strip_renders_headless(tmp_path):
    path = tmp_path / "strip.png"
    result = frame_strip(driving.expert_policy, 5, path, frames=2, every=15)
    assert path.stat().st_size > 1000 and not result["crashed"]
    assert result["mean_pixel"] > 20  # the road and the vehicles are drawn, not a blank frame
    assert len(result["actions"]) == driving.ENV_CONFIG["duration"]


def test_bad_input_is_named(data):
    with pytest.raises(ValueError, match=r"observations must have shape \(n, 7, 5\).*\(4, 5, 5\)"):
        check_observations(np.zeros((4, 5, 5)))
    with pytest.raises(ValueError, match="must be numbers"):
        check_observations(np.full((1, 7, 5), "a"))
    with pytest.raises(ValueError, match="seeds must be a non-empty sequence"):
        driving.rollout(driving.expert_policy, [])
    with pytest.raises(ValueError, match="seeds must be .* non-negative integers"):
        driving.rollout(driving.expert_policy, [-1])
    with pytest.raises(ValueError, match="seeds must be a non-empty sequence.*Received: 5"):
        driving.rollout(driving.expert_policy, 5)
    with pytest.raises(ValueError, match=r"actions must be in 0..4. Received: 7"):
        driving.rollout(lambda observations, envs: np.full(len(observations), 7), [1])
    with pytest.raises(ValueError, match="one action per observation"):
        driving.rollout(lambda observations, envs: np.zeros(3, int), [1])
    wrong = zoo.get("mlp-breast-cancer")
    with pytest.raises(ValueError, match=r"model must map observations \(None, 7, 5\)"):
        driving_metrics(wrong, data, seeds=[1])
    with pytest.raises(ValueError, match=r"X must have shape \(n, 7, 5\)"):
        DAggerClassifier("drive-dagger").fit(np.zeros((10, 7, 4)), np.zeros(10, int))
    model = zoo.get("drive-bc")
    with pytest.raises(ValueError, match="observation"):
        from pipelines import evaluation

        evaluation.predict_arrays(model, np.zeros((2, 6, 5), "float32"))


def test_shipped_policy_exports_to_saved_model_and_onnx(tmp_path, data):
    from pipelines.export import export_model

    model = zoo.get("drive-bc")
    for format in ("saved_model", "onnx"):
        result = export_model(
            model, tmp_path, format=format, labels=list(driving.ACTIONS), sample=data.X_test[:8]
        )
        assert result["max_abs_diff"] < 1e-4, (format, result)
    card = zoo.info("drive-bc")
    assert card["inputs"][0]["name"] == "observation"
    assert card["inputs"][0]["shape"] == (None, *driving.OBSERVATION_SHAPE)
    assert card["card"].endswith("zoo/cards/drive-bc.md")

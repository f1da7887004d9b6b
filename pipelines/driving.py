"""Driving policies in the highway-env simulator: closed-loop evaluation, DAgger, frame strips.

Behaviour cloning needs nothing new: `drive-bc` is a classification entry, trained by
`ZooClassifier` (`python cli.py train drive-bc`) on the expert's state-action pairs of
`datasets.load("driving")`. What is new is measured here, in the simulator:

- `driving_metrics(model, dataset)`: the policy drives the 50 held-out episodes
  (`datasets.driving.TEST_SEEDS`); `return_ratio` = its mean return / the expert's mean
  return on the same seeds; collision rates of the policy, the expert and a uniformly random
  policy (`random_*`); plus the accuracy of its actions against the expert's on the held-out
  expert states (`accuracy`, `f1_macro`, `log_loss`).
- `DAggerClassifier`: the second recipe (entry `drive-dagger`, `python cli.py train
  drive-dagger`): behaviour cloning first, then `dagger_iterations` rounds of: roll the
  learner out on fresh training seeds (per round a `dagger_fraction` of the demonstration
  episodes), label every state it visits with the expert's action, aggregate with all
  earlier data, retrain (Ross, Gordon & Bagnell, 2011).
- `frame_strip(policy, seed, path)`: rendered frames (rgb_array, headless) of one episode.

Example:

    import datasets, zoo
    from pipelines.driving import driving_metrics
    driving_metrics(zoo.get("drive-bc"), datasets.load("driving"))["return_ratio"]
"""

import sys

import numpy as np

from datasets import driving
from pipelines import evaluation
from pipelines.classification import ZooClassifier

RECIPE_PREFIX = {"drive-bc": "bc", "drive-dagger": "dagger"}
RANDOM_SEED = 0


def _check_model(model):
    expected = (None, *driving.OBSERVATION_SHAPE)
    shape = tuple(model.inputs[0].shape)
    outputs = tuple(model.outputs[0].shape)
    if len(model.inputs) != 1 or shape != expected or outputs != (None, len(driving.ACTIONS)):
        raise ValueError(
            f"model must map observations {expected} to {len(driving.ACTIONS)} action "
            f"probabilities. Received: a model with inputs {shape} and outputs {outputs}"
        )


def model_policy(model):
    """A `rollout` policy that takes the most probable action of a Keras policy model."""
    _check_model(model)

    def policy(observations, envs):
        probabilities = np.asarray(model.predict_on_batch(observations))
        return probabilities.argmax(axis=-1)

    return policy


def estimator_policy(estimator):
    """A `rollout` policy from a fitted classifier: its label (an action id) per state."""
    model, classes = estimator.model_, np.asarray(estimator.classes_)

    def policy(observations, envs):
        probabilities = np.asarray(model.predict_on_batch(observations))
        return classes[probabilities.argmax(axis=-1)]

    return policy


def check_observations(observations, what="observations"):
    """Float32 observations (n, 7, 5), or a ValueError naming what was received."""
    array = np.asarray(observations)
    if array.dtype.kind not in "biuf":
        raise ValueError(f"{what} must be numbers. Received: dtype {array.dtype}")
    if array.ndim != 3 or array.shape[1:] != driving.OBSERVATION_SHAPE or len(array) == 0:
        raise ValueError(
            f"{what} must have shape (n, {', '.join(map(str, driving.OBSERVATION_SHAPE))}) "
            f"(n >= 1 highway-env Kinematics observations). Received: shape {array.shape}"
        )
    return array.astype("float32")


def rollout_metrics(policy, seeds, expert_mean_return, prefix=""):
    """Mean return, collision rate and return ratio of `policy` over one episode per seed."""
    result = driving.summary(driving.rollout(policy, seeds))
    key = f"{prefix}_" if prefix else ""
    return {
        f"{key}mean_return": result["mean_return"],
        f"{key}return_ratio": result["mean_return"] / expert_mean_return,
        f"{key}collision_rate": result["collision_rate"],
    }


def driving_metrics(model, dataset, seeds=None):
    """Closed-loop and imitation metrics of a policy model on held-out episodes.

    Args:
        model: a Keras model, observations (n, 7, 5) -> 5 action probabilities.
        dataset: `datasets.load("driving")` (its test split and the expert's test returns).
        seeds: episode seeds to drive (default: the 50 held-out `TEST_SEEDS`, whose expert
            returns the dataset holds; other seeds run the expert too).

    Returns:
        {"return_ratio", "mean_return", "collision_rate", "expert_mean_return",
        "expert_collision_rate", "random_mean_return", "random_return_ratio",
        "random_collision_rate", "episodes", "accuracy", "f1_macro", "log_loss"}.
    """
    _check_model(model)
    seeds = list(driving.TEST_SEEDS if seeds is None else driving.check_seeds(seeds))
    if seeds == list(driving.TEST_SEEDS):
        expert = dataset.provenance["expert_test"]
    else:
        expert = driving.summary(driving.rollout(driving.expert_policy, seeds))
    expert_return = expert["mean_return"]
    metrics = rollout_metrics(model_policy(model), seeds, expert_return)
    metrics.update(
        {
            "expert_mean_return": expert_return,
            "expert_collision_rate": expert["collision_rate"],
            **rollout_metrics(driving.random_policy(RANDOM_SEED), seeds, expert_return, "random"),
            "episodes": len(seeds),
        }
    )
    probabilities = evaluation.predict_arrays(model, dataset.X_test)
    metrics.update(evaluation.classification_metrics(dataset.y_test, probabilities))
    return metrics


def other_recipes(name, dataset, seeds=None):
    """The closed-loop metrics of the other shipped driving entries, prefixed by recipe.

    `python cli.py evaluate drive-bc` prints the DAgger policy's `dagger_return_ratio` and
    `dagger_collision_rate` beside its own (and `evaluate drive-dagger` the BC policy's).
    Entries without shipped weights are left out.
    """
    import zoo

    seeds = list(driving.TEST_SEEDS if seeds is None else seeds)
    if seeds == list(driving.TEST_SEEDS):
        expert_return = dataset.provenance["expert_test"]["mean_return"]
    else:
        expert_return = driving.summary(driving.rollout(driving.expert_policy, seeds))[
            "mean_return"
        ]
    shipped = zoo.weights.read_manifest()
    metrics = {}
    for other, prefix in RECIPE_PREFIX.items():
        if other == name or other not in shipped:
            continue
        policy = model_policy(zoo.get(other))
        metrics.update(rollout_metrics(policy, seeds, expert_return, prefix))
    return metrics


class DAggerClassifier(ZooClassifier):
    """DAgger (dataset aggregation) for a zoo policy entry; the recipe sets the budget.

    `fit(X, y)` takes the expert's demonstrations (states, expert actions), trains on them
    (behaviour cloning), then for each of the entry recipe's `dagger_iterations` rounds rolls
    the current policy out on new training seeds (from `datasets.driving.DAGGER_SEED_START`,
    disjoint from the test seeds; per round, `dagger_fraction` as many episodes as the
    demonstrations hold: 0.25 x 200 = 50), labels every visited
    state with the expert's action, adds them to the data and retrains from scratch. Only
    the final training (on all the aggregated data) sees the estimator's `callbacks`, so a
    `train_run` records and checkpoints that one. `dagger_log_` holds each round's rollout
    (mean return, collision rate, states added, how often the learner disagreed with the
    expert).

    Example:

        clf = DAggerClassifier("drive-dagger", random_state=0)
        clf.fit(data.X_train, data.y_train)
        clf.dagger_log_[-1]["collision_rate"]
    """

    def _dagger_budget(self, demonstrations):
        """(rounds, learner episodes per round) for `demonstrations` expert states."""
        recipe = self._entry().recipe
        episodes = demonstrations / driving.ENV_CONFIG["duration"]
        per_round = max(1, round(float(recipe.get("dagger_fraction", 0.25)) * episodes))
        return int(recipe.get("dagger_iterations", 3)), per_round

    def fit(self, X, y=None, validation_data=None, *, sample_weight=None):
        if sample_weight is not None:
            raise ValueError(
                "DAggerClassifier.fit takes no sample_weight: the states it adds have none. "
                "Received: sample_weight"
            )
        X = check_observations(X, "X")
        iterations, episodes = self._dagger_budget(len(X))
        y = np.asarray(y)
        if len(y) != len(X):
            raise ValueError(
                f"X and y must hold the same number of samples. Received: {len(X)} and {len(y)}"
            )
        self.dagger_log_ = []
        callbacks = self.callbacks
        for round_ in range(iterations):
            try:
                self.callbacks = None  # intermediate rounds are not the recorded training
                super().fit(X, y)
            finally:
                self.callbacks = callbacks
            start = driving.DAGGER_SEED_START + round_ * episodes
            result = driving.rollout(
                estimator_policy(self), range(start, start + episodes), label=True
            )
            self.dagger_log_.append(
                {
                    "round": round_ + 1,
                    "seeds": [start, start + episodes],
                    **driving.summary(result),
                    "states_added": int(len(result["observations"])),
                    "disagreement": float(np.mean(result["actions"] != result["expert_actions"])),
                }
            )
            if self.verbose:
                print(f"DAgger {self.dagger_log_[-1]}", file=sys.stderr)
            X = np.concatenate([X, result["observations"]])
            y = np.concatenate([y, result["expert_actions"]])
        self.dagger_samples_ = len(X)
        return super().fit(X, y, validation_data)


def frame_strip(policy, seed, path, frames=6, every=5, title=None):
    """Saves a PNG strip of `frames` rendered frames (one per `every` decisions) of one episode.

    Args:
        policy: a `rollout` policy (`model_policy(model)`, `driving.expert_policy`, ...).
        seed: the episode seed.
        path: the PNG to write (atomically).

    Returns:
        {"return", "crashed", "actions", "mean_pixel"}: the episode's return, whether it
        crashed, the actions taken and the mean pixel value of the frames (0: blank).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from zoo.weights import atomic_path

    env = driving.make_env(render_mode="rgb_array")
    try:
        observation, _ = env.reset(seed=int(seed))
        images, captions, actions, total, crashed, step = [], [], [], 0.0, False, 0
        done = False
        while not done:
            action = int(np.asarray(policy(observation[None].astype("float32"), [env]))[0])
            if step % every == 0 and len(images) < frames:
                images.append(env.render())
                speed = env.unwrapped.vehicle.speed
                captions.append(f"t={step} s, {speed:.0f} m/s, -> {driving.ACTIONS[action]}")
            observation, reward, terminated, truncated, info = env.step(action)
            actions.append(action)
            total += reward
            crashed = bool(info["crashed"])
            done = terminated or truncated
            step += 1
        if crashed or len(images) < frames:
            images.append(env.render())
            captions.append(f"end t={step} s" + (" CRASHED" if crashed else ""))
    finally:
        env.close()
    figure, axes = plt.subplots(len(images), 1, figsize=(8, 1.55 * len(images)))
    for axis, image, caption in zip(np.atleast_1d(axes), images, captions):
        axis.imshow(image)
        axis.set_title(caption, fontsize=8, loc="left")
        axis.axis("off")
    if title:
        figure.suptitle(title, fontsize=9)
    figure.tight_layout()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=100, format="png")
    plt.close(figure)
    mean_pixel = float(np.mean([image.mean() for image in images]))
    return {"return": total, "crashed": crashed, "actions": actions, "mean_pixel": mean_pixel}

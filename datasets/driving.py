"""Expert driving demonstrations recorded in the highway-env simulator (behaviour cloning).

Source: the highway-env simulator (`pip install highway-env==1.12.1`, MIT licence; Leurent,
"An Environment for Autonomous Driving Decision-Making", 2018). Nothing here is a real
recording: every sample is SIMULATED, produced by running the simulator with the fixed
configuration `ENV_CONFIG` and a rule-based expert driver, from seeded episodes.

Environment ("highway-v0", configured small and fast): a straight 3-lane highway, 20 other
vehicles driven by highway-env's IDMVehicle (IDM + MOBIL, randomised IDM exponent),
simulated at 5 Hz, one decision per second, 30 decisions per episode (30 s). The reward of
highway-v0 is kept as it is: per decision, 0.4 x (forward speed mapped from 20..30 m/s to
0..1) + 0.1 x (rightmost lane) rescaled to [0, 1]; a collision ends the episode.

Observation ("Kinematics", shape `OBSERVATION_SHAPE` = (7, 5)): the ego vehicle and the 6
nearest vehicles (ahead and behind, `see_behind`), nearest first, each row
[presence, x, y, vx, vy]; the ego row is absolute, the others relative to the ego vehicle,
normalised by highway-env to [-1, 1]; absent vehicles are zero rows.

Actions (highway-env's DiscreteMetaAction): 0 LANE_LEFT, 1 IDLE, 2 LANE_RIGHT, 3 FASTER,
4 SLOWER (target speeds 20, 25, 30 m/s).

Expert (`expert_action`): highway-env's own rule-based driver, `IDMVehicle`, asked for a
decision at every step: a copy of the ego vehicle (`IDMVehicle.create_from`, desired speed
30 m/s) stands in its place on the road, MOBIL (`IDMVehicle.mobil`) is asked about each
reachable side lane (a lane change when it recommends one), else the IDM acceleration
(`IDMVehicle.acceleration`, the same front/rear vehicles `IDMVehicle.act` uses) is mapped to
FASTER (> +0.5 m/s^2), SLOWER (< -0.5 m/s^2) or IDLE. The expert drives through the same
meta-actions as the learner, so its return is the return of its labels.

Recording (`record`): seeded episodes run in lockstep; at every step the state is
observed, the expert's action is recorded as the label and (for the demonstrations) executed.
`TRAIN_SEEDS` (200 episodes, 6,000 state-action pairs) give the training split;
`TEST_SEEDS` (50 held-out episodes, seeds 100000..100049, disjoint from every seed used for
training or DAgger) give the test split, and the expert's return and collision on each of
them (the reference of `return_ratio`). The recording is cached in
`$ZOO_HOME/datasets/driving-<key>.npz` (default `~/.cache/keras-zoo/datasets`), written
atomically; `<key>` hashes the configuration, so another configuration records anew.

Example:

    data = load_driving()
    data.X_train.shape, data.y_train[:5]      # (6000, 7, 5), expert actions
    data.provenance["expert_test"]["mean_return"]
"""

import contextlib
import hashlib
import json
import os

import numpy as np

from datasets.base import Dataset, DatasetMissingError, cache_file, read_npz, save_npz_atomic

ENV_ID = "highway-v0"
OBSERVATION_FEATURES = ["presence", "x", "y", "vx", "vy"]
OBSERVED_VEHICLES = 7
OBSERVATION_SHAPE = (OBSERVED_VEHICLES, len(OBSERVATION_FEATURES))
ENV_CONFIG = {
    "lanes_count": 3,
    "vehicles_count": 20,
    "duration": 30,  # [s] = decisions per episode at 1 Hz
    "simulation_frequency": 5,
    "policy_frequency": 1,
    "observation": {
        "type": "Kinematics",
        "vehicles_count": OBSERVED_VEHICLES,
        "features": OBSERVATION_FEATURES,
        "see_behind": True,
        "absolute": False,
    },
    "action": {"type": "DiscreteMetaAction"},
}
ACTIONS = ("LANE_LEFT", "IDLE", "LANE_RIGHT", "FASTER", "SLOWER")
LANE_LEFT, IDLE, LANE_RIGHT, FASTER, SLOWER = range(len(ACTIONS))
EXPERT_ACCELERATION_THRESHOLD = 0.5  # [m/s^2]: IDM acceleration -> FASTER / SLOWER
TRAIN_SEEDS = tuple(range(200))
TEST_SEEDS = tuple(range(100_000, 100_050))
DAGGER_SEED_START = 10_000  # DAgger rollouts: 10000.. (disjoint from train and test seeds)
CACHE_VERSION = 1
INSTALL = "pip install highway-env==1.12.1"


def _highway_env():
    """Imports highway-env (headless: SDL's offscreen video driver), or says how to install it.

    SDL's "offscreen" driver, not "dummy": highway-env 1.12.1's viewer draws nothing when
    SDL_VIDEODRIVER is "dummy" (`EnvViewer.enabled` is False), so rgb_array frames would be
    black.
    """
    os.environ.setdefault("SDL_VIDEODRIVER", "offscreen")
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    try:
        import gymnasium
        import highway_env
    except ImportError:
        raise DatasetMissingError(
            f"The driving data is recorded in the highway-env simulator, which is not "
            f"installed. Install it with: {INSTALL}"
        ) from None
    return gymnasium, highway_env


def make_env(render_mode=None):
    """A highway-v0 environment with `ENV_CONFIG` (render_mode "rgb_array" for frames).

    With "rgb_array", SDL_VIDEODRIVER "dummy" is replaced by "offscreen" (see `_highway_env`).

    Example:

        env = make_env()
        observation, info = env.reset(seed=0)    # observation: float32 (7, 5)
    """
    gymnasium, _ = _highway_env()
    if render_mode == "rgb_array" and os.environ.get("SDL_VIDEODRIVER") == "dummy":
        os.environ["SDL_VIDEODRIVER"] = "offscreen"
    config = json.loads(json.dumps(ENV_CONFIG))  # a copy: highway-env updates it in place
    return gymnasium.make(ENV_ID, config=config, render_mode=render_mode)


@contextlib.contextmanager
def _standing_in(road, vehicle, stand_in):
    """`stand_in` takes `vehicle`'s place in `road.vehicles` for the duration."""
    index = road.vehicles.index(vehicle)
    road.vehicles[index] = stand_in
    try:
        yield
    finally:
        road.vehicles[index] = vehicle


def expert_action(env):
    """The rule-based expert's meta-action (0..4) for the current state of `env`.

    highway-env's IDMVehicle decides in the ego vehicle's place: MOBIL for lane changes,
    IDM for the acceleration, thresholded at +-0.5 m/s^2 into FASTER / SLOWER / IDLE.
    """
    from highway_env.vehicle.behavior import IDMVehicle

    env = env.unwrapped
    ego, road = env.vehicle, env.road
    driver = IDMVehicle.create_from(ego)
    driver.target_speed = float(ego.target_speeds[-1])
    with _standing_in(road, ego, driver):
        changing = ego.lane_index != ego.target_lane_index
        if not changing and abs(ego.speed) >= 1:
            for lane_index in road.network.side_lanes(ego.lane_index):
                reachable = road.network.get_lane(lane_index).is_reachable_from(ego.position)
                if reachable and driver.mobil(lane_index):
                    return LANE_LEFT if lane_index[2] < ego.lane_index[2] else LANE_RIGHT
        front, rear = road.neighbour_vehicles(driver, ego.lane_index)
        acceleration = driver.acceleration(driver, front, rear)
        if changing:  # as IDMVehicle.act: mind the target lane too
            front, rear = road.neighbour_vehicles(driver, ego.target_lane_index)
            acceleration = min(acceleration, driver.acceleration(driver, front, rear))
    if acceleration > EXPERT_ACCELERATION_THRESHOLD:
        return FASTER
    if acceleration < -EXPERT_ACCELERATION_THRESHOLD:
        return SLOWER
    return IDLE


def expert_policy(observations, envs):
    """The expert as a policy for `rollout`: its action in each environment."""
    return np.array([expert_action(env) for env in envs], dtype="int64")


def random_policy(seed):
    """A uniformly random policy for `rollout` (seeded)."""
    rng = np.random.default_rng(seed)

    def policy(observations, envs):
        return rng.integers(0, len(ACTIONS), size=len(observations))

    return policy


def check_seeds(seeds):
    """The episode seeds as a list, or a ValueError naming what was received."""
    expected = "seeds must be a non-empty sequence of non-negative integers"
    if isinstance(seeds, (str, bytes, dict)) or not hasattr(seeds, "__iter__"):
        raise ValueError(f"{expected}. Received: {seeds!r}")
    seeds = list(seeds)
    valid = all(
        isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 0 for s in seeds
    )
    if not seeds or not valid:
        raise ValueError(f"{expected}. Received: {seeds!r}")
    return seeds


def rollout(policy, seeds, label=False):
    """Runs one episode per seed, all in lockstep, with `policy` choosing the actions.

    Args:
        policy: a callable (observations (n, 7, 5) float32, envs) -> n actions in 0..4, for
            the n episodes still running; `expert_policy`, `random_policy(seed)`, or a model.
        seeds: episode seeds (`env.reset(seed=...)`).
        label: also record every visited state with the expert's action (DAgger, recording).

    Returns:
        {"returns", "crashed", "lengths"}: one value per seed; with `label`, also
        "observations" (m, 7, 5), "expert_actions" (m,), "actions" (m,) (what the policy did)
        and "episodes" (m,) (the index of the seed) for the m visited states.

    Example:

        result = rollout(expert_policy, [0, 1], label=True)
        result["returns"], result["observations"].shape
    """
    seeds = check_seeds(seeds)
    envs = [make_env() for _ in seeds]
    try:
        observations = [env.reset(seed=int(seed))[0] for env, seed in zip(envs, seeds)]
        returns = np.zeros(len(seeds))
        crashed = np.zeros(len(seeds), dtype=bool)
        lengths = np.zeros(len(seeds), dtype="int64")
        running = list(range(len(seeds)))
        records = {"observations": [], "expert_actions": [], "actions": [], "episodes": []}
        while running:
            batch = np.stack([observations[i] for i in running]).astype("float32")
            actions = np.asarray(policy(batch, [envs[i] for i in running])).reshape(-1)
            if actions.shape != (len(running),):
                raise ValueError(
                    f"policy must return one action per observation ({len(running)}). "
                    f"Received: shape {actions.shape}"
                )
            if label:
                records["observations"].append(batch)
                experts = (
                    actions
                    if policy is expert_policy
                    else [expert_action(envs[i]) for i in running]
                )
                records["expert_actions"].append(experts)
                records["actions"].append(actions)
                records["episodes"].append(running)
            still = []
            for i, action in zip(running, actions):
                if not 0 <= int(action) < len(ACTIONS):
                    raise ValueError(
                        f"policy actions must be in 0..{len(ACTIONS) - 1}. "
                        f"Received: {np.asarray(action).tolist()!r}"
                    )
                observation, reward, terminated, truncated, info = envs[i].step(int(action))
                observations[i] = observation
                returns[i] += reward
                lengths[i] += 1
                crashed[i] = bool(info["crashed"])
                if not (terminated or truncated):
                    still.append(i)
            running = still
    finally:
        for env in envs:
            env.close()
    result = {"returns": returns, "crashed": crashed, "lengths": lengths}
    if label:
        result["observations"] = np.concatenate(records["observations"]).astype("float32")
        result["expert_actions"] = np.concatenate(records["expert_actions"]).astype("int64")
        result["actions"] = np.concatenate(records["actions"]).astype("int64")
        result["episodes"] = np.concatenate(records["episodes"]).astype("int64")
    return result


def record(seeds):
    """Expert demonstrations: `rollout(expert_policy, seeds, label=True)`."""
    return rollout(expert_policy, seeds, label=True)


def summary(result):
    """Mean return, collision rate and mean length of a `rollout` result."""
    return {
        "mean_return": float(np.mean(result["returns"])),
        "collision_rate": float(np.mean(result["crashed"])),
        "mean_length": float(np.mean(result["lengths"])),
    }


def _recipe():
    return {
        "version": CACHE_VERSION,
        "env": ENV_ID,
        "config": ENV_CONFIG,
        "threshold": EXPERT_ACCELERATION_THRESHOLD,
        "train_seeds": [TRAIN_SEEDS[0], TRAIN_SEEDS[-1] + 1],
        "test_seeds": [TEST_SEEDS[0], TEST_SEEDS[-1] + 1],
    }


def cache_path():
    """`$ZOO_HOME/datasets/driving-<key>.npz`, `<key>` a hash of the recording recipe."""
    key = hashlib.sha256(json.dumps(_recipe(), sort_keys=True).encode()).hexdigest()[:12]
    return cache_file(f"driving-{key}.npz")


def _cached():
    path = cache_path()
    cached = read_npz(path)  # None when missing or damaged: recorded anew
    if cached is not None:
        return cached
    _highway_env()
    train, test = record(TRAIN_SEEDS), record(TEST_SEEDS)
    arrays = {
        "X_train": train["observations"],
        "y_train": train["expert_actions"],
        "episode_train": train["episodes"],
        "X_test": test["observations"],
        "y_test": test["expert_actions"],
        "episode_test": test["episodes"],
        "expert_train_returns": train["returns"],
        "expert_train_crashed": train["crashed"],
        "expert_test_returns": test["returns"],
        "expert_test_crashed": test["crashed"],
        "expert_test_lengths": test["lengths"],
    }
    save_npz_atomic(path, arrays)
    return arrays


def load_driving():
    """Expert state-action pairs from 200 training and 50 held-out simulated episodes.

    See the module docstring for the simulator, the expert, the seeds and the cache.

    Example:

        data = load_driving()
        data.class_names     # ['LANE_LEFT', 'IDLE', 'LANE_RIGHT', 'FASTER', 'SLOWER']
    """
    _, highway_env = _highway_env()
    arrays = _cached()
    expert_test = {
        "mean_return": float(np.mean(arrays["expert_test_returns"])),
        "collision_rate": float(np.mean(arrays["expert_test_crashed"])),
        "mean_length": float(np.mean(arrays["expert_test_lengths"])),
        "returns": [round(float(r), 6) for r in arrays["expert_test_returns"]],
    }
    return Dataset(
        name="driving",
        task="driving",
        X_train=arrays["X_train"],
        y_train=arrays["y_train"],
        X_test=arrays["X_test"],
        y_test=arrays["y_test"],
        split=(
            f"by episode seed: train = expert episodes with seeds {TRAIN_SEEDS[0]}.."
            f"{TRAIN_SEEDS[-1]} ({len(TRAIN_SEEDS)} episodes), test = held-out episodes with "
            f"seeds {TEST_SEEDS[0]}..{TEST_SEEDS[-1]} ({len(TEST_SEEDS)}); DAgger rollouts use "
            f"seeds from {DAGGER_SEED_START}"
        ),
        feature_names=list(OBSERVATION_FEATURES),
        class_names=list(ACTIONS),
        provenance={
            "source": (
                f"SIMULATED: highway-env {highway_env.__version__} {ENV_ID} (3 lanes, 20 IDM/"
                "MOBIL vehicles, 5 Hz simulation, 1 decision/s, 30 s episodes); states "
                "observed as Kinematics (7 nearest vehicles incl. behind x [presence, x, y, vx, "
                "vy]), labels = actions of highway-env's rule-based IDMVehicle (IDM + MOBIL) "
                "deciding in the ego vehicle's place, mapped to DiscreteMetaAction "
                f"(IDM acceleration beyond +-{EXPERT_ACCELERATION_THRESHOLD} m/s^2 -> FASTER/"
                "SLOWER); recorded by datasets/driving.py from seeded episodes"
            ),
            "licence": "highway-env: MIT (simulator output, generated here)",
            "install": INSTALL,
            "citation": (
                "Leurent (2018), An Environment for Autonomous Driving Decision-Making, "
                "https://github.com/eleurent/highway-env; Treiber et al. (2000) IDM; "
                "Kesting et al. (2007) MOBIL"
            ),
            "constructed": True,
            "simulator": {"env": ENV_ID, "config": ENV_CONFIG},
            "expert_test": expert_test,
        },
    )

"""Driving policies: an observation of the nearby traffic in, meta-action probabilities out.

Input "observation": highway-env's Kinematics observation as the simulator gives it,
(batch, vehicles, features) = (batch, 7, 5): the ego vehicle and the 6 nearest vehicles, each
[presence, x, y, vx, vy] (see `datasets/driving.py`). The first layer is a `Normalization`
named "normalize" over every (vehicle, feature) cell, adapted on the training states by the
pipeline; an MLP follows. Output "probabilities": softmax over the 5 meta-actions
LANE_LEFT, IDLE, LANE_RIGHT, FASTER, SLOWER; the policy takes the most probable one.

`drive-bc` is trained by behaviour cloning (classification of the expert's actions on the
recorded expert states); `drive-dagger`, the same network, by DAgger
(`pipelines/driving.py`: roll the learner out, label the states it visits by the expert,
aggregate, retrain).
"""

import keras
from keras import layers

from zoo.models.tabular import dense_stack
from zoo.registry import register


def driving_policy(vehicles, features, num_classes, hidden_units, depth, dropout, l2, name):
    """Normalization (per cell) -> Flatten -> depth x Dense(ReLU) + Dropout -> softmax."""
    for arg, value in (("vehicles", vehicles), ("features", features), ("depth", depth)):
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ValueError(f"`{arg}` must be a positive integer. Received: {arg}={value!r}")
    if not 0 <= dropout < 1:
        raise ValueError(f"`dropout` must be in [0, 1). Received: dropout={dropout!r}")
    observation = keras.Input(shape=(vehicles, features), name="observation")
    x = layers.Normalization(axis=(1, 2), name="normalize")(observation)
    x = layers.Flatten(name="flatten")(x)
    x = dense_stack(x, hidden_units, depth, dropout, l2)
    probabilities = layers.Dense(
        num_classes, activation="softmax", dtype="float32", name="probabilities"
    )(x)
    return keras.Model(observation, probabilities, name=name)


@register(
    "drive-bc",
    task="classification",
    dataset="driving",
    topic="autonomous driving: behaviour cloning of a rule-based expert (environment to action)",
    recipe={"epochs": 60, "batch_size": 64, "learning_rate": 1e-3},
)
def drive_bc(
    vehicles=7, features=5, num_classes=5, hidden_units=128, depth=2, dropout=0.1, l2=1e-5
):
    """An MLP driving policy cloned from highway-env's IDM/MOBIL expert.

    Args:
        vehicles: observed vehicles per observation (the ego vehicle first).
        features: features per vehicle (presence, x, y, vx, vy).
        num_classes: meta-actions (LANE_LEFT, IDLE, LANE_RIGHT, FASTER, SLOWER).
        hidden_units: width of each hidden layer.
        depth: number of hidden layers.
        dropout: dropout rate after each hidden layer.
        l2: L2 factor of the hidden kernels.

    Example:

        model = drive_bc()
        model.predict(np.zeros((1, 7, 5), "float32"))   # (1, 5) action probabilities
    """
    return driving_policy(
        vehicles, features, num_classes, hidden_units, depth, dropout, l2, name="drive_bc"
    )


@register(
    "drive-dagger",
    task="classification",
    dataset="driving",
    topic="autonomous driving: DAgger (imitation with expert-labelled learner rollouts)",
    recipe={
        "epochs": 60,
        "batch_size": 64,
        "learning_rate": 1e-3,
        "trainer": "dagger",  # pipelines/driving.py: DAggerClassifier
        "dagger_iterations": 3,
        "dagger_fraction": 0.25,  # learner episodes per round / demonstration episodes
    },
)
def drive_dagger(
    vehicles=7, features=5, num_classes=5, hidden_units=128, depth=2, dropout=0.1, l2=1e-5
):
    """The `drive-bc` network trained by DAgger on the expert's demonstrations and labels.

    Args:
        vehicles: observed vehicles per observation (the ego vehicle first).
        features: features per vehicle (presence, x, y, vx, vy).
        num_classes: meta-actions (LANE_LEFT, IDLE, LANE_RIGHT, FASTER, SLOWER).
        hidden_units: width of each hidden layer.
        depth: number of hidden layers.
        dropout: dropout rate after each hidden layer.
        l2: L2 factor of the hidden kernels.

    Example:

        model = drive_dagger()
        model.predict(np.zeros((1, 7, 5), "float32"))   # (1, 5) action probabilities
    """
    return driving_policy(
        vehicles, features, num_classes, hidden_units, depth, dropout, l2, name="drive_dagger"
    )

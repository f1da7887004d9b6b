"""Multilayer perceptrons for tabular data.

Raw features go in: a `Normalization` layer named "normalize" is the first layer, adapted on
the training split by the pipeline. Regressors end with an inverted `Normalization` named
"prediction", adapted on the training targets, so they predict in the target's own units.
"""

import keras
from keras import layers, regularizers

from zoo.registry import register


def dense_stack(x, hidden_units, depth, dropout, l2):
    """`depth` x (Dense(ReLU, L2) "denseK" -> Dropout "dropoutK")."""
    for index in range(depth):
        x = layers.Dense(
            hidden_units,
            activation="relu",
            kernel_regularizer=regularizers.L2(l2),
            name=f"dense{index + 1}",
        )(x)
        x = layers.Dropout(dropout, name=f"dropout{index + 1}")(x)
    return x


def mlp_trunk(features, hidden_units, depth, dropout, l2):
    """Normalization -> `dense_stack`."""
    x = layers.Normalization(name="normalize")(features)
    return dense_stack(x, hidden_units, depth, dropout, l2)


@register(
    "mlp-breast-cancer",
    task="classification",
    dataset="breast_cancer",
    topic="tabular classification with L2 and dropout",
    recipe={"epochs": 100, "batch_size": 32, "learning_rate": 1e-3},
)
def mlp_breast_cancer(
    num_features=30, num_classes=2, hidden_units=32, depth=1, dropout=0.3, l2=1e-2
):
    """An MLP for the 30 raw features of the Wisconsin breast cancer data.

    Args:
        num_features: number of input features.
        num_classes: number of classes (2: malignant, benign).
        hidden_units: width of each hidden layer.
        depth: number of hidden layers.
        dropout: dropout rate after each hidden layer.
        l2: L2 factor of every kernel regularizer.

    Example:

        model = mlp_breast_cancer(hidden_units=64)
        model.predict(np.zeros((1, 30), "float32"))   # (1, 2) probabilities
    """
    features = keras.Input(shape=(num_features,), name="features")
    x = mlp_trunk(features, hidden_units, depth, dropout, l2)
    probabilities = layers.Dense(
        num_classes, activation="softmax", dtype="float32", name="probabilities"
    )(x)
    return keras.Model(features, probabilities, name="mlp_breast_cancer")


@register(
    "mlp-diabetes",
    task="regression",
    dataset="diabetes",
    topic="tabular regression with L2 and dropout",
    recipe={"epochs": 200, "batch_size": 32, "learning_rate": 1e-3},
)
def mlp_diabetes(num_features=10, hidden_units=32, depth=2, dropout=0.2, l2=1e-2):
    """An MLP regressor for the 10 features of the scikit-learn diabetes data.

    Args:
        num_features: number of input features.
        hidden_units: width of each hidden layer.
        depth: number of hidden layers.
        dropout: dropout rate after each hidden layer.
        l2: L2 factor of every kernel regularizer.

    Example:

        model = mlp_diabetes()
        model.predict(np.zeros((1, 10), "float32"))   # (1, 1) disease progression
    """
    features = keras.Input(shape=(num_features,), name="features")
    x = mlp_trunk(features, hidden_units, depth, dropout, l2)
    x = layers.Dense(1, dtype="float32", name="scaled_prediction")(x)
    prediction = layers.Normalization(invert=True, name="prediction")(x)
    return keras.Model(features, prediction, name="mlp_diabetes")

"""Credit risk MLPs for mixed numeric and categorical tables, with calibrated probabilities.

Every source column is a named input of shape (n, 1): a numeric column as its raw float32
value, normalised inside the model by its own `Normalization` layer ("normalize_<column>",
adapted on the training split by the pipeline); a categorical column as an int32 id (0: a
category outside the vocabulary, 1..V: the vocabulary, see `datasets.credit`), embedded by
its own `Embedding` layer ("embed_<column>"). The normalised values and the embeddings are
concatenated and go through `depth` x (Dense(ReLU, L2) -> Dropout) to two logits (layer
"logits": good, bad).

`ProbabilityCalibration` (the output layer, "probabilities") turns the logits into
probabilities. While training it is a plain softmax; at inference it applies Platt scaling,
softmax(scale * logits + bias), whose scale and bias are fitted on a held-out validation
split after each epoch by `pipelines.finance` (class weights shift the trained probabilities
towards the rare class; the calibration undoes it). The layer also stores the decision
threshold on P(bad) chosen on that validation split for a cost matrix, so the shipped
weights, the SavedModel and the ONNX file all give calibrated probabilities, and the model
carries its decision rule.
"""

import keras
from keras import layers, ops, regularizers

from zoo.models.tabular import dense_stack
from zoo.registry import register

CALIBRATION_LAYER = "probabilities"  # the zoo's classifier output name
LOGITS_LAYER = "logits"

GERMAN_NUMERIC = (
    "duration_in_month",
    "credit_amount",
    "installment_rate_in_percentage_of_disposable_income",
    "present_residence_since",
    "age_in_years",
    "number_of_existing_credits_at_this_bank",
    "number_of_people_being_liable_to_provide_maintenance_for",
)
GERMAN_CATEGORIES = (
    ("status_of_existing_checking_account", 4),
    ("credit_history", 5),
    ("purpose", 10),
    ("savings_account_and_bonds", 5),
    ("present_employment_since", 5),
    ("personal_status_and_sex", 4),
    ("other_debtors_or_guarantors", 3),
    ("property", 4),
    ("other_installment_plans", 3),
    ("housing", 3),
    ("job", 4),
    ("telephone", 2),
    ("foreign_worker", 2),
)
LENDING_NUMERIC = (
    "funded_amnt",
    "int_rate",
    "annual_inc",
    "delinq_2yrs",
    "inq_last_6mths",
    "revol_util",
    "acc_now_delinq",
    "open_il_6m",
    "open_il_12m",
    "open_il_24m",
    "total_bal_il",
    "all_util",
    "inq_fi",
    "inq_last_12m",
    "delinq_amnt",
    "num_il_tl",
    "total_il_high_credit_limit",
)
LENDING_CATEGORIES = (
    ("term", 2),
    ("sub_grade", 35),
    ("addr_state", 50),
    ("verification_status", 3),
    ("emp_length", 12),
)


@keras.saving.register_keras_serializable(package="zoo")
class ProbabilityCalibration(layers.Layer):
    """Logits -> probabilities: softmax(logits) in training, softmax(scale * logits + bias)
    at inference (Platt scaling; temperature scaling is bias = 0, scale = 1 / T).

    Weights (none trainable by gradient descent; `pipelines.finance` sets them):
        scale: scalar, initially 1.
        bias: (num_classes,), initially 0.
        threshold: scalar, the decision threshold on the probability of the last class
            (initially 0.5); stored with the model, not used by `call`.

    Example:

        layer = ProbabilityCalibration(2)
        probabilities = layer(logits)      # (n, 2), rows sum to 1
    """

    def __init__(self, num_classes, **kwargs):
        super().__init__(**kwargs)
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(
                f"`num_classes` must be an integer >= 2. Received: num_classes={num_classes!r}"
            )
        self.num_classes = num_classes

    def build(self, input_shape):
        if input_shape[-1] != self.num_classes:
            raise ValueError(
                f"ProbabilityCalibration({self.num_classes}) takes {self.num_classes} logits. "
                f"Received: input shape {input_shape}"
            )
        self.scale = self.add_weight(
            shape=(), initializer="ones", trainable=False, name="scale", dtype="float32"
        )
        self.bias = self.add_weight(
            shape=(self.num_classes,),
            initializer="zeros",
            trainable=False,
            name="bias",
            dtype="float32",
        )
        self.threshold = self.add_weight(
            shape=(),
            initializer=keras.initializers.Constant(0.5),
            trainable=False,
            name="threshold",
            dtype="float32",
        )

    def call(self, logits, training=None):
        logits = ops.cast(logits, "float32")
        if training:
            return ops.softmax(logits, axis=-1)
        return ops.softmax(logits * self.scale + self.bias, axis=-1)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes}


def tabular_embedding_classifier(
    numeric,
    categories,
    embedding_dim,
    hidden_units,
    depth,
    dropout,
    l2,
    num_classes,
    name,
):
    """Named per-column inputs -> normalise / embed -> MLP -> logits -> calibrated softmax."""
    numeric = [str(column) for column in numeric]
    categories = [(str(column), int(size)) for column, size in categories]
    if not numeric and not categories:
        raise ValueError("A tabular model needs at least one numeric or categorical column.")
    names = numeric + [column for column, _ in categories]
    if len(set(names)) != len(names):
        raise ValueError(f"Column names must be distinct. Received: {names}")
    for value, arg in ((embedding_dim, "embedding_dim"), (hidden_units, "hidden_units")):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"`{arg}` must be a positive integer. Received: {arg}={value!r}")
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 0:
        raise ValueError(f"`depth` must be a non-negative integer. Received: depth={depth!r}")
    if not 0 <= dropout < 1:
        raise ValueError(f"`dropout` must be in [0, 1). Received: dropout={dropout!r}")
    inputs, parts = {}, []
    for column in numeric:
        inputs[column] = keras.Input(shape=(1,), name=column, dtype="float32")
        parts.append(layers.Normalization(name=f"normalize_{column}")(inputs[column]))
    for column, size in categories:
        if size < 1:
            raise ValueError(f"Category {column!r} needs a vocabulary size >= 1. Received: {size}")
        inputs[column] = keras.Input(shape=(1,), name=column, dtype="int32")
        embedded = layers.Embedding(
            size + 1,  # id 0: outside the vocabulary
            min(embedding_dim, size + 1),
            embeddings_regularizer=regularizers.L2(l2),
            name=f"embed_{column}",
        )(inputs[column])
        parts.append(layers.Flatten(name=f"flatten_{column}")(embedded))
    x = parts[0] if len(parts) == 1 else layers.Concatenate(name="features")(parts)
    x = dense_stack(x, hidden_units, depth, dropout, l2)
    logits = layers.Dense(num_classes, dtype="float32", name=LOGITS_LAYER)(x)
    probabilities = ProbabilityCalibration(num_classes, name=CALIBRATION_LAYER)(logits)
    return keras.Model(inputs, probabilities, name=name)


@register(
    "credit-german",
    task="classification",
    dataset="german_credit",
    topic="credit scoring: tabular MLP with categorical embeddings, cost-sensitive decision",
    recipe={
        "epochs": 100,
        "batch_size": 32,
        "learning_rate": 1e-3,
        "validation_split": 0.25,
        "class_weight": "balanced",
        "calibrate": True,
        "cost_matrix": [[0.0, 1.0], [5.0, 0.0]],
    },
)
def credit_german(
    numeric=GERMAN_NUMERIC,
    categories=GERMAN_CATEGORIES,
    embedding_dim=3,
    hidden_units=16,
    depth=1,
    dropout=0.5,
    l2=1e-2,
    num_classes=2,
):
    """An MLP with categorical embeddings scoring German credit applicants (good / bad).

    Inputs: the 7 numeric columns (float32, raw) and the 13 categorical columns (int32 ids)
    of `datasets.credit.load_german_credit`, each a named (n, 1) input; output
    "probabilities" (n, 2): calibrated P(good), P(bad). That layer also holds the
    decision threshold on P(bad) chosen for the Statlog cost matrix.

    Args:
        numeric: the numeric column names.
        categories: (column name, vocabulary size) of each categorical column.
        embedding_dim: embedding width of a categorical column (at most its size + 1).
        hidden_units: width of each hidden layer.
        depth: number of hidden layers.
        dropout: dropout rate after each hidden layer.
        l2: L2 factor of the kernels and embeddings.
        num_classes: 2 (good, bad).

    Example:

        model = credit_german()
        model.predict(datasets.load("german_credit").X_test)   # (300, 2)
    """
    return tabular_embedding_classifier(
        numeric,
        categories,
        embedding_dim,
        hidden_units,
        depth,
        dropout,
        l2,
        num_classes,
        name="credit_german",
    )


@register(
    "default-lendingclub",
    task="classification",
    dataset="lending_club",
    topic="loan default: tabular MLP with categorical embeddings on imbalanced classes",
    recipe={
        "epochs": 40,
        "batch_size": 128,
        "learning_rate": 1e-3,
        "validation_split": 0.2,
        "class_weight": "balanced",
        "calibrate": True,
    },
)
def default_lendingclub(
    numeric=LENDING_NUMERIC,
    categories=LENDING_CATEGORIES,
    embedding_dim=4,
    hidden_units=32,
    depth=2,
    dropout=0.3,
    l2=1e-3,
    num_classes=2,
):
    """An MLP with categorical embeddings predicting LendingClub loan default (good / bad).

    Inputs: the 17 numeric columns (float32, raw) and the 5 categorical columns (int32 ids)
    of `datasets.credit.load_lending_club`, each a named (n, 1) input; output
    "probabilities" (n, 2): calibrated P(good), P(bad).

    Args:
        numeric: the numeric column names.
        categories: (column name, vocabulary size) of each categorical column.
        embedding_dim: embedding width of a categorical column (at most its size + 1).
        hidden_units: width of each hidden layer.
        depth: number of hidden layers.
        dropout: dropout rate after each hidden layer.
        l2: L2 factor of the kernels and embeddings.
        num_classes: 2 (good, bad).

    Example:

        model = default_lendingclub()
        model.predict(datasets.load("lending_club").X_test)   # (1972, 2)
    """
    return tabular_embedding_classifier(
        numeric,
        categories,
        embedding_dim,
        hidden_units,
        depth,
        dropout,
        l2,
        num_classes,
        name="default_lendingclub",
    )

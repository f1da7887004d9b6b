"""Credit risk: calibrated training, cost-sensitive decisions and the baselines they face.

`CalibratedClassifier` is the `ZooClassifier` of the finance entries (`estimator_for` picks
it for an entry whose recipe sets "calibrate"). It trains with the recipe's class weights
("balanced": the rare bad class weighs as much as the good one), and after every epoch it
fits Platt scaling (`fit_platt`) of the logits on the held-out validation split (unweighted,
so the weights' shift towards the bad class is undone) into the model's calibration layer,
and, for an entry with a cost matrix, chooses the decision threshold on P(bad) that
minimises the expected cost on that validation split (`choose_threshold`). It does so
before the run's recorder saves the epoch's weights, so the checkpoint, the shipped weights
and their exports are calibrated and carry their threshold; training itself is unaffected
(the calibration layer is a plain softmax while training).

`credit_metrics` is what `python cli.py evaluate` prints for a `credit_risk` dataset: the
model's metrics on the test split (accuracy, F1, log loss, ROC AUC, PR AUC = average
precision, Brier score; expected cost at the model's own threshold when the data set has a
cost matrix) beside the same metrics of two scikit-learn baselines trained on the same
training split: logistic regression ("baseline_*": standardised numeric columns and one-hot
categories) and `HistGradientBoostingClassifier` ("hgb_*": native categorical support).
Their thresholds are chosen on 5-fold out-of-fold predictions of the training split, never
on the test split.

`repeated_splits` repeats the whole protocol (training the model from its recipe, the
baselines, thresholds, test metrics) on several seeded stratified splits and reports mean
and standard deviation (bench/finance_splits.py).

Example:

    data = datasets.load("german_credit")
    metrics = credit_metrics(zoo.get("credit-german"), data)
    metrics["expected_cost"], metrics["baseline_expected_cost"], metrics["hgb_roc_auc"]
"""

import keras
import numpy as np
from sklearn import metrics as sk_metrics
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.utils.class_weight import compute_class_weight

from pipelines.classification import ZooClassifier
from pipelines.evaluation import classification_metrics, predict_arrays
from zoo.models.finance import CALIBRATION_LAYER, LOGITS_LAYER

THRESHOLDS = np.round(np.arange(0.01, 1.0, 0.01), 2)  # the candidate thresholds on P(bad)
FOLDS = 5
BASELINE_SEED = 0


# -- the cost metric and the threshold ------------------------------------------------------


def _check_binary(y_true, p_bad):
    y_true = np.asarray(y_true).reshape(-1)
    p_bad = np.asarray(p_bad, dtype="float64").reshape(-1)
    if len(y_true) != len(p_bad) or len(y_true) == 0:
        raise ValueError(
            f"y_true and p_bad must be non-empty and of the same length. Received: "
            f"{len(y_true)} labels and {len(p_bad)} probabilities"
        )
    if not set(np.unique(y_true).tolist()) <= {0, 1}:
        raise ValueError(f"y_true must hold 0 (good) and 1 (bad). Received: {np.unique(y_true)}")
    if not np.all((p_bad >= 0) & (p_bad <= 1)):
        raise ValueError("p_bad must hold probabilities in [0, 1].")
    return y_true.astype("int64"), p_bad


def _check_cost_matrix(cost_matrix):
    matrix = np.asarray(cost_matrix, dtype="float64")
    if matrix.shape != (2, 2) or not np.all(np.isfinite(matrix)) or np.any(matrix < 0):
        raise ValueError(
            "cost_matrix must be a 2x2 matrix of non-negative costs, cost_matrix[true]"
            f"[predicted] with 0 = good, 1 = bad. Received: {cost_matrix!r}"
        )
    return matrix


def expected_cost(y_true, p_bad, threshold, cost_matrix):
    """Mean cost per applicant of deciding "bad" when P(bad) >= `threshold`.

    Args:
        y_true: 0 (good) / 1 (bad) labels.
        p_bad: predicted probabilities of "bad".
        threshold: the decision threshold in [0, 1].
        cost_matrix: cost_matrix[true][predicted], e.g. the Statlog [[0, 1], [5, 0]].

    Example:

        expected_cost([0, 1, 1], [0.9, 0.1, 0.8], 0.5, [[0, 1], [5, 0]])   # (1 + 5 + 0) / 3
    """
    y_true, p_bad = _check_binary(y_true, p_bad)
    matrix = _check_cost_matrix(cost_matrix)
    if not 0 <= float(threshold) <= 1:
        raise ValueError(f"threshold must be in [0, 1]. Received: threshold={threshold!r}")
    decided = (p_bad >= float(threshold)).astype("int64")
    return float(matrix[y_true, decided].mean())


def choose_threshold(y_true, p_bad, cost_matrix):
    """The threshold on P(bad) (from 0.01..0.99) with the lowest expected cost on (y, p).

    Where several thresholds tie, the middle one of the lowest-cost run is taken. Call it
    with training-side predictions (out-of-fold or a validation split), never the test split.

    Example:

        choose_threshold(y_val, p_val, [[0, 1], [5, 0]])   # about 1/6 when p is calibrated
    """
    y_true, p_bad = _check_binary(y_true, p_bad)
    matrix = _check_cost_matrix(cost_matrix)
    costs = np.array([matrix[y_true, (p_bad >= t).astype("int64")].mean() for t in THRESHOLDS])
    best = np.flatnonzero(np.isclose(costs, costs.min()))
    return float(THRESHOLDS[best[len(best) // 2]])


# -- calibration ----------------------------------------------------------------------------


def fit_platt(logits, y_true):
    """Platt scaling of two-class logits: (scale, bias) with P(bad) = sigmoid(scale *
    (z_bad - z_good) + bias), fitted by (unweighted) maximum likelihood.

    Returns None when y_true holds one class only (nothing to fit). The scale is kept
    positive, so the ranking of the model (its ROC AUC) is never reversed.
    """
    logits = np.asarray(logits, dtype="float64")
    y_true = np.asarray(y_true).reshape(-1)
    if logits.ndim != 2 or logits.shape[1] != 2 or len(logits) != len(y_true):
        raise ValueError(
            f"logits must have shape (n, 2) with n = len(y_true) = {len(y_true)}. "
            f"Received: {logits.shape}"
        )
    if len(np.unique(y_true)) < 2:
        return None
    margin = (logits[:, 1] - logits[:, 0]).reshape(-1, 1)
    platt = LogisticRegression(C=1e4, max_iter=1000).fit(margin, y_true)
    scale = max(float(platt.coef_[0, 0]), 1e-3)
    return scale, float(platt.intercept_[0])


def set_calibration(model, scale, bias, threshold=None):
    """Writes Platt (scale, bias) and optionally the threshold into the model's layer."""
    layer = model.get_layer(CALIBRATION_LAYER)
    layer.scale.assign(np.float32(scale))
    layer.bias.assign(np.array([0.0, bias], "float32"))
    if threshold is not None:
        layer.threshold.assign(np.float32(threshold))


def model_threshold(model):
    """The decision threshold on P(bad) stored in a finance model's calibration layer."""
    try:
        layer = model.get_layer(CALIBRATION_LAYER)
        return float(keras.ops.convert_to_numpy(layer.threshold))
    except (ValueError, AttributeError):
        raise ValueError(
            f"model must be a finance model with a calibration layer {CALIBRATION_LAYER!r} "
            f"holding a threshold. Received: model {getattr(model, 'name', model)!r}"
        ) from None


class CalibrateOnValidation(keras.callbacks.Callback):
    """After every epoch: Platt scaling and (with a cost matrix) the threshold, fitted on the
    validation batches, written into the model before later callbacks save it."""

    def __init__(self, validation, cost_matrix=None):
        super().__init__()
        self.validation = validation
        self.cost_matrix = cost_matrix

    def on_train_begin(self, logs=None):
        self._probe = keras.Model(
            self.model.inputs, self.model.get_layer(LOGITS_LAYER).output, name="logits_probe"
        )
        self._x = self.validation.map(lambda x, y: x)
        self._y = np.concatenate(
            [np.reshape(y, -1) for y in self.validation.map(lambda x, y: y).as_numpy_iterator()]
        )

    def on_epoch_end(self, epoch, logs=None):
        logits = np.asarray(self._probe.predict(self._x, verbose=0), "float64")
        fitted = fit_platt(logits, self._y)
        if fitted is None:
            return
        scale, bias = fitted
        threshold = None
        if self.cost_matrix is not None:
            margin = scale * (logits[:, 1] - logits[:, 0]) + bias
            p_bad = 1.0 / (1.0 + np.exp(-margin))
            threshold = choose_threshold(self._y, p_bad, self.cost_matrix)
        set_calibration(self.model, scale, bias, threshold)


def check_category_ids(model, x):
    """Raises ValueError naming the column when an id of a categorical input is outside
    0..V (V: its vocabulary size; the embedding would fail or, on JAX, silently clip)."""
    if not isinstance(x, dict):
        return
    for tensor in model.inputs:
        try:
            size = model.get_layer(f"embed_{tensor.name}").input_dim
        except ValueError:
            continue
        if tensor.name not in x:
            continue  # reported by pipelines.data with the other missing inputs
        ids = np.asarray(x[tensor.name])
        if ids.dtype.kind not in "biuf":
            raise ValueError(
                f"X[{tensor.name!r}] must hold integer category ids 0..{size - 1} "
                "(datasets.credit.encode_frame makes them from raw values). Received dtype "
                f"{ids.dtype}"
            )
        outside = ids[(ids < 0) | (ids >= size) | (ids != np.round(ids))]
        if outside.size:
            raise ValueError(
                f"X[{tensor.name!r}] must hold integer category ids 0..{size - 1}. Received "
                f"{outside.size} ids outside, e.g. {outside.ravel()[:3].tolist()}"
            )


class CalibratedClassifier(ZooClassifier):
    """A `ZooClassifier` with the recipe's class weights and per-epoch calibration.

    `class_weight` defaults to the entry's recipe ("balanced" for the finance entries). With
    a validation split (`validation_split` or `validation_data`), the model's calibration
    layer is fitted on it after every epoch (see the module docstring); without one the
    probabilities stay uncalibrated (scale 1, bias 0) and the threshold 0.5.

    Example:

        clf = CalibratedClassifier("credit-german", validation_split=0.25, random_state=0)
        clf.fit(data.X_train, data.y_train)
        clf.predict_proba(data.X_test)[:, 1]          # calibrated P(bad)
        model_threshold(clf.model_)                   # the cost-minimising threshold
    """

    def _sample_weights(self, y):
        class_weight = self._setting("class_weight")  # the recipe's unless given
        if isinstance(class_weight, str) and class_weight == "balanced":
            classes = np.arange(len(self.classes_))
            return compute_class_weight("balanced", classes=classes, y=y).astype("float32")[y]
        return super()._sample_weights(y)

    def _validate_X(self, X, reset):
        X = super()._validate_X(X, reset)
        if not reset and hasattr(self, "model_"):
            check_category_ids(self.model_, X)
        return X

    def _train(self, model, train, validation, continuing):
        if validation is None:
            return super()._train(model, train, validation, continuing)
        recipe = self._entry().recipe
        calibrator = CalibrateOnValidation(validation, recipe.get("cost_matrix"))
        given = self.callbacks
        # First, so the run's recorder (a later callback) saves the calibrated weights.
        self.callbacks = [calibrator, *(given or [])]
        try:
            return super()._train(model, train, validation, continuing)
        finally:
            self.callbacks = given


# -- baselines and the evaluate protocol ------------------------------------------------------


def _columns(dataset):
    numeric = list(dataset.provenance["numeric"])
    categorical = list(dataset.provenance["categories"])
    return numeric, categorical


def _matrix(X, columns):
    return np.concatenate([np.asarray(X[c], "float64").reshape(-1, 1) for c in columns], axis=1)


def baseline_models(dataset):
    """{prefix: unfitted scikit-learn classifier} for the columns of a credit data set."""
    numeric, categorical = _columns(dataset)
    count = len(numeric)
    logistic = make_pipeline(
        ColumnTransformer(
            [
                ("numeric", StandardScaler(), list(range(count))),
                (
                    "categories",
                    OneHotEncoder(handle_unknown="ignore"),
                    list(range(count, count + len(categorical))),
                ),
            ]
        ),
        LogisticRegression(max_iter=5000),
    )
    boosting = HistGradientBoostingClassifier(
        categorical_features=list(range(count, count + len(categorical))),
        random_state=BASELINE_SEED,
    )
    return {"baseline": logistic, "hgb": boosting}


def probability_metrics(y_true, probabilities):
    """classification_metrics plus pr_auc (average precision of "bad") and brier."""
    probabilities = np.asarray(probabilities, dtype="float64")
    result = classification_metrics(y_true, probabilities)
    p_bad = probabilities[:, 1] / probabilities.sum(axis=1)
    result["pr_auc"] = float(sk_metrics.average_precision_score(y_true, p_bad))
    result["brier"] = float(sk_metrics.brier_score_loss(y_true, p_bad))
    return result


_BASELINE_CACHE = {}


def baseline_metrics(dataset):
    """Test metrics of the baselines trained on the training split, keyed "<prefix>_<metric>".

    With a cost matrix in the provenance, each baseline's threshold is chosen on 5-fold
    out-of-fold predictions of the training split ("<prefix>_threshold") and its test
    "<prefix>_expected_cost" reported. Cached per data set and split within a process.
    """
    key = (dataset.name, dataset.split, len(dataset.y_train))
    if key in _BASELINE_CACHE:
        return dict(_BASELINE_CACHE[key])
    numeric, categorical = _columns(dataset)
    columns = numeric + categorical
    X_train, X_test = _matrix(dataset.X_train, columns), _matrix(dataset.X_test, columns)
    y_train, y_test = np.asarray(dataset.y_train), np.asarray(dataset.y_test)
    cost_matrix = dataset.provenance.get("cost_matrix")
    result = {}
    for prefix, estimator in baseline_models(dataset).items():
        estimator.fit(X_train, y_train)
        probabilities = estimator.predict_proba(X_test)
        values = probability_metrics(y_test, probabilities)
        if cost_matrix is not None:
            folds = StratifiedKFold(FOLDS, shuffle=True, random_state=BASELINE_SEED)
            out_of_fold = cross_val_predict(
                estimator, X_train, y_train, cv=folds, method="predict_proba"
            )[:, 1]
            threshold = choose_threshold(y_train, out_of_fold, cost_matrix)
            values["threshold"] = threshold
            values["expected_cost"] = expected_cost(
                y_test, probabilities[:, 1], threshold, cost_matrix
            )
        result.update({f"{prefix}_{name}": value for name, value in values.items()})
    _BASELINE_CACHE[key] = dict(result)
    return result


def credit_metrics(model, dataset):
    """The model's test metrics beside the baselines' (see the module docstring).

    Keys: accuracy, f1_macro, log_loss, roc_auc, pr_auc, brier (and threshold,
    expected_cost with a cost matrix) for the model; the same with the prefixes "baseline_"
    (logistic regression) and "hgb_" (HistGradientBoostingClassifier).
    """
    probabilities = predict_arrays(model, dataset.X_test)
    y_test = np.asarray(dataset.y_test)
    result = probability_metrics(y_test, probabilities)
    cost_matrix = dataset.provenance.get("cost_matrix")
    if cost_matrix is not None:
        threshold = model_threshold(model)
        result["threshold"] = threshold
        result["expected_cost"] = expected_cost(y_test, probabilities[:, 1], threshold, cost_matrix)
    result.update(baseline_metrics(dataset))
    return result


def repeated_splits(name, loader, seeds, overrides=None, epochs=None, verbose=0):
    """Trains `name` from its recipe and scores it and the baselines on several splits.

    Args:
        name: a finance zoo entry.
        loader: its dataset loader taking `seed` (e.g. `datasets.credit.load_german_credit`).
        seeds: the split seeds; split k also seeds the model's training.
        overrides: builder arguments, e.g. {"dropout": 0.5}.
        epochs: training epochs (default: the recipe's).
        verbose: Keras verbosity.

    Returns:
        {"per_split": [metrics of each split], "mean": {...}, "sd": {...}} (sd: the sample
        standard deviation over splits).
    """
    from pipelines.training import VALIDATION_SPLIT, estimator_for
    from zoo import get_entry

    entry = get_entry(name)
    per_split = []
    for seed in seeds:
        data = loader(seed=seed)
        estimator = estimator_for(
            name,
            random_state=int(seed),
            validation_split=entry.recipe.get("validation_split", VALIDATION_SPLIT),
            epochs=epochs,
            verbose=verbose,
            **{f"model__{key}": value for key, value in (overrides or {}).items()},
        )
        estimator.fit(data.X_train, data.y_train)
        per_split.append({"seed": int(seed), **credit_metrics(estimator.model_, data)})
    keys = [key for key in per_split[0] if key != "seed"]
    mean = {key: float(np.mean([row[key] for row in per_split])) for key in keys}
    sd = {key: float(np.std([row[key] for row in per_split], ddof=1)) for key in keys}
    return {"per_split": per_split, "mean": mean, "sd": sd}

"""`ZooMultiTask`: a scikit-learn estimator over zoo entries with several named heads.

The model of such an entry returns a dict {head name: output}; the entry declares its heads
and their kinds in the registry (`register(..., heads={"fine": "classification", ...})`). A
classification head trains with sparse categorical cross-entropy and reports accuracy (its
labels may be anything sortable, encoded per head in `classes_[head]`); a regression head
with mean squared error, reporting R^2.
"""

import keras
import numpy as np
import pandas as pd
from sklearn.base import MultiOutputMixin
from sklearn.metrics import accuracy_score, r2_score
from sklearn.utils.validation import check_is_fitted

import zoo
from pipelines import checks, data
from pipelines.base import ZooEstimator

CLASSIFICATION = "classification"
REGRESSION = "regression"


def head_kinds(model):
    """Returns {head name: "classification" or "regression"} of a model with a dict output.

    For a zoo entry (a `ZooEntry` or its name) the kinds are the ones it declares in the
    registry (`register(..., heads=...)`). For any other Keras model, a head is a
    classification head when the layer of the head's name (`model.get_layer(head)`, the
    zoo's "named everything" rule) is a softmax (a `Softmax` layer, or
    `activation="softmax"`) over at least two classes; otherwise a regression head.

    Example:

        head_kinds("multitask-fashion")   # {'fine': 'classification', 'coarse': ...}
    """
    if isinstance(model, str):
        model = zoo.get_entry(model)
    if isinstance(model, zoo.ZooEntry):
        return dict(model.heads)
    outputs = model.output
    if not isinstance(outputs, dict):
        raise ValueError(
            "A multitask model must return a dict of named heads, e.g. "
            "keras.Model(inputs, {'fine': ..., 'coarse': ...}). "
            f"Received a model {model.name!r} with outputs {list(model.output_names)}."
        )
    kinds = {}
    for name, tensor in outputs.items():
        try:
            layer = model.get_layer(name)
        except ValueError:
            layer = None
        activation = getattr(layer, "activation", None)
        softmax = isinstance(layer, keras.layers.Softmax) or (
            getattr(activation, "__name__", None) == "softmax"
        )
        kinds[name] = CLASSIFICATION if softmax and (tensor.shape[-1] or 0) >= 2 else REGRESSION
    return kinds


def targets_as_dict(y, heads, what="y"):
    """Returns y as {head: array}, checking its keys against `heads`.

    y may be a dict keyed by head name or a pandas DataFrame with one column per head (the
    form scikit-learn's model selection can split).
    """
    if isinstance(y, pd.DataFrame):
        y = {str(column): y[column].to_numpy() for column in y.columns}
    if not isinstance(y, dict):
        raise ValueError(
            f"{what} must be a dict {{head: targets}} (or a DataFrame with one column per "
            f"head) for the heads {sorted(heads)}. Received: {type(y).__name__}"
        )
    data.check_keys(y, heads, what, "heads")
    return {head: y[head] for head in heads}


class ZooMultiTask(MultiOutputMixin, ZooEstimator):
    """Trains a zoo model with several named heads like a scikit-learn estimator.

    Args:
        model: the zoo name, e.g. "multitask-fashion".
        loss_weights: {head: weight >= 0} overriding the entry's default weights (its
            builder arguments `<head>_loss_weight`, else 1.0); heads left out keep theirs.
        The other arguments are those of `ZooEstimator` (`class_weight` does not apply).

    y is a dict {head: targets} (or a DataFrame with one column per head, which
    `GridSearchCV` can split); `fit(X, y, sample_weight=...)` weights every head's loss.
    `predict` returns {head: labels or values}, `predict_proba` {classification head:
    probabilities}, `score` the mean over heads of accuracy (classification) and R^2
    (regression), and `score_heads` each head's score.

    Example:

        est = ZooMultiTask("multitask-fashion", epochs=5, loss_weights={"coarse": 0.2})
        est.fit(X_train, {"fine": y_fine, "coarse": y_coarse})
        est.predict(X_test)["coarse"][:3], est.score_heads(X_test, y_test)
    """

    _task = "multitask"

    def __init__(
        self,
        model,
        *,
        loss_weights=None,
        epochs=None,
        batch_size=None,
        learning_rate=None,
        lr_schedule=None,
        optimizer="adam",
        validation_split=0.0,
        callbacks=None,
        random_state=None,
        warm_start=False,
        pretrained=False,
        verbose=0,
        distribution=None,
        **model_params,
    ):
        super().__init__(
            model,
            epochs=epochs,
            batch_size=batch_size,
            learning_rate=learning_rate,
            lr_schedule=lr_schedule,
            optimizer=optimizer,
            validation_split=validation_split,
            callbacks=callbacks,
            random_state=random_state,
            warm_start=warm_start,
            pretrained=pretrained,
            verbose=verbose,
            distribution=distribution,
            **model_params,
        )
        self.loss_weights = loss_weights

    # -- task hooks ------------------------------------------------------------------------

    def _loss(self):
        losses = {
            CLASSIFICATION: "sparse_categorical_crossentropy",
            REGRESSION: "mean_squared_error",
        }
        return {head: losses[kind] for head, kind in self.heads_.items()}

    def _metrics(self):
        return {
            head: ["accuracy"] if kind == CLASSIFICATION else ["mean_absolute_error"]
            for head, kind in self.heads_.items()
        }

    def _loss_weights(self):
        config = getattr(self, "model_config_", {})
        weights = {head: float(config.get(f"{head}_loss_weight", 1.0)) for head in self.heads_}
        if self.loss_weights is None:
            return weights
        if not isinstance(self.loss_weights, dict):
            raise ValueError(
                "loss_weights must be a dict {head: weight}. "
                f"Received: loss_weights={self.loss_weights!r}"
            )
        unknown = sorted(set(self.loss_weights) - set(self.heads_))
        if unknown:
            raise ValueError(
                f"loss_weights names heads the model does not have: {unknown}. "
                f"Its heads: {sorted(self.heads_)}. Received: loss_weights={self.loss_weights!r}"
            )
        for head, value in self.loss_weights.items():
            number = isinstance(value, (int, float, np.number)) and not isinstance(value, bool)
            if not number or not value >= 0:
                raise ValueError(
                    f"loss_weights[{head!r}] must be a number >= 0. Received: {value!r}"
                )
            weights[head] = float(value)
        return weights

    def _stratify_labels(self, y):
        classified = [head for head, kind in self.heads_.items() if kind == CLASSIFICATION]
        if not classified:
            return None
        # The finest classification head: the one with the most classes.
        return y[max(classified, key=lambda head: len(self.classes_[head]))]

    def _task_overrides(self):
        return {f"{head}_classes": len(classes) for head, classes in self.classes_.items()}

    def _probe_heads(self):
        """The heads and their kinds, as the entry declares them in the registry."""
        if self.warm_start and hasattr(self, "model_"):
            return dict(self.heads_)
        entry = self._entry()
        entry.check_overrides(self._model_overrides())
        return head_kinds(entry)

    def _encode_targets(self, y, fitting):
        if self.class_weight is not None:
            raise ValueError("class_weight does not apply to ZooMultiTask; use loss_weights.")
        if fitting:
            heads = self._probe_heads()
        else:
            check_is_fitted(self, "heads_")
            heads = self.heads_
        y = targets_as_dict(y, heads)
        encoded, classes = {}, {}
        for head, kind in heads.items():
            what = f"y[{head!r}]"
            if kind == REGRESSION:
                values = data.as_array(y[head], what)
                if values.ndim == 2 and values.shape[1] == 1:
                    values = values.ravel()
                encoded[head] = values
                continue
            encoded[head], classes[head] = checks.encode_labels(
                y[head], what, fitting, None if fitting else self.classes_[head]
            )
        data.check_same_length({"y": encoded})
        if fitting:
            self.heads_ = dict(heads)
            self.classes_ = classes
        return encoded

    def _build_model(self, data_overrides):
        model = super()._build_model(data_overrides)
        built = sorted(model.output) if isinstance(model.output, dict) else model.output_names
        if built != sorted(self.heads_):
            raise ValueError(
                f"The model of {self.model!r} returns the outputs {built}, not the heads its "
                f"registry entry declares: {sorted(self.heads_)}."
            )
        for head, classes in self.classes_.items():
            width = model.output[head].shape[-1]
            if width != len(classes):
                raise ValueError(
                    f"The head {head!r} of {self.model!r} has {width} classes but y[{head!r}] "
                    f"has {len(classes)} labels ({classes[:10].tolist()}); the entry has no "
                    f"argument {head}_classes to follow them. Received: {len(classes)} labels."
                )
        return model

    def _dataset_targets(self, targets):
        raise NotImplementedError

    def _datasets_from_tf_data(self, dataset, validation_data, continuing):
        raise ValueError(
            "ZooMultiTask.fit takes arrays: X (array, DataFrame or dict of arrays) and y "
            "(dict {head: targets} or DataFrame). Received: a tf.data.Dataset."
        )

    # -- the estimator API -----------------------------------------------------------------

    def _outputs(self, X):
        raw = self._predict_raw(X)
        return {head: np.asarray(raw[head]) for head in self.heads_}

    def predict_proba(self, X):
        """Returns {classification head: probabilities, one column per `classes_[head]`}."""
        outputs = self._outputs(X)
        return {head: outputs[head] for head in self.classes_}

    def predict(self, X):
        """Returns {head: the most probable label (classification) or the value (regression)}."""
        predictions = {}
        for head, output in self._outputs(X).items():
            if self.heads_[head] == CLASSIFICATION:
                predictions[head] = self.classes_[head][np.argmax(output, axis=-1)]
            else:
                output = output.reshape(len(output), -1)
                predictions[head] = output[:, 0] if output.shape[1] == 1 else output
        return predictions

    def score_heads(self, X, y):
        """Returns {head: accuracy (classification) or R^2 (regression)} on X, y."""
        targets = self._encode_targets(y, fitting=False)
        outputs = self._outputs(X)
        data.check_same_length({"X": next(iter(outputs.values())), "y": targets})
        scores = {}
        for head, output in outputs.items():
            if self.heads_[head] == CLASSIFICATION:
                scores[head] = float(accuracy_score(targets[head], np.argmax(output, axis=-1)))
            else:
                predicted = output.reshape(len(output), -1)
                truth = np.asarray(targets[head]).reshape(len(output), -1)
                scores[head] = float(r2_score(truth, predicted))
        return scores

    def score(self, X, y, sample_weight=None):
        """The mean over heads of accuracy (classification) and R^2 (regression)."""
        if sample_weight is not None:
            raise ValueError("ZooMultiTask.score does not take sample_weight.")
        return float(np.mean(list(self.score_heads(X, y).values())))

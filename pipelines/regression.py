"""`ZooRegressor`: a scikit-learn regressor over any regression entry of the zoo."""

import numpy as np
from sklearn.base import RegressorMixin
from sklearn.utils.validation import column_or_1d

from pipelines import data
from pipelines.base import ZooEstimator


class ZooRegressor(RegressorMixin, ZooEstimator):
    """Trains a zoo regression model like any scikit-learn regressor; `score` is R^2.

    See `ZooEstimator` for the arguments (`class_weight` does not apply; `fit(X, y,
    sample_weight=...)` weights samples).

    Example:

        reg = ZooRegressor("mlp-diabetes", epochs=200, random_state=0)
        reg.fit(X_train, y_train).score(X_test, y_test)
    """

    _task = "regression"

    def _loss(self):
        return "mean_squared_error"

    def _metrics(self):
        return ["mean_absolute_error"]

    def _encode_targets(self, y, fitting):
        self._refuse_class_weight()
        y = data.as_array(y, "y")
        if y.ndim != 1 and not (y.ndim == 2 and y.shape[1] == 1):
            raise ValueError(
                f"y must be one target per sample (1-D). Received: an array of shape {y.shape}"
            )
        return column_or_1d(y, warn=True)  # warns (DataConversionWarning) for a column

    def _dataset_targets(self, targets):
        data.as_array(targets, "y")

    def _source_targets(self, source):
        if getattr(source, "classes", None) is not None:
            raise ValueError(
                f"ZooRegressor needs real-valued targets; X={str(source.directory)!r} holds "
                f"class labels {source.classes[:10].tolist()} (a classification dataset)."
            )

    def predict(self, X):
        """Returns one prediction per sample (1-D)."""
        output = np.asarray(self._predict_raw(X))
        return output.reshape(len(output), -1)[:, 0]

"""`ZooClassifier`: a scikit-learn classifier over any classification entry of the zoo."""

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.utils.class_weight import compute_class_weight

from pipelines import checks, text
from pipelines.base import ZooEstimator


class ZooClassifier(ClassifierMixin, ZooEstimator):
    """Trains a zoo classification model like any scikit-learn classifier.

    Labels can be anything sortable (ints, strings); `classes_` keeps them, and the model's
    `num_classes` follows their number. y is validated like scikit-learn's classifiers
    (a continuous y raises "Unknown label type: continuous ..."). `fit(X, y,
    sample_weight=...)` weights samples; with `class_weight` too, the weights multiply.
    See `ZooEstimator` for the arguments.

    Example:

        clf = ZooClassifier("cnn-digits", epochs=20, model__dropout=0.4, random_state=0)
        clf.fit(X_train, y_train, validation_data=(X_val, y_val))
        clf.predict(X_test)[:3], clf.score(X_test, y_test)
        clf.export("exports", format="saved_model")
    """

    _task = "classification"

    def _loss(self):
        return "sparse_categorical_crossentropy"

    def _metrics(self):
        return ["accuracy"]

    def _task_overrides(self):
        overrides = {"num_classes": len(self.classes_)}
        if getattr(self, "vocabulary_", None) is not None and not self.pretrained:
            overrides.update(text.vocabulary_overrides(self))  # issue 8: text entries
        return overrides

    def _validate_X(self, X, reset):
        if self._entry().recipe.get("text"):  # issue 8: raw strings -> WordPiece ids
            X = text.encode_for_estimator(self, X, reset)
        return super()._validate_X(X, reset)

    def _encode_targets(self, y, fitting):
        encoded, classes = checks.encode_labels(y, "y", fitting, None if fitting else self.classes_)
        if fitting:
            self.classes_ = classes
        return encoded

    def _dataset_targets(self, targets):
        if targets.size == 0 or not np.issubdtype(targets.dtype, np.integer) or targets.min() < 0:
            raise ValueError(
                "A tf.data.Dataset given to ZooClassifier.fit must yield integer class ids "
                "0..K-1 as labels (encode string labels first, or pass arrays). "
                f"Received labels of dtype {targets.dtype}"
            )
        present = np.unique(targets)
        if len(present) < 2:
            raise ValueError(
                "A classifier needs at least 2 classes; the dataset's labels have 1 class: "
                f"{present.tolist()}."
            )
        self.classes_ = np.arange(int(targets.max()) + 1)

    def _source_targets(self, source):
        classes = source.classes
        if classes is None:
            raise ValueError(
                f"ZooClassifier needs class labels; X={str(source.directory)!r} holds "
                "real-valued targets (a regression dataset)."
            )
        if len(classes) < 2:
            raise ValueError(
                f"A classifier needs at least 2 classes; X={str(source.directory)!r} has "
                f"{len(classes)}: {classes.tolist()}."
            )
        self.classes_ = np.asarray(classes)

    def _stream_weights(self, streams):
        if self.class_weight is None:
            return None
        counts = np.asarray(streams.label_counts, dtype="float64")
        if isinstance(self.class_weight, str) and self.class_weight == "balanced":
            # scikit-learn's "balanced": n_samples / (n_classes * count), from the counts.
            present = counts > 0
            weights = np.zeros_like(counts)
            weights[present] = counts.sum() / (present.sum() * counts[present])
            return weights.astype("float32")
        return self._sample_weights(np.arange(len(self.classes_)))

    def _sample_weights(self, y):
        class_weight = self.class_weight
        if class_weight is None:  # the recipe's (the text entries' "balanced"), if any
            class_weight = self._entry().recipe.get("class_weight")
        if class_weight is None:
            return None
        if isinstance(class_weight, str) and class_weight == "balanced":
            per_class = compute_class_weight("balanced", classes=np.arange(len(self.classes_)), y=y)
        elif isinstance(class_weight, dict):
            unknown = [k for k in class_weight if k not in set(self.classes_.tolist())]
            if unknown:
                raise ValueError(
                    f"class_weight names labels that are not in y: {unknown}. "
                    f"Known labels: {self.classes_.tolist()}."
                )
            per_class = np.array([class_weight.get(c, 1.0) for c in self.classes_.tolist()])
        else:
            raise ValueError(
                f'class_weight must be None, "balanced" or a dict. Received: {class_weight!r}'
            )
        return per_class.astype("float32")[y]

    def _combined_weights(self, targets, sample_weight, first_input):
        weights = super()._combined_weights(targets, sample_weight, first_input)
        if weights is not None:
            weighted = np.unique(targets[weights > 0])
            if len(weighted) < 2:
                raise ValueError(
                    "A classifier needs at least 2 classes with a positive weight; "
                    "sample_weight and class_weight leave 1 class: "
                    f"{self.classes_[weighted].tolist()}."
                )
        return weights

    def _labels(self):
        return [str(label) for label in self.classes_]

    def predict_proba(self, X):
        """Returns the class probabilities, one column per entry of `classes_`."""
        return np.asarray(self._predict_raw(X))

    def predict(self, X):
        """Returns the most probable label (from `classes_`) of each sample."""
        probabilities = self.predict_proba(X)
        return self.classes_[np.argmax(probabilities, axis=-1)]

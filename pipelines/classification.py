"""`ZooClassifier`: a scikit-learn classifier over any classification entry of the zoo."""

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.utils.class_weight import compute_class_weight

from pipelines import augment as augmentation
from pipelines import checks, text
from pipelines.base import ZooEstimator
from zoo import transfer

FREEZE = (None, "backbone")


class ZooClassifier(ClassifierMixin, ZooEstimator):
    """Trains a zoo classification model like any scikit-learn classifier.

    Labels can be anything sortable (ints, strings); `classes_` keeps them, and the model's
    `num_classes` follows their number. y is validated like scikit-learn's classifiers
    (a continuous y raises "Unknown label type: continuous ..."). `fit(X, y,
    sample_weight=...)` weights samples; with `class_weight` too, the weights multiply.
    See `ZooEstimator` for the arguments; besides them:

    Args:
        augment: an augmentation policy of `pipelines.augment.POLICIES` ("randaugment",
            "mixup", ...) applied to the training batches only (never to validation,
            prediction or exports), seeded by `random_state`; None (default) or "none" for
            no policy. Mixing policies train on soft labels with categorical cross-entropy.
        freeze, fine_tune_epochs, fine_tune_learning_rate: the transfer recipe (`_train`).

    Example:

        clf = ZooClassifier("cnn-digits", epochs=20, model__dropout=0.4, random_state=0)
        clf.fit(X_train, y_train, validation_data=(X_val, y_val))
        clf.predict(X_test)[:3], clf.score(X_test, y_test)
        clf.export("exports", format="saved_model")
    """

    _task = "classification"
    # A self-supervised encoder (e.g. ssl-fashion-mnist) takes a classifier head with
    # `num_classes`: fine-tuning with pretrained=True, or the same architecture from scratch.
    _also_trains = ("self_supervised",)

    def __init__(
        self,
        model,
        *,
        augment=None,
        freeze=None,
        fine_tune_epochs=0,
        fine_tune_learning_rate=1e-4,
        epochs=None,
        batch_size=None,
        learning_rate=None,
        lr_schedule=None,
        optimizer="adam",
        validation_split=0.0,
        callbacks=None,
        class_weight=None,
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
            class_weight=class_weight,
            random_state=random_state,
            warm_start=warm_start,
            pretrained=pretrained,
            verbose=verbose,
            distribution=distribution,
            **model_params,
        )
        self.augment = augment
        self.freeze = freeze
        self.fine_tune_epochs = fine_tune_epochs
        self.fine_tune_learning_rate = fine_tune_learning_rate

    def _check_params(self):
        super()._check_params()
        augmentation.check_policy(self.augment)
        if self.freeze not in FREEZE:
            raise ValueError(f'freeze must be None or "backbone". Received: freeze={self.freeze!r}')
        if self.freeze is not None and self.pretrained is False:
            raise ValueError(
                'freeze="backbone" trains a new head on a pretrained backbone: it needs '
                "pretrained=True or pretrained=<zoo name>. Received: pretrained=False"
            )
        if self.fine_tune_epochs:
            checks.check_positive_int("fine_tune_epochs", self.fine_tune_epochs)
        elif self.fine_tune_epochs not in (0, None):
            raise ValueError(
                "fine_tune_epochs must be an integer >= 0. "
                f"Received: fine_tune_epochs={self.fine_tune_epochs!r}"
            )
        checks.check_positive_number("fine_tune_learning_rate", self.fine_tune_learning_rate)

    def _train(self, model, train, validation, continuing, epochs=None, initial_epoch=0):
        """The transfer recipe when `freeze="backbone"`: `epochs` epochs with only the head
        trainable (BatchNormalization in inference mode), then `fine_tune_epochs` epochs with
        every layer but BatchNormalization trainable, at `fine_tune_learning_rate` (constant,
        a fresh `optimizer`), as the Keras transfer-learning guide does."""
        if self.freeze is None or continuing:
            return super()._train(model, train, validation, continuing, epochs, initial_epoch)
        steps = int(train.cardinality())
        steps = steps if steps > 0 else 1000
        transfer.freeze_backbone(model)
        self._compile(model, steps_per_epoch=steps)
        super()._train(model, train, validation, continuing)
        if self.fine_tune_epochs:
            transfer.unfreeze(model, keep_batchnorm_frozen=True)
            model.compile(
                optimizer=checks.make_optimizer(self.optimizer, self.fine_tune_learning_rate),
                loss=self._loss(),
                metrics=self._metrics(),
                steps_per_execution=self._steps_per_execution(),
            )
            super()._train(
                model,
                train,
                validation,
                True,
                epochs=self.fine_tune_epochs,
                initial_epoch=self._setting("epochs"),
            )
        return self

    def _prepare_batches(self, train, validation):
        if augmentation.check_policy(self.augment) is None:
            return train, validation
        classes = len(self.classes_)
        train = augmentation.augment_batches(train, self.augment, classes, seed=self._seed)
        if validation is not None and augmentation.mixes_labels(self.augment):
            validation = augmentation.one_hot_batches(validation, classes)
        return train, validation

    def _loss(self):
        if augmentation.mixes_labels(self.augment):
            return "categorical_crossentropy"  # soft labels
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

"""The scikit-learn estimator base shared by the zoo's task pipelines.

`ZooEstimator` follows scikit-learn's rules: `__init__` only stores its arguments, fitted
attributes end in "_", and builder arguments of the zoo entry are routed with a `model__`
prefix (`ZooClassifier("cnn-digits", model__dropout=0.5)`), so `clone`, `GridSearchCV`,
`Pipeline` and `pickle` work. Training goes through `pipelines.data.make_dataset` (tf.data)
on whichever backend Keras runs.
"""

import os
import pathlib
import tempfile

import keras
import numpy as np
import tensorflow as tf
from sklearn.base import BaseEstimator
from sklearn.model_selection import train_test_split
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

import zoo
from pipelines import checks, data, distributed

MODEL_PREFIX = "model__"
LR_SCHEDULES = ("constant", "cosine", "warmup_cosine")
WARMUP_FRACTION = 0.05  # of the training steps, for lr_schedule="warmup_cosine"


class _ReplayShuffles(keras.callbacks.Callback):
    """Replays the shuffles of the epochs a resumed fit skips.

    A callback that restores a run (see `pipelines.training.RunRecorder`) sets
    `model._initial_epoch` in `on_train_begin`; this one, called after it, then makes as many
    iterators of the training pipeline as Keras makes in that many epochs. Each iterator
    draws new shuffle seeds (no data is read), so epoch k gets the order it has in an
    uninterrupted run. Keras 3.15's epoch iterator makes one iterator at the start of every
    epoch and, on TensorFlow with a dataset of known length, one more at its end, which
    draws seeds but is never read (on JAX and PyTorch that one is a lazy generator). The
    resume test (tests/test_crash_safety.py) checks the result on all three backends.
    """

    def __init__(self, dataset):
        super().__init__()
        self.dataset = dataset

    def on_train_begin(self, logs=None):
        skipped = getattr(self.model, "_initial_epoch", None) or 0
        if not skipped:
            return
        known_length = int(self.dataset.cardinality()) > 0
        per_epoch = 2 if keras.backend.backend() == "tensorflow" and known_length else 1
        for _ in range(skipped * per_epoch):
            iter(self.dataset)


class ZooEstimator(BaseEstimator):
    """Base of the estimators that train a zoo model (see `ZooClassifier`).

    Args:
        model: the zoo name, e.g. "cnn-fashion-mnist".
        epochs: training epochs (default: the entry's recipe).
        batch_size: samples per batch (default: the entry's recipe).
        learning_rate: optimizer learning rate (default: the entry's recipe).
        lr_schedule: "constant", "cosine" (cosine decay to 0 over the training) or
            "warmup_cosine" (a linear rise from 0 over the first 5% of the steps, then cosine
            decay to 0); None: the entry's recipe (constant when the recipe names none).
        optimizer: a Keras optimizer name ("adam", "adamw", "sgd", "rmsprop", ...), or a
            `keras.optimizers.Optimizer` instance used as a template: every fit makes a fresh
            optimizer of its class and config (its learning rate, unless `learning_rate`
            is given).
        validation_split: fraction of the training data held out (seeded) for validation.
        callbacks: Keras callbacks (e.g. `keras.callbacks.EarlyStopping`), used as given
            (`clone` and `GridSearchCV` copy them, like every parameter).
        class_weight: classifiers only: "balanced", or {label: weight} in the user's labels.
        random_state: seed for the initialisation, the shuffling and the validation split:
            None, an int, or a `numpy.random.Generator` / `RandomState` (one seed is drawn
            from it per fit). Fits with the same int are reproducible; the seeding is local
            to `fit`, which leaves the caller's global random generators (Python, NumPy,
            TensorFlow, PyTorch, Keras) as it found them.
        warm_start: when fitted already, `fit` continues training the same model.
        pretrained: start from the entry's shipped weights instead of a random init (True),
            or from those of another zoo entry (its name: transfer learning, layers matched
            by name; a layer whose shape differs keeps its fresh init and is listed in
            `model_.zoo_transfer`). With another `num_classes` than the shipped weights, the
            head is new (see `zoo.transfer`).
        verbose: Keras verbosity (0 silent, 1 progress bar, 2 one line per epoch).
        distribution: None (one device), a `keras.distribution.DataParallel` (JAX backend;
            over several processes made with `auto_shard_dataset=False`: each process feeds
            its part of every global batch, see `pipelines.distributed`) or a
            `tf.distribute.MirroredStrategy` (TensorFlow backend, the GPUs of one machine).
            `batch_size` is the global batch; it must be a multiple of the number of devices.
        **model_params: builder arguments prefixed with `model__`, e.g. `model__dropout=0.5`.

    Like every scikit-learn estimator, `__init__` only stores its arguments; they are
    validated by `fit` (e.g. "epochs must be a positive integer. Received: epochs=0").
    Array input is validated with scikit-learn's `validate_data`: `n_features_in_` (and
    `feature_names_in_` for a DataFrame) are set by `fit` and checked by `predict`; sparse
    input is refused; image models take n-D arrays; dict inputs and tf.data datasets keep
    their own validation (`pipelines.data`) and set no `n_features_in_`.
    """

    _task = None
    _requires_y = True
    _also_trains = ()  # tasks besides `_task` whose entries this estimator can train

    def __init__(
        self,
        model,
        *,
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
        self.model = model
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.lr_schedule = lr_schedule
        self.optimizer = optimizer
        self.validation_split = validation_split
        self.callbacks = callbacks
        self.class_weight = class_weight
        self.random_state = random_state
        self.warm_start = warm_start
        self.pretrained = pretrained
        self.verbose = verbose
        self.distribution = distribution
        self._unexpected_params = {}
        for key, value in model_params.items():
            if key.startswith(MODEL_PREFIX):
                setattr(self, key, value)
            else:
                # Refused by `fit` (scikit-learn's rule: __init__ and set_params never raise).
                self._unexpected_params[key] = value

    # -- scikit-learn parameter protocol ---------------------------------------------------

    def get_params(self, deep=True):
        params = super().get_params(deep=False)
        params.update({k: v for k, v in vars(self).items() if k.startswith(MODEL_PREFIX)})
        params.update(getattr(self, "_unexpected_params", {}))
        return params

    def set_params(self, **params):
        plain = {}
        valid = set(super().get_params(deep=False))
        for key, value in params.items():
            if key.startswith(MODEL_PREFIX):
                setattr(self, key, value)
            elif key in valid or "__" in key:
                plain[key] = value
            else:
                self.__dict__.setdefault("_unexpected_params", {})[key] = value
        return super().set_params(**plain)

    # -- helpers ---------------------------------------------------------------------------

    def _entry(self):
        return zoo.get_entry(self.model)

    def _setting(self, name):
        value = getattr(self, name)
        if value is None:
            defaults = {"epochs": 10, "batch_size": 32, "learning_rate": 1e-3}
            value = self._entry().recipe.get(name, defaults.get(name))
        return value

    def _check_params(self):
        """Validates the settings before any data is read; raises naming the argument."""
        name = type(self).__name__
        unexpected = getattr(self, "_unexpected_params", {})
        if unexpected:
            key = next(iter(unexpected))
            raise TypeError(
                f"{name} got an unexpected argument {key!r}. Builder arguments take the "
                f"prefix {MODEL_PREFIX!r}, e.g. model__dropout=0.5."
            )
        entry = self._entry()
        if self._task is not None and entry.task not in self._also_trains:
            checks.check_task(name, self.model, entry.task, self._task)
        checks.check_positive_int("epochs", self._setting("epochs"))
        checks.check_positive_int("batch_size", self._setting("batch_size"))
        learning_rate = self.learning_rate
        if learning_rate is not None or not isinstance(self.optimizer, keras.optimizers.Optimizer):
            checks.check_positive_number("learning_rate", self._setting("learning_rate"))
        checks.check_optimizer(self.optimizer)
        if self._setting("lr_schedule") not in (None, *LR_SCHEDULES):
            raise ValueError(
                'lr_schedule must be None, "constant", "cosine" or "warmup_cosine". '
                f"Received: lr_schedule={self._setting('lr_schedule')!r}"
            )
        split = self.validation_split
        if split is not None and split != 0 and (not checks._is_number(split) or not 0 < split < 1):
            raise ValueError(
                f"validation_split must be in (0, 1) (0 or None: no split). "
                f"Received: validation_split={split!r}"
            )
        checks.check_class_weight(self.class_weight)
        distributed.check_distribution(self.distribution)
        distributed.check_batch_size(self.distribution, self._setting("batch_size"))
        if not isinstance(self.random_state, (np.random.RandomState, np.random.Generator)):
            checks.derive_seed(self.random_state)  # validates; a generator is drawn from in fit
        if isinstance(self.pretrained, str):  # transfer: the weights of another entry
            zoo.get_entry(self.pretrained)
        for flag in ("warm_start", "pretrained"):
            if flag == "pretrained" and isinstance(self.pretrained, str):
                continue
            if not isinstance(getattr(self, flag), (bool, np.bool_)):
                raise ValueError(
                    f"{flag} must be True or False. Received: {flag}={getattr(self, flag)!r}"
                )

    def _validate_X(self, X, reset):
        """scikit-learn's validation of array input (`n_features_in_`, `feature_names_in_`).

        Sparse input is refused; n-D arrays (images) are accepted; dict inputs are left to
        `pipelines.data.as_input_dict`. Strings, NaN and inf are reported by `pipelines.data`.
        """
        checks.refuse_sparse(X)  # first: a scipy dok_matrix is a dict
        if isinstance(X, dict):
            if reset:
                self.__dict__.pop("n_features_in_", None)
                self.__dict__.pop("feature_names_in_", None)
            return X
        return validate_data(
            self,
            X,
            reset=reset,
            accept_sparse=False,
            allow_nd=True,
            dtype=None,
            ensure_all_finite=False,
            ensure_min_samples=1,
            ensure_min_features=1,
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        tags.input_tags.allow_nan = False
        tags.input_tags.two_d_array = True
        return tags

    def _model_overrides(self):
        return {
            k[len(MODEL_PREFIX) :]: v
            for k, v in self.get_params().items()
            if k.startswith(MODEL_PREFIX)
        }

    def _build_model(self, data_overrides):
        """Builds the zoo model with the user's `model__` arguments and data-set shapes."""
        entry = self._entry()
        overrides = self._model_overrides()
        for key, value in data_overrides.items():
            if key not in entry.defaults:
                continue
            if key in overrides and overrides[key] != value:
                raise ValueError(
                    f"model__{key}={overrides[key]!r} contradicts the training data, "
                    f"which needs {key}={value!r}."
                )
            overrides[key] = value
        if isinstance(self.pretrained, str):  # a zoo name: transfer its shipped weights
            model = zoo.get(self.model, weights=None, **overrides)
            zoo.transfer.transfer_weights(model, zoo.get(self.pretrained), self.pretrained)
            self.model_config_ = {**entry.defaults, **overrides}
            return model
        weights = "pretrained" if self.pretrained else None
        model = zoo.get(self.model, weights=weights, **overrides)
        base = zoo.weights.shipped_row(self.model)["config"] if self.pretrained else {}
        self.model_config_ = {**entry.defaults, **base, **overrides}
        return model

    def _compile(self, model, steps_per_epoch):
        template = isinstance(self.optimizer, keras.optimizers.Optimizer)
        # An optimizer instance keeps its own learning rate unless learning_rate is given.
        learning_rate = (
            None if template and self.learning_rate is None else self._setting("learning_rate")
        )
        schedule = self._setting("lr_schedule")
        if schedule in ("cosine", "warmup_cosine"):
            if learning_rate is None:
                learning_rate = float(self.optimizer.get_config()["learning_rate"])
            steps = steps_per_epoch * self._setting("epochs")
            warmup = round(WARMUP_FRACTION * steps) if schedule == "warmup_cosine" else 0
            if warmup:
                learning_rate = keras.optimizers.schedules.CosineDecay(
                    0.0, steps - warmup, warmup_target=learning_rate, warmup_steps=warmup
                )
            else:
                learning_rate = keras.optimizers.schedules.CosineDecay(learning_rate, steps)
        optimizer = checks.make_optimizer(self.optimizer, learning_rate)
        model.compile(
            optimizer=optimizer,
            loss=self._loss(),
            metrics=self._metrics(),
            loss_weights=self._loss_weights(),
            steps_per_execution=self._steps_per_execution(),
        )

    def _steps_per_execution(self):
        """The recipe's batches per call of the compiled training step (fewer Python round
        trips; callbacks still see every epoch); 1 on PyTorch, whose trainer takes no other."""
        if keras.backend.backend() == "torch":
            return 1
        return self._entry().recipe.get("steps_per_execution", 1)

    # -- task hooks (ZooClassifier, ZooRegressor) ------------------------------------------

    def _loss(self):
        raise NotImplementedError

    def _metrics(self):
        raise NotImplementedError

    def _loss_weights(self):
        """Weights of the losses of several outputs ({output name: weight}), or None."""
        return None

    def _stratify_labels(self, y):
        """The labels the validation split is stratified on, or None."""
        return y if self._task == "classification" else None

    def _refuse_class_weight(self):
        """For the estimators that are not classifiers: `class_weight` is an error."""
        if self.class_weight is not None:
            raise ValueError(
                f"class_weight applies to classifiers only; {type(self).__name__} got one."
            )

    def _encode_targets(self, y, fitting):
        """Validated targets as the model trains on them; `fitting` sets fitted state."""
        raise NotImplementedError

    def _dataset_targets(self, targets):
        """Sets fitted state from the targets of a tf.data.Dataset (a 1-D array)."""
        raise NotImplementedError

    def _sample_weights(self, y):
        """Per-sample weights the task derives from the targets (class_weight), or None."""
        return None

    def _combined_weights(self, targets, sample_weight, first_input):
        """The user's `sample_weight` (validated) times the task's weights, or None."""
        weights = self._sample_weights(targets)
        if sample_weight is None:
            return weights
        sample_weight = _check_sample_weight(
            sample_weight, first_input, dtype=np.float32, ensure_non_negative=True
        )
        if not sample_weight.sum() > 0:
            raise ValueError("sample_weight must have a positive sum. Received: all weights are 0.")
        return sample_weight if weights is None else sample_weight * weights

    def _task_overrides(self):
        return {}

    # -- the estimator API -----------------------------------------------------------------

    def fit(self, X, y=None, validation_data=None, *, sample_weight=None):
        """Trains the zoo model on X, y through a tf.data pipeline.

        Args:
            X: array or DataFrame (one-input models; n-D arrays for image models), dict of
                arrays keyed by input name, a finite `tf.data.Dataset` of (x, y) elements
                (batched or not), or data larger than memory, streamed: a shard directory
                (`python cli.py prepare NAME`, `pipelines.shards`) or an image folder
                (DIR/CLASS_NAME/*.png, `pipelines.data.image_folder`), as a path or as the
                opened object. Sparse input is refused.
            y: targets (None when X is a dataset).
            validation_data: (X_val, y_val) evaluated after every epoch (a dataset of
                (x, y) when X is a dataset).
            sample_weight: per-sample weights >= 0 (array input only), multiplied by the
                class weights of `class_weight`.

        Returns:
            self.
        """
        self._check_params()
        seed = checks.derive_seed(self.random_state)
        with checks.local_random_state(seed), distributed.scope(self.distribution):
            self._seed = seed
            continuing = self.warm_start and hasattr(self, "model_")
            if data.is_source(X):
                train, validation = self._datasets_from_source(
                    X, y, validation_data, continuing, sample_weight
                )
            elif isinstance(X, tf.data.Dataset):
                if y is not None:
                    raise ValueError(
                        "When X is a tf.data.Dataset, y must be None: the dataset yields it."
                    )
                if sample_weight is not None:
                    raise ValueError(
                        "sample_weight applies to array input; a tf.data.Dataset cannot "
                        "take it. Received: sample_weight with a tf.data.Dataset"
                    )
                train, validation = self._datasets_from_tf_data(X, validation_data, continuing)
            else:
                if y is None and self._requires_y:
                    raise ValueError(
                        f"This {type(self).__name__} estimator requires y to be passed, but "
                        "the target y is None."
                    )
                train, validation = self._datasets_from_arrays(
                    X, y, validation_data, continuing, sample_weight
                )
            train, validation = self._prepare_batches(train, validation)
            return self._train(self._training_model(), train, validation, continuing)

    def _prepare_batches(self, train, validation):
        """The training and validation batches as the model trains on them (a task may
        transform them, e.g. `ZooClassifier`'s augmentation policies); here unchanged."""
        return train, validation

    def _training_model(self):
        """The Keras model `fit` trains (the zoo model, unless a task wraps it)."""
        return self.model_

    def _train(self, model, train, validation, continuing, epochs=None, initial_epoch=0):
        """Runs `model.fit` on the tf.data pipelines and records `history_`; returns self.

        The callbacks are the user's, as given, followed by `_ReplayShuffles`, so that a run
        resumed at epoch k sees the shuffled orders of an uninterrupted run. `epochs` (default:
        the setting) counts from `initial_epoch` (a second phase, e.g. fine-tuning).
        """
        callbacks = [*(self.callbacks or []), _ReplayShuffles(train)]
        history = model.fit(
            distributed.local_part(train, self.distribution),
            validation_data=distributed.local_part(validation, self.distribution),
            epochs=initial_epoch + (epochs or self._setting("epochs")),
            initial_epoch=initial_epoch,
            callbacks=callbacks,
            shuffle=False,  # the tf.data pipeline shuffles
            verbose=self.verbose,
        )
        previous = getattr(self, "history_", {}) if continuing else {}
        self.history_ = {
            key: list(previous.get(key, [])) + [float(v) for v in values]
            for key, values in history.history.items()
        }
        return self

    def _datasets_from_arrays(self, X, y, validation_data, continuing, sample_weight=None):
        X = self._validate_X(X, reset=not continuing)
        targets = self._encode_targets(y, fitting=not continuing)
        if not continuing:
            overrides = self._task_overrides()
            if not isinstance(X, dict) and np.ndim(X) == 2:
                overrides["num_features"] = np.shape(X)[1]
            self.model_ = self._build_model(overrides)
        x = data.as_input_dict(X, self.model_)
        data.check_same_length({"X": next(iter(x.values())), "y": targets})
        weights = self._combined_weights(targets, sample_weight, next(iter(x.values())))
        x, targets, weights, validation = self._split_validation(x, targets, weights)
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise ValueError("validation_data must be a pair (X_val, y_val).")
            x_val = data.as_input_dict(validation_data[0], self.model_)
            y_val = self._encode_targets(validation_data[1], fitting=False)
            data.check_same_length({"X_val": next(iter(x_val.values())), "y_val": y_val})
            validation = (x_val, y_val)
        batch_size = self._setting("batch_size")
        if not continuing:
            if not self.pretrained:
                adapt_normalizers(self.model_, x, targets)
            samples = len(next(iter(x.values())))  # len(targets) counts heads for a dict
            self._compile(self.model_, steps_per_epoch=-(-samples // batch_size))
        train = data.make_dataset(x, targets, weights, batch_size, shuffle=True, seed=self._seed)
        if validation is not None:
            validation = data.make_dataset(*validation, batch_size=max(batch_size, 256))
        return train, validation

    def _datasets_from_tf_data(self, dataset, validation_data, continuing):
        spec = dataset.element_spec
        if not isinstance(spec, tuple) or len(spec) != 2:
            raise ValueError(
                f"A tf.data.Dataset given to fit must yield (x, y) pairs. Received elements: {spec}"
            )
        targets = read_dataset_targets(dataset, "X")
        if validation_data is not None:
            check_finite_dataset(validation_data, "validation_data")
        if not continuing:
            self._dataset_targets(targets)
            self.model_ = self._build_model(self._task_overrides())
        batch_size = self._setting("batch_size")
        train = data.prepare_user_dataset(dataset, self.model_, batch_size)
        if not continuing:
            if not self.pretrained:
                x = {
                    tensor.name: train.map(
                        lambda x, y, name=tensor.name: x[name] if isinstance(x, dict) else x
                    )
                    for tensor in self.model_.inputs
                }
                adapt_normalizers(self.model_, x, targets)
            steps = int(train.cardinality())
            self._compile(self.model_, steps_per_epoch=steps if steps > 0 else 1000)
        validation = None
        if validation_data is not None:
            validation = data.prepare_user_dataset(validation_data, self.model_, batch_size)
        return train, validation

    def _source_targets(self, source):
        """Sets fitted state from a streamed input's classes (`source.classes`)."""
        raise ValueError(
            f"{type(self).__name__}.fit takes arrays; shard directories and image folders "
            "are read by ZooClassifier and ZooRegressor."
        )

    def _stream_weights(self, streams):
        """Per-class weights (a float32 array by class id) for streamed input, or None."""
        return None

    def _datasets_from_source(self, X, y, validation_data, continuing, sample_weight):
        """Streams a shard directory or an image folder: nothing is read into memory.

        The classes and counts come from the source (the shard manifest, the folder names),
        so no extra pass over the data is made; the `Normalization` layers adapt on a stream.
        """
        if y is not None:
            raise ValueError(
                "When X is a shard directory or an image folder, y must be None: the labels "
                f"come from it. Received: y of type {type(y).__name__}"
            )
        if sample_weight is not None:
            raise ValueError(
                "sample_weight applies to array input; a shard directory or an image folder "
                "cannot take it. Received: sample_weight with X="
                f"{str(getattr(X, 'directory', X))!r}"
            )
        source = data.open_source(X, "X")
        if not continuing:
            self._source_targets(source)
            self.model_ = self._build_model(self._task_overrides())
        batch_size = self._setting("batch_size")
        streams = source.streams(self.model_, batch_size, self._seed, self.validation_split)
        if not continuing:
            if not self.pretrained:
                x = {tensor.name: streams.x for tensor in self.model_.inputs}
                if len(x) > 1:
                    x = {name: streams.x.map(lambda v, n=name: v[n]) for name in x}
                adapt_normalizers(self.model_, x, streams.y)
            self._compile(self.model_, steps_per_epoch=-(-streams.count // batch_size))
        train = streams.train
        weights = self._stream_weights(streams)
        if weights is not None:
            table = tf.constant(weights, tf.float32)
            train = train.map(lambda x, y: (x, y, tf.gather(table, tf.cast(y, tf.int32))))
        validation = streams.validation
        if validation_data is not None:
            check_finite_dataset(validation_data, "validation_data")
            if not isinstance(validation_data, tf.data.Dataset):
                raise ValueError(
                    "With a shard directory or an image folder as X, validation_data must be "
                    "a tf.data.Dataset of (x, y). Received: "
                    f"{type(validation_data).__name__}"
                )
            validation = data.prepare_user_dataset(validation_data, self.model_, batch_size)
        return train, validation

    def _split_validation(self, x, y, weights):
        """Holds out `validation_split` of the samples (seeded; stratified for classes)."""
        if not self.validation_split:
            return x, y, weights, None
        count = len(next(iter(y.values())) if isinstance(y, dict) else y)
        train_idx, val_idx = train_test_split(
            np.arange(count),
            test_size=self.validation_split,
            random_state=self._seed,
            stratify=self._stratify_labels(y),
        )
        x_train = {name: array[train_idx] for name, array in x.items()}
        x_val = {name: array[val_idx] for name, array in x.items()}
        w_train = None if weights is None else weights[train_idx]
        return x_train, take(y, train_idx), w_train, (x_val, take(y, val_idx))

    def _predict_raw(self, X):
        """Runs the fitted model on X and returns its raw output."""
        check_is_fitted(self, "model_")
        batch_size = self._setting("batch_size")
        if isinstance(X, (str, os.PathLike, data.ImageFolder)):
            folder = data.open_source(X, "X")
            if not isinstance(folder, data.ImageFolder):
                raise ValueError(
                    f"X is a shard directory ({folder.directory}), which holds several splits: "
                    "predict on one of them, e.g. "
                    "pipelines.shards.open_shards(DIR).dataset('test')."
                )
            dataset = folder.predict_dataset(self.model_, max(batch_size, 256))
        elif isinstance(X, tf.data.Dataset):
            dataset = data.prepare_user_dataset(X, self.model_, batch_size)
            dataset = dataset.map(lambda *parts: parts[0])
        else:
            X = self._validate_X(X, reset=False)
            dataset = data.make_dataset(
                data.as_input_dict(X, self.model_), batch_size=max(batch_size, 256)
            )
        return self.model_.predict(dataset, verbose=0)

    def export(self, path, format="saved_model", version=1):
        """Exports the fitted model (see `pipelines.export.export_model`).

        Example:

            clf.export("exports", format="onnx")
        """
        from pipelines.export import export_model

        check_is_fitted(self, "model_")
        return export_model(
            self.model_, path, format=format, version=version, labels=self._labels()
        )

    def _labels(self):
        return None

    # -- pickling: the Keras model travels as a .keras archive ------------------------------

    def __getstate__(self):
        state = self.__dict__.copy()
        if "model_" in state:
            state["model_"] = model_to_bytes(state["model_"])
        return state

    def __setstate__(self, state):
        if "model_" in state:
            state["model_"] = model_from_bytes(state["model_"])
        self.__dict__.update(state)


def check_finite_dataset(dataset, what):
    """Raises for an infinite tf.data.Dataset (e.g. after `.repeat()`), which fit cannot read."""
    if (
        isinstance(dataset, tf.data.Dataset)
        and dataset.cardinality() == tf.data.INFINITE_CARDINALITY
    ):
        raise ValueError(
            f"{what} is an infinite tf.data.Dataset (e.g. made with .repeat()): fit reads "
            "it once to validate it and to find its labels. Pass a finite dataset (repeat(n), "
            f"take(n)); epochs sets the passes. Received: {what} of infinite cardinality"
        )


def read_dataset_targets(dataset, what):
    """Reads a finite dataset of (x, y) once: checks x for NaN/inf, returns y as a 1-D array."""
    check_finite_dataset(dataset, what)
    targets = []
    for x, y in dataset.as_numpy_iterator():
        for part in x.values() if isinstance(x, dict) else (x,):
            part = np.asarray(part)
            if part.dtype.kind in "fc" and not np.isfinite(part).all():
                raise ValueError(
                    f"The tf.data.Dataset {what} contains NaN or infinite values in x. "
                    "Impute or drop them first."
                )
        targets.append(np.reshape(y, (-1,)))
    if not targets:
        raise ValueError(f"The tf.data.Dataset {what} is empty. Received: no elements")
    return np.concatenate(targets)


def take(values, index):
    """values[index] for an array, or for each array of a dict (several outputs)."""
    if isinstance(values, dict):
        return {key: value[index] for key, value in values.items()}
    return values[index]


def adapt_normalizers(model, x, y):
    """Adapts the model's `Normalization` layers on the training data.

    A `Normalization` fed by a model input is adapted on that input; an inverted one that
    is a model output (regression targets) is adapted on the targets (for a model with
    several outputs, on the targets of the output of the same name).
    """
    for layer in model.layers:
        if not isinstance(layer, keras.layers.Normalization):
            continue
        if layer.invert and layer.name in model.output_names:
            targets = y.get(layer.name) if isinstance(y, dict) else y
            if targets is None:
                continue
            if isinstance(targets, tf.data.Dataset):  # streamed input: adapt on the stream
                layer.adapt(targets.map(lambda t: tf.reshape(tf.cast(t, "float32"), (-1, 1))))
                continue
            layer.adapt(np.asarray(targets, "float32").reshape(len(targets), -1))
        elif getattr(layer.input, "name", None) in x:
            layer.adapt(x[layer.input.name])  # an array, or a tf.data.Dataset (streamed)


def model_to_bytes(model):
    """Serializes a Keras model (architecture, weights, optimizer) to .keras bytes."""
    with tempfile.TemporaryDirectory() as directory:
        path = pathlib.Path(directory) / "model.keras"
        model.save(path)
        return path.read_bytes()


def model_from_bytes(payload):
    """Rebuilds a Keras model from `model_to_bytes` output (safe mode)."""
    with tempfile.TemporaryDirectory() as directory:
        path = pathlib.Path(directory) / "model.keras"
        path.write_bytes(payload)
        return keras.saving.load_model(path, safe_mode=True)


class ArrayTargetsEstimator(ZooEstimator):
    """What the estimators whose targets are arrays, not classes or values, share (masks,
    boxes, label sequences, waveforms): no class weights, no stratified validation split
    and no Keras metrics (their metrics are `pipelines.evaluation.evaluate`'s)."""

    def _metrics(self):
        return None

    def _stratify_labels(self, y):
        return None

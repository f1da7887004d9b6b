"""The recommendation protocols of MovieLens-100k: metrics, baselines, k-fold runs, top-k.

The recommenders train through the spine's estimators (`estimator_for`: `ZooRegressor` for
the rating models; for the two-tower retriever `ZooTwoTower`, a `ZooRetriever` whose
in-batch softmax is logQ-corrected with keras-rs and masks accidental hits); this module adds
what their protocols need on top:

* `evaluate_split(model, dataset)` (what `pipelines.evaluation.evaluate` returns for a
  `datasets.movielens` dataset, so `train`, `publish` and the manifest use it): the metrics of
  one model on the dataset's test split beside the baselines on the same split. Ratings
  (fold 1): `rmse`, `mae`, `r2`, `baseline_rmse` (the best of global/user/item mean, user-kNN,
  item-kNN) and each baseline's rmse. Ranking (leave-one-out): `hr_at_10`, `ndcg_at_10`,
  `recall_at_1` (= HR@1), `baseline_hr_at_10`, `baseline_ndcg_at_10` (the better of item
  popularity and item-kNN) and each baseline's.
* `protocol_metrics(name, model)` (what `python cli.py evaluate NAME` prints): the whole
  protocol. Ratings: the 5-fold cross-validation, fold 1 scored with the given weights and
  folds 2-5 trained now with the same configuration, recipe and seed (`train_fold`), so
  `rmse` is the mean over the 5 folds beside `baseline_rmse`, the best baseline's 5-fold
  mean. Ranking: the given weights on the leave-one-out split.
* `recommend(name, user, k)`: the top-k unseen titles for a user.
"""

import functools

import keras
import numpy as np
import tensorflow as tf

import zoo
from datasets import movielens
from pipelines import checks, data, evaluation
from pipelines.regression import ZooRegressor
from pipelines.retrieval import ZooRetriever

RATING_BASELINES = ("global_mean", "user_mean", "item_mean", "user_knn", "item_knn")
RANKING_BASELINES = ("popularity", "item_knn")
SCORE_OUTPUT = "score"
RATING_OUTPUT = "rating"


@functools.lru_cache(maxsize=8)
def _fold_baselines(fold):
    train_index, test_index = movielens.rating_folds()[fold - 1]
    return movielens.rating_baselines(train_index, test_index)


@functools.lru_cache(maxsize=1)
def _ranking_baselines():
    train_index, _, candidates = movielens.leave_one_out()
    return movielens.ranking_baselines(train_index, candidates)


def _best(baselines, metric, lower_is_better):
    pick = min if lower_is_better else max
    return pick(baselines, key=lambda name: baselines[name][metric])


def rating_baseline_metrics(fold):
    """{"baseline_rmse", "baseline", "baseline_<name>_rmse", ...} of fold `fold` (1..5)."""
    baselines = _fold_baselines(movielens.check_fold(fold))
    best = _best(baselines, "rmse", lower_is_better=True)
    result = {"baseline_rmse": baselines[best]["rmse"], "baseline": best}
    result.update({f"baseline_{name}_rmse": baselines[name]["rmse"] for name in baselines})
    return result


def ranking_baseline_metrics():
    """The ranking baselines on the leave-one-out split; `baseline_*` is the better one."""
    baselines = _ranking_baselines()
    result = {}
    for metric in (f"hr_at_{movielens.TOP_K}", f"ndcg_at_{movielens.TOP_K}"):
        best = _best(baselines, metric, lower_is_better=False)
        result[f"baseline_{metric}"] = baselines[best][metric]
        result[f"baseline_{metric}_from"] = best
        result.update({f"baseline_{name}_{metric}": baselines[name][metric] for name in baselines})
    return result


def scores(model, x, batch_size=4096, output_name=SCORE_OUTPUT):
    """The model's score per (user, item) row: output `output_name` of a model with several
    outputs ("score": the two-tower's dot product, NeuMF's interaction logit; "rating":
    NeuMF's stars), else its only output (a predicted rating)."""
    output = evaluation.predict_arrays(model, x, batch_size=batch_size)
    if isinstance(output, dict):
        if output_name not in output:
            raise ValueError(
                f"A recommender with several outputs needs one named {output_name!r}. "
                f"Received outputs: {sorted(output)}"
            )
        output = output[output_name]
    return np.asarray(output, "float64").reshape(len(next(iter(x.values()))), -1)[:, 0]


def model_inputs(model, users, items):
    """The inputs `model` takes for (user, item) pairs (ids, and features if it has them)."""
    names = {tensor.name for tensor in model.inputs}
    return {
        name: value
        for name, value in movielens.inputs(users, items, with_features=True).items()
        if name in names
    }


def candidate_scores(model, candidates):
    """Scores (users, C) of each user's candidate items (user u is row u - 1)."""
    users = np.repeat(np.arange(1, len(candidates) + 1), candidates.shape[1])
    return scores(model, model_inputs(model, users, candidates.ravel())).reshape(candidates.shape)


def evaluate_split(model, dataset):
    """Metrics of `model` on the test split of a MovieLens dataset, with the baselines."""
    if dataset.protocol == "ranking":
        ranked = candidate_scores(model, dataset.candidates)
        result = movielens.ranking_metrics(ranked)
        result["recall_at_1"] = movielens.ranking_metrics(ranked, k=1)["hr_at_1"]
        return {**result, **ranking_baseline_metrics()}
    x = model_inputs(model, dataset.X_test["user_id"], dataset.X_test["item_id"])
    # Clipped to the 1..5 stars of the scale, as the baselines' predictions are.
    predicted = scores(model, x, output_name=RATING_OUTPUT)
    result = evaluation.regression_metrics(dataset.y_test, np.clip(predicted, 1.0, 5.0))
    return {**result, **rating_baseline_metrics(dataset.fold)}


class KeepBest(keras.callbacks.Callback):
    """Restores, at the end of training, the weights of the epoch with the lowest
    validation loss (what `train_run` ships as best.weights.h5); without validation the
    last epoch's weights stay."""

    def on_train_begin(self, logs=None):
        self.best, self.weights = np.inf, None

    def on_epoch_end(self, epoch, logs=None):
        loss = (logs or {}).get("val_loss")
        if loss is not None and loss < self.best:
            self.best, self.weights = loss, self.model.get_weights()

    def on_train_end(self, logs=None):
        if self.weights is not None:
            self.model.set_weights(self.weights)


def train_fold(name, fold, config=None, training=None, verbose=0):
    """Trains entry `name` on fold `fold` (1..5) of the rating protocol as `train` does.

    Args:
        name: a rating entry ("mf-movielens", "neumf-movielens").
        fold: 1..5.
        config: builder arguments (default: the entry's defaults).
        training: settings as a manifest row records them ("epochs", "batch_size",
            "learning_rate", "lr_schedule", "optimizer", "seed", "validation_split");
            missing ones come from the entry's recipe (seed 0).

    Returns the trained `keras.Model` (the best validation epoch's weights, or the last
    epoch's when the recipe holds out no validation split).
    """
    import datasets

    with_features = datasets.load(zoo.get_entry(name).dataset).with_features
    dataset = movielens.load_ratings_fold(fold, with_features)
    return train_on(name, dataset, config, training, verbose)


def train_on(name, dataset, config=None, training=None, verbose=0):
    """Trains entry `name` on the training split of the MovieLens `dataset` as `train`
    does (see `train_fold` for `config` and `training`); returns the trained model."""
    from pipelines.training import VALIDATION_SPLIT, estimator_for

    entry = zoo.get_entry(name)
    training = dict(training or {})
    keep = KeepBest()
    estimator = estimator_for(
        name,
        epochs=training.get("epochs"),
        batch_size=training.get("batch_size"),
        learning_rate=training.get("learning_rate"),
        lr_schedule=training.get("lr_schedule"),
        optimizer=training.get("optimizer", "adam"),
        random_state=checks.check_int("seed", training.get("seed", 0)),
        validation_split=training.get(
            "validation_split", entry.recipe.get("validation_split", VALIDATION_SPLIT)
        ),
        callbacks=[keep],
        verbose=verbose,
        **{f"model__{key}": value for key, value in (config or {}).items()},
    )
    estimator.fit(dataset.X_train, dataset.y_train)
    return estimator.model_


def protocol_metrics(name, model, config=None, training=None, verbose=0):
    """The whole protocol of entry `name` with `model` (what `cli.py evaluate` prints).

    Rating entries: the 5-fold cross-validation; fold 1 is scored with `model` (the shipped
    weights were trained on fold 1's training ratings), folds 2..5 with models trained now
    by `train_fold` with `config` and `training` (the shipped row's). Returns the mean and
    standard deviation over the folds of rmse and mae, each fold's rmse, the best
    baseline's 5-fold mean rmse (`baseline_rmse`; the best by its mean) and every baseline's.
    A rating entry with a "score" output as well (NeuMF) adds its leave-one-out ranking
    metrics beside the ranking baselines (`ranking_protocol`).
    Ranking entries: `evaluate_split` on the leave-one-out split.
    """
    import datasets

    dataset = datasets.load(zoo.get_entry(name).dataset)
    if dataset.protocol == "ranking":
        return {"protocol": dataset.split, **evaluate_split(model, dataset)}
    folds = []
    for fold in range(1, movielens.FOLDS + 1):
        if fold == 1:
            fold_model, fold_data = model, dataset
        else:
            fold_model = train_fold(name, fold, config, training)
            fold_data = movielens.load_ratings_fold(fold, dataset.with_features)
        folds.append(evaluate_split(fold_model, fold_data))
        if verbose:
            print(f"fold {fold}: rmse {folds[-1]['rmse']:.4f}", flush=True)
    rmse = np.array([fold["rmse"] for fold in folds])
    baselines = {
        name_: float(np.mean([fold[f"baseline_{name_}_rmse"] for fold in folds]))
        for name_ in RATING_BASELINES
    }
    best = min(baselines, key=baselines.get)
    result = {
        "protocol": (
            f"{movielens.FOLDS}-fold cross-validation of the 100,000 ratings (KFold shuffle, "
            f"random_state={movielens.SEED}); fold 1 with the given weights, folds 2-"
            f"{movielens.FOLDS} trained now with the same configuration and recipe"
        ),
        "rmse": float(rmse.mean()),
        "rmse_sd": float(rmse.std(ddof=1)),
        "mae": float(np.mean([fold["mae"] for fold in folds])),
        "fold_rmse": [float(value) for value in rmse],
        "baseline_rmse": baselines[best],
        "baseline": best,
        **{f"baseline_{name_}_rmse": value for name_, value in baselines.items()},
    }
    if _has_score_output(model):  # NeuMF: its interaction head on the ranking protocol too
        result.update(ranking_protocol(name, config, training, verbose))
    return result


def _has_score_output(model):
    return isinstance(model.output, dict) and SCORE_OUTPUT in model.output


def ranking_protocol(name, config=None, training=None, verbose=0):
    """The leave-one-out ranking metrics of rating entry `name` with a "score" output
    (NeuMF), trained now on the leave-one-out training interactions with the given
    configuration and recipe (the shipped weights were trained on rating fold 1, whose
    training ratings hold most of the held-out latest items). Returns `hr_at_10`,
    `ndcg_at_10`, `recall_at_1` and the ranking baselines (`baseline_hr_at_10`, ...)."""
    ranking = movielens.load_movielens_implicit()
    model = train_on(name, ranking, config, training)
    metrics = evaluate_split(model, ranking)
    if verbose:
        print(f"leave-one-out ranking: hr@10 {metrics['hr_at_10']:.4f}", flush=True)
    return {"ranking_protocol": ranking.split, **metrics}


# -- two-tower retrieval ---------------------------------------------------------------------

MASKED = -1e9  # the logit of an accidental hit (the user's own item again in the batch)


@keras.saving.register_keras_serializable(package="zoo")
class InBatchLogits(keras.layers.Layer):
    """In-batch softmax logits of a two-tower batch, logQ-corrected with keras-rs.

    Inputs [item embeddings (b, d), user embeddings (b, d), item ids (b, 1)] -> (b, b)
    logits: user i against every item of the batch, divided by `temperature`; the columns
    that hold user i's own item again are masked (a popular item twice in a batch is no
    negative: `MASKED` logit), and `keras_rs.layers.SamplingProbabilityCorrection` subtracts
    log q(item), q = `item_probability[item id]` (the logQ correction: in-batch negatives are
    drawn by popularity, so without it the model learns to push popular items down). The
    probabilities are a constant of the layer, not a weight, so the training graph holds the
    same weights as the zoo model (its weights file loads into the zoo model).

    keras-rs 0.4.0's `RemoveAccidentalHits` is not used: it adds `duplicate *
    SMALLEST_FLOAT` with SMALLEST_FLOAT = 1.2e-40 (a tiny positive number where a large
    negative one is meant), so it leaves the logits unchanged (checked in
    tests/test_recommendation.py).

    Args:
        temperature: float > 0.
        item_probability: the sampling probability of each item id (a list, index = id).
    """

    def __init__(self, temperature=0.1, item_probability=None, **kwargs):
        super().__init__(**kwargs)
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0. Received: temperature={temperature!r}")
        if not item_probability:
            raise ValueError(
                "item_probability must list each item id's sampling probability. "
                f"Received: item_probability={item_probability!r}"
            )
        self.temperature = float(temperature)
        self.item_probability = [float(value) for value in item_probability]
        import keras_rs

        self.correction = keras_rs.layers.SamplingProbabilityCorrection()

    def call(self, inputs):
        items, users, item_ids = inputs
        logits = keras.ops.matmul(users, keras.ops.transpose(items)) / self.temperature
        batch = keras.ops.shape(logits)[0]
        ids = keras.ops.reshape(keras.ops.cast(item_ids, "int32"), (-1,))
        ids = keras.ops.clip(ids, 0, len(self.item_probability) - 1)
        same_item = keras.ops.equal(ids[:, None], ids[None, :])
        accidental = keras.ops.logical_and(
            same_item, keras.ops.logical_not(keras.ops.eye(batch, dtype="bool"))
        )
        logits = keras.ops.where(accidental, MASKED, logits)
        table = keras.ops.convert_to_tensor(np.asarray(self.item_probability, "float32"))
        q = keras.ops.reshape(keras.ops.take(table, ids), (1, -1))
        q = keras.ops.broadcast_to(keras.ops.cast(q, logits.dtype), keras.ops.shape(logits))
        return self.correction(logits, q)

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], input_shape[1][0])

    def get_config(self):
        return {
            **super().get_config(),
            "temperature": self.temperature,
            "item_probability": list(self.item_probability),
        }


@keras.saving.register_keras_serializable(package="zoo")
def in_batch_softmax_loss(y_true, y_pred):
    """Softmax cross-entropy of each user row of (b, b) logits against its own item (the
    diagonal); y_true is ignored."""
    del y_true
    y_pred = keras.ops.cast(y_pred, "float32")
    labels = keras.ops.arange(keras.ops.shape(y_pred)[0])
    return keras.ops.sparse_categorical_crossentropy(labels, y_pred, from_logits=True)


class ZooTwoTower(ZooRetriever):
    """Trains a two-tower recommender on (user, item) interactions with in-batch negatives.

    X is the dict of interaction rows ({"user_id", "user_features", "item_id",
    "item_features"}); each row's item is the positive of its user, the batch's other items
    the negatives (`InBatchLogits`: accidental hits removed, logQ-corrected by the items'
    frequencies in X, kept in `item_probability_`). `transform` returns the embeddings and
    "score"; `score(X)` is recall@1 of user -> item over the rows of X (the retriever's).
    """

    def _loss(self):
        return in_batch_softmax_loss

    def _trainer(self):
        outputs = self.model_.output
        query, key = self._embedding_names()
        logits = InBatchLogits(
            self._setting("temperature") or 0.1,
            item_probability=self.item_probability_.tolist(),
            name="in_batch_logits",
        )([outputs[key], outputs[query], self.model_.input["item_id"]])
        # Items first: Keras orders the layers of a graph from its outputs, and the zoo
        # model's dict outputs in key order ("item_embedding" first); with the same order
        # here the weights `train` saves from this graph load into the zoo model.
        return keras.Model(self.model_.input, logits, name=f"{self.model_.name}_trainer")

    def _datasets_from_arrays(self, X, y, validation_data, continuing, sample_weight=None):
        if sample_weight is not None:
            raise ValueError("ZooTwoTower.fit takes no sample_weight. Received: sample_weight")
        if not continuing:
            self.model_ = self._build_model(self._data_overrides(X))
        x = self._inputs(X)
        samples = len(x["item_id"])
        if samples < 2:
            raise ValueError(
                f"In-batch training needs at least 2 interactions. Received: {samples}"
            )
        if not continuing:
            ids = x["item_id"].reshape(-1).astype("int64")
            size = max(int(ids.max()) + 1, self.model_.get_layer("item_id_embedding").input_dim)
            counts = np.bincount(ids, minlength=size).astype("float64")
            self.item_probability_ = counts / counts.sum()
            if not self.pretrained:
                from pipelines.base import adapt_normalizers

                adapt_normalizers(self.model_, x, None)
        x, dummy, _, validation = self._split_validation(x, np.zeros(samples, "float32"), None)
        if validation_data is not None:
            x_val = self._inputs(validation_data, "validation_data")
            validation = (x_val, np.zeros(len(x_val["item_id"]), "float32"))
        batch_size = self._setting("batch_size")
        self._trainer_model = self._trainer()
        self._compile(self._trainer_model, steps_per_epoch=-(-len(dummy) // batch_size))
        train = data.make_dataset(x, dummy, batch_size=batch_size, shuffle=True, seed=self._seed)
        if validation is not None:
            validation = data.make_dataset(*validation, batch_size=max(batch_size, 256))
        return train, validation


# -- NeuMF: rated pairs and sampled unrated ones -------------------------------------------


@keras.saving.register_keras_serializable(package="zoo")
def rated_mean_squared_error(y_true, y_pred):
    """Mean squared error over the rows whose target is a rating (> 0); the sampled pairs
    the user did not rate carry the target 0 and add nothing."""
    y_true = keras.ops.cast(y_true, "float32")
    y_pred = keras.ops.cast(y_pred, "float32")
    rated = keras.ops.cast(y_true > 0, "float32")
    return keras.ops.sum(rated * (y_true - y_pred) ** 2) / keras.ops.maximum(
        keras.ops.sum(rated), 1.0
    )


class ZooNeuMF(ZooRegressor):
    """Trains a NeuMF recommender (a "rating" and a "score" output) on rated (user, item)
    pairs, like a regressor of the ratings; `predict` returns stars, `score` is R^2.

    Every epoch, each rated pair of X comes with `negatives` (recipe key, default 4) pairs
    of the same user and items drawn uniformly from the items of X (fresh draws each epoch,
    seeded by `random_state`). A drawn pair is labelled from the training ratings: an
    interaction (score target 1, its rating the rating target) when the user rated that
    item in X, else no interaction (score target 0, rating target 0, which
    `rated_mean_squared_error` leaves out). Loss: binary cross-entropy of "score" plus
    `rating_loss_weight` (recipe key, default 1) x the rated pairs' squared error. X is the
    dict {"user_id", "item_id", "user_features", "item_features"} of the rated pairs
    (`datasets.movielens.inputs`); ratings y must be > 0. The negatives are drawn here, so
    no validation split is held out (validation_split and validation_data are refused).

    Example:

        reg = ZooNeuMF("neumf-movielens", epochs=2, random_state=0)
        reg.fit(data.X_train, data.y_train).predict(data.X_test)       # stars
        reg.predict_interaction(data.X_test)                         # P(rated)
    """

    def _loss(self):
        return {
            RATING_OUTPUT: rated_mean_squared_error,
            SCORE_OUTPUT: keras.losses.BinaryCrossentropy(from_logits=True),
        }

    def _metrics(self):
        return None

    def _loss_weights(self):
        return {
            RATING_OUTPUT: float(self._entry().recipe.get("rating_loss_weight", 1.0)),
            SCORE_OUTPUT: 1.0,
        }

    def _datasets_from_arrays(self, X, y, validation_data, continuing, sample_weight=None):
        for what, value in (
            ("sample_weight", sample_weight),
            ("validation_data", validation_data),
        ):
            if value is not None:
                raise ValueError(
                    f"ZooNeuMF.fit takes no {what}: it samples unrated pairs itself. "
                    f"Received: {what}={type(value).__name__}"
                )
        if self.validation_split:
            raise ValueError(
                "ZooNeuMF holds out no validation split (its negatives are sampled each "
                f"epoch). Received: validation_split={self.validation_split!r}"
            )
        if not isinstance(X, dict):
            raise ValueError(
                "X must be a dict of the rated pairs' inputs {'user_id', 'item_id', "
                f"'user_features', 'item_features'}}. Received: {type(X).__name__}"
            )
        ratings = np.asarray(self._encode_targets(y, fitting=not continuing), "float32")
        if not continuing:
            self.model_ = self._build_model({})
        x = data.as_input_dict(X, self.model_)
        data.check_same_length({"X": x["user_id"], "y": ratings})
        if not np.all(np.isfinite(ratings)) or not np.all(ratings > 0):
            raise ValueError(
                "y must hold the pairs' ratings, all > 0 (0 marks an unrated pair). "
                f"Received: min {np.nanmin(ratings)!r}"
            )
        negatives = checks.check_int("negatives", self._entry().recipe.get("negatives", 4))
        per_batch = max(1, self._setting("batch_size") // (1 + negatives))
        if not continuing:
            if not self.pretrained:
                from pipelines.base import adapt_normalizers

                adapt_normalizers(self.model_, x, {RATING_OUTPUT: ratings})
            self._compile(self.model_, steps_per_epoch=-(-len(ratings) // per_batch))
        return _sampled_pairs(x, ratings, negatives, per_batch, self._seed), None

    def predict(self, X):
        """The predicted rating (stars) of each (user, item) pair of X, 1-D."""
        return np.asarray(self._predict_raw(X)[RATING_OUTPUT]).reshape(-1)

    def predict_interaction(self, X):
        """The probability that each user rates the item (sigmoid of "score"), 1-D."""
        logits = np.asarray(self._predict_raw(X)[SCORE_OUTPUT], "float64").reshape(-1)
        return 1.0 / (1.0 + np.exp(-logits))


def _sampled_pairs(x, ratings, negatives, per_batch, seed):
    """The training pipeline of `ZooNeuMF`: batches of `per_batch` rated pairs (reshuffled
    each epoch), each followed by `negatives` pairs of its user and drawn items, labelled
    from the training ratings (see `ZooNeuMF`)."""
    users = x["user_id"].reshape(-1).astype("int64")
    items = x["item_id"].reshape(-1).astype("int64")
    item_ids, first = np.unique(items, return_index=True)
    stride = int(item_ids.max()) + 1
    rated = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(users * stride + items, ratings), default_value=0.0
    )
    user_features = tf.constant(x["user_features"])
    pool_ids = tf.constant(item_ids)
    pool_features = tf.constant(x["item_features"][first])
    rows = tf.data.Dataset.range(len(ratings)).shuffle(
        len(ratings), seed=seed, reshuffle_each_iteration=True
    )
    draws = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)

    def pairs(index, draw):
        count = tf.shape(index)[0]
        drawn = tf.random.stateless_uniform(
            (count, negatives), seed=draw, maxval=len(item_ids), dtype="int64"
        )
        user = tf.repeat(tf.gather(users, index), 1 + negatives)
        positive = tf.gather(items, index)[:, None]
        item = tf.reshape(tf.concat([positive, tf.gather(pool_ids, drawn)], 1), (-1,))
        rating = rated.lookup(user * stride + item)
        item_rows = tf.searchsorted(pool_ids, item)
        inputs = {
            "item_features": tf.gather(pool_features, item_rows),
            "item_id": tf.cast(item[:, None], "int32"),
            "user_features": tf.gather(user_features, tf.repeat(index, 1 + negatives)),
            "user_id": tf.cast(user[:, None], "int32"),
        }
        targets = {
            RATING_OUTPUT: rating[:, None],
            SCORE_OUTPUT: tf.cast(rating > 0, "float32")[:, None],
        }
        return inputs, targets

    return data.fixed_prefetch(tf.data.Dataset.zip(rows.batch(per_batch), draws).map(pairs))


# -- top-k recommendations -------------------------------------------------------------------


def recommend(name, user, k=10, weights="pretrained"):
    """The `k` best items for `user` that the user has not rated, best first.

    A two-tower entry embeds the user and every item and retrieves the top items with
    `keras_rs.layers.BruteForceRetrieval` (exact dot-product top-k); a rating entry ranks
    every item by its "score" output (NeuMF's interaction logit) or, with one output, its
    predicted rating. Items the user rated anywhere in MovieLens-100k are
    left out.

    Returns a list of {"item_id", "title", "year", "score"}.

    Example:

        recommend("two-tower-movielens", user=196, k=10)[0]["title"]
    """
    if isinstance(user, bool) or not isinstance(user, (int, np.integer)):
        raise ValueError(
            f"user must be a MovieLens user id (an integer in 1..{movielens.NUM_USERS}). "
            f"Received: user={user!r}"
        )
    if not 1 <= user <= movielens.NUM_USERS:
        raise ValueError(
            f"Unknown user: MovieLens-100k has the user ids 1..{movielens.NUM_USERS}. "
            f"Received: user={user}"
        )
    tables = movielens.tables()
    seen = set(tables.item[tables.user == user].tolist())
    unseen = movielens.NUM_ITEMS - len(seen)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= unseen:
        raise ValueError(
            f"k must be an integer in 1..{unseen} (the items user {user} has not rated). "
            f"Received: k={k!r}"
        )
    model = zoo.get(name, weights=weights)
    items = np.arange(1, movielens.NUM_ITEMS + 1)
    x = model_inputs(model, np.full(len(items), user), items)
    entry = zoo.get_entry(name)
    if entry.embeddings:
        import keras_rs

        output = evaluation.predict_arrays(model, x, batch_size=4096)
        query, key = entry.embeddings
        retrieval = keras_rs.layers.BruteForceRetrieval(
            candidate_embeddings=output[key], candidate_ids=items, k=k + len(seen)
        )
        top_scores, top_ids = retrieval(output[query][:1])
        ranked = zip(
            keras.ops.convert_to_numpy(top_ids)[0].tolist(),
            keras.ops.convert_to_numpy(top_scores)[0].tolist(),
        )
    else:
        predicted = scores(model, x)
        order = np.argsort(-predicted, kind="stable")
        ranked = zip(items[order].tolist(), predicted[order].tolist())
    result = []
    for item, score in ranked:
        if item in seen:
            continue
        result.append(
            {
                "item_id": int(item),
                "title": tables.titles[item],
                "year": int(tables.years[item]) or None,
                "score": float(score),
            }
        )
        if len(result) == k:
            break
    return result

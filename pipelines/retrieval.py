"""`ZooRetriever`: a scikit-learn estimator over zoo dual encoders (cross-modal retrieval).

The model of such an entry (task "retrieval") takes one named input per modality and returns
a dict of L2-normalised embeddings; the entry declares the (query, key) output names in the
registry (`register(..., embeddings=("audio_embedding", "text_embedding"))`). Rows of X
are aligned pairs: fit needs no labels, it pulls each row's two embeddings together and
pushes the other rows' apart (symmetric in-batch InfoNCE over `SimilarityLogits`, CLIP style).
"""

import keras
import numpy as np
from sklearn.utils.validation import check_is_fitted

from pipelines import data
from pipelines.base import ZooEstimator
from zoo.layers.contrastive import SimilarityLogits, info_nce_loss

# The embedding outputs of "speech-text-retrieval" (its registry entry declares them), for
# `pipelines.evaluation`, which evaluates a bare model.
QUERY, KEY = "audio_embedding", "text_embedding"


def retrieval_metrics(query_embeddings, key_embeddings, groups=None):
    """Recall@1 and recall@5 of query -> key retrieval over aligned rows, with chance levels.

    Row i of the queries should retrieve row i of the keys by cosine similarity (the
    embeddings are expected L2-normalised; the dot product ranks). With `groups` (one id per
    row), retrieving any key of the same group counts as a hit (repeated texts).

    Returns {"recall_at_1", "recall_at_5", "chance_at_1", "chance_at_5", "pairs"}; chance is
    1/n and min(5, n)/n for n rows with distinct groups.

    Example:

        retrieval_metrics(np.eye(3), np.eye(3))["recall_at_1"]     # 1.0
    """
    queries = np.asarray(query_embeddings, "float64")
    keys = np.asarray(key_embeddings, "float64")
    if queries.ndim != 2 or queries.shape != keys.shape:
        raise ValueError(
            "query_embeddings and key_embeddings must be (n, dim) arrays of the same shape. "
            f"Received: {queries.shape} and {keys.shape}"
        )
    n = len(queries)
    if n == 0:
        raise ValueError("retrieval_metrics needs at least one pair. Received: 0 rows")
    groups = np.arange(n) if groups is None else np.asarray(groups).reshape(-1)
    if len(groups) != n:
        raise ValueError(f"groups must have one id per row ({n}). Received: {len(groups)}")
    similarity = queries @ keys.T
    ranking = np.argsort(-similarity, axis=1, kind="stable")
    hits = groups[ranking] == groups[:, None]
    return {
        "recall_at_1": float(hits[:, :1].any(axis=1).mean()),
        "recall_at_5": float(hits[:, :5].any(axis=1).mean()),
        "chance_at_1": 1.0 / n,
        "chance_at_5": min(5, n) / n,
        "pairs": int(n),
    }


class ZooRetriever(ZooEstimator):
    """Trains a zoo dual encoder (task "retrieval") contrastively, like a scikit-learn estimator.

    Args:
        model: the zoo name, e.g. "speech-text-retrieval".
        temperature: softmax temperature of the in-batch InfoNCE (default: the recipe's).
        The other arguments are those of `ZooEstimator` (`class_weight` does not apply).

    X is a dict of aligned rows {"audio": ..., "text": ...}. `fit(X)` needs no y (an optional
    y is ignored). `transform(X)` returns {"audio_embedding", "text_embedding"}, `predict(X)`
    the index of the text row each audio row retrieves among X's texts, and `score(X)`
    speech -> text recall@1 over the pairs of X (with y: rows of equal y count as a hit).

    Example:

        est = ZooRetriever("speech-text-retrieval", epochs=5, random_state=0).fit(data.X_train)
        est.score(data.X_test)       # recall@1; chance is 1 / len(data.X_test["text"])
    """

    _task = "retrieval"
    _requires_y = False

    def _embedding_names(self):
        """The (query, key) output names the entry declares (`register(embeddings=...)`)."""
        return self._entry().embeddings

    def __init__(
        self,
        model,
        *,
        temperature=None,
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
        self.temperature = temperature

    # -- task hooks ------------------------------------------------------------------------

    def _loss(self):
        return info_nce_loss

    def _metrics(self):
        return None

    def _inputs(self, X, what="X"):
        if not isinstance(X, dict):
            raise ValueError(
                f"{what} must be a dict of aligned rows {{input name: array}}, e.g. "
                f"{{'audio': ..., 'text': ...}}. Received: {type(X).__name__}"
            )
        return data.as_input_dict(X, self.model_)

    def _data_overrides(self, X):
        if not isinstance(X, dict):
            raise ValueError(
                "X must be a dict of aligned rows {input name: array}, e.g. "
                f"{{'audio': ..., 'text': ...}}. Received: {type(X).__name__}"
            )
        overrides = {}
        if "audio" in X and np.ndim(X["audio"]) == 2:
            overrides["audio_samples"] = int(np.shape(X["audio"])[1])
        if "text" in X and np.ndim(X["text"]) == 2:
            overrides["text_length"] = int(np.shape(X["text"])[1])
        return overrides

    def _trainer(self):
        """The training graph: the zoo model followed by the in-batch similarity logits."""
        outputs = self.model_.output
        temperature = self._setting("temperature") or 0.1
        logits = SimilarityLogits(temperature, name="similarity_logits")(
            [outputs[name] for name in self._embedding_names()]
        )
        return keras.Model(self.model_.input, logits, name=f"{self.model_.name}_trainer")

    # -- the estimator API -----------------------------------------------------------------

    def fit(self, X, y=None, validation_data=None, *, sample_weight=None):
        """Trains the dual encoder on the aligned rows of X (y is ignored).

        Args:
            X: dict {input name: array} of aligned pairs.
            y: ignored (accepted for scikit-learn compatibility).
            validation_data: a dict X_val of aligned pairs, evaluated after every epoch.
            sample_weight: not supported (the in-batch contrastive loss has no per-sample
                weights); must be None.

        Returns:
            self.
        """
        return super().fit(X, None, validation_data, sample_weight=sample_weight)

    def _datasets_from_arrays(self, X, y, validation_data, continuing, sample_weight=None):
        if sample_weight is not None:
            raise ValueError(
                "ZooRetriever.fit takes no sample_weight: the in-batch contrastive loss has "
                "no per-sample weights. Received: sample_weight"
            )
        if not continuing:
            self.model_ = self._build_model(self._data_overrides(X))
        x = self._inputs(X)
        samples = len(next(iter(x.values())))
        if samples < 2:
            raise ValueError(
                f"Contrastive training needs at least 2 aligned rows. Received: {samples}"
            )
        # The targets are dummies: the loss reads only the similarity logits.
        x, dummy, _, validation = self._split_validation(x, np.zeros(samples, "float32"), None)
        if validation_data is not None:
            x_val = self._inputs(validation_data, "validation_data")
            validation = (x_val, np.zeros(len(next(iter(x_val.values()))), "float32"))
        batch_size = self._setting("batch_size")
        self._trainer_model = self._trainer()
        self._compile(self._trainer_model, steps_per_epoch=-(-len(dummy) // batch_size))
        train = data.make_dataset(x, dummy, batch_size=batch_size, shuffle=True, seed=self._seed)
        if validation is not None:
            validation = data.make_dataset(*validation, batch_size=max(batch_size, 256))
        return train, validation

    def _datasets_from_tf_data(self, dataset, validation_data, continuing):
        raise ValueError(
            "ZooRetriever.fit takes a dict of aligned arrays {input name: array}. "
            "Received: a tf.data.Dataset."
        )

    def _training_model(self):
        return self.__dict__.pop("_trainer_model")

    def transform(self, X):
        """The embeddings of X: {"audio_embedding": (n, d), "text_embedding": (n, d)}."""
        check_is_fitted(self, "model_")
        output = self._predict_raw(self._inputs(X))
        return {name: np.asarray(value) for name, value in output.items()}

    def predict(self, X):
        """For each audio row, the index of the text row of X it retrieves (best cosine)."""
        query, key = (self.transform(X)[name] for name in self._embedding_names())
        return np.argmax(query @ key.T, axis=1)

    def score(self, X, y=None, sample_weight=None):
        """Speech -> text recall@1 over the aligned rows of X (rows of equal y: one text)."""
        if sample_weight is not None:
            raise ValueError("ZooRetriever.score takes no sample_weight. Received one.")
        query, key = (self.transform(X)[name] for name in self._embedding_names())
        return retrieval_metrics(query, key, y)["recall_at_1"]

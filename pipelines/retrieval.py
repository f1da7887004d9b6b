"""`ZooRetriever`: a scikit-learn estimator over zoo dual encoders (cross-modal retrieval).

The model of such an entry (task "retrieval") takes one named input per modality and returns
{"audio_embedding", "text_embedding"}, L2-normalised. Rows of X are aligned pairs: fit needs
no labels, it pulls each row's two embeddings together and pushes the other rows' apart
(symmetric in-batch InfoNCE over `SimilarityLogits`, CLIP style).
"""

import keras
import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.utils.validation import check_is_fitted

from pipelines import data
from pipelines.base import ZooEstimator
from zoo.layers.contrastive import SimilarityLogits, info_nce_loss

QUERY = "audio_embedding"
KEY = "text_embedding"


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
            **model_params,
        )
        self.temperature = temperature

    # -- task hooks ------------------------------------------------------------------------

    def _loss(self):
        return info_nce_loss

    def _metrics(self):
        return None

    def _check_entry(self):
        task = self._entry().task
        if task != "retrieval":
            raise ValueError(
                f"ZooRetriever trains entries of task 'retrieval'. Received: model={self.model!r} "
                f"of task {task!r}."
            )

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
            [outputs[QUERY], outputs[KEY]]
        )
        return keras.Model(self.model_.input, logits, name=f"{self.model_.name}_trainer")

    # -- the estimator API -----------------------------------------------------------------

    def fit(self, X, y=None, validation_data=None):
        """Trains the dual encoder on the aligned rows of X (y is ignored).

        Args:
            X: dict {input name: array} of aligned pairs.
            y: ignored (accepted for scikit-learn compatibility).
            validation_data: a dict X_val of aligned pairs, evaluated after every epoch.

        Returns:
            self.
        """
        del y
        self._check_entry()
        if self.random_state is not None:
            keras.utils.set_random_seed(self.random_state)
        continuing = self.warm_start and hasattr(self, "model_")
        if not continuing:
            self.model_ = self._build_model(self._data_overrides(X))
        x = self._inputs(X)
        samples = len(next(iter(x.values())))
        if samples < 2:
            raise ValueError(
                f"Contrastive training needs at least 2 aligned rows. Received: {samples}"
            )
        validation = None
        if self.validation_split:
            if not 0 < self.validation_split < 1:
                raise ValueError(
                    f"validation_split must be in (0, 1). Received: {self.validation_split!r}"
                )
            train_idx, val_idx = train_test_split(
                np.arange(samples), test_size=self.validation_split, random_state=self.random_state
            )
            validation = {name: array[val_idx] for name, array in x.items()}
            x = {name: array[train_idx] for name, array in x.items()}
        if validation_data is not None:
            validation = self._inputs(validation_data, "validation_data")
        batch_size = self._setting("batch_size")
        trainer = self._trainer()
        self._compile(trainer, steps_per_epoch=-(-len(next(iter(x.values()))) // batch_size))
        dummy = np.zeros(len(next(iter(x.values()))), "float32")
        train = data.make_dataset(x, dummy, batch_size=batch_size, shuffle=True, seed=self.random_state)
        if validation is not None:
            validation = data.make_dataset(
                validation,
                np.zeros(len(next(iter(validation.values()))), "float32"),
                batch_size=max(batch_size, 256),
            )
        return self._train(trainer, train, validation, continuing)

    def transform(self, X):
        """The embeddings of X: {"audio_embedding": (n, d), "text_embedding": (n, d)}."""
        check_is_fitted(self, "model_")
        output = self._predict_raw(self._inputs(X))
        return {name: np.asarray(value) for name, value in output.items()}

    def predict(self, X):
        """For each audio row, the index of the text row of X it retrieves (best cosine)."""
        embeddings = self.transform(X)
        return np.argmax(embeddings[QUERY] @ embeddings[KEY].T, axis=1)

    def score(self, X, y=None, sample_weight=None):
        """Speech -> text recall@1 over the aligned rows of X (rows of equal y: one text)."""
        if sample_weight is not None:
            raise ValueError("ZooRetriever.score takes no sample_weight. Received one.")
        embeddings = self.transform(X)
        return retrieval_metrics(embeddings[QUERY], embeddings[KEY], y)["recall_at_1"]

"""The exploration that chose the text entries' models (issue 8), on validation data only.

Splits the training split of `tweets_sentiment` or `spam_assassin` (the loader's token ids) by
a seeded permutation into 90% / 10%, fits TF-IDF + logistic regression (the loaders'
baseline, at the C their cross-validation picked) and candidate Keras models (balanced class
weights, Adam, batch 64) on the 90%, and prints validation loss, macro recall, accuracy and
(spam) F1 after every epoch. The test split is never read. Candidates: "bag" (token and
hashed-bigram embedding means), "cnn" (Conv1D widths 2-4, max over time), "hyb" (both, separate
embeddings), "hyb2" (both, one token embedding: the shipped design,
`zoo.models.text.ngram_cnn_text_classifier`), "hyb3" (hyb2 + a keras-hub TransformerEncoder
branch), "tfidf". Settings by environment: EPOCHS, SEQ (ids per text), DIM, BUCKETS, BDIM,
CW (0: no class weights), LR.

    python bench/text_model_selection.py tweets tfidf,cnn,hyb2
    SEQ=512 DIM=64 BUCKETS=8192 BDIM=16 EPOCHS=12 python bench/text_model_selection.py spam hyb2
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import keras
import keras_hub
import numpy as np
from keras import layers, ops
from sklearn import metrics
from sklearn.utils.class_weight import compute_class_weight

from datasets import text as dtext
from datasets.text import spam_texts, tweet_texts

which = sys.argv[1]
models = sys.argv[2].split(",")

data = (
    dtext.load_tweets_sentiment(int(os.environ.get("SEQ", 48)))
    if which == "tweets"
    else dtext.load_spam_assassin(int(os.environ.get("SEQ", 256)))
)
X, y = data.X_train, data.y_train
raw = (tweet_texts() if which == "tweets" else spam_texts())["train"][0]
rng = np.random.default_rng(0)
perm = rng.permutation(len(y))
nv = len(y) // 10
tr, va = perm[:-nv], perm[-nv:]


def score(p, yt):
    pred = p.argmax(-1)
    r = {
        "macro_recall": metrics.recall_score(yt, pred, average="macro"),
        "acc": metrics.accuracy_score(yt, pred),
    }
    if p.shape[1] == 2:
        r["f1"] = metrics.f1_score(yt, pred)
    return {k: round(float(v), 4) for k, v in r.items()}


if "tfidf" in models:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    for C in [1.0] if which == "tweets" else [256.0]:
        from sklearn.pipeline import make_pipeline

        pl = make_pipeline(
            TfidfVectorizer(
                ngram_range=(1, 2), min_df=2, sublinear_tf=True, strip_accents="unicode"
            ),
            LogisticRegression(max_iter=2000, class_weight="balanced", C=C),
        )
        pl.fit(list(raw[tr]), y[tr])
        print("tfidf", C, score(pl.predict_proba(list(raw[va])), y[va]), flush=True)
V = 8000
L = X.shape[1]
K = int(y.max() + 1)
BUCKETS = int(os.environ.get("BUCKETS", 2**15))
BDIM = int(os.environ.get("BDIM", 32))


class Bigrams(layers.Layer):
    def __init__(self, buckets, **kw):
        super().__init__(**kw)
        self.buckets = buckets

    def call(self, ids):
        a, b = ids[:, :-1], ids[:, 1:]
        h = (a * 8191 + b) % (self.buckets - 1) + 1
        return ops.where(ops.logical_and(a > 0, b > 0), h, ops.zeros_like(h))


class MeanPool(layers.Layer):
    def call(self, inputs):
        seq, ids = inputs
        m = ops.cast(ops.not_equal(ids, 0), seq.dtype)[..., None]
        return ops.sum(seq * m, 1) / ops.maximum(ops.sum(m, 1), 1.0)


DIM = int(os.environ.get("DIM", 64))


def build(kind, dim=DIM, drop=0.3):
    ids = keras.Input((L,), dtype="int32", name="token_ids")
    feats = []
    if kind.startswith("hyb3"):
        e = layers.Embedding(V, dim)(ids)
        feats.append(MeanPool()([e, ids]))
        x = keras_hub.layers.TokenAndPositionEmbedding(V, L, dim, mask_zero=True)(ids)
        x = keras_hub.layers.TransformerEncoder(128, 2, dropout=0.1)(x)
        feats.append(MeanPool()([x, ids]))
        bi = Bigrams(BUCKETS)(ids)
        eb = layers.Embedding(BUCKETS, BDIM)(bi)
        feats.append(MeanPool()([eb, bi]))
        for w in (2, 3, 4):
            c = layers.Conv1D(64, w, activation="relu", padding="same")(e)
            feats.append(layers.GlobalMaxPooling1D()(c))
    elif kind.startswith("hyb2"):
        e = layers.Embedding(V, dim)(ids)
        feats.append(MeanPool()([e, ids]))
        bi = Bigrams(BUCKETS)(ids)
        eb = layers.Embedding(BUCKETS, BDIM)(bi)
        feats.append(MeanPool()([eb, bi]))
        for w in (2, 3, 4):
            c = layers.Conv1D(64, w, activation="relu", padding="same")(e)
            feats.append(layers.GlobalMaxPooling1D()(c))
    elif kind.startswith("bag") or kind.startswith("hyb"):
        e = layers.Embedding(V, dim)(ids)
        feats.append(MeanPool()([e, ids]))
        bi = Bigrams(BUCKETS)(ids)
        eb = layers.Embedding(BUCKETS, dim)(bi)
        feats.append(MeanPool()([eb, bi]))
    if kind.startswith("cnn") or kind == "hyb":
        e = layers.Embedding(V, dim)(ids)
        for w in (2, 3, 4):
            c = layers.Conv1D(64, w, activation="relu", padding="same")(e)
            feats.append(layers.GlobalMaxPooling1D()(c))
    if kind.startswith("tf"):
        x = keras_hub.layers.TokenAndPositionEmbedding(V, L, dim, mask_zero=True)(ids)
        x = layers.Dropout(0.1)(x)
        x = keras_hub.layers.TransformerEncoder(128, 2, dropout=0.1)(x)
        feats.append(MeanPool()([x, ids]))
    x = layers.Concatenate()(feats) if len(feats) > 1 else feats[0]
    x = layers.Dropout(drop)(x)
    return keras.Model(ids, layers.Dense(K, activation="softmax")(x))


cw = (
    compute_class_weight("balanced", classes=np.arange(K), y=y[tr])
    if os.environ.get("CW", "1") == "1"
    else np.ones(K)
)
for kind in models:
    if kind == "tfidf":
        continue
    keras.utils.set_random_seed(0)
    m = build(kind)
    print(kind, "params", m.count_params(), flush=True)
    m.compile(
        keras.optimizers.Adam(float(os.environ.get("LR", "1e-3"))),
        "sparse_categorical_crossentropy",
    )
    t = time.time()
    best = None
    for ep in range(int(os.environ.get("EPOCHS", "6"))):
        m.fit(X[tr], y[tr], batch_size=64, epochs=1, verbose=0, sample_weight=cw[y[tr]])
        p = m.predict(X[va], verbose=0, batch_size=512)
        loss = metrics.log_loss(y[va], p, labels=np.arange(K))
        print(
            kind,
            ep + 1,
            round(time.time() - t, 1),
            "val_loss",
            round(loss, 4),
            score(p, y[va]),
            flush=True,
        )
        if K == 2:
            print(
                "   thresholds f1",
                [round(metrics.f1_score(y[va], p[:, 1] > th), 4) for th in (0.3, 0.5, 0.7, 0.9)],
                flush=True,
            )

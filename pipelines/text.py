"""Text machinery of the zoo: WordPiece vocabularies, tokenization, text metrics, baselines.

The text entries' models take token ids (input "token_ids", int32 (n, sequence_length)), so
they train and predict on TensorFlow, JAX and PyTorch; strings become ids here, with
TensorFlow ops (keras-hub's `WordPieceTokenizer` and `StartEndPacker`, which run
tensorflow-text kernels) inside `tf.data` on every backend, and inside the exported
SavedModel's graph.

Tokenization, the same in the Python path (`TextEncoder.ids`) and in the SavedModel
(`TextEncoder.graph`): NFD-normalise and strip accents ("é" -> "e"), lowercase, split on
whitespace and punctuation (each punctuation mark a token) and on CJK characters, greedy
longest-match WordPiece over the vocabulary ("##" marks a word-inner piece; a word with no
match is "[UNK]", id 1), then "[START]" (id 2) in front, cut to `sequence_length` ids (text
longer than the context is truncated: its first `sequence_length - 1` tokens are kept) and
padded with "[PAD]" (id 0). An empty string is "[START]" alone.

A vocabulary is computed on a training split only (`compute_vocabulary`, keras-hub's
`compute_word_piece_vocabulary`), written as a text file (one token a line) and shipped
beside the weights: the manifest row's `dataset.text_inputs` names it with its sha256
({"token_ids": {"tokenizer": "wordpiece", "vocabulary": FILE, "sha256": ..., "lowercase":
true}}), and `vocabulary_file` checks the hash before every use.

A SavedModel with this tokenization holds tensorflow-text ops: load it after
`import tensorflow_text` (tensorflow/serving#1490: TF Serving needs a build with those ops).
ONNX takes the ids (tensorflow-text ops do not convert to ONNX).

Example:

    vocabulary = compute_vocabulary(train_texts, size=8000)
    encoder = TextEncoder(vocabulary, sequence_length=64)
    encoder.ids(["Hello, World!", ""])   # int32 (2, 64): [[2, ..., 0], [2, 0, ...]]
"""

import pathlib

import numpy as np
import pandas as pd
import tensorflow as tf

PAD, UNK, START = "[PAD]", "[UNK]", "[START]"
RESERVED_TOKENS = [PAD, UNK, START]
START_ID = 2
TEXT_INPUT = "token_ids"
TOKENIZER = "wordpiece"
# Strings the export is verified on (besides the sample of the training data): mixed case,
# punctuation, non-ASCII letters, CJK, emoji, an empty string and text past the context.
CHECK_TEXTS = [
    "Hello, World! THIS is GREAT!!!",
    "",
    "Crème brûlée, naïve café — ¿qué tal? Ünïcödé ©2026",
    "東京 と 大阪 :) 🙂👍 #hashtag @user http://t.co/x1",
    "   ",
    "no!!! not, at all... (really?) 'quoted' \"double\" $100 50%",
    "the end " * 200,
    "I can't believe self-driving cars are here",
]


def check_texts(texts, what="X"):
    """Returns `texts` (a list, tuple, 1-D array or Series of str) as a 1-D object array.

    Raises TypeError for None or a non-string item (naming its index), ValueError for an
    empty collection or a 2-D array with more than one column.
    """
    if isinstance(texts, (str, bytes)):
        raise TypeError(
            f"{what} must be a list, array or Series of strings, not one string. "
            f"Received: {texts[:60]!r}"
        )
    if isinstance(texts, pd.DataFrame):
        if texts.shape[1] != 1:
            raise ValueError(
                f"{what} must be one column of strings. Received: a DataFrame with columns "
                f"{list(texts.columns)}"
            )
        texts = texts.iloc[:, 0]
    if isinstance(texts, pd.Series):
        texts = texts.to_numpy()
    array = np.asarray(texts, dtype=object)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise ValueError(
            f"{what} must be a 1-D collection of strings. Received shape {array.shape}."
        )
    if array.size == 0:
        raise ValueError(f"{what} is empty: expected at least one string.")
    for index, item in enumerate(array):
        if isinstance(item, bytes):
            array[index] = item.decode("utf-8", errors="replace")
        elif not isinstance(item, str):
            raise TypeError(
                f"{what} must hold strings only. Received {type(item).__name__} "
                f"{item!r} at index {index}."
            )
    return array


def is_text(X):
    """True when X is a collection of strings (not ids): what the text path tokenizes."""
    if isinstance(X, (pd.DataFrame, dict)) or isinstance(X, tf.data.Dataset):
        return False
    if isinstance(X, pd.Series):
        X = X.to_numpy()
    if isinstance(X, np.ndarray):
        return X.dtype.kind in "OUS" and X.ndim <= 2 and not np.issubdtype(X.dtype, np.number)
    if isinstance(X, (list, tuple)) and X:
        return any(isinstance(item, (str, bytes)) for item in X)
    return False


def compute_vocabulary(texts, size, lowercase=True):
    """The WordPiece vocabulary (a list of tokens, the reserved tokens first) of `texts`.

    Uses `keras_hub.tokenizers.compute_word_piece_vocabulary` with the normalisation of
    `TextEncoder` (lowercase, accents stripped, punctuation split).
    """
    import keras_hub

    texts = check_texts(texts, "texts")
    dataset = tf.data.Dataset.from_tensor_slices(texts.astype(str)).batch(1024)
    return list(
        keras_hub.tokenizers.compute_word_piece_vocabulary(
            dataset,
            vocabulary_size=int(size),
            lowercase=lowercase,
            strip_accents=True,
            reserved_tokens=RESERVED_TOKENS,
        )
    )


def write_vocabulary(path, vocabulary):
    """Writes `vocabulary` one token a line (atomically); returns its sha256."""
    from zoo.weights import sha256_of, write_text_atomic

    write_text_atomic(pathlib.Path(path), "\n".join(vocabulary) + "\n")
    return sha256_of(path)


def vocabulary_file(spec):
    """The checked path of the vocabulary a `text_inputs` spec names.

    A bare file name is looked up in the weights directory (shipped vocabularies), a path is
    taken as it is; either way its sha256 must be the spec's.
    """
    from zoo import weights

    name = pathlib.Path(spec["vocabulary"])
    path = name if name.is_absolute() else weights.weights_dir() / name
    if not path.is_file():
        raise weights.WeightsError(f"The vocabulary file {path} is missing.")
    weights.check_sha256(path, spec["sha256"])
    return path


def read_vocabulary(spec):
    """The vocabulary (list of tokens) that a `text_inputs` spec names, sha256-checked."""
    return vocabulary_file(spec).read_text(encoding="utf-8").split("\n")[:-1]


def is_wordpiece(spec):
    return isinstance(spec, dict) and spec.get("tokenizer") == TOKENIZER


class TextEncoder:
    """Raw strings -> token ids (n, sequence_length), in NumPy or inside a TF graph.

    Args:
        vocabulary: the WordPiece tokens (the reserved tokens "[PAD]", "[UNK]", "[START]"
            first), a list, or a `text_inputs` spec dict naming a vocabulary file.
        sequence_length: ids per text, "[START]" included; longer text is truncated.
        lowercase: lowercase before matching (the vocabulary must have been computed so).
    """

    def __init__(self, vocabulary, sequence_length, lowercase=True):
        if isinstance(vocabulary, dict):
            lowercase = vocabulary.get("lowercase", lowercase)
            vocabulary = read_vocabulary(vocabulary)
        vocabulary = list(vocabulary)
        if vocabulary[: len(RESERVED_TOKENS)] != RESERVED_TOKENS:
            raise ValueError(
                f"vocabulary must start with the reserved tokens {RESERVED_TOKENS}. "
                f"Received: {vocabulary[:3]}"
            )
        self.vocabulary = vocabulary
        self.sequence_length = int(sequence_length)
        self.lowercase = bool(lowercase)

    def _layers(self):
        import keras_hub

        tokenizer = keras_hub.tokenizers.WordPieceTokenizer(
            vocabulary=self.vocabulary,
            lowercase=self.lowercase,
            strip_accents=True,
            oov_token=UNK,
            dtype="int32",
        )
        packer = keras_hub.layers.StartEndPacker(
            sequence_length=self.sequence_length,
            start_value=START_ID,
            pad_value=0,
            return_padding_mask=False,
        )
        return tokenizer, packer

    def graph(self, texts):
        """tf.string (n,) -> int32 (n, sequence_length), with TensorFlow ops only."""
        tokenizer, packer = self._layers()
        ids = packer(tokenizer(texts))
        return tf.ensure_shape(tf.cast(ids, tf.int32), [None, self.sequence_length])

    def dataset(self, texts, batch_size=1024):
        """A tf.data.Dataset of id batches of `texts` (tokenized in `tf.data`)."""
        texts = check_texts(texts, "texts").astype(str)
        tokenizer, packer = self._layers()

        def encode(batch):
            return tf.cast(packer(tokenizer(batch)), tf.int32)

        return (
            tf.data.Dataset.from_tensor_slices(texts)
            .batch(batch_size)
            .map(encode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        )

    def ids(self, texts):
        """NumPy int32 ids (n, sequence_length) of `texts` (validated: strings only)."""
        batches = [batch.numpy() for batch in self.dataset(texts)]
        return np.concatenate(batches).astype("int32")


def text_input_spec(vocabulary_path, sha256):
    """The `text_inputs` value of a WordPiece input (see the module docstring)."""
    return {
        "tokenizer": TOKENIZER,
        "vocabulary": str(vocabulary_path),
        "sha256": sha256,
        "lowercase": True,
    }


def ship_vocabularies(name, text_inputs):
    """For a publish: {input: spec naming a shipped file}, {shipped file name: source path}.

    A vocabulary is shipped as `NAME.SHA12.vocab.txt` in the weights directory.
    """
    shipped, files = {}, {}
    for input_name, spec in (text_inputs or {}).items():
        if not is_wordpiece(spec):
            shipped[input_name] = spec
            continue
        source = vocabulary_file(spec)
        file_name = f"{name}.{spec['sha256'][:12].lower()}.vocab.txt"
        files[file_name] = source
        shipped[input_name] = {**spec, "vocabulary": file_name}
    return shipped, files


def shipped_encoder(name, sequence_length=None):
    """The `TextEncoder` of the shipped weights of `name` (its vocabulary, sha256-checked)."""
    import zoo

    row = zoo.weights.shipped_row(name)
    spec = (row.get("dataset") or {}).get("text_inputs", {}).get(TEXT_INPUT)
    if not is_wordpiece(spec):
        raise ValueError(f"{name!r} is not a text entry with a WordPiece vocabulary.")
    length = sequence_length or row["config"]["sequence_length"]
    return TextEncoder(spec, length)


# -- metrics and the classical baseline ---------------------------------------------------


def text_metrics(y_true, probabilities, class_names):
    """classification metrics, plus `macro_recall` and, for two classes, `f1_<class 1>`."""
    from sklearn import metrics

    from pipelines.evaluation import classification_metrics

    result = classification_metrics(y_true, probabilities)
    predicted = np.asarray(probabilities).argmax(axis=-1)
    result["macro_recall"] = float(metrics.recall_score(y_true, predicted, average="macro"))
    if len(class_names) == 2:
        result[f"f1_{class_names[1]}"] = float(metrics.f1_score(y_true, predicted))
    return result


def tfidf_baseline(train_texts, y_train, test_texts, y_test, class_names, seed=0):
    """TF-IDF (word 1-2 grams, sublinear tf) + logistic regression, scored on the test split.

    Returns the `text_metrics` keys prefixed "baseline_". C is chosen by 3-fold
    cross-validation on the training split only (macro recall), class weights balanced.
    """
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline

    pipeline = make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, strip_accents="unicode"),
        LogisticRegression(max_iter=2000, class_weight="balanced", random_state=seed),
    )
    search = GridSearchCV(
        pipeline,
        {"logisticregression__C": [0.25, 1.0, 4.0, 16.0, 64.0, 256.0]},
        scoring="recall_macro",
        cv=3,
    )
    search.fit(list(train_texts), y_train)
    probabilities = search.predict_proba(list(test_texts))
    scores = text_metrics(y_test, probabilities, class_names)
    result = {f"baseline_{key}": value for key, value in scores.items()}
    result["baseline_C"] = float(search.best_params_["logisticregression__C"])
    return result


# -- scikit-learn: ZooClassifier on raw strings ---------------------------------------------


def encode_for_estimator(estimator, X, reset):
    """X for a text entry's `ZooClassifier`: strings become token ids, ids pass through.

    At `fit` (reset) on strings the vocabulary is computed on the fitted texts
    (`vocabulary_`, the builder's `vocabulary_size` at most), or, with `pretrained=True`,
    is the shipped one; `predict` on strings reuses it. Fitting on ids forgets it.
    """
    if not is_text(X):
        if reset:
            estimator.vocabulary_ = None
        return X
    texts = check_texts(X, "X")
    entry = estimator._entry()
    overrides = estimator._model_overrides()
    if reset:
        if estimator.pretrained:
            row = __import__("zoo").weights.shipped_row(entry.name)
            spec = (row.get("dataset") or {}).get("text_inputs", {}).get(TEXT_INPUT)
            estimator.vocabulary_ = read_vocabulary(spec)
            length = row["config"]["sequence_length"]
        else:
            size = overrides.get("vocabulary_size", entry.defaults["vocabulary_size"])
            estimator.vocabulary_ = compute_vocabulary(texts, size)
            length = overrides.get("sequence_length", entry.defaults["sequence_length"])
        estimator.sequence_length_ = int(length)
    elif getattr(estimator, "vocabulary_", None) is None:
        raise ValueError(
            "X holds strings, but this estimator was fitted on token ids and has no "
            "vocabulary: fit it on strings, or pass token ids."
        )
    return TextEncoder(estimator.vocabulary_, estimator.sequence_length_).ids(texts)


def vocabulary_overrides(estimator):
    """The builder arguments a vocabulary computed at `fit` fixes."""
    overrides = estimator._model_overrides()
    if "vocabulary_size" in overrides:
        return {}
    return {"vocabulary_size": max(len(estimator.vocabulary_), 4)}


def read_text_file(path):
    """The texts of a file: a .csv's "text" column (else its only column), else one a line."""
    path = pathlib.Path(path)
    if path.suffix.lower() == ".csv":
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        if "text" in frame.columns:
            return frame["text"].tolist()
        if frame.shape[1] == 1:
            return frame.iloc[:, 0].tolist()
        raise ValueError(
            f"{path}: a CSV of texts needs a 'text' column (or one column only). "
            f"Received columns {list(frame.columns)}"
        )
    return path.read_text(encoding="utf-8").splitlines()


def text_batches(name, items, weights="pretrained"):
    """(label, token ids) batches for `python cli.py predict NAME ITEM ...` on a text entry.

    An ITEM naming an existing .txt or .csv file gives its texts (one a line / the "text"
    column), labelled by the file name; the other ITEMs are texts themselves, one batch
    labelled "text". The vocabulary is the shipped one (also for other `weights`, which must
    have been trained with it).
    """
    encoder = shipped_encoder(name)
    literal = []
    for item in items:
        if item.lower().endswith((".txt", ".csv")) and pathlib.Path(item).is_file():
            texts = read_text_file(item)
            if not texts:
                raise ValueError(f"{item} holds no text.")
            yield item, encoder.ids(texts)
        else:
            literal.append(item)
    if literal:
        yield "text", encoder.ids(literal)


# -- text augmentation (seed topic 6), on token ids, inside tf.data -------------------------


class TokenAugmenter:
    """Seeded EDA-style augmentation of token-id sequences, as a `tf.data` map function.

    Per sequence (the "[START]" token and the padding are never touched):
    - random deletion: each token is dropped with probability `deletion` (the rest move up,
      padding fills the end);
    - random swap: the token pairs (1, 2), (3, 4), ... after deletion are swapped, each with
      probability `swap`;
    - word dropout: each remaining token becomes "[UNK]" with probability `unknown`.

    `augment(dataset)` takes a dataset of (ids, label[, weight]) elements (unbatched) and
    returns it augmented; the draws come from `tf.data.Dataset.random(seed,
    rerandomize_each_iteration=True)`, so a run is reproducible and each epoch sees new
    draws. TensorFlow ops only: it runs in tf.data whatever the Keras backend.

    Example:

        train = tf.data.Dataset.from_tensor_slices((ids, labels)).shuffle(4096, seed=0)
        train = TokenAugmenter(seed=0, deletion=0.1, swap=0.1).augment(train).batch(64)
        ZooClassifier("sentiment-tweets").fit(train)
    """

    def __init__(self, seed=0, deletion=0.1, swap=0.1, unknown=0.0):
        for name, value in (("deletion", deletion), ("swap", swap), ("unknown", unknown)):
            if not isinstance(value, (int, float)) or not 0 <= value < 1:
                raise ValueError(f"{name} must be a probability in [0, 1). Received: {value!r}")
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise TypeError(f"seed must be an integer. Received: seed={seed!r}")
        self.seed, self.deletion, self.swap, self.unknown = seed, deletion, swap, unknown

    def __call__(self, ids, draw):
        """One sequence (L,) int32 and an int64 draw -> the augmented sequence (L,)."""
        ids = tf.convert_to_tensor(ids, tf.int32)
        length = tf.shape(ids)[0]
        seed = tf.stack([tf.cast(draw, tf.int64), tf.constant(self.seed, tf.int64)])
        seeds = tf.random.experimental.stateless_split(seed, 3)
        position = tf.range(length)
        real = (ids > 0) & (position > 0)
        keep = tf.random.stateless_uniform([length], seeds[0]) >= self.deletion
        kept = tf.boolean_mask(ids, ~real | keep)  # [START] and padding stay
        kept = tf.boolean_mask(kept, kept > 0)
        ids = tf.pad(kept, [[0, length - tf.shape(kept)[0]]])
        real = (ids > 0) & (position > 0)
        # Swap the pairs (1, 2), (3, 4), ... where both are real tokens.
        first = (position % 2 == 1) & (position + 1 < length)
        pair_flag = tf.random.stateless_uniform([length], seeds[1]) < self.swap
        partner_real = tf.concat([real[1:], [False]], 0)
        swap_here = first & pair_flag & real & partner_real
        swap_prev = tf.concat([[False], swap_here[:-1]], 0)
        source = tf.where(swap_here, position + 1, tf.where(swap_prev, position - 1, position))
        ids = tf.gather(ids, source)
        drop = real & (tf.random.stateless_uniform([length], seeds[2]) < self.unknown)
        return tf.where(drop, tf.ones_like(ids), ids)

    def augment(self, dataset):
        draws = tf.data.Dataset.random(seed=self.seed, rerandomize_each_iteration=True)

        def apply(element, draw):
            return (self(element[0], draw), *element[1:])

        return tf.data.Dataset.zip(dataset, draws).map(
            apply, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
        )


def dataset_metrics(model, dataset):
    """`text_metrics` of `model` on a text dataset's test split (`evaluation.DATASET_METRICS`)."""
    from pipelines.evaluation import predict_arrays

    output = predict_arrays(model, dataset.X_test)
    return text_metrics(dataset.y_test, output, dataset.class_names)

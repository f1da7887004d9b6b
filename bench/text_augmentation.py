"""Ablation of the seeded text augmentation (pipelines.text.TokenAugmenter) on sentiment-tweets.

Trains the sentiment-tweets model twice through `ZooClassifier.fit(tf.data.Dataset)`
(the same recipe, seed, epochs and shuffling), once on the plain token ids and once with
random deletion / adjacent swap / word dropout applied inside tf.data, and prints the test
split's macro recall and accuracy of each. Class weights are not applied in either arm (a
tf.data input to `fit` carries (x, y) pairs only), so the figures sit a little below the
shipped entry's, which trains on arrays with balanced class weights.

    python bench/text_augmentation.py [--epochs N] [--deletion 0.1] [--swap 0.1] [--unknown 0.05]
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf  # noqa: E402

import datasets  # noqa: E402
from pipelines import ZooClassifier, text  # noqa: E402

NAME = "sentiment-tweets"


def train_and_score(data, augmenter, epochs, seed):
    train = tf.data.Dataset.from_tensor_slices((data.X_train, data.y_train))
    train = train.shuffle(len(data.X_train), seed=seed, reshuffle_each_iteration=True)
    if augmenter is not None:
        train = augmenter.augment(train)
    clf = ZooClassifier(NAME, epochs=epochs, random_state=seed)
    start = time.perf_counter()
    clf.fit(train.batch(clf._setting("batch_size")))
    seconds = time.perf_counter() - start
    probabilities = clf.predict_proba(data.X_test)
    scores = text.text_metrics(data.y_test, probabilities, data.class_names)
    return {
        "macro_recall": round(scores["macro_recall"], 4),
        "accuracy": round(scores["accuracy"], 4),
        "train_seconds": round(seconds, 1),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--deletion", type=float, default=0.1)
    parser.add_argument("--swap", type=float, default=0.1)
    parser.add_argument("--unknown", type=float, default=0.05)
    args = parser.parse_args(argv)
    data = datasets.load("tweets_sentiment")
    augmenter = text.TokenAugmenter(args.seed, args.deletion, args.swap, args.unknown)
    results = {
        "plain": train_and_score(data, None, args.epochs, args.seed),
        "augmented": train_and_score(data, augmenter, args.epochs, args.seed),
        "settings": vars(args),
    }
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

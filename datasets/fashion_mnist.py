"""Fashion-MNIST from the Debian package `dataset-fashion-mnist` (MIT licence).

The official split: 60,000 training and 10,000 test images, 28x28 grayscale, 10 classes.
The files are read from `/usr/share/datasets/fashion-mnist` (or `$FASHION_MNIST_DIR`).
"""

import gzip
import os
import pathlib

import numpy as np

from datasets.base import Dataset, DatasetMissingError

DEFAULT_DIR = "/usr/share/datasets/fashion-mnist"
INSTALL = "sudo apt-get install dataset-fashion-mnist"
CLASS_NAMES = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]


def read_idx(path):
    """Reads a gzipped IDX file (the MNIST format) into a NumPy array."""
    with gzip.open(path, "rb") as file:
        data = file.read()
    magic = int.from_bytes(data[0:4], "big")
    dimensions = magic & 0xFF
    shape = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(dimensions)]
    offset = 4 + 4 * dimensions
    array = np.frombuffer(data, dtype=np.uint8, offset=offset)
    if array.size != int(np.prod(shape)):
        raise ValueError(f"{path} is truncated: expected {shape}, found {array.size} values.")
    return array.reshape(shape)


def load_fashion_mnist():
    """Loads Fashion-MNIST: raw pixels 0..255 as float32 (N, 28, 28), labels 0..9.

    Example:

        data = load_fashion_mnist()
        data.X_train.shape, data.class_names[9]     # (60000, 28, 28), 'Ankle boot'
    """
    directory = pathlib.Path(os.environ.get("FASHION_MNIST_DIR", DEFAULT_DIR))
    files = {
        part: directory / f"{part}-ubyte.gz"
        for part in (
            "train-images-idx3",
            "train-labels-idx1",
            "t10k-images-idx3",
            "t10k-labels-idx1",
        )
    }
    missing = [str(path) for path in files.values() if not path.exists()]
    if missing:
        raise DatasetMissingError(
            f"Fashion-MNIST is not installed (missing {', '.join(missing)}). "
            f"Install it with: {INSTALL}"
        )
    return Dataset(
        name="fashion_mnist",
        task="classification",
        X_train=read_idx(files["train-images-idx3"]).astype("float32"),
        y_train=read_idx(files["train-labels-idx1"]).astype("int64"),
        X_test=read_idx(files["t10k-images-idx3"]).astype("float32"),
        y_test=read_idx(files["t10k-labels-idx1"]).astype("int64"),
        split="official split: 60,000 train (train-*), 10,000 test (t10k-*)",
        class_names=list(CLASS_NAMES),
        provenance={
            "source": f"Zalando Fashion-MNIST, Debian package dataset-fashion-mnist ({directory})",
            "licence": "MIT",
            "install": INSTALL,
            "citation": "Xiao, Rasul & Vollgraf (2017), arXiv:1708.07747",
        },
    )


# Coarse groups of the ten Fashion-MNIST classes, for the multitask loader. Indexed by the
# fine label: tops = T-shirt/top, Pullover, Dress, Coat, Shirt; bottoms = Trouser;
# footwear = Sandal, Sneaker, Ankle boot; bags = Bag.
COARSE_NAMES = ["tops", "bottoms", "footwear", "bags"]
FINE_TO_COARSE = np.array([0, 1, 0, 0, 0, 2, 0, 2, 3, 2], dtype="int64")


def load_fashion_mnist_multitask():
    """Fashion-MNIST with two targets per image: the fine class and its coarse group.

    The images and the official split are those of `load_fashion_mnist`. `y_train` and
    `y_test` are dicts {"fine": labels 0..9, "coarse": labels 0..3}; the coarse label is a
    fixed function of the fine one (`FINE_TO_COARSE`), a grouping we chose, not part of the
    source: 0 tops (T-shirt/top, Pullover, Dress, Coat, Shirt), 1 bottoms (Trouser),
    2 footwear (Sandal, Sneaker, Ankle boot), 3 bags (Bag). `class_names` is a dict of the
    two name lists.

    Example:

        data = load_fashion_mnist_multitask()
        data.y_train["coarse"][:3], data.class_names["coarse"]   # [2, 0, 0], [..., 'bags']
    """
    single = load_fashion_mnist()
    return Dataset(
        name="fashion_mnist_multitask",
        task="multitask",
        X_train=single.X_train,
        y_train={"fine": single.y_train, "coarse": FINE_TO_COARSE[single.y_train]},
        X_test=single.X_test,
        y_test={"fine": single.y_test, "coarse": FINE_TO_COARSE[single.y_test]},
        split=single.split,
        class_names={"fine": list(CLASS_NAMES), "coarse": list(COARSE_NAMES)},
        provenance={
            **single.provenance,
            "coarse_groups": "tops = T-shirt/top, Pullover, Dress, Coat, Shirt; "
            "bottoms = Trouser; footwear = Sandal, Sneaker, Ankle boot; bags = Bag "
            "(our grouping, derived from the fine label)",
        },
    )


LABELLED_PER_CLASS = 60  # 600 labels: 1% of the training images
LABELLED_SEED = 0


def load_fashion_mnist_ssl():
    """Fashion-MNIST for self-supervised pre-training and few-label fine-tuning.

    The images and split of `load_fashion_mnist` (task "self_supervised"): pre-training
    reads the 60,000 training images and never their labels. `labelled_indices(data)`
    gives the 600 training images (60 a class, drawn with seed 0) whose labels the
    fine-tuning, the linear probe and the from-scratch baseline may use; y_train keeps
    every label only so that those 600 can be taken from it.

    Example:

        data = load_fashion_mnist_ssl()
        labelled = labelled_indices(data)      # 600 indices into X_train / y_train
    """
    single = load_fashion_mnist()
    return Dataset(
        name="fashion_mnist_ssl",
        task="self_supervised",
        X_train=single.X_train,
        y_train=single.y_train,
        X_test=single.X_test,
        y_test=single.y_test,
        split=single.split + "; 600 labelled training images (60 a class, seed 0)",
        class_names=list(CLASS_NAMES),
        provenance={
            **single.provenance,
            "labelled": f"{LABELLED_PER_CLASS} training images a class (labels), drawn with "
            f"seed {LABELLED_SEED} (datasets.fashion_mnist.labelled_indices)",
        },
    )


def labelled_indices(data):
    """The indices of the 600 labelled training images of `load_fashion_mnist_ssl()`."""
    from datasets.mnist_digits import labelled_draw

    return labelled_draw(data.y_train, LABELLED_PER_CLASS, LABELLED_SEED)

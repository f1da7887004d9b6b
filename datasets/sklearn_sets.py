"""The small datasets inside the scikit-learn wheel: digits, breast cancer, diabetes.

Each is split once with `train_test_split(test_size=0.2, random_state=42)`, stratified by
class for the classification sets, so the test split is the same on every machine.
"""

import numpy as np
import sklearn
from sklearn import datasets as sk_datasets
from sklearn.model_selection import train_test_split

from datasets.base import Dataset

TEST_SIZE = 0.2
SEED = 42


def _split(X, y, stratify):
    return train_test_split(
        X, y, test_size=TEST_SIZE, random_state=SEED, stratify=y if stratify else None
    )


def _provenance(loader, source, licence, citation):
    return {
        "source": f"scikit-learn {sklearn.__version__} `sklearn.datasets.{loader}()`: {source}",
        "licence": licence,
        "install": "pip install scikit-learn",
        "citation": citation,
    }


def _split_text(stratified):
    kind = "stratified " if stratified else ""
    return f"{kind}train_test_split(test_size={TEST_SIZE}, random_state={SEED})"


def load_digits():
    """The 1,797 8x8 handwritten digits (pixel values 0..16), 10 classes.

    Licence: the UCI "Optical Recognition of Handwritten Digits" data, CC BY 4.0.

    Example:

        data = load_digits()
        data.X_train.shape    # (1437, 8, 8)
    """
    bunch = sk_datasets.load_digits()
    X = bunch.images.astype("float32")
    X_train, X_test, y_train, y_test = _split(X, bunch.target, stratify=True)
    return Dataset(
        name="digits",
        task="classification",
        X_train=X_train,
        y_train=y_train,
        X_test=X_test,
        y_test=y_test,
        split=_split_text(True),
        class_names=[str(digit) for digit in range(10)],
        provenance=_provenance(
            "load_digits",
            "UCI Optical Recognition of Handwritten Digits, test part, 8x8 downsampled",
            "CC BY 4.0 (UCI Machine Learning Repository)",
            "Alpaydin & Kaynak (1998), UCI ML Repository",
        ),
    )


def load_breast_cancer():
    """The Wisconsin diagnostic breast cancer data: 569 samples, 30 raw features.

    Labels follow scikit-learn: 0 = malignant, 1 = benign. Licence: CC BY 4.0 (UCI).

    Example:

        data = load_breast_cancer()
        data.feature_names[:2]    # ['mean radius', 'mean texture']
    """
    bunch = sk_datasets.load_breast_cancer()
    X = bunch.data.astype("float32")
    X_train, X_test, y_train, y_test = _split(X, bunch.target, stratify=True)
    return Dataset(
        name="breast_cancer",
        task="classification",
        X_train=X_train,
        y_train=y_train,
        X_test=X_test,
        y_test=y_test,
        split=_split_text(True),
        feature_names=[str(name) for name in bunch.feature_names],
        class_names=[str(name) for name in bunch.target_names],
        provenance=_provenance(
            "load_breast_cancer",
            "UCI Breast Cancer Wisconsin (Diagnostic)",
            "CC BY 4.0 (UCI Machine Learning Repository)",
            "Street, Wolberg & Mangasarian (1993)",
        ),
    )


def load_diabetes():
    """The diabetes data: 442 patients, 10 features, disease progression after a year.

    The features are scikit-learn's mean-centred, scaled columns; the target is raw
    (25..346). Source: Efron et al. (2004), "Least Angle Regression".

    Example:

        data = load_diabetes()
        data.y_train.mean()     # about 150
    """
    bunch = sk_datasets.load_diabetes()
    X = bunch.data.astype("float32")
    y = bunch.target.astype("float32")
    X_train, X_test, y_train, y_test = _split(X, y, stratify=False)
    return Dataset(
        name="diabetes",
        task="regression",
        X_train=X_train,
        y_train=np.asarray(y_train),
        X_test=X_test,
        y_test=np.asarray(y_test),
        split=_split_text(False),
        feature_names=[str(name) for name in bunch.feature_names],
        provenance=_provenance(
            "load_diabetes",
            "Efron, Hastie, Johnstone & Tibshirani, Least Angle Regression data",
            "BSD-3-Clause (distributed with scikit-learn)",
            "Efron et al. (2004), Annals of Statistics 32(2)",
        ),
    )

"""The bundle every dataset loader returns."""

import contextlib
import dataclasses
import fcntl
import os
import pathlib
import tempfile

import numpy as np


def _samples(X):
    """Number of samples of an array, or of a dict of arrays (one per input)."""
    return len(next(iter(X.values()))) if isinstance(X, dict) else len(X)


def save_npz_atomic(path, arrays):
    """Writes `arrays` to the .npz `path` under a temporary name, then renames it into place.

    Example:

        save_npz_atomic(cache_dir / "av_mnist-v2.npz", {"images": images, "labels": labels})
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".npz")
    os.close(fd)
    try:
        np.savez(tmp, **arrays)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def cache_file(file_name):
    """Where a constructed or recorded dataset is cached: `$ZOO_HOME/datasets/FILE_NAME`
    (default `~/.cache/keras-zoo/datasets/FILE_NAME`)."""
    home = os.environ.get("ZOO_HOME")
    root = pathlib.Path(home).expanduser() if home else pathlib.Path("~/.cache/keras-zoo")
    return root.expanduser() / "datasets" / file_name


def read_npz(path):
    """The arrays of the cached .npz `path`, or None when it is missing or damaged (the
    caller then builds it anew)."""
    if not path.exists():
        return None
    try:
        with np.load(path) as file:
            return {key: file[key] for key in file.files}
    except (OSError, ValueError, KeyError):
        return None


_HELD = set()  # the build locks this process holds (a nested request for one is let through)


@contextlib.contextmanager
def build_lock(name):
    """An exclusive file lock (fcntl.flock on `$ZOO_HOME/datasets/.NAME.lock`) held while the
    cache `name` is read or built: processes that load a dataset at once (the backend tests,
    pytest-xdist workers, two CLI commands) build a cold cache once, the others then read it.
    """
    if name in _HELD:
        yield
        return
    path = cache_file(f".{name}.lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        _HELD.add(name)
        try:
            yield
        finally:
            _HELD.discard(name)
            fcntl.flock(handle, fcntl.LOCK_UN)


class DatasetMissingError(RuntimeError):
    """Raised when a dataset's source is not installed; the message says how to install it."""


@dataclasses.dataclass
class Dataset:
    """Train and test splits of one dataset, with what a user needs to know about it.

    Attributes:
        name: the `datasets.load` name.
        task: the task of the models trained on it ("classification", "regression",
            "multitask", ...), as in `zoo.registry.TASKS`.
        X_train, y_train, X_test, y_test: NumPy arrays (features raw, as the source has them).
        split: how the test split was made (fixed and seeded).
        feature_names: names of the feature columns (tabular data), else None.
        class_names: names of the classes, indexed by label (classification), else None.
        provenance: source, licence, install command and citation.
    """

    name: str
    task: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    split: str
    provenance: dict
    feature_names: list = None
    class_names: list = None

    def describe(self):
        """Returns the provenance and split as one dict (for model cards and manifests)."""
        return {
            "name": self.name,
            "split": self.split,
            "train_size": _samples(self.X_train),
            "test_size": _samples(self.X_test),
            **self.provenance,
        }

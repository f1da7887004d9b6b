"""Weights files: the shipped manifest, sha256 checks on every load, and the cache.

Shipped weights live next to this file in `weights/NAME.weights.h5`, each with a row in
`weights/manifest.json` (sha256, dataset and split, test metrics, versions, date and the
`python cli.py train ...` command that produced it). Weights given by URL are downloaded into
the cache directory, `$ZOO_HOME` or `~/.cache/keras-zoo`, and checked against their sha256
before use. Every file is written under a temporary name and renamed into place, so a reader
never sees half a file; a read-only cache still serves the files it holds.

Example:

    path = resolve("pretrained", name="cnn-digits")   # checked against the manifest
    path = resolve("https://example.org/w.weights.h5", sha256="3f5a...")
"""

import contextlib
import hashlib
import json
import os
import pathlib
import shutil
import tempfile
import urllib.parse
import urllib.request

SHIPPED_DIR = pathlib.Path(__file__).parent / "weights"
MANIFEST_PATH = SHIPPED_DIR / "manifest.json"


class WeightsError(ValueError):
    """Raised for a weights file that is missing, corrupted, or of another model."""


def cache_dir():
    """Returns the cache directory: `$ZOO_HOME`, else `~/.cache/keras-zoo`."""
    home = os.environ.get("ZOO_HOME")
    if home:
        return pathlib.Path(home).expanduser()
    return pathlib.Path("~/.cache/keras-zoo").expanduser()


def sha256_of(path):
    """Returns the hex sha256 of the file at `path`."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_sha256(path, expected):
    """Raises `WeightsError` naming the file and both hashes when they differ."""
    actual = sha256_of(path)
    if actual != expected.lower():
        raise WeightsError(
            f"The weights file {path} is corrupted or truncated: its sha256 is {actual}, "
            f"expected {expected}. Delete it (or reinstall the package) and try again."
        )


@contextlib.contextmanager
def atomic_path(path):
    """Yields a temporary path beside `path`, renamed to `path` when the block succeeds.

    Example:

        with atomic_path("out.weights.h5") as tmp:
            model.save_weights(tmp)
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Keep the suffix: Keras checks file names (".weights.h5", ".keras").
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.name)
    os.close(fd)
    os.unlink(tmp)
    try:
        yield pathlib.Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.isdir(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
        elif os.path.exists(tmp):
            os.unlink(tmp)


def read_manifest():
    """Returns the manifest of shipped weights: {name: row}."""
    if not MANIFEST_PATH.exists():
        return {}
    with open(MANIFEST_PATH) as file:
        return json.load(file)


def write_manifest_row(name, row):
    """Adds or replaces the manifest row of `name`, atomically."""
    manifest = read_manifest()
    manifest[name] = row
    with atomic_path(MANIFEST_PATH) as tmp:
        tmp.write_text(json.dumps(dict(sorted(manifest.items())), indent=2) + "\n")


def shipped_row(name):
    """Returns the manifest row of the shipped weights of `name`, or raises `WeightsError`."""
    row = read_manifest().get(name)
    if row is None:
        raise WeightsError(
            f"No pretrained weights are shipped for {name!r}. Train them with "
            f"`python cli.py train {name} --publish`, or pass weights=None."
        )
    return row


def download(url, sha256):
    """Returns a cached local copy of `url`, downloading it when the cache lacks it.

    The file is stored as `<cache>/downloads/<sha256>/<file name>` and checked against
    `sha256` whether it was already there or just downloaded.
    """
    if not sha256:
        raise WeightsError(f"Weights given by URL need their sha256. Received: url={url!r}")
    file_name = pathlib.PurePosixPath(urllib.parse.urlparse(url).path).name or "weights.h5"
    target = cache_dir() / "downloads" / sha256.lower() / file_name
    if target.exists():
        check_sha256(target, sha256)
        return target
    try:
        with atomic_path(target) as tmp:
            with urllib.request.urlopen(url) as response, open(tmp, "wb") as out:
                for block in iter(lambda: response.read(1 << 20), b""):
                    out.write(block)
            check_sha256(tmp, sha256)
    except PermissionError as error:
        raise WeightsError(
            f"Cannot write the weights cache {cache_dir()} ({error.strerror}) and it does "
            f"not hold {file_name} yet. Set $ZOO_HOME to a writable directory."
        ) from None
    except OSError as error:
        raise WeightsError(f"Could not download weights from {url}: {error}") from None
    return target


def resolve(weights, name=None, sha256=None):
    """Returns the local path of `weights`, checked against its sha256.

    Args:
        weights: "pretrained" (the shipped file of `name`), a local path, or a URL.
        name: the zoo name, needed for "pretrained".
        sha256: the expected hash of a local file or URL (required for a URL).
    """
    if weights == "pretrained":
        row = shipped_row(name)
        path = SHIPPED_DIR / row["file"]
        if not path.exists():
            raise WeightsError(f"The shipped weights file {path} of {name!r} is missing.")
        check_sha256(path, row["sha256"])
        return path
    text = os.fspath(weights)
    if urllib.parse.urlparse(text).scheme in ("http", "https", "file"):
        return download(text, sha256)
    path = pathlib.Path(text).expanduser()
    if not path.exists():
        raise WeightsError(f"No weights file at {path}.")
    if sha256:
        check_sha256(path, sha256)
    return path


def load_into(model, path):
    """Loads the weights file at `path` into `model`, with an error that names the file."""
    try:
        model.load_weights(path)
    except (OSError, ValueError, KeyError) as error:
        reason = str(error).split("\n")[0]
        raise WeightsError(
            f"Could not load {path} into {model.name!r}: the file is not a Keras weights "
            f"file or holds weights of another architecture ({reason})."
        ) from None

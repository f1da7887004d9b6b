"""Weights files: the shipped manifest, sha256 checks on every load, and the cache.

Shipped weights live next to this file in `weights/NAME.SHA12.weights.h5` (SHA12: the first
12 hex digits of the file's sha256), each with a row in `weights/manifest.json` (sha256,
dataset and split, test metrics, versions, date and the `python cli.py train ...` command that
produced it). `$ZOO_WEIGHTS_DIR`, when set, replaces that directory (tests publish into a
temporary one). Weights given by URL are downloaded into the cache directory, `$ZOO_HOME` or
`~/.cache/keras-zoo`, and checked against their sha256 before use.

Every file is written under a temporary name, flushed to disk (fsync) and renamed into place,
so a reader never sees half a file, even after a crash; a read-only cache still serves the
files it holds. Publishing (`publish`) is crash-safe and safe between processes: under a lock
on `weights/.manifest.lock` it writes the new weights file under its content-addressed name,
then renames the new manifest into place (the single commit point), then removes the file the
old row named. A kill at any moment leaves the old manifest with its old file, or the new
manifest with its new file; what a killed publish leaves behind (a temporary file, an
unreferenced weights file) is removed by the next publish.

Example:

    path = resolve("pretrained", name="cnn-digits")   # checked against the manifest
    path = resolve("https://example.org/w.weights.h5", sha256="3f5a...")
"""

import contextlib
import fcntl
import hashlib
import json
import os
import pathlib
import re
import shutil
import tempfile
import urllib.parse
import urllib.request

SHIPPED_DIR = pathlib.Path(__file__).parent / "weights"
MANIFEST_PATH = SHIPPED_DIR / "manifest.json"
ROW_KEYS = ("file", "sha256", "metrics", "config")  # what every manifest row must hold
_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
_SHIPPED_FILE = re.compile(r"(?P<name>.+)\.(?P<sha>[0-9a-f]{12})\.weights\.h5")
# Files shipped beside the weights and named in their row's "files" (text vocabularies).
_SHIPPED_EXTRA = re.compile(r"(?P<name>.+)\.(?P<sha>[0-9a-f]{12})\.vocab\.txt")
_TEMP_MARK = ".zootmp"  # temporary names: .NAME.zootmpPID.RANDOM.NAME


class WeightsError(ValueError):
    """Raised for a weights file that is missing, corrupted, or of another model."""


def weights_dir():
    """Returns the directory of the shipped weights: `$ZOO_WEIGHTS_DIR`, else `zoo/weights`."""
    directory = os.environ.get("ZOO_WEIGHTS_DIR")
    return pathlib.Path(directory).expanduser() if directory else SHIPPED_DIR


def manifest_path():
    """Returns the path of the manifest of the shipped weights (in `weights_dir()`)."""
    return weights_dir() / "manifest.json"


def shipped_file_name(name, sha256):
    """The content-addressed file name of shipped weights: `NAME.SHA12.weights.h5`."""
    return f"{name}.{sha256[:12].lower()}.weights.h5"


def cache_dir():
    """Returns the cache directory: `$ZOO_HOME`, else `~/.cache/keras-zoo`.

    Raises `WeightsError` when `$ZOO_HOME` is set but empty or names something that is not a
    directory.
    """
    home = os.environ.get("ZOO_HOME")
    if home is None:
        return pathlib.Path("~/.cache/keras-zoo").expanduser()
    if not home.strip():
        raise WeightsError(
            "$ZOO_HOME must name the weights cache directory. Received: an empty string "
            "(unset it to use ~/.cache/keras-zoo)."
        )
    path = pathlib.Path(home).expanduser()
    if path.exists() and not path.is_dir():
        raise WeightsError(
            f"$ZOO_HOME must name the weights cache directory. Received: {home!r}, which is a file."
        )
    return path


def check_sha256_argument(sha256):
    """Raises `WeightsError` unless `sha256` is 64 hex digits."""
    if not isinstance(sha256, str) or not _SHA256.fullmatch(sha256):
        raise WeightsError(f"sha256 must be 64 hexadecimal digits. Received: sha256={sha256!r}")


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


def _fsync_tree(path):
    """Flushes a file, or every file and directory under a directory, to disk."""
    paths = [path]
    if os.path.isdir(path):
        for root, directories, files in os.walk(path):
            paths += [os.path.join(root, name) for name in files + directories]
    for item in paths:
        if os.path.islink(item):
            continue
        fd = os.open(item, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _fsync_dir(directory):
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path):
    """Yields a temporary path beside `path`; when the block succeeds, what was written there
    (a file or a directory) is flushed to disk and renamed to `path`.

    The temporary name, `.NAME.zootmpPID.RANDOM.NAME`, carries the writer's process id, so
    that `remove_stale_temporaries` can tell a killed writer's leftovers from a live one's.

    Example:

        with atomic_path("out.weights.h5") as tmp:
            model.save_weights(tmp)
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Keep the suffix: Keras checks file names (".weights.h5", ".keras").
    fd, tmp = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}{_TEMP_MARK}{os.getpid()}.", suffix=path.name
    )
    os.close(fd)
    os.unlink(tmp)
    try:
        yield pathlib.Path(tmp)
        _fsync_tree(tmp)
        _replace(tmp, path)
        _fsync_dir(path.parent)
    finally:
        if os.path.isdir(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
        elif os.path.exists(tmp):
            os.unlink(tmp)


def _replace(source, target):
    """Renames `source` to `target` in one step, also when both are directories.

    `os.replace` cannot put a directory over a non-empty one, so a directory (a SavedModel
    version) replaces an existing one by Linux's atomic exchange (`renameat2` with
    `RENAME_EXCHANGE`): `target` holds the old tree or the new one at every moment, and the
    old tree, now at `source`, is removed by the caller. Where the exchange is not available
    (not Linux), the old directory is first renamed aside, which leaves a moment without
    `target`.
    """
    if os.path.isdir(source) and os.path.isdir(target) and not os.path.islink(target):
        if _exchange(source, target):
            return
        aside = tempfile.mkdtemp(dir=os.path.dirname(target) or ".", prefix=".replaced.")
        os.rmdir(aside)
        os.replace(target, aside)
        os.replace(source, target)
        shutil.rmtree(aside, ignore_errors=True)
        return
    os.replace(source, target)


def _exchange(first, second):
    """Atomically swaps two paths (Linux renameat2 RENAME_EXCHANGE); False if unsupported."""
    import ctypes

    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    result = renameat2(at_fdcwd, os.fsencode(first), at_fdcwd, os.fsencode(second), rename_exchange)
    if result == 0:
        return True
    errno = ctypes.get_errno()
    if errno in (22, 38, 95):  # EINVAL, ENOSYS, EOPNOTSUPP: the file system cannot exchange
        return False
    raise OSError(errno, os.strerror(errno), os.fspath(second))


def write_text_atomic(path, text):
    """Writes `text` to `path` through `atomic_path` (temporary name, fsync, rename)."""
    with atomic_path(path) as tmp:
        pathlib.Path(tmp).write_text(text)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's live process
    return True


def remove_stale_temporaries(directory):
    """Removes the temporary files of `atomic_path` in `directory` whose writer is dead.

    A live process's temporary file (its process id is running) is left alone; returns the
    removed paths.
    """
    removed = []
    directory = pathlib.Path(directory)
    if not directory.is_dir():
        return removed
    pattern = re.compile(r"\..*" + re.escape(_TEMP_MARK) + r"(?P<pid>\d+)\.")
    for item in directory.iterdir():
        match = pattern.match(item.name)
        if not match or _alive(int(match["pid"])):
            continue
        try:
            if item.is_dir() and not item.is_symlink():
                shutil.rmtree(item)
            else:
                item.unlink()
            removed.append(item)
        except FileNotFoundError:
            pass
    return removed


def read_manifest():
    """Returns the manifest of shipped weights: {name: row}.

    Raises `WeightsError` naming the file when it is not a JSON object of rows that each
    hold at least `ROW_KEYS`.
    """
    path = manifest_path()
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as error:
        raise WeightsError(f"Cannot read the weights manifest {path}: {error}") from None
    try:
        manifest = json.loads(text)
    except json.JSONDecodeError as error:
        what = "empty" if not text.strip() else f"not valid JSON ({error})"
        raise WeightsError(
            f"The weights manifest {path} is {what}: expected a JSON object "
            "{name: row}. Restore it (e.g. `git checkout zoo/weights/manifest.json`)."
        ) from None
    if not isinstance(manifest, dict):
        raise WeightsError(
            f"The weights manifest {path} must be a JSON object {{name: row}}. "
            f"Received: a JSON {type(manifest).__name__}."
        )
    for name, row in manifest.items():
        missing = [key for key in ROW_KEYS if not isinstance(row, dict) or key not in row]
        if missing:
            raise WeightsError(
                f"The weights manifest {path} has a row {name!r} without "
                f"{', '.join(missing)}: every row needs {', '.join(ROW_KEYS)}."
            )
    return manifest


@contextlib.contextmanager
def manifest_lock():
    """Holds an exclusive lock (fcntl.flock) on `.manifest.lock` beside the manifest."""
    directory = manifest_path().parent
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory / ".manifest.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock (a killed process's lock goes with it)


def _write_manifest(manifest):
    text = json.dumps(dict(sorted(manifest.items())), indent=2) + "\n"
    write_text_atomic(manifest_path(), text)


def remove_publish_leftovers():
    """Removes what killed publishes left in the weights directory; call under the lock.

    Dead writers' temporary files, and content-addressed weights files (`NAME.SHA12.weights.h5`)
    that no manifest row names. Returns the removed paths.
    """
    directory = weights_dir()
    removed = remove_stale_temporaries(directory)
    rows = read_manifest().values()
    referenced = {row["file"] for row in rows} | {f for row in rows for f in row.get("files", ())}
    for item in sorted(directory.iterdir()) if directory.is_dir() else []:
        shipped = _SHIPPED_FILE.fullmatch(item.name) or _SHIPPED_EXTRA.fullmatch(item.name)
        if shipped and item.name not in referenced:
            item.unlink(missing_ok=True)
            removed.append(item)
    return removed


def publish(name, source, make_row, extra_files=None):
    """Ships the weights file `source` as the pretrained weights of `name`; returns the row.

    Under the manifest lock: removes leftovers of killed publishes, copies `source` to
    `NAME.SHA12.weights.h5` (temporary name, fsync, rename), writes the manifest with the row
    `make_row(file_name, sha256)` (the commit point), then removes the file of the old row
    when no row names it any more. `extra_files` ({shipped name `NAME.SHA12.vocab.txt`:
    source path}, e.g. a text entry's vocabulary) are copied the same way before the commit
    and listed in the row's "files".
    """
    sha256 = sha256_of(source)
    file_name = shipped_file_name(name, sha256)
    directory = weights_dir()
    with manifest_lock():
        remove_publish_leftovers()
        manifest = read_manifest()
        old = manifest.get(name, {}).get("file")
        target = directory / file_name
        if not (target.exists() and sha256_of(target) == sha256):
            with atomic_path(target) as tmp:
                shutil.copyfile(source, tmp)
        for extra_name, extra_source in sorted((extra_files or {}).items()):
            extra_target = directory / extra_name
            if not (extra_target.exists() and sha256_of(extra_target) == sha256_of(extra_source)):
                with atomic_path(extra_target) as tmp:
                    shutil.copyfile(extra_source, tmp)
        row = make_row(file_name, sha256)
        if extra_files:
            row["files"] = sorted(extra_files)
        manifest[name] = row
        _write_manifest(manifest)
        if old and old != file_name and all(r["file"] != old for r in manifest.values()):
            (directory / old).unlink(missing_ok=True)
            _fsync_dir(directory)
    return row


def shipped_row(name):
    """Returns the manifest row of the shipped weights of `name`, or raises `WeightsError`."""
    row = read_manifest().get(name)
    if row is None:
        raise WeightsError(
            f"No pretrained weights are shipped for {name!r}. Train them with "
            f"`python cli.py train {name} --publish`, or pass weights=None."
        )
    return row


class _DownloadError(Exception):
    """The network side of `download` failed (as opposed to writing the cache)."""


def download(url, sha256):
    """Returns a cached local copy of `url`, downloading it when the cache lacks it.

    The file is stored as `<cache>/downloads/<sha256>/<file name>` and checked against
    `sha256` whether it was already there or just downloaded.
    """
    if not sha256:
        raise WeightsError(f"Weights given by URL need their sha256. Received: url={url!r}")
    check_sha256_argument(sha256)
    file_name = pathlib.PurePosixPath(urllib.parse.urlparse(url).path).name or "weights.h5"
    cache = cache_dir()
    target = cache / "downloads" / sha256.lower() / file_name
    if target.exists():
        check_sha256(target, sha256)
        return target
    try:
        with atomic_path(target) as tmp:
            try:
                response = urllib.request.urlopen(url)
            except OSError as error:
                raise _DownloadError(error) from None
            with response, open(tmp, "wb") as out:
                for block in iter(lambda: response.read(1 << 20), b""):
                    out.write(block)
            check_sha256(tmp, sha256)
    except _DownloadError as error:
        raise WeightsError(f"Could not download weights from {url}: {error.args[0]}") from None
    except OSError as error:
        reason = error.strerror or str(error)
        raise WeightsError(
            f"Cannot write the weights cache {cache} ({reason}) and it does "
            f"not hold {file_name} yet. Set $ZOO_HOME to a writable directory."
        ) from None
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
        path = weights_dir() / row["file"]
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
        check_sha256_argument(sha256)
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

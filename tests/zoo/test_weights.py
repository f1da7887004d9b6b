"""Weights files: sha256 on every load, cache, atomic writes, clear errors."""

import os
import pathlib
import shutil

import numpy as np
import pytest

import zoo
from zoo import weights


@pytest.fixture
def shipped_digits(tmp_path):
    """A copy of the shipped cnn-digits weights and their sha256."""
    row = weights.read_manifest()["cnn-digits"]
    copy = tmp_path / "digits.weights.h5"
    shutil.copyfile(weights.SHIPPED_DIR / row["file"], copy)
    return copy, row["sha256"]


def test_pretrained_weights_are_checked_and_loaded():
    model = zoo.get("cnn-digits")
    fresh = zoo.get("cnn-digits", weights=None)
    assert not np.allclose(model.get_layer("dense").kernel, fresh.get_layer("dense").kernel)


def test_local_path_with_and_without_sha256(shipped_digits):
    path, sha = shipped_digits
    a = zoo.get("cnn-digits", weights=str(path))
    b = zoo.get("cnn-digits", weights=path, sha256=sha)
    np.testing.assert_array_equal(a.get_layer("dense").kernel, b.get_layer("dense").kernel)


def test_sha256_mismatch_names_the_file_and_both_hashes(shipped_digits):
    path, sha = shipped_digits
    wrong = "0" * 64
    with pytest.raises(zoo.WeightsError) as error:
        zoo.get("cnn-digits", weights=path, sha256=wrong)
    assert str(path) in str(error.value) and sha in str(error.value) and wrong in str(error.value)


def test_tampered_shipped_file_is_refused(monkeypatch, tmp_path, shipped_digits):
    path, _ = shipped_digits
    row = weights.read_manifest()["cnn-digits"]
    with open(path, "r+b") as file:
        file.seek(4000)
        file.write(b"\x00garbage\x00")
    monkeypatch.setattr(weights, "SHIPPED_DIR", tmp_path)
    monkeypatch.setattr(
        weights, "read_manifest", lambda: {"cnn-digits": {**row, "file": path.name}}
    )
    with pytest.raises(zoo.WeightsError, match="corrupted or truncated"):
        zoo.get("cnn-digits")


def test_truncated_file_without_sha256_is_a_clear_error(shipped_digits):
    path, _ = shipped_digits
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(zoo.WeightsError, match="not a Keras weights file"):
        zoo.get("cnn-digits", weights=path)


def test_weights_of_another_architecture_are_a_clear_error():
    other = weights.SHIPPED_DIR / weights.read_manifest()["mlp-breast-cancer"]["file"]
    with pytest.raises(zoo.WeightsError, match="another architecture"):
        zoo.get("cnn-digits", weights=other)


def test_missing_local_file():
    with pytest.raises(zoo.WeightsError, match="No weights file"):
        zoo.get("cnn-digits", weights="/nonexistent/x.weights.h5")


def test_url_needs_sha256():
    with pytest.raises(zoo.WeightsError, match="need their sha256"):
        zoo.get("cnn-digits", weights="https://example.invalid/w.weights.h5")


def test_url_is_downloaded_once_into_the_cache(monkeypatch, tmp_path, shipped_digits):
    path, sha = shipped_digits
    monkeypatch.setenv("ZOO_HOME", str(tmp_path / "cache"))
    url = path.as_uri()
    zoo.get("cnn-digits", weights=url, sha256=sha)
    cached = tmp_path / "cache" / "downloads" / sha / path.name
    assert cached.exists()
    path.unlink()  # the source is gone: the cache serves the file now
    zoo.get("cnn-digits", weights=url, sha256=sha)
    leftovers = [p for p in cached.parent.iterdir() if p.name.startswith(".")]
    assert leftovers == []


def _refuse_writes(*args, **kwargs):
    raise PermissionError(13, "Permission denied")


def test_read_only_cache_still_serves_what_it_holds(monkeypatch, tmp_path, shipped_digits):
    path, sha = shipped_digits
    monkeypatch.setenv("ZOO_HOME", str(tmp_path / "cache"))
    zoo.get("cnn-digits", weights=path.as_uri(), sha256=sha)
    monkeypatch.setattr(weights, "atomic_path", _refuse_writes)  # a read-only cache
    zoo.get("cnn-digits", weights=path.as_uri(), sha256=sha)


def test_read_only_cache_without_the_file_says_how_to_fix_it(monkeypatch, tmp_path, shipped_digits):
    path, sha = shipped_digits
    monkeypatch.setenv("ZOO_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(weights, "atomic_path", _refuse_writes)
    with pytest.raises(zoo.WeightsError, match=r"Cannot write the weights cache.*\$ZOO_HOME"):
        zoo.get("cnn-digits", weights=path.as_uri(), sha256=sha)


def test_url_with_wrong_sha256_leaves_nothing_in_the_cache(monkeypatch, tmp_path, shipped_digits):
    path, _ = shipped_digits
    monkeypatch.setenv("ZOO_HOME", str(tmp_path / "cache"))
    with pytest.raises(zoo.WeightsError, match="corrupted or truncated"):
        zoo.get("cnn-digits", weights=path.as_uri(), sha256="1" * 64)
    assert not any(p.is_file() for p in (tmp_path / "cache").rglob("*"))


def test_atomic_path_leaves_no_file_when_the_block_fails(tmp_path):
    target = tmp_path / "out.weights.h5"
    with pytest.raises(RuntimeError):
        with weights.atomic_path(target) as tmp:
            pathlib.Path(tmp).write_text("half")
            raise RuntimeError("interrupted")
    assert os.listdir(tmp_path) == []

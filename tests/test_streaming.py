"""Data larger than memory: shard directories (pipelines.shards, `cli.py prepare`, `train
--data`) and image folders (pipelines.data.image_folder), streamed into the estimators."""

import json
import os
import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest
from sklearn.model_selection import train_test_split

from pipelines import ZooClassifier, ZooRegressor, base, data, shards
from zoo.weights import sha256_of

ROOT = pathlib.Path(__file__).resolve().parents[1]


def read_split(directory, split):
    """All (x, y) of a split, in stored order (unshuffled)."""
    xs, ys = zip(*shards.open_shards(directory).dataset(split).as_numpy_iterator())
    return np.concatenate(xs), np.concatenate(ys)


@pytest.fixture(scope="module")
def breast_shards(tmp_path_factory):
    """breast_cancer as 3 train shards with the default 10% validation split."""
    directory = tmp_path_factory.mktemp("shards") / "breast_cancer"
    shards.prepare("breast_cancer", out=directory, num_shards=3)
    return directory


def test_prepare_writes_a_verified_manifest_and_the_train_run_validation_split(
    breast_shards, breast_cancer
):
    manifest = json.loads((breast_shards / "manifest.json").read_text())
    assert manifest["format"] == "keras-zoo-shards"
    assert manifest["inputs"] == {
        "x": {"shape": [30], "dtype": "float32", "stored_dtype": "float32"}
    }
    assert manifest["classes"] == [0, 1] and manifest["validation"]["seed"] == 0
    files = {shard["file"] for entry in manifest["splits"].values() for shard in entry["shards"]}
    assert {p.name for p in breast_shards.iterdir()} == files | {"manifest.json"}
    assert len(manifest["splits"]["train"]["shards"]) == 3
    for entry in manifest["splits"].values():
        for shard in entry["shards"]:
            assert sha256_of(breast_shards / shard["file"]) == shard["sha256"]
    # The validation split is the one train_run holds out of the same arrays (seed 0).
    X, y = breast_cancer.X_train, breast_cancer.y_train
    train_index, validation_index = train_test_split(
        np.arange(len(y)), test_size=0.1, random_state=0, stratify=y
    )
    for split, index in (("train", train_index), ("validation", validation_index)):
        x_read, y_read = read_split(breast_shards, split)
        np.testing.assert_array_equal(x_read, X[index].astype("float32"))
        np.testing.assert_array_equal(y_read, y[index])
        assert manifest["splits"][split]["label_counts"] == np.bincount(y[index]).tolist()
    x_test, y_test = read_split(breast_shards, "test")
    np.testing.assert_array_equal(x_test, breast_cancer.X_test.astype("float32"))
    np.testing.assert_array_equal(y_test, breast_cancer.y_test)


def test_prepare_again_is_a_verified_no_op_and_other_settings_are_refused(breast_shards):
    before = {p.name: p.stat().st_mtime_ns for p in breast_shards.iterdir()}
    again = shards.prepare("breast_cancer", out=breast_shards, num_shards=3)
    assert again["created"] is False
    assert {p.name: p.stat().st_mtime_ns for p in breast_shards.iterdir()} == before
    with pytest.raises(shards.ShardError, match=r"other settings.*'seed': 0.*'seed': 5"):
        shards.prepare("breast_cancer", out=breast_shards, seed=5)


def test_prepare_refuses_unknown_names_and_bad_settings(tmp_path, load_dataset):
    with pytest.raises(ValueError, match=r"Received: 'fashion_mnst'. Did you mean: fashion_mnist"):
        shards.prepare("fashion_mnst", out=tmp_path / "x")
    with pytest.raises(ValueError, match=r"validation_split must be 0 or in \(0, 1\)"):
        shards.prepare("digits", out=tmp_path / "x", validation_split=1.5)
    with pytest.raises(ValueError, match="repeat must be a positive integer"):
        shards.prepare("digits", out=tmp_path / "x", repeat=0)
    load_dataset("fashion_mnist_multitask")  # installed (the fixture names the package)
    with pytest.raises(ValueError, match=r"prepare writes datasets of one target per sample"):
        shards.prepare("multitask-fashion", out=tmp_path / "x")
    assert list(tmp_path.iterdir()) == []


def test_a_failed_prepare_leaves_nothing_behind(tmp_path, monkeypatch):
    def fail(directory, split, *args):
        if split == "validation":
            raise OSError("disk full")
        return original(directory, split, *args)

    original = shards._write_split
    monkeypatch.setattr(shards, "_write_split", fail)
    with pytest.raises(OSError, match="disk full"):
        shards.prepare("breast_cancer", out=tmp_path / "bc")
    assert list(tmp_path.iterdir()) == []  # neither the directory nor its temporary name


def test_missing_truncated_or_corrupt_shards_are_errors_naming_the_file(tmp_path, breast_cancer):
    directory = tmp_path / "bc"
    shards.prepare("breast_cancer", out=directory, num_shards=2)
    manifest = json.loads((directory / "manifest.json").read_text())
    first, second = (directory / s["file"] for s in manifest["splits"]["train"]["shards"])
    payload = bytearray(second.read_bytes())
    payload[len(payload) // 2] ^= 0xFF  # same size, one byte flipped
    second.write_bytes(bytes(payload))
    with pytest.raises(shards.ShardError, match=rf"shard file {second} is corrupt: its sha256"):
        shards.open_shards(directory)
    with pytest.raises(shards.ShardError, match=rf"{second} is corrupt"):
        ZooClassifier("mlp-breast-cancer", epochs=1).fit(str(directory))
    second.write_bytes(bytes(payload[:-10]))
    with pytest.raises(shards.ShardError, match=rf"{second} is truncated or changed"):
        shards.open_shards(directory, verify="size")
    first.unlink()
    with pytest.raises(shards.ShardError, match=rf"shard file {first} \(train split\) is missing"):
        shards.open_shards(directory)
    # prepare repairs a damaged shard set (atomically replaced) ...
    assert shards.prepare("breast_cancer", out=directory, num_shards=2)["created"] is True
    shards.open_shards(directory)
    # ... and a manifest that lies about its counts is refused.
    manifest["splits"]["test"]["count"] += 1
    (directory / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(shards.ShardError, match="the test split counts"):
        shards.open_shards(directory)


def test_fit_from_shards_is_fit_from_the_same_arrays(tmp_path, breast_cancer, monkeypatch):
    """One shard and a shuffle buffer as large as the data: the orders are the same, so the
    models are (float rounding of the streamed Normalization adapt aside)."""
    directory = tmp_path / "bc"
    shards.prepare("breast_cancer", out=directory, num_shards=1, validation_split=0)
    X, y = breast_cancer.X_train, breast_cancer.y_train

    def no_pass(*args):
        raise AssertionError("fit made a pass over the data to find the labels")

    monkeypatch.setattr(base, "read_dataset_targets", no_pass)
    params = dict(epochs=3, batch_size=32, random_state=0)
    streamed = ZooClassifier("mlp-breast-cancer", **params).fit(str(directory))
    in_memory = ZooClassifier("mlp-breast-cancer", **params).fit(X, y)
    np.testing.assert_array_equal(streamed.classes_, in_memory.classes_)
    np.testing.assert_allclose(streamed.history_["loss"], in_memory.history_["loss"], rtol=1e-5)
    np.testing.assert_allclose(
        streamed.predict_proba(breast_cancer.X_test),
        in_memory.predict_proba(breast_cancer.X_test),
        atol=1e-5,
    )


def test_fit_from_several_shards_is_seeded_and_validates_on_the_written_split(breast_shards):
    """Shard order and a bounded buffer change the order, not the reproducibility."""
    source = shards.open_shards(breast_shards, shuffle_buffer=50)
    fits = [
        ZooClassifier(
            "mlp-breast-cancer", epochs=2, validation_split=0.1, random_state=3, **extra
        ).fit(source)
        for extra in ({}, {}, {"class_weight": "balanced"})
    ]
    assert fits[0].history_ == fits[1].history_
    assert fits[0].history_["loss"] != fits[2].history_["loss"]  # weights applied
    assert set(fits[0].history_) >= {"val_loss", "val_accuracy"}
    with pytest.raises(ValueError, match=r"validation_split=0.2 differs.*written with \(0.1\)"):
        ZooClassifier("mlp-breast-cancer", epochs=1, validation_split=0.2).fit(source)
    with pytest.raises(
        ValueError,
        match=r"hold samples of shape \(30,\) for the model's input 'image', which takes "
        r"\(n, 28, 28\)",
    ):
        ZooClassifier("cnn-fashion-mnist", epochs=1).fit(source)
    with pytest.raises(ValueError, match="ZooRegressor needs real-valued targets"):
        ZooRegressor("mlp-diabetes", epochs=1).fit(source)
    with pytest.raises(ValueError, match="y must be None: the labels come from it"):
        ZooClassifier("mlp-breast-cancer", epochs=1).fit(str(breast_shards), [0, 1])
    with pytest.raises(ValueError, match="predict on one of them"):
        fits[0].predict(str(breast_shards))
    probabilities = fits[0].predict_proba(source.dataset("test"))
    assert probabilities.shape == (source.count("test"), 2)


def cli(*args, env=None):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run(
        [sys.executable, str(ROOT / "cli.py"), *map(str, args)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_cli_prepare_into_the_cache_and_train_from_the_shards(tmp_path):
    env = {"ZOO_HOME": str(tmp_path / "home")}
    first = cli("prepare", "cnn-digits", "--shards", 2, env=env)
    assert first.returncode == 0, first.stderr[-2000:]
    directory = tmp_path / "home" / "shards" / "digits"
    assert f"shards: {directory} (written)" in first.stdout
    assert "train: 1,293 samples in 2 shards" in first.stdout
    assert "validation: 144 samples" in first.stdout and "test: 360 samples" in first.stdout
    again = cli("prepare", "digits", "--shards", 2, env=env)
    assert "already there, verified (sha256), unchanged" in again.stdout
    run = cli(
        "train", "cnn-digits", "--data", directory, "--epochs", 1, "--out", tmp_path / "runs",
        "--quiet", env=env,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    (run_dir,) = (tmp_path / "runs").iterdir()
    config = json.loads((run_dir / "config.json").read_text())
    assert config["data_dir"] == str(directory) and f"--data {directory}" in config["command"]
    assert config["dataset"]["shards"] == str(directory)
    assert config["dataset"]["validation"]["fraction"] == 0.1
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert set(metrics["best"]) == {"accuracy", "f1_macro", "log_loss"}  # on the test shards
    assert 0 <= metrics["best"]["accuracy"] <= 1
    assert len((run_dir / "history.csv").read_text().splitlines()) == 2
    bad = cli("train", "cnn-digits", "--data", tmp_path, "--epochs", 1, env=env)
    assert bad.returncode == 2
    message = bad.stderr.strip().splitlines()[-1]  # one line, no traceback
    assert message.startswith("error: data_dir (--data) must be a shard directory")
    assert message.endswith(f"Received: {str(tmp_path)!r}, which has no manifest.json.")


@pytest.fixture(scope="module")
def fashion_folder(tmp_path_factory, load_dataset):
    """Real Fashion-MNIST test images as PNGs: DIR/CLASS_NAME/NNNN.png, 24 per class."""
    fashion = load_dataset("fashion_mnist")
    directory = tmp_path_factory.mktemp("images") / "fashion"
    names = {9: "ankle_boot", 8: "bag", 1: "trouser"}
    images, labels = [], []
    for label, name in names.items():
        (directory / name).mkdir(parents=True)
        for number, index in enumerate(np.flatnonzero(fashion.y_test == label)[:24]):
            image = fashion.X_test[index]
            keras.utils.save_img(
                directory / name / f"{number:04d}.png", image[..., None], scale=False
            )
            images.append(image)
            labels.append(name)
    order = np.argsort(labels, kind="stable")  # folders sorted by name, files by number
    return directory, np.stack(images)[order], np.array(labels)[order]


def test_image_folder_fit_and_predict(fashion_folder, tmp_path):
    directory, X, labels = fashion_folder
    folder = data.image_folder(directory)
    assert folder.classes.tolist() == ["ankle_boot", "bag", "trouser"]
    assert [pathlib.Path(f).parent.name for f in folder.files] == labels.tolist()
    params = dict(epochs=2, batch_size=16, random_state=0)
    streamed = ZooClassifier("cnn-fashion-mnist", **params).fit(folder)
    assert streamed.classes_.tolist() == ["ankle_boot", "bag", "trouser"]
    # The decoded PNGs are the pixels, in the same order: the same model as from arrays.
    in_memory = ZooClassifier("cnn-fashion-mnist", **params).fit(X, labels)
    np.testing.assert_allclose(streamed.history_["loss"], in_memory.history_["loss"], rtol=1e-5)
    np.testing.assert_allclose(
        streamed.predict_proba(str(directory)), in_memory.predict_proba(X), atol=1e-5
    )
    assert set(streamed.predict(folder)) <= {"ankle_boot", "bag", "trouser"}
    assert streamed.score(X, labels) > 0.45  # chance: 1/3 (two epochs on 72 images)
    # RGB images of another size are converted to the model's 28x28 grayscale input.
    (tmp_path / "rgb" / "a").mkdir(parents=True)
    (tmp_path / "rgb" / "b").mkdir()
    for name in ("a", "b"):
        for file in ("x.jpg", "y.png"):
            image = np.full((40, 50, 3), 100.0)
            keras.utils.save_img(tmp_path / "rgb" / name / file, image, scale=False)
    x = next(iter(data.image_folder(tmp_path / "rgb").predict_dataset(streamed.model_, 8)))
    assert x.shape == (4, 28, 28) and np.allclose(x.numpy(), 100, atol=2)
    fitted = ZooClassifier("cnn-fashion-mnist", epochs=1, validation_split=0.5).fit(
        tmp_path / "rgb"
    )
    assert "val_loss" in fitted.history_


def test_bad_directories_are_errors_naming_the_argument(tmp_path, fashion_folder):
    clf = ZooClassifier("cnn-fashion-mnist", epochs=1)
    expected = r"X must be an image folder \(DIR/CLASS_NAME/\*.png"
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match=rf"{expected}.*Received: '{empty}', an empty directory"):
        clf.fit(empty)
    files = tmp_path / "files"
    files.mkdir()
    (files / "notes.txt").write_text("hello")
    with pytest.raises(
        ValueError,
        match=rf"or a shard directory \(with manifest.json.*Received: '{files}', which holds "
        r"files only \(e.g. 'notes.txt'\)",
    ):
        clf.fit(str(files))
    with pytest.raises(ValueError, match=rf"Received: '{tmp_path / 'nowhere'}', which does not"):
        clf.fit(tmp_path / "nowhere")
    mixed = tmp_path / "mixed"
    (mixed / "cat").mkdir(parents=True)
    (mixed / "cat" / "readme.txt").write_text("not an image")
    with pytest.raises(
        ValueError, match=rf"must hold images \(.png.*Received: '{mixed}/cat/readme.txt', a .txt"
    ):
        clf.fit(mixed)
    (mixed / "cat" / "readme.txt").unlink()
    (mixed / "cat" / "fake.png").write_text("not an image either")
    with pytest.raises(ValueError, match=rf"'{mixed}/cat/fake.png' is not a readable image"):
        data.image_folder(mixed)
    (mixed / "cat" / "fake.png").unlink()
    with pytest.raises(ValueError, match=rf"the class folder '{mixed}/cat' holds no images"):
        data.image_folder(mixed)
    directory = fashion_folder[0]
    with pytest.raises(ValueError, match="this model's inputs are not one image"):
        ZooClassifier("mlp-breast-cancer", epochs=1).fit(directory)
    with pytest.raises(ValueError, match="sample_weight applies to array input"):
        clf.fit(directory, sample_weight=np.ones(72))

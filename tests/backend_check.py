"""Run by tests/test_backends.py under one KERAS_BACKEND; not a test module itself.

For every zoo entry: build it, load its shipped weights, predict on 32 test samples, and
train it briefly through its pipeline. Saves the predictions to the .npz given as argv[1].

Golden outputs (no dataset needed): for every tests/golden/NAME.npz, the shipped weights of
NAME predict on its stored input; argv[1] + ".golden.json" gets, per entry and output, the
largest |output - golden output| (and the sha256 the golden file was made from).

The three processes (one per backend) go through the datasets in the same order, each
starting a third of the way further on, so that on a fresh machine they build different cold
caches at once; a dataset another process is building is waited for (`datasets.load` holds
its build lock), never built twice.
"""

import json
import pathlib
import sys

import keras
import numpy as np

import datasets
import zoo
from pipelines.training import estimator_for

GOLDEN = pathlib.Path(__file__).resolve().parent / "golden"


def head(values, count):
    """The first `count` samples of an array or of each array in a dict."""
    if isinstance(values, dict):
        return {key: value[:count] for key, value in values.items()}
    return values[:count]


def flatten(name, output):
    """Model outputs as {key: array}; a dict output gives one key per head."""
    if isinstance(output, dict):
        return {f"{name}/{key}": np.asarray(value) for key, value in output.items()}
    return {name: np.asarray(output)}


def check_entry(name, data):
    """Predicts on 32 test samples (kept in `predictions`) and trains one brief epoch."""
    model = zoo.get(name)
    x_test = head(data.X_test, 32)
    if zoo.get_entry(name).task == "generation":  # issue 9: noise (and labels) in
        from pipelines.generative import noise_inputs

        x_test = noise_inputs(model, 32, seed=0)
    predictions.update(flatten(name, model.predict(x_test, verbose=0)))
    estimator = estimator_for(name, epochs=1, batch_size=16, random_state=0)
    estimator.fit(head(data.X_train, 64), head(data.y_train, 64))
    estimator.predict(head(x_test, 8))
    assert all(np.isfinite(values).all() for values in estimator.history_.values())


# Golden outputs first: they need no dataset.
golden = {}
for path in sorted(GOLDEN.glob("*.npz")):
    name = path.stem
    with np.load(path) as file:
        stored = {key: file[key] for key in file.files}
    inputs = {
        key.split("/", 1)[1]: value.astype("float32") if value.dtype == np.float16 else value
        for key, value in stored.items()
        if key.startswith("input/")
    }
    model = zoo.get(name)
    x = inputs[model.inputs[0].name] if len(model.inputs) == 1 else inputs
    output = model.predict(x, batch_size=len(next(iter(inputs.values()))), verbose=0)
    if not isinstance(output, dict):
        output = {model.output_names[0]: output}
    expected = {
        key.split("/", 1)[1]: value for key, value in stored.items() if key.startswith("output/")
    }
    golden[name] = {
        "sha256": str(stored["sha256"]),
        "max_abs_diff": {
            key: float(np.max(np.abs(np.asarray(output[key], "float64") - value)))
            if key in output and np.shape(output[key]) == value.shape
            else None
            for key, value in expected.items()
        },
    }
    print(f"golden {name}: max |diff| {golden[name]['max_abs_diff']}")
with open(sys.argv[1] + ".golden.json", "w") as file:
    json.dump(golden, file, indent=1)

by_dataset = {}  # dataset: its entries, datasets in the order of their first entry
for name in zoo.list_models():
    by_dataset.setdefault(zoo.get_entry(name).dataset, []).append(name)
order = list(by_dataset)
start = ["tensorflow", "jax", "torch"].index(keras.backend.backend()) * len(order) // 3
predictions = {}
for data_name in order[start:] + order[:start]:
    data = datasets.load(data_name)  # a missing data package fails; one kept at a time
    for name in by_dataset[data_name]:
        check_entry(name, data)
np.savez(sys.argv[1], **predictions)

print("backend:", keras.backend.backend())

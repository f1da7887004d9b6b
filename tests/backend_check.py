"""Run by tests/test_backends.py under one KERAS_BACKEND; not a test module itself.

For every zoo entry: build it, load its shipped weights, predict on 32 test samples, and
train it briefly through its pipeline. Saves the predictions to the .npz given as argv[1].
"""

import os
import sys

import keras
import numpy as np

import datasets
import zoo
from pipelines.training import estimator_for



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


predictions = {}
for name in zoo.list_models():
    try:
        data = datasets.load(zoo.get_entry(name).dataset)
    except datasets.DatasetMissingError as error:
        if os.environ.get("CI"):
            raise
        print(f"skipped {name}: {error}")
        continue
    model = zoo.get(name)
    predictions.update(flatten(name, model.predict(head(data.X_test, 32), verbose=0)))
    estimator = estimator_for(name, epochs=1, batch_size=16, random_state=0)
    estimator.fit(head(data.X_train, 64), head(data.y_train, 64))
    estimator.predict(head(data.X_test, 8))
    assert all(np.isfinite(values).all() for values in estimator.history_.values())
np.savez(sys.argv[1], **predictions)
print("backend:", keras.backend.backend())

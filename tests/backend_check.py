"""Run by tests/test_backends.py under one KERAS_BACKEND; not a test module itself.

For every zoo entry: build it, load its shipped weights, predict on 32 test samples, and
train it briefly through its pipeline. Saves the predictions to the .npz given as argv[1].
"""

import sys

import keras
import numpy as np

import datasets
import zoo
from pipelines.training import estimator_for

predictions = {}
for name in zoo.list_models():
    data = datasets.load(zoo.get_entry(name).dataset)
    model = zoo.get(name)
    predictions[name] = np.asarray(model.predict(data.X_test[:32], verbose=0))
    estimator = estimator_for(name, epochs=1, batch_size=16, random_state=0)
    estimator.fit(data.X_train[:64], data.y_train[:64])
    assert np.isfinite(estimator.predict(data.X_test[:8]).astype("float64")).all()
    assert np.isfinite(estimator.history_["loss"]).all()
np.savez(sys.argv[1], **predictions)
print("backend:", keras.backend.backend())

"""Verification: reload an artifact, serve a batch and a single sample, compare with Keras.

Outputs may differ from the Keras model's by `ATOL`, relative above 1 (|expected| > 1).
A failure raises `ExportError`.
"""

import numpy as np
import tensorflow as tf

from pipelines.export.spec import (
    ATOL,
    CLASS_ID,
    CLASS_LABEL,
    CLASSIFIER_OUTPUT,
    SIGNATURE_KEY,
    ExportError,
)


def compare(spec, got, reference, batch, where):
    """Returns the max |got - reference| over the model outputs, or raises ExportError."""
    worst = 0.0
    for name in spec.output_names:
        expected = reference[name][:batch]
        actual = np.asarray(got[name])
        if actual.shape != expected.shape:
            raise ExportError(
                f"{where}: output {name!r} has shape {actual.shape}, the Keras model gives "
                f"{expected.shape}."
            )
        diff = np.abs(actual.astype("float64") - expected.astype("float64"))
        # Relative above 1, and at least relative to a tenth of the output's largest value (a
        # generator's pixels 0..255 carry float32 noise of ~1e-4 near black; issue 9).
        scale = max(1.0, 0.1 * float(np.max(np.abs(expected)))) if expected.size else 1.0
        allowed = ATOL * np.maximum(scale, np.abs(expected.astype("float64")))
        if not np.all(diff <= allowed):  # also catches NaN
            raise ExportError(
                f"{where}: output {name!r} differs from the Keras model by up to "
                f"{float(np.nanmax(diff)) if np.isfinite(diff).any() else float('nan'):.3g} "
                f"(allowed {ATOL:g}, relative above 1) on a batch of {batch}."
            )
        worst = max(worst, float(diff.max()) if diff.size else 0.0)
    if spec.classifier:
        class_id = np.asarray(got[CLASS_ID])
        if class_id.dtype != np.int64 or not np.array_equal(
            class_id, np.argmax(np.asarray(got[CLASSIFIER_OUTPUT]), axis=-1)
        ):
            raise ExportError(f"{where}: {CLASS_ID!r} is not the int64 argmax of the probabilities")
        if CLASS_LABEL in got:
            classes = [c.decode() if isinstance(c, bytes) else str(c) for c in got[CLASS_LABEL]]
            if classes != [spec.labels[i] for i in class_id]:
                raise ExportError(f"{where}: {CLASS_LABEL!r} is not the label of {CLASS_ID!r}")
    return worst


def verify_saved_model(directory, spec, inputs, reference):
    where = "SavedModel verification"
    try:
        loaded = tf.saved_model.load(str(directory))
        function = loaded.signatures[SIGNATURE_KEY]
    except Exception as error:
        raise ExportError(f"{where}: the SavedModel does not reload: {error}") from error
    expected = spec.serving_outputs(strings=True)
    input_keys = sorted(function.structured_input_signature[1])
    output_keys = sorted(function.structured_outputs)
    if input_keys != sorted(spec.input_names) or output_keys != sorted(expected):
        raise ExportError(
            f"{where}: signature {SIGNATURE_KEY!r} has inputs {input_keys} and outputs "
            f"{output_keys}; expected {sorted(spec.input_names)} and "
            f"{sorted(expected)}."
        )
    worst = 0.0
    for batch in (len(next(iter(inputs.values()))), 1):
        feed = {name: tf.constant(array[:batch]) for name, array in inputs.items()}
        try:
            got = {name: value.numpy() for name, value in function(**feed).items()}
        except Exception as error:
            raise ExportError(f"{where}: serving a batch of {batch} failed: {error}") from error
        worst = max(worst, compare(spec, got, reference, batch, where))
    return worst, expected


def verify_onnx(file_path, spec, inputs, reference):
    import onnx
    import onnxruntime

    where = "ONNX verification"
    try:
        onnx.checker.check_model(str(file_path), full_check=True)
        session = onnxruntime.InferenceSession(str(file_path), providers=["CPUExecutionProvider"])
    except Exception as error:
        raise ExportError(f"{where}: the ONNX file does not load: {error}") from error
    expected = spec.serving_outputs(strings=False)
    input_names = [i.name for i in session.get_inputs()]
    output_names = [o.name for o in session.get_outputs()]
    if sorted(input_names) != sorted(spec.input_names) or sorted(output_names) != sorted(expected):
        raise ExportError(
            f"{where}: the graph has inputs {input_names} and outputs {output_names}; "
            f"expected {spec.input_names} and {expected}."
        )
    for node in session.get_inputs():
        if isinstance(node.shape[0], int):
            raise ExportError(f"{where}: input {node.name!r} has a fixed batch size")
    worst = 0.0
    for batch in (len(next(iter(inputs.values()))), 1):
        feed = {name: array[:batch] for name, array in inputs.items()}
        try:
            got = dict(zip(output_names, session.run(output_names, feed)))
        except Exception as error:
            raise ExportError(f"{where}: running a batch of {batch} failed: {error}") from error
        worst = max(worst, compare(spec, got, reference, batch, where))
    return worst, expected

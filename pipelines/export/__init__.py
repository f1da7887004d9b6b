"""Export a Keras model for serving: a TensorFlow SavedModel (TF Serving layout) and ONNX.

Both artifacts take the model's raw inputs (the scaling, normalization and any other
preprocessing are layers of the model, so they travel with it) under the Keras input names,
with a dynamic batch size, and return meaningful, named outputs:

- a classifier (one softmax output named "probabilities") serves "probabilities" (float32),
  "class_id" (int64 argmax) and, in the SavedModel only, "class" (the string label: `labels`
  when given, else the class index as a string; ONNX carries the labels in its metadata
  under the key "labels", a JSON list, because string outputs do not convert);
- a regressor serves "prediction";
- a model with several named outputs serves each one under its own name.

Where files land:

    SavedModel   <path>/<name>/<version>/saved_model.pb, variables/ ...
                 (TF Serving: --model_base_path=<path>/<name>; signature "serving_default")
    ONNX         <path>/<name>.onnx   (the version is stored in ModelProto.model_version)

An existing artifact at the same place is replaced. Every export is written under a
temporary name, reloaded (tf.saved_model.load / onnx.checker + onnxruntime), run on a batch
and on a single sample, and compared with the Keras model; only then is it renamed into
place. A failed check raises `ExportError` and leaves nothing behind.

Backends: export needs the TensorFlow runtime. On the TensorFlow backend both formats work.
On the JAX backend the SavedModel works (the model is converted with jax2tf and lowered for
CPU, plus the accelerator JAX runs on; the graph holds an XlaCallModule op, so it needs a
TensorFlow / TF Serving about as recent as the one that wrote it), but ONNX does not (tf2onnx
cannot convert XlaCallModule): export ONNX with KERAS_BACKEND=tensorflow. The PyTorch backend needs
torch_xla for either format: run with KERAS_BACKEND=tensorflow instead (weights files are
portable across backends).

A model with a zero-size input dimension (e.g. zero features) is refused with a ValueError:
it computes nothing from its input.

Example:

    report = export_model(model, "exports", format="onnx", labels=["cat", "dog"])
    report["path"]   # "exports/mlp_breast_cancer.onnx"

The package:

    spec.py         what the artifact takes and gives (names, shapes, dtypes, labels), the
                    verification inputs, the Keras reference outputs, the float32 copy
    serving.py      the serving tf.function both formats are traced from (class outputs,
                    in-graph text encoding, jax2tf on JAX)
    saved_model.py  writing the SavedModel
    onnx_file.py    writing ONNX, with every tf2onnx workaround (freezing, STFT as a DFT
                    matmul, unrolled RNNs, renaming, metadata)
    verify.py       reloading an artifact and comparing it with the Keras model
    files.py        the directories created for an artifact, the previous one moved aside
"""

import pathlib

import keras
import numpy as np

from pipelines.export import files, onnx_file, saved_model, serving, verify
from pipelines.export import spec as specs
from pipelines.export.serving import encode_texts
from pipelines.export.spec import (
    ATOL,
    CLASS_ID,
    CLASS_LABEL,
    CLASSIFIER_OUTPUT,
    FORMATS,
    ONNX_OPSET,
    SIGNATURE_KEY,
    ExportError,
)
from zoo.weights import atomic_path

ExportError.__module__ = __name__  # its public home: pipelines.export.ExportError

__all__ = [
    "ATOL",
    "CLASS_ID",
    "CLASS_LABEL",
    "CLASSIFIER_OUTPUT",
    "FORMATS",
    "ONNX_OPSET",
    "SIGNATURE_KEY",
    "ExportError",
    "encode_texts",
    "export_model",
]


def export_model(
    model,
    path,
    format="saved_model",
    version=1,
    labels=None,
    name=None,
    sample=None,
    text_inputs=None,
):
    """Exports `model` as a verified SavedModel (TF Serving layout) or ONNX file.

    Args:
        model: a built functional Keras model with named inputs.
        path: the export root directory.
        format: "saved_model" or "onnx".
        version: positive integer version (the SavedModel version directory; ONNX
            `model_version`).
        labels: class labels (one per class) for a classifier's "class" output; default
            the class indices as strings.
        name: the model's directory / file name; default `model.name`.
        sample: inputs to verify the export on: an array (one-input models) or a dict keyed
            by input name. Default: a seeded uniform [0, 1) batch of 8.
        text_inputs: {input name: alphabet} for inputs of character ids (id 2 + the index in
            `alphabet`, 1 for any other character, 0 padding; lowercased, cut to the input's
            length). The SavedModel then takes raw strings, shape (n,), for those inputs and
            encodes them inside; the ONNX file keeps the ids.

    Returns:
        {"format", "path", "name", "version", "max_abs_diff", "inputs", "outputs"}: the
        artifact's path, the largest |artifact - Keras| difference seen, and the input and
        output names of the artifact.

    Raises:
        ValueError: for an invalid argument.
        ExportError: when the backend cannot export or the artifact fails verification.
    """
    if format not in FORMATS:
        raise ValueError(f"format must be one of {list(FORMATS)}. Received: format={format!r}")
    if not isinstance(model, keras.Model) or not getattr(model, "inputs", None):
        raise ValueError(
            "model must be a built functional keras.Model with named inputs. "
            f"Received: model={model!r}"
        )
    if isinstance(version, bool) or not isinstance(version, (int, np.integer)) or version < 1:
        raise ValueError(f"version must be a positive integer. Received: version={version!r}")
    name = model.name if name is None else name
    if not isinstance(name, str) or not name or name.startswith(".") or "/" in name or "\\" in name:
        raise ValueError(
            f"name must be a non-empty file name without slashes. Received: name={name!r}"
        )
    spec = specs.Spec(model, labels)
    inputs = specs.sample_inputs(spec, sample)
    backend = keras.backend.backend()
    if backend not in ("tensorflow", "jax") or (backend == "jax" and format == "onnx"):
        if backend == "jax":
            why = "tf2onnx cannot convert the XlaCallModule op that jax2tf produces"
        elif backend == "torch":
            why = "the export runs a TensorFlow graph, which Keras makes from torch via torch_xla"
        else:
            why = "the export runs a TensorFlow graph"
        raise ExportError(
            f"Exporting to {format!r} does not work on the {backend!r} backend of Keras: "
            f"{why}. Run the export with KERAS_BACKEND=tensorflow. Weights files are portable "
            "across backends: `model.save_weights('m.weights.h5')` here, then "
            "`zoo.get(name, weights='m.weights.h5')` (or the pipeline) under TensorFlow gives "
            "the same model."
        )
    text_inputs = dict(text_inputs or {})
    unknown = sorted(set(text_inputs) - set(spec.input_names))
    if unknown:
        raise ValueError(
            f"text_inputs must name inputs of the model {spec.input_names}. Received: {unknown}"
        )
    raw_texts = {}
    for text_name, alphabet in text_inputs.items():
        raw_texts[text_name] = serving.sample_texts(alphabet, len(next(iter(inputs.values()))))
        inputs[text_name] = encode_texts(raw_texts[text_name], alphabet, inputs[text_name].shape[1])
    model = specs.float32_model(model)
    reference = specs.keras_outputs(model, spec, inputs)

    root = pathlib.Path(path)
    if format == "saved_model":
        target = root / name / str(int(version))
    else:
        target = root / f"{name}.onnx"
    created = files.missing_dirs(target.parent)
    try:
        with atomic_path(target) as tmp:
            if format == "saved_model":
                saved_model.write_saved_model(model, spec, tmp, text_inputs)
                max_diff, outputs = verify.verify_saved_model(
                    tmp, spec, {**inputs, **raw_texts}, reference
                )
            else:
                onnx_file.write_onnx(model, spec, tmp, int(version))
                max_diff, outputs = verify.verify_onnx(tmp, spec, inputs, reference)
        # Renamed into place (a SavedModel version directory replaces the old one by an
        # atomic exchange): a kill at any moment leaves the old artifact or the new one.
    except BaseException:
        for directory in reversed(created):
            try:
                directory.rmdir()
            except OSError:
                pass
        raise
    return {
        "format": format,
        "path": str(target),
        "name": name,
        "version": int(version),
        "max_abs_diff": max_diff,
        "inputs": list(spec.input_names),
        "outputs": outputs,
    }

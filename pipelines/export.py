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

Example:

    report = export_model(model, "exports", format="onnx", labels=["cat", "dog"])
    report["path"]   # "exports/mlp_breast_cancer.onnx"
"""

import contextlib
import json
import logging
import os
import pathlib
import shutil
import tempfile

import keras
import numpy as np
import tensorflow as tf

from zoo.weights import atomic_path

FORMATS = ("saved_model", "onnx")
ONNX_OPSET = 17
SIGNATURE_KEY = "serving_default"
CLASSIFIER_OUTPUT = "probabilities"
CLASS_ID = "class_id"
CLASS_LABEL = "class"
ATOL = 1e-5  # allowed |artifact - keras|, scaled by max(1, |keras|) for large outputs
_LOW_PRECISION = ("float16", "bfloat16", "float64", "mixed_float16", "mixed_bfloat16")


class ExportError(RuntimeError):
    """Raised when a model cannot be exported or its artifact fails verification."""


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
    spec = _Spec(model, labels)
    inputs = _sample_inputs(spec, sample)
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
        raw_texts[text_name] = _sample_texts(alphabet, len(next(iter(inputs.values()))))
        inputs[text_name] = encode_texts(raw_texts[text_name], alphabet, inputs[text_name].shape[1])
    model = _float32_model(model)
    reference = _keras_outputs(model, spec, inputs)

    root = pathlib.Path(path)
    if format == "saved_model":
        target = root / name / str(int(version))
    else:
        target = root / f"{name}.onnx"
    created = _missing_dirs(target.parent)
    backup = None
    try:
        with atomic_path(target) as tmp:
            if format == "saved_model":
                _write_saved_model(model, spec, tmp, text_inputs)
                max_diff, outputs = _verify_saved_model(
                    tmp, spec, {**inputs, **raw_texts}, reference
                )
            else:
                _write_onnx(model, spec, tmp, int(version))
                max_diff, outputs = _verify_onnx(tmp, spec, inputs, reference)
            backup = _move_aside(target)
        if backup is not None:
            shutil.rmtree(backup, ignore_errors=True)
    except BaseException:
        if backup is not None and not target.exists():
            os.replace(backup, target)  # the new artifact did not land: put the old one back
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


# -- what the model takes and gives ------------------------------------------------------------


class _Spec:
    """The input and output names, shapes and dtypes of the serving function."""

    def __init__(self, model, labels):
        self.input_names = [tensor.name for tensor in model.inputs]
        if len(set(self.input_names)) != len(self.input_names):
            raise ValueError(
                f"The model's inputs need distinct names. Received: {self.input_names}"
            )
        self.tensor_specs = []
        for tensor in model.inputs:
            dtype = tf.as_dtype(keras.backend.standardize_dtype(tensor.dtype))
            if dtype.is_floating:
                dtype = tf.float32
            shape = (None,) + tuple(tensor.shape[1:])
            self.tensor_specs.append(tf.TensorSpec(shape, dtype, name=tensor.name))
        structure = model.output
        if isinstance(structure, dict):
            self.output_names = list(structure)
            shapes = [structure[key].shape for key in self.output_names]
        elif isinstance(structure, (list, tuple)):
            self.output_names = list(model.output_names)
            shapes = [tensor.shape for tensor in structure]
        else:
            self.output_names = list(model.output_names)[:1]
            shapes = [structure.shape]
        self.classifier = (
            self.output_names == [CLASSIFIER_OUTPUT]
            and len(shapes[0]) == 2
            and (shapes[0][-1] or 0) >= 2
        )
        for reserved in (CLASS_ID, CLASS_LABEL):
            if self.classifier and reserved in self.input_names:
                raise ValueError(f"An input may not be named {reserved!r} in a classifier.")
        self.labels = None
        if self.classifier:
            num_classes = shapes[0][-1]
            if labels is None:
                labels = [str(index) for index in range(num_classes)]
            labels = [str(label) for label in labels]
            if len(labels) != num_classes:
                raise ValueError(
                    f"labels must name each of the {num_classes} classes of the model. "
                    f"Received {len(labels)} labels: {labels[:10]}"
                )
            self.labels = labels
        elif labels is not None:
            raise ValueError(
                f"labels apply only to a classifier with one {CLASSIFIER_OUTPUT!r} output; "
                f"this model's outputs are {self.output_names}. Received: labels={labels!r}"
            )

    def serving_outputs(self, strings):
        names = list(self.output_names)
        if self.classifier:
            names.append(CLASS_ID)
            if strings:
                names.append(CLASS_LABEL)
        return names


def _float32_model(model):
    """Returns `model`, or a float32 copy of it when it has a low or mixed precision policy."""
    config = keras.saving.serialize_keras_object(model)
    changed = []

    def rewrite(node):
        if isinstance(node, dict):
            out = {}
            for key, value in node.items():
                if key == "dtype" and _is_low_precision(value):
                    changed.append(value)
                    out[key] = "float32"
                else:
                    out[key] = rewrite(value)
            return out
        if isinstance(node, list):
            return [rewrite(item) for item in node]
        return node

    config = rewrite(config)
    if not changed:
        return model
    try:
        copy = keras.saving.deserialize_keras_object(config, safe_mode=True)
        copy.set_weights([np.asarray(w, "float32") if np.asarray(w).dtype.kind == "f" else w
                          for w in model.get_weights()])
    except Exception as error:
        raise ExportError(
            f"Could not rebuild the model {model.name!r} in float32 for export (it uses the "
            f"dtype policies {sorted(set(map(str, changed)))}). Rebuild it under "
            "keras.config.set_dtype_policy('float32'), load its weights, and export that."
        ) from error
    return copy


def _is_low_precision(value):
    if isinstance(value, str):
        return value in _LOW_PRECISION
    if isinstance(value, dict) and "Policy" in str(value.get("class_name", "")):
        return (value.get("config") or {}).get("name") in _LOW_PRECISION
    return False


def _sample_inputs(spec, sample):
    """Returns {input name: array} to verify on (the user's `sample` or a seeded batch)."""
    if sample is None:
        rng = np.random.default_rng(0)
        inputs = {}
        for tensor_spec in spec.tensor_specs:
            shape = [8] + [1 if d is None else d for d in tensor_spec.shape[1:]]
            dtype = tensor_spec.dtype
            if dtype.is_floating:
                inputs[tensor_spec.name] = rng.uniform(0.0, 1.0, shape).astype("float32")
            elif dtype.is_integer or dtype.is_bool:
                inputs[tensor_spec.name] = rng.integers(0, 2, shape).astype(dtype.as_numpy_dtype)
            else:
                raise ValueError(
                    f"The input {tensor_spec.name!r} has dtype {dtype.name}; pass `sample` "
                    "(a dict keyed by input name) to verify the export on real inputs."
                )
        return inputs
    if not isinstance(sample, dict):
        if len(spec.input_names) != 1:
            raise ValueError(
                f"The model has inputs {spec.input_names}: pass sample as a dict keyed by "
                f"input name. Received: sample of type {type(sample).__name__}"
            )
        sample = {spec.input_names[0]: sample}
    if set(sample) != set(spec.input_names):
        raise ValueError(
            f"sample must have exactly the keys {spec.input_names}. Received: {sorted(sample)}"
        )
    inputs = {}
    for tensor_spec in spec.tensor_specs:
        array = np.asarray(sample[tensor_spec.name])
        if tensor_spec.dtype != tf.string:
            array = array.astype(tensor_spec.dtype.as_numpy_dtype)
        expected = tuple(tensor_spec.shape[1:])
        if array.ndim != len(expected) + 1 or len(array) == 0 or any(
            e is not None and e != a for e, a in zip(expected, array.shape[1:])
        ):
            raise ValueError(
                f"sample[{tensor_spec.name!r}] must have shape (n, "
                f"{', '.join('any' if e is None else str(e) for e in expected)}) with n >= 1. "
                f"Received: shape {array.shape}"
            )
        inputs[tensor_spec.name] = array
    lengths = {len(array) for array in inputs.values()}
    if len(lengths) != 1:
        lengths = {name: len(array) for name, array in inputs.items()}
        raise ValueError(f"The sample inputs differ in length. Received: {lengths}")
    return inputs


def _model_inputs(spec, inputs):
    """The structure the model is called with: one tensor, or a dict keyed by input name."""
    if len(spec.input_names) == 1:
        return inputs[spec.input_names[0]]
    return dict(inputs)


def _named_outputs(spec, outputs):
    """{output name: tensor} from a model's output (tensor, list or dict)."""
    if isinstance(outputs, dict):
        return {name: outputs[name] for name in spec.output_names}
    if isinstance(outputs, (list, tuple)):
        return dict(zip(spec.output_names, outputs))
    return {spec.output_names[0]: outputs}


def _keras_outputs(model, spec, inputs):
    outputs = _named_outputs(spec, model(_model_inputs(spec, inputs), training=False))
    return {name: keras.ops.convert_to_numpy(value) for name, value in outputs.items()}


# -- the serving function ----------------------------------------------------------------------


def encode_texts(texts, alphabet, length):
    """NumPy character ids of strings, as the SavedModel computes them for `text_inputs`.

    Example:

        encode_texts(["Hi!"], "abcdefghijklmnopqrstuvwxyz!", 5)   # [[9, 10, 28, 0, 0]]
    """
    ids = np.zeros((len(texts), length), "int32")
    lookup = {char: index + 2 for index, char in enumerate(alphabet)}
    for row, text in enumerate(texts):
        codes = [lookup.get(char, 1) for char in str(text).lower()[:length]]
        ids[row, : len(codes)] = codes
    return ids


def _encode_strings(texts, alphabet, length):
    """tf.string (n,) -> int32 (n, length) character ids, the graph twin of `encode_texts`."""
    table = np.ones(128, "int32")  # ASCII code point -> id; other characters -> 1
    for index, char in enumerate(alphabet):
        table[ord(char)] = index + 2
    table = tf.constant(table)
    codes = tf.strings.unicode_decode(tf.strings.lower(texts, encoding="utf-8"), "UTF-8")
    codes = codes[:, :length]
    ids = tf.ragged.map_flat_values(
        lambda c: tf.where(c < 128, tf.gather(table, tf.minimum(c, 127)), 1), codes
    )
    return ids.to_tensor(default_value=0, shape=[None, length])


def _sample_texts(alphabet, count):
    """Seeded strings mixing the alphabet, capitals and foreign characters."""
    rng = np.random.default_rng(0)
    characters = list(alphabet) + list(alphabet.upper()) + ["~", "\u00e9", "\u00c9"]
    return np.array(
        ["".join(rng.choice(characters, rng.integers(0, 60))) for _ in range(count)],
        dtype=object,
    )


def _serving_function(spec, core, strings, text_inputs=None):
    """A tf.function: positional raw inputs -> {name: tensor}, with class outputs added.

    Inputs named in `text_inputs` ({name: alphabet}) take raw strings and are encoded here.
    """
    labels = tf.constant(spec.labels) if (strings and spec.classifier) else None
    text_inputs = text_inputs or {}
    signature = [
        tf.TensorSpec((None,), tf.string, name=s.name) if s.name in text_inputs else s
        for s in spec.tensor_specs
    ]
    lengths = {s.name: s.shape[1] for s in spec.tensor_specs}

    def serve(*args):
        named = {
            name: _encode_strings(arg, text_inputs[name], lengths[name])
            if name in text_inputs
            else arg
            for name, arg in zip(spec.input_names, args)
        }
        outputs = {name: tf.cast(value, tf.float32) if value.dtype.is_floating else value
                   for name, value in core(named).items()}
        if spec.classifier:
            class_id = tf.argmax(outputs[CLASSIFIER_OUTPUT], axis=-1, output_type=tf.int64)
            outputs[CLASS_ID] = class_id
            if labels is not None:
                outputs[CLASS_LABEL] = tf.gather(labels, class_id)
        return outputs

    return tf.function(serve, input_signature=signature, autograph=False)


def _core_function(model, spec, archive):
    """{input name: tf tensor} -> {output name: tf tensor}, on the current Keras backend."""
    if keras.backend.backend() == "tensorflow":

        def core(inputs):
            return _named_outputs(spec, model(_model_inputs(spec, inputs), training=False))

        return core
    # JAX: convert a stateless call with jax2tf; the variables are the archive's tf copies.
    import jax
    from jax.experimental import jax2tf

    trainable = list(archive.trainable_variables)
    non_trainable = list(archive.non_trainable_variables)

    def stateless(trainable_values, non_trainable_values, inputs):
        outputs, _ = model.stateless_call(
            trainable_values, non_trainable_values, _model_inputs(spec, inputs), training=False
        )
        return _named_outputs(spec, outputs)

    def shape_text(shape, prefix=None):
        # One "batch" shared by all inputs; any other unknown axis is its own variable.
        dims = [
            str(d) if d is not None else ("batch" if i == 0 else f"{prefix}_{i}")
            for i, d in enumerate(shape)
        ]
        return "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"

    polymorphic = [
        [shape_text(v.shape) for v in trainable],
        [shape_text(v.shape) for v in non_trainable],
        {s.name: shape_text(s.shape, f"in{k}") for k, s in enumerate(spec.tensor_specs)},
    ]
    platforms = ["cpu"]
    device = jax.default_backend()
    if device != "cpu":
        platforms.append({"gpu": "cuda"}.get(device, device))
    converted = jax2tf.convert(
        stateless,
        polymorphic_shapes=polymorphic,
        with_gradient=False,
        native_serialization_platforms=platforms,
    )

    def core(inputs):
        return converted(trainable, non_trainable, inputs)

    return core


def _write_saved_model(model, spec, directory, text_inputs=None):
    archive = keras.export.ExportArchive()
    archive.track(model)
    core = _core_function(model, spec, archive)
    serve = _serving_function(spec, core, strings=True, text_inputs=text_inputs)
    serve.get_concrete_function()
    archive.add_endpoint(SIGNATURE_KEY, serve)
    try:
        archive.write_out(str(directory), verbose=False)
    except Exception as error:
        raise ExportError(f"Writing the SavedModel of {model.name!r} failed: {error}") from error


@contextlib.contextmanager
def _onnx_friendly(model):
    """While tracing for ONNX, builds graphs that tf2onnx can convert; same numbers.

    Two Keras-on-TensorFlow graphs defeat tf2onnx 1.17 (measured on an audio model with
    `keras.layers.MelSpectrogram` and a GRU):
    - `keras.ops.stft` ends in `tf.signal.rfft` followed by `tf.math.real` / `tf.math.imag`,
      and tf2onnx converts RFFT only when `ComplexAbs` consumes it ("Current implementation
      of RFFT or FFT only allows ComplexAbs as consumer not {'Real', 'Imag'}"). Here the
      STFT is the same framing and window followed by a matmul with the DFT matrix.
    - A Keras 3 RNN runs a `tf.while_loop` over a TensorList, which tf2onnx leaves as
      `TensorListReserve` ops onnxruntime cannot load. Here every RNN is unrolled (this needs a
      static number of time steps) (`unroll=True`), a plain graph of the same cell.
    Both are restored afterwards; the exported file is checked against the Keras model.
    """
    from keras.src.backend.tensorflow import math as tf_math

    unrollable = [
        layer
        for layer in model._flatten_layers(include_self=False, recursive=True)
        if isinstance(layer, keras.layers.RNN) and not layer.unroll
    ]
    original_stft = tf_math.stft
    tf_math.stft = _stft_by_matmul
    for layer in unrollable:
        layer.unroll = True
    try:
        yield
    finally:
        tf_math.stft = original_stft
        for layer in unrollable:
            layer.unroll = False


def _stft_by_matmul(x, sequence_length, sequence_stride, fft_length, window="hann", center=True):
    """`keras.ops.stft` on TensorFlow with the real FFT written as a DFT matmul."""
    x = tf.convert_to_tensor(x)
    if center:
        pad_width = [(0, 0)] * (len(x.shape) - 1) + [(fft_length // 2, fft_length // 2)]
        x = tf.pad(x, pad_width, mode="reflect")
    l_pad = (fft_length - sequence_length) // 2
    r_pad = fft_length - sequence_length - l_pad
    frames = tf.signal.frame(x, fft_length, sequence_stride)  # (..., frames, fft_length)
    if window is not None:
        if isinstance(window, str):
            make = {"hann": tf.signal.hann_window, "hamming": tf.signal.hamming_window}[window]
            win_array = make(sequence_length, periodic=True, dtype=x.dtype)
        else:
            win_array = tf.convert_to_tensor(window, dtype=x.dtype)
        frames = frames * tf.pad(win_array, [[l_pad, r_pad]])
    n = np.arange(fft_length)[:, None]
    k = np.arange(fft_length // 2 + 1)[None, :]
    angle = 2.0 * np.pi * ((n * k) % fft_length) / fft_length
    real = tf.matmul(frames, tf.constant(np.cos(angle), dtype=x.dtype))
    imag = tf.matmul(frames, tf.constant(-np.sin(angle), dtype=x.dtype))
    return real, imag


def _write_onnx(model, spec, file_path, version):
    import onnx
    import tf2onnx

    serve = _serving_function(spec, _core_function(model, spec, None), strings=False)
    loggers = [logging.getLogger(name) for name in ("tf2onnx", "tensorflow")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:  # tf2onnx logs every pass; TF warns about its v1 freezing API
        logger.setLevel(logging.ERROR)
    try:
        # Freeze first: tf2onnx.convert.from_function would turn the eager tensors a model
        # captures (e.g. a Normalization layer's mean and variance) into graph inputs.
        from tensorflow.python.framework.convert_to_constants import (
            convert_variables_to_constants_v2,
        )

        with _onnx_friendly(model):
            concrete = serve.get_concrete_function()
        frozen = convert_variables_to_constants_v2(concrete)
        input_names = [t.name for t in frozen.inputs if t.dtype != tf.resource]
        output_names = [t.name for t in frozen.outputs]
        if len(input_names) != len(spec.input_names):
            raise ExportError(f"the frozen graph has inputs {input_names}")
        rename = dict(zip(input_names, spec.input_names))
        keys = tf.nest.flatten({key: key for key in concrete.structured_outputs})
        rename.update(zip(output_names, keys))
        proto, _ = tf2onnx.convert.from_graph_def(
            frozen.graph.as_graph_def(),
            name=model.name,
            input_names=input_names,
            output_names=output_names,
            opset=ONNX_OPSET,
            tensors_to_rename=rename,
        )
    except Exception as error:
        raise ExportError(
            f"Converting {model.name!r} to ONNX failed: {type(error).__name__}: {error}"
        ) from error
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)
    proto.model_version = version
    proto.doc_string = f"Keras model {model.name!r} exported by the zoo (pipelines.export)."
    metadata = {"keras_model": model.name, "inputs": json.dumps(spec.input_names)}
    if spec.classifier:
        metadata["labels"] = json.dumps(spec.labels)
    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(proto, str(file_path))


# -- verification -----------------------------------------------------------------------------


def _compare(spec, got, reference, batch, where):
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
        allowed = ATOL * np.maximum(1.0, np.abs(expected.astype("float64")))
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


def _verify_saved_model(directory, spec, inputs, reference):
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
        worst = max(worst, _compare(spec, got, reference, batch, where))
    return worst, expected


def _verify_onnx(file_path, spec, inputs, reference):
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
        worst = max(worst, _compare(spec, got, reference, batch, where))
    return worst, expected


# -- files ------------------------------------------------------------------------------------


def _missing_dirs(directory):
    """The ancestors of `directory` (itself included) that do not exist yet, outermost first."""
    missing = []
    directory = pathlib.Path(directory).absolute()
    while not directory.exists():
        missing.append(directory)
        if directory.parent == directory:
            break
        directory = directory.parent
    return list(reversed(missing))


def _move_aside(target):
    """Renames an existing artifact at `target` to a hidden temporary name; returns it."""
    if not target.exists():
        return None
    if target.is_file():
        return None  # os.replace overwrites a file atomically
    backup = pathlib.Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.old."))
    os.rmdir(backup)
    os.replace(target, backup)
    return backup

"""Writing ONNX, with every tf2onnx workaround in one place.

- The graph is frozen before conversion (tf2onnx would turn captured variables, e.g. an
  adapted Normalization layer's mean and variance, into extra ONNX inputs).
- While tracing, the STFT is computed as a DFT matmul (tf2onnx cannot convert RFFT followed by
  Real/Imag) and every Keras RNN is unrolled (a looped RNN leaves TensorList ops onnxruntime
  refuses): `_onnx_friendly`.
- The graph's inputs and outputs are renamed to the Keras input and output names.
- String outputs do not convert: the classifier's labels go into the metadata ("labels").
"""

import contextlib
import json
import logging

import keras
import numpy as np
import tensorflow as tf

from pipelines.export.serving import core_function, serving_function
from pipelines.export.spec import ONNX_OPSET, ExportError


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


def write_onnx(model, spec, file_path, version):
    import onnx
    import tf2onnx

    serve = serving_function(spec, core_function(model, spec, None), strings=False)
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

"""What an export takes and gives: the names, shapes and dtypes of the serving function,
the inputs it is verified on, the Keras model's reference outputs, and the float32 copy of a
low or mixed precision model. Shared by both formats.
"""

import keras
import numpy as np
import tensorflow as tf

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


class Spec:
    """The input and output names, shapes and dtypes of the serving function."""

    def __init__(self, model, labels):
        self.input_names = [tensor.name for tensor in model.inputs]
        if len(set(self.input_names)) != len(self.input_names):
            raise ValueError(
                f"The model's inputs need distinct names. Received: {self.input_names}"
            )
        self.tensor_specs = []
        for tensor in model.inputs:
            if 0 in tuple(tensor.shape[1:]):
                # Such a model computes nothing from its input: refuse it before tracing
                # (TensorFlow's oneDNN kernels can abort the process on zero-size matmuls).
                raise ValueError(
                    f"Every input of an exported model needs a non-zero size in each "
                    f"dimension. Received: input {tensor.name!r} with shape {tuple(tensor.shape)}"
                )
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


def float32_model(model):
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
        copy.set_weights(
            [
                np.asarray(w, "float32") if np.asarray(w).dtype.kind == "f" else w
                for w in model.get_weights()
            ]
        )
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


def sample_inputs(spec, sample):
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
        if (
            array.ndim != len(expected) + 1
            or array.size == 0
            or any(e is not None and e != a for e, a in zip(expected, array.shape[1:]))
        ):
            raise ValueError(
                f"sample[{tensor_spec.name!r}] must have shape (n, "
                f"{', '.join('any' if e is None else str(e) for e in expected)}) with n >= 1 "
                "and no zero-size dimension. "
                f"Received: shape {array.shape}"
            )
        inputs[tensor_spec.name] = array
    lengths = {len(array) for array in inputs.values()}
    if len(lengths) != 1:
        lengths = {name: len(array) for name, array in inputs.items()}
        raise ValueError(f"The sample inputs differ in length. Received: {lengths}")
    return inputs


def model_inputs(spec, inputs):
    """The structure the model is called with: one tensor, or a dict keyed by input name."""
    if len(spec.input_names) == 1:
        return inputs[spec.input_names[0]]
    return dict(inputs)


def named_outputs(spec, outputs):
    """{output name: tensor} from a model's output (tensor, list or dict)."""
    if isinstance(outputs, dict):
        return {name: outputs[name] for name in spec.output_names}
    if isinstance(outputs, (list, tuple)):
        return dict(zip(spec.output_names, outputs))
    return {spec.output_names[0]: outputs}


def keras_outputs(model, spec, inputs):
    outputs = named_outputs(spec, model(model_inputs(spec, inputs), training=False))
    return {name: keras.ops.convert_to_numpy(value) for name, value in outputs.items()}

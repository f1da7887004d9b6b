"""The serving function both formats are traced from: raw inputs -> named outputs.

The SavedModel adds the string "class" output and can encode raw transcripts into character
ids inside the graph (`text_inputs`); ONNX takes ids and gets no string outputs. On JAX the
model is converted with jax2tf.
"""

import keras
import numpy as np
import tensorflow as tf

from pipelines.export.spec import (
    CLASS_ID,
    CLASS_LABEL,
    CLASSIFIER_OUTPUT,
    model_inputs,
    named_outputs,
)


def encode_texts(texts, alphabet, length):
    """NumPy character ids of strings, as the SavedModel computes them for `text_inputs`.

    Example:

        encode_texts(["Hi!"], "abcdefghijklmnopqrstuvwxyz!", 5)   # [[9, 10, 28, 0, 0]]
    """
    if isinstance(alphabet, dict):  # a WordPiece vocabulary (issue 8, pipelines.text)
        from pipelines.text import TextEncoder

        return TextEncoder(alphabet, length).ids(texts)
    ids = np.zeros((len(texts), length), "int32")
    lookup = {char: index + 2 for index, char in enumerate(alphabet)}
    for row, text in enumerate(texts):
        codes = [lookup.get(char, 1) for char in str(text).lower()[:length]]
        ids[row, : len(codes)] = codes
    return ids


def encode_strings(texts, alphabet, length):
    """tf.string (n,) -> int32 (n, length) character ids, the graph twin of `encode_texts`."""
    if isinstance(alphabet, dict):  # WordPiece: tensorflow-text ops (pipelines.text)
        from pipelines.text import TextEncoder

        return TextEncoder(alphabet, length).graph(texts)
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


def sample_texts(alphabet, count):
    """Seeded strings mixing the alphabet, capitals and foreign characters."""
    if isinstance(alphabet, dict):  # WordPiece: mixed case, punctuation, non-ASCII, empty
        from pipelines.text import CHECK_TEXTS

        return np.array([CHECK_TEXTS[i % len(CHECK_TEXTS)] for i in range(count)], dtype=object)
    rng = np.random.default_rng(0)
    characters = list(alphabet) + list(alphabet.upper()) + ["~", "\u00e9", "\u00c9"]
    return np.array(
        ["".join(rng.choice(characters, rng.integers(0, 60))) for _ in range(count)],
        dtype=object,
    )


def serving_function(spec, core, strings, text_inputs=None):
    """A tf.function: positional raw inputs -> {name: tensor}, with class outputs added.

    Inputs named in `text_inputs` ({name: alphabet}) take raw strings and are encoded here.
    """
    labels = tf.constant(spec.labels) if (strings and spec.classifier) else None
    text_inputs = text_inputs or {}
    signature = [
        tf.TensorSpec((None,), tf.string, name=s.name) if s.name in text_inputs else s
        for s in spec.tensor_specs
    ]
    lengths = {s.name: s.shape[1] for s in spec.tensor_specs if s.name in text_inputs}

    def serve(*args):
        named = {
            name: encode_strings(arg, text_inputs[name], lengths[name])
            if name in text_inputs
            else arg
            for name, arg in zip(spec.input_names, args)
        }
        outputs = {
            name: tf.cast(value, tf.float32) if value.dtype.is_floating else value
            for name, value in core(named).items()
        }
        if spec.classifier:
            class_id = tf.argmax(outputs[CLASSIFIER_OUTPUT], axis=-1, output_type=tf.int64)
            outputs[CLASS_ID] = class_id
            if labels is not None:
                outputs[CLASS_LABEL] = tf.gather(labels, class_id)
        return outputs

    return tf.function(serve, input_signature=signature, autograph=False)


def core_function(model, spec, archive):
    """{input name: tf tensor} -> {output name: tf tensor}, on the current Keras backend."""
    if keras.backend.backend() == "tensorflow":

        def core(inputs):
            return named_outputs(spec, model(model_inputs(spec, inputs), training=False))

        return core
    # JAX: convert a stateless call with jax2tf; the variables are the archive's tf copies.
    import jax
    from jax.experimental import jax2tf

    trainable = list(archive.trainable_variables)
    non_trainable = list(archive.non_trainable_variables)

    def stateless(trainable_values, non_trainable_values, inputs):
        outputs, _ = model.stateless_call(
            trainable_values, non_trainable_values, model_inputs(spec, inputs), training=False
        )
        return named_outputs(spec, outputs)

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

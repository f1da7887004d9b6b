"""Writes the golden outputs of the shipped weights: tests/golden/NAME.npz per shipped entry.

Each file holds a seeded input (3 samples, `np.random.default_rng(0)`, shaped and ranged like
the entry's real inputs: pixels in the image's range, waveforms at speech loudness, character
ids with padding, tabular and series values drawn from the mean and variance the model's
"normalize" layer was adapted to), the outputs of the shipped weights on it (computed on
the TensorFlow backend), and the sha256 of those weights. `tests/backend_check.py` (run by
tests/test_backends.py on TensorFlow, JAX and PyTorch) checks every file against the
shipped weights within `ATOL` (absolute), with no dataset needed.

Float inputs are stored as float16 values (exactly representable in float32) to keep the
files small.

Regenerate after publishing new weights (all entries, or the ones named):

    KERAS_BACKEND=tensorflow python tests/golden/make_golden.py [NAME ...]
"""

import os
import pathlib
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import zoo  # noqa: E402
from zoo.weights import read_manifest  # noqa: E402

GOLDEN = pathlib.Path(__file__).resolve().parent
SAMPLES = 3
SEED = 0
ATOL = 1e-4  # |backend output - golden output|, absolute
PIXEL_RANGE = {"cnn-digits": 16.0}  # sklearn digits are 0..16; the other images 0..255


def _normal_like_normalize(model, shape, rng, layer_name="normalize"):
    """Draws from the per-feature mean and variance the model's "normalize" layer holds."""
    layer = model.get_layer(layer_name)
    mean = np.asarray(layer.mean, "float64").reshape(-1)
    std = np.sqrt(np.asarray(layer.variance, "float64").reshape(-1))
    if mean.size == int(np.prod(shape)) and len(shape) > 1:  # normalised per cell (driving)
        mean, std = mean.reshape(shape), std.reshape(shape)
    return rng.normal(mean, std, (SAMPLES,) + tuple(shape))


GRAPH_INPUTS = ("node_features", "edge_index", "edge_weight", "node_mask")
GRAPH_EDGES = 64  # edges per golden graph


def _graph_input(kind, shape, inputs, rng):
    """Random graphs: standard normal features, edges between real nodes, weights in [0.5, 3]."""
    if kind == "node_features":
        return rng.normal(0.0, 1.0, (SAMPLES,) + shape)
    if kind == "node_mask":  # the first nodes are real, the rest padding
        mask = np.zeros((SAMPLES,) + shape)
        for row, count in enumerate(rng.integers(shape[0] // 2, shape[0] + 1, SAMPLES)):
            mask[row, :count] = 1.0
        return mask
    if kind == "edge_index":
        return rng.integers(0, inputs["node_features"].shape[1], (SAMPLES, GRAPH_EDGES, 2))
    return rng.uniform(0.5, 3.0, (SAMPLES, GRAPH_EDGES))


def golden_inputs(name, model):
    """{input name: array (SAMPLES, ...)}: a seeded input shaped and ranged like real data."""
    rng = np.random.default_rng(SEED)
    inputs = {}
    # Graph inputs: node features first (the edges are drawn among its nodes).
    for tensor in sorted(model.inputs, key=lambda tensor: tensor.name != "node_features"):
        shape = tuple(tensor.shape[1:])
        kind = tensor.name
        if kind in ("image", "mask"):  # fully convolutional models (issue 9): 24x24 here
            shape = tuple(24 if d is None else d for d in shape)
        if kind == "mask":  # inpainting holes: 1 in a hole, 0 elsewhere
            x = (rng.uniform(0.0, 1.0, (SAMPLES,) + shape) < 0.2).astype("float64")
        elif kind == "image":
            top = PIXEL_RANGE.get(name, 255.0)
            x = np.round(rng.uniform(0.0, top, (SAMPLES,) + shape))
        elif kind == "noise":  # generators (issue 9): standard-normal noise
            x = rng.normal(0.0, 1.0, (SAMPLES,) + shape)
        elif kind == "label":  # the class ids of a conditional generator
            x = rng.integers(0, 10, (SAMPLES,) + shape)
        elif kind == "audio":
            # Speech loudness: RMS about 0.05 (the datasets' TARGET_RMS); a silent first clip.
            x = np.clip(rng.normal(0.0, 0.05, (SAMPLES,) + shape), -1.0, 1.0)
            x[0] = 0.0
        elif kind == "text":
            vocabulary = model.get_layer("char_embedding").input_dim
            x = rng.integers(2, vocabulary, (SAMPLES,) + shape)
            for row, length in enumerate(rng.integers(1, shape[0] + 1, SAMPLES)):
                x[row, length:] = 0  # padding after the text
        elif kind == "token_ids":  # WordPiece ids (issue 8): [START] (2), text, padding
            layer = model.get_layer("embedding")
            vocabulary = getattr(layer, "vocabulary_size", None) or layer.input_dim
            x = rng.integers(3, vocabulary, (SAMPLES,) + shape)
            x[:, 0] = 2
            for row, length in enumerate(rng.integers(1, shape[0] + 1, SAMPLES)):
                x[row, length:] = 0
        elif kind in GRAPH_INPUTS:
            x = _graph_input(kind, shape, inputs, rng)
        elif kind == "frames":  # speaker-id: LPC cepstra, zero frames after each utterance
            x = _normal_like_normalize(model, shape, rng)
            for row, length in enumerate(rng.integers(7, shape[0] + 1, SAMPLES)):
                x[row, length:] = 0.0
        elif kind in ("features", "series", "observation"):
            x = _normal_like_normalize(model, shape, rng)
            if name == "mlp-breast-cancer":
                x = np.abs(x)  # the breast cancer measurements are non-negative
        elif kind in ("user_id", "item_id"):
            # Ids 1..count of the Embedding layers this input feeds (0 is never a real id).
            count = min(
                layer.input_dim
                for layer in model.layers
                if isinstance(layer, keras.layers.Embedding) and layer.input.name == kind
            )
            x = rng.integers(1, count, (SAMPLES,) + shape)
        elif kind in ("user_features", "item_features"):
            x = _normal_like_normalize(model, shape, rng, f"{kind.split('_')[0]}_normalize")
        elif any(layer.name == f"normalize_{kind}" for layer in model.layers):
            # A numeric column of a tabular model with one input per column (finance).
            x = _normal_like_normalize(model, shape, rng, f"normalize_{kind}")
        elif any(layer.name == f"embed_{kind}" for layer in model.layers):
            # A categorical column: ids 0 (outside the vocabulary) .. V.
            x = rng.integers(0, model.get_layer(f"embed_{kind}").input_dim, (SAMPLES,) + shape)
        else:
            raise ValueError(f"{name}: no golden input rule for the input {kind!r}")
        dtype = keras.backend.standardize_dtype(tensor.dtype)
        if dtype.startswith("float"):
            x = x.astype("float16").astype("float32")
        inputs[kind] = x.astype(dtype)
    return inputs


def model_inputs(model, inputs):
    """What `model.predict` takes: the array of a one-input model, else the dict."""
    return inputs[model.inputs[0].name] if len(model.inputs) == 1 else inputs


def flatten(model, output):
    """{output name: array} of a model output (an array or a dict of arrays)."""
    if isinstance(output, dict):
        return {key: np.asarray(value) for key, value in output.items()}
    return {model.output_names[0]: np.asarray(output)}


def write(name):
    row = read_manifest()[name]
    model = zoo.get(name)
    inputs = golden_inputs(name, model)
    outputs = flatten(
        model, model.predict(model_inputs(model, inputs), batch_size=SAMPLES, verbose=0)
    )
    arrays = {
        f"input/{key}": value.astype("float16") if value.dtype == np.float32 else value
        for key, value in inputs.items()
    }
    arrays.update({f"output/{key}": value for key, value in outputs.items()})
    arrays["sha256"] = np.array(row["sha256"])
    arrays["backend"] = np.array(keras.backend.backend())
    path = GOLDEN / f"{name}.npz"
    np.savez_compressed(path, **arrays)
    print(
        f"{path.name}: inputs {sorted(inputs)}, outputs "
        f"{ {k: v.shape for k, v in outputs.items()} }, {path.stat().st_size:,} bytes"
    )


def main(names):
    shipped = sorted(read_manifest())
    unknown = sorted(set(names) - set(shipped))
    if unknown:
        raise SystemExit(f"error: no shipped weights for {unknown}; shipped: {shipped}")
    for name in names or shipped:
        write(name)


if __name__ == "__main__":
    main(sys.argv[1:])

"""Inference latency of cnn-fashion-mnist: ONNX Runtime, SavedModel, model.predict, model(x).

The model is exported with `pipelines.export.export_model` (both formats, verified by the
exporter) into a temporary directory. Each runner is called on real Fashion-MNIST test images
(batch 1 and batch 256; NumPy in, NumPy probabilities out), warmed up, then timed call by
call; the table gives the median and the 90th percentile in milliseconds.

Runners:
    onnxruntime                  InferenceSession(CPUExecutionProvider).run
    SavedModel serving_default   tf.saved_model.load(...).signatures["serving_default"]
    model.predict                model.predict(x, batch_size=len(x), verbose=0) (one batch)
    model.predict (batch 32)     model.predict(x, verbose=0) with Keras' default batch_size
    model(x, training=False)     direct eager call, output converted to NumPy

Shipped weights are used when zoo/weights/manifest.json has the entry, else a random init
(latency does not depend on the weight values).

Run (from the repository root):

    flock /tmp/zoo-heavy.lock env PYTHONPATH=. python bench/export_latency.py
"""

import argparse
import tempfile

import keras
import numpy as np
import onnxruntime
import tensorflow as tf
from common import fashion_mnist, header, latencies, percentile, table  # noqa: I001 (sets sys.path)

import zoo
from pipelines.export import SIGNATURE_KEY, export_model

NAME = "cnn-fashion-mnist"


def timed(function, x, warmup, repeats):
    times = latencies(function, x, repeats, warmup)
    return 1000 * percentile(times, 50), 1000 * percentile(times, 90)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 256])
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=100)
    args = parser.parse_args()

    header("inference latency of cnn-fashion-mnist")
    shipped = NAME in zoo.weights.read_manifest()
    model = zoo.get(NAME, weights="pretrained" if shipped else None)
    print(
        f"weights: {'shipped (manifest)' if shipped else 'random init (none shipped)'}; "
        f"{args.warmup} warm-up calls, {args.repeats} timed calls per cell\n",
        flush=True,
    )
    images = np.ascontiguousarray(fashion_mnist().X_test[: max(args.batches)], "float32")

    with tempfile.TemporaryDirectory() as directory:
        onnx_report = export_model(model, directory, format="onnx")
        saved_report = export_model(model, directory, format="saved_model")
        session = onnxruntime.InferenceSession(
            onnx_report["path"], providers=["CPUExecutionProvider"]
        )
        serving = tf.saved_model.load(saved_report["path"]).signatures[SIGNATURE_KEY]
        (input_name,) = onnx_report["inputs"]

        runners = {
            "onnxruntime": lambda x: session.run(["probabilities"], {input_name: x})[0],
            "SavedModel serving_default": lambda x: serving(**{input_name: tf.constant(x)})[
                "probabilities"
            ].numpy(),
            "model.predict": lambda x: model.predict(x, batch_size=len(x), verbose=0),
            "model.predict (batch_size 32)": lambda x: model.predict(x, verbose=0),
            "model(x, training=False)": lambda x: keras.ops.convert_to_numpy(
                model(x, training=False)
            ),
        }
        reference = model.predict(images, verbose=0)
        for name, runner in runners.items():  # all runners agree before anything is timed
            np.testing.assert_allclose(runner(images), reference, atol=1e-4, err_msg=name)
        rows = []
        for name, runner in runners.items():
            row = [name]
            for batch in args.batches:
                median, p90 = timed(runner, images[:batch], args.warmup, args.repeats)
                row += [f"{median:.2f}", f"{p90:.2f}"]
            rows.append(row)
            print(f"done: {name}", flush=True)
    print()
    headers = ["runner"]
    for batch in args.batches:
        headers += [f"batch {batch} median ms", f"batch {batch} p90 ms"]
    table(headers, rows)


if __name__ == "__main__":
    main()

"""Load test of the model server (`python cli.py serve`) against the in-process call.

cnn-fashion-mnist is exported once (SavedModel and ONNX, verified by the exporter) into a
temporary directory; for each runtime, a server (`--runtime saved_model|onnx --exports DIR`,
gRPC off) is started on a free 127.0.0.1 port and loaded by V1 `:predict` requests carrying
real Fashion-MNIST test images (`{"instances": [...]}`, bodies encoded before the clock):

    sequential   1 client, batch 1 and batch 32
    concurrent   8 client threads sharing a connection pool, batch 1 and batch 32

Each scenario is bounded by a request count and a time limit. Every answer is checked: a
non-200 status, or probabilities more than 1e-5 from the in-process result, is an error.
The in-process baseline calls the same artifact the server loads (the SavedModel's
`serving_default` signature, or the onnxruntime session) on the same NumPy batch, one call
at a time. Latency is per request (client send to parsed answer), milliseconds;
throughput is requests/s and samples/s over the scenario's wall time. Clients and server
share the machine's cores, as on the 2-core project machine.

Run (from the repository root):

    flock /tmp/zoo-heavy.lock env PYTHONPATH=. python bench/serve_load.py
"""

import argparse
import concurrent.futures
import json
import tempfile
import time

import numpy as np
from common import fashion_mnist, header, latencies, percentile, table  # noqa: I001 (sets sys.path)

import zoo
from pipelines.export import export_model
from pipelines.serving import ServerProcess
from zoo.weights import read_manifest

NAME = "cnn-fashion-mnist"


def in_process_runner(runtime, path):
    """NumPy batch -> probabilities, by the artifact the server loads."""
    if runtime == "onnx":
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1  # as the server's OnnxRuntime
        session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        return lambda x: session.run(["probabilities"], {"image": x})[0]
    import tensorflow as tf

    function = tf.saved_model.load(path).signatures["serving_default"]
    return lambda x: function(image=tf.constant(x))["probabilities"].numpy()


def load(client, url, bodies, expected, clients, requests, max_seconds):
    """Sends `requests` requests from `clients` threads; returns latencies, errors, wall."""
    deadline = time.monotonic() + max_seconds

    def one(i):
        if time.monotonic() > deadline:
            return None
        k = i % len(bodies)
        start = time.perf_counter()
        response = client.post(url, content=bodies[k], headers={"Content-Type": "application/json"})
        ok = response.status_code == 200
        if ok:
            got = np.array([p["probabilities"] for p in response.json()["predictions"]])
            ok = got.shape == expected[k].shape and bool(np.all(np.abs(got - expected[k]) <= 1e-5))
        return time.perf_counter() - start, ok

    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        results = [r for r in pool.map(one, range(requests)) if r is not None]
    wall = time.perf_counter() - start
    return [t for t, _ in results], sum(not ok for _, ok in results), wall


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=400, help="per batch-1 scenario")
    parser.add_argument("--batch-requests", type=int, default=100, help="per batch-32 scenario")
    parser.add_argument("--max-seconds", type=float, default=60, help="per scenario")
    parser.add_argument("--runtimes", nargs="+", default=["saved_model", "onnx"])
    args = parser.parse_args()
    import httpx

    header("Model server load test: V1 :predict over HTTP vs the in-process call")
    images = fashion_mnist().X_test[:256].astype("float32")
    model = zoo.get(NAME)
    labels = read_manifest()[NAME]["class_names"]
    exports = tempfile.mkdtemp(prefix="serve-load-")
    paths = {
        runtime: export_model(model, exports, format=runtime, labels=labels, name=NAME)["path"]
        for runtime in args.runtimes
    }
    rows = []
    for runtime in args.runtimes:
        run = in_process_runner(runtime, paths[runtime])
        batches = {
            1: [images[i : i + 1] for i in range(64)],
            32: [images[i : i + 32] for i in range(0, 224, 32)],
        }
        expected = {b: [run(x) for x in xs] for b, xs in batches.items()}
        bodies = {
            b: [json.dumps({"instances": x.tolist()}).encode() for x in xs]
            for b, xs in batches.items()
        }
        with ServerProcess(
            [NAME], args=["--runtime", runtime, "--exports", exports, "--grpc-port", 0]
        ) as server:
            url = f"{server.url}/v1/models/{NAME}:predict"
            limits = httpx.Limits(max_connections=16, max_keepalive_connections=16)
            with httpx.Client(timeout=60, limits=limits) as client:
                load(client, url, bodies[1], expected[1], 1, 20, 30)  # warm-up
                for batch, count in ((1, args.requests), (32, args.batch_requests)):
                    base = latencies(run, batches[batch][0], min(count, 200))
                    base_median = 1000 * percentile(base, 50)
                    rows.append(
                        (runtime, "in-process", batch, len(base), f"{base_median:.2f}",
                         f"{1000 * percentile(base, 99):.2f}", f"{len(base) / sum(base):.0f}",
                         f"{batch * len(base) / sum(base):.0f}", 0, "")
                    )  # fmt: skip
                    for clients in (1, 8):
                        times, errors, wall = load(
                            client, url, bodies[batch], expected[batch], clients, count,
                            args.max_seconds,
                        )  # fmt: skip
                        median = 1000 * percentile(times, 50)
                        rows.append(
                            (runtime, f"HTTP, {clients} client{'s' if clients > 1 else ''}",
                             batch, len(times), f"{median:.2f}",
                             f"{1000 * percentile(times, 99):.2f}", f"{len(times) / wall:.0f}",
                             f"{batch * len(times) / wall:.0f}", errors,
                             f"{median - base_median:+.2f}" if clients == 1 else "")
                        )  # fmt: skip
    table(
        ["runtime", "caller", "batch", "requests", "median ms", "p99 ms", "requests/s",
         "samples/s", "errors", "median - in-process (ms)"],
        rows,
    )  # fmt: skip


if __name__ == "__main__":
    main()

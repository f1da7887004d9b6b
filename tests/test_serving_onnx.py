"""The model server on the ONNX runtime (onnxruntime), from `cli.py export` artifacts, with
two worker processes sharing the HTTP port; the serve command's argument errors.

One server for the module, stopped at its end.
"""

import json
import os
import pathlib
import subprocess
import sys

import httpx
import numpy as np
import psutil
import pytest

import zoo
from pipelines.serving import ServerProcess

ROOT = pathlib.Path(__file__).resolve().parents[1]
NAMES = ["mlp-breast-cancer", "cnn-digits"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from pipelines.export import export_model
    from zoo.weights import read_manifest

    exports = tmp_path_factory.mktemp("exports")
    for name in NAMES:
        labels = read_manifest()[name]["class_names"]
        export_model(zoo.get(name), exports, format="onnx", labels=labels, name=name)
    args = ["--runtime", "onnx", "--exports", exports, "--grpc-port", 0, "--workers", 2]
    with ServerProcess(NAMES, args=args) as running:
        running.workers = psutil.Process(running.process.pid).children()
        yield running
    assert running.process.poll() is not None
    assert not any(worker.is_running() for worker in running.workers)


def test_onnx_runtime_matches_keras_and_checks_requests(server, breast_cancer, digits):
    assert len(server.workers) == 2
    with httpx.Client(base_url=server.url, timeout=60) as client:
        for name, x in (
            ("mlp-breast-cancer", breast_cancer.X_test[:6]),
            ("cnn-digits", digits.X_test[:6]),
        ):
            x = np.asarray(x, dtype="float32")
            expected = zoo.get(name).predict(x, verbose=0)
            response = client.post(
                f"/v1/models/{name}:predict",
                content=json.dumps({"instances": x.tolist()}),
                headers={"Content-Type": "application/json"},
            )
            assert response.status_code == 200, response.text
            predictions = response.json()["predictions"]
            got = np.array([p["probabilities"] for p in predictions])
            np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)
            labels = zoo.info(name)["weights"]["class_names"]
            assert [p["class"] for p in predictions] == [labels[i] for i in expected.argmax(-1)]
        metadata = client.get("/v1/models/cnn-digits/metadata").json()
        assert metadata["runtime"] == "OnnxRuntime"
        bad = client.post(
            "/v1/models/cnn-digits:predict",
            content=json.dumps({"instances": [[1.0, 2.0]]}),
            headers={"Content-Type": "application/json"},
        )
        assert bad.status_code == 400 and bad.json()["input"] == "image", bad.text


def serve_cli(*args):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, str(ROOT / "cli.py"), "serve", *map(str, args)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (["cnn-digit"], "cnn-digits"),  # did you mean
        (["cnn-digits", "--http-port", "9000", "--grpc-port", "9000"], "must differ"),
        (["cnn-digits", "--exports", "/nonexistent"], "python cli.py export cnn-digits"),
    ],
)
def test_serve_argument_errors_are_one_line(args, message):
    result = serve_cli(*args)
    assert result.returncode == 2, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("error: ") and message in lines[-1], result.stderr[-2000:]
    assert "Traceback" not in result.stderr


def test_deploy_files_run_the_serve_command():
    import yaml

    import cli

    manifest = yaml.safe_load((ROOT / "deploy" / "inferenceservice.yaml").read_text())
    container = manifest["spec"]["predictor"]["containers"][0]
    assert container["command"] == ["python", "cli.py", "serve"]
    args = cli.build_parser().parse_args(["serve", *container["args"]])
    assert args.host == "0.0.0.0" and args.http_port == container["ports"][0]["containerPort"]
    assert all(zoo.get_entry(name) for name in args.names)
    containerfile = (ROOT / "deploy" / "Containerfile").read_text()
    assert 'pip install --no-cache-dir -e ".[serve]"' in containerfile
    assert "cli.py serve $MODELS --exports /models --host 0.0.0.0" in containerfile

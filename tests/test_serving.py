"""The model server (`python cli.py serve`, KServe): a real server on 127.0.0.1, real HTTP and
gRPC requests, predictions compared with `zoo.get(NAME).predict`, the malformed-request
catalogue, and a burst of mixed good and bad requests.

One server (SavedModel runtime) serves an image, a tabular, a several-input and a text entry
for the whole module and is stopped at its end.
"""

import concurrent.futures
import json

import httpx
import numpy as np
import pytest

import zoo
from datasets.speech_text import ALPHABET
from pipelines.export import encode_texts
from pipelines.serving import ServerProcess

NAMES = ["cnn-fashion-mnist", "mlp-breast-cancer", "av-mnist-fusion", "speech-text-retrieval"]
MAX_BATCH = 64
MAX_BODY = 2_000_000
TOL = 1e-5


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    log = tmp_path_factory.mktemp("serve") / "server.log"
    args = ["--max-batch", MAX_BATCH, "--max-body-bytes", MAX_BODY]
    with ServerProcess(NAMES, args=args, log_path=str(log)) as running:
        yield running
        assert running.process.poll() is None, running.log_tail()
    assert running.process.poll() is not None  # stopped


@pytest.fixture(scope="module")
def client(server):
    with httpx.Client(
        base_url=server.url, timeout=60, limits=httpx.Limits(max_connections=16)
    ) as c:
        yield c


@pytest.fixture(scope="module")
def models():
    return {name: zoo.get(name) for name in NAMES}


def predict_in_process(model, x):
    outputs = model.predict(x, verbose=0)
    return outputs if isinstance(outputs, dict) else {"probabilities": outputs}


def post(client, path, body):
    return client.post(path, content=json.dumps(body), headers={"Content-Type": "application/json"})


def close(got, expected):
    got = np.asarray(got, dtype="float64")
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=TOL, rtol=0)


def test_v1_image_row_and_columnar_forms_match_keras(client, models):
    x = np.random.default_rng(0).uniform(0, 255, (3, 28, 28)).astype("float32")
    expected = predict_in_process(models["cnn-fashion-mnist"], x)["probabilities"]
    response = post(client, "/v1/models/cnn-fashion-mnist:predict", {"instances": x.tolist()})
    assert response.status_code == 200, response.text
    predictions = response.json()["predictions"]
    close([p["probabilities"] for p in predictions], expected)
    assert [p["class_id"] for p in predictions] == list(np.argmax(expected, axis=-1))
    labels = zoo.info("cnn-fashion-mnist")["weights"]["class_names"]
    assert [p["class"] for p in predictions] == [labels[p["class_id"]] for p in predictions]
    columnar = post(
        client,
        "/v1/models/cnn-fashion-mnist:predict",
        {"signature_name": "serving_default", "inputs": {"image": x.tolist()}},
    )
    assert columnar.status_code == 200, columnar.text
    close(columnar.json()["outputs"]["probabilities"], expected)


def test_v1_tabular_matches_keras(client, models, breast_cancer):
    x = breast_cancer.X_test[:5].astype("float32")
    expected = predict_in_process(models["mlp-breast-cancer"], x)["probabilities"]
    response = post(client, "/v1/models/mlp-breast-cancer:predict", {"inputs": x.tolist()})
    assert response.status_code == 200, response.text
    close(response.json()["outputs"]["probabilities"], expected)
    labels = zoo.info("mlp-breast-cancer")["weights"]["class_names"]
    assert response.json()["outputs"]["class"] == [labels[i] for i in expected.argmax(-1)]


def test_v1_several_inputs_match_keras(client, models):
    rng = np.random.default_rng(1)
    image = rng.uniform(0, 255, (2, 28, 28)).astype("float32")
    audio = rng.normal(0, 0.1, (2, 8000)).astype("float32")
    expected = predict_in_process(models["av-mnist-fusion"], {"image": image, "audio": audio})
    instances = [{"image": image[i].tolist(), "audio": audio[i].tolist()} for i in range(2)]
    response = post(client, "/v1/models/av-mnist-fusion:predict", {"instances": instances})
    assert response.status_code == 200, response.text
    close([p["probabilities"] for p in response.json()["predictions"]], expected["probabilities"])
    columnar = post(
        client,
        "/v1/models/av-mnist-fusion:predict",
        {"inputs": {"image": image.tolist(), "audio": audio.tolist()}},
    )
    close(columnar.json()["outputs"]["probabilities"], expected["probabilities"])


def test_v1_raw_strings_match_keras(client, models):
    texts = ["Please enter your PIN.", "goodbye", "Thank you for calling!"]
    audio = np.random.default_rng(2).normal(0, 0.1, (3, 24000)).astype("float32")
    ids = encode_texts(texts, ALPHABET, 40)
    expected = predict_in_process(models["speech-text-retrieval"], {"audio": audio, "text": ids})
    instances = [{"audio": audio[i].tolist(), "text": texts[i]} for i in range(3)]
    response = post(client, "/v1/models/speech-text-retrieval:predict", {"instances": instances})
    assert response.status_code == 200, response.text
    predictions = response.json()["predictions"]
    for key in ("audio_embedding", "text_embedding"):
        close([p[key] for p in predictions], expected[key])


def test_v2_rest_and_grpc_match_keras(server, client, models, breast_cancer):
    import grpc
    from kserve.protocol.grpc import grpc_predict_v2_pb2 as pb
    from kserve.protocol.grpc import grpc_predict_v2_pb2_grpc as pb_grpc

    x = breast_cancer.X_test[:4].astype("float32")
    expected = predict_in_process(models["mlp-breast-cancer"], x)["probabilities"]
    body = {
        "inputs": [
            {"name": "features", "shape": [4, 30], "datatype": "FP32", "data": x.ravel().tolist()}
        ]
    }
    response = post(client, "/v2/models/mlp-breast-cancer/infer", body)
    assert response.status_code == 200, response.text
    outputs = {o["name"]: o for o in response.json()["outputs"]}
    close(np.reshape(outputs["probabilities"]["data"], outputs["probabilities"]["shape"]), expected)

    with grpc.insecure_channel(server.grpc_target) as channel:
        stub = pb_grpc.GRPCInferenceServiceStub(channel)
        assert stub.ServerReady(pb.ServerReadyRequest(), timeout=30).ready
        request = pb.ModelInferRequest(
            model_name="mlp-breast-cancer",
            inputs=[
                pb.ModelInferRequest.InferInputTensor(
                    name="features",
                    datatype="FP32",
                    shape=[4, 30],
                    contents=pb.InferTensorContents(fp32_contents=x.ravel().tolist()),
                )
            ],
        )
        reply = stub.ModelInfer(request, timeout=30)
        names = [o.name for o in reply.outputs]
        index = names.index("probabilities")
        tensor = reply.outputs[index]
        if reply.raw_output_contents:
            values = np.frombuffer(reply.raw_output_contents[index], dtype="float32")
        else:
            values = np.asarray(tensor.contents.fp32_contents)
        close(values.reshape(list(tensor.shape)), expected)
        tensor = pb.ModelInferRequest.InferInputTensor
        bad = {
            "mis-shaped": (
                "mlp-breast-cancer",
                [tensor(name="features", datatype="FP32", shape=[1, 3],
                        contents=pb.InferTensorContents(fp32_contents=[1.0, 2.0, 3.0]))],
            ),
            "strings for numbers": (
                "mlp-breast-cancer",
                [tensor(name="features", datatype="BYTES", shape=[1, 30],
                        contents=pb.InferTensorContents(bytes_contents=[b"a"] * 30))],
            ),
            "missing input": (
                "av-mnist-fusion",
                [tensor(name="image", datatype="FP32", shape=[1, 28, 28],
                        contents=pb.InferTensorContents(fp32_contents=[0.0] * 784))],
            ),
            "batch over the limit": (
                "mlp-breast-cancer",
                [tensor(name="features", datatype="FP32", shape=[MAX_BATCH + 1, 30],
                        contents=pb.InferTensorContents(
                            fp32_contents=[0.0] * 30 * (MAX_BATCH + 1)))],
            ),
        }  # fmt: skip
        for case, (model_name, inputs) in bad.items():
            with pytest.raises(grpc.RpcError) as caught:
                stub.ModelInfer(
                    pb.ModelInferRequest(model_name=model_name, inputs=inputs), timeout=30
                )
            assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, case
            expected_input = "audio" if case == "missing input" else "features"
            assert expected_input in caught.value.details(), (case, caught.value.details())
        with pytest.raises(grpc.RpcError) as caught:
            stub.ModelInfer(pb.ModelInferRequest(model_name="no-such-model"), timeout=30)
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND
        assert stub.ModelReady(pb.ModelReadyRequest(name="mlp-breast-cancer"), timeout=30).ready


def test_health_metadata_and_metrics(client):
    assert client.get("/v2/health/live").status_code == 200
    assert client.get("/v2/health/ready").status_code == 200
    assert client.get("/v1/models/av-mnist-fusion").json()["ready"] is True
    metadata = client.get("/v1/models/av-mnist-fusion/metadata").json()
    signature = metadata["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert signature["inputs"]["audio"]["tensor_shape"]["dim"][1] == {"size": "8000"}
    assert signature["inputs"]["image"]["dtype"] == "DT_FLOAT"
    assert {"probabilities", "class_id", "class"} <= set(signature["outputs"])
    v2 = client.get("/v2/models/speech-text-retrieval").json()
    assert {i["name"]: i["datatype"] for i in v2["inputs"]} == {"audio": "FP32", "text": "BYTES"}
    assert client.get("/v1/models/no-such-model/metadata").status_code == 404
    metrics = client.get("/metrics")
    assert metrics.status_code == 200
    assert 'request_predict_seconds_count{model_name="mlp-breast-cancer"}' in metrics.text


ROW = [1.0] * 30
IMAGE = [[0.0] * 28] * 28


def bad_requests():
    """(id, path, headers, body bytes, status, input named in the error or None)."""
    json_type = {"Content-Type": "application/json"}
    bc = "/v1/models/mlp-breast-cancer:predict"
    av = "/v1/models/av-mnist-fusion:predict"
    st = "/v1/models/speech-text-retrieval:predict"
    dumps = lambda body: json.dumps(body).encode()  # noqa: E731
    ragged = [[0.0] * 28] * 27 + [[0.0] * 27]
    return [
        ("wrong key", bc, json_type, dumps({"instances": [{"feature": ROW}]}), 400, "feature"),
        ("wrong key v2", "/v2/models/mlp-breast-cancer/infer", json_type,
         dumps({"inputs": [{"name": "x", "shape": [1, 30], "datatype": "FP32", "data": ROW}]}),
         400, "x"),
        ("missing input", av, json_type, dumps({"instances": [{"image": IMAGE}]}), 400, "audio"),
        ("ragged rows", "/v1/models/cnn-fashion-mnist:predict", json_type,
         dumps({"instances": [ragged]}), 400, "image"),
        ("ragged columns", bc, json_type, dumps({"inputs": [ROW, ROW[:29]]}), 400, "features"),
        ("mis-shaped", bc, json_type, dumps({"instances": [ROW[:29]]}), 400, "features"),
        ("one sample, no batch", bc, json_type, dumps({"inputs": 3.0}), 400, "features"),
        ("strings for numbers", bc, json_type, dumps({"instances": [["a"] * 30]}), 400, "features"),
        ("booleans for numbers", bc, json_type, dumps({"instances": [[True] * 30]}), 400,
         "features"),
        ("nulls for numbers", bc, json_type, dumps({"instances": [[None] * 30]}), 400, "features"),
        ("numbers for strings", st, json_type,
         dumps({"instances": [{"audio": [0.0] * 24000, "text": 5}]}), 400, "text"),
        ("wrong dtype v2", "/v2/models/mlp-breast-cancer/infer", json_type,
         dumps({"inputs": [{"name": "features", "shape": [1, 30], "datatype": "BYTES",
                            "data": ROW}]}), 400, "features"),
        ("v2 shape and data disagree", "/v2/models/mlp-breast-cancer/infer", json_type,
         dumps({"inputs": [{"name": "features", "shape": [2, 30], "datatype": "FP32",
                            "data": ROW}]}), 400, "features"),
        ("out of float32 range", bc, json_type, dumps({"instances": [[1e39] * 30]}), 400,
         "features"),
        ("empty batch", bc, json_type, dumps({"instances": []}), 400, "features"),
        ("empty columnar batch", bc, json_type, dumps({"inputs": []}), 400, "features"),
        ("batch over the limit", bc, json_type, dumps({"inputs": [ROW] * (MAX_BATCH + 1)}), 400,
         "features"),
        ("different batch sizes", av, json_type,
         dumps({"inputs": {"image": [IMAGE], "audio": [[0.0] * 8000] * 2}}), 400, "image"),
        ("body over the limit", bc, json_type, b'{"inputs": [' + b"0," * MAX_BODY + b"0]}", 413,
         None),
        ("no content type", bc, {}, dumps({"instances": [ROW]}), 415, None),
        ("wrong content type", bc, {"Content-Type": "text/plain"}, dumps({"instances": [ROW]}),
         415, None),
        ("bad JSON", bc, json_type, b'{"instances": [[1.0, 2.0', 400, None),
        ("not UTF-8", bc, json_type, b'{"instances": "\xff\xfe"}', 400, None),
        ("JSON array", bc, json_type, dumps([ROW]), 400, None),
        ("both forms", bc, json_type, dumps({"instances": [ROW], "inputs": [ROW]}), 400, None),
        ("unknown signature", bc, json_type,
         dumps({"signature_name": "predict", "instances": [ROW]}), 400, None),
        ("unknown model", "/v1/models/no-such-model:predict", json_type,
         dumps({"instances": [ROW]}), 404, None),
        ("unknown model v2", "/v2/models/no-such-model/infer", json_type,
         dumps({"inputs": []}), 404, None),
        ("model version", "/v2/models/mlp-breast-cancer/versions/2/infer", json_type,
         dumps({"inputs": []}), 404, None),
        ("explain", "/v1/models/mlp-breast-cancer:explain", json_type,
         dumps({"instances": [ROW]}), 404, None),
        ("v2 id not a string", "/v2/models/mlp-breast-cancer/infer", json_type,
         dumps({"id": 5, "inputs": [{"name": "features", "shape": [1, 30], "datatype": "FP32",
                                     "data": ROW}]}), 400, None),
        ("v2 unknown output", "/v2/models/mlp-breast-cancer/infer", json_type,
         dumps({"inputs": [{"name": "features", "shape": [1, 30], "datatype": "FP32",
                            "data": ROW}], "outputs": [{"name": "logits"}]}), 400, None),
        ("v2 name not a string", "/v2/models/mlp-breast-cancer/infer", json_type,
         dumps({"inputs": [{"name": ["features"], "shape": [1, 30], "datatype": "FP32",
                            "data": ROW}]}), 400, None),
    ]  # fmt: skip


CATALOGUE = bad_requests()


@pytest.mark.parametrize("case", CATALOGUE, ids=[case[0] for case in CATALOGUE])
def test_malformed_requests_get_a_4xx_json_error(client, case):
    _, path, headers, body, status, input_name = case
    response = client.post(path, content=body, headers=headers)  # no header added to raw bytes
    assert response.status_code == status, response.text
    error = response.json()
    assert error["error"]
    assert "expected" in error and "received" in error, error
    if input_name is not None:
        assert error["input"] == input_name, error


def test_burst_of_mixed_requests(client, models, breast_cancer):
    """1,000 requests from 8 threads, every third malformed: no 5xx, every good answer
    right, every bad one a 4xx, and the server healthy afterwards."""
    x = breast_cancer.X_test[:50].astype("float32")
    expected = predict_in_process(models["mlp-breast-cancer"], x)["probabilities"]
    bad = [case for case in CATALOGUE if case[1].startswith("/v1/models/mlp-breast-cancer")]
    bad = [case for case in bad if len(case[3]) < 10_000]

    def send(i):
        if i % 3 == 2:
            _, path, headers, body, status, _ = bad[i % len(bad)]
            response = client.post(path, content=body, headers=headers)
            return "bad", response.status_code == status, response.status_code
        row = i % len(x)
        response = post(
            client, "/v1/models/mlp-breast-cancer:predict", {"instances": [x[row].tolist()]}
        )
        if response.status_code != 200:
            return "good", False, response.status_code
        got = np.asarray(response.json()["predictions"][0]["probabilities"])
        return "good", bool(np.all(np.abs(got - expected[row]) <= TOL)), 200

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(send, range(1000)))
    statuses = [status for _, _, status in results]
    assert not [s for s in statuses if s >= 500]
    assert all(ok for kind, ok, _ in results if kind == "good")
    assert all(ok for kind, ok, _ in results if kind == "bad")
    assert sum(kind == "good" for kind, _, _ in results) == 667
    assert client.get("/v2/health/ready").status_code == 200
    again = post(client, "/v1/models/mlp-breast-cancer:predict", {"instances": [x[0].tolist()]})
    close([again.json()["predictions"][0]["probabilities"]], expected[:1])

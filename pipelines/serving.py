"""Serve zoo entries over HTTP and gRPC with KServe: TF Serving's REST API (V1), the Open
Inference Protocol (V2, REST and gRPC), health, metadata and Prometheus metrics.

One `kserve.ModelServer` hosts one or more entries, each a `kserve.Model` subclass per
runtime: `SavedModelRuntime` (the TF Serving SavedModel, `serving_default` signature) or
`OnnxRuntime` (onnxruntime). The artifacts are the verified exports of
`pipelines.export.export_model`: read from `exports` when given, else exported on the fly
from the shipped weights into a temporary directory (removed when the server stops).
`workers > 1` runs that many server processes on one HTTP socket (`serve_workers`).
`ServerProcess` runs `python cli.py serve` in a subprocess on free loopback ports (tests,
bench/serve_load.py).

Every predict or infer request is checked before it reaches the model (`RequestGuard`, an
ASGI middleware in front of KServe's routes): an unknown model is 404, a body over the size
limit 413, a missing or non-JSON content type 415, and bad JSON, an unknown or missing input,
a ragged or mis-shaped array, strings where numbers belong (or numbers where strings belong),
a wrong dtype, an empty batch or a batch over the limit 400, each with a JSON body

    {"error": "...", "input": "image", "expected": "...", "received": "..."}

(TF Serving's `{"error": ...}` plus the fields). A client's mistake never reaches KServe's
handlers, which would answer some of them with HTTP 500.

Example (a shell; `python cli.py serve` calls `serve`):

    python cli.py serve cnn-fashion-mnist --http-port 8080
    curl -s -H 'Content-Type: application/json' \\
        -d '{"instances": [[[0, 0, ...28 values...], ...28 rows...]]}' \\
        http://127.0.0.1:8080/v1/models/cnn-fashion-mnist:predict
    # {"predictions": [{"probabilities": [...], "class_id": 9, "class": "Ankle boot"}]}

Requests (TF Serving's V1 forms):

    {"instances": [SAMPLE, ...]}                     one input: each instance is a sample
    {"instances": [{"image": ..., "audio": ...}]}    named inputs, one dict per sample
    {"inputs": BATCH} or {"inputs": {"image": BATCH, "audio": BATCH}}   columnar
    "signature_name": "serving_default"              optional, the only signature

Responses: `{"predictions": [...]}` for instances (one value per sample, or a dict of all
named outputs per sample when there are several), `{"outputs": ...}` for inputs.
"""

import asyncio
import contextlib
import math
import os
import re
import sys
import tempfile

import numpy as np
import orjson

SIGNATURE = "serving_default"
RUNTIMES = ("saved_model", "onnx")
MAX_BATCH = 256
MAX_BODY_BYTES = 64 * 1024 * 1024
JSON_TYPES = ("application/json",)
FLOAT_TYPES = ("FP16", "FP32", "FP64")
INT_TYPES = ("INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64")
_V2_DATATYPE = {"float": "FP32", "int": "INT32", "string": "BYTES"}
_TF_DTYPE = {
    "float32": "DT_FLOAT",
    "float64": "DT_DOUBLE",
    "int32": "DT_INT32",
    "int64": "DT_INT64",
}
_V1_PREDICT = re.compile(r"^/v1/models/([^/:]+):predict$")
_V1_METADATA = re.compile(r"^/v1/models/([^/:]+)/metadata$")
_V2_INFER = re.compile(r"^/v2/models/([^/]+)/infer$")
_UNSERVED = re.compile(r"^/v1/models/([^/:]+):explain$|^/v2/models/([^/]+)/versions/([^/]+)/")


def import_kserve():
    """Imports kserve without letting it parse this process's command line.

    `kserve.model_server` reads `sys.argv` when it is imported (its own flags, such as
    `--workers`); the zoo's CLI has flags of its own, so kserve sees an empty command line.
    """
    argv, sys.argv = sys.argv, sys.argv[:1]
    try:
        import kserve
        import kserve.model_server  # noqa: F401
    except ImportError as error:
        raise ValueError(
            f"Serving needs kserve: pip install -e '.[serve]'. Received: ImportError {error}"
        ) from None
    finally:
        sys.argv = argv
    return kserve


class RequestError(Exception):
    """A client's mistake: an HTTP status and a JSON body naming what was wrong.

    Example:

        RequestError(400, "wrong shape", input="image", expected="(n, 28, 28)",
                     received="(1, 28, 27)").body()
    """

    def __init__(self, status, message, input=None, expected=None, received=None):
        super().__init__(message)
        self.status = status
        self.fields = {"input": input, "expected": expected, "received": received}

    def body(self):
        body = {"error": str(self)}
        body.update({key: value for key, value in self.fields.items() if value is not None})
        return body


class InputSpec:
    """One input of an artifact: name, kind ("float", "int" or "string"), NumPy dtype and
    the shape of one sample (None for any size)."""

    def __init__(self, name, kind, dtype, shape):
        self.name, self.kind, self.dtype, self.shape = name, kind, np.dtype(dtype), tuple(shape)

    def describe(self):
        """E.g. "float32 numbers of shape (n, 28, 28)"."""
        dims = ", ".join("any" if d is None else str(d) for d in self.shape)
        shape = f"(n, {dims})" if dims else "(n,)"
        if self.kind == "string":
            return f"strings of shape {shape}"
        return f"{self.dtype.name} numbers of shape {shape}"

    def metadata(self):
        return {
            "name": self.name,
            "datatype": _V2_DATATYPE[self.kind],
            "shape": [-1] + [-1 if d is None else d for d in self.shape],
        }


def _shape_text(shape):
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def _received_kind(array):
    kind = array.dtype.kind
    if kind in "US":
        return "strings"
    if kind == "b":
        return "booleans (true/false)"
    if kind == "f":
        return "floating-point numbers"
    if kind in "iu":
        return "integers"
    return "values that are not numbers (null, objects or mixed types)"


def to_array(spec, value, where, max_batch):
    """Checks one input's batch (nested JSON lists or an ndarray) against `spec`.

    Returns the batch as an ndarray of the input's dtype (strings: an object array of str).
    Raises RequestError (400) naming the input, what was expected and what was received.

    Example:

        to_array(InputSpec("features", "float", "float32", (30,)), [[1.0] * 30], "inputs", 256)
    """
    expected = spec.describe()

    def fail(message, received):
        raise RequestError(
            400, f"{where}: {message}", input=spec.name, expected=expected, received=received
        )

    if isinstance(value, np.ndarray):
        array = value
    else:
        try:
            array = np.asarray(value)
        except (ValueError, TypeError):
            fail("ragged nested lists (rows of different lengths)", "ragged nested lists")
    if array.dtype.kind == "O" and array.size and not isinstance(value, np.ndarray):
        fail(
            "values that are not numbers or strings, or rows of different lengths",
            _received_kind(array),
        )
    if array.ndim == 0:
        fail("expected a batch (a list of samples), not a single value", repr(value)[:80])
    if len(array) == 0:
        fail("the batch is empty", "an empty list")
    if len(array) > max_batch:
        fail(f"the batch is over the limit of {max_batch} samples", f"{len(array)} samples")
    fits = array.ndim == len(spec.shape) + 1 and all(
        d is None or d == a for d, a in zip(spec.shape, array.shape[1:])
    )
    if not fits:
        fail("wrong shape", f"shape {_shape_text(array.shape)}")
    kind = array.dtype.kind
    if spec.kind == "string":
        if array.dtype.kind == "O":  # from V2 / gRPC: bytes or str objects
            if not all(isinstance(v, (str, bytes)) for v in array.ravel()):
                fail("expected strings", _received_kind(np.asarray(array.ravel().tolist())))
            return np.array(
                [v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in array],
                dtype=object,
            )
        if kind not in "US":
            fail("expected strings", _received_kind(array))
        return array.astype(object)
    if kind not in "iuf":
        fail(f"expected {spec.dtype.name} numbers", _received_kind(array))
    if spec.kind == "int":
        if kind == "f":
            fail(f"expected {spec.dtype.name} integers", "floating-point numbers")
        info = np.iinfo(spec.dtype)
        if array.size and (array.min() < info.min or array.max() > info.max):
            fail(
                f"values outside the {spec.dtype.name} range",
                f"values from {array.min()} to {array.max()}",
            )
        return array.astype(spec.dtype)
    with np.errstate(over="ignore"):
        result = array.astype(spec.dtype)
    if not np.all(np.isfinite(result)):
        fail(f"values outside the {spec.dtype.name} range", "values too large in magnitude")
    return result


def v1_inputs(specs, body, max_batch):
    """A parsed V1 request -> ({input name: batch array}, "instances" or "inputs").

    Raises RequestError (400) for any request that does not fit the inputs in `specs`.
    """
    if not isinstance(body, dict):
        raise RequestError(
            400,
            'The body must be a JSON object: {"instances": [...]} or {"inputs": ...}',
            expected="a JSON object",
            received=f"a JSON {type(body).__name__}",
        )
    allowed = {"instances", "inputs", "signature_name"}
    unknown = sorted(set(body) - allowed)
    forms = [key for key in ("instances", "inputs") if key in body]
    if unknown or len(forms) != 1:
        raise RequestError(
            400,
            'Give exactly one of "instances" (row form) or "inputs" (columnar form), '
            'and optionally "signature_name"',
            expected=sorted(allowed),
            received=sorted(body),
        )
    signature = body.get("signature_name", SIGNATURE)
    if signature != SIGNATURE:
        raise RequestError(
            400,
            "Unknown signature_name",
            expected=SIGNATURE,
            received=repr(signature),
        )
    names = [spec.name for spec in specs]
    (form,) = forms
    value = body[form]

    def check_keys(keys, where):
        missing = sorted(set(names) - set(keys))
        unexpected = sorted(set(keys) - set(names))
        if missing or unexpected:
            raise RequestError(
                400,
                f"{where}: the model's inputs are {names}; missing {missing}, "
                f"unexpected {unexpected}",
                input=(unexpected or missing)[0],
                expected=names,
                received=sorted(keys),
            )

    columns = {}
    if form == "instances":
        if not isinstance(value, list):
            raise RequestError(
                400,
                '"instances" must be a list of samples',
                expected="a list",
                received=f"a JSON {type(value).__name__}",
            )
        if not value:
            raise RequestError(
                400,
                '"instances" is empty',
                input=names[0],
                expected="n >= 1 samples",
                received="an empty list",
            )
        named = len(specs) > 1 or isinstance(value[0], dict)
        for index, instance in enumerate(value):
            if named:
                if not isinstance(instance, dict):
                    raise RequestError(
                        400,
                        f"instances[{index}]: each instance must be an object keyed by input name",
                        input=names[0],
                        expected=names,
                        received=f"a JSON {type(instance).__name__}",
                    )
                check_keys(instance, f"instances[{index}]")
            elif isinstance(instance, dict):
                check_keys(instance, f"instances[{index}]")
        for spec in specs:
            samples = [inst[spec.name] if named else inst for inst in value]
            try:
                columns[spec.name] = to_array(spec, samples, "instances", max_batch)
            except RequestError:
                if len(samples) > max_batch:
                    raise
                for index, sample in enumerate(samples):  # find the first bad instance
                    to_array(spec, [sample], f"instances[{index}]", max_batch)
                raise
    else:
        if len(specs) == 1 and not isinstance(value, dict):
            value = {names[0]: value}
        if not isinstance(value, dict):
            raise RequestError(
                400,
                '"inputs" must be an object keyed by input name',
                expected=names,
                received=f"a JSON {type(value).__name__}",
            )
        check_keys(value, "inputs")
        for spec in specs:
            columns[spec.name] = to_array(spec, value[spec.name], "inputs", max_batch)
    same_length(columns)
    return columns, form


def same_length(columns):
    lengths = {name: len(array) for name, array in columns.items()}
    if len(set(lengths.values())) > 1:
        raise RequestError(
            400,
            "The inputs of one request must hold the same number of samples",
            input=min(lengths, key=lengths.get),
            expected="equal batch sizes",
            received=lengths,
        )


def v2_inputs(specs, body, max_batch, output_names=()):
    """A parsed V2 REST request -> {input name: batch array}; raises RequestError (400).

    Besides the inputs, checks what KServe would otherwise refuse with its own 422 or ignore:
    `id` a string, `parameters` objects, requested `outputs` among `output_names`.
    """
    names = [spec.name for spec in specs]
    by_name = {spec.name: spec for spec in specs}
    if not isinstance(body, dict) or not isinstance(body.get("inputs"), list):
        raise RequestError(
            400,
            'The body must be a JSON object with "inputs": a list of '
            '{"name", "shape", "datatype", "data"}',
            expected='{"inputs": [...]}',
            received=f"a JSON {type(body).__name__}"
            + (f" with keys {sorted(body)}" if isinstance(body, dict) else ""),
        )
    if "id" in body and not isinstance(body["id"], str):
        raise RequestError(
            400, '"id" must be a string', expected="a string", received=repr(body["id"])[:80]
        )
    tensors = [("", body)] + [(f"inputs[{i}]: ", t) for i, t in enumerate(body["inputs"])]
    for where, tensor in tensors:
        if isinstance(tensor, dict) and not isinstance(tensor.get("parameters", {}), dict):
            raise RequestError(
                400,
                f'{where}"parameters" must be an object',
                expected="a JSON object",
                received=repr(tensor["parameters"])[:80],
            )
    requested = body.get("outputs", [])
    if not isinstance(requested, list) or not all(
        isinstance(o, dict) and o.get("name") in output_names for o in requested
    ):
        raise RequestError(
            400,
            '"outputs" must be a list of {"name": OUTPUT} naming outputs of the model',
            expected=list(output_names),
            received=repr(requested)[:200],
        )
    columns = {}
    for index, tensor in enumerate(body["inputs"]):
        where = f"inputs[{index}]"
        if not isinstance(tensor, dict) or not {"name", "shape", "datatype", "data"} <= set(tensor):
            raise RequestError(
                400,
                f"{where}: each input needs name, shape, datatype and data",
                expected=["name", "shape", "datatype", "data"],
                received=sorted(tensor) if isinstance(tensor, dict) else repr(tensor)[:80],
            )
        name = tensor["name"]
        if not isinstance(name, str) or name not in by_name or name in columns:
            raise RequestError(
                400,
                f"{where}: unknown or repeated input name",
                input=str(name),
                expected=names,
                received=repr(name),
            )
        spec = by_name[name]
        datatype = tensor["datatype"]
        allowed = {"float": FLOAT_TYPES, "int": INT_TYPES, "string": ("BYTES",)}[spec.kind]
        if datatype not in allowed:
            raise RequestError(
                400,
                f"{where}: wrong datatype",
                input=name,
                expected=list(allowed),
                received=repr(datatype),
            )
        shape = tensor["shape"]
        if not (
            isinstance(shape, list)
            and shape
            and all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)
        ):
            raise RequestError(
                400,
                f"{where}: shape must be a list of non-negative integers",
                input=name,
                expected=spec.metadata()["shape"],
                received=repr(shape)[:80],
            )
        try:
            flat = np.asarray(tensor["data"])
        except (ValueError, TypeError):
            raise RequestError(
                400,
                f"{where}: ragged data",
                input=name,
                expected=spec.describe(),
                received="ragged nested lists",
            ) from None
        if flat.size != math.prod(shape):
            raise RequestError(
                400,
                f"{where}: data does not fill the shape",
                input=name,
                expected=f"{math.prod(shape)} values for shape {shape}",
                received=f"{flat.size} values",
            )
        columns[name] = to_array(spec, flat.reshape(shape), where, max_batch)
    missing = sorted(set(names) - set(columns))
    if missing:
        raise RequestError(
            400,
            f"Missing inputs {missing}",
            input=missing[0],
            expected=names,
            received=sorted(columns),
        )
    same_length(columns)
    return columns


def jsonable(value):
    """ndarray rows -> JSON values (bytes decoded as UTF-8)."""
    if value.dtype.kind in "OS":
        return [v.decode("utf-8") if isinstance(v, bytes) else v for v in value.tolist()]
    return value.tolist()


def v1_response(outputs, form):
    """TF Serving's response: predictions per row, or outputs by name (one output: bare)."""
    names = list(outputs)
    values = {name: jsonable(array) for name, array in outputs.items()}
    if form == "inputs":
        return {"outputs": values[names[0]] if len(names) == 1 else values}
    if len(names) == 1:
        return {"predictions": values[names[0]]}
    rows = len(next(iter(values.values())))
    return {"predictions": [{name: values[name][i] for name in names} for i in range(rows)]}


def _models():
    kserve = import_kserve()

    class ZooModel(kserve.Model):
        """A zoo entry served by KServe: validation, V1/V2 encoding; runtimes add `run`."""

        def __init__(self, name, path, max_batch=MAX_BATCH):
            super().__init__(name)
            self.path = str(path)
            self.max_batch = max_batch
            self.specs = []
            self.output_names = []

        def get_input_types(self):
            return [spec.metadata() for spec in self.specs]

        def get_output_types(self):
            return [{"name": name, "datatype": "", "shape": []} for name in self.output_names]

        def tf_serving_metadata(self):
            """`GET /v1/models/NAME/metadata`, shaped like TF Serving's answer."""

            def dims(spec):
                sizes = [-1] + [-1 if d is None else d for d in spec.shape]
                return [{"size": str(size)} for size in sizes]

            return {
                "model_spec": {"name": self.name, "signature_name": SIGNATURE},
                "metadata": {
                    "signature_def": {
                        "signature_def": {
                            SIGNATURE: {
                                "inputs": {
                                    s.name: {
                                        "dtype": _TF_DTYPE.get(s.dtype.name, "DT_STRING"),
                                        "tensor_shape": {"dim": dims(s)},
                                        "name": s.name,
                                    }
                                    for s in self.specs
                                },
                                "outputs": {name: {"name": name} for name in self.output_names},
                                "method_name": "tensorflow/serving/predict",
                            }
                        }
                    }
                },
                "runtime": type(self).__name__,
            }

        async def predict(self, payload, headers=None, response_headers=None):
            loop = asyncio.get_running_loop()
            if isinstance(payload, kserve.InferRequest):
                columns = self.infer_request_inputs(payload)
                outputs = await loop.run_in_executor(None, self.run, columns)
                return self.infer_response(payload, outputs)
            try:
                columns, form = v1_inputs(self.specs, payload, self.max_batch)
            except RequestError as error:  # reached only when the guard was bypassed
                raise kserve.errors.InvalidInput(str(error)) from None
            outputs = await loop.run_in_executor(None, self.run, columns)
            return v1_response(outputs, form)

        def infer_request_inputs(self, request):
            by_name = {spec.name: spec for spec in self.specs}
            columns = {}
            try:
                for tensor in request.inputs:
                    if tensor.name not in by_name:
                        raise RequestError(
                            400,
                            "unknown input",
                            input=tensor.name,
                            expected=list(by_name),
                            received=tensor.name,
                        )
                    columns[tensor.name] = to_array(
                        by_name[tensor.name], tensor.as_numpy(), tensor.name, self.max_batch
                    )
                missing = sorted(set(by_name) - set(columns))
                if missing:
                    raise RequestError(
                        400,
                        f"Missing inputs {missing}",
                        input=missing[0],
                        expected=list(by_name),
                        received=sorted(columns),
                    )
                same_length(columns)
            except RequestError as error:
                fields = {k: v for k, v in error.fields.items() if v is not None}
                raise kserve.errors.InvalidInput(f"{error} {fields}") from None
            except Exception as error:  # undecodable tensor contents
                raise kserve.errors.InvalidInput(f"Unreadable input: {error}") from None
            return columns

        def infer_response(self, request, outputs):
            infer_outputs = []
            for name, array in outputs.items():
                if array.dtype.kind in "OSU":
                    array = np.array(
                        [v if isinstance(v, bytes) else str(v).encode() for v in array],
                        dtype=object,
                    )
                    datatype = "BYTES"
                else:
                    datatype = {
                        "f": "FP32",
                        "i": "INT64" if array.dtype.itemsize == 8 else "INT32",
                    }.get(array.dtype.kind, "FP32")
                    array = array.astype(
                        {"FP32": "float32", "INT32": "int32"}.get(datatype, "int64")
                    )
                output = kserve.InferOutput(name, list(array.shape), datatype)
                output.set_data_from_numpy(array, binary_data=False)
                infer_outputs.append(output)
            return kserve.InferResponse(
                response_id=request.id or "",
                model_name=self.name,
                infer_outputs=infer_outputs,
                from_grpc=request.from_grpc,
            )

    class SavedModelRuntime(ZooModel):
        """Serves the SavedModel's `serving_default` signature (TensorFlow)."""

        def load(self):
            import tensorflow as tf
            import tensorflow_text  # noqa: F401  (the text entries' WordPiece ops, issue 8)

            self._tf = tf
            self.function = tf.saved_model.load(self.path).signatures[SIGNATURE]
            inputs = self.function.structured_input_signature[1]
            self.specs = []
            for name in sorted(inputs, key=lambda n: inputs[n].name or n):
                tensor = inputs[name]
                if tensor.dtype == tf.string:
                    kind = "string"
                elif tensor.dtype.is_floating:
                    kind = "float"
                else:
                    kind = "int"
                dtype = object if kind == "string" else tensor.dtype.as_numpy_dtype
                self.specs.append(InputSpec(name, kind, dtype, tuple(tensor.shape[1:])))
            self.output_names = list(self.function.structured_outputs)
            self.ready = True
            return self.ready

        def run(self, columns):
            tf = self._tf
            feed = {name: tf.constant(array) for name, array in columns.items()}
            return {name: value.numpy() for name, value in self.function(**feed).items()}

    class OnnxRuntime(ZooModel):
        """Serves the ONNX file with onnxruntime; adds "class" from the file's labels."""

        def load(self):
            import json

            import onnxruntime

            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = 1
            self.session = onnxruntime.InferenceSession(
                self.path, options, providers=["CPUExecutionProvider"]
            )
            types = {
                "tensor(float)": ("float", "float32"),
                "tensor(int32)": ("int", "int32"),
                "tensor(int64)": ("int", "int64"),
                "tensor(double)": ("float", "float64"),
                "tensor(string)": ("string", object),
            }
            self.specs = []
            for tensor in self.session.get_inputs():
                kind, dtype = types[tensor.type]
                shape = tuple(d if isinstance(d, int) else None for d in tensor.shape[1:])
                self.specs.append(InputSpec(tensor.name, kind, dtype, shape))
            meta = self.session.get_modelmeta().custom_metadata_map
            self.labels = json.loads(meta["labels"]) if "labels" in meta else None
            self.onnx_outputs = [tensor.name for tensor in self.session.get_outputs()]
            self.output_names = self.onnx_outputs + (["class"] if self.labels else [])
            self.ready = True
            return self.ready

        def run(self, columns):
            values = self.session.run(None, columns)
            outputs = dict(zip(self.onnx_outputs, values))
            if self.labels and "class_id" in outputs:
                outputs["class"] = np.array(
                    [self.labels[int(i)] for i in outputs["class_id"]], dtype=object
                )
            return outputs

    return kserve, ZooModel, SavedModelRuntime, OnnxRuntime


class RequestGuard:
    """ASGI middleware: checks every predict/infer request before KServe sees it.

    `models` maps a served name to its model (with `specs` and `max_batch`). A request
    that passes goes on to KServe unchanged (its body replayed); one that fails is
    answered here with a JSON error (400, 404, 413 or 415).
    """

    def __init__(self, app, models, max_body_bytes=MAX_BODY_BYTES):
        self.app = app
        self.models = models
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope["path"]
        v1, v2 = _V1_PREDICT.match(path), _V2_INFER.match(path)
        metadata = _V1_METADATA.match(path)
        if metadata and scope["method"] == "GET":
            model = self.models.get(metadata.group(1))
            if model is None:
                return await self.reply(send, self.not_found(metadata.group(1)))
            return await self.respond(send, 200, model.tf_serving_metadata())
        unserved = _UNSERVED.match(path)
        if unserved:  # KServe would answer 501: no explainer, no model versions
            return await self.reply(
                send,
                RequestError(
                    404,
                    "Not served here: this server has no explainers and one version per model",
                    expected="/v1/models/NAME:predict, /v2/models/NAME/infer",
                    received=path,
                ),
            )
        if not ((v1 or v2) and scope["method"] == "POST"):
            return await self.app(scope, receive, send)
        name = (v1 or v2).group(1)
        try:
            model = self.models.get(name)
            if model is None:
                raise self.not_found(name)
            headers = {
                k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]
            }
            self.check_content_type(headers.get("content-type"))
            body = await self.read_body(headers, receive)
            try:
                parsed = orjson.loads(body)
            except orjson.JSONDecodeError as error:
                raise RequestError(
                    400,
                    f"The body is not valid JSON: {error}",
                    expected="a JSON object",
                    received=f"{len(body)} bytes starting {body[:40]!r}",
                ) from None
            if v1:
                v1_inputs(model.specs, parsed, model.max_batch)
            else:
                v2_inputs(model.specs, parsed, model.max_batch, model.output_names)
        except RequestError as error:
            return await self.reply(send, error)
        except Exception as error:  # a request these checks did not foresee: still the client's
            return await self.reply(
                send,
                RequestError(
                    400,
                    f"The request could not be read: {type(error).__name__}: {error}",
                    expected="a request as the README's Serving section describes",
                    received=f"{scope['method']} {path}",
                ),
            )

        sent = False

        async def replay():
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        return await self.app(scope, replay, send)

    def not_found(self, name):
        return RequestError(
            404,
            f"Model {name!r} is not served here",
            expected=sorted(self.models),
            received=name,
        )

    @staticmethod
    def check_content_type(content_type):
        media = (content_type or "").split(";")[0].strip().lower()
        if media not in JSON_TYPES:
            raise RequestError(
                415,
                "Unsupported content type: send the body as JSON",
                expected="Content-Type: application/json",
                received=content_type if content_type else "no Content-Type header",
            )

    async def read_body(self, headers, receive):
        length = headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body_bytes:
            raise self.too_large(f"{int(length)} bytes")
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise self.too_large(f"more than {self.max_body_bytes} bytes")
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    def too_large(self, received):
        return RequestError(
            413,
            "The body is over the size limit",
            expected=f"at most {self.max_body_bytes} bytes",
            received=received,
        )

    async def reply(self, send, error):
        await self.respond(send, error.status, error.body())

    @staticmethod
    async def respond(send, status, content):
        payload = orjson.dumps(content, default=str)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})


def prepare_artifacts(names, runtime, exports=None):
    """{name: artifact path} for each zoo entry: from `exports`, or exported on the fly.

    With `exports`, the SavedModel is `<exports>/<name>/<latest version>/` and the ONNX
    file `<exports>/<name>.onnx` (as `python cli.py export` writes them); a missing one is a
    ValueError naming it. Without, each entry is exported (and verified) from its shipped
    weights into a temporary directory.
    """
    import zoo

    if runtime not in RUNTIMES:
        raise ValueError(f"--runtime must be one of {list(RUNTIMES)}. Received: {runtime!r}")
    for name in names:
        zoo.get_entry(name)  # unknown names: an error with the closest names
    if len(set(names)) != len(names):
        raise ValueError(f"Each model may be served once. Received: {names}")
    paths = {}
    if exports is not None:
        for name in names:
            if runtime == "onnx":
                path = os.path.join(exports, f"{name}.onnx")
            else:
                base = os.path.join(exports, name)
                versions = sorted(
                    (int(v) for v in os.listdir(base) if v.isdigit()) if os.path.isdir(base) else []
                )
                path = os.path.join(base, str(versions[-1])) if versions else base
            if not os.path.exists(path) or (
                runtime == "saved_model"
                and not os.path.exists(os.path.join(path, "saved_model.pb"))
            ):
                raise ValueError(
                    f"--exports: no {runtime} export of {name!r} there; expected {path} "
                    f"(python cli.py export {name} --format {runtime} --out {exports})"
                )
            paths[name] = path
        return paths
    from pipelines.export import export_model
    from zoo.weights import read_manifest

    root = tempfile.mkdtemp(prefix="zoo-serve-")
    manifest = read_manifest()
    for name in names:
        row = manifest.get(name) or {}
        labels = row.get("class_names")
        report = export_model(
            zoo.get(name),
            root,
            format=runtime,
            labels=labels if isinstance(labels, list) else None,
            name=name,
            text_inputs=(row.get("dataset") or {}).get("text_inputs")
            if runtime == "saved_model"
            else None,
        )
        paths[name] = report["path"]
    return paths


def build_models(paths, runtime, max_batch=MAX_BATCH):
    """Loaded `kserve.Model`s, one per {name: artifact path}."""
    _, _, saved_model_runtime, onnx_runtime = _models()
    cls = saved_model_runtime if runtime == "saved_model" else onnx_runtime
    models = []
    for name, path in paths.items():
        model = cls(name, path, max_batch=max_batch)
        model.load()
        models.append(model)
    return models


def serve(
    names,
    host="127.0.0.1",
    http_port=8080,
    grpc_port=8081,
    runtime="saved_model",
    workers=1,
    exports=None,
    max_batch=MAX_BATCH,
    max_body_bytes=MAX_BODY_BYTES,
    ready_file=None,
    http_socket_fd=None,
):
    """Serves the zoo entries `names` until the process is stopped (SIGINT / SIGTERM).

    Args:
        names: zoo entry names.
        host: the interface both servers bind (default loopback only).
        http_port, grpc_port: the ports; `grpc_port=0` turns gRPC off.
        runtime: "saved_model" (TensorFlow) or "onnx" (onnxruntime).
        workers: server processes sharing the HTTP port (the first also serves gRPC);
            the artifacts are exported once, each process loads them.
        exports: a directory of `cli.py export` artifacts; default: export on the fly.
        max_batch: the most samples one request may carry.
        max_body_bytes: the largest request body.
        ready_file: a path written once the models are loaded (for scripts).
        http_socket_fd: a listening socket inherited from `serve_workers` (internal).

    Example:

        serve(["cnn-fashion-mnist", "mlp-breast-cancer"], http_port=8080, grpc_port=8081)
    """
    for option, value, low in (
        ("--http-port", http_port, 1),
        ("--grpc-port", grpc_port, 0),
        ("--max-batch", max_batch, 1),
        ("--max-body-bytes", max_body_bytes, 1),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{option} must be an integer >= {low}. Received: {value!r}")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"--workers must be an integer >= 1. Received: {workers!r}")
    if http_port == grpc_port:
        raise ValueError(f"--http-port and --grpc-port must differ. Received: both {http_port}")
    paths = prepare_artifacts(list(names), runtime, exports)
    try:
        if workers > 1 and http_socket_fd is None:
            return serve_workers(
                paths, host, http_port, grpc_port, runtime, workers, max_batch, max_body_bytes,
                ready_file,
            )  # fmt: skip
        _serve_models(
            paths, host, http_port, grpc_port, runtime, max_batch, max_body_bytes, ready_file,
            http_socket_fd,
        )  # fmt: skip
    finally:
        if exports is None:  # the on-the-fly exports live as long as the server
            import shutil

            root = _export_root(paths, runtime)
            if os.path.basename(root).startswith("zoo-serve-"):  # made by prepare_artifacts
                shutil.rmtree(root, ignore_errors=True)


def _export_root(paths, runtime):
    """The directory holding the artifacts in `paths` (as `--exports` takes it)."""
    first = next(iter(paths.values()))
    return os.path.dirname(first if runtime == "onnx" else os.path.dirname(first))


def _serve_models(
    paths, host, http_port, grpc_port, runtime, max_batch, max_body_bytes, ready_file,
    http_socket_fd,
):  # fmt: skip
    """Loads the artifacts and runs the KServe server in this process until stopped."""
    models = build_models(paths, runtime, max_batch)
    kserve = import_kserve()
    from kserve.protocol.grpc.server import GRPCServer
    from kserve.protocol.rest.server import RESTServer

    app = kserve.model_server.app
    app.add_middleware(
        RequestGuard, models={m.name: m for m in models}, max_body_bytes=max_body_bytes
    )

    grpc_host = f"[{host}]" if ":" in host else host

    class LoopbackGRPCServer(GRPCServer):
        """KServe's gRPC server, listening on `host` (KServe's binds every interface)."""

        async def start(self, max_workers):
            from grpc import aio

            real_server = aio.server

            def server(*args, **kwargs):
                created = real_server(*args, **kwargs)
                real_add = created.add_insecure_port
                created.add_insecure_port = lambda _: real_add(f"{grpc_host}:{self._port}")
                return created

            aio.server = server
            try:
                await super().start(max_workers)
            finally:
                aio.server = real_server

    class ZooModelServer(kserve.ModelServer):
        """`kserve.ModelServer` bound to one interface (KServe binds 0.0.0.0 and [::])."""

        def start(self, models):
            self._register_and_check_atleast_one_model_is_ready(models)
            self._rest_server = RESTServer(
                "kserve.model_server:app",
                self.dataplane,
                self.model_repository_extension,
                self.http_port,
                workers=1,
                grace_period=self.grace_period,
                event_loop=self.event_loop,
                timeout_keep_alive=self.timeout_keep_alive,
            )
            self._rest_server.config.host = host
            if http_socket_fd is None:
                self.servers.append(self._rest_server.start())
            else:  # one of several workers: serve on the socket the parent bound
                import socket

                shared = socket.socket(fileno=http_socket_fd)
                self._rest_server.create_application()
                self.servers.append(self._rest_server._server.serve(sockets=[shared]))
            if self.enable_grpc:
                self._grpc_server = LoopbackGRPCServer(
                    self.grpc_port,
                    self.dataplane,
                    self.model_repository_extension,
                    kwargs=vars(kserve.model_server.args),
                    grace_period=self.grace_period,
                )
                self.servers.append(self._grpc_server.start(self.max_threads))
            self.setup_event_loop()
            self.register_signal_handler()
            if ready_file:
                with open(ready_file, "w") as handle:
                    handle.write("ready\n")
            with contextlib.suppress(KeyboardInterrupt, asyncio.CancelledError):
                asyncio.run(self._serve())

        def stop(self, sig):
            # Uvicorn's own handler stops the HTTP server; stop gRPC too, and end the loop.
            super().stop(sig)
            if self._rest_server is not None:
                self._rest_server._server.should_exit = True

    server = ZooModelServer(
        http_port=http_port,
        grpc_port=grpc_port or 8081,
        enable_grpc=bool(grpc_port),
        enable_latency_logging=False,
        grace_period=2,
    )
    server.start(models)


def serve_workers(
    paths, host, http_port, grpc_port, runtime, workers, max_batch, max_body_bytes, ready_file
):
    """Runs `workers` server processes on one HTTP socket bound here; returns when stopped.

    KServe 0.21's own multi-worker mode spawns processes that re-import its app without
    this server's models and request checks, so the zoo starts its own: each child is
    `serve(...)` on the artifacts exported once in `paths`, accepting connections on the
    inherited socket (the kernel spreads them); the first child also serves gRPC. SIGTERM
    or SIGINT here stops them all; a child that dies stops the others.
    """
    import json
    import signal
    import socket
    import subprocess
    import time

    listener = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, http_port))
    except OSError as error:
        raise ValueError(
            f"--http-port: cannot listen on {host}:{http_port} ({error.strerror}). "
            f"Received: --host {host} --http-port {http_port}"
        ) from None
    listener.listen(2048)
    listener.set_inheritable(True)
    exports = _export_root(paths, runtime)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    children = []
    for index in range(workers):
        settings = {
            "names": list(paths), "host": host, "http_port": http_port,
            "grpc_port": grpc_port if index == 0 else 0, "runtime": runtime,
            "exports": exports, "max_batch": max_batch, "max_body_bytes": max_body_bytes,
            "http_socket_fd": listener.fileno(),
        }  # fmt: skip
        children.append(
            subprocess.Popen(
                [sys.executable, "-m", "pipelines.serving", json.dumps(settings)],
                cwd=root,
                env={**os.environ, "PYTHONPATH": root},
                pass_fds=[listener.fileno()],
            )
        )
    stopping = []

    def stop(sig, frame):
        stopping.append(sig)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, stop)
    if ready_file:
        with open(ready_file, "w") as handle:
            handle.write("started\n")
    while not stopping and all(child.poll() is None for child in children):
        time.sleep(0.2)
    for child in children:
        if child.poll() is None:
            child.terminate()
    for child in children:
        try:
            child.wait(30)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    listener.close()


def free_port(host="127.0.0.1"):
    """A TCP port free on `host` right now (the OS picks it)."""
    import socket

    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


class ServerProcess:
    """`python cli.py serve ...` in a subprocess on free loopback ports, for tests and bench.

    Starts on `__enter__` (returns itself once every model answers ready) and stops on
    `__exit__` (SIGTERM, then SIGKILL after `stop_timeout` seconds). The server's output
    goes to `log_path` (default: a temporary file, removed after a clean stop).

    Example:

        with ServerProcess(["mlp-breast-cancer"]) as server:
            httpx.post(server.url + "/v1/models/mlp-breast-cancer:predict", json=...)
    """

    def __init__(self, names, args=(), log_path=None, start_timeout=300, stop_timeout=30):
        self.names = list(names)
        self.args = [str(a) for a in args]
        self.http_port = free_port()
        self.grpc_port = free_port()
        while self.grpc_port == self.http_port:
            self.grpc_port = free_port()
        self.url = f"http://127.0.0.1:{self.http_port}"
        self.grpc_target = f"127.0.0.1:{self.grpc_port}"
        self.own_log = log_path is None  # a temporary log, removed after a clean stop
        self.log_path = log_path or tempfile.mktemp(prefix="zoo-serve-", suffix=".log")
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.process = None

    def log_tail(self, size=4000):
        try:
            with open(self.log_path, errors="replace") as handle:
                return handle.read()[-size:]
        except OSError:
            return ""

    def __enter__(self):
        import subprocess
        import time
        import urllib.request

        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        command = [
            sys.executable, os.path.join(root, "cli.py"), "serve", *self.names,
            "--host", "127.0.0.1", "--http-port", str(self.http_port),
            "--grpc-port", str(self.grpc_port), *self.args,
        ]  # fmt: skip
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": root}
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                command, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + self.start_timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"the server exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            try:
                ready = all(
                    urllib.request.urlopen(f"{self.url}/v2/models/{name}/ready", timeout=2).status
                    == 200
                    for name in self.names
                )
                if ready:
                    return self
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the server was not ready in time:\n{self.log_tail()}")
            time.sleep(0.25)

    def stop(self):
        import subprocess

        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(self.stop_timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __exit__(self, exc_type, *exc_info):
        self.stop()
        if self.own_log and exc_type is None:
            with contextlib.suppress(OSError):
                os.remove(self.log_path)


if __name__ == "__main__":  # a worker started by serve_workers
    import json

    serve(**json.loads(sys.argv[1]))

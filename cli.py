"""Command line of the zoo: list, info, prepare, train, evaluate, predict, export, serve.

Thin on purpose: it parses, calls `zoo`, `datasets` and `pipelines`, and prints.

    python cli.py list "cnn-*"
    python cli.py info cnn-digits
    python cli.py train cnn-digits --epochs 30 --set dropout=0.4 --publish
    python cli.py train cnn-digits --resume runs/cnn-digits-20261129-101500
    python cli.py train mlp-breast-cancer --local-processes 2       # data-parallel, JAX
    python cli.py prepare fashion_mnist
    python cli.py train cnn-fashion-mnist --data ~/.cache/keras-zoo/shards/fashion_mnist
    python cli.py publish runs/cnn-digits-20261129-101500
    python cli.py evaluate cnn-digits
    python cli.py predict cnn-fashion-mnist shoe.png batch.npy
    python cli.py generate dcgan-fashion-mnist --n 64 --seed 0 --out grid.png
    python cli.py export cnn-digits --format onnx --out exports
    python cli.py serve cnn-fashion-mnist mlp-breast-cancer --http-port 8080
"""

import argparse
import ast
import json
import os
import shlex
import sys


def parse_set(values):
    """Parses repeated `--set key=value` into a dict (values as Python literals if they parse)."""
    overrides = {}
    for item in values or []:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--set takes key=value. Received: {item!r}")
        try:
            overrides[key] = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            overrides[key] = text
    return overrides


def positive_int(text):
    """argparse type: an integer >= 1 (epochs, batch size)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a positive integer. Received: {text!r}"
        ) from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer. Received: {text!r}")
    return value


def writable_dir(path, option):
    """Raises ValueError naming `option` unless `path` is (or can become) a writable directory.

    Probes by writing a temporary file (permission bits do not stop root, a read-only
    file system does); directories created for the probe are removed again.
    """
    import tempfile

    path = os.path.abspath(path)
    if os.path.exists(path) and not os.path.isdir(path):
        raise ValueError(f"{option} must be a directory. Received: {path!r}, a file.")
    created = []
    try:
        missing = path
        while not os.path.exists(missing):
            created.append(missing)
            missing = os.path.dirname(missing)
        for directory in reversed(created):
            os.mkdir(directory)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as error:
        raise ValueError(
            f"{option} must be a writable directory. Received: {path!r} "
            f"({error.strerror or error})."
        ) from None
    finally:
        for directory in created:
            try:
                os.rmdir(directory)
            except OSError:
                pass


def build_parser():
    parser = argparse.ArgumentParser(prog="cli.py", description="A zoo of Keras 3 models.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--backend",
        choices=("tensorflow", "jax", "torch"),
        help="Keras backend (default: $KERAS_BACKEND, else tensorflow)",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    add = lambda name, help: commands.add_parser(name, help=help, parents=[common])  # noqa: E731

    listing = add("list", "list the zoo's models")
    listing.add_argument("pattern", nargs="?", default="*", help="fnmatch pattern, e.g. 'cnn-*'")

    info = add("info", "show a model card")
    info.add_argument("name")

    train = add("train", "train a model and write a run directory")
    train.add_argument("name")
    train.add_argument("--epochs", type=positive_int)
    train.add_argument("--batch-size", type=positive_int)
    train.add_argument("--seed", type=int, help="seed (default 0)")
    train.add_argument("--out", default="runs", help="parent of the run directory")
    train.add_argument(
        "--resume", metavar="RUN_DIR", help="continue a killed run (its recorded settings)"
    )
    train.add_argument("--set", action="append", metavar="KEY=VALUE", help="builder argument")
    train.add_argument("--publish", action="store_true", help="ship the weights (zoo/weights)")
    train.add_argument(
        "--mixed-precision",
        nargs="?",
        const="float16",
        choices=("float16", "bfloat16"),
        help="train in mixed precision: bfloat16 (CPUs with AVX512_BF16) or float16 (GPUs; "
        "the default without a value); weights stay float32",
    )
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.add_argument(
        "--limit", type=positive_int, metavar="N", help="train on the first N training samples"
    )
    scale = train.add_argument_group("distributed training (README: Distributed training)")
    scale.add_argument("--num-processes", type=positive_int, metavar="N", help="JAX job size")
    scale.add_argument("--process-id", type=int, metavar="I", help="this process, 0..N-1")
    scale.add_argument("--coordinator", metavar="HOST:PORT", help="process 0's address")
    scale.add_argument(
        "--local-processes", type=positive_int, metavar="N", help="N processes on this machine"
    )
    scale.add_argument("--ray", metavar="ADDRESS", help="a Ray cluster, or 'local'")
    scale.add_argument("--workers", type=positive_int, help="Ray workers (default 2)")
    scale.add_argument("--gpus", choices=("all",), help="TensorFlow MirroredStrategy")
    scale.add_argument("--recorded-command", help=argparse.SUPPRESS)
    train.add_argument(
        "--data", metavar="DIR", help="stream from a shard directory written by `prepare`"
    )

    prepare = add("prepare", "write a dataset as sharded TFRecord files (streamed training)")
    prepare.add_argument("name", help="a dataset name or a zoo entry (its dataset)")
    prepare.add_argument("--out", help="shard directory (default: $ZOO_HOME/shards/DATASET)")
    prepare.add_argument("--shards", type=positive_int, help="train shards (default ~32 MiB each)")
    prepare.add_argument("--seed", type=int, default=0, help="validation split seed (default 0)")
    prepare.add_argument(
        "--validation-split", type=float, default=0.1, help="held out of train (default 0.1)"
    )
    prepare.add_argument(
        "--repeat", type=positive_int, default=1, help="write the train split N times over"
    )

    publish = add("publish", "ship the best weights of a finished run (zoo/weights)")
    publish.add_argument("run_dir")

    evaluate = add("evaluate", "test-split metrics of weights")
    evaluate.add_argument("name")
    evaluate.add_argument("--weights", default="pretrained", help="a .weights.h5 path")

    recommend = add("recommend", "top-k unseen MovieLens titles for a user")
    recommend.add_argument("name")
    recommend.add_argument("--user", type=int, required=True, help="MovieLens user id, 1..943")
    recommend.add_argument("--k", type=positive_int, default=10, help="how many (default 10)")
    recommend.add_argument("--weights", default="pretrained")

    generate = add("generate", "sample images from a generative entry into a PNG grid")
    generate.add_argument("name")
    generate.add_argument("--n", type=positive_int, default=64, help="images (default 64)")
    generate.add_argument("--seed", type=int, default=0, help="noise seed (default 0)")
    generate.add_argument("--labels", help="class ids, comma-separated (conditional entries)")
    generate.add_argument("--out", default="grid.png", help="the PNG file (default grid.png)")
    generate.add_argument("--weights", default="pretrained")

    predict = add("predict", "predict on .npy, .csv or image files (text entries: strings)")
    predict.add_argument("name")
    predict.add_argument(
        "files", nargs="+", help="FILE, or INPUT=FILE for several inputs; text entries: TEXT"
    )
    predict.add_argument("--weights", default="pretrained")
    predict.add_argument(
        "--out",
        metavar="FILE.npz",
        help="also save every output in full (one array per name); speech-enhance: FILE.wav",
    )

    export = add("export", "export to a SavedModel or ONNX, verified")
    export.add_argument("name")
    export.add_argument("--format", choices=("saved_model", "onnx"), default="saved_model")
    export.add_argument("--out", default="exports")
    export.add_argument("--weights", default="pretrained")
    export.add_argument("--version", type=int, default=1)

    serve = add("serve", "serve models over HTTP (TF Serving REST, V2) and gRPC with KServe")
    serve.add_argument("names", nargs="+", metavar="NAME")
    serve.add_argument("--host", default="127.0.0.1", help="interface to bind (default loopback)")
    serve.add_argument("--http-port", type=int, default=8080)
    serve.add_argument("--grpc-port", type=int, default=8081, help="0: no gRPC server")
    serve.add_argument("--runtime", choices=("saved_model", "onnx"), default="saved_model")
    serve.add_argument("--workers", type=positive_int, default=1, help="server processes")
    serve.add_argument("--exports", help="serve `cli.py export` artifacts from this directory")
    serve.add_argument("--max-batch", type=positive_int, default=256, help="samples per request")
    serve.add_argument(
        "--max-body-bytes", type=positive_int, default=64 * 1024 * 1024, help="request body limit"
    )
    return parser


def command_list(args):
    import zoo
    from pipelines.evaluation import HEADLINE_METRIC
    from zoo.weights import read_manifest

    manifest = read_manifest()
    rows = [("name", "task", "parameters", "dataset", "shipped metric")]
    for name in zoo.list_models(args.pattern):
        entry = zoo.get_entry(name)
        row = manifest.get(name)
        parameters = row["parameters"] if row else entry.build().count_params()
        metric = "none shipped"
        if row:
            key = HEADLINE_METRIC[entry.task]
            metric = f"{key} {row['metrics'][key]:.4f}"
        rows.append((name, entry.task, f"{parameters:,}", entry.dataset, metric))
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip())


def command_info(args):
    import zoo

    card = zoo.info(args.name)
    weights = card.pop("weights")
    print(json.dumps(card, indent=2, default=str))
    if weights:
        print(f"shipped weights: {weights['file']} sha256 {weights['sha256']}")
        print(f"test metrics: {json.dumps(weights['metrics'])}")
        print(f"reproduce with: {weights['command']}")


def command_train(args):
    from pipelines import distributed

    backend = os.environ.get("KERAS_BACKEND")
    distributed.check_options(
        backend,
        num_processes=args.num_processes,
        process_id=args.process_id,
        coordinator=args.coordinator,
        local_processes=args.local_processes,
        ray=args.ray,
        workers=args.workers,
        gpus=args.gpus,
    )
    if args.resume is None:
        writable_dir(args.out, "--out")
    elif args.num_processes or args.local_processes or args.ray or args.gpus:
        raise ValueError(
            "--resume continues a one-process run; a distributed run cannot be resumed. "
            f"Received: --resume {args.resume} with distribution options"
        )
    command = args.recorded_command or "python cli.py " + shlex.join(sys.argv[1:])
    if args.local_processes:
        argv = strip_option(sys.argv[1:], "--local-processes")
        distributed.run_local_processes(
            [*argv, "--recorded-command", command], args.local_processes
        )
        return
    if args.num_processes or args.ray:
        os.environ.setdefault("KERAS_BACKEND", "jax")
    from pipelines.training import publish_run, train_run
    from zoo.weights import weights_dir

    settings = dict(
        epochs=args.epochs,
        batch_size=args.batch_size,
        seed=args.seed,
        overrides=parse_set(args.set),
        mixed_precision=args.mixed_precision,
        verbose=0 if args.quiet else 1,
        command=command,
        limit=args.limit,
        data_dir=args.data,
    )
    if args.ray:
        run_dir = distributed.train_on_ray(
            args.ray, args.workers or 2, {"name": args.name, **settings}, out=args.out
        )
        summary = {
            "run_dir": str(run_dir),
            "metrics": json.loads((run_dir / "metrics.json").read_text()),
        }
        if args.publish:
            summary["published"] = publish_run(run_dir)
    else:
        distribution = None
        if args.num_processes:
            distribution = distributed.initialize(
                args.coordinator, args.num_processes, args.process_id
            )
        elif args.resume is None and os.environ.get("KERAS_BACKEND", "tensorflow") == "tensorflow":
            distribution = distributed.mirrored_strategy(args.gpus or "auto")
        summary = train_run(
            args.name,
            out=args.out,
            publish=args.publish,
            resume=args.resume,
            distribution=distribution,
            **settings,
        )
    if summary["run_dir"] is None:
        print(
            f"process {args.process_id} of {args.num_processes}: trained; process 0 writes "
            "the run directory"
        )
        return
    print(f"run directory: {summary['run_dir']}")
    print(f"test metrics (best checkpoint): {json.dumps(summary['metrics']['best'])}")
    if "published" in summary:
        print(f"published {weights_dir() / summary['published']['file']}")


def strip_option(argv, option):
    """argv without `option VALUE` (or `option=VALUE`)."""
    kept, skip = [], False
    for token in argv:
        if skip:
            skip = False
        elif token == option:
            skip = True
        elif not token.startswith(option + "="):
            kept.append(token)
    return kept


def command_prepare(args):
    from pipelines import shards

    result = shards.prepare(
        args.name,
        out=args.out,
        num_shards=args.shards,
        seed=args.seed,
        validation_split=args.validation_split,
        repeat=args.repeat,
    )
    manifest = result["manifest"]
    state = "written" if result["created"] else "already there, verified (sha256), unchanged"
    print(f"shards: {result['directory']} ({state})")
    for split, entry in manifest["splits"].items():
        size = sum(shard["bytes"] for shard in entry["shards"])
        print(
            f"  {split}: {entry['count']:,} samples in {len(entry['shards'])} "
            f"shard{'s' if len(entry['shards']) > 1 else ''}, "
            f"{size / 2**20:.1f} MiB"
        )


def command_publish(args):
    from pipelines.training import publish_run
    from zoo.weights import weights_dir

    row = publish_run(args.run_dir)
    print(f"published {weights_dir() / row['file']} sha256 {row['sha256']}")
    print(f"test metrics: {json.dumps(row['metrics'])}")


def command_evaluate(args):
    import datasets
    import zoo
    from pipelines import evaluation

    model = zoo.get(args.name, weights=args.weights)
    data = datasets.load(zoo.get_entry(args.name).dataset)
    print(json.dumps(evaluation.report(args.name, model, data, weights=args.weights), indent=2))


def command_recommend(args):
    from pipelines.recommendation import recommend

    for rank, row in enumerate(recommend(args.name, args.user, args.k, args.weights), 1):
        year = f" ({row['year']})" if row["year"] else ""
        print(f"{rank:2d}. {row['title']}{year}\t{row['score']:.4f}")


def command_generate(args):
    import zoo
    from pipelines.generative import generate, is_conditional, save_grid

    if not args.out.lower().endswith(".png"):
        raise ValueError(f"--out must name a .png file. Received: --out {args.out!r}")
    labels = None
    if args.labels is not None:
        try:
            labels = [int(part) for part in args.labels.split(",")]
        except ValueError:
            raise ValueError(
                f"--labels takes comma-separated class ids, e.g. 0,1,9. Received: {args.labels!r}"
            ) from None
        labels = labels[0] if len(labels) == 1 else labels
    model = zoo.get(args.name, weights=args.weights)
    if zoo.get_entry(args.name).task != "generation":
        raise ValueError(f"generate takes a generative entry. Received: {args.name!r}")
    images = generate(model, args.n, labels=labels, seed=args.seed)
    # A conditional model's default labels cycle 0..9: one class per column.
    save_grid(images, args.out, columns=10 if labels is None and is_conditional(model) else 8)
    print(f"wrote {len(images)} images to {args.out}")


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")


def read_inputs(path, shape):
    """Reads samples of `shape` (no batch axis) from a .npy, .csv or image file.

    Returns a numeric array (n, *shape) with n >= 1 (a file holding one sample of `shape`
    gets the batch axis added). A file that cannot be read, is empty, or holds samples of
    another shape raises ValueError (FileNotFoundError when it does not exist), naming the
    file, what was expected and what it holds.
    """
    import numpy as np

    shape = tuple(shape)
    expected = "(n, " + ", ".join("any" if d is None else str(d) for d in shape) + ")"
    suffix = os.path.splitext(path)[1].lower()
    if os.path.isdir(path):
        raise ValueError(f"{path}: is a directory; predict reads .npy, .csv or image files")
    if suffix not in (".npy", ".csv") + IMAGE_SUFFIXES:
        raise ValueError(f"{path}: predict reads .npy, .csv or image files. Received: {suffix!r}")
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such file")
    if suffix in IMAGE_SUFFIXES and (len(shape) != 2 or None in shape):
        raise ValueError(
            f"{path}: this input takes samples of shape {shape}, not (height, width) "
            "grayscale images: give a .npy or .csv file"
        )
    try:
        if suffix == ".npy":
            array = np.load(path, allow_pickle=False)
        elif suffix == ".csv":
            import pandas as pd

            frame = pd.read_csv(path, header=None)
            if not frame.iloc[0].map(lambda v: isinstance(v, (int, float))).all():
                frame = pd.read_csv(path)
            array = frame.to_numpy()
        else:
            import keras

            image = keras.utils.load_img(path, color_mode="grayscale", target_size=shape[:2])
            array = keras.utils.img_to_array(image)[..., 0]
    except Exception as error:  # empty, truncated or corrupt files; pickled or ragged data
        kind = "an image" if suffix in IMAGE_SUFFIXES else f"a {suffix} file"
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ValueError(f"{path}: cannot be read as {kind}: {reason}") from None
    if array.dtype.kind not in "biuf":
        raise ValueError(
            f"{path}: expected numbers. Received: values of dtype {array.dtype} "
            f"(e.g. {np.ravel(array)[:1].tolist()})"
        )
    if array.shape == shape:
        array = array[None]
    fits = array.ndim == len(shape) + 1 and all(
        d is None or d == a for d, a in zip(shape, array.shape[1:])
    )
    if not fits:
        columns = ""
        if suffix == ".csv" and len(shape) == 1 and shape[0] is not None:
            columns = f" ({shape[0]} columns per row)"
        raise ValueError(
            f"{path}: expected samples of shape {expected}{columns}. Received: shape {array.shape}"
        )
    if len(array) == 0 or array.size == 0:
        raise ValueError(
            f"{path}: holds no samples; expected {expected} with n >= 1. "
            f"Received: shape {array.shape}"
        )
    return array


def read_batches(files, model):
    """Yields (label, x) batches to predict on.

    A one-input model takes one batch per file. For a model with several inputs, the files
    name their input and together form one batch: `image=digits.npy audio=clips.npy`.
    """
    shapes = {tensor.name: tuple(tensor.shape[1:]) for tensor in model.inputs}
    if len(shapes) == 1:
        (shape,) = shapes.values()
        for path in files:
            yield path, read_inputs(path, shape)
        return
    named = dict(item.partition("=")[::2] for item in files)
    missing = sorted(set(shapes) - set(named))
    unexpected = sorted(set(named) - set(shapes))
    if missing or unexpected or len(named) != len(files):
        raise ValueError(
            f"This model has the inputs {sorted(shapes)}: give one INPUT=FILE per input. "
            f"Missing: {missing}; unexpected: {unexpected}. Received: {files}"
        )
    batch = {name: read_inputs(named[name], shapes[name]) for name in shapes}
    lengths = {name: len(array) for name, array in batch.items()}
    if len(set(lengths.values())) != 1:
        raise ValueError(
            f"The files of one batch must hold the same number of samples. Received: {lengths}"
        )
    yield " ".join(files), batch


def command_predict(args):
    import numpy as np

    import zoo
    from pipelines import evaluation
    from zoo.weights import read_manifest

    if zoo.get_entry(args.name).task == "speech_enhancement":  # a WAV file -> an enhanced one
        from pipelines.speech import enhance_file

        if len(args.files) != 1:
            raise ValueError(f"{args.name} enhances one WAV file. Received: {args.files}")
        if args.out is None or not args.out.lower().endswith(".wav"):
            raise ValueError(f"{args.name} writes a WAV file: give --out FILE.wav.")
        model = zoo.get(args.name, weights=args.weights)
        samples = enhance_file(model, args.files[0], args.out)
        print(f"wrote {args.out} ({samples / 8000:.2f} s, 8 kHz, 16-bit)")
        return
    if args.out is not None and not args.out.endswith(".npz"):
        raise ValueError(f"--out must name a .npz file. Received: --out {args.out!r}")
    model = zoo.get(args.name, weights=args.weights)
    if zoo.get_entry(args.name).task == "speech_recognition":  # WAV files -> transcripts
        from datasets.speech import PREPARE_CLIP, VOCABULARIES
        from pipelines.speech import transcribe_files

        dataset = zoo.get_entry(args.name).dataset
        vocabulary, separator = VOCABULARIES[dataset]
        prepare = PREPARE_CLIP.get(dataset)  # as the dataset prepared its clips
        transcripts = transcribe_files(model, args.files, vocabulary, separator, prepare=prepare)
        for path, text in transcripts:
            print(f"{path}\t{text}")
        return
    class_names = (read_manifest().get(args.name) or {}).get("class_names")
    saved = {}
    if zoo.get_entry(args.name).recipe.get("text"):  # issue 8: strings, .txt or .csv files
        from pipelines.text import text_batches

        batches = text_batches(args.name, args.files, args.weights)
    else:
        batches = read_batches(args.files, model)
    for path, x in batches:
        output = evaluation.predict_arrays(model, x)
        named = output if isinstance(output, dict) else {model.output_names[0]: output}
        for key, value in named.items():
            saved.setdefault(key, []).append(np.asarray(value))
        if isinstance(output, dict):
            print_heads(path, zoo.get_entry(args.name), output, class_names)
            continue
        for index, row in enumerate(output):
            if zoo.get_entry(args.name).task == "classification":
                best = int(np.argmax(row))
                label = class_names[best] if class_names else str(best)
                print(f"{path}[{index}]\t{label}\t{row[best]:.4f}")
            else:
                print(f"{path}[{index}]\t{float(row[0]):.4f}")
    if args.out is not None:
        save_outputs(args.out, {key: np.concatenate(parts) for key, parts in saved.items()})
        print(f"saved {', '.join(sorted(saved))} to {args.out}")


def save_outputs(path, arrays):
    """Writes {output name: array} to the .npz `path` atomically (temporary name, rename)."""
    import numpy as np

    from zoo.weights import atomic_path

    with atomic_path(path) as tmp:
        with open(tmp, "wb") as file:
            np.savez(file, **arrays)


def print_heads(path, entry, outputs, class_names):
    """Prints one line per sample: each head's label and probability, its value, or (for a
    retrieval entry) each embedding in full, as space-separated numbers."""
    import numpy as np

    if entry.embeddings:
        kinds = dict.fromkeys(entry.embeddings, "embedding")
    else:
        kinds = entry.heads or dict.fromkeys(outputs, "regression")
    class_names = class_names if isinstance(class_names, dict) else {}
    for index in range(len(next(iter(outputs.values())))):
        cells = []
        for head, kind in kinds.items():
            row = outputs[head][index]
            if kind == "classification":
                best = int(np.argmax(row))
                names = class_names.get(head)
                cells.append(f"{head}={names[best] if names else best} {row[best]:.4f}")
            elif kind == "embedding":
                cells.append(f"{head}=" + " ".join(f"{v:.6g}" for v in np.ravel(row)))
            else:
                cells.append(f"{head}={float(np.ravel(row)[0]):.4f}")
        print(f"{path}[{index}]\t" + "\t".join(cells))


def command_export(args):
    import zoo
    from pipelines.export import export_model
    from zoo.weights import read_manifest, remove_stale_temporaries

    writable_dir(args.out, "--out")
    # What killed exports left beside their targets (dead writers' temporary names only).
    for directory in (args.out, os.path.join(args.out, args.name)):
        remove_stale_temporaries(directory)
    model = zoo.get(args.name, weights=args.weights)
    row = read_manifest().get(args.name) or {}
    labels = row.get("class_names")
    if not isinstance(labels, list):
        labels = None  # a multitask entry keeps a dict of class names per head
    report = export_model(
        model,
        args.out,
        format=args.format,
        version=args.version,
        labels=labels,
        name=args.name,
        text_inputs=row.get("dataset", {}).get("text_inputs"),
    )
    print(json.dumps(report, indent=2, default=str))


def command_serve(args):
    from pipelines.serving import serve

    serve(
        args.names,
        host=args.host,
        http_port=args.http_port,
        grpc_port=args.grpc_port,
        runtime=args.runtime,
        workers=args.workers,
        exports=args.exports,
        max_batch=args.max_batch,
        max_body_bytes=args.max_body_bytes,
    )


COMMANDS = {
    "list": command_list,
    "info": command_info,
    "prepare": command_prepare,
    "train": command_train,
    "publish": command_publish,
    "evaluate": command_evaluate,
    "recommend": command_recommend,
    "generate": command_generate,
    "predict": command_predict,
    "export": command_export,
    "serve": command_serve,
}


def expected_errors():
    """The errors that mean a user mistake: printed as one line, never as a traceback."""
    import datasets
    import zoo
    from pipelines.distributed import DistributedError
    from pipelines.export import ExportError

    return (
        ValueError,
        FileNotFoundError,
        datasets.DatasetMissingError,
        ExportError,
        zoo.WeightsError,
        PermissionError,
        NotADirectoryError,
        IsADirectoryError,
        DistributedError,
    )


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.backend:
        os.environ["KERAS_BACKEND"] = args.backend
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        COMMANDS[args.command](args)
    except Exception as error:
        if not isinstance(error, expected_errors()):
            raise
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Command line of the zoo: list, info, train, evaluate, predict, export.

Thin on purpose: it parses, calls `zoo`, `datasets` and `pipelines`, and prints.

    python cli.py list "cnn-*"
    python cli.py info cnn-digits
    python cli.py train cnn-digits --epochs 30 --set dropout=0.4 --publish
    python cli.py publish runs/cnn-digits-20261129-101500
    python cli.py evaluate cnn-digits
    python cli.py predict cnn-fashion-mnist shoe.png batch.npy
    python cli.py export cnn-digits --format onnx --out exports
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
    train.add_argument("--epochs", type=int)
    train.add_argument("--batch-size", type=int)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--out", default="runs", help="parent of the run directory")
    train.add_argument("--set", action="append", metavar="KEY=VALUE", help="builder argument")
    train.add_argument("--publish", action="store_true", help="ship the weights (zoo/weights)")
    train.add_argument("--mixed-precision", action="store_true", help="mixed_float16 (GPU)")
    train.add_argument("--quiet", action="store_true", help="no progress bar")

    publish = add("publish", "ship the best weights of a finished run (zoo/weights)")
    publish.add_argument("run_dir")

    evaluate = add("evaluate", "test-split metrics of weights")
    evaluate.add_argument("name")
    evaluate.add_argument("--weights", default="pretrained", help="a .weights.h5 path")

    predict = add("predict", "predict on .npy, .csv or image files")
    predict.add_argument("name")
    predict.add_argument("files", nargs="+", help="FILE, or INPUT=FILE for several inputs")
    predict.add_argument("--weights", default="pretrained")

    export = add("export", "export to a SavedModel or ONNX, verified")
    export.add_argument("name")
    export.add_argument("--format", choices=("saved_model", "onnx"), default="saved_model")
    export.add_argument("--out", default="exports")
    export.add_argument("--weights", default="pretrained")
    export.add_argument("--version", type=int, default=1)
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
    from pipelines.training import train_run

    summary = train_run(
        args.name,
        epochs=args.epochs,
        batch_size=args.batch_size,
        seed=args.seed,
        out=args.out,
        overrides=parse_set(args.set),
        publish=args.publish,
        mixed_precision=args.mixed_precision,
        verbose=0 if args.quiet else 1,
        command="python cli.py " + shlex.join(sys.argv[1:]),
    )
    print(f"run directory: {summary['run_dir']}")
    print(f"test metrics (best checkpoint): {json.dumps(summary['metrics']['best'])}")
    if "published" in summary:
        print(f"published zoo/weights/{summary['published']['file']}")


def command_publish(args):
    from pipelines.training import publish_run

    row = publish_run(args.run_dir)
    print(f"published zoo/weights/{row['file']} sha256 {row['sha256']}")
    print(f"test metrics: {json.dumps(row['metrics'])}")


def command_evaluate(args):
    import datasets
    import zoo
    from pipelines import evaluation

    model = zoo.get(args.name, weights=args.weights)
    data = datasets.load(zoo.get_entry(args.name).dataset)
    print(json.dumps(evaluation.evaluate(model, data), indent=2))


def read_inputs(path, shape):
    """Reads samples of `shape` (no batch axis) from a .npy, .csv or image file."""
    import numpy as np

    suffix = os.path.splitext(path)[1].lower()
    if suffix == ".npy":
        array = np.load(path, allow_pickle=False)
    elif suffix == ".csv":
        import pandas as pd

        frame = pd.read_csv(path, header=None)
        if not frame.iloc[0].map(lambda v: isinstance(v, (int, float))).all():
            frame = pd.read_csv(path)
        array = frame.to_numpy()
    elif suffix in (".png", ".jpg", ".jpeg", ".bmp", ".gif"):
        import keras

        image = keras.utils.load_img(path, color_mode="grayscale", target_size=shape[:2])
        array = keras.utils.img_to_array(image)[..., 0]
    else:
        raise ValueError(f"{path}: predict reads .npy, .csv or image files. Received: {suffix!r}")
    if array.shape == tuple(shape):
        array = array[None]
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
    yield " ".join(files), {name: read_inputs(named[name], shapes[name]) for name in shapes}


def command_predict(args):
    import numpy as np

    import zoo
    from pipelines import evaluation
    from zoo.weights import read_manifest

    model = zoo.get(args.name, weights=args.weights)
    class_names = (read_manifest().get(args.name) or {}).get("class_names")
    for path, x in read_batches(args.files, model):
        output = evaluation.predict_arrays(model, x)
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
    from zoo.weights import read_manifest

    model = zoo.get(args.name, weights=args.weights)
    row = read_manifest().get(args.name) or {}
    labels = row.get("class_names")
    if not isinstance(labels, list):
        labels = None  # a multitask entry keeps a dict of class names per head
    report = export_model(
        model, args.out, format=args.format, version=args.version, labels=labels,
        name=args.name, text_inputs=row.get("dataset", {}).get("text_inputs"),
    )
    print(json.dumps(report, indent=2, default=str))


COMMANDS = {
    "list": command_list,
    "info": command_info,
    "train": command_train,
    "publish": command_publish,
    "evaluate": command_evaluate,
    "predict": command_predict,
    "export": command_export,
}


def expected_errors():
    """The errors that mean a user mistake: printed as one line, never as a traceback."""
    import datasets
    import zoo
    from pipelines.export import ExportError

    return (
        ValueError,
        FileNotFoundError,
        datasets.DatasetMissingError,
        ExportError,
        zoo.WeightsError,
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

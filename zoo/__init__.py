"""A zoo of Keras 3 functional models, each registered by name with shipped weights.

Example:

    import zoo
    zoo.list_models("cnn-*")                     # ['cnn-digits', 'cnn-fashion-mnist']
    model = zoo.get("cnn-digits")                # keras.Model with pretrained weights
    model = zoo.get("cnn-digits", weights=None, dropout=0.5)   # random init, new config
    card = zoo.info("cnn-digits")                # task, inputs, metrics, recipe, ...
"""

from zoo import models  # noqa: F401  (registers the builders)
from zoo import transfer as _transfer
from zoo import weights as _weights
from zoo.registry import UnknownModelError, ZooEntry, get_entry, list_models, register
from zoo.weights import WeightsError

__all__ = [
    "UnknownModelError",
    "WeightsError",
    "ZooEntry",
    "backbone",
    "get",
    "get_entry",
    "info",
    "list_models",
    "register",
]

CARDS_DIR = _weights.SHIPPED_DIR.parent / "cards"
MODALITY_OF_INPUT = {"image": "image", "features": "tabular", "audio": "audio", "text": "text"}


def get(name, weights="pretrained", sha256=None, **overrides):
    """Builds the zoo model `name` and loads its weights.

    Args:
        name: a registered name (see `list_models()`).
        weights: "pretrained" for the shipped, sha256-checked weights; None for a random
            initialisation; a local `.weights.h5` path; or a URL (then `sha256` is required
            and the file is cached under `$ZOO_HOME`).
        sha256: expected hash of the weights file: of a local file or URL, or, with
            "pretrained", of the shipped file (a `WeightsError` when it differs).
        **overrides: builder arguments to change, e.g. `dropout=0.5`. With pretrained
            weights, an override that changes the shape of a weight is an error, except
            `num_classes` (transfer learning): the backbone loads the shipped weights, the
            head is freshly initialised, and the layers whose shapes changed are listed in
            a warning and in `model.zoo_transfer` (see `zoo.transfer`).

    Returns:
        A `keras.Model` (not compiled).

    Example:

        model = zoo.get("mlp-breast-cancer")
        probabilities = model.predict(features)   # raw features: scaling is inside
    """
    entry = get_entry(name)
    entry.check_overrides(overrides)
    if weights is None:
        return entry.build(**overrides)
    base_config = {}
    if isinstance(weights, str) and weights == "pretrained":
        row = _weights.shipped_row(name)
        if sha256 is not None and str(sha256).lower() != str(row.get("sha256")).lower():
            raise WeightsError(
                f"The shipped weights of {name!r} have sha256 {row.get('sha256')}, not the "
                f"one asked for. Received: sha256={sha256!r}"
            )
        base_config = dict(row.get("config", {}))
    model = entry.build(**{**base_config, **overrides})
    if weights == "pretrained" and overrides:
        head = {k: v for k, v in overrides.items() if k in _transfer.HEAD_ARGUMENTS}
        if head and _weight_shapes(model) != _weight_shapes(entry.build(**base_config)):
            rest = {k: v for k, v in overrides.items() if k not in head}
            source = get(name, weights="pretrained", sha256=sha256, **rest)  # checks `rest`
            _transfer.transfer_weights(model, source, name)
            return model
        _check_shapes_unchanged(entry, base_config, overrides, model)
    path = _weights.resolve(weights, name=name, sha256=sha256)
    _weights.load_into(model, path)
    return model


def backbone(name, weights="pretrained", sha256=None, **overrides):
    """The feature extractor of the image classifier `name`, with its shipped weights.

    Returns a `keras.Model` from the raw-pixel input to a dict of named features: "block1",
    "block2", ... (each convolution block's feature map after its pooling) and "features"
    (the vector the classifier head reads). `weights`, `sha256` and `overrides` are those
    of `get`.

    Example:

        extractor = zoo.backbone("cnn-fashion-mnist")
        extractor.predict(images)["features"].shape     # (N, 256)
    """
    return _transfer.feature_extractor(get(name, weights=weights, sha256=sha256, **overrides), name)


def _weight_shapes(model):
    return [tuple(weight.shape) for weight in model.weights]


def _check_shapes_unchanged(entry, base_config, overrides, model):
    """Raises when `overrides` change a weight shape of the pretrained configuration."""
    pretrained_shapes = _weight_shapes(entry.build(**base_config))
    if pretrained_shapes == _weight_shapes(model):
        return
    culprits = [
        key
        for key in overrides
        if _weight_shapes(entry.build(**{**base_config, key: overrides[key]})) != pretrained_shapes
    ] or list(overrides)
    described = ", ".join(
        f"{key}={overrides[key]!r} (pretrained: {base_config.get(key, entry.defaults[key])!r})"
        for key in culprits
    )
    raise ValueError(
        f"Overriding {described} changes the shapes of the weights of {entry.name!r}, so "
        f"its pretrained weights cannot be loaded. Pass weights=None to train from scratch, "
        f"or keep the pretrained value."
    )


def info(name):
    """Returns the model card of `name` as a dict.

    It holds the task, topic, inputs (name, shape, dtype, modality), outputs, parameter
    count, dataset and provenance, shipped-weights metrics and their recipe, the export
    formats verified for the shipped weights, the defaults one can override, and the path
    of the written model card (`zoo/cards/NAME.md`: constructed data, baselines) if any.

    Example:

        card = zoo.info("cnn-fashion-mnist")
        card["weights"]["metrics"]       # {'accuracy': 0.92..., ...}
    """
    entry = get_entry(name)
    row = _weights.read_manifest().get(name)
    model = entry.build(**(row or {}).get("config", {}))
    return {
        "name": name,
        "task": entry.task,
        "topic": entry.topic,
        "description": entry.description,
        "inputs": [
            {
                "name": tensor.name,
                "shape": tuple(tensor.shape),
                "dtype": tensor.dtype,
                "modality": MODALITY_OF_INPUT.get(tensor.name, tensor.name),
            }
            for tensor in model.inputs
        ],
        "outputs": [
            {"name": name_, "shape": tuple(tensor.shape), "dtype": tensor.dtype}
            for name_, tensor in zip(model.output_names, model.outputs)
        ],
        "parameters": model.count_params(),
        "dataset": entry.dataset,
        "provenance": (row or {}).get("dataset"),
        "weights": row,
        "exports_verified": (row or {}).get("exports_verified", []),
        "defaults": dict(entry.defaults),
        "recipe": dict(entry.recipe),
        "card": str(CARDS_DIR / f"{name}.md") if (CARDS_DIR / f"{name}.md").exists() else None,
        "how_to_override": (
            f"zoo.get({name!r}, weights=None, <argument>=<value>) or "
            f"python cli.py train {name} --set <argument>=<value>"
        ),
    }

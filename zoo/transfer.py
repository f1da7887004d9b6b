"""Transfer learning: pretrained weights into a model with a new head, and feature extractors.

`zoo.get(name, weights="pretrained", num_classes=K)` builds the entry with K classes, loads
the shipped weights into every layer whose weights keep their shapes (the backbone) and
leaves the layers whose shapes changed (the head) freshly initialised. Those layers are
listed, in a warning and in `model.zoo_transfer` (never silently skipped):

    model = zoo.get("cnn-fashion-mnist", num_classes=5)
    model.zoo_transfer["reinitialised"]
    # [{'layer': 'probabilities', 'pretrained_shapes': [[256, 10], [10]],
    #   'shapes': [[256, 5], [5]]}]

`zoo.backbone(name)` returns the feature extractor of an image classifier: a `keras.Model`
from its raw-pixel input to a dict of named feature maps (one per convolution block, after
its pooling, "block1", "block2", ...) and "features", the vector the classifier head reads.
"""

import warnings

import keras

# Builder arguments that only change the shape of the head: with pretrained weights they
# give a model whose backbone is pretrained and whose head is new.
HEAD_ARGUMENTS = ("num_classes",)
HEAD_LAYER = "probabilities"


def layer_weights(layer):
    """The weights of `layer` that a transfer copies (a random layer's seed state is not)."""
    return [weight for weight in layer.weights if "seed_generator" not in weight.path]


def weighted_layers(model):
    """{name: layer} of the layers of `model` (nested models included) that own weights
    (trainable ones, and statistics such as an adapted `Normalization`'s)."""
    found = {}
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, keras.Model) or not layer_weights(layer):
            continue
        if list(layer._flatten_layers(include_self=False, recursive=False)):
            continue  # a wrapper: its inner layers are listed themselves
        found[layer.name] = layer
    return found


def transfer_weights(model, source, source_name):
    """Copies the weights of `source`'s layers into `model`'s layers of the same name.

    A layer whose weights have other shapes (a new head) keeps its fresh initialisation and
    is listed; so is a layer of `model` that `source` lacks, and one of `source` that
    `model` lacks. Returns the report, also set as `model.zoo_transfer`, and warns when any
    layer was not loaded.
    """
    target_layers, source_layers = weighted_layers(model), weighted_layers(source)
    loaded, reinitialised, new = [], [], []
    for name, layer in target_layers.items():
        origin = source_layers.get(name)
        if origin is None:
            new.append(name)
            continue
        shapes = [list(weight.shape) for weight in layer_weights(layer)]
        pretrained_shapes = [list(weight.shape) for weight in layer_weights(origin)]
        if shapes != pretrained_shapes:
            reinitialised.append(
                {"layer": name, "pretrained_shapes": pretrained_shapes, "shapes": shapes}
            )
            continue
        for weight, value in zip(layer_weights(layer), layer_weights(origin)):
            weight.assign(value)
        loaded.append(name)
    report = {
        "source": source_name,
        "loaded": loaded,
        "reinitialised": reinitialised,
        "new": new,
        "unused": [name for name in source_layers if name not in target_layers],
    }
    model.zoo_transfer = report
    if reinitialised or new:
        changed = ", ".join(
            f"{item['layer']} {item['pretrained_shapes']} -> {item['shapes']}"
            for item in reinitialised
        )
        warnings.warn(
            f"{model.name}: {len(loaded)} layers loaded from the weights of {source_name!r}; "
            f"freshly initialised (shapes changed): {changed or 'none'}; "
            f"new layers: {', '.join(new) or 'none'}; "
            f"unused pretrained layers: {', '.join(report['unused']) or 'none'}.",
            stacklevel=3,
        )
    return report


def classifier_core(model):
    """The functional model holding the head layer "probabilities" (a wrapped classifier,
    e.g. cnn-fashion-mnist-fast's `FlipAveraged`, holds it one level down)."""
    for layer in model._flatten_layers(include_self=True, recursive=True):
        if isinstance(layer, keras.Model) and any(
            inner.name == HEAD_LAYER and isinstance(inner, keras.layers.Dense)
            for inner in layer.layers
        ):
            return layer
    raise ValueError(
        f"{model.name} has no classifier head named {HEAD_LAYER!r}: zoo.backbone takes an "
        "image classifier of the zoo."
    )


def feature_extractor(model, name):
    """The feature extractor of the image classifier `model` (see the module docstring)."""
    core = classifier_core(model)
    if len(core.inputs) != 1 or len(core.inputs[0].shape) < 3:
        raise ValueError(
            f"zoo.backbone takes an image classifier (one image input). Received: {name!r} "
            f"with inputs {[tuple(tensor.shape) for tensor in core.inputs]}"
        )
    outputs = {}
    for layer in core.layers:
        if isinstance(layer, keras.layers.MaxPooling2D) and layer.name.endswith("_pool"):
            outputs[layer.name[: -len("_pool")]] = layer.output
    outputs["features"] = core.get_layer(HEAD_LAYER).input
    return keras.Model(core.inputs, outputs, name=f"{core.name}_backbone")


def freeze_backbone(model):
    """Freezes the backbone of `model`: the layers loaded from pretrained weights (those of
    `model.zoo_transfer["loaded"]`; without that report, every layer but the head
    "probabilities"). The new and reinitialised layers train. BatchNormalization runs in
    inference mode while frozen (Keras 3: a non-trainable BatchNormalization uses its
    moving statistics). Returns the names of the layers left trainable."""
    report = getattr(model, "zoo_transfer", None)
    layers = weighted_layers(model)
    frozen = set(report["loaded"]) if report else set(layers) - {HEAD_LAYER}
    for name, layer in layers.items():
        layer.trainable = name not in frozen
    return sorted(set(layers) - frozen)


def unfreeze(model, keep_batchnorm_frozen=True):
    """Makes every layer trainable again, except BatchNormalization layers when
    `keep_batchnorm_frozen` (the Keras transfer-learning guide's advice: their moving
    statistics would be re-estimated on the small new data set)."""
    # Each layer explicitly: a functional model's `trainable` setter does not reach the
    # layers that `freeze_backbone` froze one by one.
    for layer in model._flatten_layers(include_self=True, recursive=True):
        batchnorm = isinstance(layer, keras.layers.BatchNormalization)
        layer.trainable = not (batchnorm and keep_batchnorm_frozen)

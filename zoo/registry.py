"""The registry of zoo entries: one decorator, module-level dicts, fnmatch listing.

A builder is a plain function that returns a `keras.Model`; `@register` records it with
what the zoo needs to know about it (task, dataset, training recipe). Its keyword arguments
and their defaults are the entry's configuration, and `zoo.get(name, **overrides)` changes them.

Example:

    @register("mlp-toy", task="regression", dataset="diabetes", topic="tabular MLP")
    def mlp_toy(num_features=10, hidden_units=32):
        ...
        return keras.Model(features, prediction)
"""

import dataclasses
import difflib
import fnmatch
import inspect
import numbers
from collections.abc import Callable

TASKS = (
    "classification",
    "regression",
    "multitask",
    "retrieval",
    "node_classification",
    "graph_classification",
    "speech_recognition",
    "self_supervised",
    "segmentation",  # issue 10: per-pixel classes
    "detection",  # issue 10: boxes and classes
    "speech_enhancement",  # issue 11: noisy waveform -> enhanced waveform
    "image_enhancement",  # issue 9: image in, image out (pipelines.enhancement)
    "generation",  # issue 9: noise (and class) in, image out (pipelines.generative)
)
HEAD_KINDS = ("classification", "regression")

_ENTRIES = {}


class UnknownModelError(ValueError):
    """Raised for a name that is not in the zoo; the message lists the closest names."""


@dataclasses.dataclass(frozen=True)
class ZooEntry:
    """What the zoo knows about one model.

    Attributes:
        name: the registered name, e.g. "cnn-digits".
        builder: the function that builds the `keras.Model`.
        task: "classification", "regression" or "multitask" (a dict of named heads).
        dataset: the `datasets.load` name of the data its weights were trained on.
        topic: the curriculum topic the entry shows, in a few words.
        description: first paragraph of the builder's docstring.
        defaults: the builder's keyword arguments and their default values.
        recipe: default training settings (epochs, batch_size, learning_rate, ...).
        heads: multitask entries: {output name: "classification" or "regression"}.
        embeddings: retrieval entries: the names of the (query, key) embedding outputs.
    """

    name: str
    builder: Callable
    task: str
    dataset: str
    topic: str
    description: str
    defaults: dict
    recipe: dict
    heads: dict = dataclasses.field(default_factory=dict)
    embeddings: tuple = ()

    def build(self, **config):
        """Builds the model with the defaults updated by `config`."""
        return self.builder(**{**self.defaults, **config})

    def check_overrides(self, overrides):
        """Raises unless every override names a builder argument and has its default's type.

        The type follows the default: a bool default takes a bool, an int default an integer,
        a float default a number, a str default a string, a tuple or list default a tuple or
        list; a None default takes anything.

        Example:

            zoo.get_entry("cnn-digits").check_overrides({"dropout": "abc"})
            # ValueError: dropout must be a number (default 0.3). Received: 'abc'
        """
        unknown = sorted(set(overrides) - set(self.defaults))
        if unknown:
            close = [
                match
                for key in unknown
                for match in difflib.get_close_matches(key, self.defaults, n=1, cutoff=0.6)
            ]
            hint = f" Did you mean: {', '.join(close)}?" if close else ""
            raise ValueError(
                f"{self.name!r} has no argument {', '.join(unknown)}.{hint} "
                f"Its arguments: {', '.join(self.defaults)}. Received: {overrides}"
            )
        for key, value in overrides.items():
            expected = _expected_type(self.defaults[key], value)
            if expected:
                raise ValueError(
                    f"{key} must be {expected} (default {self.defaults[key]!r}). "
                    f"Received: {value!r}"
                )


def _expected_type(default, value):
    """What `value` should be to replace `default` ("" when it fits)."""
    if default is None:
        return ""
    is_bool = isinstance(value, bool) or type(value).__name__ == "bool_"
    if isinstance(default, bool):
        return "" if is_bool else "True or False"
    if isinstance(default, numbers.Integral):
        return "" if isinstance(value, numbers.Integral) and not is_bool else "an integer"
    if isinstance(default, numbers.Real):
        return "" if isinstance(value, numbers.Real) and not is_bool else "a number"
    if isinstance(default, str):
        return "" if isinstance(value, str) else "a string"
    if isinstance(default, (tuple, list)):
        return "" if isinstance(value, (tuple, list)) else "a tuple or list"
    return ""


def register(name, *, task, dataset, topic, recipe=None, heads=None, embeddings=None):
    """Registers a builder function under `name`.

    Args:
        name: the zoo name, lowercase words joined by "-".
        task: one of "classification", "regression", "multitask" (a dict of named heads).
        dataset: the `datasets.load` name its weights are trained on.
        topic: the curriculum topic, e.g. "image recognition with a CNN".
        recipe: default training settings for pipelines and the CLI, e.g.
            `{"epochs": 30, "batch_size": 64, "learning_rate": 1e-3}`; "backend" names the
            Keras backend a recipe was tuned for (`train` notes a run on another one) and
            "validation_split" the share `train` holds out (default 0.1; 0: none);
            "steps_per_execution" the batches per call of the compiled training step
            (default 1; PyTorch takes 1 whatever the recipe says).
        heads: required for task "multitask": {output name: "classification" or
            "regression"}, the named heads of the model's dict output.
        embeddings: required for task "retrieval": the (query, key) output names, e.g.
            ("audio_embedding", "text_embedding").

    Example:

        @register("cnn-digits", task="classification", dataset="digits", topic="CNN")
        def cnn_digits(num_classes=10):
            ...
    """
    if task not in TASKS:
        raise ValueError(f"`task` must be one of {TASKS}. Received: task={task!r}")
    heads = dict(heads or {})
    if (task == "multitask") != bool(heads) or any(k not in HEAD_KINDS for k in heads.values()):
        raise ValueError(
            f"`heads` ({{output name: one of {HEAD_KINDS}}}) is required for task "
            f"'multitask' and only there. Received: task={task!r}, heads={heads!r}"
        )
    embeddings = tuple(embeddings or ())
    if (task == "retrieval") != bool(embeddings) or (embeddings and len(embeddings) != 2):
        raise ValueError(
            "`embeddings` (the query and key output names) is required for task "
            f"'retrieval' and only there. Received: task={task!r}, embeddings={embeddings!r}"
        )

    def decorator(builder):
        if name in _ENTRIES:
            raise ValueError(f"The zoo already has an entry named {name!r}.")
        signature = inspect.signature(builder)
        defaults = {}
        for parameter in signature.parameters.values():
            if parameter.default is inspect.Parameter.empty:
                raise TypeError(
                    f"Builder {builder.__name__} for {name!r}: every argument needs a "
                    f"default. Received an argument without one: {parameter.name!r}"
                )
            defaults[parameter.name] = parameter.default
        description = inspect.getdoc(builder) or ""
        _ENTRIES[name] = ZooEntry(
            name=name,
            builder=builder,
            task=task,
            dataset=dataset,
            topic=topic,
            description=description.split("\n\n")[0].replace("\n", " "),
            defaults=defaults,
            recipe=dict(recipe or {}),
            heads=heads,
            embeddings=embeddings,
        )
        return builder

    return decorator


def list_models(pattern="*"):
    """Returns the sorted names of the entries matching an fnmatch `pattern`.

    Example:

        >>> list_models("cnn-*")
        ['cnn-digits', 'cnn-fashion-mnist']
    """
    return sorted(name for name in _ENTRIES if fnmatch.fnmatch(name, pattern))


def get_entry(name):
    """Returns the `ZooEntry` registered as `name`, or raises `UnknownModelError`."""
    if not isinstance(name, str):
        raise TypeError(f"A zoo name must be a string. Received: {name!r}")
    if name not in _ENTRIES:
        close = difflib.get_close_matches(name, _ENTRIES, n=3, cutoff=0.4)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise UnknownModelError(
            f"No zoo model is named {name!r}.{hint} Known names: {', '.join(sorted(_ENTRIES))}."
        )
    return _ENTRIES[name]

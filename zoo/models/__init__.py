"""Builders grouped by model family; importing this package registers them all."""

from zoo.models import (  # noqa: F401
    detection,
    driving,
    enhancement,
    finance,
    generative,
    graph,
    multimodal,
    multitask,
    pretraining,
    recommendation,
    retrieval,
    sequence,
    speech,
    tabular,
    text,
    vision,
)

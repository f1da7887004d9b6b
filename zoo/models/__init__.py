"""Builders grouped by model family; importing this package registers them all."""

from zoo.models import (  # noqa: F401
    finance,
    multimodal,
    multitask,
    retrieval,
    sequence,
    tabular,
    vision,
)

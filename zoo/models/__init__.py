"""Builders grouped by model family; importing this package registers them all."""

from zoo.models import graph, multimodal, multitask, retrieval, sequence, tabular, vision  # noqa: F401

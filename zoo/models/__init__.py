"""Builders grouped by model family; importing this package registers them all."""

import zoo.models.driving  # noqa: F401  (issue 12: behaviour cloning for driving)
from zoo.models import multimodal, multitask, retrieval, sequence, tabular, vision  # noqa: F401

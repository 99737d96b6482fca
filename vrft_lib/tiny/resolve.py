"""Where a run's model name becomes a loadable path: ``tiny`` is the cached tiny instruct base (built
on first use), anything else is checked by :func:`vrft_lib.models.locate_model`."""

from __future__ import annotations

from ..models import locate_model
from ..vocab import TINY_MODEL
from .base import ensure_tiny_base


def resolve_model_path(name_or_path: str) -> str:
    """A loadable local path or hub id for a run's model: ``tiny`` means the cached tiny instruct base."""
    if name_or_path == TINY_MODEL:
        return ensure_tiny_base()
    return locate_model(name_or_path)

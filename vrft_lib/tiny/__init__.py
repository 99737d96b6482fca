"""The tiny model organism of the CPU default: a Qwen2.5-VL of the real architecture, built offline.

* :mod:`~vrft_lib.tiny.model`: the random tiny model, its tokenizer and processor;
* :mod:`~vrft_lib.tiny.instruct_mix`: the generic instruction mix it is taught the prompt formats on;
* :mod:`~vrft_lib.tiny.base`: the cached *tiny instruct base* (``model: tiny`` in a run config).

:func:`resolve_model_path` is where a run's model name becomes a loadable path: ``tiny`` is the
cached base (built on first use), anything else is checked by :func:`vrft_lib.models.locate_model`.
"""

from ..models import locate_model
from ..vocab import TINY_MODEL
from .base import ensure_tiny_base
from .model import build_tiny_model

__all__ = ["build_tiny_model", "ensure_tiny_base", "resolve_model_path"]


def resolve_model_path(name_or_path: str) -> str:
    """A loadable local path or hub id for a run's model: ``tiny`` means the cached tiny instruct base."""
    if name_or_path == TINY_MODEL:
        return ensure_tiny_base()
    return locate_model(name_or_path)

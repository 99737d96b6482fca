"""The tiny model organism of the CPU default: a Qwen2.5-VL of the real architecture, built offline.

* :mod:`~vrft_lib.tiny.model`: the random tiny model, its tokenizer and processor;
* :mod:`~vrft_lib.tiny.instruct_mix`: the generic instruction mix it is taught the prompt formats on;
* :mod:`~vrft_lib.tiny.base`: the cached *tiny instruct base* (``model: tiny`` in a run config);
* :mod:`~vrft_lib.tiny.resolve`: :func:`resolve_model_path`, where a run's model name becomes a path.
"""

from .base import ensure_tiny_base
from .model import build_tiny_model
from .resolve import resolve_model_path

__all__ = ["build_tiny_model", "ensure_tiny_base", "resolve_model_path"]

"""Loading a Qwen2.5-VL checkpoint and its processor: the real model or a tiny one of the same architecture.

``load_model_and_processor`` loads a hub id or a local folder of Qwen2.5-VL: the paper's model, a
trained run's ``model/``, or a tiny model made by :func:`vrft_lib.tiny.build_tiny_model` (the CPU
default). The processor is always built from its
parts (tokenizer, PIL image processor, chat template) by :class:`ImageQwen2_5_VLProcessor`, an
image-only Qwen2.5-VL processor that needs no torchvision and no video processor. Pass it explicitly
as ``processing_class`` to TRL trainers: ``AutoProcessor`` would silently return a bare tokenizer.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import ModelError


def processor_class():
    from transformers.models.qwen2_5_vl.processing_qwen2_5_vl import Qwen2_5_VLProcessor

    class ImageQwen2_5_VLProcessor(Qwen2_5_VLProcessor):
        """Qwen2.5-VL processor for images only: no video processor, hence no torchvision."""

        def __init__(self, image_processor=None, tokenizer=None, chat_template=None, **kwargs):
            super().__init__(
                image_processor=image_processor,
                tokenizer=tokenizer,
                video_processor=None,
                chat_template=chat_template,
                **kwargs,
            )

    return ImageQwen2_5_VLProcessor


def qwen_chat_template() -> str:
    """The original Qwen2.5-VL chat template, as shipped with TRL (read, not retyped)."""
    import trl

    path = Path(trl.__file__).parent / "chat_templates" / "qwen2_5_vl.jinja"
    return path.read_text()


def is_hub_id(name_or_path: str) -> bool:
    """True for ``org/name`` strings that are not an existing local path.

    >>> is_hub_id("Qwen/Qwen2.5-VL-7B-Instruct")
    True
    >>> is_hub_id("/models/qwen")
    False
    """
    s = str(name_or_path)
    return not os.path.exists(s) and s.count("/") == 1 and not s.startswith((".", "/", "~"))


def locate_model(name_or_path: str) -> str:
    """Return a loadable local path or hub id, or raise a ModelError that says how to fix it.

    A hub id is accepted when its files are in the local Hugging Face cache, or when the hub may be
    reached (``HF_HUB_OFFLINE`` unset). A local path must hold a ``config.json``.
    """
    s = str(name_or_path)
    if os.path.isdir(s):
        if not os.path.exists(os.path.join(s, "config.json")):
            raise ModelError(
                f"Model folder '{s}' has no config.json. Point the model at a folder saved with "
                "save_pretrained (a Qwen2.5-VL checkpoint), or build the tiny model with `vrft tiny-base`."
            )
        return s
    if os.path.exists(s):
        raise ModelError(f"Model path '{s}' is a file; give the folder that holds config.json.")
    if not is_hub_id(s):
        raise ModelError(
            f"Model '{s}' is neither an existing folder nor a hub id of the form org/name. "
            "Check the path (relative paths are resolved from the working directory)."
        )
    from huggingface_hub import try_to_load_from_cache

    cached = try_to_load_from_cache(s, "config.json")
    if isinstance(cached, str):
        return s
    offline = os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes")
    if offline:
        raise ModelError(
            f"Model '{s}' is a hub id, but it is not in the local Hugging Face cache and HF_HUB_OFFLINE "
            "is set, so it cannot be downloaded. Download it once on a machine with network "
            f"(`huggingface-cli download {s} --local-dir /path/to/model`) and set the model to that "
            "local path, or unset HF_HUB_OFFLINE."
        )
    return s


def load_processor(name_or_path: str, min_pixels: int | None = None, max_pixels: int | None = None):
    """Build the image-only Qwen2.5-VL processor from a checkpoint's tokenizer and image processor."""
    from transformers import AutoTokenizer
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    path = locate_model(name_or_path)
    tokenizer = AutoTokenizer.from_pretrained(path)
    kwargs = {}
    if min_pixels is not None:
        kwargs["min_pixels"] = int(min_pixels)
    if max_pixels is not None:
        kwargs["max_pixels"] = int(max_pixels)
    image_processor = Qwen2VLImageProcessorPil.from_pretrained(path, **kwargs)
    template = getattr(tokenizer, "chat_template", None) or qwen_chat_template()
    processor = processor_class()(image_processor=image_processor, tokenizer=tokenizer, chat_template=template)
    tokenizer.padding_side = "left"  # generation pads on the left; trainers set their own side
    return processor


def load_model_and_processor(
    name_or_path: str,
    dtype: str = "auto",
    attn_implementation: str | None = None,
    min_pixels: int | None = None,
    max_pixels: int | None = None,
    device_map=None,
):
    """Load a Qwen2.5-VL model (hub id, local path or tiny model folder) and its processor.

    Args:
        name_or_path: ``Qwen/Qwen2.5-VL-7B-Instruct``, a local checkpoint folder, or a folder made by
            :func:`build_tiny_model` / a training run.
        dtype: ``"auto"`` (the checkpoint's), ``"bfloat16"``, ``"float16"`` or ``"float32"``.
        attn_implementation: e.g. ``"sdpa"``, ``"flash_attention_2"`` or ``"eager"``; None keeps the default.
        min_pixels, max_pixels: image size bounds of the processor (the number of visual tokens).

    Returns:
        ``(model, processor)``; the model is in eval mode.
    """
    import torch
    from transformers import Qwen2_5_VLForConditionalGeneration

    path = locate_model(name_or_path)
    kwargs = {}
    if dtype and dtype != "auto":
        if not hasattr(torch, dtype):
            raise ModelError(f"Unknown dtype '{dtype}': use auto, bfloat16, float16 or float32.")
        kwargs["dtype"] = getattr(torch, dtype)
    else:
        kwargs["dtype"] = "auto"
    if attn_implementation:
        kwargs["attn_implementation"] = attn_implementation
    if device_map is not None:
        kwargs["device_map"] = device_map
    try:
        model = Qwen2_5_VLForConditionalGeneration.from_pretrained(path, **kwargs)
    except OSError as e:  # pragma: no cover - depends on the network / cache state
        raise ModelError(f"Could not load model '{name_or_path}': {e}") from e
    model.eval()
    processor = load_processor(path, min_pixels=min_pixels, max_pixels=max_pixels)
    return model, processor


def freeze_vision_tower(model, train_merger: bool = True) -> int:
    """Freeze the vision encoder's patch embedding and blocks (optionally keep the merger trainable).

    Returns the number of parameters frozen. The tiny instruct base trains its language model only.
    """
    visual = model.model.visual if hasattr(model, "model") and hasattr(model.model, "visual") else model.visual
    frozen = 0
    for name, param in visual.named_parameters():
        if train_merger and name.startswith("merger."):
            continue
        param.requires_grad_(False)
        frozen += param.numel()
    return frozen

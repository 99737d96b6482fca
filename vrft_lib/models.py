"""Qwen2.5-VL models and processors: the real checkpoint and a tiny offline one of the same architecture.

``load_model_and_processor`` loads either a hub id / local path of Qwen2.5-VL (the paper profile) or a
tiny model made by ``build_tiny_model`` (the CPU default). The processor is always built from its
parts (tokenizer, PIL image processor, chat template) by :class:`ImageQwen2_5_VLProcessor`, an
image-only Qwen2.5-VL processor that needs no torchvision and no video processor. Pass it explicitly
as ``processing_class`` to TRL trainers: ``AutoProcessor`` would silently return a bare tokenizer.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .errors import ModelError

TINY_MARKER = "vrft_tiny.json"

# Qwen2.5-VL's special tokens, in the original order, so that a tiny model's prompts look like the real ones.
QWEN_SPECIAL_TOKENS = [
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>",
    "<|box_start|>", "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>",
    "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>",
]
# Format tags are ordinary (non-special) tokens: decoded text keeps them, as with the real model.
FORMAT_TOKENS = ["<think>", "</think>", "<answer>", "</answer>"]

# Image size bounds for the tiny model: a 56x56 image becomes 4 visual tokens.
TINY_MIN_PIXELS = 56 * 56
TINY_MAX_PIXELS = 112 * 112


def _processor_class():
    from transformers.models.qwen2_5_vl.processing_qwen2_5_vl import Qwen2_5_VLProcessor

    class ImageQwen2_5_VLProcessor(Qwen2_5_VLProcessor):
        """Qwen2.5-VL processor for images only: no video processor, hence no torchvision."""

        def __init__(self, image_processor=None, tokenizer=None, chat_template=None, **kwargs):
            super().__init__(image_processor=image_processor, tokenizer=tokenizer, video_processor=None,
                             chat_template=chat_template, **kwargs)

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


def resolve_model_path(name_or_path: str) -> str:
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

    path = resolve_model_path(name_or_path)
    tokenizer = AutoTokenizer.from_pretrained(path)
    kwargs = {}
    if min_pixels is not None:
        kwargs["min_pixels"] = int(min_pixels)
    if max_pixels is not None:
        kwargs["max_pixels"] = int(max_pixels)
    image_processor = Qwen2VLImageProcessorPil.from_pretrained(path, **kwargs)
    template = getattr(tokenizer, "chat_template", None) or qwen_chat_template()
    processor = _processor_class()(image_processor=image_processor, tokenizer=tokenizer, chat_template=template)
    tokenizer.padding_side = "left"  # generation pads on the left; trainers set their own side
    return processor


def load_model_and_processor(name_or_path: str, dtype: str = "auto", attn_implementation: str | None = None,
                             min_pixels: int | None = None, max_pixels: int | None = None,
                             device_map=None):
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

    path = resolve_model_path(name_or_path)
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

    Returns the number of parameters frozen. LLaMA-Factory, the paper's SFT tool, freezes the vision
    tower by default; the kit leaves it trainable unless a run sets ``freeze_vision: true``.
    """
    visual = model.model.visual if hasattr(model, "model") and hasattr(model.model, "visual") else model.visual
    frozen = 0
    for name, param in visual.named_parameters():
        if train_merger and name.startswith("merger."):
            continue
        param.requires_grad_(False)
        frozen += param.numel()
    return frozen


def is_tiny_model(path: str) -> bool:
    return os.path.exists(os.path.join(str(path), TINY_MARKER))


# ----------------------------------------------------------------------------------------------
# The tiny model
# ----------------------------------------------------------------------------------------------

TINY_ARCH = dict(
    hidden_size=128,        # text width; big enough to learn the synthetic tasks in minutes on 2 cores
    num_hidden_layers=4,
    num_attention_heads=4,  # head_dim 32, so mrope_section sums to 16
    num_key_value_heads=2,  # grouped-query attention, as in the real model
    intermediate_size=384,
    mrope_section=[4, 6, 6],
    vision_depth=2,
    vision_hidden_size=64,
    vision_num_heads=2,
    vision_intermediate_size=128,
    vocab_size=1024,        # BPE merges stop earlier when the corpus runs out
)


def train_tokenizer(corpus, vocab_size: int = 1024):
    """Train a byte-level BPE tokenizer with Qwen2's pre-tokenizer on ``corpus`` (an iterable of str).

    Returns a ``transformers.Qwen2Tokenizer`` with Qwen2.5-VL's special tokens and the format tags.
    """
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import Qwen2Tokenizer
    from transformers.models.qwen2.tokenization_qwen2 import PRETOKENIZE_REGEX

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size - len(QWEN_SPECIAL_TOKENS) - len(FORMAT_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(list(corpus), trainer=trainer)
    state = json.loads(bpe.to_str())["model"]
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in state["merges"]]
    vocab = state["vocab"]
    tok = Qwen2Tokenizer(vocab=vocab, merges=merges, unk_token="<|endoftext|>",
                         eos_token="<|im_end|>", pad_token="<|endoftext|>")
    from tokenizers import AddedToken

    tok.add_special_tokens({"additional_special_tokens": QWEN_SPECIAL_TOKENS[1:]})
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in FORMAT_TOKENS])
    tok.chat_template = qwen_chat_template()
    return tok


def default_tokenizer_corpus() -> list[str]:
    """Text the tiny tokenizer is trained on: chat scaffolding, the prompts and the synthetic benchmarks."""
    from . import prompts, synthetic_instruct
    from .data import load_benchmark, list_benchmarks

    texts = [
        "You are a helpful assistant.", "system", "user", "assistant",
        "<think> </think> <answer> </answer>", "Picture 1:", "Picture 2:",
    ]
    for name in [b for b in list_benchmarks() if b.startswith("synthetic_")]:
        ds = load_benchmark(name, "train", limit=64, seed=12345)
        for row in ds.remove_columns("images"):
            for mode in prompts.MODES:
                texts.append(prompts.user_text(row, mode))
                texts.append(prompts.sft_target(row, mode))
        from .data import benchmark_info

        texts.extend(benchmark_info(ds).get("classes") or [])
    from .synthetic import aircraft_classes

    texts.extend(aircraft_classes(100))
    texts.extend(synthetic_instruct.corpus_texts())
    return texts


def build_tiny_model(path, seed: int = 0, corpus=None, arch: dict | None = None):
    """Build a tiny Qwen2.5-VL of the real architecture with random weights, and save it to ``path``.

    Offline and deterministic from ``seed``: a byte-level BPE tokenizer trained locally, a PIL image
    processor (no torchvision) bounded to small images, the original chat template, and a
    ``Qwen2_5_VLForConditionalGeneration`` from a scaled-down config. Saved with ``save_pretrained`` so
    that TRL can reload it (and its reference copy) by path.

    Returns:
        The path, as a string.
    """
    import torch
    from transformers import GenerationConfig, Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    a = dict(TINY_ARCH, **(arch or {}))
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    tokenizer = train_tokenizer(corpus if corpus is not None else default_tokenizer_corpus(), a["vocab_size"])
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in QWEN_SPECIAL_TOKENS}
    vocab = (len(tokenizer) + 63) // 64 * 64
    head_dim = a["hidden_size"] // a["num_attention_heads"]
    if sum(a["mrope_section"]) * 2 != head_dim:
        raise ModelError(f"mrope_section {a['mrope_section']} must sum to head_dim/2 = {head_dim // 2}.")
    config = Qwen2_5_VLConfig(
        text_config=dict(
            vocab_size=vocab, hidden_size=a["hidden_size"], intermediate_size=a["intermediate_size"],
            num_hidden_layers=a["num_hidden_layers"], num_attention_heads=a["num_attention_heads"],
            num_key_value_heads=a["num_key_value_heads"], max_position_embeddings=4096,
            rope_parameters={"rope_type": "default", "rope_theta": 1000000.0, "mrope_section": a["mrope_section"]},
            bos_token_id=ids["<|endoftext|>"], eos_token_id=ids["<|im_end|>"], pad_token_id=ids["<|endoftext|>"],
            tie_word_embeddings=True,
        ),
        vision_config=dict(
            depth=a["vision_depth"], hidden_size=a["vision_hidden_size"], num_heads=a["vision_num_heads"],
            intermediate_size=a["vision_intermediate_size"], out_hidden_size=a["hidden_size"],
            patch_size=14, spatial_merge_size=2, temporal_patch_size=2, window_size=112,
            fullatt_block_indexes=[a["vision_depth"] - 1],
        ),
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    model = Qwen2_5_VLForConditionalGeneration(config)
    model.generation_config = GenerationConfig(
        eos_token_id=[ids["<|im_end|>"], ids["<|endoftext|>"]], pad_token_id=ids["<|endoftext|>"],
        bos_token_id=ids["<|endoftext|>"], do_sample=False,
    )
    image_processor = Qwen2VLImageProcessorPil(min_pixels=TINY_MIN_PIXELS, max_pixels=TINY_MAX_PIXELS)
    processor = _processor_class()(image_processor=image_processor, tokenizer=tokenizer,
                                   chat_template=tokenizer.chat_template)
    model.save_pretrained(path)
    processor.save_pretrained(path)
    tokenizer.save_pretrained(path)
    n_params = sum(p.numel() for p in model.parameters())
    (path / TINY_MARKER).write_text(json.dumps({"seed": seed, "arch": a, "parameters": n_params}, indent=2))
    return str(path)

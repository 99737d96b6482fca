"""The tiny Qwen2.5-VL: the real architecture, scaled down, with random weights, built offline.

A byte-level BPE tokenizer trained locally with Qwen2's pre-tokenizer and the Qwen special tokens,
the original chat template, an image-only processor (PIL backend, no torchvision) and a
``Qwen2_5_VLForConditionalGeneration`` from a scaled-down config, saved with ``save_pretrained`` so
that TRL and :func:`vrft_lib.models.load_model_and_processor` load it by path like the 7B model.
"""

from __future__ import annotations

import json
from pathlib import Path

from .. import prompts
from ..data import benchmark_info, list_benchmarks, load_benchmark
from ..data.synthetic import aircraft_classes
from ..errors import ModelError
from ..models import processor_class, qwen_chat_template
from ..vocab import PROMPT_MODES
from . import instruct_mix

TINY_MARKER = "vrft_tiny.json"

# Qwen2.5-VL's special tokens, in the original order, so that a tiny model's prompts look like the real ones.
QWEN_SPECIAL_TOKENS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|object_ref_start|>",
    "<|object_ref_end|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|quad_start|>",
    "<|quad_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
]
# Format tags are ordinary (non-special) tokens: decoded text keeps them, as with the real model.
FORMAT_TOKENS = ["<think>", "</think>", "<answer>", "</answer>"]

# Image size bounds for the tiny model: a 56x56 image becomes 4 visual tokens.
TINY_MIN_PIXELS = 56 * 56
TINY_MAX_PIXELS = 112 * 112


TINY_ARCH = dict(
    hidden_size=128,  # text width; big enough to learn the synthetic tasks in minutes on 2 cores
    num_hidden_layers=4,
    num_attention_heads=4,  # head_dim 32, so mrope_section sums to 16
    num_key_value_heads=2,  # grouped-query attention, as in the real model
    intermediate_size=384,
    mrope_section=[4, 6, 6],
    vision_depth=2,
    vision_hidden_size=64,
    vision_num_heads=2,
    vision_intermediate_size=128,
    vocab_size=1024,  # BPE merges stop earlier when the corpus runs out
)


def train_tokenizer(corpus, vocab_size: int = 1024):
    """Train a byte-level BPE tokenizer with Qwen2's pre-tokenizer on ``corpus`` (an iterable of str).

    Returns a ``transformers.Qwen2Tokenizer`` with Qwen2.5-VL's special tokens and the format tags.
    """
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import Qwen2Tokenizer
    from transformers.models.qwen2.tokenization_qwen2 import PRETOKENIZE_REGEX

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
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
    tok = Qwen2Tokenizer(
        vocab=vocab, merges=merges, unk_token="<|endoftext|>", eos_token="<|im_end|>", pad_token="<|endoftext|>"
    )
    from tokenizers import AddedToken

    tok.add_special_tokens({"additional_special_tokens": QWEN_SPECIAL_TOKENS[1:]})
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in FORMAT_TOKENS])
    tok.chat_template = qwen_chat_template()
    return tok


def default_tokenizer_corpus() -> list[str]:
    """Text the tiny tokenizer is trained on: chat scaffolding, the prompts and the synthetic benchmarks."""
    texts = [
        "You are a helpful assistant.",
        "system",
        "user",
        "assistant",
        "<think> </think> <answer> </answer>",
        "Picture 1:",
        "Picture 2:",
    ]
    for name in [b for b in list_benchmarks() if b.startswith("synthetic_")]:
        ds = load_benchmark(name, "train", limit=64, seed=12345)
        for row in ds.remove_columns("images"):
            for mode in PROMPT_MODES:
                texts.append(prompts.user_text(row, mode))
                texts.append(prompts.sft_target(row, mode))
        texts.extend(benchmark_info(ds).get("classes") or [])
    texts.extend(aircraft_classes(100))
    texts.extend(instruct_mix.corpus_texts())
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
            vocab_size=vocab,
            hidden_size=a["hidden_size"],
            intermediate_size=a["intermediate_size"],
            num_hidden_layers=a["num_hidden_layers"],
            num_attention_heads=a["num_attention_heads"],
            num_key_value_heads=a["num_key_value_heads"],
            max_position_embeddings=4096,
            rope_parameters={"rope_type": "default", "rope_theta": 1000000.0, "mrope_section": a["mrope_section"]},
            bos_token_id=ids["<|endoftext|>"],
            eos_token_id=ids["<|im_end|>"],
            pad_token_id=ids["<|endoftext|>"],
            tie_word_embeddings=True,
        ),
        vision_config=dict(
            depth=a["vision_depth"],
            hidden_size=a["vision_hidden_size"],
            num_heads=a["vision_num_heads"],
            intermediate_size=a["vision_intermediate_size"],
            out_hidden_size=a["hidden_size"],
            patch_size=14,
            spatial_merge_size=2,
            temporal_patch_size=2,
            window_size=112,
            fullatt_block_indexes=[a["vision_depth"] - 1],
        ),
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    model = Qwen2_5_VLForConditionalGeneration(config)
    model.generation_config = GenerationConfig(
        eos_token_id=[ids["<|im_end|>"], ids["<|endoftext|>"]],
        pad_token_id=ids["<|endoftext|>"],
        bos_token_id=ids["<|endoftext|>"],
        do_sample=False,
    )
    image_processor = Qwen2VLImageProcessorPil(min_pixels=TINY_MIN_PIXELS, max_pixels=TINY_MAX_PIXELS)
    processor = processor_class()(
        image_processor=image_processor, tokenizer=tokenizer, chat_template=tokenizer.chat_template
    )
    model.save_pretrained(path)
    processor.save_pretrained(path)
    tokenizer.save_pretrained(path)
    n_params = sum(p.numel() for p in model.parameters())
    (path / TINY_MARKER).write_text(json.dumps({"seed": seed, "arch": a, "parameters": n_params}, indent=2))
    return str(path)

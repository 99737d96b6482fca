import json
import os

import pytest
import torch
from PIL import Image

from vrft_lib.errors import ModelError
from vrft_lib.models import is_hub_id, load_model_and_processor
from vrft_lib.tiny import build_tiny_model, resolve_model_path


def test_tiny_model_build_save_reload_generate(tiny_random):
    model, processor = load_model_and_processor(tiny_random)
    assert type(model).__name__ == "Qwen2_5_VLForConditionalGeneration"
    assert type(processor).__name__ == "ImageQwen2_5_VLProcessor"  # not a bare tokenizer
    meta = json.loads(open(os.path.join(tiny_random, "vrft_tiny.json")).read())
    assert meta["parameters"] == sum(p.numel() for p in model.parameters())
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What colour?"}]}]
    text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    assert "You are a helpful assistant." in text  # the built-in system prompt is kept
    assert "<|vision_start|><|image_pad|><|vision_end|>" in text
    inputs = processor(text=[text], images=[[Image.new("RGB", (56, 56), (255, 0, 0))]], return_tensors="pt")
    assert inputs["image_grid_thw"].tolist() == [[1, 4, 4]]  # 56x56 -> 16 patches -> 4 visual tokens
    out = model.generate(**inputs, max_new_tokens=5, do_sample=False)
    assert out.shape[1] > inputs["input_ids"].shape[1]


def test_tiny_model_is_deterministic(tmp_path, tiny_random):
    corpus = ["What colour is the square? <answer>red</answer>"] * 20
    a = build_tiny_model(tmp_path / "a", seed=3, corpus=corpus)
    b = build_tiny_model(tmp_path / "b", seed=3, corpus=corpus)
    c = build_tiny_model(tmp_path / "c", seed=4, corpus=corpus)
    assert open(f"{a}/tokenizer.json").read() == open(f"{b}/tokenizer.json").read()
    ma, _ = load_model_and_processor(a)
    mb, _ = load_model_and_processor(b)
    mc, _ = load_model_and_processor(c)
    for (n, pa), pb in zip(ma.named_parameters(), mb.parameters()):
        assert torch.equal(pa, pb), n
    assert not all(torch.equal(pa, pc) for pa, pc in zip(ma.parameters(), mc.parameters()))


def test_format_tags_are_single_tokens(tiny_random):
    _, processor = load_model_and_processor(tiny_random)
    toks = processor.tokenizer.tokenize("<think>x</think><answer>B</answer>")
    assert toks[0] == "<think>" and "</answer>" in toks
    # tags are not special tokens: decoding keeps them
    ids = processor.tokenizer("<answer>B</answer>")["input_ids"]
    assert processor.tokenizer.decode(ids, skip_special_tokens=True) == "<answer>B</answer>"


def test_hub_id_offline_error_names_the_fix(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError) as e:
        resolve_model_path("Qwen/Qwen2.5-VL-7B-Instruct-not-cached")
    msg = str(e.value)
    assert "Qwen/Qwen2.5-VL-7B-Instruct-not-cached" in msg and "local path" in msg


def test_bad_local_paths(tmp_path):
    with pytest.raises(ModelError, match="no config.json"):
        resolve_model_path(str(tmp_path))
    with pytest.raises(ModelError, match="neither an existing folder"):
        resolve_model_path("./no/such/model/dir")
    assert is_hub_id("Qwen/Qwen2.5-VL-7B-Instruct")

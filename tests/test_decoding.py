"""Evaluation decodes with its own settings, never a checkpoint's generation_config.json (slow: evaluates)."""

import json
import shutil

import pytest

from vrft_lib.evaluate import evaluate

pytestmark = pytest.mark.slow
EVAL = {
    "data": {"name": "synthetic_spatial", "eval_limit": 12},
    "modes": ["think"],
    "max_new_tokens": 40,
    "device": "cpu",
    "progress": False,
}


def _responses(path):
    return [json.loads(line)["response"] for line in path.read_text().splitlines()]


def test_a_checkpoints_generation_config_does_not_change_predictions(tiny_base, tmp_path):
    from transformers import GenerationConfig

    from vrft_lib.models import load_model_and_processor

    plain = evaluate({**EVAL, "model": tiny_base, "output_dir": str(tmp_path / "plain")})
    shipped = tmp_path / "shipped"
    shutil.copytree(tiny_base, shipped)
    gen = json.loads((shipped / "generation_config.json").read_text())
    gen.update(repetition_penalty=1.8, top_k=2, top_p=0.5)  # a Qwen checkpoint ships 1.05, top_k, top_p
    (shipped / "generation_config.json").write_text(json.dumps(gen))
    # the checkpoint's settings do change what generate() says when they apply ...
    model, processor = load_model_and_processor(str(shipped))
    assert model.generation_config.repetition_penalty == 1.8
    from vrft_lib.data import load_benchmark
    from vrft_lib.evaluate import EvalConfig, HFGenerator, build_requests, generation_settings

    reqs = build_requests(load_benchmark("synthetic_spatial", "test", limit=12), ["think"])
    pinned = HFGenerator(model, processor, generation_settings(EvalConfig(max_new_tokens=40), processor.tokenizer))
    inherited = HFGenerator(model, processor, generation_settings(EvalConfig(max_new_tokens=40), processor.tokenizer))
    inherited.config = GenerationConfig.from_pretrained(str(shipped), max_new_tokens=40, do_sample=False)
    assert [t for t, _ in inherited(reqs)] != [t for t, _ in pinned(reqs)]
    # ... and the evaluation does not inherit them
    again = evaluate({**EVAL, "model": str(shipped), "output_dir": str(tmp_path / "again")})
    assert _responses(tmp_path / "again" / "predictions.jsonl") == _responses(tmp_path / "plain" / "predictions.jsonl")
    assert again["generation"] == plain["generation"]
    g = again["generation"]
    assert g["repetition_penalty"] == 1.0 and g["top_p"] == 1.0 and g["top_k"] is None and g["do_sample"] is False
    assert g["stop_token_ids"] and g["backend"] == "hf"

import json
import math

import pytest

from vrft_lib.errors import ConfigError
from vrft_lib.evaluate import (
    accuracy_interval,
    bootstrap_interval,
    evaluate,
    load_eval_config,
    summarize,
    wilson_interval,
)


def run_eval(tmp_path, model, data, **kw):
    cfg = {
        "name": "e",
        "model": model,
        "data": data,
        "max_new_tokens": 12,
        "batch_size": 8,
        "output_dir": str(tmp_path / "ev"),
        "progress": False,
        **kw,
    }
    return evaluate(cfg), tmp_path / "ev"


def test_evaluate_both_modes_writes_predictions_and_metrics(tmp_path, tiny_random):
    metrics, out = run_eval(
        tmp_path, tiny_random, {"name": "synthetic_aircraft", "eval_limit": 10, "classes_in_prompt": True}
    )
    assert set(metrics["modes"]) == {"no_think", "think"}
    for m in metrics["modes"].values():
        assert m["n"] == 10
        assert 0 <= m["accuracy"] <= 1 and m["accuracy_ci95"][0] <= m["accuracy"] <= m["accuracy_ci95"][1]
        assert 0 <= m["format_rate"] <= 1 and m["mean_response_tokens"] > 0
        assert "per_class_accuracy" in m and "mean_per_class_accuracy" in m
    preds = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert len(preds) == 20
    assert set(preds[0]) >= {"id", "mode", "response", "answer", "correct", "response_tokens"}
    for name in ("metrics.json", "config.yaml", "provenance.json", "DONE"):
        assert (out / name).exists(), name
    # a finished evaluation of the same config is not recomputed (its files are read back)
    stamp = (out / "predictions.jsonl").stat().st_mtime_ns
    again, _ = run_eval(
        tmp_path, tiny_random, {"name": "synthetic_aircraft", "eval_limit": 10, "classes_in_prompt": True}
    )
    assert again == metrics and (out / "predictions.jsonl").stat().st_mtime_ns == stamp


def test_circular_evaluation_scores_every_rotation(tmp_path, tiny_random):
    metrics, out = run_eval(
        tmp_path, tiny_random, {"name": "synthetic_spatial", "eval_limit": 6}, modes=["no_think"], circular=True
    )
    m = metrics["modes"]["no_think"]
    assert m["n"] == 6 and "circular_accuracy" in m
    assert m["circular_accuracy"] <= m["accuracy"] + 1e-9  # every rotation right implies the original right
    preds = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert any(p["rotation"] > 0 for p in preds)


def test_summarize_per_class_and_circular():
    preds = [
        {
            "id": "a",
            "mode": "think",
            "rotation": 0,
            "solution": "x",
            "correct": True,
            "format_ok": True,
            "response_tokens": 4,
        },
        {
            "id": "b",
            "mode": "think",
            "rotation": 0,
            "solution": "y",
            "correct": False,
            "format_ok": False,
            "response_tokens": 6,
        },
        {
            "id": "c",
            "mode": "think",
            "rotation": 0,
            "solution": "y",
            "correct": True,
            "format_ok": True,
            "response_tokens": 2,
        },
    ]
    m = summarize(preds, "classification")
    assert m["accuracy"] == pytest.approx(2 / 3) and m["format_rate"] == pytest.approx(2 / 3)
    assert m["per_class_accuracy"] == {"x": 1.0, "y": 0.5} and m["mean_per_class_accuracy"] == 0.75
    rot = preds + [dict(preds[0], rotation=1, correct=False), dict(preds[2], rotation=1, correct=True)]
    m = summarize(rot, "multiple_choice")
    assert m["accuracy"] == pytest.approx(2 / 3) and m["circular_accuracy"] == pytest.approx(1 / 3)


def test_summarize_uses_wilson_intervals():
    preds = [
        {"id": str(i), "rotation": 0, "correct": True, "format_ok": True, "response_tokens": 3, "solution": "x"}
        for i in range(16)
    ]
    m = summarize(preds, "multiple_choice")
    assert m["accuracy"] == 1.0 and m["accuracy_ci95"] == wilson_interval(16, 16)
    lo, hi = m["accuracy_ci95"]
    assert lo == pytest.approx(0.806, abs=5e-4) and hi == 1.0  # not the degenerate [1, 1]
    rot = preds + [dict(p, rotation=1, correct=i % 2 == 0) for i, p in enumerate(preds)]
    m = summarize(rot, "multiple_choice")
    assert m["circular_accuracy"] == 0.5 and m["circular_accuracy_ci95"] == wilson_interval(8, 16)


@pytest.mark.parametrize(
    "k, n, low, high",
    [(16, 16, 0.8064, 1.0), (0, 16, 0.0, 0.1936), (50, 100, 0.4038, 0.5962), (30, 100, 0.2189, 0.3958)],
)
def test_wilson_interval_known_values(k, n, low, high):
    lo, hi = wilson_interval(k, n)
    assert lo == pytest.approx(low, abs=1e-4) and hi == pytest.approx(high, abs=1e-4)
    assert lo <= k / n <= hi and lo < hi


def test_wilson_interval_is_symmetric_and_handles_empty():
    lo, hi = wilson_interval(3, 20)
    assert wilson_interval(17, 20) == pytest.approx((1 - hi, 1 - lo))
    assert all(v != v for v in wilson_interval(0, 0))  # NaN
    assert accuracy_interval([1, 0, 1, 1]) == wilson_interval(3, 4)


def test_bootstrap_interval_is_deterministic_and_sane():
    x = [1] * 30 + [0] * 70
    assert bootstrap_interval(x, seed=1) == bootstrap_interval(x, seed=1)
    lo, hi = bootstrap_interval(x)
    assert 0.2 < lo < 0.3 < hi < 0.4


@pytest.mark.parametrize(
    "bad, match",
    [
        ({"modes": ["thinking"]}, "unknown mode 'thinking'"),
        ({"backend": "tgi"}, "not hf or vllm"),
        ({"batch_size": 0}, "at least 1"),
        ({"bacth_size": 4}, "did you mean 'batch_size'"),
    ],
)
def test_bad_eval_configs(bad, match):
    with pytest.raises(ConfigError, match=match):
        load_eval_config({"model": "tiny", **bad})


def test_vllm_needs_a_gpu(tmp_path, tiny_random):
    with pytest.raises(ConfigError, match="vLLM needs a GPU"):
        evaluate({"model": tiny_random, "backend": "vllm", "device": "cpu", "output_dir": str(tmp_path)})


def test_answer_distribution_flags_one_answer_for_every_input():
    from vrft_lib.evaluate import answer_distribution

    choices = ["the red circle", "the blue square", "the green circle"]
    balanced = [{"answer": "A", "solution": choices[i % 3], "choices": choices} for i in range(30)]
    d = answer_distribution(balanced, accuracy=1 / 3)
    assert d["top"] == "A" and d["top_share"] == 1.0 and d["entropy_bits"] == 0.0
    assert d["collapsed"] is True
    spread = [{"answer": "ABC"[i % 3], "solution": choices[i % 3], "choices": choices} for i in range(30)]
    d = answer_distribution(spread, accuracy=1.0)
    assert d["collapsed"] is False and abs(d["entropy_bits"] - math.log2(3)) < 1e-9
    # Answers named by their text count as the same option as their letter; no answer is its own key.
    named = [{"answer": "the blue square", "solution": "the blue square", "choices": choices}]
    named.append({"answer": None, "solution": "the red circle", "choices": choices})
    assert answer_distribution(named, accuracy=0.5)["counts"] == {"(none)": 1, "B": 1}
    # No answer at all is a format failure, not a collapse onto an answer.
    silent = [{"answer": None, "solution": choices[i % 3], "choices": choices} for i in range(30)]
    d = answer_distribution(silent, accuracy=0.0)
    assert d["top"] is None and d["top_share"] == 0 and d["collapsed"] is False and d["counts"] == {"(none)": 30}
    # A skewed truth is not a collapse: a model that answers the commonest class is right.
    skewed = [{"answer": "yes", "solution": "yes" if i < 27 else "no", "choices": []} for i in range(30)]
    assert answer_distribution(skewed, accuracy=0.9)["collapsed"] is False


# The tokens each backend returns for three responses: stopped at end of turn (then padding), stopped
# later, cut at the cap without a stop token. EOS, PAD: Qwen's <|im_end|> and <|endoftext|> stand-ins.
EOS, PAD = 2, 0
GENERATED = [[11, 12, 13, EOS, PAD, PAD], [21, 22, 23, 24, 25, EOS], [31, 32, 33, 34, 35, 36]]
SETTINGS = {
    "do_sample": False,
    "temperature": 0.0,
    "top_k": None,
    "top_p": 1.0,
    "repetition_penalty": 1.0,
    "max_new_tokens": 6,
    "stop_token_ids": [EOS, PAD],
    "seed": 0,
}


def test_response_length_excludes_the_stop_token_and_what_follows():
    from vrft_lib.evaluate import response_length

    assert [response_length(ids, {EOS, PAD}) for ids in GENERATED] == [3, 5, 6]
    assert response_length([EOS], {EOS}) == 0 and response_length([], {EOS}) == 0
    assert response_length((7, EOS, 8, EOS), {EOS}) == 1  # the first stop ends it; a tuple as vLLM gives


def test_hf_and_vllm_paths_count_response_tokens_alike(monkeypatch):
    """Both generators on the same generated ids: HF's rows carry the stop token and padding, vLLM's
    token_ids the stop token; both report the tokens before it (a stand-in vllm module: none is needed)."""
    import sys
    from types import SimpleNamespace

    import torch
    from transformers import BatchFeature

    from vrft_lib.evaluate import HFGenerator, VLLMGenerator

    class Tokenizer:
        pad_token_id, padding_side = PAD, "right"

        def decode(self, ids, skip_special_tokens=True):
            return " ".join(str(i) for i in ids if not (skip_special_tokens and i in (EOS, PAD)))

    class Processor:
        tokenizer = Tokenizer()

        def apply_chat_template(self, messages, add_generation_prompt=True, tokenize=False):
            return "prompt"

        def __call__(self, text, images, return_tensors, padding):
            return BatchFeature({"input_ids": torch.ones(len(text), 4, dtype=torch.long)})

    class Model:
        device, generation_config = "cpu", None

        def generate(self, input_ids, generation_config):
            return torch.cat([input_ids, torch.tensor(GENERATED)], dim=1)

    batch = [{"messages": [], "row": {"images": []}} for _ in GENERATED]
    hf = HFGenerator(Model(), Processor(), SETTINGS)(batch)

    outs = [
        SimpleNamespace(outputs=[SimpleNamespace(text=Tokenizer().decode(ids), token_ids=ids[: ids.index(EOS) + 1])])
        if EOS in ids
        else SimpleNamespace(outputs=[SimpleNamespace(text=Tokenizer().decode(ids), token_ids=ids)])
        for ids in GENERATED
    ]

    class LLM:  # vLLM's engine, returning `outs`
        def __init__(self, **kwargs):
            pass

        def generate(self, prompts, params, use_tqdm):
            return outs

    monkeypatch.setitem(sys.modules, "vllm", SimpleNamespace(LLM=LLM, SamplingParams=lambda **kw: kw))
    vllm = VLLMGenerator("model", Processor(), SETTINGS)
    assert [n for _, n in hf] == [n for _, n in vllm(batch)] == [3, 5, 6]
    assert [t for t, _ in hf] == [t for t, _ in vllm(batch)] == ["11 12 13", "21 22 23 24 25", "31 32 33 34 35 36"]

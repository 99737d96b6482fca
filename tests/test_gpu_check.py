"""scripts/gpu_check.py: the 7B configuration is the published one, and the --arch path (random
model, GRPO and SFT steps with the single-GPU profile's settings, an evaluation batch, the figures
file) runs end to end on a CPU scaled down."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "gpu_check.py"


def _script():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_the_7b_configuration_has_qwen25vl_7b_parameters():
    import torch
    from transformers import Qwen2_5_VLForConditionalGeneration

    gc = _script()
    names = ("<|endoftext|>", "<|im_end|>", "<|image_pad|>", "<|video_pad|>", "<|vision_start|>", "<|vision_end|>")
    config = gc.qwen25vl_config(gc.QWEN25VL_7B, {n: i for i, n in enumerate(names)})
    with torch.device("meta"):  # no memory: only the shapes
        model = Qwen2_5_VLForConditionalGeneration._from_config(config, dtype=torch.bfloat16)
    assert sum(p.numel() for p in model.parameters()) == 8_292_166_656  # Qwen2.5-VL-7B-Instruct: 8.29 B
    assert sum(p.numel() for p in model.model.visual.parameters()) == 676_550_144
    text = config.text_config
    assert (text.hidden_size, text.num_hidden_layers, text.num_key_value_heads, text.vocab_size) == (
        3584,
        28,
        4,
        152064,
    )


def test_scaled_down_arch_check_writes_the_figures(tmp_path):
    out = tmp_path / "gpu_check"
    env = dict(os.environ, PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1")
    args = ["--arch", "7b-mini", "--device", "cpu", "--steps", "1", "--max-completion-length", "8"]
    args += ["--accumulation", "1", "--image-size", "56", "--out", str(out)]
    proc = subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    report = json.loads((out / "gpu_check_7b-mini.json").read_text())
    rows = {r["stage"].split(" ")[0]: r for r in report["rows"]}
    assert set(rows) == {"build", "grpo", "sft", "eval"}
    grpo = rows["grpo"]
    assert grpo["per_step"] == 8 and grpo["max_completion_length"] == 8  # 1 prompt x 8 rollouts, 1 micro-batch
    assert grpo["generated_tokens"] == 64  # random weights generate to the cap
    assert 0 < grpo["generation_share"] < 1 and grpo["generated_tokens_per_second"] > 0
    assert grpo["step_seconds"] > 0 and rows["sft"]["step_seconds"] > 0 and rows["sft"]["per_step"] == 4
    assert rows["eval"]["samples_per_second"] > 0 and rows["eval"]["generated_tokens"] == 32 * 8
    assert report["peak_rss_gb"] > 0 and not (out / "random-7b-mini").exists()


def test_an_accumulation_override_keeps_generation_within_the_step(tmp_path):
    """--accumulation N keeps the profile's generation chunks a divisor of N, so the check runs what
    the profile would (on-policy) with fewer micro-batches."""
    from argparse import Namespace

    from vrft_lib.config import load_run_config
    from vrft_lib.trainer_args import batch_summary, resolve_trainer_args

    gc = _script()
    for accumulation, steps_per_generation, calls in ((None, 8, 4), (1, 1, 1), (4, 4, 1), (6, 2, 3)):
        ns = Namespace(out=str(tmp_path), image_size=56, device="cpu", steps=1, max_completion_length=8)
        ns.accumulation = accumulation
        run = gc.profile_runs(ns)["grpo"]
        assert run["trainer"]["steps_per_generation"] == steps_per_generation
        cfg = load_run_config(run)
        summary = batch_summary(cfg, resolve_trainer_args(cfg))
        assert summary["generate_calls_per_step"] == calls and summary["completions_per_generate_call"] == 8 * (
            steps_per_generation
        )

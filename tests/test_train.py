"""Training runs of a few steps on the tiny model (slow: seconds to a minute each)."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

from vrft_lib.errors import ConfigError
from vrft_lib.train import train

pytestmark = pytest.mark.slow

GRPO_SMALL = {
    "num_generations": 4,
    "per_device_train_batch_size": 8,
    "gradient_accumulation_steps": 1,
    "max_completion_length": 32,
    "learning_rate": 1e-4,
}


def grpo_cfg(tmp_path, model, steps=3, **kw):
    return {
        "name": "g",
        "method": "grpo",
        "model": model,
        "output_dir": str(tmp_path / "run"),
        "data": {"name": "synthetic_spatial", "train_limit": 32},
        "rewards": [
            {"name": "accuracy"},
            {"name": "format"},
            {"name": "length", "target_length": 16, "unit": "tokens", "scope": "think"},
        ],
        "trainer": {**GRPO_SMALL, "max_steps": steps},
        **kw,
    }


def test_grpo_run_with_every_reward_leaves_a_complete_run_folder(tmp_path, tiny_base):
    run_dir = train(grpo_cfg(tmp_path, tiny_base))
    steps = pd.read_csv(run_dir / "steps.csv")
    assert list(steps["step"]) == [1, 2, 3]
    for col in (
        "loss",
        "accuracy_reward",
        "format_reward",
        "length_reward",
        "mean_completion_length",
        "kl",
        "learning_rate",
        "step_time",
    ):
        assert col in steps and steps[col].notna().all(), col
    assert steps["length_reward"].between(0, 1).all()
    comp = pd.read_parquet(run_dir / "completions.parquet")
    assert len(comp) == 3 * 8 and {"step", "prompt", "completion", "accuracy_reward", "advantage"} <= set(comp)
    args = json.loads((run_dir / "trainer_args.json").read_text())
    assert args["beta"] == 0.04 and args["loss_type"] == "grpo" and args["temperature"] == 1.0
    prov = json.loads((run_dir / "provenance.json").read_text())
    assert prov["packages"]["trl"] and prov["seed"] == 0 and "hardware" in prov
    assert (run_dir / "model" / "model.safetensors").exists() and (run_dir / "model" / "tokenizer.json").exists()
    assert json.loads((run_dir / "DONE").read_text())["steps"] == 3
    # what it cost: 3 steps of 8 completions = 2 prompts x 4 rollouts, every sampled token in the loss
    compute = json.loads((run_dir / "compute.json").read_text())
    assert compute["steps"] == 3 and compute["completions"] == compute["prompts"] * 4 == 3 * 8
    assert compute["completions_generated"] == compute["completions"]
    assert compute["tokens_generated"] == compute["tokens_trained"] > 0
    assert compute["tokens_generated"] == round((steps["mean_completion_length"] * 8).sum())
    assert compute["sequence_tokens"] > compute["tokens_generated"]  # the prompts, images included
    assert compute["seconds"] > 0 and compute["device_hours"] > 0 and compute["device_hours_unit"] == "CPU-h"
    assert compute["peak_rss_bytes"] > 0 and compute["cpu_seconds"] > 0
    # the run is finished: training again does nothing
    t = time.perf_counter()
    assert train(grpo_cfg(tmp_path, tiny_base)) == run_dir and time.perf_counter() - t < 5
    # a different run in the same folder is refused
    with pytest.raises(ConfigError, match="holds a different run"):
        train(grpo_cfg(tmp_path, tiny_base, steps=4))


def test_sft_run_trains_on_the_answer(tmp_path, tiny_base):
    cfg = {
        "name": "s",
        "method": "sft",
        "model": tiny_base,
        "output_dir": str(tmp_path / "sft"),
        "data": {"name": "synthetic_banner", "train_limit": 32},
        "train_mode": "no_think",
        "trainer": {
            "max_steps": 4,
            "per_device_train_batch_size": 8,
            "gradient_accumulation_steps": 1,
            "learning_rate": 1e-3,
        },
    }
    run_dir = train(cfg)
    steps = pd.read_csv(run_dir / "steps.csv")
    assert len(steps) == 4 and steps["loss"].notna().all()
    args = json.loads((run_dir / "trainer_args.json").read_text())
    assert args["completion_only_loss"] is True
    compute = json.loads((run_dir / "compute.json").read_text())
    assert compute["method"] == "sft" and compute["steps"] == 4 and compute["examples"] == 4 * 8
    assert 0 < compute["tokens_trained"] < compute["sequence_tokens"] and compute["tokens_generated"] == 0
    assert compute["seconds"] > 0 and compute["device_hours"] > 0 and compute["peak_rss_bytes"] > 0


def test_killed_run_resumes_from_its_last_checkpoint(tmp_path, tiny_base):
    cfg = grpo_cfg(tmp_path, tiny_base, steps=8, save_steps=2)
    cfg["rewards"] = cfg["rewards"][:2]
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(cfg))
    cmd = [sys.executable, "-m", "vrft_lib.train", str(path)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    ckpt = tmp_path / "run" / "trainer" / "checkpoint-4"
    deadline = time.time() + 240
    while not ckpt.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    assert ckpt.exists(), "no checkpoint appeared before the deadline"
    time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (tmp_path / "run" / "DONE").exists()
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "resuming run 'g' from" in out.stdout
    done = json.loads((tmp_path / "run" / "DONE").read_text())
    assert done["steps"] == 8 and "checkpoint-" in done["resumed_from"]
    # the cost of the steps kept, over both attempts (the first one's counts come from the checkpoint)
    compute = json.loads((tmp_path / "run" / "compute.json").read_text())
    assert compute["steps"] == 8 and compute["completions"] == 8 * 8 and compute["resumed_from"] == done["resumed_from"]
    if compute["complete"]:  # unless the kill fell between the checkpoint's state and its counts
        assert compute["attempts"] == 2 and compute["tokens_trained"] == compute["tokens_generated"] > 0
    ckpts = sorted(p.name for p in (tmp_path / "run" / "trainer").glob("checkpoint-*"))
    assert len(ckpts) <= 2  # bounded disk: keep_checkpoints


def test_two_process_accelerate_launch(tmp_path, tiny_base):
    from vrft_lib.launch import launch_training

    cfg = grpo_cfg(tmp_path, tiny_base, steps=2, num_processes=2, device="cpu")
    cfg["rewards"] = cfg["rewards"][:2]
    cfg["trainer"] = {**cfg["trainer"], "per_device_train_batch_size": 4}
    log = tmp_path / "log.txt"
    with open(log, "w") as f:
        run_dir = launch_training(cfg, stream=f)
    text = log.read_text()
    assert "--num_processes 2" in text
    assert json.loads((run_dir / "provenance.json").read_text())["num_processes"] == 2
    assert json.loads((run_dir / "DONE").read_text())["steps"] == 2
    # counted over both processes: 2 steps x 4 completions per device x 2 processes = 4 prompts x 4 rollouts
    compute = json.loads((run_dir / "compute.json").read_text())
    assert compute["num_processes"] == 2 and compute["completions"] == 16 and compute["prompts"] == 4
    assert compute["tokens_trained"] == compute["tokens_generated"] > 0  # each process's batches, summed


def test_grpo_generates_in_chunks_and_freezes_the_vision_tower_and_projector(tmp_path, tiny_random):
    """A step of 4 micro-batches generated 2 at a time (steps_per_generation), with RFT freezing what the
    paper profiles' SFT freezes: the language model learns, the vision tower and projector stay."""
    from safetensors.torch import load_file

    cfg = {
        "name": "chunks",
        "method": "grpo",
        "model": str(tiny_random),
        "device": "cpu",
        "output_dir": str(tmp_path / "run"),
        "data": {"name": "synthetic_spatial", "train_limit": 16},
        "rewards": [{"name": "length", "target_length": 8, "unit": "chars"}],  # varies: non-zero advantages
        "prompts_per_device": 1,
        "freeze_vision": True,
        "freeze_projector": True,
        "trainer": {
            "num_generations": 4,
            "gradient_accumulation_steps": 4,
            "steps_per_generation": 2,
            "max_completion_length": 16,
            "learning_rate": 1e-3,
            "max_steps": 2,
        },
    }
    run_dir = train(cfg)
    args = json.loads((run_dir / "trainer_args.json").read_text())
    assert (args["per_device_train_batch_size"], args["steps_per_generation"]) == (4, 2)
    before = load_file(str(Path(tiny_random) / "model.safetensors"))
    after = load_file(str(run_dir / "model" / "model.safetensors"))
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    visual = {k for k in before if k.startswith("visual.")}
    assert visual and not changed & visual  # the blocks and the merger (projector) alike
    assert changed - visual  # the language model trained

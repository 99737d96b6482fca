"""What a run cost: the training callback's counts on fake trainer logs and batches, the resumed run's
counts, the evaluation's record (no model is run)."""

from types import SimpleNamespace

import pytest
import torch

from vrft_lib.compute import (
    SNAPSHOT_FILE,
    ComputeCounter,
    compute_callback,
    cumulative_total,
    eval_record,
    generations_between,
)
from vrft_lib.files import read_json


def grpo_args(tmp_path, **kw):
    base = dict(
        per_device_train_batch_size=8,  # completions per device and micro-batch
        world_size=2,
        gradient_accumulation_steps=2,
        steps_per_generation=2,
        num_iterations=1,
        num_generations=4,
        device="cpu",
        output_dir=str(tmp_path / "trainer"),
    )
    return SimpleNamespace(**{**base, **kw})


def state(step, logs):
    return SimpleNamespace(global_step=step, log_history=logs, is_world_process_zero=True)


def grpo_logs(lengths, tokens_per_step=1000):
    """A GRPO log: one entry per step with TRL's cumulative num_tokens, then the run's summary."""
    logs = [
        {"step": s, "loss": 0.1, "completions/mean_length": m, "num_tokens": tokens_per_step * s}
        for s, m in enumerate(lengths, start=1)
    ]
    return logs + [{"step": len(lengths), "train_runtime": 9.0, "train_loss": 0.1}]


def test_grpo_counts_from_the_log_and_the_loss_batches(tmp_path):
    args = grpo_args(tmp_path)
    counter = ComputeCounter(tmp_path / "compute.json", "grpo")
    counter.on_train_begin(args, state(0, []), None)
    for _ in range(3 * 2):  # 3 steps of 2 micro-batches: 8 completions of up to 5 tokens each
        counter.count_batch({"completion_mask": torch.tensor([[1, 1, 1, 0, 0]] * 8)})
    counter.on_train_end(args, state(3, grpo_logs([10.0, 20.0, 30.0])), None)
    rec = read_json(tmp_path / "compute.json")
    assert rec == counter.record
    # per step: 8 per device x 2 processes x 2 accumulation = 32 completions = 8 prompts x 4 rollouts
    assert rec["steps"] == 3 and rec["completions"] == 96 and rec["prompts"] == 24
    assert rec["completions"] == rec["prompts"] * args.num_generations
    assert rec["completions_generated"] == 96 and rec["tokens_generated"] == 32 * (10 + 20 + 30)
    assert rec["tokens_trained"] == 6 * 8 * 3  # this process's batches (one process here: nothing to gather)
    assert rec["sequence_tokens"] == 3000 and rec["examples"] is None
    assert rec["device_hours_unit"] == "CPU-h" and rec["gpus"] == 0
    assert rec["device_hours"] == pytest.approx(rec["seconds"] * rec["threads"] * 2 / 3600)
    assert rec["peak_rss_bytes"] > 0 and rec["peak_accelerator_bytes"] is None
    assert rec["attempts"] == 1 and rec["complete"] and rec["resumed_from"] is None


def test_grpo_generations_reused_over_iterations_are_counted_once(tmp_path):
    # num_iterations 2: a generation every other step; the steps in between log no completion length
    args = grpo_args(tmp_path, num_iterations=2, world_size=1)
    logs = [
        {"step": 1, "completions/mean_length": 12.0, "num_tokens": 500},
        {"step": 2, "loss": 0.2},
        {"step": 3, "completions/mean_length": 6.0, "num_tokens": 900},
        {"step": 4, "loss": 0.1},
    ]
    counter = ComputeCounter(None, "grpo")
    counter.on_train_begin(args, state(0, []), None)
    counter.on_train_end(args, state(4, logs), None)
    rec = counter.record
    assert rec["completions"] == 4 * 16 and rec["completions_generated"] == 2 * 16
    assert rec["tokens_generated"] == 16 * 12 + 16 * 6
    # logged every 4 steps, an entry's mean covers every generation since the last one
    assert generations_between(0, 4, 2, 2) == 4 and generations_between(0, 4, 2, 4) == 2


def test_sft_counts_examples_and_target_tokens(tmp_path):
    args = SimpleNamespace(
        per_device_train_batch_size=2, world_size=1, gradient_accumulation_steps=1, device="cpu", output_dir="x"
    )
    counter = compute_callback(tmp_path / "compute.json", "sft")  # a real TrainerCallback
    counter.on_train_begin(args, state(0, []), None)
    labels = torch.tensor([[-100, -100, 7, 8, 9], [-100, -100, -100, 5, -100]])  # 3 + 1 targets
    inputs = {"labels": labels, "completion_mask": torch.ones(2, 5)}  # SFT batches may carry a completion mask
    for _ in range(2):
        counter.count_batch(inputs)
    logs = [{"step": 1, "loss": 1.0, "num_tokens": 10}, {"step": 2, "loss": 0.5, "num_tokens": 20}]
    counter.on_train_end(args, state(2, logs), None)
    rec = counter.record
    assert rec["examples"] == 4 and rec["tokens_trained"] == 8 and rec["sequence_tokens"] == 20
    assert rec["tokens_generated"] == 0 and rec["prompts"] is None and rec["completions"] is None


def test_a_resumed_run_counts_every_attempt_it_kept(tmp_path):
    args = grpo_args(tmp_path, world_size=1)
    first = ComputeCounter(None, "grpo")
    first.on_train_begin(args, state(0, []), None)
    first.count_batch({"completion_mask": torch.ones(8, 4)})
    checkpoint = tmp_path / "trainer" / "checkpoint-1"
    checkpoint.mkdir(parents=True)
    first.on_save(args, state(1, []), None)
    snap = read_json(checkpoint / SNAPSHOT_FILE)
    assert snap["tokens_trained"] == 32 and snap["attempts"] == 1 and snap["seconds"] >= 0
    # killed; the next attempt resumes from checkpoint-1 and trains one more step
    second = ComputeCounter(None, "grpo", resume_from=checkpoint)
    second.on_train_begin(args, state(1, []), None)
    second.count_batch({"completion_mask": torch.ones(8, 2)})
    logs = grpo_logs([4.0, 2.0], tokens_per_step=100)  # the log history comes back with the checkpoint
    second.on_train_end(args, state(2, logs), None)
    rec = second.record
    assert rec["tokens_trained"] == 32 + 16 and rec["attempts"] == 2 and rec["complete"]
    assert rec["tokens_generated"] == 16 * 4 + 16 * 2 and rec["resumed_from"] == str(checkpoint)
    assert rec["seconds"] >= round(snap["seconds"], 3)
    # a checkpoint without counts (an older kit's): this attempt's counts, said so
    third = ComputeCounter(None, "grpo", resume_from=tmp_path)
    third.on_train_begin(args, state(1, []), None)
    third.on_train_end(args, state(2, logs), None)
    assert third.record["complete"] is False and third.record["attempts"] == 1


def test_sft_token_counter_restarting_with_each_attempt_is_summed():
    assert cumulative_total([100, 200, 300, 50, 150]) == 450


def test_eval_record_sums_response_tokens():
    usage = {
        "seconds": 7.2,
        "cpu_seconds": 12.0,
        "peak_rss_bytes": 2**30,
        "peak_rss_scope": "phase",
        "peak_accelerator_bytes": 3 * 2**30,
    }
    preds = [{"response_tokens": 4}, {"response_tokens": 6}, {"response_tokens": 0}]
    rec = eval_record(preds, usage, "cuda", 2, generation_seconds=5.0)
    assert rec["requests"] == 3 and rec["tokens_generated"] == 10
    assert rec["device_hours_unit"] == "GPU-h" and rec["gpus"] == 2
    assert rec["device_hours"] == pytest.approx(7.2 * 2 / 3600)
    one_vllm_engine = eval_record(preds, usage, "cuda", 1, generation_seconds=5.0, gpus=4)
    assert one_vllm_engine["gpus"] == 4

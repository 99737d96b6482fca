"""The loop is wired right: from the tiny instruct base, short GRPO and SFT runs on synthetic_banner
(open-ended, as the embedded study asks it) raise held-out accuracy clearly above the training-free
accuracy, and the trained models' answers follow the image rather than one label (slow: about two
minutes)."""

import pytest

from vrft_lib.evaluate import evaluate
from vrft_lib.train import train

pytestmark = pytest.mark.slow

DATA = {"name": "synthetic_banner", "train_limit": 1000, "eval_limit": 100}


def held_out(model, out):
    m = evaluate(
        {
            "name": "learn",
            "model": model,
            "data": DATA,
            "modes": ["think"],
            "max_new_tokens": 96,
            "batch_size": 50,
            "output_dir": str(out),
            "progress": False,
        }
    )
    return m["modes"]["think"]


def clearly_above(after, before):
    learned = after["accuracy"] >= before["accuracy"] + 0.2 and after["accuracy_ci95"][0] > before["accuracy_ci95"][1]
    return learned and not after["answers"]["collapsed"]


def test_grpo_and_sft_learn_the_banner_task(tmp_path, tiny_base):
    before = held_out(tiny_base, tmp_path / "eval_base")
    rft = train(
        {
            "name": "learn-rft",
            "method": "grpo",
            "model": tiny_base,
            "data": DATA,
            "output_dir": str(tmp_path / "rft"),
            "save_steps": 1000,
            "trainer": {
                "max_steps": 80,
                "num_generations": 8,
                "per_device_train_batch_size": 32,  # 4 prompts x 8 rollouts, as the embedded study
                "gradient_accumulation_steps": 1,
                "max_completion_length": 64,
                "learning_rate": 5e-4,
            },
        }
    )
    after_rft = held_out(str(rft / "model"), tmp_path / "eval_rft")
    sft = train(
        {
            "name": "learn-sft",
            "method": "sft",
            "model": tiny_base,
            "data": DATA,
            "output_dir": str(tmp_path / "sft"),
            "save_steps": 1000,
            "trainer": {
                "max_steps": 60,
                "per_device_train_batch_size": 16,
                "gradient_accumulation_steps": 1,
                "learning_rate": 5e-4,
            },
        }
    )
    after_sft = held_out(str(sft / "model"), tmp_path / "eval_sft")
    print(
        f"held-out accuracy (think): training-free {before['accuracy']:.2f}, RFT {after_rft['accuracy']:.2f}, "
        f"SFT {after_sft['accuracy']:.2f}"
    )
    assert clearly_above(after_rft, before), (before, after_rft)
    assert clearly_above(after_sft, before), (before, after_sft)

"""The paper-era GRPO settings with vLLM rollouts, and freezing for SFT (no training)."""

import pytest

from vrft_lib.config import load_run_config
from vrft_lib.errors import ConfigError
from vrft_lib.trainer_args import GRPO_VLLM_PAPER, resolve_trainer_args


def test_vllm_rollouts_write_out_the_importance_sampling_choice():
    cfg = load_run_config({"name": "v", "method": "grpo", "use_vllm": True, "device": "cuda", "num_processes": 8})
    args = resolve_trainer_args(cfg, device="cuda")
    assert args["use_vllm"] is True and args["vllm_mode"] == "colocate"
    assert {k: args[k] for k in GRPO_VLLM_PAPER} == {"vllm_importance_sampling_correction": False}
    assert args["use_bias_correction_kl"] is False and args["top_k"] == 50
    on = load_run_config(
        {
            "name": "v",
            "method": "grpo",
            "use_vllm": True,
            "device": "cuda",
            "trainer": {"vllm_importance_sampling_correction": True},
        }
    )
    assert resolve_trainer_args(on, device="cuda")["vllm_importance_sampling_correction"] is True


def test_prompts_per_device_and_trls_unit_are_exclusive():
    cfg = {"name": "b", "method": "grpo", "device": "cpu", "prompts_per_device": 2}
    assert resolve_trainer_args(load_run_config(cfg))["per_device_train_batch_size"] == 16
    with pytest.raises(ConfigError, match="either prompts_per_device"):
        resolve_trainer_args(load_run_config({**cfg, "trainer": {"per_device_train_batch_size": 8}}))
    with pytest.raises(ConfigError, match="freeze_projector"):
        load_run_config({"name": "f", "method": "sft", "freeze_projector": True})


@pytest.mark.parametrize("projector", [False, True])
def test_freezing_leaves_the_language_model_trainable(tiny_random, projector):
    from vrft_lib.models import load_model_and_processor
    from vrft_lib.train import apply_freezing

    model, _ = load_model_and_processor(tiny_random)
    cfg = load_run_config({"name": "f", "method": "sft", "freeze_vision": True, "freeze_projector": projector})
    assert apply_freezing(cfg, model) > 0
    visual = model.model.visual
    assert not any(p.requires_grad for n, p in visual.named_parameters() if not n.startswith("merger."))
    assert all(p.requires_grad != projector for n, p in visual.named_parameters() if n.startswith("merger."))
    assert all(p.requires_grad for p in model.model.language_model.parameters())
    assert apply_freezing(load_run_config({"name": "n", "method": "sft"}), model) == 0


def test_generation_chunks_are_trl_fields_checked_against_the_accumulation():
    from vrft_lib.trainer_args import batch_summary

    base = {"name": "g", "method": "grpo", "device": "cpu", "trainer": {"gradient_accumulation_steps": 32}}

    def resolved(**trainer):
        cfg = load_run_config({**base, "trainer": {**base["trainer"], **trainer}})
        return batch_summary(cfg, resolve_trainer_args(cfg))

    assert (resolved()["completions_per_generate_call"], resolved()["generate_calls_per_step"]) == (256, 1)
    chunked = resolved(steps_per_generation=4)
    assert (chunked["completions_per_generate_call"], chunked["generate_calls_per_step"]) == (32, 8)
    assert resolved(generation_batch_size=64)["generate_calls_per_step"] == 4
    with pytest.raises(ConfigError, match="must divide gradient_accumulation_steps"):
        resolved(steps_per_generation=5)
    with pytest.raises(ConfigError, match="must divide gradient_accumulation_steps"):
        resolved(steps_per_generation=64)  # spans two optimizer steps: off-policy
    with pytest.raises(ConfigError, match="not both"):
        resolved(steps_per_generation=4, generation_batch_size=32)
    with pytest.raises(ConfigError, match="not a multiple"):
        resolved(generation_batch_size=12)
    with pytest.raises(ConfigError, match="at least 1"):
        resolved(steps_per_generation=0)
    with pytest.raises(ConfigError, match="steps_per_generation: expected an integer"):
        resolved(steps_per_generation=[4])

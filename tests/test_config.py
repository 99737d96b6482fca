import pytest

from vrft_lib.config import load_run_config
from vrft_lib.errors import ConfigError
from vrft_lib.trainer_args import GRPO_PAPER_DEFAULTS, resolve_trainer_args


def grpo(**kw):
    base = {"name": "t", "method": "grpo", "data": {"name": "synthetic_banner"}}
    base.update(kw)
    return load_run_config(base)


def test_paper_defaults_are_explicit_and_differ_from_trl():
    args = resolve_trainer_args(grpo(), device="cuda", num_processes=8)
    for k, v in GRPO_PAPER_DEFAULTS.items():
        assert args[k] == v, k
    assert args["beta"] == 0.04 and args["loss_type"] == "grpo" and args["scale_rewards"] == "group"
    assert args["bf16"] is True
    # TRL would accept these arguments as they are
    from trl import GRPOConfig

    # (one process here, so the accumulation stands in for the 8 processes of the paper)
    cfg = GRPOConfig(**{**args, "bf16": False, "use_cpu": True, "gradient_accumulation_steps": 8})
    assert cfg.beta == 0.04 and cfg.loss_type == "grpo" and cfg.num_generations == 8


def test_cpu_switches_off_gpu_only_settings():
    args = resolve_trainer_args(grpo(trainer={"per_device_train_batch_size": 8}), device="cpu")
    assert args["bf16"] is False and args["use_cpu"] is True and args["activation_checkpointing"] is False
    with pytest.raises(ConfigError, match="bf16.*needs a GPU"):
        resolve_trainer_args(grpo(trainer={"bf16": True, "per_device_train_batch_size": 8}), device="cpu")
    with pytest.raises(ConfigError, match="use_vllm.*GPU"):
        resolve_trainer_args(grpo(use_vllm=True, trainer={"per_device_train_batch_size": 8}), device="cpu")


def test_batch_arithmetic_is_checked():
    with pytest.raises(ConfigError, match=r"generation batch .* = 4\) must be divisible by num_generations \(8\)"):
        resolve_trainer_args(grpo(trainer={"per_device_train_batch_size": 1}), device="cpu", num_processes=1)
    assert (
        resolve_trainer_args(grpo(trainer={"per_device_train_batch_size": 1}), device="cpu", num_processes=2)[
            "num_generations"
        ]
        == 8
    )


@pytest.mark.parametrize(
    "bad, match",
    [
        ({"methdo": "grpo"}, "unknown key 'methdo' \\(did you mean 'method'\\?\\)"),
        ({"method": "ppo"}, "unknown method 'ppo'"),
        ({"train_mode": "thinking"}, "unknown mode 'thinking' \\(did you mean 'think'\\?\\)"),
        ({"data": {"name": "fgvc_aircaft"}}, "unknown benchmark 'fgvc_aircaft' \\(did you mean 'fgvc_aircraft'\\?\\)"),
        ({"rewards": [{"name": "acuracy"}]}, "acuracy"),
        ({"seed": "zero"}, "seed: expected an integer"),
        ({"trainer": {"output_dir": "x"}}, "trainer.output_dir: set by the kit"),
        ({"keep_checkpoints": 0}, "keep_checkpoints: must be at least 1"),
    ],
)
def test_bad_run_configs_name_the_field(bad, match):
    with pytest.raises(ConfigError, match=match):
        load_run_config({"name": "t", **bad})


def test_unknown_trainer_field_suggests():
    with pytest.raises(
        ConfigError, match="unknown GRPOConfig field 'num_generation' \\(did you mean 'num_generations'\\?\\)"
    ):
        resolve_trainer_args(grpo(trainer={"num_generation": 8}), device="cpu")


def test_yaml_file_and_missing_file(tmp_path):
    p = tmp_path / "run.yaml"
    p.write_text("name: r\nmethod: sft\nmodel: tiny\ndata: synthetic_spatial\n")
    cfg = load_run_config(p)
    assert cfg.model.name_or_path == "tiny" and cfg.data.name == "synthetic_spatial"
    with pytest.raises(ConfigError, match="does not exist"):
        load_run_config(tmp_path / "nope.yaml")
    p.write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_run_config(p)

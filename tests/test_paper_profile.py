"""The paper profile (params/paper.yaml) resolves to the paper's settings without a GPU or a download.

Section 4.1 of arXiv 2504.05682: GRPO with 8 rollouts, temperature 1, KL 0.04, 1024-token responses,
lr 1e-6, 300 steps, batch 1 per device, gradient accumulation 4, on 8 GPUs; SFT for 300 steps.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAPER = ROOT / "params" / "paper.yaml"
SINGLE = ROOT / "params" / "paper_single_gpu.yaml"
MATCHED = ROOT / "params" / "paper_matched_freeze.yaml"
ACCELERATE = ROOT / "params" / "accelerate"

PAPER_GRPO = dict(
    num_generations=8,
    temperature=1.0,
    beta=0.04,
    loss_type="grpo",
    scale_rewards="group",
    max_completion_length=1024,
    learning_rate=1e-6,
    lr_scheduler_type="linear",  # decays to 0 over the run, no warm-up (TRL's default, written out)
    warmup_steps=0,
    max_steps=300,
    per_device_train_batch_size=8,  # 1 prompt x 8 rollouts per device
    steps_per_generation=4,  # each GPU generates its 4 prompts x 8 rollouts in one call
    gradient_accumulation_steps=4,
    use_bias_correction_kl=False,
    top_k=50,
    top_p=1.0,
    bf16=True,
)
EXPECTED_RUNS = {
    f"{b}/{v}/seed0" for b in ("banner", "fgvc_aircraft", "sat") for v in ("training_free", "sft", "rft")
} | {"fgvc_aircraft/rft_length/seed0", "sat/rft_length/seed0"}


def _dry_run(params: Path, *extra: str) -> dict:
    """`vrft study PARAMS --dry-run --json` as a user runs it: offline, no GPU visible, datasets absent."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", CUDA_VISIBLE_DEVICES="")
    proc = subprocess.run(
        [sys.executable, "-m", "vrft_lib.cli", "study", str(params), "--dry-run", "--json", *extra],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, f"dry run failed:\n{proc.stdout}\n{proc.stderr}"
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def paper_plan():
    return _dry_run(PAPER)


@pytest.fixture(scope="module")
def single_plan():
    return _dry_run(SINGLE)


def _runs(plan, *variants):
    return [r for r in plan["runs"] if r["variant"] in variants]


def test_dry_run_needs_no_gpu_no_download_and_no_data(paper_plan):
    for path in ("/data/banner-analysis", "/data/fgvc-aircraft-2013b", "/data/SAT"):
        if Path(path).exists():
            pytest.skip(f"{path} exists here; this test wants the datasets absent")
    assert paper_plan["study"] == "paper"
    assert all(r["status"] == "pending" for r in paper_plan["runs"])


def test_the_run_matrix_is_the_papers(paper_plan):
    assert {r["run_id"] for r in paper_plan["runs"]} == EXPECTED_RUNS
    by_id = {r["run_id"]: r for r in paper_plan["runs"]}
    assert by_id["fgvc_aircraft/rft_length/seed0"]["notebook"] == "rft.ipynb"
    assert by_id["banner/training_free/seed0"]["trainer_args"] is None


@pytest.mark.parametrize("variant", ["rft", "rft_length"])
def test_every_rft_run_resolves_to_section_4_1(paper_plan, variant):
    runs = _runs(paper_plan, variant)
    assert runs
    for r in runs:
        args = r["trainer_args"]
        assert {k: args.get(k) for k in PAPER_GRPO} == PAPER_GRPO, r["run_id"]
        run = r["parameters"]["run"]
        assert run["method"] == "grpo" and run["train_mode"] == "think"
        assert run["model"]["name_or_path"] == "Qwen/Qwen2.5-VL-7B-Instruct"
        assert run["model"]["dtype"] == "bfloat16"
        assert run["device"] == "cuda" and run["num_processes"] == 8
        names = [rw["name"] for rw in run["rewards"]]
        assert names[:2] == ["accuracy", "format"]
        assert ("length" in names) == (variant == "rft_length")


def test_length_reward_is_the_documented_interpretation(paper_plan):
    for r in _runs(paper_plan, "rft_length"):
        length = [rw for rw in r["parameters"]["run"]["rewards"] if rw["name"] == "length"]
        assert length == [
            {"name": "length", "weight": 1.0, "alpha": 1.0, "target_length": 256, "unit": "tokens", "scope": "think"}
        ]
    assert {r["benchmark"] for r in _runs(paper_plan, "rft_length")} == {"fgvc_aircraft", "sat"}


def test_sft_runs_train_for_300_steps(paper_plan):
    runs = _runs(paper_plan, "sft")
    assert len(runs) == 3
    for r in runs:
        args = r["trainer_args"]
        assert args["max_steps"] == 300 and args["bf16"] is True
        assert args["per_device_train_batch_size"] == 1 and args["gradient_accumulation_steps"] == 4
        assert r["batch"]["examples_per_step"] == 32 and r["batch"]["examples_seen"] == 32 * 300
        run = r["parameters"]["run"]
        assert run["train_mode"] == "no_think"  # answer-only targets
        assert run["freeze_vision"] is True and run["freeze_projector"] is True
        assert args["lr_scheduler_type"] == "cosine" and args["warmup_steps"] == 0.1


@pytest.fixture(scope="module")
def matched_plan():
    return _dry_run(MATCHED)


# What each trained variant freezes, per profile: (freeze_vision, freeze_projector), shown by the dry run.
FROZEN = {
    # the paper's tools: R1-V's GRPO code trains every weight, LLaMA-Factory's SFT freezes both
    "paper": {"rft": (False, False), "rft_length": (False, False), "sft": (True, True)},
    "matched": {"rft": (True, True), "rft_length": (True, True), "sft": (True, True)},
    "single": {"rft": (True, True), "rft_length": (True, True), "sft": (True, True)},  # LoRA: language model only
}


@pytest.mark.parametrize("which", sorted(FROZEN))
def test_the_dry_run_shows_what_each_method_freezes(which, paper_plan, matched_plan, single_plan):
    plan = {"paper": paper_plan, "matched": matched_plan, "single": single_plan}[which]
    for variant, frozen in FROZEN[which].items():
        runs = _runs(plan, variant)
        assert runs, variant
        for r in runs:
            run = r["parameters"]["run"]
            assert (run["freeze_vision"], run["freeze_projector"]) == frozen, r["run_id"]
            assert ("peft" in run) == (which == "single")


def test_the_matched_profile_is_the_paper_profile_with_rft_frozen_as_sft():
    """params/paper_matched_freeze.yaml differs from params/paper.yaml in its name, its description and
    RFT's freezing only, so that the two studies compare what training the vision tower changes."""
    import yaml

    paper, matched = (yaml.safe_load(path.read_text()) for path in (PAPER, MATCHED))
    assert matched["name"] == "paper_matched_freeze" and matched["description"] != paper["description"]
    assert (paper["rft"]["freeze_vision"], paper["rft"]["freeze_projector"]) == (False, False)
    for study in (paper, matched):
        study.pop("name"), study.pop("description")
        study["rft"].pop("freeze_vision"), study["rft"].pop("freeze_projector")
    assert matched == paper


def test_the_matched_profile_resolves_like_the_paper_profile(paper_plan, matched_plan):
    assert {r["run_id"] for r in matched_plan["runs"]} == EXPECTED_RUNS
    paper = {r["run_id"]: r for r in paper_plan["runs"]}
    for r in matched_plan["runs"]:
        keep = ("output_dir",)
        ours = {k: v for k, v in (r["trainer_args"] or {}).items() if k not in keep}
        theirs = {k: v for k, v in (paper[r["run_id"]]["trainer_args"] or {}).items() if k not in keep}
        assert ours == theirs and r["batch"] == paper[r["run_id"]]["batch"], r["run_id"]


@pytest.mark.parametrize("which", ["paper", "single"])
def test_grpo_batch_arithmetic_holds(which, paper_plan, single_plan):
    plan = paper_plan if which == "paper" else single_plan
    for r in _runs(plan, "rft", "rft_length"):
        args, nproc = r["trainer_args"], r["parameters"]["run"]["num_processes"]
        per_step = nproc * args["per_device_train_batch_size"] * args["gradient_accumulation_steps"]
        assert per_step % args["num_generations"] == 0, r["run_id"]
        assert per_step == 256  # 32 prompts x 8 rollouts per optimizer step, in both profiles
        assert r["batch"]["prompts_per_step"] == 32 and r["batch"]["completions_per_step"] == 256
        assert r["batch"]["prompts_seen"] == 32 * 300


@pytest.mark.parametrize("which, chunk, calls", [("paper", 4, 1), ("single", 8, 4)])
def test_generation_is_chunked(which, chunk, calls, paper_plan, single_plan):
    """Each of the paper's 8 GPUs generates its 4 prompts x 8 rollouts in one call per step; one GPU
    generates a step's 256 completions in 4 calls of 8 prompts x 8 rollouts (not one call of 256)."""
    plan = paper_plan if which == "paper" else single_plan
    for r in _runs(plan, "rft", "rft_length"):
        assert r["trainer_args"]["steps_per_generation"] == chunk, r["run_id"]
        assert r["batch"]["completions_per_generate_call"] == 8 * chunk
        assert r["batch"]["generate_calls_per_step"] == calls
        accumulation = r["trainer_args"]["gradient_accumulation_steps"]
        assert accumulation % r["trainer_args"]["steps_per_generation"] == 0  # on-policy: within one step


def test_rft_optimizer_schedule_and_update_are_the_documented_ones(paper_plan, tmp_path):
    """docs/paper.md section 6: what GRPOConfig makes of a paper RFT run's arguments, TRL's defaults
    included (one process here: the generation batch is one GPU's)."""
    from trl import GRPOConfig

    args = dict(_runs(paper_plan, "rft")[0]["trainer_args"], output_dir=str(tmp_path), bf16=False, use_cpu=True)
    cfg = GRPOConfig(**args)
    assert cfg.lr_scheduler_type == "linear" and cfg.warmup_steps == 0 and cfg.learning_rate == 1e-6
    assert (
        str(getattr(cfg.optim, "value", cfg.optim)).startswith("adamw")
        and cfg.weight_decay == 0.0
        and cfg.max_grad_norm == 1.0
    )
    assert (cfg.adam_beta1, cfg.adam_beta2) == (0.9, 0.999)
    assert cfg.num_iterations == 1 and cfg.epsilon == 0.2  # one update per rollout batch: the clip never acts
    assert cfg.steps_per_generation == 4 and cfg.generation_batch_size == 32  # one GPU's 4 prompts x 8


def test_trls_own_config_accepts_the_single_gpu_generation_chunk(single_plan, tmp_path):
    """GRPOConfig itself (one process, as the single-GPU profile runs) derives the same generation batch."""
    from trl import GRPOConfig

    args = dict(_runs(single_plan, "rft")[0]["trainer_args"], output_dir=str(tmp_path), bf16=False, use_cpu=True)
    cfg = GRPOConfig(**args)
    assert cfg.steps_per_generation == 8 and cfg.generation_batch_size == 64  # 8 per micro-batch x 8


@pytest.mark.parametrize("which", ["paper", "single"])
def test_trainer_args_are_fields_of_trls_configs(which, paper_plan, single_plan):
    import dataclasses

    from trl import GRPOConfig, SFTConfig

    for r in (paper_plan if which == "paper" else single_plan)["runs"]:
        if r["trainer_args"] is None:
            continue
        cls = SFTConfig if r["variant"] == "sft" else GRPOConfig
        unknown = set(r["trainer_args"]) - {f.name for f in dataclasses.fields(cls)}
        assert not unknown, (r["run_id"], unknown)


def test_evaluation_is_both_modes_with_1024_tokens_on_the_right_splits(paper_plan):
    splits = {"banner": "test", "fgvc_aircraft": "test", "sat": "val"}
    for r in paper_plan["runs"]:
        ev = r["eval"]
        assert ev["modes"] == ["no_think", "think"] and ev["max_new_tokens"] == 1024
        assert ev["split"] == splits[r["benchmark"]] and ev["limit"] is None
    data = {r["benchmark"]: r["parameters"]["run"]["data"] for r in paper_plan["runs"]}
    assert data["fgvc_aircraft"]["train_split"] == "trainval"
    assert data["sat"]["train_split"] == "train" and data["sat"]["train_limit"] == 15000
    assert all(d["root"].startswith("/data/") for d in data.values())


def test_study_is_real_and_compared_with_table1():
    from vrft_lib.plan.spec import load_study
    from vrft_lib.reference import PAPER_TABLE1

    study = load_study(PAPER)
    assert study["synthetic"] is False
    assert study["reference"] == PAPER_TABLE1
    labels = {b["label"] for b in study["benchmarks"].values()}
    assert labels == set(PAPER_TABLE1["table1"])
    assert {k: b["task_kind"] for k, b in study["benchmarks"].items()} == {
        "banner": "binary",
        "fgvc_aircraft": "perception",
        "sat": "reasoning",
    }
    assert study["run_defaults"]["use_vllm"] is False


# ----------------------------------------------------------------------------------------------
# accelerate configs
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name,dist,stage", [("ddp", "MULTI_GPU", None), ("zero2", "DEEPSPEED", 2), ("zero3", "DEEPSPEED", 3)]
)
def test_accelerate_configs_load_with_accelerates_own_loader(name, dist, stage):
    from accelerate.commands.config.config_args import ClusterConfig, load_config_from_file
    from accelerate.commands.launch import launch_command_parser

    path = ACCELERATE / f"{name}.yaml"
    cfg = load_config_from_file(str(path))
    assert isinstance(cfg, ClusterConfig)
    assert cfg.distributed_type.name == dist
    assert cfg.mixed_precision == "bf16" and cfg.num_processes == 8 and cfg.num_machines == 1
    assert cfg.use_cpu is False
    # accelerate copies each deepspeed_config key onto its launch arguments: each must be one
    launch_options = {a.dest for a in launch_command_parser()._actions}
    assert set(cfg.deepspeed_config) <= launch_options, set(cfg.deepspeed_config) - launch_options
    if stage is None:
        assert cfg.deepspeed_config == {}
    else:
        assert cfg.deepspeed_config["zero_stage"] == stage
        # left to the trainer arguments ("auto"), so the run config is the only source
        assert "gradient_accumulation_steps" not in cfg.deepspeed_config
        assert "gradient_clipping" not in cfg.deepspeed_config
    if stage == 3:
        # the evaluation loads train/model as a plain checkpoint: ZeRO-3 must save gathered weights
        assert cfg.deepspeed_config["zero3_save_16bit_model"] is True


@pytest.mark.parametrize("name", ["ddp", "zero2", "zero3"])
def test_accelerate_launch_resolves_the_configs(name):
    """accelerate's own launch-argument resolution (no process is started, no GPU needed)."""
    from accelerate.commands import launch as acc_launch

    validate = getattr(acc_launch, "_validate_launch_command", None)
    assert validate is not None, "the pinned accelerate resolves launch arguments in _validate_launch_command"
    parser = acc_launch.launch_command_parser()
    args = parser.parse_args(
        ["--config_file", str(ACCELERATE / f"{name}.yaml"), "--num_processes", "8", "-m", "vrft_lib.train", "run.yaml"]
    )
    args, _, _ = validate(args)
    assert args.num_processes == 8 and args.mixed_precision == "bf16"
    assert args.use_deepspeed == (name != "ddp")
    assert args.multi_gpu == (name == "ddp")
    if name != "ddp":
        assert int(args.zero_stage) == {"zero2": 2, "zero3": 3}[name]


def test_paper_runs_launch_with_zero3_on_8_processes(paper_plan):
    """The run's accelerate config is found from the notebook's working directory, and the launch command uses it."""
    from vrft_lib.config import load_run_config
    from vrft_lib.launch import accelerate_command
    from vrft_lib.plan.spec import notebooks_dir

    for r in _runs(paper_plan, "sft", "rft", "rft_length"):
        acc = r["parameters"]["run"]["accelerate_config"]
        # papermill runs the notebook in notebooks/: a path relative to the repository root would not be found
        assert (notebooks_dir() / acc).resolve() == (ACCELERATE / "zero3.yaml").resolve(), (r["run_id"], acc)
        cfg = load_run_config(r["parameters"]["run"], output_dir=r["run_dir"] + "/train")
        cwd = os.getcwd()
        try:
            os.chdir(notebooks_dir())
            cmd = accelerate_command(cfg, "launch.yaml")
        finally:
            os.chdir(cwd)
        i = cmd.index("--config_file")
        assert Path(cmd[i + 1]).resolve() == (ACCELERATE / "zero3.yaml").resolve()
        assert cmd[i + 2 : i + 4] == ["--num_processes", "8"]
        assert cmd[-3:] == ["-m", "vrft_lib.train", "launch.yaml"]


def test_accelerate_command_text_for_a_paper_run():
    """From the repository root, the command names the study's config file as written."""
    from vrft_lib.config import load_run_config
    from vrft_lib.launch import accelerate_command

    cwd = os.getcwd()
    try:
        os.chdir(ROOT)
        cfg = load_run_config(
            {
                "name": "x",
                "method": "grpo",
                "device": "cuda",
                "num_processes": 8,
                "accelerate_config": "params/accelerate/zero3.yaml",
            }
        )
        line = " ".join(accelerate_command(cfg, "run.yaml"))
    finally:
        os.chdir(cwd)
    assert "--config_file params/accelerate/zero3.yaml --num_processes 8" in line
    assert line.endswith("-m vrft_lib.train run.yaml")


# ----------------------------------------------------------------------------------------------
# the single-GPU LoRA variant
# ----------------------------------------------------------------------------------------------


def test_single_gpu_variant_resolves_with_lora(single_plan):
    assert {r["run_id"] for r in single_plan["runs"]} == EXPECTED_RUNS
    for r in _runs(single_plan, "sft", "rft", "rft_length"):
        run = r["parameters"]["run"]
        assert run["num_processes"] == 1 and run["accelerate_config"] is None
        assert run["peft"]["r"] == 64
        assert r["trainer_args"]["max_steps"] == 300 and r["trainer_args"]["bf16"] is True
    for r in _runs(single_plan, "rft", "rft_length"):
        args = r["trainer_args"]
        assert {
            k: args[k]
            for k in ("num_generations", "temperature", "beta", "loss_type", "scale_rewards", "max_completion_length")
        } == {
            k: PAPER_GRPO[k]
            for k in ("num_generations", "temperature", "beta", "loss_type", "scale_rewards", "max_completion_length")
        }


def test_single_gpu_lora_targets_the_language_model_only(single_plan, tiny_random):
    """The LoraConfig builds, and its target pattern hits the text layers, never the vision tower."""
    from peft import LoraConfig

    from vrft_lib.models import load_model_and_processor

    peft_cfg = _runs(single_plan, "rft")[0]["parameters"]["run"]["peft"]
    lora = LoraConfig(**peft_cfg)
    model, _ = load_model_and_processor(str(tiny_random))
    names = [n for n, _ in model.named_modules()]
    hit = [n for n in names if re.fullmatch(lora.target_modules, n)]
    assert hit and all("language_model" in n for n in hit)
    assert not any("visual" in n for n in hit)
    layers = model.config.text_config.num_hidden_layers
    assert len(hit) == 7 * layers  # q, k, v, o, gate, up, down in every decoder layer
    assert any(n.endswith("visual.blocks.0.mlp.gate_proj") for n in names)  # the name a plain list would catch


@pytest.mark.slow
def test_a_lora_run_saves_a_model_the_evaluation_loads(single_plan, tiny_random, tmp_path):
    """The single-GPU variant end to end on a CPU, in miniature: one LoRA SFT step with the variant's
    peft settings, then the evaluation loads train/model as a full checkpoint."""
    from vrft_lib.evaluate import evaluate
    from vrft_lib.train import train

    peft_cfg = _runs(single_plan, "sft")[0]["parameters"]["run"]["peft"]
    run_dir = train(
        {
            "name": "lora",
            "method": "sft",
            "model": str(tiny_random),
            "device": "cpu",
            "peft": peft_cfg,
            "data": {"name": "synthetic_banner", "train_limit": 8, "classes_in_prompt": True},
            "trainer": {"max_steps": 1, "per_device_train_batch_size": 4, "gradient_accumulation_steps": 1},
            "output_dir": str(tmp_path / "train"),
        }
    )
    assert (run_dir / "model" / "config.json").exists()
    metrics = evaluate(
        {
            "model": str(run_dir / "model"),
            "device": "cpu",
            "max_new_tokens": 4,
            "progress": False,
            "data": {"name": "synthetic_banner", "eval_limit": 2, "classes_in_prompt": True},
            "output_dir": str(tmp_path / "eval"),
        }
    )
    assert set(metrics["modes"]) == {"no_think", "think"}

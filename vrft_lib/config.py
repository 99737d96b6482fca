"""Typed, validated run configuration, and its translation into TRL trainer arguments.

A *run* is one fine-tuning job (``method: grpo`` or ``method: sft``) or a training-free model
(``method: none``). Its YAML looks like::

    name: rft_banner
    method: grpo                  # grpo | sft | none
    model: {name_or_path: Qwen/Qwen2.5-VL-7B-Instruct, dtype: bfloat16}
    data: {name: banner, root: /data/banner, train_split: train, train_limit: null}
    train_mode: think             # the prompt mode used for training (think | no_think)
    rewards:                      # GRPO only; names from vrft_lib.rewards.REWARDS
      - {name: accuracy, weight: 1.0}
      - {name: format, weight: 1.0}
    trainer: {max_steps: 300}     # any GRPOConfig / SFTConfig field, over the paper's defaults
    seed: 0
    output_dir: outputs/runs/rft_banner

Defaults are the paper's (Section 4.1). TRL's own defaults differ (``beta=0``, ``loss_type="dapo"``), so
every paper value is set explicitly in :func:`resolve_trainer_args`.
"""

from __future__ import annotations

import dataclasses
import os
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .data import list_benchmarks
from .errors import ConfigError, did_you_mean
from .rewards import build_rewards
from .values import MAX_YAML_ALIASES as MAX_YAML_ALIASES
from .values import TYPE_NAMES as TYPE_NAMES
from .values import check_keys as check_keys
from .values import check_plain as check_plain
from .values import check_value as check_value
from .values import deep_merge as deep_merge
from .values import load_yaml as load_yaml
from .values import numeric_string as numeric_string
from .values import type_problem as type_problem
from .vocab import METHODS, PROMPT_MODES

# Section 4.1 of the paper. GRPO: 8 rollouts, temperature 1, KL 0.04, 1024 tokens, lr 1e-6, 300 steps,
# batch 1 per device, gradient accumulation 4; Eq. 3 is group-normalised advantages. The batch is counted
# in prompts, as the multimodal GRPO code of the paper's time (R1-V, Visual-RFT) counts it: 1 prompt x 8
# rollouts per device, so 8 GPUs x 1 x 4 = 32 prompts = 256 completions per optimizer step (see
# PAPER_PROMPTS_PER_DEVICE and prompt_batch()). Every TRL 1.16 default that differs from that code is set
# here explicitly (docs/paper.md has the table).
GRPO_PAPER_DEFAULTS: dict[str, Any] = dict(
    num_generations=8,
    temperature=1.0,
    beta=0.04,
    loss_type="grpo",
    scale_rewards="group",
    max_completion_length=1024,
    learning_rate=1e-6,
    max_steps=300,
    gradient_accumulation_steps=4,
    # Eq. 1-2: the plain k3 KL estimator (TRL 1.16 defaults to the DeepSeek-V3.2 bias correction).
    use_bias_correction_kl=False,
    # Sampling as transformers' generate() did for that code: top-k 50 (TRL samples with top_k=0), no
    # nucleus cut, no repetition penalty. An interpretation: the paper states only the temperature.
    top_k=50,
    top_p=1.0,
    repetition_penalty=1.0,
    # Truncated completions keep their loss, as then (TRL's default too, set so that it is seen).
    mask_truncated_completions=False,
)
PAPER_PROMPTS_PER_DEVICE = 1  # "batch size 1 per device": one prompt (with its 8 rollouts) per device
# With vLLM rollouts TRL corrects for the sampler's drift from the trained model by importance sampling
# and masks sequences whose ratio is off; the code of the paper's time sampled with vLLM uncorrected.
GRPO_VLLM_PAPER: dict[str, Any] = dict(vllm_importance_sampling_correction=False)
# The paper trains SFT for the same 300 steps with LLaMA-Factory and states nothing else; batch and
# accumulation follow the GRPO run, and the learning rate is LLaMA-Factory's Qwen2-VL SFT example (1e-5).
SFT_PAPER_DEFAULTS: dict[str, Any] = dict(
    max_steps=300,
    per_device_train_batch_size=1,
    gradient_accumulation_steps=4,
    learning_rate=1e-5,
)


DEFAULT_REWARDS = [{"name": "accuracy", "weight": 1.0}, {"name": "format", "weight": 1.0}]


@dataclass
class ModelSpec:
    name_or_path: str = "Qwen/Qwen2.5-VL-7B-Instruct"  # hub id, local folder, or "tiny"
    dtype: str = "auto"  # auto | bfloat16 | float16 | float32
    attn_implementation: str | None = None  # e.g. flash_attention_2 on GPUs
    min_pixels: int | None = None  # image size bounds (number of visual tokens)
    max_pixels: int | None = None


@dataclass
class DataSpec:
    name: str = "synthetic_banner"  # a benchmark name from vrft_lib.data.list_benchmarks()
    root: str | None = None  # dataset root for the real benchmarks
    train_split: str = "train"
    eval_split: str = "test"
    train_limit: int | None = None  # rows used for training (None: the whole split)
    eval_limit: int | None = None
    classes_in_prompt: bool = False  # list the class names in classification prompts
    options: dict = field(default_factory=dict)  # loader options, e.g. {num_classes: 8}


@dataclass
class RunConfig:
    name: str = "run"
    method: str = "grpo"
    model: ModelSpec = field(default_factory=ModelSpec)
    data: DataSpec = field(default_factory=DataSpec)
    train_mode: str = "think"
    rewards: list = field(default_factory=lambda: [dict(r) for r in DEFAULT_REWARDS])
    trainer: dict = field(default_factory=dict)  # overrides of the paper defaults, any TRL config field
    seed: int = 0
    output_dir: str | None = None  # default: outputs/runs/<name>
    device: str = "auto"  # auto | cpu | cuda
    num_processes: int = 1  # >1: launched with accelerate (see vrft_lib.launch)
    accelerate_config: str | None = None  # e.g. params/accelerate/zero2.yaml
    use_vllm: bool = False  # GRPO rollouts through vLLM (colocate); GPU only
    peft: dict | None = None  # LoRA settings (peft.LoraConfig fields) for single-GPU runs
    # SFT: this share of the training rows comes from the tiny base's generic instruction mix, in both
    # prompt modes, so that fine-tuning on answer-only targets does not erase the think format (0: none)
    replay: float = 0.0
    # GRPO: prompts per device per micro-batch, each with num_generations rollouts (None: the paper's 1,
    # unless trainer.per_device_train_batch_size gives the batch in TRL's unit, completions)
    prompts_per_device: int | None = None
    freeze_vision: bool = False  # freeze the vision tower's blocks (LLaMA-Factory's SFT default)
    freeze_projector: bool = False  # freeze the vision-language projector (Qwen2.5-VL's merger) too
    keep_checkpoints: int = 2  # bounded disk: checkpoints kept per run while it trains
    # a finished run keeps model/ and trainer_state.json; its checkpoints (optimizer state) only if true
    keep_checkpoints_when_done: bool = False
    save_steps: int = 50
    report_to: str = "none"  # none | tensorboard | trackio | wandb
    print_completions: bool = False  # print TRL's sampled-completion table at each log step

    @property
    def train_dir(self) -> Path:
        """The train folder: where this run writes (``output_dir``, default ``outputs/runs/<name>``)."""
        return Path(self.output_dir or os.path.join("outputs", "runs", self.name))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def build_config(cls, d, where: str):
    """An instance of the config dataclass ``cls`` from the mapping ``d``: unknown keys and wrong types are
    refused with a message that names ``where`` and the field."""
    if d is None:
        d = {}
    if not isinstance(d, dict):
        raise ConfigError(f"{where}: expected a mapping of keys, got {d!r}.")
    check_keys(d, [f.name for f in dataclasses.fields(cls)], where)
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name not in d:
            continue
        v = d[f.name]
        if f.name == "model" and cls is RunConfig:
            v = build_config(ModelSpec, {"name_or_path": v} if isinstance(v, str) else v, f"{where}.model")
        elif f.name == "data" and cls is RunConfig:
            v = build_config(DataSpec, {"name": v} if isinstance(v, str) else v, f"{where}.data")
        else:
            v = check_value(v, hints[f.name], f"{where}.{f.name}")
        kwargs[f.name] = v
    return cls(**kwargs)


def load_run_config(source, where: str | None = None, **overrides) -> RunConfig:
    """Load and validate a run config from a YAML path, a dict or a RunConfig.

    ``overrides`` replace top-level keys (e.g. ``output_dir=...``).

    >>> cfg = load_run_config({"name": "x", "method": "sft", "trainer": {"max_steps": 5}})
    >>> cfg.method, cfg.trainer["max_steps"], cfg.train_mode
    ('sft', 5, 'think')
    >>> load_run_config({"methdo": "sft"})
    Traceback (most recent call last):
    ...
    vrft_lib.errors.ConfigError: run config: unknown key 'methdo' (did you mean 'method'?). Valid keys: ...
    """
    if isinstance(source, RunConfig):
        d = source.to_dict()
        where = where or f"run config '{source.name}'"
    elif isinstance(source, dict):
        d = dict(source)
        where = where or "run config"
    else:
        path = Path(source)
        if not path.exists():
            raise ConfigError(f"Run config file '{path}' does not exist. Give the path of a YAML run config.")
        try:
            d = load_yaml(path.read_text()) or {}
        except yaml.YAMLError as e:
            raise ConfigError(f"Run config file '{path}' is not valid YAML: {e}") from None
        where = where or str(path)
    d.update(overrides)
    cfg = build_config(RunConfig, d, where)
    validate_run_config(cfg, where)
    if cfg.method in METHODS_TRAINED and any(isinstance(v, str) for v in cfg.trainer.values()):
        # a number spelt as a string (papermill's -f) is stored as the number, in config.yaml too
        cfg.trainer = check_trainer_fields(cfg.method, cfg.trainer, f"{where}.trainer")
    return cfg


METHODS_TRAINED = ("grpo", "sft")


def check_trainer_fields(method: str, trainer: dict, where: str) -> dict:
    """The run's ``trainer`` overrides checked against the TRL config's fields: unknown names and wrong
    types refused (naming the field), numbers spelt as strings read as numbers. Returns a new dict.

    >>> check_trainer_fields("sft", {"learning_rate": "5e-5", "max_steps": 3}, "run.trainer")
    {'learning_rate': 5e-05, 'max_steps': 3}
    >>> check_trainer_fields("sft", {"learning_rate": [1]}, "run.trainer")
    Traceback (most recent call last):
    ...
    vrft_lib.errors.ConfigError: run.trainer.learning_rate: expected a number, got [1].
    """
    cls = trainer_config_class(method)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    out = {}
    for key, value in trainer.items():
        if key not in fields:
            raise ConfigError(f"{where}: unknown {cls.__name__} field '{key}'{did_you_mean(key, fields)}.")
        out[key] = check_value(value, fields[key].type, f"{where}.{key}")
    return out


def validate_run_config(cfg: RunConfig, where: str = "run config") -> None:
    """Check values that do not depend on the machine (see resolve_trainer_args for the rest)."""
    if cfg.method not in METHODS:
        raise ConfigError(
            f"{where}.method: unknown method '{cfg.method}'{did_you_mean(cfg.method, METHODS)}; "
            f"use one of {', '.join(METHODS)}."
        )
    if cfg.train_mode not in PROMPT_MODES:
        raise ConfigError(
            f"{where}.train_mode: unknown mode '{cfg.train_mode}'"
            f"{did_you_mean(cfg.train_mode, PROMPT_MODES)}; use think or no_think."
        )
    if cfg.device not in ("auto", "cpu", "cuda"):
        raise ConfigError(f"{where}.device: '{cfg.device}' is not auto, cpu or cuda.")
    if cfg.num_processes < 1:
        raise ConfigError(f"{where}.num_processes: must be at least 1, got {cfg.num_processes}.")
    if cfg.freeze_projector and not cfg.freeze_vision:
        raise ConfigError(
            f"{where}.freeze_projector: freezing the projector but training the vision tower below it is not "
            "supported; set freeze_vision: true as well, or freeze_projector: false."
        )
    if cfg.prompts_per_device is not None and cfg.prompts_per_device < 1:
        raise ConfigError(f"{where}.prompts_per_device: must be at least 1, got {cfg.prompts_per_device}.")
    if not 0 <= cfg.replay < 1:
        raise ConfigError(f"{where}.replay: a share from 0 (no replay) to below 1, got {cfg.replay}.")
    if cfg.replay and cfg.method != "sft":
        raise ConfigError(f"{where}.replay: only SFT replays the instruction mix; remove it from a {cfg.method} run.")
    if cfg.keep_checkpoints < 1:
        raise ConfigError(f"{where}.keep_checkpoints: must be at least 1, got {cfg.keep_checkpoints}.")
    if cfg.data.name not in list_benchmarks():
        raise ConfigError(
            f"{where}.data.name: unknown benchmark '{cfg.data.name}'"
            f"{did_you_mean(cfg.data.name, list_benchmarks())}; available: "
            f"{', '.join(list_benchmarks())}."
        )
    if cfg.method == "grpo":

        class _ModelTokenizer:  # stands in for the model's tokenizer, which train() passes
            def encode(self, text, add_special_tokens=False):
                return text.split()

        try:
            build_rewards(cfg.rewards, mode=cfg.train_mode, tokenizer=_ModelTokenizer())
        except ConfigError as e:
            raise ConfigError(f"{where}.rewards: {e}") from None
    for key in cfg.trainer:
        if key in _MANAGED_KEYS:
            raise ConfigError(
                f"{where}.trainer.{key}: set by the kit from the run config; use "
                f"'{_MANAGED_KEYS[key]}' at the top level of the run config instead."
            )


# Trainer fields the kit derives from the run config itself.
_MANAGED_KEYS = {
    "output_dir": "output_dir",
    "seed": "seed",
    "save_total_limit": "keep_checkpoints",
    "report_to": "report_to",
    "use_vllm": "use_vllm",
    "use_cpu": "device",
}


TRACKER_EXTRAS = {"tensorboard": "vrft[tensorboard]", "trackio": "vrft[trackio]"}


def check_report_to(value, where: str = "run config") -> None:
    """Refuse a ``report_to`` tracker that transformers does not know, or whose package is not installed
    here, with a message naming the package (rather than a crash inside the Trainer).

    >>> check_report_to("none"); check_report_to("tensorbored")
    Traceback (most recent call last):
    ...
    vrft_lib.errors.ConfigError: run config.report_to: unknown tracker 'tensorbored' (did you mean 'tensorboard'?); ...
    """
    if value in (None, "none"):
        return
    from transformers.integrations.integration_utils import (
        INTEGRATION_TO_CALLBACK,
        get_available_reporting_integrations,
    )

    names = ["none", "all", *INTEGRATION_TO_CALLBACK]
    if value not in names:
        raise ConfigError(
            f"{where}.report_to: unknown tracker '{value}'{did_you_mean(value, names)}; use none, tensorboard, "
            "trackio or wandb (any of transformers' integrations)."
        )
    if value != "all" and value not in get_available_reporting_integrations():
        extra = f" (or pip install '{TRACKER_EXTRAS[value]}')" if value in TRACKER_EXTRAS else ""
        raise ConfigError(
            f"{where}.report_to: the tracker '{value}' needs the package '{value}', which is not installed in "
            f"this environment. Install it: pip install {value}{extra}; or use report_to: none."
        )


def detect_device(requested: str = "auto") -> str:
    import torch

    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return requested


def trainer_config_class(method: str):
    if method == "grpo":
        from trl import GRPOConfig

        return GRPOConfig
    if method == "sft":
        from trl import SFTConfig

        return SFTConfig
    raise ConfigError(f"method '{method}' trains nothing; there are no trainer arguments.")


def resolve_trainer_args(cfg: RunConfig, device: str | None = None, num_processes: int | None = None) -> dict:
    """The exact keyword arguments given to ``GRPOConfig`` / ``SFTConfig`` for this run.

    Paper defaults, then the run's ``trainer`` overrides, then what the kit manages (output dir, seed,
    checkpoints, logging) and what the machine allows (no bf16 or checkpointing on a CPU). Checks the
    GRPO batch arithmetic: processes x per-device batch x steps per generation must be divisible by
    ``num_generations``. Needs no GPU and loads no model.
    """
    device = detect_device(device or cfg.device)
    nproc = num_processes or cfg.num_processes
    where = f"run '{cfg.name}'"
    trainer = check_trainer_fields(cfg.method, cfg.trainer, f"{where}.trainer")
    args: dict[str, Any] = dict(GRPO_PAPER_DEFAULTS if cfg.method == "grpo" else SFT_PAPER_DEFAULTS)
    args.update(
        logging_steps=1,
        save_strategy="steps",
        save_steps=cfg.save_steps,
        save_total_limit=cfg.keep_checkpoints,
        report_to=cfg.report_to,
        seed=cfg.seed,
        data_seed=cfg.seed,
        output_dir=str(cfg.train_dir / "trainer"),
        remove_unused_columns=False,
        dataloader_num_workers=0,
    )
    if cfg.method == "grpo":
        args.update(log_completions=True, num_completions_to_print=4)
        if cfg.use_vllm:
            args.update(use_vllm=True, vllm_mode="colocate", **GRPO_VLLM_PAPER)
    else:
        args.update(assistant_only_loss=False, completion_only_loss=True, max_length=None)
    args.update(trainer)
    if cfg.method == "grpo" and "per_device_train_batch_size" not in cfg.trainer:
        # prompts (the paper's unit) to completions (TRL's): each prompt brings num_generations rollouts
        args["per_device_train_batch_size"] = (cfg.prompts_per_device or PAPER_PROMPTS_PER_DEVICE) * args[
            "num_generations"
        ]
    elif cfg.prompts_per_device is not None:
        raise ConfigError(
            f"{where}.prompts_per_device: give either prompts_per_device (prompts, the paper's unit) or "
            "trainer.per_device_train_batch_size (completions, TRL's unit), not both"
            + ("." if cfg.method == "grpo" else "; SFT counts examples: use trainer.per_device_train_batch_size.")
        )
    on_gpu = device == "cuda"
    if not on_gpu:
        for key in ("bf16", "fp16", "tf32"):
            if cfg.trainer.get(key):
                raise ConfigError(
                    f"{where}.trainer.{key}: needs a GPU, and this run is on the CPU. "
                    f"Remove '{key}' or run on a GPU node (device: cuda)."
                )
        if cfg.use_vllm:
            raise ConfigError(
                f"{where}.use_vllm: vLLM needs a GPU, and this run is on the CPU. Set use_vllm: false for CPU runs."
            )
        args.update(bf16=False, fp16=False, use_cpu=True)
        args.setdefault("activation_checkpointing", False)
    else:
        args.setdefault("bf16", True)
        args.setdefault("activation_checkpointing", True)
    if cfg.method == "grpo":
        n_gen = args["num_generations"]
        if n_gen < 2:
            raise ConfigError(
                f"{where}.trainer.num_generations: GRPO needs at least 2 rollouts per prompt "
                f"(group-normalised advantages), got {n_gen}."
            )
        steps_per_gen = args.get("steps_per_generation") or args["gradient_accumulation_steps"]
        gen_batch = args.get("generation_batch_size") or args["per_device_train_batch_size"] * nproc * steps_per_gen
        if gen_batch % n_gen:
            raise ConfigError(
                f"{where}.trainer: the generation batch (processes {nproc} x per_device_train_batch_size "
                f"{args['per_device_train_batch_size']} x steps per generation {steps_per_gen} = {gen_batch}) "
                f"must be divisible by num_generations ({n_gen}). Raise per_device_train_batch_size or "
                f"gradient_accumulation_steps, or lower num_generations."
            )
    return args


def batch_summary(cfg: RunConfig, args: dict, num_processes: int | None = None, split_size: int | None = None) -> dict:
    """What one optimizer step and the whole run see, in the paper's units.

    GRPO: ``prompts_per_step`` and ``completions_per_step`` (processes x per-device completions x
    accumulation), ``prompts_seen``; SFT: ``examples_per_step`` and ``examples_seen``. With the training
    split's size (``split_size``), ``epochs`` over it.

    >>> cfg = load_run_config({"name": "x", "method": "grpo", "device": "cpu", "num_processes": 8})
    >>> batch_summary(cfg, resolve_trainer_args(cfg), split_size=6667)
    {'prompts_per_step': 32, 'completions_per_step': 256, 'steps': 300, 'prompts_seen': 9600, 'epochs': 1.44}
    """
    nproc = num_processes or cfg.num_processes
    per_step = args["per_device_train_batch_size"] * nproc * args["gradient_accumulation_steps"]
    steps = args.get("max_steps")
    out: dict[str, Any] = {}
    if cfg.method == "grpo":
        out.update(prompts_per_step=per_step // args["num_generations"], completions_per_step=per_step, steps=steps)
        seen = out["prompts_per_step"] * steps if steps and steps > 0 else None
        out["prompts_seen"] = seen
    else:
        out.update(examples_per_step=per_step, steps=steps)
        seen = per_step * steps if steps and steps > 0 else None
        out["examples_seen"] = seen
    if split_size and seen:
        out["epochs"] = round(seen / split_size, 2)
    return out

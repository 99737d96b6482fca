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
every paper value is set explicitly in :func:`vrft_lib.trainer_args.resolve_trainer_args`.
"""

from __future__ import annotations

import dataclasses
import os
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .data import list_benchmarks
from .data.common import max_image_pixels
from .errors import ConfigError, did_you_mean
from .rewards import build_rewards
from .values import MAX_YAML_ALIASES as MAX_YAML_ALIASES
from .values import TYPE_NAMES as TYPE_NAMES
from .values import check_finite, env_int, read_config_text, short_repr
from .values import check_keys as check_keys
from .values import check_plain as check_plain
from .values import check_value as check_value
from .values import deep_merge as deep_merge
from .values import load_yaml as load_yaml
from .values import numeric_string as numeric_string
from .values import type_problem as type_problem
from .vocab import METHODS, PROMPT_MODES

DEFAULT_REWARDS = [{"name": "accuracy", "weight": 1.0}, {"name": "format", "weight": 1.0}]
DTYPES = ("auto", "bfloat16", "float16", "float32")
FLASH_ATTENTION = ("flash_attention_2", "flash_attention_3")
EVAL_BACKENDS = ("hf", "vllm")
QWEN_PIXELS = "Qwen2.5-VL's own bounds are min_pixels 3,136 (56 x 56) and max_pixels 12,845,056 (28 x 28 x 16,384)."


@dataclass
class ModelSpec:
    name_or_path: str = "Qwen/Qwen2.5-VL-7B-Instruct"  # hub id, local folder, or "tiny"
    dtype: str = "auto"  # auto | bfloat16 | float16 | float32
    attn_implementation: str | None = None  # e.g. flash_attention_2 on GPUs
    min_pixels: int | None = None  # image size bounds (number of visual tokens)
    max_pixels: int | None = None

    def validate(self, where: str) -> None:
        """Check the values that do not depend on the machine (see :func:`check_machine` for the rest)."""
        if self.dtype not in DTYPES:
            raise ConfigError(
                f"{where}.dtype: unknown dtype '{self.dtype}'{did_you_mean(self.dtype, DTYPES)}; "
                f"use one of {', '.join(DTYPES)}."
            )
        bound = max_image_pixels()
        for key in ("min_pixels", "max_pixels"):
            value = getattr(self, key)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(
                    f"{where}.{key}: must be a whole, positive number of pixels, got {short_repr(value)}. {QWEN_PIXELS}"
                )
            if value > bound:
                shown = f"{value:,}" if value < 10**12 else f"{value:.3g}"
                raise ConfigError(
                    f"{where}.{key}: {shown} pixels is above {bound:,}, the most pixels the kit reads "
                    f"in one image (the image processor resizes every image to within these bounds). {QWEN_PIXELS} "
                    "To go higher, raise the bound with the environment variable VRFT_MAX_IMAGE_PIXELS."
                )
        if self.min_pixels and self.max_pixels and self.min_pixels > self.max_pixels:
            raise ConfigError(
                f"{where}: min_pixels ({self.min_pixels:,}) is above max_pixels ({self.max_pixels:,}); the image "
                "processor needs min_pixels <= max_pixels."
            )


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

    def check_limit(self, key: str, where: str) -> None:
        """``train_limit`` or ``eval_limit`` (``key``): a positive integer or None (the whole split)."""
        limit = getattr(self, key)
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
            raise ConfigError(f"{where}.{key}: must be a positive integer or null (the whole split), got {limit!r}.")


class _StandInTokenizer:
    """Stands in for the model's tokenizer when a run's rewards are built only to be checked."""

    def encode(self, text, add_special_tokens=False):
        return text.split()


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
    # GRPO: take the training prompts in an order that cycles through the answers (each class's rows
    # shuffled with the seed), instead of TRL's shuffle, so that every step's prompts hold the answers in
    # equal shares (2 + 2 on a binary task with 4 prompts per step); false: TRL's shuffle (the paper)
    balanced_batches: bool = False
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

    def reward_functions(self, tokenizer=None) -> tuple[list, list[float]]:
        """The GRPO reward functions and their weights (see :func:`~vrft_lib.rewards.build_rewards`), in
        the run's train mode: train() builds them with the model's ``tokenizer``; :meth:`validate` with a
        stand-in that counts words, to check the rewards list before any work."""
        return build_rewards(
            self.rewards, mode=self.train_mode, tokenizer=_StandInTokenizer() if tokenizer is None else tokenizer
        )

    def validate(self, where: str = "run config") -> None:
        """Check every value that does not depend on the machine (:func:`check_machine` checks the rest,
        :func:`vrft_lib.trainer_args.resolve_trainer_args` the TRL arguments)."""
        if self.method not in METHODS:
            raise ConfigError(
                f"{where}.method: unknown method '{self.method}'{did_you_mean(self.method, METHODS)}; "
                f"use one of {', '.join(METHODS)}."
            )
        if self.train_mode not in PROMPT_MODES:
            raise ConfigError(
                f"{where}.train_mode: unknown mode '{self.train_mode}'"
                f"{did_you_mean(self.train_mode, PROMPT_MODES)}; use think or no_think."
            )
        if self.device not in ("auto", "cpu", "cuda"):
            raise ConfigError(f"{where}.device: '{self.device}' is not auto, cpu or cuda.")
        if self.num_processes < 1:
            raise ConfigError(f"{where}.num_processes: must be at least 1, got {self.num_processes}.")
        if self.freeze_projector and not self.freeze_vision:
            raise ConfigError(
                f"{where}.freeze_projector: freezing the projector but training the vision tower below it is not "
                "supported; set freeze_vision: true as well, or freeze_projector: false."
            )
        if self.prompts_per_device is not None and self.prompts_per_device < 1:
            raise ConfigError(f"{where}.prompts_per_device: must be at least 1, got {self.prompts_per_device}.")
        if not 0 <= self.replay < 1:
            raise ConfigError(f"{where}.replay: a share from 0 (no replay) to below 1, got {self.replay}.")
        if self.replay and self.method != "sft":
            raise ConfigError(
                f"{where}.replay: only SFT replays the instruction mix; remove it from a {self.method} run."
            )
        if self.balanced_batches and self.method != "grpo":
            raise ConfigError(
                f"{where}.balanced_batches: only GRPO orders its prompts by answer; remove it from a {self.method} run."
            )
        if self.balanced_batches and "shuffle_dataset" in self.trainer:
            raise ConfigError(
                f"{where}: balanced_batches sets the order of the prompts itself; remove trainer.shuffle_dataset "
                "or set balanced_batches: false."
            )
        for key in ("keep_checkpoints", "save_steps"):
            if getattr(self, key) < 1:
                raise ConfigError(f"{where}.{key}: must be at least 1, got {getattr(self, key)}.")
        self.model.validate(f"{where}.model")
        self.data.check_limit("train_limit", f"{where}.data")
        if self.data.name not in list_benchmarks():
            raise ConfigError(
                f"{where}.data.name: unknown benchmark '{self.data.name}'"
                f"{did_you_mean(self.data.name, list_benchmarks())}; available: "
                f"{', '.join(list_benchmarks())}."
            )
        if self.method == "grpo" and not self.rewards:
            raise ConfigError(
                f"{where}.rewards: the list is empty, and GRPO learns from its rewards; give at least one "
                "(the paper's: [{name: accuracy}, {name: format}])."
            )
        if self.method == "grpo":
            try:
                self.reward_functions()  # built with a stand-in tokenizer, only to check them
            except ConfigError as e:
                raise ConfigError(f"{where}.rewards: {e}") from None
        for key in self.trainer:
            if key in _MANAGED_KEYS:
                raise ConfigError(
                    f"{where}.trainer.{key}: set by the kit from the run config; use "
                    f"'{_MANAGED_KEYS[key]}' at the top level of the run config instead."
                )


def build_config(cls, d, where: str):
    """An instance of the config dataclass ``cls`` from the mapping ``d``: unknown keys and wrong types are
    refused with a message that names ``where`` and the field."""
    if d is None:
        d = {}
    if not isinstance(d, dict):
        raise ConfigError(f"{where}: expected a mapping of keys, got {short_repr(d)}.")
    check_keys(d, [f.name for f in dataclasses.fields(cls)], where)
    check_finite(d, where)  # also inside free-form fields (trainer, peft, rewards, loader options)
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


@dataclass
class EvalConfig:
    name: str = "eval"
    model: ModelSpec = field(default_factory=ModelSpec)
    data: DataSpec = field(default_factory=DataSpec)
    modes: list = field(default_factory=lambda: list(PROMPT_MODES))
    batch_size: int = 16
    max_new_tokens: int = 1024  # the paper's maximum response length
    do_sample: bool = False  # greedy by default
    temperature: float = 1.0  # used only when do_sample
    backend: str = "hf"  # hf | vllm
    circular: bool = False  # multiple choice: also score every rotation of the choices
    seed: int = 0
    device: str = "auto"
    num_processes: int | None = None  # processes sharing the work (None: the run's; see vrft_lib.launch)
    tensor_parallel_size: int = 1  # vllm: GPUs per engine (one engine per GPU when 1)
    output_dir: str | None = None
    progress: bool = True

    @property
    def eval_dir(self) -> Path:
        """The eval folder: where this evaluation writes (``output_dir``, default ``outputs/evals/<name>``)."""
        return Path(self.output_dir or os.path.join("outputs", "evals", self.name))

    def to_dict(self):
        return dataclasses.asdict(self)

    def validate(self, where: str = "eval config") -> None:
        """Check every value that does not depend on the machine (:func:`check_machine` checks the rest)."""
        if not self.modes:
            raise ConfigError(
                f"{where}.modes: the list is empty, so nothing would be evaluated; give one or both of "
                f"{', '.join(PROMPT_MODES)} (or leave it out for both)."
            )
        if len(set(self.modes)) < len(self.modes):
            raise ConfigError(f"{where}.modes: {self.modes} lists a mode twice; list each prompt mode once.")
        for m in self.modes:
            if m not in PROMPT_MODES:
                raise ConfigError(
                    f"{where}.modes: unknown mode '{m}'{did_you_mean(m, PROMPT_MODES)}; use think and/or no_think."
                )
        if self.backend not in EVAL_BACKENDS:
            raise ConfigError(f"{where}.backend: '{self.backend}' is not hf or vllm.")
        if self.batch_size < 1 or self.max_new_tokens < 1:
            raise ConfigError(f"{where}: batch_size and max_new_tokens must be at least 1.")
        if self.do_sample and not (isinstance(self.temperature, (int, float)) and self.temperature > 0):
            raise ConfigError(f"{where}.temperature: sampling needs a temperature above 0, got {self.temperature!r}.")
        self.model.validate(f"{where}.model")
        self.data.check_limit("eval_limit", f"{where}.data")
        check_parallel(self, where)


def load_eval_config(source, **overrides) -> EvalConfig:
    """An EvalConfig from a YAML path, a dict or an EvalConfig (validated)."""
    if isinstance(source, EvalConfig):
        d, where = source.to_dict(), f"eval config '{source.name}'"
    elif isinstance(source, dict):
        d, where = dict(source), "eval config"
    else:
        p = Path(source)
        if not p.exists():
            raise ConfigError(f"Eval config file '{p}' does not exist.")
        try:
            d, where = load_yaml(read_config_text(p, "Eval config file")) or {}, str(p)
        except yaml.YAMLError as e:
            raise ConfigError(f"Eval config file '{p}' is not valid YAML: {e}") from None
    d.update(overrides)
    if "bootstrap" in d:
        raise ConfigError(
            f"{where}.bootstrap: no longer a setting. It never changed a number: every accuracy interval is a "
            "Wilson score interval, which resamples nothing. Remove 'bootstrap' from the evaluation."
        )
    if isinstance(d.get("model"), str):
        d["model"] = {"name_or_path": d["model"]}
    if isinstance(d.get("data"), str):
        d["data"] = {"name": d["data"]}
    model = build_config(ModelSpec, d.pop("model", {}), f"{where}.model")
    data = build_config(DataSpec, d.pop("data", {}), f"{where}.data")
    cfg = build_config(EvalConfig, d, where)
    cfg.model, cfg.data = model, data
    cfg.validate(where)
    return cfg


def check_parallel(cfg: EvalConfig, where: str, num_processes: int | None = None) -> None:
    """``num_processes`` (or the processes actually started, ``num_processes``) and
    ``tensor_parallel_size`` of an eval config, checked."""
    for key in ("num_processes", "tensor_parallel_size"):
        v = getattr(cfg, key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
            raise ConfigError(f"{where}.{key}: expected a whole number of at least 1, got {v!r}.")
    tp, nproc = cfg.tensor_parallel_size, num_processes or cfg.num_processes or 1
    if tp > 1 and cfg.backend != "vllm":
        raise ConfigError(f"{where}.tensor_parallel_size: {tp} needs backend: vllm (HF generate uses one GPU).")
    if nproc > 1 and nproc % tp:
        raise ConfigError(
            f"{where}: num_processes ({nproc}) must be a multiple of tensor_parallel_size ({tp}): "
            "each vLLM engine spans tensor_parallel_size of the processes' GPUs."
        )


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
            d = load_yaml(read_config_text(path, "Run config file")) or {}
        except yaml.YAMLError as e:
            raise ConfigError(f"Run config file '{path}' is not valid YAML: {e}") from None
        where = where or str(path)
    d.update(overrides)
    cfg = build_config(RunConfig, d, where)
    cfg.validate(where)
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


def check_machine(cfg, device: str | None = None, where: str | None = None) -> None:
    """Check what a run or eval config (``cfg``) asks of the machine: a GPU for ``device: cuda``, and
    no GPU-only option (bf16/fp16/tf32, vLLM, FlashAttention) on a CPU.

    ``device`` is the device the work will use; None: the device ``cfg`` resolves to on this machine,
    and then ``device: cuda`` must find a GPU here and ``num_processes`` must not exceed the GPUs (on a
    CPU: the cores) this machine has (:func:`check_processes`). Give it to check a config for another
    machine (a login node planning GPU jobs).
    """
    is_eval = isinstance(cfg, EvalConfig)
    where = where or (f"eval '{cfg.name}'" if is_eval else f"run '{cfg.name}'")
    if device is None:
        if cfg.device == "cuda":
            import torch

            if not torch.cuda.is_available():
                raise ConfigError(
                    f"{where}.device: 'cuda' asks for a GPU, and this machine has none (torch sees no CUDA "
                    "device). Use device: auto (or cpu) here, or run on a GPU node."
                )
        device = detect_device(cfg.device)
        # an evaluation on GPUs uses at most one process per visible GPU (vrft_lib.launch.eval_processes)
        if not (is_eval and device == "cuda"):
            check_processes(cfg.num_processes, device, where)
    if device == "cuda":
        return
    if cfg.model.attn_implementation in FLASH_ATTENTION:
        raise ConfigError(
            f"{where}.model.attn_implementation: '{cfg.model.attn_implementation}' needs a GPU, and this run "
            "is on the CPU. Remove it (or use sdpa) for CPU runs."
        )
    uses_vllm = ("backend", cfg.backend == "vllm") if is_eval else ("use_vllm", cfg.use_vllm)
    if uses_vllm[1]:
        fix = "Use backend: hf" if is_eval else "Set use_vllm: false"
        raise ConfigError(f"{where}.{uses_vllm[0]}: vLLM needs a GPU, and this runs on the CPU. {fix} for CPU work.")
    for key in () if is_eval else ("bf16", "fp16", "tf32"):
        if cfg.trainer.get(key):
            raise ConfigError(
                f"{where}.trainer.{key}: needs a GPU, and this run is on the CPU. "
                f"Remove '{key}' or run on a GPU node (device: cuda)."
            )


MAX_PROCESSES_ENV = "VRFT_MAX_PROCESSES"  # the most processes a run may start here, over what is counted


def processors_here(device: str) -> tuple[int, str]:
    """What one process of a run takes on this machine, counted: ``(GPUs torch sees, "GPU")`` on
    ``cuda``, else ``(CPU cores this process may run on, "CPU core")`` (its affinity: a Slurm job's
    ``--cpus-per-task``, a container's cpuset)."""
    if device == "cuda":
        import torch

        return torch.cuda.device_count(), "GPU"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return cores or 1, "CPU core"


def check_processes(num_processes, device: str, where: str) -> None:
    """Refuse ``num_processes`` above the GPUs (on a CPU: the cores) this machine has, unless
    ``$VRFT_MAX_PROCESSES`` allows more (processes that span several machines: a multi-node accelerate
    config). Run on the machine that does the work: ``vrft study`` before any run, and each Slurm job
    on its node; ``--dry-run`` and ``--submit`` (a login node) do not count.
    """
    if not num_processes or num_processes <= 1:
        return
    present, unit = processors_here(device)
    if num_processes <= env_int(MAX_PROCESSES_ENV, present, "processes"):
        return
    allowed = os.environ.get(MAX_PROCESSES_ENV, "").strip()
    told = f"; {MAX_PROCESSES_ENV}={allowed} allows at most {allowed}" if allowed else ""
    raise ConfigError(
        f"{where}.num_processes: {num_processes} processes, one per {unit}, and this machine has {present} "
        f"{unit}{'s' if present != 1 else ''}{told}. Lower num_processes (run_defaults.num_processes in a study) "
        f"to {present} or fewer, or run on a machine with more. When the processes span several machines "
        f"(a multi-node accelerate config), set {MAX_PROCESSES_ENV}={num_processes} where the run starts."
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

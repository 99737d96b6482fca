"""The exact TRL arguments of a run: the paper's defaults (Section 4.1), the run's overrides, what the
kit manages and what the machine allows, checked (types, ranges, batch arithmetic) before any trainer is
built. Needs no GPU and loads no model.
"""

from __future__ import annotations

from typing import Any

from .config import RunConfig, check_machine, check_trainer_fields, detect_device
from .errors import ConfigError

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


# Trainer fields with a range (checked on the resolved arguments, paper defaults included).
AT_LEAST_ONE = (
    "per_device_train_batch_size",
    "gradient_accumulation_steps",
    "max_completion_length",
    "steps_per_generation",
    "generation_batch_size",
    "num_iterations",
    "max_prompt_length",
    "max_length",
)
POSITIVE = ("learning_rate", "temperature", "num_train_epochs")
NON_NEGATIVE = ("beta", "weight_decay", "warmup_steps", "max_grad_norm", "epsilon")


def check_trainer_ranges(args: dict, where: str) -> None:
    """The ranges of the resolved TRL arguments (the paper's defaults included), naming the field."""
    for key, value in args.items():
        if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        if key == "max_steps" and value != -1 and value < 1:
            raise ConfigError(f"{where}.trainer.max_steps: must be at least 1 (or -1 to train by epochs), got {value}.")
        if key in AT_LEAST_ONE and value < 1:
            raise ConfigError(f"{where}.trainer.{key}: must be at least 1, got {value}.")
        if key in POSITIVE and not value > 0:
            raise ConfigError(f"{where}.trainer.{key}: must be above 0, got {value}.")
        if key in NON_NEGATIVE and value < 0:
            raise ConfigError(f"{where}.trainer.{key}: must not be negative, got {value}.")
        if key == "top_p" and not 0 < value <= 1:
            raise ConfigError(f"{where}.trainer.top_p: must be in (0, 1], got {value}.")


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
        if cfg.balanced_batches:  # the order is made by vrft_lib.train.balanced_order; TRL keeps it
            args.update(shuffle_dataset=False)
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
    check_machine(cfg, device, where)
    if device != "cuda":
        args.update(bf16=False, fp16=False, use_cpu=True)
        args.setdefault("activation_checkpointing", False)
    else:
        args.setdefault("bf16", True)
        args.setdefault("activation_checkpointing", True)
    check_trainer_ranges(args, where)
    if cfg.method == "grpo":
        n_gen = args["num_generations"]
        if n_gen < 2:
            raise ConfigError(
                f"{where}.trainer.num_generations: GRPO needs at least 2 rollouts per prompt "
                f"(group-normalised advantages), got {n_gen}."
            )
        steps_per_gen = generation_steps(args, nproc, where)
        gen_batch = args["per_device_train_batch_size"] * nproc * steps_per_gen
        if gen_batch % n_gen:
            raise ConfigError(
                f"{where}.trainer: the generation batch (processes {nproc} x per_device_train_batch_size "
                f"{args['per_device_train_batch_size']} x steps per generation {steps_per_gen} = {gen_batch}) "
                f"must be divisible by num_generations ({n_gen}). Raise per_device_train_batch_size or "
                f"gradient_accumulation_steps, or lower num_generations."
            )
    return args


def generation_steps(args: dict, num_processes: int, where: str = "run") -> int:
    """How many micro-batches one generation covers: TRL's ``steps_per_generation``, from it, from
    ``generation_batch_size`` (a multiple of processes x per-device batch) or, with neither, the
    accumulation steps (TRL's default: a whole optimizer step's completions in one ``generate``).

    It must divide ``gradient_accumulation_steps``: a generation that spans two optimizer steps trains
    some completions of an older policy (TRL then corrects them by importance sampling), and the
    paper's GRPO is on-policy. Each process generates ``per_device_train_batch_size x`` this many
    completions per call.

    >>> args = {"per_device_train_batch_size": 8, "gradient_accumulation_steps": 32}
    >>> generation_steps(args, 1), generation_steps({**args, "steps_per_generation": 4}, 1)
    (32, 4)
    >>> generation_steps({**args, "generation_batch_size": 64}, 1)
    8
    """
    spg, gbs = args.get("steps_per_generation"), args.get("generation_batch_size")
    accum, per_call = args["gradient_accumulation_steps"], args["per_device_train_batch_size"] * num_processes
    if spg is not None and gbs is not None:
        raise ConfigError(
            f"{where}.trainer: give steps_per_generation or generation_batch_size, not both (one fixes the other)."
        )
    if gbs is not None:
        if gbs % per_call:
            raise ConfigError(
                f"{where}.trainer.generation_batch_size: {gbs} is not a multiple of processes {num_processes} x "
                f"per_device_train_batch_size {args['per_device_train_batch_size']} = {per_call}."
            )
        spg = gbs // per_call
    spg = spg or accum
    if accum % spg:
        raise ConfigError(
            f"{where}.trainer: steps per generation ({spg}) must divide gradient_accumulation_steps ({accum}): "
            "a generation that spans two optimizer steps trains completions of an older policy, and the "
            "paper's GRPO is on-policy. Use a divisor of the accumulation steps (1 generates each "
            "micro-batch on its own)."
        )
    return spg


def batch_summary(cfg: RunConfig, args: dict, num_processes: int | None = None, split_size: int | None = None) -> dict:
    """What one optimizer step and the whole run see, in the paper's units.

    GRPO: ``prompts_per_step`` and ``completions_per_step`` (processes x per-device completions x
    accumulation), ``completions_per_generate_call`` and ``generate_calls_per_step`` (per process:
    how :func:`generation_steps` chunks a step's generation), ``prompts_seen``; SFT:
    ``examples_per_step`` and ``examples_seen``. With the training split's size (``split_size``),
    ``epochs`` over it.

    >>> from vrft_lib.config import load_run_config
    >>> cfg = load_run_config({"name": "x", "method": "grpo", "device": "cpu", "num_processes": 8})
    >>> batch_summary(cfg, resolve_trainer_args(cfg), split_size=6667)  # doctest: +NORMALIZE_WHITESPACE
    {'prompts_per_step': 32, 'completions_per_step': 256, 'completions_per_generate_call': 32,
     'generate_calls_per_step': 1, 'steps': 300, 'prompts_seen': 9600, 'epochs': 1.44}
    """
    nproc = num_processes or cfg.num_processes
    per_step = args["per_device_train_batch_size"] * nproc * args["gradient_accumulation_steps"]
    steps = args.get("max_steps")
    out: dict[str, Any] = {}
    if cfg.method == "grpo":
        spg = generation_steps(args, nproc, f"run '{cfg.name}'")
        out.update(
            prompts_per_step=per_step // args["num_generations"],
            completions_per_step=per_step,
            completions_per_generate_call=args["per_device_train_batch_size"] * spg,
            generate_calls_per_step=args["gradient_accumulation_steps"] // spg,
            steps=steps,
        )
        seen = out["prompts_per_step"] * steps if steps and steps > 0 else None
        out["prompts_seen"] = seen
    else:
        out.update(examples_per_step=per_step, steps=steps)
        seen = per_step * steps if steps and steps > 0 else None
        out["examples_seen"] = seen
    if split_size and seen:
        out["epochs"] = round(seen / split_size, 2)
    return out

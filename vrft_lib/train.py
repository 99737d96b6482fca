"""Fine-tune a model by GRPO (RFT) or SFT with TRL, from one run config.

The same code runs three ways::

    # in a notebook or a Python session
    from vrft_lib.train import train
    train_dir = train("run.yaml")

    # from the command line, one process
    vrft train run.yaml                  # or: python -m vrft_lib.train run.yaml

    # several processes (GPUs, or CPU processes for a test)
    accelerate launch --num_processes 2 -m vrft_lib.train run.yaml

A train folder holds ``config.yaml`` (resolved), ``provenance.json``, ``trainer_args.json``, the final
``model/``, ``steps.csv`` (one row per optimizer step), ``completions.parquet`` (GRPO: every sampled
completion with its rewards), ``compute.json`` (what the training cost: :mod:`vrft_lib.compute`),
``trainer/checkpoint-*`` (the last few, for resuming) and ``DONE``, the
completion marker written last. Running the same config again resumes from the last checkpoint, and
does nothing when ``DONE`` exists.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import json
import random
import sys
import time
import warnings
from pathlib import Path

import pandas as pd

from .checkpoints import drop_checkpoints, last_complete_checkpoint
from .compute import COMPUTE_FILE, compute_callback
from .config import RunConfig, check_report_to, detect_device, load_run_config
from .data import benchmark_info, load_benchmark
from .errors import ConfigError, exit_code
from .files import atomic_path, dump_yaml, make_dirs, plain_modes, refuse_links, remove_tree, write_json
from .models import freeze_vision_tower, load_processor
from .parallel import leave_process_group
from .prompts import to_grpo_dataset, to_sft_dataset
from .provenance import provenance
from .runfolder import config_diff, is_done, write_done
from .tiny import resolve_model_path
from .tiny.base import RECIPE, instruct_sft_dataset
from .trainer_args import resolve_trainer_args

# Friendly names for the per-step table (TRL's keys are kept as well).
STEP_COLUMNS = {
    "rewards/accuracy_reward/mean": "accuracy_reward",
    "rewards/format_reward/mean": "format_reward",
    "rewards/length_reward/mean": "length_reward",
    "rewards/think_length_reward/mean": "length_reward",
    "completions/mean_length": "mean_completion_length",
}


def _restore_weights(trainer, checkpoint: str) -> None:
    """Load a checkpoint's weights into the trainer's model the way ``from_pretrained`` reads them.

    The Trainer resumes with a plain ``load_state_dict(strict=False)`` of the checkpoint's
    ``model.safetensors``, but a Qwen2.5-VL checkpoint is saved under the original key names
    (``model.layers.*``, ``visual.*``) while the module's are ``model.language_model.layers.*`` and
    ``model.visual.*``: no weight matches, and training would go on from the base model's weights
    with the optimizer state of the checkpoint (huggingface/transformers#43701). DeepSpeed and FSDP
    restore their own states, and LoRA adapters load by name, so they are left to the Trainer.
    """
    if trainer.is_deepspeed_enabled or trainer.is_fsdp_enabled:
        return
    model = trainer.accelerator.unwrap_model(trainer.model)
    if getattr(model, "peft_config", None):
        return
    loaded = type(model).from_pretrained(checkpoint, dtype=next(model.parameters()).dtype)
    model.load_state_dict(loaded.state_dict(), strict=True)
    del loaded


def _check_train_dir(cfg: RunConfig) -> None:
    """Refuse to mix two different runs in one folder (nothing a user made is overwritten)."""
    diff = config_diff(cfg.train_dir / "config.yaml", cfg.to_dict())
    if diff:
        raise ConfigError(
            f"Output folder '{cfg.train_dir}' holds a different run (its config.yaml differs in: "
            f"{', '.join(diff)}). Use another output_dir, or delete that folder to start over."
        )


class _StepTimer:
    """A TrainerCallback that records the wall time of every optimizer step."""

    def __init__(self):
        from transformers import TrainerCallback

        timer = self

        class Callback(TrainerCallback):
            def on_step_begin(self, args, state, control, **kwargs):
                timer.t0 = time.perf_counter()

            def on_step_end(self, args, state, control, **kwargs):
                timer.times[state.global_step] = time.perf_counter() - timer.t0

        self.t0 = time.perf_counter()
        self.times: dict[int, float] = {}
        self.callback = Callback()


PROGRESS_FILE = "progress.json"  # in the train folder: the optimizer step reached, for `vrft study`'s bar


def progress_callback(path):
    """A TrainerCallback that writes ``{"step", "max_steps"}`` to ``path`` after every optimizer step
    (the main process only), so that whoever started the run can show how far it is."""
    from transformers import TrainerCallback

    class Progress(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.is_world_process_zero:
                write_json({"step": int(state.global_step), "max_steps": int(state.max_steps)}, path)

    return Progress()


def checkpoint_modes_callback():
    """A TrainerCallback that gives every file of each checkpoint the Trainer saves the mode a plain
    ``open()`` gives under the umask (:func:`vrft_lib.files.plain_modes`): safetensors writes its
    weights 0600, unreadable to colleagues sharing a cluster folder (the main process only)."""
    from transformers import TrainerCallback

    class CheckpointModes(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            if state.is_world_process_zero:
                folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
                if folder.is_dir():
                    plain_modes(folder)

    return CheckpointModes()


def steps_table(log_history, step_times=None):
    """One row per optimizer step from ``trainer.state.log_history`` (a pandas DataFrame)."""
    rows = [dict(h) for h in log_history if "step" in h and "train_runtime" not in h]
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    df = df.groupby("step", as_index=False).last()
    for src, dst in STEP_COLUMNS.items():
        if src in df:
            df[dst] = df[src]
    if step_times:
        df["step_time"] = df["step"].map(step_times)
    front = [
        c
        for c in [
            "step",
            "loss",
            "reward",
            "accuracy_reward",
            "format_reward",
            "length_reward",
            "mean_completion_length",
            "kl",
            "learning_rate",
            "step_time",
        ]
        if c in df
    ]
    # the other columns sorted: a resumed run's log (part read back from a checkpoint) has its keys
    # in another order than an uninterrupted one's
    return df[front + sorted(c for c in df.columns if c not in front)]


def _collect_completions(trainer_dir: Path, out: Path) -> None:
    files = sorted(glob.glob(str(trainer_dir / "completions" / "completions_*.parquet")))
    if not files:
        return
    df = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    for col in ("prompt", "completion"):
        if col in df:
            df[col] = df[col].map(_message_text)
    with atomic_path(out) as tmp:
        df.to_parquet(tmp)


def _message_text(m) -> str:
    """Flatten conversational messages (as TRL logs them) into plain text."""
    if isinstance(m, str):
        return m
    try:
        parts = []
        for msg in m:
            content = msg["content"]
            if isinstance(content, str):
                parts.append(content)
            else:
                parts.extend(c.get("text", "") for c in content if isinstance(c, dict) and c.get("type") == "text")
        return "\n".join(p for p in parts if p)
    except (TypeError, KeyError):
        return str(m)


def quiet_known_deprecations() -> None:
    """TRL 1.16's ``unwrap_model_for_generation`` (trl/models/utils.py) reads transformers'
    ``is_gradient_checkpointing`` at every GRPO generation, which warns each time (a FutureWarning: it
    is renamed ``is_activation_checkpointing``); 80 steps printed it 80 times. That one warning, raised
    in that module, is ignored; every other warning is shown."""
    warnings.filterwarnings(
        "ignore",
        message=r"`is_gradient_checkpointing` is deprecated",
        category=FutureWarning,
        module=r"transformers\.modeling_utils",
    )


def _silence_completion_table(enabled: bool) -> None:
    """TRL prints a wide table of completions at each log step; keep it unless asked."""
    if enabled:
        return
    import trl.trainer.grpo_trainer as g

    g.print_prompt_completions_sample = lambda *a, **k: None


def model_init_kwargs(cfg: RunConfig) -> dict:
    """What TRL passes to ``from_pretrained`` when it loads the run's model (and its reference)."""
    return {
        k: v for k, v in {"dtype": cfg.model.dtype, "attn_implementation": cfg.model.attn_implementation}.items() if v
    }


def build_trainer(cfg: RunConfig, model_path: str, processor, train_dataset, args: dict, callbacks=()):
    """TRL's GRPOTrainer or SFTTrainer for this run (rewards looked up in the registry)."""
    peft_config = None
    if cfg.peft:
        from peft import LoraConfig

        peft_config = LoraConfig(**cfg.peft)
    args = dict(args, model_init_kwargs=model_init_kwargs(cfg))
    if cfg.method == "grpo":
        from trl import GRPOConfig, GRPOTrainer

        funcs, weights = cfg.reward_functions(processor.tokenizer)
        args["reward_weights"] = weights
        trainer = GRPOTrainer(
            model=model_path,
            reward_funcs=funcs,
            args=GRPOConfig(**args),
            train_dataset=train_dataset,
            processing_class=processor,
            peft_config=peft_config,
            callbacks=list(callbacks),
        )
    else:
        from trl import SFTConfig, SFTTrainer

        trainer = SFTTrainer(
            model=model_path,
            args=SFTConfig(**args),
            train_dataset=train_dataset,
            processing_class=processor,
            peft_config=peft_config,
            callbacks=list(callbacks),
        )
    apply_freezing(cfg, trainer.model)
    return trainer


def apply_freezing(cfg: RunConfig, model) -> int:
    """Freeze what the run config asks (``freeze_vision``, ``freeze_projector``) before the optimizer is
    made (it takes only parameters that require a gradient); return the number of parameters frozen.
    With LoRA only the adapters train anyway, so nothing is done."""
    if cfg.peft or not (cfg.freeze_vision or cfg.freeze_projector):
        return 0
    return freeze_vision_tower(model, train_merger=not cfg.freeze_projector)


def train_dataset_for(cfg: RunConfig):
    """The run's training data in TRL's format (GRPO: prompt + solution; SFT: prompt + completion)."""
    d = cfg.data
    ds = load_benchmark(d.name, d.train_split, root=d.root, limit=d.train_limit, seed=cfg.seed, **d.options)
    classes = benchmark_info(ds).get("classes") if d.classes_in_prompt else None
    convert = to_grpo_dataset if cfg.method == "grpo" else to_sft_dataset
    data = convert(ds, cfg.train_mode, classes=classes)
    if cfg.method == "sft" and cfg.replay:
        data = with_replay(data, cfg.replay, cfg.seed)
    if cfg.method == "grpo" and cfg.balanced_batches:
        data = data.select(balanced_order(data["solution"], cfg.seed))
    return data


def balanced_order(solutions, seed: int) -> list[int]:
    """Row indices that cycle through the answers: each round takes one row of every answer that has
    rows left, in an order drawn anew per round, and each answer's rows are shuffled with ``seed``.
    A step made of whole rounds holds every answer equally (binary, 4 prompts: 2 + 2); in any run of
    consecutive prompts, while every answer has rows left, the counts of two answers differ by at most
    two (the partial rounds at its ends). So a step whose prompts mostly share one answer cannot pull the
    whole policy towards it (GRPO from a base whose answers barely depend on the image swung between the
    two answers).

    >>> balanced_order(["a", "a", "a", "b", "b", "b"], seed=0)[:4]
    [0, 3, 2, 5]
    """
    rng = random.Random(seed)
    by_answer: dict[str, list[int]] = {}
    for i, s in enumerate(solutions):
        by_answer.setdefault(str(s), []).append(i)
    queues = [rng.sample(rows, len(rows)) for _, rows in sorted(by_answer.items())]
    order = []
    while any(queues):
        live = [q for q in queues if q]
        rng.shuffle(live)
        order += [q.pop() for q in live]
    return order


def with_replay(data, share: float, seed: int):
    """SFT data with a share ``share`` of rows from the tiny base's instruction mix (every mix row in both
    prompt modes, drawn from a stream of its own), shuffled with ``seed``: fine-tuning on one task's
    answer-only targets then keeps the think format the base was taught."""
    from datasets import concatenate_datasets

    extra = round(len(data) * share / (1 - share))
    mix = instruct_sft_dataset(max(1, -(-extra // 2)), seed=10_000 + seed, image_size=RECIPE["image_size"]).select(
        range(extra)
    )
    mix = mix.cast(data.features)
    return concatenate_datasets([data, mix]).shuffle(seed=seed)


def train(config, **overrides) -> Path:
    """Train one run and return its train folder. ``config``: a YAML path, a dict or a RunConfig."""
    from accelerate import PartialState
    from transformers.trainer_utils import set_seed

    cfg = load_run_config(config, **overrides)
    if cfg.method == "none":
        raise ConfigError(f"run '{cfg.name}' has method 'none' (training-free): there is nothing to train.")
    train_dir = cfg.train_dir
    check_report_to(cfg.report_to, f"run '{cfg.name}'")  # before anything is written
    _check_train_dir(cfg)
    if is_done(train_dir):
        print(f"[vrft] run '{cfg.name}' already finished in {train_dir}; nothing to do.")
        return train_dir
    # The same device choice as the trainer's (a CPU run joins a gloo group when launched in several
    # processes); PartialState is shared, so the first one made decides.
    state = PartialState(cpu=detect_device(cfg.device) == "cpu")
    args = resolve_trainer_args(cfg, num_processes=state.num_processes)
    if state.is_main_process:
        make_dirs(train_dir)
        refuse_links(train_dir, inside=True)  # the Trainer and save_pretrained write with plain open()
        dump_yaml(cfg.to_dict(), train_dir / "config.yaml")
        write_json(args, train_dir / "trainer_args.json")
        write_json(
            provenance(run=cfg.name, seed=cfg.seed, num_processes=state.num_processes), train_dir / "provenance.json"
        )
    set_seed(cfg.seed)
    _silence_completion_table(cfg.print_completions)
    quiet_known_deprecations()

    model_path = resolve_model_path(cfg.model.name_or_path)
    processor = load_processor(model_path, min_pixels=cfg.model.min_pixels, max_pixels=cfg.model.max_pixels)
    dataset = train_dataset_for(cfg)
    timer = _StepTimer()
    compute = compute_callback(train_dir / COMPUTE_FILE, cfg.method)
    trainer = build_trainer(
        cfg,
        model_path,
        processor,
        dataset,
        args,
        callbacks=[
            timer.callback,
            progress_callback(train_dir / PROGRESS_FILE),
            checkpoint_modes_callback(),
            compute,
        ],
    )
    compute.watch(trainer)
    trainer_dir = Path(args["output_dir"])
    report = print if state.is_main_process else None
    resume = last_complete_checkpoint(trainer_dir, report=report) if trainer_dir.is_dir() else None
    if resume:
        compute.resume(resume)
        _restore_weights(trainer, resume)
        if state.is_main_process:
            print(f"[vrft] resuming run '{cfg.name}' from {resume}")
    t0 = time.perf_counter()
    trainer.train(resume_from_checkpoint=resume)
    train_seconds = time.perf_counter() - t0

    final = train_dir / "model"
    if cfg.peft:
        # model/ must be a full checkpoint (the evaluation loads it as one): keep the adapter in adapter/
        # and save the base weights with the adapter merged in.
        trainer.save_model(str(train_dir / "adapter"))
        if state.is_main_process:
            merged = trainer.accelerator.unwrap_model(trainer.model).merge_and_unload()
            merged.save_pretrained(str(final))
    else:
        trainer.save_model(str(final))
    if state.is_main_process:
        processor.save_pretrained(str(final))
        for folder in (final, train_dir / "adapter"):  # safetensors writes 0600: the umask's mode, as open()
            if folder.exists():
                plain_modes(folder)
        table = steps_table(trainer.state.log_history, timer.times)
        with atomic_path(train_dir / "steps.csv") as tmp:
            table.to_csv(tmp, index=False)
        _collect_completions(trainer_dir, train_dir / "completions.parquet")
        with contextlib.suppress(OSError):
            remove_tree(trainer_dir / "completions")
        times = [t for t in timer.times.values()]
        write_done(
            train_dir,
            run=cfg.name,
            method=cfg.method,
            train_seconds=round(train_seconds, 2),
            steps=int(trainer.state.global_step),
            resumed_from=resume,
            mean_step_seconds=round(sum(times) / len(times), 4) if times else None,
        )
        if not cfg.keep_checkpoints_when_done:
            drop_checkpoints(train_dir)
    state.wait_for_everyone()
    return train_dir


def main(argv=None) -> int:
    """``python -m vrft_lib.train RUN.yaml``: what ``accelerate launch`` starts in every process."""
    parser = argparse.ArgumentParser(prog="python -m vrft_lib.train", description="Train one GRPO or SFT run.")
    parser.add_argument("config", help="run config YAML")
    parser.add_argument("--output-dir", help="override the run's output_dir")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for configuration errors")
    ns = parser.parse_args(argv)
    overrides = {"output_dir": ns.output_dir} if ns.output_dir else {}
    try:
        return exit_code(lambda: print(json.dumps({"train_dir": str(train(ns.config, **overrides))})), debug=ns.debug)
    finally:
        leave_process_group()


if __name__ == "__main__":
    sys.exit(main())

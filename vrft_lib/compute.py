"""What a run cost: optimizer steps, examples, tokens, wall time, device-hours and peak memory.

Training writes ``train/compute.json`` (:class:`ComputeCounter`, a TrainerCallback, counts it) and
evaluation writes ``eval/compute.json`` (:func:`eval_record`), each written whole by
:func:`vrft_lib.files.write_json`. A training-free run has only the second. The fields and their
definitions are :data:`FIELDS` (also in docs/architecture.md).

Where the trainer knows a number, it is read from the trainer: the optimizer steps
(``state.global_step``), the sequence tokens (TRL's logged ``num_tokens``) and the tokens of GRPO's
rollouts (its logged ``completions/mean_length`` times the completions of each generation). What it
does not log is counted on the batches the loss is computed on (:meth:`ComputeCounter.watch`): SFT's
examples and target tokens, GRPO's completion tokens in the loss.

Several processes (an ``accelerate launch``): TRL's logged numbers are already totals over the
processes (it gathers them); the batch counts, CPU time and peaks are gathered from every process
when the run saves a checkpoint and when it ends, and summed (counts, CPU seconds) or their maximum
taken (peak memory, per process). The main process writes the file.
"""

from __future__ import annotations

import math
import os
import resource
import sys
import time
from pathlib import Path

from .files import read_json, write_json

COMPUTE_FILE = "compute.json"  # in a train folder and in an eval folder
SNAPSHOT_FILE = "vrft_compute.json"  # in a Trainer checkpoint: the counts so far, for a resumed run

# Every field of a compute record and what it means (docs/architecture.md lists the same).
FIELDS = {
    "phase": "train or eval",
    "method": "train: grpo or sft",
    "device": "cpu or cuda",
    "num_processes": "processes that shared the work (an accelerate launch; 1 otherwise)",
    "threads": "PyTorch CPU threads per process (torch.get_num_threads)",
    "gpus": "GPUs used: one per process on cuda (a one-process vLLM evaluation: its tensor_parallel_size); 0 on a CPU",
    "steps": "train: optimizer steps (the trainer's global_step)",
    "prompts": "train, GRPO: prompts trained on (completions / num_generations)",
    "completions": "train, GRPO: completions trained on (steps x per-device batch x processes x accumulation)",
    "examples": "train, SFT: examples trained on (counted on the batches, summed over the processes)",
    "completions_generated": "train, GRPO: rollouts sampled (= completions when num_iterations is 1)",
    "tokens_generated": "tokens sampled: GRPO's rollouts (the logged mean completion length x completions of "
    "each generation), an evaluation's responses (the sum of predictions.jsonl's response_tokens); 0 for SFT",
    "tokens_trained": "train: tokens in the loss: SFT's target tokens (labels other than -100, shifted as "
    "the causal loss shifts them), GRPO's completion tokens (completion_mask; each batch num_iterations times)",
    "sequence_tokens": "train: every non-padding token of the sequences the trainer processed (prompt, "
    "image placeholders and completion), as TRL logs it (num_tokens; GRPO: every rollout's prompt + completion)",
    "requests": "eval: generations asked for (rows x prompt modes x rotations)",
    "seconds": "wall time of the phase (train: from the trainer's on_train_begin to on_train_end, over "
    "every attempt kept; eval: the whole evaluate call, loading the model included)",
    "generation_seconds": "eval: wall time of the generation alone",
    "cpu_seconds": "process CPU time (user + system) during the phase, summed over the processes",
    "device_hours": "on a GPU: GPU-hours = seconds x gpus / 3600; on a CPU: CPU-hours = seconds x threads x "
    "processes / 3600 (the cores held, busy or not)",
    "device_hours_unit": "GPU-h or CPU-h",
    "peak_rss_bytes": "the highest resident memory of one process (getrusage's ru_maxrss at the phase's end; "
    "with several processes, the largest)",
    "peak_rss_scope": "phase: the phase raised the process's peak, so the value is the phase's own peak; "
    "process: the peak was reached before the phase, in the same process (an evaluation after training "
    "in one notebook kernel), and the phase's own peak is at most this",
    "peak_accelerator_bytes": "torch.cuda.max_memory_allocated of one process during the phase (reset at its "
    "start), the largest over the processes; null on a CPU",
    "resumed_from": "train: the checkpoint this attempt resumed from, or null",
    "attempts": "train: the attempts whose counts are included (a resumed run's earlier ones come from "
    "the checkpoint it resumed from)",
    "complete": "train: false when the run resumed from a checkpoint that holds no counts (an older kit's): "
    "the batch counts, seconds and CPU seconds are then this attempt's only",
}


# ----------------------------------------------------------------------------------------------
# one phase's time, CPU time and peak memory
# ----------------------------------------------------------------------------------------------


def peak_rss_bytes() -> int:
    """This process's peak resident memory since it started (``getrusage``'s ``ru_maxrss``)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(rss if sys.platform == "darwin" else rss * 1024)  # bytes on macOS, KiB on Linux


def _cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _cuda():
    """torch.cuda when this process already uses a GPU, else None (nothing is imported here)."""
    torch = sys.modules.get("torch")
    try:
        return torch.cuda if torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized() else None
    except Exception:  # noqa: BLE001 - a compute record must never fail a run
        return None


def torch_threads() -> int:
    torch = sys.modules.get("torch")
    try:
        return int(torch.get_num_threads()) if torch is not None else (os.cpu_count() or 1)
    except Exception:  # noqa: BLE001
        return os.cpu_count() or 1


class PhaseMeter:
    """Wall time, CPU time and peak memory of one phase of this process, from its creation (or
    :meth:`start`) to :meth:`usage`."""

    def __init__(self):
        self.start()

    def start(self) -> None:
        # The process's resident peak is not reset (on Linux that would also erase it from what the
        # parent process reads of it once it exits): a phase that raises it has it as its own peak.
        self.rss0 = peak_rss_bytes()
        cuda = _cuda()
        if cuda is not None:
            cuda.reset_peak_memory_stats()
        self.t0, self.cpu0 = time.perf_counter(), _cpu_seconds()

    def usage(self) -> dict:
        """``seconds``, ``cpu_seconds``, ``peak_rss_bytes``, ``peak_rss_scope``, ``peak_accelerator_bytes``."""
        cuda = _cuda()
        rss = peak_rss_bytes()
        return {
            "seconds": time.perf_counter() - self.t0,
            "cpu_seconds": _cpu_seconds() - self.cpu0,
            "peak_rss_bytes": rss,
            "peak_rss_scope": "phase" if rss > self.rss0 else "process",
            "peak_accelerator_bytes": int(cuda.max_memory_allocated()) if cuda is not None else None,
        }


def combine_usage(usages: list[dict]) -> dict:
    """Several processes' :meth:`PhaseMeter.usage` as one: the longest wall time, the CPU seconds
    summed, the largest peaks.

    >>> combine_usage([{"seconds": 2.0, "cpu_seconds": 3.0, "peak_rss_bytes": 5, "peak_rss_scope": "phase",
    ...                 "peak_accelerator_bytes": None}, {"seconds": 1.0, "cpu_seconds": 1.0,
    ...                 "peak_rss_bytes": 9, "peak_rss_scope": "phase", "peak_accelerator_bytes": None}])
    {'seconds': 2.0, 'cpu_seconds': 4.0, 'peak_rss_bytes': 9, 'peak_rss_scope': 'phase', 'peak_accelerator_bytes': None}
    """
    gpu = [u["peak_accelerator_bytes"] for u in usages if u.get("peak_accelerator_bytes") is not None]
    return {
        "seconds": max(u["seconds"] for u in usages),
        "cpu_seconds": sum(u["cpu_seconds"] for u in usages),
        "peak_rss_bytes": max(u["peak_rss_bytes"] for u in usages),
        "peak_rss_scope": "phase" if all(u["peak_rss_scope"] == "phase" for u in usages) else "process",
        "peak_accelerator_bytes": max(gpu) if gpu else None,
    }


def device_hours(seconds: float, device: str, num_processes: int, threads: int, gpus: int | None = None) -> dict:
    """GPU-hours (``seconds x gpus``) on a GPU, CPU-hours (``seconds x threads x processes``) on a CPU.

    >>> device_hours(3600, "cuda", 8, 4)
    {'gpus': 8, 'device_hours': 8.0, 'device_hours_unit': 'GPU-h'}
    >>> device_hours(1800, "cpu", 1, 2)
    {'gpus': 0, 'device_hours': 1.0, 'device_hours_unit': 'CPU-h'}
    """
    if device == "cuda":
        gpus = int(gpus or num_processes)
        return {"gpus": gpus, "device_hours": seconds * gpus / 3600, "device_hours_unit": "GPU-h"}
    return {"gpus": 0, "device_hours": seconds * threads * num_processes / 3600, "device_hours_unit": "CPU-h"}


# ----------------------------------------------------------------------------------------------
# training: counted from the trainer's log and the batches of its loss
# ----------------------------------------------------------------------------------------------


def _step_logs(log_history) -> list[dict]:
    """The per-step entries of a trainer's log (not the final summary), one per step, by step."""
    by_step = {}
    for h in log_history or []:
        if isinstance(h, dict) and "step" in h and "train_runtime" not in h:
            by_step[int(h["step"])] = {**by_step.get(int(h["step"]), {}), **h}
    return [by_step[s] for s in sorted(by_step)]


def cumulative_total(values) -> float:
    """The total a cumulative counter reached, where it may have restarted from 0 (TRL's SFT token
    counter restarts with every attempt of a resumed run): each run of rising values counts by its last.

    >>> cumulative_total([10, 20, 30]), cumulative_total([10, 20, 5, 15]), cumulative_total([])
    (30, 35, 0)
    """
    total, last = 0, None
    for v in values:
        if last is not None and v < last:
            total += last
        last = v
    return total + (last or 0)


def generations_between(a: int, b: int, accumulation: int, generate_every: int) -> int:
    """How many times GRPO generates between optimizer steps ``a`` (excluded) and ``b`` (included): it
    generates at every micro-step that is a multiple of ``steps_per_generation x num_iterations``.

    >>> generations_between(0, 1, 4, 4), generations_between(0, 4, 4, 8), generations_between(1, 2, 4, 8)
    (1, 2, 0)
    """
    return -(-b * accumulation // generate_every) - -(-a * accumulation // generate_every)


def grpo_generated(log_history, args) -> tuple[int, int]:
    """``(completions, tokens)`` GRPO sampled, from its log: each logged ``completions/mean_length`` is
    the mean over the generations since the previous entry, each of ``per_device x processes x
    steps_per_generation`` completions."""
    accumulation = int(args.gradient_accumulation_steps)
    per_generation = int(args.steps_per_generation or accumulation)
    generate_every = per_generation * int(getattr(args, "num_iterations", 1) or 1)
    batch = int(args.per_device_train_batch_size) * int(args.world_size) * per_generation
    completions, tokens, previous = 0, 0.0, 0
    for h in _step_logs(log_history):
        n = generations_between(previous, int(h["step"]), accumulation, generate_every) * batch
        mean = h.get("completions/mean_length")
        if n and mean is not None and not (isinstance(mean, float) and math.isnan(mean)):
            completions += n
            tokens += float(mean) * n
        previous = int(h["step"])
    return completions, int(round(tokens))


def _gather(obj) -> list:
    """``obj`` of every process of the launch (a list of one outside a launch)."""
    dist = sys.modules.get("torch.distributed")
    if dist is not None and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        out = [None] * dist.get_world_size()
        dist.all_gather_object(out, obj)
        return out
    return [obj]


class ComputeCounter:
    """Counts what a training run cost and writes it to ``path`` when training ends (main process).

    It is a TrainerCallback (:func:`compute_callback` makes one, to hand to the trainer); its batch
    counts come from :meth:`watch`. ``resume_from``: the checkpoint the run resumes from, whose
    snapshot (written at each save) holds the counts of the attempts before this one.
    """

    COUNTS = ("examples", "tokens_trained")

    def __init__(self, path, method: str, resume_from=None):
        self.path, self.method = Path(path) if path else None, method
        self.counts = dict.fromkeys(self.COUNTS, 0)  # this process, this attempt
        self.meter = None
        self.record: dict | None = None
        self.resume(resume_from)

    def resume(self, checkpoint) -> None:
        """Count from the checkpoint ``checkpoint`` (None: from the start): its snapshot holds the
        counts of every process and attempt up to it."""
        self.resume_from = str(checkpoint) if checkpoint else None
        data = read_json(Path(checkpoint) / SNAPSHOT_FILE) if checkpoint else None
        self.before = data if isinstance(data, dict) else {}

    # the batches of the loss
    def count_batch(self, inputs) -> None:
        """Count one micro-batch the loss is computed on (this process): SFT its examples and target
        tokens, GRPO its completion tokens."""
        if self.method == "grpo":
            self.counts["tokens_trained"] += int(inputs["completion_mask"].sum())
        else:
            labels = inputs["labels"]
            self.counts["examples"] += int(labels.shape[0])
            self.counts["tokens_trained"] += int((labels[..., 1:] != -100).sum())

    def watch(self, trainer) -> None:
        """Count every training batch that ``trainer`` computes its loss on."""
        compute_loss = trainer.compute_loss

        def counted(model, inputs, *args, **kwargs):
            if model.training:
                self.count_batch(inputs)
            return compute_loss(model, inputs, *args, **kwargs)

        trainer.compute_loss = counted

    # the callback's events
    def on_train_begin(self, args, state, control, **kwargs):
        self.meter = PhaseMeter()

    def _totals(self, args, state) -> dict:
        """Every process's counts, time and peaks so far (with the earlier attempts'); every process
        must call it (it gathers)."""
        usage = self.meter.usage() if self.meter else {}
        mine = {**self.counts, **usage}
        everyone = _gather(mine)
        before = self.before
        out = {k: sum(p[k] for p in everyone) + int(before.get(k) or 0) for k in self.COUNTS}
        if usage:
            now = combine_usage(everyone)
            out["seconds"] = now["seconds"] + float(before.get("seconds") or 0)
            out["cpu_seconds"] = now["cpu_seconds"] + float(before.get("cpu_seconds") or 0)
            for key in ("peak_rss_bytes", "peak_accelerator_bytes"):
                values = [v for v in (now[key], before.get(key)) if v is not None]
                out[key] = max(values) if values else None
            out["peak_rss_scope"] = now["peak_rss_scope"]
        out["attempts"] = int(before.get("attempts") or 0) + 1
        out["complete"] = bool(before) or self.resume_from is None
        return out

    def on_save(self, args, state, control, **kwargs):
        totals = self._totals(args, state)
        if state.is_world_process_zero:
            folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            if folder.is_dir():
                write_json(totals, folder / SNAPSHOT_FILE)

    def on_train_end(self, args, state, control, **kwargs):
        self.record = train_record(self.method, args, state, self._totals(args, state), self.resume_from)
        if state.is_world_process_zero and self.path is not None:
            write_json(self.record, self.path)


def compute_callback(path, method: str, resume_from=None) -> ComputeCounter:
    """A :class:`ComputeCounter` that is a ``transformers.TrainerCallback``."""
    from transformers import TrainerCallback

    class ComputeCallback(ComputeCounter, TrainerCallback):
        pass

    return ComputeCallback(path, method, resume_from)


def _device_of(args) -> str:
    device = getattr(args, "device", "cpu")
    return str(getattr(device, "type", device)).split(":")[0]


def train_record(method: str, args, state, totals: dict, resumed_from=None) -> dict:
    """A training run's compute record (:data:`FIELDS`) from the trainer's arguments and state (its
    log history) and the counted ``totals``."""
    nproc = int(getattr(args, "world_size", 1) or 1)
    steps = int(state.global_step)
    threads = torch_threads()
    device = _device_of(args)
    logs = _step_logs(state.log_history)
    sequence = cumulative_total([h["num_tokens"] for h in logs if h.get("num_tokens") is not None])
    rec = {"phase": "train", "method": method, "device": device, "num_processes": nproc, "threads": threads}
    rec["steps"] = steps
    if method == "grpo":
        per_step = int(args.per_device_train_batch_size) * nproc * int(args.gradient_accumulation_steps)
        generated, tokens = grpo_generated(state.log_history, args)
        rec.update(
            prompts=steps * per_step // int(args.num_generations),
            completions=steps * per_step,
            examples=None,
            completions_generated=generated,
            tokens_generated=tokens,
        )
    else:
        rec.update(
            prompts=None, completions=None, examples=totals["examples"], completions_generated=0, tokens_generated=0
        )
    rec["tokens_trained"] = totals["tokens_trained"]
    rec["sequence_tokens"] = int(sequence)
    seconds = rec["seconds"] = round(float(totals.get("seconds") or 0.0), 3)
    rec["cpu_seconds"] = round(float(totals.get("cpu_seconds") or 0.0), 3)
    rec.update(device_hours(seconds, device, nproc, threads))
    for key in ("peak_rss_bytes", "peak_rss_scope", "peak_accelerator_bytes"):
        rec[key] = totals.get(key)
    rec["resumed_from"] = str(resumed_from) if resumed_from else None
    rec["attempts"] = totals.get("attempts", 1)
    rec["complete"] = totals.get("complete", True)
    return rec


# ----------------------------------------------------------------------------------------------
# evaluation
# ----------------------------------------------------------------------------------------------


def eval_record(
    preds: list[dict], usage: dict, device: str, num_processes: int, generation_seconds: float, gpus=None
) -> dict:
    """An evaluation's compute record (:data:`FIELDS`) from its predictions and the processes'
    combined :meth:`PhaseMeter.usage`."""
    threads = torch_threads()
    rec = {"phase": "eval", "device": device, "num_processes": num_processes, "threads": threads}
    rec["requests"] = len(preds)
    rec["tokens_generated"] = int(sum(int(p.get("response_tokens") or 0) for p in preds))
    seconds = rec["seconds"] = round(usage["seconds"], 3)
    rec["generation_seconds"] = round(generation_seconds, 3)
    rec["cpu_seconds"] = round(usage["cpu_seconds"], 3)
    rec.update(device_hours(seconds, device, num_processes, threads, gpus))
    for key in ("peak_rss_bytes", "peak_rss_scope", "peak_accelerator_bytes"):
        rec[key] = usage.get(key)
    return rec

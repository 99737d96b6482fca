"""Evaluate a model on a benchmark split, with and without ``<think>``.

::

    from vrft_lib.evaluate import evaluate
    metrics = evaluate({"model": "outputs/runs/rft_banner/model", "data": {"name": "synthetic_banner"},
                        "output_dir": "outputs/evals/rft_banner"})

    python -m vrft_lib.evaluate EVAL.yaml

Generation is batched (left padding, greedy by default) through HF ``generate``, or through vLLM
(``backend: vllm``, GPU; ``tensor_parallel_size`` GPUs per engine). Both prompt modes run in the same
pass, batched one mode at a time. Under ``accelerate launch --multi_gpu --num_processes N`` (what
:func:`vrft_lib.launch.evaluate_run` runs for ``num_processes > 1``) the batches are dealt out to
the N processes and the main process gathers and writes everything, in the same row order and with
the same responses as one process (:mod:`vrft_lib.parallel`).

The output folder gets ``predictions.jsonl`` (id, mode, response, extracted answer, correct,
lenient_correct, response length in tokens without the stop token: :func:`response_length`),
``metrics.json`` (the generation settings; per mode: accuracy with a 95% Wilson score interval,
lenient_accuracy (the substring rule of Visual-RFT / CLS-RL, beside the strict one), n, format
compliance, mean response length, per-class and mean per-class accuracy for classification, circular
accuracy for multiple choice when asked, and
``answers``: how the answers spread over the options, with ``collapsed`` set for a model that gives
one answer for most inputs; ``num_processes``: how many processes shared the work),
``compute.json`` (what the evaluation cost: requests, tokens generated, seconds, device-hours, peak
memory; :mod:`vrft_lib.compute`), ``config.yaml``, ``provenance.json`` and ``DONE`` (written last).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

import numpy as np
from tqdm.auto import tqdm

from .answers import LETTERS, choice_index, extract_answer, lenient_correct, normalize_answer
from .compute import COMPUTE_FILE, PhaseMeter, combine_usage, eval_record
from .config import EvalConfig, check_machine, check_parallel, detect_device, load_eval_config
from .data import benchmark_info, load_benchmark
from .errors import exit_code
from .files import atomic_path, dump_yaml, make_dirs, read_json, remove_file, write_json
from .models import load_model_and_processor, load_processor
from .parallel import Processes, leave_process_group, vllm_engine_args
from .prompts import build_messages, with_class_choices
from .provenance import provenance
from .rewards import accuracy_reward, format_reward
from .runfolder import EVAL_OUTPUTS, EVAL_RESUMABLE_KEYS, is_done, stale_reason, write_done
from .tiny import resolve_model_path

# ----------------------------------------------------------------------------------------------
# Metrics
# ----------------------------------------------------------------------------------------------


def wilson_interval(successes: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Wilson score interval (95% by default) of a proportion ``successes / n``, as (low, high).

    Never degenerate: at 16/16 it is about [0.806, 1.0]; (nan, nan) for n = 0.

    >>> lo, hi = wilson_interval(16, 16); round(lo, 3), hi
    (0.806, 1.0)
    >>> lo, hi = wilson_interval(50, 100); round(lo, 4), round(hi, 4)
    (0.4038, 0.5962)
    """
    if n <= 0:
        return (float("nan"), float("nan"))
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    lo = 0.0 if successes <= 0 else max(0.0, centre - half)
    hi = 1.0 if successes >= n else min(1.0, centre + half)
    return (lo, hi)


def accuracy_interval(correct) -> tuple[float, float]:
    """The 95% Wilson interval of the mean of 0/1 outcomes.

    >>> accuracy_interval([1, 1, 1, 1])[0] < 1.0
    True
    """
    x = [bool(v) for v in correct]
    return wilson_interval(sum(x), len(x))


def bootstrap_interval(correct, resamples: int = 1000, seed: int = 0, level: float = 0.95):
    """Percentile bootstrap interval of the mean of 0/1 outcomes, as (low, high). Not used for
    accuracies (degenerate at 0% and 100%): see :func:`wilson_interval`.

    >>> bootstrap_interval([1, 1, 1, 1])
    (1.0, 1.0)
    >>> lo, hi = bootstrap_interval([0, 1] * 50); lo < 0.5 < hi
    True
    """

    x = np.asarray(correct, dtype=float)
    if x.size == 0:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    means = rng.choice(x, size=(resamples, x.size), replace=True).mean(axis=1)
    a = (1 - level) / 2
    return (float(np.quantile(means, a)), float(np.quantile(means, 1 - a)))


def summarize(preds: list[dict], task: str, resamples: int = 1000, seed: int = 0) -> dict:
    """Metrics of one mode's predictions (see the module docstring). The 95% intervals are Wilson score
    intervals; ``resamples`` and ``seed`` are accepted for existing callers and not used."""

    main = [p for p in preds if p.get("rotation", 0) == 0]
    correct = [float(p["correct"]) for p in main]
    lenient = [float(p["lenient_correct"]) for p in main if "lenient_correct" in p]
    out = {
        "n": len(main),
        "accuracy": float(np.mean(correct)) if correct else float("nan"),
        "accuracy_ci95": accuracy_interval(correct),
        "lenient_accuracy": float(np.mean(lenient)) if main and len(lenient) == len(main) else float("nan"),
        "format_rate": float(np.mean([p["format_ok"] for p in main])) if main else float("nan"),
        "mean_response_tokens": float(np.mean([p["response_tokens"] for p in main])) if main else float("nan"),
    }
    out["answers"] = answer_distribution(main, out["accuracy"])
    if task in ("classification", "binary"):
        per_class: dict[str, list[float]] = {}
        for p in main:
            per_class.setdefault(p["solution"], []).append(float(p["correct"]))
        out["per_class_accuracy"] = {k: float(np.mean(v)) for k, v in sorted(per_class.items())}
        out["mean_per_class_accuracy"] = (
            float(np.mean(list(out["per_class_accuracy"].values()))) if per_class else float("nan")
        )
    rotated = [p for p in preds if p.get("rotation", 0) > 0]
    if rotated:
        by_id: dict[str, bool] = {}
        for p in preds:
            by_id[p["id"]] = by_id.get(p["id"], True) and bool(p["correct"])
        circ = [float(v) for v in by_id.values()]
        out["circular_accuracy"] = float(np.mean(circ))
        out["circular_accuracy_ci95"] = accuracy_interval(circ)
    return out


COLLAPSE_SHARE = 0.5  # a model that gives one answer at least this often ...
COLLAPSE_MARGIN = 0.25  # ... and this much more often than the commonest right answer ...
COLLAPSE_ACCURACY = 0.9  # ... while below this accuracy, has collapsed onto that answer


def answer_key(p: dict) -> str:
    """The option a prediction chose: the choice letter when the row has choices (``"B"``), else its
    normalized answer; ``"(none)"`` when no answer was extracted."""
    answer = p.get("answer")
    if answer is None or not str(answer).strip():
        return "(none)"
    choices = p.get("choices") or []
    if choices:
        k = choice_index(answer, choices)
        if k is not None:
            return LETTERS[k]
    return normalize_answer(answer)


def _solution_key(p: dict) -> str:
    choices = p.get("choices") or []
    k = choice_index(p["solution"], choices) if choices else None
    return LETTERS[k] if k is not None else normalize_answer(p["solution"])


def answer_distribution(preds: list[dict], accuracy: float) -> dict:
    """How a model's answers spread over the options: the commonest answer and its share, the entropy
    (bits) and ``collapsed``: one answer given at least half the time, 25 points more often than the
    commonest right answer, at an accuracy below 90 % (see docs/report.md). Responses without an
    answer count as ``"(none)"`` and are never the commonest answer: they are a format failure."""
    if not preds:
        return {"n": 0, "collapsed": False}
    counts: dict[str, int] = {}
    truth: dict[str, int] = {}
    for p in preds:
        key = answer_key(p)
        counts[key] = counts.get(key, 0) + 1
        sol = _solution_key(p)
        truth[sol] = truth.get(sol, 0) + 1
    n = len(preds)
    answered = {k: c for k, c in counts.items() if k != "(none)"}  # no answer is a format failure
    top, top_count = max(sorted(answered.items()), key=lambda kv: kv[1]) if answered else (None, 0)
    shares = np.array(list(counts.values()), dtype=float) / n
    top_share = top_count / n
    solution_top_share = max(truth.values()) / n
    return {
        "n": n,
        "counts": dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))),
        "top": top,
        "top_share": top_share,
        "solution_top_share": solution_top_share,
        "entropy_bits": float(-(shares * np.log2(shares)).sum()),
        "solution_entropy_bits": float(-sum((c / n) * math.log2(c / n) for c in truth.values())),
        "collapsed": bool(
            top_share >= COLLAPSE_SHARE
            and top_share >= solution_top_share + COLLAPSE_MARGIN
            and not accuracy >= COLLAPSE_ACCURACY
        ),
    }


# ----------------------------------------------------------------------------------------------
# Generation
# ----------------------------------------------------------------------------------------------


def _rotations(row, circular: bool):
    """The row itself, plus every rotation of its choices when circular evaluation is asked."""
    yield 0, row
    choices = list(row.get("choices") or [])
    if circular and len(choices) > 1:
        for r in range(1, len(choices)):
            yield r, dict(row, choices=choices[r:] + choices[:r])


def build_requests(ds, modes, classes=None, circular=False):
    """One request per (row, mode, rotation): the prompt messages and the row it scores against."""

    reqs = []
    for row in ds:
        row = with_class_choices(row, classes)
        for rot, r in _rotations(row, circular):
            for mode in modes:
                reqs.append({"row": r, "mode": mode, "rotation": rot, "messages": build_messages(r, mode)})
    return reqs


STOP_TOKENS = ("<|im_end|>", "<|endoftext|>")  # Qwen2.5-VL's end of turn and end of text


def generation_settings(cfg: EvalConfig, tokenizer) -> dict:
    """The decoding of every evaluation, whatever the checkpoint's ``generation_config.json`` says.

    Qwen2.5-VL checkpoints ship ``repetition_penalty: 1.05``, ``top_k`` and ``top_p``; ``generate``
    would apply them silently, and vLLM has its own defaults. The evaluation decodes greedily (or
    samples at ``temperature`` with ``do_sample``) with no repetition penalty, no top-k or top-p cut,
    and stops at Qwen's end-of-turn and end-of-text tokens, identically in both backends; the settings
    are recorded in ``metrics.json``.
    """
    vocab = tokenizer.get_vocab()
    return {
        "do_sample": bool(cfg.do_sample),
        "temperature": float(cfg.temperature) if cfg.do_sample else 0.0,
        "top_k": None,
        "top_p": 1.0,
        "repetition_penalty": 1.0,
        "max_new_tokens": int(cfg.max_new_tokens),
        "stop_token_ids": [vocab[t] for t in STOP_TOKENS if t in vocab],
        "seed": int(cfg.seed),
    }


def response_length(token_ids, stops) -> int:
    """The response's length in tokens: the generated tokens before the first stop token (``stops``:
    Qwen's end of turn and end of text, and the padding), the stop token itself not counted.

    One count for both backends: HF ``generate`` returns the stop token and the batch's padding after
    the response, vLLM the stop token at the end of ``token_ids``; neither is part of the text.

    >>> response_length([11, 12, 13, 2, 0, 0], {2, 0}), response_length([11, 12, 13, 2], {2})
    (3, 3)
    >>> response_length([11, 12], {2}), response_length([2], {2}), response_length([], {2})
    (2, 0, 0)
    """
    return next((i for i, t in enumerate(token_ids) if t in stops), len(token_ids))


class HFGenerator:
    """Batched generation with ``model.generate`` and left padding, with exactly ``settings``
    (:func:`generation_settings`): the checkpoint's own generation config is set aside while it runs."""

    def __init__(self, model, processor, settings: dict):
        from transformers import GenerationConfig  # the HF backend only

        self.model, self.processor = model, processor
        self.stops = set(settings["stop_token_ids"]) | {processor.tokenizer.pad_token_id}
        kw = dict(
            max_new_tokens=settings["max_new_tokens"],
            do_sample=settings["do_sample"],
            repetition_penalty=settings["repetition_penalty"],
            eos_token_id=settings["stop_token_ids"] or None,
            pad_token_id=processor.tokenizer.pad_token_id,
        )
        if settings["do_sample"]:
            kw.update(temperature=settings["temperature"], top_k=0, top_p=settings["top_p"])
        self.config = GenerationConfig(**kw)
        processor.tokenizer.padding_side = "left"

    def __call__(self, batch):
        import torch

        texts = [
            self.processor.apply_chat_template(q["messages"], add_generation_prompt=True, tokenize=False) for q in batch
        ]
        images = [list(q["row"]["images"]) for q in batch]
        inputs = self.processor(text=texts, images=images, return_tensors="pt", padding=True)
        inputs = inputs.to(self.model.device)
        own = self.model.generation_config
        self.model.generation_config = self.config  # nothing of the checkpoint's is merged in
        try:
            with torch.inference_mode():
                out = self.model.generate(**inputs, generation_config=self.config)
        finally:
            self.model.generation_config = own
        gen = out[:, inputs["input_ids"].shape[1] :]
        tok = self.processor.tokenizer
        results = []
        for ids in gen.tolist():
            n = response_length(ids, self.stops)
            results.append((tok.decode(ids[:n], skip_special_tokens=True), n))
        return results


class VLLMGenerator:  # pragma: no cover - needs a GPU and the gpu extra
    """Generation through vLLM (GPU): the same prompts, image bounds and decoding as :class:`HFGenerator`.

    ``vllm_engine_args`` gives the parallel layout: in one process, one engine over
    ``tensor_parallel_size`` GPUs; under ``accelerate launch``, one engine per process group of that
    size, joined to the launch's processes (vLLM's ``external_launcher``, as TRL's colocate mode does).
    """

    def __init__(self, model_path, processor, settings: dict, min_pixels=None, max_pixels=None, parallel=None):
        from vllm import LLM, SamplingParams

        self.processor = processor
        self.stops = set(settings["stop_token_ids"])
        pixels = {k: v for k, v in {"min_pixels": min_pixels, "max_pixels": max_pixels}.items() if v is not None}
        self.llm = LLM(
            model=model_path,
            limit_mm_per_prompt={"image": 2},
            seed=settings["seed"],
            generation_config="vllm",  # vLLM's neutral defaults, not the checkpoint's generation_config.json
            mm_processor_kwargs=pixels or None,
            **(parallel or {}),
        )
        self.params = SamplingParams(
            max_tokens=settings["max_new_tokens"],
            temperature=settings["temperature"],
            top_k=-1,
            top_p=settings["top_p"],
            repetition_penalty=settings["repetition_penalty"],
            stop_token_ids=settings["stop_token_ids"],
            seed=settings["seed"],
        )

    def __call__(self, batch):
        prompts = [
            {
                "prompt": self.processor.apply_chat_template(q["messages"], add_generation_prompt=True, tokenize=False),
                "multi_modal_data": {"image": list(q["row"]["images"])},
            }
            for q in batch
        ]
        outs = self.llm.generate(prompts, self.params, use_tqdm=False)
        # vLLM keeps the stop token in token_ids (not in the text): counted as the HF path counts
        return [(o.outputs[0].text, response_length(o.outputs[0].token_ids, self.stops)) for o in outs]


def generation_order(requests) -> list[int]:
    """The order requests are batched in: one prompt mode at a time (think responses run longer, and
    a batch lasts as long as its longest response), longest prompts first within a mode (batches of
    similar length waste less padding)."""
    return sorted(range(len(requests)), key=lambda i: (requests[i]["mode"], -len(requests[i]["row"]["question"])))


def score(request, response: str, n_tokens: int) -> dict:

    row, mode = request["row"], request["mode"]
    kw = dict(solution=[row["solution"]], choices=[list(row.get("choices") or [])], task=[row["task"]], mode=[mode])
    return {
        "id": row["id"],
        "mode": mode,
        "rotation": request["rotation"],
        "solution": row["solution"],
        "choices": list(row.get("choices") or []),
        "response": response,
        "answer": extract_answer(response, mode=mode),
        "correct": bool(accuracy_reward([response], **kw)[0] == 1.0),
        "lenient_correct": lenient_correct(response, row["solution"], list(row.get("choices") or [])),
        "format_ok": bool(format_reward([response], mode=[mode])[0] == 1.0),
        "response_tokens": int(n_tokens),
    }


def evaluate(config, model=None, processor=None, **overrides) -> dict:
    """Evaluate and return the metrics dict (also written to ``metrics.json``).

    ``model``/``processor`` may be given to reuse an already loaded model (e.g. in a notebook).
    """

    cfg = load_eval_config(config, **overrides)
    out = cfg.eval_dir
    if is_done(out):
        stale = stale_reason(out, cfg.to_dict(), EVAL_OUTPUTS, ignore=EVAL_RESUMABLE_KEYS)
        if stale is None:
            return read_json(out / "metrics.json")
        print(f"[vrft] eval '{cfg.name}' in {out} was finished, but {stale}: evaluating again.")
        remove_file(out / "DONE")
    t0 = time.perf_counter()
    meter = PhaseMeter()  # this process's time, CPU time and peak memory from here
    d = cfg.data
    ds = load_benchmark(d.name, d.eval_split, root=d.root, limit=d.eval_limit, seed=cfg.seed, **d.options)
    info = benchmark_info(ds)
    classes = info.get("classes") if d.classes_in_prompt else None
    requests = build_requests(ds, cfg.modes, classes=classes, circular=cfg.circular)
    model_path = resolve_model_path(cfg.model.name_or_path) if isinstance(cfg.model.name_or_path, str) else None
    device = detect_device(cfg.device)
    procs = Processes(device)  # one process, or this one's place in an accelerate launch
    tp = cfg.tensor_parallel_size if procs.count > 1 else 1
    if cfg.backend == "vllm":
        check_machine(cfg, device)
        check_parallel(cfg, f"eval '{cfg.name}'", num_processes=procs.count)
        processor = processor or load_processor(model_path, cfg.model.min_pixels, cfg.model.max_pixels)
        settings = generation_settings(cfg, processor.tokenizer)
        generate = VLLMGenerator(
            model_path,
            processor,
            settings,
            cfg.model.min_pixels,
            cfg.model.max_pixels,
            parallel=vllm_engine_args(cfg.tensor_parallel_size, procs.count),
        )
    else:
        import torch  # the HF backend only: a vLLM evaluation never imports it here
        from transformers.trainer_utils import set_seed

        if model is None:
            model, processor = load_model_and_processor(
                model_path,
                dtype=cfg.model.dtype,
                attn_implementation=cfg.model.attn_implementation,
                min_pixels=cfg.model.min_pixels,
                max_pixels=cfg.model.max_pixels,
            )
            model.to(torch.device(procs.device if procs.count > 1 else device))
        set_seed(cfg.seed)
        settings = generation_settings(cfg, processor.tokenizer)
        generate = HFGenerator(model, processor, settings)

    procs.wait()  # every process loaded: the generation time counts from here
    t_gen = time.perf_counter()
    groups = procs.count // tp  # vLLM tensor parallel: a group of tp processes shares each batch
    bar = tqdm(desc=f"eval {cfg.name}", disable=not (cfg.progress and procs.is_main), unit="sample")
    order = generation_order(requests)
    mine = procs.run_batches(generate, requests, order, cfg.batch_size, score, groups=groups, progress=bar)
    preds: list[dict | None] = [None] * len(requests)
    for i, p in procs.gather(mine if procs.index % tp == 0 else []):
        preds[i] = p
    gen_seconds = time.perf_counter() - t_gen  # every process's generation, as the main process waits for it
    usage = procs.gather([meter.usage()])
    if not procs.is_main:
        procs.wait()  # the main process writes the files
        return procs.broadcast(None)

    metrics = {
        "name": cfg.name,
        "benchmark": d.name,
        "split": d.eval_split,
        "task": info.get("task"),
        "model": cfg.model.name_or_path,
        "generation": {"backend": cfg.backend, **settings},
        "modes": {},
    }
    for mode in cfg.modes:
        metrics["modes"][mode] = summarize([p for p in preds if p["mode"] == mode], info.get("task"))
    metrics["num_processes"] = procs.count
    if cfg.backend == "vllm":
        metrics["generation"]["tensor_parallel_size"] = cfg.tensor_parallel_size
    metrics["seconds"] = round(time.perf_counter() - t0, 2)
    metrics["generation_seconds"] = round(gen_seconds, 2)
    metrics["samples_per_second"] = round(len(preds) / gen_seconds, 3) if gen_seconds else None
    metrics = json.loads(json.dumps(metrics))  # the same values a later reader of metrics.json gets

    make_dirs(out)
    dump_yaml(cfg.to_dict(), out / "config.yaml")
    with atomic_path(out / "predictions.jsonl") as tmp, open(tmp, "w", encoding="utf-8") as f:
        for p in preds:
            f.write(json.dumps(p) + "\n")
    write_json(metrics, out / "metrics.json")
    gpus = cfg.tensor_parallel_size if cfg.backend == "vllm" and procs.count == 1 else None
    write_json(
        eval_record(preds, combine_usage(usage), device, procs.count, gen_seconds, gpus=gpus), out / COMPUTE_FILE
    )
    write_json(
        provenance(eval=cfg.name, seed=cfg.seed, model_path=model_path, num_processes=procs.count),
        out / "provenance.json",
    )
    write_done(out, eval=cfg.name, seconds=metrics["seconds"])
    procs.wait()
    return procs.broadcast(metrics)


def main(argv=None) -> int:
    """``python -m vrft_lib.evaluate EVAL.yaml``, or under ``accelerate launch`` (see vrft_lib.launch)."""
    parser = argparse.ArgumentParser(prog="python -m vrft_lib.evaluate", description="Evaluate one model.")
    parser.add_argument("config", help="eval config YAML")
    parser.add_argument("--output-dir")
    parser.add_argument("--debug", action="store_true")
    ns = parser.parse_args(argv)

    def run():
        metrics = evaluate(ns.config, **({"output_dir": ns.output_dir} if ns.output_dir else {}))
        if os.environ.get("RANK", "0") == "0":  # the main process (or the only one)
            print(json.dumps({m: {"accuracy": v["accuracy"], "n": v["n"]} for m, v in metrics["modes"].items()}))

    try:
        return exit_code(run, debug=ns.debug)
    finally:
        leave_process_group()


if __name__ == "__main__":
    sys.exit(main())

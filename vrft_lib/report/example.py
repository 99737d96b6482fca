"""A made-up finished study, for a report to show when no study has run yet.

The report notebook falls back to it (its parameters: ``study_dir = None`` and no study in
``outputs/smoke``), so that it runs on a fresh clone, under nbval, and writes only into a scratch
folder; ``scripts/report_screenshot.py`` draws its picture from it. **Its numbers are invented**
(loosely the paper's pattern, with one collapsed, format-failing cell to show the flags); the
questions, choices and images are the synthetic benchmarks' own test rows.
"""

from __future__ import annotations

import getpass
import json
import random
import shutil
import tempfile
from pathlib import Path

import pandas as pd
import yaml

from ..data import benchmark_info, load_benchmark
from ..files import write_json
from ..reference import PAPER_TABLE1
from .stats import seed_interval

EXAMPLE_NAME = "example"
EXAMPLE_DESCRIPTION = (
    "A made-up example that shows the report's layout: its numbers are invented, not a result. "
    "Run `make study` (or `vrft study params/smoke.yaml`) for a real study, then `vrft report outputs/smoke`."
)
BENCHMARKS = {
    "synthetic_banner": {"label": "Banner-Analysis", "task_kind": "binary"},
    "synthetic_aircraft": {"label": "FGVC-Aircraft", "task_kind": "perception", "length_reward": True},
    "synthetic_spatial": {"label": "SAT", "task_kind": "reasoning", "length_reward": True},
}
# invented accuracies (%) per (variant, mode), then per-benchmark changes; SFT w/ think on FGVC-Aircraft
# collapses onto one answer and misses the format, to show how the report flags such a cell
ACCURACY = {
    ("training_free", "no_think"): 55,
    ("training_free", "think"): 48,
    ("sft", "no_think"): 72,
    ("sft", "think"): 66,
    ("rft", "no_think"): 70,
    ("rft", "think"): 80,
    ("rft_length", "no_think"): 68,
    ("rft_length", "think"): 78,
}
SHIFT = {"synthetic_banner": 15, "synthetic_aircraft": -5, "synthetic_spatial": -12}
COLLAPSED = ("synthetic_aircraft", "sft", "think")
N_ITEMS = 40


def _rows(key: str, n: int) -> list[dict]:
    ds = load_benchmark(key, "test", limit=n, seed=0)
    classes = benchmark_info(ds).get("classes") or []
    return [
        {"id": r["id"], "solution": r["solution"], "choices": list(r["choices"] or classes)}
        for r in ds.remove_columns("images")
    ]


def _letter(choices: list, text: str) -> str:
    return "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[choices.index(text)] if text in choices[:26] else text


def _predictions(key, variant, rows, accuracy: float, mode: str, collapsed: bool) -> list[dict]:
    rng = random.Random(f"{key}/{variant}/{mode}")
    right = set(rng.sample(range(len(rows)), round(accuracy / 100 * len(rows))))
    out = []
    for i, r in enumerate(rows):
        wrong = [c for c in r["choices"] if c != r["solution"]] or ["?"]
        pick = r["choices"][0] if collapsed else (r["solution"] if i in right else rng.choice(wrong))
        answer = _letter(r["choices"], pick)
        think = mode == "think" and not collapsed
        words = 12 + rng.randrange(20) + (40 if variant == "rft_length" else 0)
        reasoning = " ".join(["looking at the image,"] + ["the shapes and colours suggest"] * (words // 5))
        response = (f"<think>{reasoning} {pick}.</think>" if think else "") + (
            f"The answer is {answer}" if collapsed else f"<answer>{answer}</answer>"
        )
        out.append(
            {
                "id": r["id"],
                "mode": mode,
                "rotation": 0,
                "solution": r["solution"],
                "choices": r["choices"],
                "response": response,
                "answer": answer,
                "correct": pick == r["solution"],
                "lenient_correct": pick == r["solution"],
                "format_ok": not collapsed,
                "response_tokens": (words + 8) if think else 6,
            }
        )
    return out


def _metrics(preds: list[dict], collapsed: bool) -> dict:
    n = len(preds)
    acc = sum(p["correct"] for p in preds) / n
    counts = pd.Series([p["answer"] for p in preds]).value_counts()
    truth = pd.Series([p["solution"] for p in preds]).value_counts()
    return {
        "n": n,
        "accuracy": acc,
        "accuracy_ci95": list(seed_interval([acc], [n])),
        "lenient_accuracy": acc,
        "format_rate": sum(p["format_ok"] for p in preds) / n,
        "mean_response_tokens": sum(p["response_tokens"] for p in preds) / n,
        "answers": {
            "n": n,
            "top": str(counts.index[0]),
            "top_share": float(counts.iloc[0]) / n,
            "solution_top_share": float(truth.iloc[0]) / n,
            "collapsed": collapsed,
        },
    }


def _steps(variant: str) -> pd.DataFrame:
    steps = pd.DataFrame({"step": range(1, 41)})
    steps["loss"] = [1.5 / (1 + s / 8) for s in steps["step"]]
    if variant.startswith("rft"):
        steps["reward"] = [0.8 + 1.0 * s / 40 for s in steps["step"]]
        steps["accuracy_reward"] = [0.4 + 0.4 * s / 40 for s in steps["step"]]
        steps["mean_completion_length"] = [(30 + 1.5 * s) if variant == "rft_length" else 30 for s in steps["step"]]
        steps["kl"] = [0.001 * s for s in steps["step"]]
    return steps


def _compute(variant: str, steps: pd.DataFrame, n: int) -> tuple[dict | None, dict]:
    """Invented ``train/compute.json`` and ``eval/compute.json`` records (:mod:`vrft_lib.compute`)."""
    cpu = {"device": "cpu", "num_processes": 1, "threads": 2, "gpus": 0, "device_hours_unit": "CPU-h"}
    tokens = int(n * 2 * (60 if variant.startswith("rft") else 25))
    ev = {"phase": "eval", **cpu, "requests": 2 * n, "tokens_generated": tokens, "seconds": 4.0}
    ev.update(cpu_seconds=7.5, device_hours=4.0 * 2 / 3600, peak_rss_bytes=900 * 2**20, peak_rss_scope="phase")
    if variant == "training_free":
        return None, ev
    k = len(steps)
    if variant == "sft":
        seen = {"examples": 16 * k, "completions_generated": 0, "tokens_generated": 0, "tokens_trained": 16 * k * 6}
        seconds, sequence = 0.12 * k, 16 * k * 160
    else:
        generated = int(32 * steps["mean_completion_length"].sum())
        seen = {"prompts": 4 * k, "completions": 32 * k, "completions_generated": 32 * k}
        seen.update(tokens_generated=generated, tokens_trained=generated)
        seconds, sequence = 0.3 * k, 32 * k * 150 + generated
    train = {"phase": "train", "method": "sft" if variant == "sft" else "grpo", **cpu, "steps": k, **seen}
    train.update(sequence_tokens=sequence, seconds=seconds, cpu_seconds=1.8 * seconds)
    train.update(device_hours=seconds * 2 / 3600, peak_rss_bytes=1200 * 2**20, peak_rss_scope="phase")
    return train, ev


def write_example_study(root, n: int = N_ITEMS) -> Path:
    """Write the made-up study folder into ``root`` (created) and return it."""
    root = Path(root)
    study = {
        "name": EXAMPLE_NAME,
        "description": EXAMPLE_DESCRIPTION,
        "synthetic": True,
        "seeds": [0],
        "model": {"name_or_path": "tiny"},
        "variants": ["training_free", "sft", "rft", "rft_length"],
        "benchmarks": BENCHMARKS,
        "reference": PAPER_TABLE1,
    }
    root.mkdir(parents=True, exist_ok=True)
    (root / "study.yaml").write_text(yaml.safe_dump(study, sort_keys=False), encoding="utf-8")
    for key, info in BENCHMARKS.items():
        rows = _rows(key, n)
        for variant in ["training_free", "sft", "rft"] + (["rft_length"] if info.get("length_reward") else []):
            run = root / "runs" / key / variant / "seed0"
            preds, modes = [], {}
            for mode in ("no_think", "think"):
                collapsed = (key, variant, mode) == COLLAPSED
                acc = min(98, ACCURACY[(variant, mode)] + SHIFT[key])
                p = _predictions(key, variant, rows, acc, mode, collapsed)
                modes[mode] = _metrics(p, collapsed)
                preds += p
            (run / "eval").mkdir(parents=True, exist_ok=True)
            (run / "eval" / "predictions.jsonl").write_text("".join(json.dumps(p) + "\n" for p in preds))
            write_json(
                {"name": f"{key}-{variant}", "benchmark": key, "split": "test", "modes": modes},
                run / "eval" / "metrics.json",
            )
            data = {"name": key, "eval_split": "test", "eval_limit": n}
            (run / "eval" / "config.yaml").write_text(yaml.safe_dump({"data": data, "seed": 0}))
            train, ev = _compute(variant, _steps(variant), n)
            write_json(ev, run / "eval" / "compute.json")
            if variant != "training_free":
                (run / "train").mkdir(parents=True, exist_ok=True)
                _steps(variant).to_csv(run / "train" / "steps.csv", index=False)
                write_json(train, run / "train" / "compute.json")
                write_json({"steps": 40}, run / "train" / "DONE")
            write_json({"run_id": f"{key}/{variant}/seed0", "wall_seconds": 20.0}, run / "DONE")
    return root


def notebook_study(study_dir, smoke="../outputs/smoke") -> tuple[Path, str | None]:
    """The study folder a report notebook shows, and a note saying why when it was not given: the
    given ``study_dir``; else ``smoke`` (the embedded study's folder, read only) when a study ran
    there; else the made-up example, written into a scratch folder of the user's temporary directory
    (never into ``outputs/``)."""
    if study_dir:
        return Path(study_dir), None
    if (Path(smoke) / "study.yaml").is_file():
        return Path(smoke), f"No `study_dir` was given: this is the study in `{smoke}`, read only."
    root = Path(tempfile.gettempdir()) / f"vrft-report-example-{getpass.getuser()}"
    shutil.rmtree(root, ignore_errors=True)  # one scratch folder per user, rewritten each time
    write_example_study(root)
    return root, (
        "**No study has run yet: this is a made-up example, its numbers are invented.** Run `make study` "
        "(or `vrft study params/smoke.yaml`) for a real one; `vrft report outputs/smoke` renders its page."
    )

"""Rewards: completions scored per second by each reward function.

A corpus of completions like those GRPO samples (well-formed think/answer responses of 5 to 1000
words, answer-only responses, malformed ones, hedges, repeated answers) on the three task kinds
(binary, classification with lettered options, multiple choice) is scored in batches of 16, the
embedded study's completions per step, through the same calls TRL makes. The figure to compare: the
time to score one GRPO step's completions against the time of the step itself (from the overhead
benchmark when it has run). Target: the rewards take at most 1 % of a step.

    python -m perf.bench_rewards [--completions 20000]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time

from perf.common import BENCH_DIR, print_table, verdict, write_result

TARGET_STEP_SHARE = 0.01
BATCH = 16
WORDS = (
    "the banner shows a bright sky so the mood looks positive and the text is short left right "
    "wing engine tail fuselage the camera turns left after moving forward object closer"
).split()


def _corpus(n: int, seed: int = 0) -> list[dict]:
    """``n`` completions with the dataset columns TRL passes beside them."""
    rng = random.Random(seed)
    aircraft = [f"A3{k}0" for k in range(8)]
    tasks = [
        ("binary", ["positive", "negative"], lambda: rng.choice(["positive", "negative"]), []),
        ("classification", aircraft, lambda: rng.choice(aircraft), aircraft),
        (
            "multiple_choice",
            ["left", "right", "closer", "further"],
            lambda: rng.choice(["left", "right", "closer", "further"]),
            ["left", "right", "closer", "further"],
        ),
    ]
    rows = []
    for _ in range(n):
        task, labels, pick, choices = rng.choice(tasks)
        solution = pick()
        mode = rng.choice(["think", "no_think"])
        answer = rng.choice([solution, pick(), f"{solution} or {pick()}", "B", f"({rng.choice('ABCD')})"])
        think = " ".join(rng.choice(WORDS) for _ in range(int(rng.lognormvariate(4.0, 1.0)) % 1000 + 5))
        kind = rng.random()
        if kind < 0.6:
            text = (
                f"<think>{think}</think><answer>{answer}</answer>" if mode == "think" else f"<answer>{answer}</answer>"
            )
        elif kind < 0.75:
            text = f"<think>{think}</think>\n<answer>{answer}</answer><answer>{pick()}</answer>"
        elif kind < 0.9:
            text = f"{think} the answer is {answer}"
        else:
            text = f"<think>{think}"  # cut at the length limit
        rows.append(
            {
                "completion": [{"role": "assistant", "content": text}],
                "solution": solution,
                "choices": choices,
                "task": task,
                "mode": mode,
            }
        )
    return rows


def _step_seconds() -> float | None:
    path = BENCH_DIR / "overhead.json"
    if path.exists():
        return json.loads(path.read_text()).get("kit_seconds_per_step")
    return None


def measure(n: int = 20000) -> dict:
    from vrft_lib.models import load_processor
    from vrft_lib.rewards import build_rewards
    from vrft_lib.tiny import ensure_tiny_base

    tokenizer = load_processor(ensure_tiny_base()).tokenizer
    rows = _corpus(n)
    batches = [rows[i : i + BATCH] for i in range(0, len(rows), BATCH)]
    specs = {
        "accuracy": {"name": "accuracy"},
        "format": {"name": "format"},
        "length (think tokens)": {"name": "length", "target_length": 48, "unit": "tokens", "scope": "think"},
        "length (think words)": {"name": "length", "target_length": 48, "unit": "words", "scope": "think"},
    }
    per_reward, total = {}, 0.0
    for label, spec in specs.items():
        (func,), _ = build_rewards([spec], mode="think", tokenizer=tokenizer)
        t = time.perf_counter()
        scored = 0
        for b in batches:
            cols = {k: [r[k] for r in b] for k in ("solution", "choices", "task", "mode")}
            out = func(
                prompts=[None] * len(b),
                completions=[r["completion"] for r in b],
                completion_ids=None,
                trainer_state=None,
                **cols,
            )
            assert len(out) == len(b) and all(isinstance(x, float) for x in out), label
            scored += len(out)
        seconds = time.perf_counter() - t
        per_reward[label] = {
            "completions_per_second": round(scored / seconds, 1),
            "ms_per_step_batch": round(1000 * seconds / len(batches), 4),
        }
        if label != "length (think words)":
            total += seconds / len(batches)
    mean_words = sum(len(r["completion"][0]["content"].split()) for r in rows) / len(rows)
    step = _step_seconds()
    share = total / step if step else None
    return {
        "completions": n,
        "batch": BATCH,
        "mean_words_per_completion": round(mean_words, 1),
        "rewards": per_reward,
        "study_rewards_ms_per_step": round(1000 * total, 4),
        "grpo_step_seconds": step,
        "share_of_step": round(share, 6) if share is not None else None,
        "target_share_of_step": TARGET_STEP_SHARE,
        "verdict": verdict(share, TARGET_STEP_SHARE, higher_is_better=False),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m perf.bench_rewards", description=__doc__.split("\n")[0])
    ap.add_argument("--completions", type=int, default=20000)
    ap.add_argument("--out-dir", default=None)
    ns = ap.parse_args(argv)
    r = measure(ns.completions)
    path = write_result("rewards", r, ns.out_dir)
    rows = [
        [k, f"{v['completions_per_second']:,.0f} /s", f"{v['ms_per_step_batch']:.3f} ms"]
        for k, v in r["rewards"].items()
    ]
    print_table(rows, ["reward", "completions scored", f"per step ({BATCH})"])
    if r["share_of_step"] is not None:
        print(
            "\nrewards of the study (accuracy + format + length) per GRPO step: "
            f"{r['study_rewards_ms_per_step']:.2f} ms "
            f"= {100 * r['share_of_step']:.3f} % of a {r['grpo_step_seconds']:.3f} s step "
            f"(target <= {100 * TARGET_STEP_SHARE:.0f} %: {r['verdict']})"
        )
    print(f"\n[bench] {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What a built tiny base does on the embedded study's stand-ins before any fine-tuning: greedy answers
to each stand-in, in both prompt modes, asked as ``params/smoke.yaml`` asks them, with the answers it
gives most often and whether they collapsed (the report's rule). One minute on 2 cores for 120 rows;
the embedded study's training-free runs measure the same on 200 rows per seed, this is the quick look
at a candidate base (docs/data.md).

    python -m perf.probe_base                          # the cached base of this checkout (built if missing)
    python -m perf.probe_base --base PATH --rows 60    # another base

Writes ``outputs/bench/probe_base.json``.
"""

from __future__ import annotations

import argparse

from perf.bench_skills import STAND_INS, _answered, _generator, stand_in_rows
from perf.common import print_table, write_result
from vrft_lib.answers import extract_answer
from vrft_lib.evaluate import answer_distribution
from vrft_lib.vocab import PROMPT_MODES


def probe(model, processor, rows_per_stand_in: int = 120, seed: int = 0) -> list[dict]:
    """Per stand-in and mode: accuracy (the reward's rule), the share of the commonest answer, whether the
    answers collapsed by the report's rule, and the three commonest answers, on the first
    ``rows_per_stand_in`` test rows."""
    generate = _generator(model, processor, do_sample=False, temperature=0.0, max_new_tokens=64)
    out = []
    for name in STAND_INS:
        rows = stand_in_rows(name, rows_per_stand_in, seed, "test")
        for mode in PROMPT_MODES:
            texts, right = _answered(generate, rows, mode)
            accuracy = sum(right) / len(rows)
            spread = answer_distribution(
                [
                    {"answer": extract_answer(t, mode), "choices": r["choices"], "solution": r["solution"]}
                    for t, r in zip(texts, rows)
                ],
                accuracy,
            )
            out.append(
                {
                    "stand_in": name,
                    "mode": mode,
                    "rows": len(rows),
                    "accuracy": round(accuracy, 3),
                    "top_share": round(spread["top_share"], 3),
                    "collapsed": spread["collapsed"],
                    "answers": list(spread["counts"].items())[:3],
                    "example": texts[0],
                }
            )
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", help="a model folder (default: the cached tiny base, built if missing)")
    ap.add_argument("--rows", type=int, default=120, help="test rows per stand-in (default 120)")
    ns = ap.parse_args(argv)
    from vrft_lib.models import load_model_and_processor
    from vrft_lib.tiny import ensure_tiny_base

    base = ns.base or ensure_tiny_base()
    model, processor = load_model_and_processor(base)
    result = probe(model, processor, ns.rows)
    print_table(
        [
            [r["stand_in"], r["mode"], f"{100 * r['accuracy']:.1f}", f"{100 * r['top_share']:.0f}", str(r["answers"])]
            for r in result
        ],
        ["stand-in", "mode", "accuracy %", "top answer %", "commonest answers"],
    )
    write_result("probe_base", {"base": str(base), "rows": ns.rows, "cells": result})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

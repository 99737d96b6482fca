"""What a built tiny base does on the embedded study's stand-ins before any fine-tuning: greedy answers
to each stand-in, in both prompt modes, asked as ``params/smoke.yaml`` asks them, with the answers it
gives most often. One minute on 2 cores for 120 rows; the embedded study's training-free runs measure
the same on 200 rows per seed, this is the quick look at a candidate base (docs/data.md).

    python -m perf.probe_base                          # the cached base of this checkout (built if missing)
    python -m perf.probe_base --base PATH --rows 60    # another base

Writes ``outputs/bench/probe_base.json``.
"""

from __future__ import annotations

import argparse
from collections import Counter

from perf.bench_skills import STAND_INS, _generator, stand_in_rows
from perf.common import print_table, write_result
from vrft_lib import prompts
from vrft_lib.answers import extract_answer
from vrft_lib.rewards import accuracy_reward
from vrft_lib.vocab import PROMPT_MODES


def probe(model, processor, rows_per_stand_in: int = 120, seed: int = 0) -> list[dict]:
    """Per stand-in and mode: accuracy (the reward's rule), the share of the commonest answer and the
    three commonest answers, on the first ``rows_per_stand_in`` test rows."""
    generate = _generator(model, processor, do_sample=False, temperature=0.0, max_new_tokens=64)
    out = []
    for name in STAND_INS:
        rows = stand_in_rows(name, rows_per_stand_in, seed, "test")
        for mode in PROMPT_MODES:
            requests = [{"row": r, "messages": prompts.build_messages(r, mode, r.get("options"))} for r in rows]
            texts = [text for text, _ in generate(requests)]
            right = accuracy_reward(
                [[{"role": "assistant", "content": t}] for t in texts],
                solution=[r["solution"] for r in rows],
                choices=[r["choices"] for r in rows],
                mode=[mode] * len(rows),
            )
            answers = Counter(str(extract_answer(t, mode)) for t in texts)
            out.append(
                {
                    "stand_in": name,
                    "mode": mode,
                    "rows": len(rows),
                    "accuracy": round(sum(right) / len(rows), 3),
                    "top_share": round(answers.most_common(1)[0][1] / len(rows), 3),
                    "answers": answers.most_common(3),
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

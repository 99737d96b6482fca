"""Does the embedded study answer the paper's question in miniature? The criteria, checked per seed.

Reads a finished study folder (``outputs/smoke`` or any other) and, for each benchmark and seed, checks
what a model organism must give before its verdicts mean anything:

* training-free at least 10 points above chance and below 85 % in both modes;
* SFT (in its training mode) and RFT (with think) each at least 15 points above training-free in the
  same mode, with the 95 % paired bootstrap interval of the difference above 0;
* no trained model with more than half of its answers on one answer of a balanced multi-class task
  (three quarters on a binary one) unless its accuracy is above 90 %;
* no cell with a format rate below 50 %.

Prints one line per check (``ok`` or ``FAIL`` with the numbers) and writes ``organism_check.json``
into the study folder; exits 1 when a check fails.

    python -m perf.organism_check outputs/smoke
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

from vrft_lib.files import write_json
from vrft_lib.report.collect import read_predictions
from vrft_lib.report.stats import paired_comparison

TRAINED = ("sft", "rft", "rft_length")


def _cell(run_dir: Path, mode: str) -> dict | None:
    metrics = run_dir / "eval" / "metrics.json"
    if not metrics.is_file():
        return None
    m = json.loads(metrics.read_text())["modes"].get(mode)
    if not m:
        return None
    preds = [p for p in read_predictions(run_dir / "eval" / "predictions.jsonl") if p.get("mode") == mode]
    counts = Counter(p.get("answer") for p in preds)
    return {
        "accuracy": 100 * m["accuracy"],
        "format": 100 * m["format_rate"],
        "top_share": max(counts.values()) / len(preds) if preds else 0.0,
        "correct": {p["id"]: bool(p["correct"]) for p in preds},
    }


def check(study_dir) -> list[dict]:
    """Every check of every (benchmark, seed) of the study in ``study_dir``."""
    study_dir = Path(study_dir)
    study = json.loads((study_dir / "metrics.json").read_text())
    chance = {r["benchmark"]: r.get("chance") for r in study.get("table1") or []}
    out = []
    for bench_dir in sorted(p for p in (study_dir / "runs").iterdir() if p.is_dir()):
        bench = bench_dir.name
        seeds = sorted({s.name for v in bench_dir.iterdir() if v.is_dir() for s in v.iterdir() if s.is_dir()})
        for seed in seeds:
            cells = {
                (v.name, mode): _cell(v / seed, mode)
                for v in bench_dir.iterdir()
                if (v / seed).is_dir()
                for mode in ("no_think", "think")
            }
            cells = {k: c for k, c in cells.items() if c}
            binary = _is_binary(bench_dir / "training_free" / seed)
            level = chance.get(bench)

            def add(name, ok, detail, bench=bench, seed=seed):
                out.append({"benchmark": bench, "seed": seed, "check": name, "ok": bool(ok), "detail": detail})

            for mode in ("no_think", "think"):
                tf = cells.get(("training_free", mode))
                if tf and level is not None:
                    add(
                        f"training-free {mode} in [chance+10, 85)",
                        level + 10 <= tf["accuracy"] < 85,
                        f"{tf['accuracy']:.1f} (chance {level:.0f})",
                    )
            for variant, mode in (("sft", "no_think"), ("rft", "think")):
                a, b = cells.get((variant, mode)), cells.get(("training_free", mode))
                if not (a and b):
                    continue
                pairs = [(a["correct"][i], b["correct"][i]) for i in a["correct"] if i in b["correct"]]
                c = paired_comparison([pairs])
                ok = c and c["difference_points"] >= 15 and c["ci95"][0] > 0
                add(
                    f"{variant} {mode} beats training-free by 15, interval above 0",
                    ok,
                    f"{c['difference_points']:+.1f} [{c['ci95'][0]:+.1f}, {c['ci95'][1]:+.1f}]" if c else "no pairs",
                )
            for (variant, mode), c in sorted(cells.items()):
                if variant in TRAINED:
                    bound = 0.75 if binary else 0.5
                    add(
                        f"{variant} {mode} not collapsed",
                        c["top_share"] <= bound or c["accuracy"] > 90,
                        f"top answer {100 * c['top_share']:.0f} % (bound {100 * bound:.0f}), "
                        f"accuracy {c['accuracy']:.1f}",
                    )
                add(f"{variant} {mode} format at least 50 %", c["format"] >= 50, f"{c['format']:.0f} %")
    return out


def _is_binary(run_dir: Path) -> bool:
    metrics = run_dir / "eval" / "metrics.json"
    if not metrics.is_file():
        return False
    modes = json.loads(metrics.read_text())["modes"]
    return any(m.get("answers", {}).get("solution_entropy_bits", 0) <= 1.0 + 1e-9 for m in modes.values())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("study_dir", nargs="?", default="outputs/smoke")
    ns = ap.parse_args(argv)
    results = check(ns.study_dir)
    for r in results:
        print(f"{'ok  ' if r['ok'] else 'FAIL'}  {r['benchmark']:<20} {r['seed']:<6} {r['check']:<55} {r['detail']}")
    failed = sum(not r["ok"] for r in results)
    print(f"{len(results) - failed} of {len(results)} checks pass")
    write_json({"checks": results, "failed": failed}, Path(ns.study_dir) / "organism_check.json")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

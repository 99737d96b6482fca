"""Gather the benchmarks' figures into ``outputs/bench/summary.json`` and one Markdown table.

python -m perf.summary                    # print the table
python -m perf.summary --readme README.md # also write it between the README's bench markers
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from perf.common import BENCH_DIR
from vrft_lib.files import write_json

START, END = "<!-- bench-table:start -->", "<!-- bench-table:end -->"


def load(bench_dir=None) -> dict:
    d = Path(bench_dir or BENCH_DIR)
    out = {}
    for name in ("overhead", "eval", "eval_processes", "study", "rewards"):
        p = d / f"{name}.json"
        if p.exists():
            out[name] = json.loads(p.read_text())
    return out


def rows(results: dict) -> list[list[str]]:
    """[figure, measured, target, verdict] for every figure that was measured."""
    r = []
    o = results.get("overhead")
    if o:
        r.append(
            [
                "GRPO step: kit vs bare TRL (same config, model, data, seed)",
                f"{o['kit_seconds_per_step']:.3f} s vs {o['bare_seconds_per_step']:.3f} s "
                f"({100 * o['overhead_fraction']:+.1f} %)",
                "within 5 %",
                o["verdict"],
            ]
        )
    e = results.get("eval")
    if e:
        r.append(
            [
                f"evaluation: batched (batch {e['batch_size']}) vs one at a time, same outputs "
                f"({100 * e['same_outputs_fraction']:.0f} % identical)",
                f"{e['batched_samples_per_second']:.1f} vs {e['single_samples_per_second']:.1f} samples/s "
                f"({e['speedup']:.1f}x)",
                "at least 4x",
                e["verdict"],
            ]
        )
    p = results.get("eval_processes")
    if p:
        one, two = p["runs"].get("1"), p["runs"].get("2")
        if one and two:
            r.append(
                [
                    "evaluation in 1 vs 2 processes (accelerate launch, CPU), "
                    + ("identical predictions" if p["identical_predictions"] else "**predictions differ**"),
                    f"{one['samples_per_second']:.1f} vs {two['samples_per_second']:.1f} samples/s "
                    f"({p['speedup']:.2f}x)",
                    "identical predictions",
                    "met" if p["identical_predictions"] else "NOT met",
                ]
            )
    s = results.get("study")
    if s:
        st = s["stages"]
        r.append(
            [
                "`make study`, empty output folder" + (" and tiny-base cache" if s.get("tiny_base_built") else ""),
                f"{s['wall_minutes']:.1f} min",
                "at most 15 min",
                s["verdicts"]["wall_minutes"],
            ]
        )
        r.append(
            [
                "`make study`, peak memory of the whole process tree",
                f"{s['peak_memory_gb']:.2f} GB",
                "at most 4 GB",
                s["verdicts"]["peak_memory_gb"],
            ]
        )
        r.append(
            [
                "`make study`, overhead (wall minus training and evaluation compute)",
                f"{100 * s['overhead_fraction']:.0f} % ({st['overhead_seconds']:.0f} s of {st['wall_seconds']:.0f} s)",
                "at most 30 %",
                s["verdicts"]["overhead_fraction"],
            ]
        )
        r.append(["`make study` again, study finished", f"{s['second_run_seconds']:.1f} s", "seconds", ""])
    w = results.get("rewards")
    if w:
        fastest_slowest = sorted(v["completions_per_second"] for v in w["rewards"].values())
        share = w.get("share_of_step")
        r.append(
            [
                "rewards: completions scored per second (slowest to fastest reward)",
                f"{fastest_slowest[0]:,.0f} to {fastest_slowest[-1]:,.0f} /s; "
                + (f"{100 * share:.2f} % of a GRPO step" if share is not None else "step time not measured"),
                "at most 1 % of a step",
                w["verdict"],
            ]
        )
    return r


def markdown(results: dict) -> str:
    lines = ["| figure | measured | target | |", "|---|---|---|---|"]
    lines += ["| " + " | ".join(x) + " |" for x in rows(results)]
    s = results.get("study")
    if s:
        st = s["stages"]
        by = st["runs_by_stage"]
        tiny_train = st["tiny_base_train_compute"]
        run_train = st["train_compute"] - tiny_train
        lines += [
            "",
            f"Where the {st['wall_seconds']:.0f} s of `make study` go ({len(st['runs'])} runs, one notebook each):",
            "",
            "| stage | seconds | of which compute |",
            "|---|---|---|",
        ]
        lines += [
            "| " + " | ".join(x) + " |"
            for x in [
                ["CLI start and validation", f"{st['cli_start_and_validation']:.1f}", ""],
                ["tiny instruct base", f"{st['tiny_base']:.1f}", f"{tiny_train:.1f} (training)"],
                ["kernel starts and stops", f"{by['kernel_start']:.1f}", ""],
                ["imports and set-up cells", f"{by['setup_cell']:.1f}", ""],
                ["training cells", f"{by['train_cell']:.1f}", f"{run_train:.1f} (`trainer.train`)"],
                ["evaluation cells", f"{by['eval_cell']:.1f}", f"{st['eval_compute']:.1f} (generation)"],
                ["other cells (samples, plots)", f"{by['other_cells']:.1f}", ""],
                ["report", f"{st['report']:.1f}", ""],
            ]
        ]
    machine = next((v["machine"] for v in results.values() if "machine" in v), None)
    if machine:
        hw = machine["hardware"]
        lines.append("")
        lines.append(
            f"Measured on {hw.get('cpu_count')} CPU cores ({hw.get('processor')}), "
            f"{hw.get('memory_gib')} GiB, no GPU; Python {machine['python']}, torch "
            f"{machine['packages'].get('torch')}, transformers {machine['packages'].get('transformers')}, "
            f"TRL {machine['packages'].get('trl')}; commit {str(machine.get('git_commit'))[:12]}, "
            f"{machine['created'][:10]}."
        )
    return "\n".join(lines)


def update_readme(path, table: str) -> None:
    p = Path(path)
    text = p.read_text()
    if START not in text or END not in text:
        raise SystemExit(f"{p}: no '{START}' ... '{END}' block to write the table into.")
    new = re.sub(re.escape(START) + r".*?" + re.escape(END), lambda m: f"{START}\n{table}\n{END}", text, flags=re.S)
    p.write_text(new)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m perf.summary", description=__doc__.split("\n")[0])
    ap.add_argument("--bench-dir", default=None)
    ap.add_argument("--readme", default=None, help="write the table into this file's bench block")
    ns = ap.parse_args(argv)
    results = load(ns.bench_dir)
    if not results:
        raise SystemExit(f"no benchmark results in {ns.bench_dir or BENCH_DIR}; run `make bench` first.")
    table = markdown(results)
    write_json({"results": results, "table": table}, Path(ns.bench_dir or BENCH_DIR) / "summary.json")
    print(table)
    if ns.readme:
        update_readme(ns.readme, table)
        print(f"\n[bench] table written into {ns.readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

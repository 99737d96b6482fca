"""The embedded study: wall time, peak memory and where the time goes.

Runs ``make study`` into an empty output folder (and, by default, with an empty tiny-base cache, so the
tiny instruct base is built as on a fresh machine), samples the memory of the whole process tree, then
runs it again to time a second run of the finished study. The time is split by stage from what the
study leaves behind:

* set-up: ``make setup`` (the venv check; a first install is separate, see the README);
* CLI start and validation: ``make study`` wall time before the study loop starts;
* tiny base: building the cached instruct base (its ``trainer.train`` time is training compute);
* each run: kernel start (notebook wall time minus the time of its cells), imports and set-up cell,
  training cell (with ``trainer.train`` inside), evaluation cell (with generation inside), other cells;
* report: the report notebook.

Overhead = wall time minus the training and evaluation compute inside it (``trainer.train`` and
``model.generate``). Targets: wall at most 15 min, peak memory at most 4 GB, overhead at most 30 %.

    python -m perf.bench_study                # the full study (about 8 minutes here)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from perf.common import BENCH_DIR, ROOT, TreeMemory, print_table, verdict, write_result
from vrft_lib.runfolder import claim_study_folder

TARGETS = {"wall_minutes": 15.0, "peak_memory_gb": 4.0, "overhead_fraction": 0.30}


def _cell_role(source: str) -> str:
    if "train_run(" in source:
        return "train_cell"
    if "evaluate_run(" in source or "evaluate(eval_cfg)" in source:
        return "eval_cell"
    if "notebook.prepare(" in source:
        return "setup_cell"
    return "other_cells"


def run_stages(run_dir: Path) -> dict:
    """Where one run's time went (seconds), from its notebook, its DONE files and its metrics."""
    run_dir = Path(run_dir)
    done = json.loads((run_dir / "DONE").read_text())
    nb = json.loads((run_dir / "notebook.ipynb").read_text())
    stages = {
        "wall": float(done["wall_seconds"]),
        "setup_cell": 0.0,
        "train_cell": 0.0,
        "eval_cell": 0.0,
        "other_cells": 0.0,
    }
    for cell in nb["cells"]:
        if cell.get("cell_type") != "code":
            continue
        duration = (cell.get("metadata", {}).get("papermill") or {}).get("duration") or 0.0
        stages[_cell_role("".join(cell.get("source", "")))] += float(duration)
    cells = sum(stages[k] for k in ("setup_cell", "train_cell", "eval_cell", "other_cells"))
    stages["kernel_start"] = max(stages["wall"] - cells, 0.0)
    train_done = run_dir / "train" / "DONE"
    stages["train_compute"] = float(json.loads(train_done.read_text())["train_seconds"]) if train_done.exists() else 0.0
    metrics = json.loads((run_dir / "eval" / "metrics.json").read_text())
    stages["eval_compute"] = float(metrics.get("generation_seconds") or 0.0)
    return {k: round(v, 2) for k, v in stages.items()}


def study_stages(out_dir, wall: float | None = None, tiny_base_dir=None) -> dict:
    """The stage split of a finished study folder. ``wall``: the measured wall time of the command
    (default: the study's own ``total_seconds``); ``tiny_base_dir``: the tiny base built by this study
    (its training time counts as compute)."""
    out = Path(out_dir)
    inv = json.loads((out / "last_invocation.json").read_text())
    runs = {}
    for done in sorted(out.glob("runs/*/*/seed*/DONE")):
        run_dir = done.parent
        runs[str(run_dir.relative_to(out / "runs"))] = run_stages(run_dir)
    tiny = float(inv["run_seconds"].get("tiny_base", 0.0))
    tiny_compute = 0.0
    if tiny_base_dir and tiny > 1.0:
        info = json.loads((Path(tiny_base_dir) / "tiny_base.json").read_text())
        tiny_compute = float(info.get("train_seconds") or 0.0)
    loop = float(inv["total_seconds"])
    wall = float(wall if wall is not None else loop)
    runs_wall = sum(r["wall"] for r in runs.values())
    train = sum(r["train_compute"] for r in runs.values()) + tiny_compute
    evals = sum(r["eval_compute"] for r in runs.values())
    totals = {
        k: round(sum(r[k] for r in runs.values()), 2)
        for k in ("kernel_start", "setup_cell", "train_cell", "eval_cell", "other_cells")
    }
    return {
        "wall_seconds": round(wall, 2),
        "cli_start_and_validation": round(max(wall - loop, 0.0), 2),
        "tiny_base": round(tiny, 2),
        "tiny_base_train_compute": round(tiny_compute, 2),
        "runs_wall": round(runs_wall, 2),
        "report": float(inv["report_seconds"]),
        "study_loop_other": round(max(loop - tiny - runs_wall - float(inv["report_seconds"]), 0.0), 2),
        "runs_by_stage": totals,
        "train_compute": round(train, 2),
        "eval_compute": round(evals, 2),
        "overhead_seconds": round(wall - train - evals, 2),
        "overhead_fraction": round((wall - train - evals) / wall, 4) if wall else None,
        "runs": runs,
        "output_mb": inv.get("output_mb"),
    }


def _timed(cmd, env, log):
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    with TreeMemory(proc.pid) as mem:
        rc = proc.wait()
    wall = time.perf_counter() - t
    if rc:
        raise SystemExit(f"'{' '.join(cmd)}' failed with exit code {rc}; see {log.name}")
    return wall, mem


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m perf.bench_study", description=__doc__.split("\n")[0])
    ap.add_argument("--params", default="params/smoke.yaml", help="the study (default: the embedded one)")
    ap.add_argument("--out", default=str(BENCH_DIR / "study"), help="the study's output folder (emptied first)")
    ap.add_argument(
        "--reuse-tiny-base",
        action="store_true",
        help="use the machine's tiny-base cache instead of building it in an empty one",
    )
    ns = ap.parse_args(argv)

    out = Path(ns.out).resolve()
    marker = out / ".bench-study"
    if out.exists() and any(out.iterdir()) and not marker.exists():
        raise SystemExit(
            f"error: {out} is not empty and was not made by this benchmark; it is left as it is. "
            "Give an empty or new folder with --out."
        )
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    marker.write_text("made by perf.bench_study; emptied at each run\n")
    claim_study_folder(out)  # the study's own marker: the kit writes into a folder it owns only
    env = dict(os.environ)
    cache = None
    if not ns.reuse_tiny_base:
        cache = BENCH_DIR / "tiny-base-cache"
        shutil.rmtree(cache, ignore_errors=True)
        env["VRFT_CACHE"] = str(cache)
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    log_path = BENCH_DIR / "study.log"
    with open(log_path, "w") as log:
        setup_wall, _ = _timed(["make", "setup"], env, log)
        print(f"[bench] make study -> {out} (log: {log_path})", flush=True)
        wall, mem = _timed(["make", "study", f"STUDY_PARAMS={ns.params}", f"STUDY_OUT={out}"], env, log)
        print(f"[bench] first run {wall:.0f} s; now a second run of the finished study", flush=True)
        tiny_dir = None
        if cache is not None:
            from vrft_lib.tiny.base import recipe_key

            tiny_dir = cache / f"tiny-instruct-{recipe_key()}" / "model"  # the folder ensure_tiny_base made
        stages = study_stages(out, wall=wall, tiny_base_dir=tiny_dir)
        second_wall, _ = _timed(["make", "study", f"STUDY_PARAMS={ns.params}", f"STUDY_OUT={out}"], env, log)

    result = {
        "params": ns.params,
        "tiny_base_built": cache is not None,
        "setup_seconds": round(setup_wall, 2),
        "wall_minutes": round(wall / 60, 2),
        "peak_memory_gb": round(mem.peak_total_mb / 1024, 3),
        "peak_process_memory_gb": round(mem.peak_process_mb / 1024, 3),
        "peak_memory_at_seconds": mem.peak_at_seconds,  # into `make study`
        "peak_memory_processes": mem.peak_breakdown,  # the tree at the peak's instant, largest first
        "overhead_fraction": stages["overhead_fraction"],
        "second_run_seconds": round(second_wall, 2),
        "stages": stages,
        "targets": TARGETS,
    }
    result["verdicts"] = {k: verdict(result[k], t, higher_is_better=False) for k, t in TARGETS.items()}
    path = write_result("study", result)
    s = stages
    print_table(
        [
            [
                "wall time (make study, empty output folder)",
                f"{wall / 60:.2f} min",
                "<= 15 min",
                result["verdicts"]["wall_minutes"],
            ],
            [
                "peak memory (whole process tree)",
                f"{mem.peak_total_mb / 1024:.2f} GB",
                "<= 4 GB",
                result["verdicts"]["peak_memory_gb"],
            ],
            [
                "overhead (wall - train - eval compute)",
                f"{100 * s['overhead_fraction']:.1f} %",
                "<= 30 %",
                result["verdicts"]["overhead_fraction"],
            ],
            ["second run of the finished study", f"{second_wall:.1f} s", "seconds", ""],
        ],
        ["figure", "measured", "target", ""],
    )
    print(
        f"\nat the peak ({mem.peak_at_seconds:.0f} s in): "
        + ", ".join(f"{p['command']} {p['mb'] / 1024:.2f} GB" for p in mem.peak_breakdown[:4])
    )
    print()
    print_table(
        [
            [k, f"{v:.1f} s"]
            for k, v in [
                ("set-up (make setup)", setup_wall),
                ("CLI start + validation", s["cli_start_and_validation"]),
                ("tiny base", s["tiny_base"]),
                ("  of which training", s["tiny_base_train_compute"]),
                ("kernel starts", s["runs_by_stage"]["kernel_start"]),
                ("imports + set-up cells", s["runs_by_stage"]["setup_cell"]),
                ("training cells", s["runs_by_stage"]["train_cell"]),
                ("evaluation cells", s["runs_by_stage"]["eval_cell"]),
                ("other cells (plots, samples)", s["runs_by_stage"]["other_cells"]),
                ("report", s["report"]),
                ("training compute (trainer.train)", s["train_compute"]),
                ("evaluation compute (generate)", s["eval_compute"]),
            ]
        ],
        ["stage", "seconds"],
    )
    print(f"\n[bench] {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Learning curves of the embedded study: accuracy against optimizer step and wall time.

Trains each method (SFT and RFT by default) of a study on each of its benchmarks with the study's own
settings, saves a checkpoint every ``--every`` steps, and evaluates the starting model and every
checkpoint on the first ``--eval-rows`` rows of the evaluation split, in the method's training mode
(greedy, as the study evaluates). Writes ``outputs/bench/learning.json`` (per benchmark and method:
step, seconds of training up to that step, accuracy with its 95 % interval, format rate, the share of
the commonest answer) and ``outputs/bench/learning.html`` (one panel per benchmark).

The settings of the embedded study (image size, steps, learning rates, batch composition) are chosen
from these curves; the README's results section says which curves led to them.

    python -m perf.bench_learning                         # smoke study, every benchmark (~10 min)
    python -m perf.bench_learning --benchmarks synthetic_spatial --methods rft --every 20
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

import pandas as pd

from perf.common import BENCH_DIR, print_table, write_result
from vrft_lib.evaluate import evaluate
from vrft_lib.notebook import prepare
from vrft_lib.plan.spec import expand_study, load_study
from vrft_lib.tiny import resolve_model_path
from vrft_lib.train import train

METHODS = ("sft", "rft")


def _checkpoints(train_dir: Path) -> list[tuple[int, Path]]:
    found = []
    for p in (train_dir / "trainer").glob("checkpoint-*"):
        if p.name.split("-")[-1].isdigit():
            found.append((int(p.name.split("-")[-1]), p))
    return sorted(found)


def _point(metrics: dict, mode: str, step: int, seconds: float) -> dict:
    m = metrics["modes"][mode]
    return {
        "step": step,
        "seconds": round(seconds, 1),
        "accuracy": m["accuracy"],
        "accuracy_ci95": m["accuracy_ci95"],
        "format_rate": m["format_rate"],
        "top_answer_share": m["answers"]["top_share"],
        "collapsed": m["answers"]["collapsed"],
    }


def curve(run, work: Path, every: int, eval_rows: int) -> dict:
    """Train one planned run with a checkpoint every ``every`` steps and evaluate each checkpoint."""
    run_dir = work / run.run_id
    cfg, ev = prepare(run.parameters["run"], run.parameters["evaluation"], run_dir)
    cfg.save_steps = every
    cfg.keep_checkpoints = 10_000
    cfg.keep_checkpoints_when_done = True  # the curve reads every checkpoint
    mode = cfg.train_mode
    base_model = cfg.model.name_or_path

    def score(model_path, tag: str) -> dict:
        config = ev.to_dict()
        config.update(
            model={**vars(ev.model), "name_or_path": str(model_path)},
            modes=[mode],
            data={**vars(ev.data), "eval_limit": eval_rows},
            output_dir=str(run_dir / "evals" / tag),
            progress=False,
        )
        return evaluate(config)

    train_dir = train(cfg)
    steps = pd.read_csv(train_dir / "steps.csv")
    elapsed = dict(zip(steps["step"], steps["step_time"].fillna(0).cumsum())) if "step_time" in steps else {}
    points = [_point(score(base_model, "step0"), mode, 0, 0.0)]
    base_files = Path(resolve_model_path(base_model))
    for step, ckpt in _checkpoints(train_dir):
        for f in base_files.iterdir():  # a checkpoint may lack the processor files: the base's are the same
            if f.is_file() and not (ckpt / f.name).exists() and not f.name.endswith(".safetensors"):
                shutil.copy(f, ckpt / f.name)
        points.append(_point(score(ckpt, f"step{step}"), mode, step, float(elapsed.get(step, float("nan")))))
    return {"mode": mode, "trainer": dict(cfg.trainer), "points": points}


def measure(study="params/smoke.yaml", benchmarks=None, methods=METHODS, every=10, eval_rows=100, work=None) -> dict:
    """Learning curves of ``methods`` on ``benchmarks`` (default: all of the study's)."""
    spec = load_study(study)
    own = work is None
    work = Path(work or tempfile.mkdtemp(prefix="vrft-learning-"))
    curves: dict[str, dict] = {}
    try:
        runs = expand_study(spec, work)
        seed = spec["seeds"][0]
        for run in runs:
            if run.seed != seed or run.variant not in methods:
                continue
            if benchmarks and run.benchmark not in benchmarks:
                continue
            print(f"[bench_learning] {run.benchmark} / {run.variant}", flush=True)
            curves.setdefault(run.benchmark, {})[run.variant] = curve(run, work, every, eval_rows)
    finally:
        if own:
            shutil.rmtree(work, ignore_errors=True)
    return {"study": str(study), "every": every, "eval_rows": eval_rows, "curves": curves}


def figure(result: dict):
    """One panel per benchmark: accuracy (and its 95 % interval) against step, one line per method."""
    from plotly.subplots import make_subplots

    names = list(result["curves"])
    fig = make_subplots(rows=1, cols=max(len(names), 1), subplot_titles=names, shared_yaxes=True)
    colours = {"sft": "#1f77b4", "rft": "#d62728", "rft_length": "#9467bd"}
    for k, name in enumerate(names, start=1):
        for method, c in result["curves"][name].items():
            pts = c["points"]
            x = [p["step"] for p in pts]
            fig.add_scatter(
                x=x,
                y=[100 * p["accuracy"] for p in pts],
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": [100 * (p["accuracy_ci95"][1] - p["accuracy"]) for p in pts],
                    "arrayminus": [100 * (p["accuracy"] - p["accuracy_ci95"][0]) for p in pts],
                },
                name=f"{method} ({c['mode']})",
                legendgroup=method,
                showlegend=k == 1,
                line={"color": colours.get(method)},
                row=1,
                col=k,
            )
        fig.update_xaxes(title_text="optimizer step", row=1, col=k)
    fig.update_yaxes(title_text="accuracy (%)", range=[0, 100], row=1, col=1)
    fig.update_layout(title="Learning curves of the embedded study", height=420, width=380 * max(len(names), 1))
    return fig


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--study", default="params/smoke.yaml", help="study file whose settings are trained")
    ap.add_argument("--benchmarks", default=None, help="comma-separated benchmark keys (default: all)")
    ap.add_argument("--methods", default=",".join(METHODS), help="comma-separated variants: sft, rft, rft_length")
    ap.add_argument("--every", type=int, default=10, help="evaluate a checkpoint every N optimizer steps")
    ap.add_argument("--eval-rows", type=int, default=100, help="evaluation rows per checkpoint")
    ap.add_argument("--out", default=str(BENCH_DIR), help="folder for learning.json and learning.html")
    a = ap.parse_args(argv)
    result = measure(
        a.study,
        a.benchmarks.split(",") if a.benchmarks else None,
        tuple(a.methods.split(",")),
        a.every,
        a.eval_rows,
    )
    path = write_result("learning", result, Path(a.out))
    figure(result).write_html(Path(a.out) / "learning.html", include_plotlyjs=True)
    rows = []
    for name, by_method in result["curves"].items():
        for method, c in by_method.items():
            first, last = c["points"][0], c["points"][-1]
            best = max(c["points"], key=lambda p: p["accuracy"])
            rows.append(
                [
                    name,
                    method,
                    c["mode"],
                    f"{100 * first['accuracy']:.1f}",
                    f"{100 * last['accuracy']:.1f}",
                    f"{100 * best['accuracy']:.1f} @ {best['step']}",
                    f"{last['seconds']:.0f}",
                ]
            )
    print_table(rows, ["benchmark", "method", "mode", "step 0", "last", "best @ step", "train s"])
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

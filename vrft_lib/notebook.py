"""The few calls an experiment notebook makes: from its parameters to a trained, evaluated run.

A notebook's ``parameters`` cell holds plain values (``run``: a run config dict, ``evaluation``: an
eval config dict, ``output_dir``); :func:`prepare` turns them into validated configs whose outputs
land under ``output_dir``::

    output_dir/train/   the training run (vrft_lib.train): model/, steps.csv, completions.parquet, DONE
    output_dir/eval/    the evaluation (vrft_lib.evaluate): predictions.jsonl, metrics.json, DONE
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from .config import RunConfig, deep_merge, load_run_config
from .data import load_benchmark
from .evaluate import EvalConfig, load_eval_config
from .plots import image_grid


def prepare(run: dict, evaluation: dict, output_dir) -> tuple[RunConfig, EvalConfig]:
    """Validated run and eval configs for one experiment whose outputs go under ``output_dir``.

    A training-free run (``method: none``) evaluates ``run["model"]`` itself; otherwise the eval
    reads the trained ``output_dir/train/model``. The eval inherits the run's model options and data
    (benchmark, root, options, eval split and limit) unless ``evaluation`` overrides them.
    """
    out = Path(os.path.abspath(output_dir))  # links not resolved: the writes below refuse them
    cfg = load_run_config(dict(run), output_dir=str(out / "train"))
    model = dict(vars(cfg.model))
    if cfg.method != "none":
        model["name_or_path"] = str(cfg.train_dir / "model")
    ev = deep_merge(
        {"name": cfg.name, "model": model, "data": dict(vars(cfg.data)), "seed": cfg.seed, "device": cfg.device},
        evaluation or {},
    )
    ev["output_dir"] = str(out / "eval")
    return cfg, load_eval_config(ev)


def sample_rows(cfg: RunConfig, n: int = 8, split: str | None = None):
    """The first ``n`` rows of the run's benchmark split (with images), for a look at the data."""
    d = cfg.data
    return load_benchmark(d.name, split or d.train_split, root=d.root, limit=n, seed=cfg.seed, **d.options)


def show_samples(cfg: RunConfig, n: int = 8):
    """A plotly grid of sample images titled with their question and answer."""
    rows = sample_rows(cfg, n)
    titles = [f"{r['question'][:48]} → {r['solution']}" for r in rows]  # image_grid wraps long titles
    return image_grid([r["images"][0] for r in rows], titles, cols=4)


def read_steps(train_dir):
    path = Path(train_dir) / "steps.csv"
    return pd.read_csv(path) if path.exists() else pd.DataFrame()


def read_predictions(eval_dir):
    path = Path(eval_dir) / "predictions.jsonl"
    return pd.read_json(path, lines=True) if path.exists() else pd.DataFrame()


def metrics_table(metrics: dict):
    """One row per prompt mode: accuracy with its interval, format compliance, response length."""
    rows = []
    for mode, m in metrics["modes"].items():
        lo, hi = m["accuracy_ci95"]
        rows.append(
            {
                "mode": mode,
                "accuracy %": round(100 * m["accuracy"], 1),
                "95% CI": f"[{100 * lo:.1f}, {100 * hi:.1f}]",
                "n": m["n"],
                "format %": round(100 * m["format_rate"], 1),
                "mean tokens": round(m["mean_response_tokens"], 1),
                **(
                    {"mean per-class %": round(100 * m["mean_per_class_accuracy"], 1)}
                    if "mean_per_class_accuracy" in m
                    else {}
                ),
                **({"circular %": round(100 * m["circular_accuracy"], 1)} if "circular_accuracy" in m else {}),
            }
        )
    return pd.DataFrame(rows).set_index("mode")

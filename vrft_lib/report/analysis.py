"""The report's numbers computed once from a study folder (:class:`StudyReport`), and what
``table1.csv`` and ``metrics.json`` hold (:func:`metrics_record`, :func:`write_outputs`)."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .. import __version__
from ..files import write_json, write_text
from .collect import collect_study, provenance_summary, reference_of, run_timings
from .compute import compute_record
from .figures import curves_window, figure1_examples, length_curves
from .findings import comparisons, findings, table1


@dataclass
class StudyReport:
    """Everything the report shows, computed once from a study folder (see :func:`analyse_study`)."""

    study_dir: Path
    collected: dict  # collect_study(): study.yaml, every run, the missing ones
    table: pd.DataFrame  # table1()
    findings: list[dict]  # findings()
    figure1: dict | None  # figure1_examples()
    curves: dict  # length_curves(): Figure 2's data
    provenance: dict  # provenance_summary()
    timings: dict  # run_timings()


def analyse_study(study_dir, lookup_inputs: bool = True) -> StudyReport:
    """Read a study folder and compute the report's numbers, findings and figure data.

    Args:
        study_dir: the study folder (with study.yaml and runs/).
        lookup_inputs: for Figure 1, re-load questions and images from the benchmark when the
            predictions lack them (synthetic benchmarks, or small real evaluations).

    Raises:
        VrftError: the folder has no study.yaml. Unfinished or failed runs are listed, not fatal.
    """
    collected = collect_study(study_dir)
    table = table1(collected)
    return StudyReport(
        study_dir=Path(study_dir),
        collected=collected,
        table=table,
        findings=findings(table, collected, collected["study"]),
        figure1=figure1_examples(collected, lookup_inputs=lookup_inputs),
        curves=length_curves(collected),
        provenance=provenance_summary(collected),
        timings=run_timings(collected),
    )


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, pd.DataFrame):
        return _jsonable(obj.to_dict(orient="records"))
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return None if math.isnan(obj) or math.isinf(obj) else float(obj)
    if isinstance(obj, (np.bool_,)):
        return bool(obj)
    if isinstance(obj, Path):
        return str(obj)
    return obj


def metrics_record(rep: StudyReport) -> dict:
    """What ``metrics.json`` holds: the study, its variants' definitions (``variants``), Table 1 (every
    variant's cells), the findings, the paired comparisons (one per finding with both cells:
    ``benchmark``, ``a``, ``b``, ``difference_points``, ``ci95``, ``p_value``, ``n``, ``verdict``; see
    docs/report.md), every run's metrics (its ``done`` record holds its variant), the missing runs and
    cells, Figure 1's examples (without images), Figure 2's benchmarks and window, provenance, timings
    and ``compute`` (every run's compute records, their fields' definitions, and per benchmark RFT's
    training compute against SFT's: report/compute.py). Plain JSON values (NaN becomes null)."""
    collected, table, fig1 = rep.collected, rep.table, rep.figure1
    return _jsonable(
        {
            "study": {
                "name": collected["name"],
                "description": collected.get("description"),
                "synthetic": collected["synthetic"],
                "model": collected["model"],
                "seeds": collected["seeds"],
                "benchmarks": collected["benchmarks"],
                "reference": reference_of(collected["study"]),
            },
            "variants": collected["variants"],
            "table1": table,
            "findings": rep.findings,
            "comparisons": comparisons(rep.findings),
            "runs": [
                {
                    **{
                        k: r[k]
                        for k in (
                            "benchmark",
                            "label",
                            "task_kind",
                            "variant",
                            "seed",
                            "status",
                            "reason",
                            "path",
                            "wall_seconds",
                            "done",
                            "train_done",
                        )
                    },
                    "modes": (r["metrics"] or {}).get("modes"),
                    "eval_seconds": (r["metrics"] or {}).get("seconds"),
                    "samples_per_second": (r["metrics"] or {}).get("samples_per_second"),
                    "train_steps": None if r["steps"] is None else int(len(r["steps"])),
                }
                for r in collected["runs"]
            ],
            "missing": collected["missing"],
            "missing_cells": table[table["n_seeds"] == 0][["benchmark", "label", "method", "mode"]]
            if len(table)
            else [],
            "figure1": None
            if fig1 is None
            else {
                "benchmark": fig1["benchmark"],
                "seed": fig1["seed"],
                "examples": [{k: v for k, v in ex.items() if k != "image_b64"} for ex in fig1["examples"]],
            },
            "figure2": {"benchmarks": list(rep.curves), "window": curves_window(rep.curves)},
            "provenance": rep.provenance,
            "timings": rep.timings,
            "compute": compute_record(collected),
            "generated": dt.datetime.now().isoformat(timespec="seconds"),
            "vrft_version": __version__,
        }
    )


def write_outputs(
    study_dir, rep: StudyReport | None = None, out_dir=None, lookup_inputs: bool = True
) -> dict[str, Path]:
    """Write ``table1.csv`` and ``metrics.json`` (each atomically) into ``out_dir`` (default: the study
    folder); ``rep`` is computed with :func:`analyse_study` when not given.

    Returns:
        ``{"table1": path, "metrics": path}``.
    """
    rep = rep if rep is not None else analyse_study(study_dir, lookup_inputs=lookup_inputs)
    out = Path(out_dir) if out_dir is not None else Path(study_dir)
    paths = {"table1": out / "table1.csv", "metrics": out / "metrics.json"}
    write_text(rep.table.to_csv(index=False), paths["table1"])
    write_json(metrics_record(rep), paths["metrics"])
    return paths


def build_report(study_dir, out_dir=None, lookup_inputs: bool = True) -> dict[str, Path]:
    """Collect a study folder and write its ``table1.csv`` and ``metrics.json``; return their paths.
    The page, ``report.html``, is the report notebook rendered by ``vrft report STUDY_DIR``."""
    return write_outputs(study_dir, out_dir=out_dir, lookup_inputs=lookup_inputs)

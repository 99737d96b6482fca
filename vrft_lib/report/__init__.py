"""Turn a finished (or partly finished) study folder into the paper-shaped report.

``build_report(STUDY_DIR)`` writes three files into the study folder (or ``out_dir``):

* ``report.html``: one self-contained page (plotly.js inlined once, no network) with the paper's
  sections: summary, Table 1, Figure 1, Figure 2, Findings, How it was made.
* ``table1.csv``: the tidy table (one row per benchmark, method and prompt mode; rates in percent).
* ``metrics.json``: everything the report computed (table, findings, per-run metrics, timings).

The study folder layout it reads::

    DIR/study.yaml
    DIR/runs/<benchmark key>/<variant>/seed<k>/DONE            (variant: training_free, sft, rft, rft_length)
    DIR/runs/<benchmark key>/<variant>/seed<k>/eval/metrics.json, predictions.jsonl, provenance.json
    DIR/runs/<benchmark key>/<variant>/seed<k>/train/steps.csv, DONE

Missing or unfinished runs never stop the report: their cells show "—" and they are listed.
The findings are sentences generated from the numbers by the rules in ``docs/report.md``.

Command line: ``python -m vrft_lib.report STUDY_DIR [--out DIR]``.
"""

from __future__ import annotations

import argparse
import base64
import datetime as _dt
import html
import json
import math
import os
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from .. import __version__
from .. import plots
from ..errors import VrftError

VARIANTS = ("training_free", "sft", "rft", "rft_length")
TABLE_METHODS = ("training_free", "sft", "rft")
MODES = ("no_think", "think")
METHOD_LABELS = plots.METHOD_LABELS
MODE_LABELS = plots.MODE_LABELS
TIE_POINTS = 0.005            # |difference| below this many points (i.e. 0.00 when printed): no difference
FIGURE1_EXAMPLES = 4          # examples shown in Figure 1
LOOKUP_MAX_ROWS = 500         # real benchmarks: look questions up only for evaluations this small
FAILURE_FILES = ("FAILED", "FAILED.json", "error.json", "error.txt")

# Fallbacks when study.yaml does not give a benchmark's label or task kind.
DEFAULT_LABELS = {
    "banner": "Banner-Analysis", "synthetic_banner": "Banner-Analysis",
    "fgvc_aircraft": "FGVC-Aircraft", "synthetic_aircraft": "FGVC-Aircraft",
    "sat": "SAT", "synthetic_spatial": "SAT",
}

# The paper's findings, as checkable claims (see findings()).
PAPER_CLAIMS = {
    "paper.think_hurts_training_free": "thinking hurts training-free models",
    "paper.think_hurts_sft": "thinking hurts SFT models",
    "paper.think_helps_rft": "thinking helps RFT models",
    "paper.rft_beats_sft_with_think": "RFT beats SFT on every benchmark with think",
    "paper.length_reward_helps_reasoning": "the length reward helps the reasoning task (SAT)",
    "paper.length_reward_hurts_perception": "the length reward hurts the perception task (FGVC-Aircraft)",
}


# ----------------------------------------------------------------------------------------------
# Reading the study folder
# ----------------------------------------------------------------------------------------------

def _read_json(path: Path):
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _read_steps(path: Path) -> pd.DataFrame | None:
    try:
        df = pd.read_csv(path)
    except (OSError, ValueError, pd.errors.EmptyDataError):
        return None
    return df if not df.empty else None


def read_predictions(path) -> list[dict]:
    """The rows of a ``predictions.jsonl`` (unreadable lines are skipped)."""
    rows = []
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                try:
                    row = json.loads(line)
                except ValueError:
                    continue
                if isinstance(row, dict):
                    rows.append(row)
    except OSError:
        pass
    return rows


def task_kind(key: str, label: str, spec: dict | None = None) -> str:
    """``reasoning``, ``perception`` or ``binary``: from ``task_kind`` in study.yaml, else by name.

    >>> task_kind("sat", "SAT"), task_kind("x", "FGVC-Aircraft"), task_kind("synthetic_banner", "B")
    ('reasoning', 'perception', 'binary')
    """
    kind = (spec or {}).get("task_kind")
    if kind:
        return str(kind)
    text = f"{key} {label}".lower()
    if "sat" in re.split(r"[^a-z]+", text) or "spatial" in text:
        return "reasoning"
    if "fgvc" in text or "aircraft" in text:
        return "perception"
    if "banner" in text:
        return "binary"
    return "unknown"


def _benchmarks(study: dict, runs_dir: Path) -> dict[str, dict]:
    raw = study.get("benchmarks")
    specs: dict[str, dict] = {}
    if isinstance(raw, dict):
        specs = {str(k): (v if isinstance(v, dict) else {}) for k, v in raw.items()}
    elif isinstance(raw, list):
        for item in raw:
            if isinstance(item, dict):
                key = item.get("key") or item.get("name")
                if key:
                    specs[str(key)] = item
            elif item is not None:
                specs[str(item)] = {}
    if not specs and runs_dir.is_dir():
        specs = {p.name: {} for p in sorted(runs_dir.iterdir()) if p.is_dir()}
    out = {}
    for key, spec in specs.items():
        label = str(spec.get("label") or DEFAULT_LABELS.get(key, key))
        out[key] = {"key": key, "label": label, "task_kind": task_kind(key, label, spec), "spec": spec}
    return out


def _expected_variants(key: str, spec: dict, study: dict, runs_dir: Path) -> list[str]:
    listed = spec.get("variants", study.get("variants"))
    if isinstance(listed, dict):
        listed = list(listed)
    expected = [str(v) for v in listed] if isinstance(listed, list) and listed else list(VARIANTS)
    # rft_length runs exist only for benchmarks with ``length_reward: true`` (as the study expands them)
    if not spec.get("length_reward"):
        expected = [v for v in expected if v != "rft_length"]
    found = [p.name for p in sorted((runs_dir / key).iterdir()) if p.is_dir()] if (runs_dir / key).is_dir() else []
    ordered = [v for v in VARIANTS if v in expected or v in found]
    return ordered + [v for v in dict.fromkeys(expected + found) if v not in ordered]


def _seed_of(name: str) -> int | None:
    m = re.fullmatch(r"seed(\d+)", name)
    return int(m.group(1)) if m else None


def _load_run(path: Path, key: str, info: dict, variant: str, seed: int, failures: dict | None = None) -> dict:
    rec = {"benchmark": key, "label": info["label"], "task_kind": info["task_kind"], "variant": variant,
           "seed": seed, "path": str(path), "status": "not started", "reason": "no run folder",
           "done": None, "wall_seconds": None, "metrics": None, "provenance": None, "train_done": None,
           "steps": None, "predictions_path": None}
    if not path.is_dir():
        return rec
    steps = _read_steps(path / "train" / "steps.csv")
    rec["steps"] = steps
    rec["train_done"] = _read_json(path / "train" / "DONE")
    prov = _read_json(path / "eval" / "provenance.json") or _read_json(path / "provenance.json") \
        or _read_json(path / "train" / "provenance.json")
    rec["provenance"] = prov if isinstance(prov, dict) else None
    if not (path / "DONE").exists():
        failure = next((path / f for f in FAILURE_FILES if (path / f).exists()), None)
        logged = (failures or {}).get(f"{key}/{variant}/seed{seed}")
        if logged:
            rec["status"] = "failed"
            rec["reason"] = f"failed in the last study invocation: {logged.get('error') or 'error'}"
        elif failure is not None:
            try:
                msg = failure.read_text(encoding="utf-8", errors="replace").strip()
            except OSError:
                msg = ""
            rec["status"], rec["reason"] = "failed", f"failed ({failure.name}: {msg[:300]})" if msg else "failed"
        else:
            rec["status"], rec["reason"] = "unfinished", "no DONE file (still running, interrupted or failed)"
        return rec
    done = _read_json(path / "DONE")
    rec["done"] = done if isinstance(done, dict) else {}
    wall = rec["done"].get("wall_seconds")
    rec["wall_seconds"] = float(wall) if isinstance(wall, (int, float)) else None
    metrics = _read_json(path / "eval" / "metrics.json")
    if not isinstance(metrics, dict) or not isinstance(metrics.get("modes"), dict):
        rec["status"], rec["reason"] = "no eval", "DONE but eval/metrics.json is missing or unreadable"
        return rec
    rec["metrics"] = metrics
    if (path / "eval" / "predictions.jsonl").is_file():
        rec["predictions_path"] = str(path / "eval" / "predictions.jsonl")
    rec["status"], rec["reason"] = "finished", ""
    return rec


def collect_study(study_dir) -> dict:
    """Read a study folder: its parameters, every expected run (finished or not) and the missing ones.

    Returns a dict with ``study_dir``, ``study`` (the parsed study.yaml), ``study_yaml`` (its text),
    ``name``, ``synthetic``, ``model``, ``seeds``, ``benchmarks`` (``{key: {key, label, task_kind}}``),
    ``runs`` (one record per benchmark, variant and seed: ``status``, ``metrics``, ``steps`` as a
    DataFrame, ``provenance``, ``done``, ``train_done``, ``predictions_path``; predictions are read on
    demand with :func:`read_predictions`) and ``missing`` (the runs that are not finished, with why).

    Raises:
        VrftError: the folder has no readable study.yaml.
    """
    d = Path(study_dir)
    yml = d / "study.yaml"
    if not yml.is_file():
        raise VrftError(
            f"'{yml}' does not exist: '{d}' is not a study folder. A study folder holds study.yaml and "
            "runs/<benchmark>/<variant>/seed<k>/; create one with `vrft study params/<study>.yaml --out DIR`, "
            "then run `python -m vrft_lib.report DIR`.")
    text = yml.read_text(encoding="utf-8")
    try:
        study = yaml.safe_load(text) or {}
    except yaml.YAMLError as e:
        raise VrftError(f"'{yml}' is not valid YAML ({e}). Fix or regenerate the study folder.") from e
    if not isinstance(study, dict):
        raise VrftError(f"'{yml}' must hold a mapping (name, seeds, benchmarks, ...), not {type(study).__name__}.")
    runs_dir = d / "runs"
    benchmarks = _benchmarks(study, runs_dir)
    invocation = _read_json(d / "last_invocation.json")
    invocation = invocation if isinstance(invocation, dict) else None
    failures = {str(f.get("run_id")): f for f in (invocation or {}).get("failures") or [] if isinstance(f, dict)}
    seeds = [int(s) for s in (study.get("seeds") or []) if isinstance(s, (int, float, str)) and str(s).isdigit()]
    model = study.get("model")
    if isinstance(model, dict):
        model = model.get("name_or_path") or model.get("name")
    runs, missing = [], []
    for key, info in benchmarks.items():
        for variant in _expected_variants(key, info["spec"], study, runs_dir):
            vdir = runs_dir / key / variant
            found = sorted(s for s in (_seed_of(p.name) for p in vdir.iterdir() if p.is_dir()) if s is not None) \
                if vdir.is_dir() else []
            for seed in sorted(set(seeds) | set(found)) or [0]:
                rec = _load_run(vdir / f"seed{seed}", key, info, variant, seed, failures)
                runs.append(rec)
                if rec["status"] != "finished":
                    missing.append({k: rec[k] for k in ("benchmark", "label", "variant", "seed", "status",
                                                        "reason", "path")})
    if not seeds:
        seeds = sorted({r["seed"] for r in runs})
    return {
        "study_dir": str(d), "study": study, "study_yaml": text,
        "name": str(study.get("name") or d.name), "description": study.get("description"),
        "synthetic": bool(study.get("synthetic", False)), "model": None if model is None else str(model),
        "seeds": seeds, "benchmarks": {k: {kk: v[kk] for kk in ("key", "label", "task_kind")}
                                        for k, v in benchmarks.items()},
        "runs": runs, "missing": missing, "last_invocation": invocation,
    }


def _finished(collected: dict, key: str, variant: str) -> list[dict]:
    return [r for r in collected["runs"] if r["benchmark"] == key and r["variant"] == variant
            and r["status"] == "finished"]


# ----------------------------------------------------------------------------------------------
# Table 1
# ----------------------------------------------------------------------------------------------

def _norm_mode(m: str) -> str | None:
    s = str(m).strip().lower().replace("-", "_").replace(" ", "_")
    if s in ("no_think", "nothink", "w/o_think", "without_think", "wo_think"):
        return "no_think"
    if s in ("think", "w/_think", "with_think", "w_think"):
        return "think"
    return None


def paper_table(study: dict) -> dict:
    """The paper's Table 1 from ``reference.table1`` as ``{label: {method: {mode: accuracy %}}}``."""
    ref = (study or {}).get("reference") or {}
    raw = ref.get("table1") if isinstance(ref, dict) else None
    out: dict = {}
    if not isinstance(raw, dict):
        return out
    for label, methods in raw.items():
        if not isinstance(methods, dict):
            continue
        for m, modes in methods.items():
            key = plots.method_key(str(m))
            if key is None or not isinstance(modes, dict):
                continue
            for mode, v in modes.items():
                mk = _norm_mode(mode)
                if mk is not None and isinstance(v, (int, float)):
                    out.setdefault(str(label), {}).setdefault(key, {})[mk] = float(v)
    return out


def _mean(values):
    vals = [float(v) for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    return float(np.mean(vals)) if vals else float("nan")


def table1(collected: dict) -> pd.DataFrame:
    """The tidy Table 1: one row per benchmark, variant (method) and mode, seeds aggregated.

    Columns: ``benchmark``, ``label``, ``task_kind``, ``method``, ``mode``, ``accuracy`` (mean over
    seeds, %), ``accuracy_std`` (across seeds, %; NaN for one seed), ``ci_low``/``ci_high`` (mean of
    the per-seed 95% interval bounds, %), ``n`` (evaluation samples per seed), ``n_seeds`` (seeds with a
    result), ``n_seeds_expected`` (runs expected for the cell), ``seeds``,
    ``format_rate`` (%), ``mean_response_tokens``, ``circular_accuracy`` (%),
    ``mean_per_class_accuracy`` (%), ``paper_accuracy`` (%, from study.yaml's reference). A cell
    without a finished run has ``n_seeds == 0`` and NaN numbers.
    """
    paper = paper_table(collected.get("study") or {})
    rows = []
    for key, info in collected["benchmarks"].items():
        variants = list(dict.fromkeys(r["variant"] for r in collected["runs"] if r["benchmark"] == key))
        for variant in variants:
            runs = _finished(collected, key, variant)
            for mode in MODES:
                per = [(r["seed"], r["metrics"]["modes"][mode]) for r in runs
                       if isinstance(r["metrics"]["modes"].get(mode), dict)
                       and r["metrics"]["modes"][mode].get("accuracy") is not None]
                accs = [100 * float(m["accuracy"]) for _, m in per]
                cis = [m.get("accuracy_ci95") for _, m in per]
                cis = [c for c in cis if isinstance(c, (list, tuple)) and len(c) == 2 and None not in c]
                ns = [int(m["n"]) for _, m in per if m.get("n") is not None]

                def pct(field):
                    return _mean([100 * float(m[field]) for _, m in per if m.get(field) is not None])

                pref = paper.get(info["label"]) or paper.get(key) or {}
                rows.append({
                    "benchmark": key, "label": info["label"], "task_kind": info["task_kind"],
                    "method": variant, "mode": mode,
                    "accuracy": _mean(accs),
                    "accuracy_std": float(np.std(accs, ddof=1)) if len(accs) > 1 else float("nan"),
                    "ci_low": _mean([100 * float(c[0]) for c in cis]),
                    "ci_high": _mean([100 * float(c[1]) for c in cis]),
                    "n": (ns[0] if len(set(ns)) == 1 else round(float(np.mean(ns)), 1)) if ns else None,
                    "n_seeds": len(per),
                    "n_seeds_expected": sum(1 for r in collected["runs"]
                                            if r["benchmark"] == key and r["variant"] == variant),
                    "seeds": " ".join(str(s) for s, _ in per),
                    "format_rate": pct("format_rate"),
                    "mean_response_tokens": _mean([m.get("mean_response_tokens") for _, m in per]),
                    "circular_accuracy": pct("circular_accuracy"),
                    "mean_per_class_accuracy": pct("mean_per_class_accuracy"),
                    "paper_accuracy": (pref.get(variant) or {}).get(mode, float("nan")),
                })
    cols = ["benchmark", "label", "task_kind", "method", "mode", "accuracy", "accuracy_std", "ci_low", "ci_high",
            "n", "n_seeds", "n_seeds_expected", "seeds", "format_rate", "mean_response_tokens", "circular_accuracy",
            "mean_per_class_accuracy", "paper_accuracy"]
    return pd.DataFrame(rows, columns=cols)


# ----------------------------------------------------------------------------------------------
# Findings
# ----------------------------------------------------------------------------------------------

def _cell(table: pd.DataFrame, key: str, method: str, mode: str) -> dict | None:
    sub = table[(table["benchmark"] == key) & (table["method"] == method) & (table["mode"] == mode)]
    if sub.empty or not (sub.iloc[0]["n_seeds"] > 0) or pd.isna(sub.iloc[0]["accuracy"]):
        return None
    return sub.iloc[0].to_dict()


def _num(v):
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def intervals_overlap(a: dict, b: dict) -> bool | None:
    """Whether two cells' 95% intervals overlap (None when one is unknown).

    >>> intervals_overlap({"ci_low": 50, "ci_high": 60}, {"ci_low": 59, "ci_high": 70})
    True
    >>> intervals_overlap({"ci_low": 50, "ci_high": 60}, {"ci_low": 61, "ci_high": 70})
    False
    """
    lo = [_num(a.get("ci_low")), _num(b.get("ci_low"))]
    hi = [_num(a.get("ci_high")), _num(b.get("ci_high"))]
    if None in lo or None in hi:
        return None
    return max(lo) <= min(hi)


def _direction(diff: float) -> int:
    return 0 if abs(diff) < TIE_POINTS else (1 if diff > 0 else -1)


def _noise_clause(overlap: bool | None) -> str:
    if overlap is None:
        return "no 95% interval is available to judge noise"
    if overlap:
        return "the 95% intervals overlap, so the difference is within noise"
    return "the 95% intervals do not overlap"


def _paper_clause(paper_diff: float | None, diff: float) -> tuple[str, bool | None]:
    if paper_diff is None:
        return "", None
    same = _direction(paper_diff) == _direction(diff)
    return (f" Paper: {paper_diff:+.2f} points ({'same' if same else 'opposite'} direction)."), same


def _pair_finding(fid, group, table, key, label, a_spec, b_spec, a_name, b_name, subject, verbs, extra=None):
    """A finding comparing cell A against cell B (difference A - B, in points)."""
    a, b = _cell(table, key, *a_spec), _cell(table, key, *b_spec)
    base = {"id": fid, "group": group, "benchmark": key, "label": label, **(extra or {})}
    if a is None or b is None:
        lacking = " and ".join(n for n, c in ((a_name, a), (b_name, b)) if c is None)
        return {**base, "text": f"{subject}: cannot be compared, the {lacking} result is missing.",
                "values": None, "difference": None, "direction": None, "within_noise": None,
                "consistent_with_paper": None}
    diff = float(a["accuracy"]) - float(b["accuracy"])
    direction = _direction(diff)
    overlap = intervals_overlap(a, b)
    pa, pb = _num(a.get("paper_accuracy")), _num(b.get("paper_accuracy"))
    paper_diff = pa - pb if pa is not None and pb is not None else None
    up, down, tie = verbs
    if direction == 0:
        core = f"{tie} ({a_name} {a['accuracy']:.2f}% vs {b_name} {b['accuracy']:.2f}%)"
    else:
        core = (f"{up if direction > 0 else down} by {abs(diff):.2f} points "
                f"({a_name} {a['accuracy']:.2f}% vs {b_name} {b['accuracy']:.2f}%)")
    paper_text, same = _paper_clause(paper_diff, diff)
    return {**base, "text": f"{subject}: {core}; {_noise_clause(overlap)}.{paper_text}",
            "values": {a_name: float(a["accuracy"]), b_name: float(b["accuracy"]),
                       f"{a_name} ci95": [_num(a["ci_low"]), _num(a["ci_high"])],
                       f"{b_name} ci95": [_num(b["ci_low"]), _num(b["ci_high"])]},
            "difference": diff, "direction": {1: "up", -1: "down", 0: "none"}[direction],
            "within_noise": overlap, "paper_difference": paper_diff, "consistent_with_paper": same}


def _final_train_length(collected: dict | None, key: str, variant: str) -> float | None:
    """Mean ``mean_completion_length`` over the last smoothing window of training, averaged over seeds."""
    if not collected:
        return None
    vals = []
    for r in collected["runs"]:
        df = r.get("steps")
        if r["benchmark"] == key and r["variant"] == variant and df is not None and "mean_completion_length" in df:
            s = df.sort_values("step")["mean_completion_length"].dropna() if "step" in df \
                else df["mean_completion_length"].dropna()
            if len(s):
                vals.append(float(s.tail(plots.smoothing_window(len(s))).mean()))
    return float(np.mean(vals)) if vals else None


def _claim(fid, evidence: list[dict], rule: str, sign: int, checked_of: int, synthetic: bool) -> dict:
    usable = [f for f in evidence if f.get("difference") is not None]
    paper = PAPER_CLAIMS[fid]
    if not usable:
        return {"id": fid, "group": "paper", "paper_claim": paper, "rule": rule, "evidence": [f["id"] for f in evidence],
                "values": None, "n_agree": 0, "n_checked": 0, "n_within_noise": 0, "consistent_with_paper": None,
                "text": f"Paper: {paper}. Ours: cannot be checked, the needed results are missing.",
                "note": "different model and data: only the pattern is compared" if synthetic else None}
    agree = [f for f in usable if _direction(f["difference"]) == sign]
    noisy = sum(1 for f in usable if f.get("within_noise"))
    if rule == "majority":
        ok = len(agree) * 2 > len(usable)
        need = "more than half of them"
    else:
        ok = len(agree) == len(usable)
        need = "all of them"
    word = {1: "higher", -1: "lower"}[sign]
    diffs = ", ".join(f"{f['label']} {f['difference']:+.2f}" for f in usable)
    partial = f" (checked on {len(usable)} of {checked_of} benchmarks)" if len(usable) < checked_of else ""
    text = (f"Paper: {paper}. Ours: {len(agree)} of {len(usable)} differences point that way ({diffs} points; "
            f"{noisy} of them within noise){partial}; the rule needs {need} to be {word}: "
            f"{'consistent' if ok else 'not consistent'} with the paper.")
    return {"id": fid, "group": "paper", "paper_claim": paper, "rule": rule, "evidence": [f["id"] for f in usable],
            "values": {f["label"]: f["difference"] for f in usable}, "n_agree": len(agree), "n_checked": len(usable),
            "n_within_noise": noisy, "consistent_with_paper": ok, "text": text,
            "note": "different model and data: only the pattern is compared" if synthetic else None}


def findings(table: pd.DataFrame, collected: dict | None = None, study: dict | None = None) -> list[dict]:
    """Sentences generated from the numbers (rules in docs/report.md), each a dict with ``id``, ``group``,
    ``text``, ``values``, ``difference`` (points), ``within_noise`` and ``consistent_with_paper``.

    Groups: ``think`` (think vs no think per method and benchmark), ``rft_vs_sft`` (per benchmark and
    mode), ``length_reward`` (RFT with vs without the length reward, think mode, per benchmark with an
    ``rft_length`` variant) and ``paper`` (the paper's six claims, checked on these numbers).
    """
    study = study if study is not None else (collected or {}).get("study") or {}
    synthetic = bool(study.get("synthetic", (collected or {}).get("synthetic", False)))
    benches = list(dict.fromkeys(zip(table["benchmark"], table["label"], table["task_kind"]))) if len(table) else []
    out: list[dict] = []
    think: dict[str, list[dict]] = {m: [] for m in TABLE_METHODS}
    for m in TABLE_METHODS:
        for key, label, _ in benches:
            f = _pair_finding(f"think.{m}.{key}", "think", table, key, label, (m, "think"), (m, "no_think"),
                              "w/ think", "w/o think", f"{METHOD_LABELS[m]} on {label}",
                              ("thinking helps accuracy", "thinking hurts accuracy", "thinking makes no difference"),
                              {"method": m})
            think[m].append(f)
            out.append(f)
    rft_sft: dict[str, list[dict]] = {mode: [] for mode in MODES}
    for key, label, _ in benches:
        for mode in MODES:
            f = _pair_finding(f"rft_vs_sft.{key}.{mode}", "rft_vs_sft", table, key, label, ("rft", mode),
                              ("sft", mode), "RFT", "SFT", f"{label}, {MODE_LABELS[mode]}",
                              ("RFT beats SFT", "RFT trails SFT", "RFT and SFT tie"), {"mode": mode})
            rft_sft[mode].append(f)
            out.append(f)
    length: dict[str, list[dict]] = {}
    for key, label, kind in benches:
        if not ((table["benchmark"] == key) & (table["method"] == "rft_length")).any():
            continue
        f = _pair_finding(f"length_reward.{key}", "length_reward", table, key, label, ("rft_length", "think"),
                          ("rft", "think"), "RFT + length reward", "RFT", f"{label} ({kind}), w/ think",
                          ("the length reward raises final accuracy", "the length reward lowers final accuracy",
                           "the length reward leaves final accuracy unchanged"), {"task_kind": kind})
        f.pop("paper_difference", None)
        expected = {"reasoning": 1, "perception": -1}.get(kind)
        f["consistent_with_paper"] = (None if expected is None or f["difference"] is None
                                      else _direction(f["difference"]) == expected)
        a, b = _cell(table, key, "rft_length", "think"), _cell(table, key, "rft", "think")
        tok_l = _num(a.get("mean_response_tokens")) if a else None
        tok_r = _num(b.get("mean_response_tokens")) if b else None
        tr_l, tr_r = _final_train_length(collected, key, "rft_length"), _final_train_length(collected, key, "rft")
        f["response_tokens"] = {"eval": {"rft_length": tok_l, "rft": tok_r},
                                "end_of_training": {"rft_length": tr_l, "rft": tr_r}}
        extra = []
        if tok_l is not None and tok_r is not None:
            change = "longer" if tok_l > tok_r else ("shorter" if tok_l < tok_r else "as long")
            extra.append(f"evaluation responses are {change} with the length reward "
                         f"({tok_l:.0f} vs {tok_r:.0f} tokens on average)")
        if tr_l is not None and tr_r is not None:
            extra.append(f"at the end of training (mean of the last logged steps), {tr_l:.0f} vs {tr_r:.0f} tokens")
        if extra and f["difference"] is not None:
            f["text"] += " Response length: " + "; ".join(extra) + "."
        length.setdefault(kind, []).append(f)
        out.append(f)
    n = len(benches)
    out.append(_claim("paper.think_hurts_training_free", think["training_free"], "majority", -1, n, synthetic))
    out.append(_claim("paper.think_hurts_sft", think["sft"], "majority", -1, n, synthetic))
    out.append(_claim("paper.think_helps_rft", think["rft"], "majority", 1, n, synthetic))
    out.append(_claim("paper.rft_beats_sft_with_think", rft_sft["think"], "all", 1, n, synthetic))
    out.append(_claim("paper.length_reward_helps_reasoning", length.get("reasoning", []), "all", 1,
                      sum(1 for b in benches if b[2] == "reasoning"), synthetic))
    out.append(_claim("paper.length_reward_hurts_perception", length.get("perception", []), "all", -1,
                      sum(1 for b in benches if b[2] == "perception"), synthetic))
    return out


# ----------------------------------------------------------------------------------------------
# Figure data
# ----------------------------------------------------------------------------------------------

def _mean_steps(frames: list[pd.DataFrame]) -> pd.DataFrame | None:
    frames = [f for f in frames if f is not None and "step" in f]
    if not frames:
        return None
    if len(frames) == 1:
        return frames[0]
    num = [f.select_dtypes("number") for f in frames]
    return pd.concat(num).groupby("step", as_index=False).mean()


def length_curves(collected: dict) -> dict[str, dict[str, pd.DataFrame]]:
    """Figure 2's data: ``{benchmark label: {"RFT": steps, "RFT + length reward": steps}}`` (seed means)."""
    out = {}
    for key, info in collected["benchmarks"].items():
        per = {}
        for variant in ("rft", "rft_length"):
            df = _mean_steps([r["steps"] for r in collected["runs"]
                              if r["benchmark"] == key and r["variant"] == variant and r["steps"] is not None])
            if df is not None:
                per[METHOD_LABELS[variant]] = df
        if METHOD_LABELS["rft_length"] in per:
            out[info["label"]] = per
    return out


def select_examples(a: list[dict], b: list[dict], k: int = FIGURE1_EXAMPLES, mode: str = "think") -> list[str]:
    """Ids for Figure 1: inputs that both runs answered (``mode``, rotation 0); first up to ``k // 2``
    where exactly one of the two is correct, then the rest in id order.

    >>> a = [{"id": i, "mode": "think", "correct": c} for i, c in [("x1", 1), ("x2", 0), ("x3", 1)]]
    >>> b = [{"id": i, "mode": "think", "correct": c} for i, c in [("x1", 1), ("x2", 1), ("x3", 1)]]
    >>> select_examples(a, b, k=2)
    ['x2', 'x1']
    """
    def index(rows):
        return {str(r.get("id")): r for r in rows if r.get("mode") == mode and not r.get("rotation")}

    ia, ib = index(a), index(b)
    common = sorted(set(ia) & set(ib))
    differ = [i for i in common if bool(ia[i].get("correct")) != bool(ib[i].get("correct"))]
    chosen = differ[: k // 2]
    chosen += [i for i in common if i not in chosen][: k - len(chosen)]
    return chosen


def _png_b64(path: Path) -> str | None:
    try:
        return base64.b64encode(path.read_bytes()).decode("ascii")
    except OSError:
        return None


def _lookup_inputs(run_dir: Path, ids: list[str]) -> dict[str, dict]:
    """Questions, choices and the first image of some ids, re-loaded from the evaluation's benchmark.

    Only for synthetic benchmarks or evaluations of at most LOOKUP_MAX_ROWS rows; any problem gives {}.
    """
    try:
        if (run_dir / "eval" / "config.yaml").is_file():
            cfg = yaml.safe_load((run_dir / "eval" / "config.yaml").read_text(encoding="utf-8")) or {}
        else:  # what the study injected into the run's notebook
            cfg = (yaml.safe_load((run_dir / "parameters.yaml").read_text(encoding="utf-8")) or {}).get("run") or {}
        data = cfg.get("data") or {}
        name, limit = str(data.get("name", "")), data.get("eval_limit")
        if not name.startswith("synthetic_") and not (isinstance(limit, int) and limit <= LOOKUP_MAX_ROWS):
            return {}
        from ..data import load_benchmark

        ds = load_benchmark(name, data.get("eval_split", "test"), root=data.get("root"), limit=limit,
                            seed=int(cfg.get("seed", 0)), **(data.get("options") or {}))
        wanted, out = set(ids), {}
        for i, rid in enumerate(ds["id"]):
            if rid in wanted:
                row = ds[i]
                img = None
                if row.get("images"):
                    import io

                    buf = io.BytesIO()
                    row["images"][0].convert("RGB").save(buf, format="PNG")
                    img = base64.b64encode(buf.getvalue()).decode("ascii")
                out[rid] = {"question": row.get("question"), "choices": list(row.get("choices") or []),
                            "image_b64": img}
        return out
    except Exception:  # noqa: BLE001 - inputs are a nicety; the report must not fail on them
        return {}


def figure1_examples(collected: dict, k: int = FIGURE1_EXAMPLES, lookup_inputs: bool = True) -> dict | None:
    """Figure 1's data: think-mode responses of RFT without vs with the length reward, same inputs.

    Picks the reasoning benchmark first (then perception, then any) with both variants finished, and
    the lowest seed both have. Returns ``{benchmark, label, seed, examples: [...]}`` or None.
    """
    order = {"reasoning": 0, "perception": 1}
    for key, info in sorted(collected["benchmarks"].items(), key=lambda kv: order.get(kv[1]["task_kind"], 2)):
        rft = {r["seed"]: r for r in _finished(collected, key, "rft") if r["predictions_path"]}
        rl = {r["seed"]: r for r in _finished(collected, key, "rft_length") if r["predictions_path"]}
        common = sorted(set(rft) & set(rl))
        if not common:
            continue
        seed = common[0]
        pa, pb = read_predictions(rft[seed]["predictions_path"]), read_predictions(rl[seed]["predictions_path"])
        ids = select_examples(pa, pb, k)
        if not ids:
            continue
        ia = {str(r.get("id")): r for r in pa if r.get("mode") == "think" and not r.get("rotation")}
        ib = {str(r.get("id")): r for r in pb if r.get("mode") == "think" and not r.get("rotation")}
        need = [i for i in ids if not ia[i].get("question")]
        looked = _lookup_inputs(Path(rl[seed]["path"]), need) if (need and lookup_inputs) else {}
        examples = []
        for i in ids:
            inp = looked.get(i, {})
            img = None
            for run in (rl[seed], rft[seed]):
                base = (Path(run["path"]) / "eval" / "examples").resolve()
                cand = (base / f"{i}.png").resolve()
                if cand.is_file() and base in cand.parents:
                    img = _png_b64(cand)
                    break
            examples.append({
                "id": i, "question": ia[i].get("question") or inp.get("question"),
                "choices": ia[i].get("choices") or inp.get("choices"),
                "solution": ia[i].get("solution"), "image_b64": img or inp.get("image_b64"),
                "rft": {f: ia[i].get(f) for f in ("response", "answer", "correct", "response_tokens")},
                "rft_length": {f: ib[i].get(f) for f in ("response", "answer", "correct", "response_tokens")},
            })
        return {"benchmark": key, "label": info["label"], "seed": seed, "examples": examples}
    return None


# ----------------------------------------------------------------------------------------------
# HTML
# ----------------------------------------------------------------------------------------------

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;max-width:1100px;
margin:2em auto;padding:0 1em;line-height:1.45;color:#222}
h1{font-size:1.7em;margin-bottom:.2em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.8em 0;font-size:.92em}
th,td{border:1px solid #bbb;padding:4px 8px;vertical-align:top;text-align:left}
th{background:#f3f3f3}td.num{text-align:right;white-space:nowrap}
tr.paper td{background:#fafafa;color:#555;font-style:italic}
small,.muted{color:#666}.best{font-weight:bold}
.note{background:#fff8e1;border-left:4px solid #f0c000;padding:.5em .8em}
pre{background:#f6f6f6;padding:.6em;overflow:auto;font-size:.85em}
pre.resp{white-space:pre-wrap;max-height:22em;margin:0;background:#fbfbfb}
.ok{color:#1a7f37;font-weight:bold}.bad{color:#c62828;font-weight:bold}
li{margin:.3em 0}img.ex{width:168px;image-rendering:pixelated;display:block;margin:.3em 0}
"""


# Figures drawn inside a closed <details> get their size when it opens.
RESIZE_SCRIPT = ("<script>document.querySelectorAll('details').forEach(function(d){d.addEventListener('toggle',"
                 "function(){if(window.Plotly){d.querySelectorAll('.plotly-graph-div').forEach(function(g){"
                 "window.Plotly.Plots.resize(g);});}});});</script>")


def esc(value) -> str:
    """HTML-escape any value (None becomes an empty string)."""
    return html.escape("" if value is None else str(value), quote=True)


class _Figures:
    """Renders figures as HTML divs; plotly.js is inlined with the first one only."""

    def __init__(self):
        self.count = 0

    def html(self, fig) -> str:
        height = fig.layout.height
        out = fig.to_html(full_html=False, include_plotlyjs=self.count == 0,
                          config={"displaylogo": False, "responsive": True},
                          default_height=f"{int(height)}px" if height else "500px")
        self.count += 1
        return out


def _fmt(v, spec=".2f", missing="—") -> str:
    v = _num(v) if not isinstance(v, str) else v
    return missing if v is None else format(v, spec)


def _duration(seconds) -> str:
    s = _num(seconds)
    if s is None:
        return "—"
    h, rem = divmod(int(round(s)), 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}"


def _table1_html(table: pd.DataFrame, collected: dict, source: str | None) -> str:
    synthetic = collected["synthetic"]
    head = ["<table class='t1'><thead><tr><th rowspan='2'>Benchmark</th><th rowspan='2'>Numbers</th>"]
    head += [f"<th colspan='2'>{esc(METHOD_LABELS[m])}</th>" for m in TABLE_METHODS]
    head.append("</tr><tr>" + "".join(f"<th>{esc(MODE_LABELS[md])}</th>" for _ in TABLE_METHODS for md in MODES))
    head.append("</tr></thead><tbody>")
    has_paper = table["paper_accuracy"].notna().any() if len(table) else False
    paper_name = "Paper (different model and data)" if synthetic else "Paper"
    body = []
    for key, info in collected["benchmarks"].items():
        cells = {(m, md): _cell(table, key, m, md) for m in TABLE_METHODS for md in MODES}
        best = max((c["accuracy"] for c in cells.values() if c), default=None)
        ns = sorted({c["n"] for c in cells.values() if c and c.get("n") is not None})
        n_text = f"<br><small>n = {esc(', '.join(str(n) for n in ns))}</small>" if ns else ""
        rowspan = 2 if has_paper else 1
        tds = []
        for m in TABLE_METHODS:
            for md in MODES:
                c = cells[(m, md)]
                if c is None:
                    tds.append("<td class='num missing'>—</td>")
                    continue
                cls = "num best" if best is not None and c["accuracy"] == best else "num"
                main = f"{c['accuracy']:.2f}"
                if c["n_seeds"] > 1:
                    main += f" ± {_fmt(c['accuracy_std'])}"
                ci = f"[{_fmt(c['ci_low'])}, {_fmt(c['ci_high'])}]"
                seeds = f" · {int(c['n_seeds'])} seeds" if c["n_seeds"] > 1 else ""
                if c["n_seeds"] < c["n_seeds_expected"]:
                    seeds = f" · {int(c['n_seeds'])} of {int(c['n_seeds_expected'])} seeds"
                tds.append(f"<td class='{cls}'>{main}<br><small>{ci}{seeds}</small></td>")
        body.append(f"<tr><td rowspan='{rowspan}'><b>{esc(info['label'])}</b>{n_text}</td><td>Ours</td>"
                    + "".join(tds) + "</tr>")
        if has_paper:
            sub = table[table["benchmark"] == key]
            ptd = []
            for m in TABLE_METHODS:
                for md in MODES:
                    v = sub[(sub["method"] == m) & (sub["mode"] == md)]["paper_accuracy"]
                    ptd.append(f"<td class='num'>{_fmt(v.iloc[0] if len(v) else None)}</td>")
            body.append(f"<tr class='paper'><td>{esc(paper_name)}</td>" + "".join(ptd) + "</tr>")
    body.append("</tbody></table>")
    notes = ["<p class='muted'>Accuracy (%) on the evaluation split. <b>Ours</b>: the accuracy of one run, or "
             "with several seeds the mean over seeds ± the standard deviation across seeds; the bracket is "
             "the 95% bootstrap interval (with several seeds: the mean of the per-seed interval bounds). "
             "Bold: our best cell of the row.</p>"]
    if has_paper:
        src = esc(source or "the paper's Table 1")
        if synthetic:
            notes.append(f"<p class='note'><b>Paper rows</b> are the paper's own numbers ({src}): a different "
                         "model on the real benchmarks, while ours come from synthetic stand-in benchmarks and "
                         "the model of this study. Only the pattern (which cell is higher) is comparable.</p>")
        else:
            notes.append(f"<p class='note'><b>Paper rows</b> are the paper's own numbers ({src}), not ours.</p>")
    else:
        notes.append("<p class='muted'>study.yaml has no reference numbers: the paper's Table 1 is not shown.</p>")
    return "".join(head) + "".join(body) + "".join(notes)


def _missing_html(collected: dict, table: pd.DataFrame) -> str:
    miss = collected["missing"]
    cells = table[table["n_seeds"] == 0] if len(table) else table
    if not miss and cells.empty:
        return "<p>Every expected run finished.</p>"
    out = []
    if not cells.empty:
        names = [f"{r.label} / {METHOD_LABELS.get(r.method, r.method)} / {MODE_LABELS[r.mode]}"
                 for r in cells.itertuples()]
        out.append("<p><b>Missing cells</b> (shown as —): " + esc("; ".join(names)) + ".</p>")
    if miss:
        out.append("<table><tr><th>benchmark</th><th>variant</th><th>seed</th><th>status</th><th>why</th></tr>")
        for m in miss:
            out.append(f"<tr><td>{esc(m['label'])}</td><td>{esc(m['variant'])}</td><td>{esc(m['seed'])}</td>"
                       f"<td>{esc(m['status'])}</td><td>{esc(m['reason'])}</td></tr>")
        out.append("</table>")
    return "<h3>Missing runs</h3>" + "".join(out)


def _figure1_html(fig1: dict | None) -> str:
    if not fig1:
        return ("<p>No benchmark has finished RFT runs both with and without the length reward with "
                "predictions, so there are no examples to show.</p>")
    out = [f"<p>{esc(fig1['label'])}, seed {esc(fig1['seed'])}, think mode: the same inputs answered by RFT "
           "without and with the length reward. Chosen: first up to half where exactly one of the two is right, "
           "then the rest in id order.</p>",
           "<table class='fig1'><tr><th style='width:24%'>Input</th><th>RFT (no length reward)</th>"
           "<th>RFT + length reward</th></tr>"]
    for ex in fig1["examples"]:
        left = [f"<small>{esc(ex['id'])}</small>"]
        if ex.get("image_b64"):
            left.append(f"<img class='ex' alt='input image' src='data:image/png;base64,{esc(ex['image_b64'])}'>")
        left.append(f"<p><b>Question:</b> {esc(ex.get('question') or '(not recorded with the predictions)')}</p>")
        if ex.get("choices"):
            left.append(f"<p><b>Choices:</b> {esc(' | '.join(str(c) for c in ex['choices']))}</p>")
        left.append(f"<p><b>Solution:</b> {esc(ex.get('solution'))}</p>")
        cols = []
        for v in ("rft", "rft_length"):
            r = ex[v]
            mark = "<span class='ok'>correct</span>" if r.get("correct") else "<span class='bad'>wrong</span>"
            cols.append(f"<td><pre class='resp'>{esc(r.get('response'))}</pre><p>Answer: <b>{esc(r.get('answer'))}"
                        f"</b> — {mark} <small>({esc(r.get('response_tokens'))} tokens)</small></p></td>")
        out.append(f"<tr><td>{''.join(left)}</td>{''.join(cols)}</tr>")
    out.append("</table>")
    return "".join(out)


def _length_table_html(table: pd.DataFrame, collected: dict) -> str:
    keys = [k for k in collected["benchmarks"] if ((table["benchmark"] == k) & (table["method"] == "rft_length")).any()]
    if not keys:
        return ""
    out = ["<table><tr><th>benchmark</th><th>variant</th><th>w/o think (%)</th><th>w/ think (%)</th>"
           "<th>mean response tokens (w/ think)</th></tr>"]
    for k in keys:
        for v in ("rft", "rft_length"):
            cells = [_cell(table, k, v, md) for md in MODES]
            txt = [f"{c['accuracy']:.2f} <small>[{_fmt(c['ci_low'])}, {_fmt(c['ci_high'])}]</small>" if c else "—"
                   for c in cells]
            tok = _fmt(cells[1]["mean_response_tokens"], ".0f") if cells[1] else "—"
            out.append(f"<tr><td>{esc(collected['benchmarks'][k]['label'])}</td><td>{esc(METHOD_LABELS[v])}</td>"
                       f"<td class='num'>{txt[0]}</td><td class='num'>{txt[1]}</td><td class='num'>{tok}</td></tr>")
    out.append("</table><p class='muted'>Final evaluation of the trained models (the figure shows training).</p>")
    return "".join(out)


def _findings_html(found: list[dict], synthetic: bool) -> str:
    titles = {"think": "Thinking (w/ think vs w/o think), per method",
              "rft_vs_sft": "RFT vs SFT, per benchmark and mode",
              "length_reward": "The length reward (RFT + length reward vs RFT, final evaluation)"}
    out = []
    for group, title in titles.items():
        items = [f for f in found if f["group"] == group]
        if items:
            out.append(f"<h3>{esc(title)}</h3><ul>" + "".join(f"<li>{esc(f['text'])}</li>" for f in items) + "</ul>")
    claims = [f for f in found if f["group"] == "paper"]
    intro = ("<p>Each claim of the paper is checked on our numbers by the rule in its sentence (signs of the "
             "differences; a claim is not weakened by noise, but the sentence says how many differences are "
             "within noise).")
    if synthetic:
        intro += " Our numbers come from a different model and synthetic data, so only the pattern is compared."
    out.append("<h3>Comparison with the paper's findings</h3>" + intro + "</p>")
    out.append("<table><tr><th>paper's finding</th><th>our numbers</th><th>verdict</th></tr>")
    for c in claims:
        v = c["consistent_with_paper"]
        verdict = ("<span class='ok'>consistent</span>" if v else "<span class='bad'>not consistent</span>") \
            if v is not None else "<span class='muted'>cannot tell</span>"
        out.append(f"<tr><td>{esc(c['paper_claim'])}</td><td>{esc(c['text'])}</td><td>{verdict}</td></tr>")
    out.append("</table>")
    return "".join(out)


def _provenance_summary(collected: dict) -> dict:
    packages: dict[str, set] = {}
    commits: dict[str, int] = {}
    hardware: dict[str, int] = {}
    pythons: set = set()
    for r in collected["runs"]:
        p = r.get("provenance")
        if not p:
            continue
        for name, ver in (p.get("packages") or {}).items():
            packages.setdefault(str(name), set()).add(str(ver))
        if p.get("git_commit"):
            commits[str(p["git_commit"])] = commits.get(str(p["git_commit"]), 0) + 1
        if p.get("hardware"):
            hw = json.dumps(p["hardware"], sort_keys=True, default=str)
            hardware[hw] = hardware.get(hw, 0) + 1
        if p.get("python"):
            pythons.add(str(p["python"]))
    return {"packages": {k: sorted(v) for k, v in sorted(packages.items())}, "git_commits": commits,
            "hardware": [{"hardware": json.loads(h), "runs": n} for h, n in hardware.items()],
            "python": sorted(pythons)}


def _timings(collected: dict) -> dict:
    rows = []
    for r in collected["runs"]:
        td = r.get("train_done") or {}
        m = r.get("metrics") or {}
        rows.append({"benchmark": r["benchmark"], "label": r["label"], "variant": r["variant"], "seed": r["seed"],
                     "status": r["status"], "wall_seconds": r["wall_seconds"],
                     "train_seconds": td.get("train_seconds") if isinstance(td.get("train_seconds"), (int, float)) else None,
                     "steps": td.get("steps"), "mean_step_seconds": td.get("mean_step_seconds"),
                     "eval_seconds": m.get("seconds"), "samples_per_second": m.get("samples_per_second"),
                     "finished": (r.get("done") or {}).get("finished")})
    total = sum(t["wall_seconds"] for t in rows if t["wall_seconds"] is not None)
    return {"per_run": rows, "total_wall_seconds": total,
            "runs_with_wall_time": sum(1 for t in rows if t["wall_seconds"] is not None)}


def _how_html(collected: dict, prov: dict, timings: dict) -> str:
    out = ["<h3>Study parameters (study.yaml)</h3>", f"<pre>{esc(collected['study_yaml'])}</pre>",
           f"<p><b>Seeds:</b> {esc(', '.join(str(s) for s in collected['seeds']) or '—')}</p>"]
    commits = prov["git_commits"]
    out.append("<p><b>Git commit:</b> " + (esc("; ".join(f"{c} ({n} runs)" for c, n in commits.items()))
                                            if commits else "not recorded") + "</p>")
    if prov["python"]:
        out.append(f"<p><b>Python:</b> {esc(', '.join(prov['python']))}</p>")
    if prov["hardware"]:
        out.append("<p><b>Hardware:</b></p><ul>" + "".join(
            f"<li>{esc(', '.join(f'{k}: {v}' for k, v in h['hardware'].items()))} <small>({h['runs']} runs)</small></li>"
            for h in prov["hardware"]) + "</ul>")
    if prov["packages"]:
        out.append("<table><tr><th>package</th><th>version(s) in the runs</th></tr>" + "".join(
            f"<tr><td>{esc(k)}</td><td>{esc(', '.join(v))}</td></tr>" for k, v in prov["packages"].items())
            + "</table>")
    else:
        out.append("<p>No run recorded its package versions (eval/provenance.json).</p>")
    out.append(f"<p class='muted'>Report built by vrft {esc(__version__)} with Python {esc(sys.version.split()[0])}, "
               f"pandas {esc(pd.__version__)}, plotly {esc(_plotly_version())}.</p>")
    out.append("<h3>Wall time per run</h3><table><tr><th>benchmark</th><th>variant</th><th>seed</th><th>status</th>"
               "<th>wall</th><th>train (s)</th><th>steps</th><th>s / step</th><th>eval (s)</th><th>samples / s</th>"
               "<th>finished</th></tr>")
    for t in timings["per_run"]:
        out.append(f"<tr><td>{esc(t['label'])}</td><td>{esc(t['variant'])}</td><td>{esc(t['seed'])}</td>"
                   f"<td>{esc(t['status'])}</td><td class='num'>{_duration(t['wall_seconds'])}</td>"
                   f"<td class='num'>{_fmt(t['train_seconds'], '.1f')}</td><td class='num'>{esc(t['steps'] or '—')}</td>"
                   f"<td class='num'>{_fmt(t['mean_step_seconds'], '.3f')}</td>"
                   f"<td class='num'>{_fmt(t['eval_seconds'], '.1f')}</td>"
                   f"<td class='num'>{_fmt(t['samples_per_second'], '.2f')}</td><td>{esc(t['finished'] or '—')}</td></tr>")
    out.append(f"</table><p><b>Total wall time</b> (sum over {timings['runs_with_wall_time']} finished runs): "
               f"{_duration(timings['total_wall_seconds'])} ({timings['total_wall_seconds']:.0f} s).</p>")
    inv = collected.get("last_invocation") or {}
    if isinstance(inv.get("total_seconds"), (int, float)):
        out.append(f"<p>The last invocation of the study ran {len(inv.get('ran') or [])} run(s) and took "
                   f"{_duration(inv['total_seconds'])} in all ({esc(len(inv.get('failures') or []))} failed); "
                   f"peak memory {esc(inv.get('peak_rss_mb', '—'))} MB, output folder {esc(inv.get('output_mb', '—'))} MB.</p>")
    return "".join(out)


def _plotly_version() -> str:
    import plotly

    return plotly.__version__


def _summary_html(collected: dict) -> str:
    b = ", ".join(f"{v['label']} ({k}, {v['task_kind']})" for k, v in collected["benchmarks"].items())
    finished = sum(1 for r in collected["runs"] if r["status"] == "finished")
    text = (f"Study <b>{esc(collected['name'])}</b>: model {esc(collected['model'] or 'not stated')} on "
            f"{esc(b or 'no benchmarks')}; seeds {esc(', '.join(str(s) for s in collected['seeds']) or '—')}. "
            f"Each benchmark is run training-free, after SFT and after RFT (GRPO)"
            + (", and after RFT with the length reward where listed" if any(
                r["variant"] == "rft_length" for r in collected["runs"]) else "")
            + f"; every model is evaluated without and with thinking. {finished} of {len(collected['runs'])} runs "
              "finished. ")
    if collected["synthetic"]:
        text += ("<b>The data are synthetic</b> stand-ins for the paper's benchmarks and the model is not the "
                 "paper's: compare the pattern with the paper, not the numbers.")
    else:
        text += "The data are the real benchmarks."
    desc = collected.get("description")
    return f"<p>{text}</p>" + (f"<p class='muted'>{esc(desc)}</p>" if desc else "")


def _training_figures(collected: dict, figs: _Figures) -> str:
    out = []
    for key, info in collected["benchmarks"].items():
        per = {}
        for variant in ("sft", "rft", "rft_length"):
            df = _mean_steps([r["steps"] for r in collected["runs"]
                              if r["benchmark"] == key and r["variant"] == variant and r["steps"] is not None])
            if df is not None:
                per[METHOD_LABELS[variant]] = df
        if per:
            longest = max(len(df) for df in per.values())
            out.append(figs.html(plots.training_curves(
                per, columns=("reward", "accuracy_reward", "mean_completion_length", "loss", "kl"),
                smooth=plots.smoothing_window(longest), title=f"Training curves: {info['label']}")))
    if not out:
        return ""
    return ("<details><summary>Training curves of every trained run (reward, accuracy reward, length, loss, KL; "
            "seed means)</summary>" + "".join(out) + "</details>")


# ----------------------------------------------------------------------------------------------
# Writing
# ----------------------------------------------------------------------------------------------

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


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def render_html(collected: dict, table: pd.DataFrame, found: list[dict], fig1: dict | None,
                prov: dict, timings: dict) -> str:
    """The report page as one HTML string."""
    figs = _Figures()
    source = ((collected["study"].get("reference") or {}) if isinstance(collected["study"].get("reference"), dict)
              else {}).get("source")
    curves = length_curves(collected)
    window = plots.smoothing_window(max((len(d) for v in curves.values() for d in v.values()), default=0))
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{esc(collected['name'])}: RFT vs SFT on visual tasks</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>{esc(collected['name'])}: reinforcement vs supervised fine-tuning on visual tasks</h1>",
        "<p class='muted'>A reproduction of <i>On the Suitability of Reinforcement Fine-Tuning to Visual Tasks</i> "
        f"(arXiv 2504.05682). Generated {esc(_dt.datetime.now().isoformat(timespec='seconds'))}.</p>",
        _summary_html(collected),
        "<h2 id='table1'>Table 1</h2>",
        _table1_html(table, collected, source),
        figs.html(plots.table1_figure(table)),
        _missing_html(collected, table),
        "<h2 id='figure1'>Figure 1</h2><p>Qualitative reasoning with and without the length reward.</p>",
        _figure1_html(fig1),
        "<h2 id='figure2'>Figure 2</h2>",
        f"<p>Accuracy reward and mean response length over training steps, RFT with vs without the length reward, "
        f"for each benchmark that has an RFT + length reward run. Lines: trailing rolling mean over {window} "
        "step(s) (a tenth of the steps, at most 10); faint lines: the raw values; with several seeds, the seed "
        "mean at each step.</p>",
        figs.html(plots.length_reward_figure(curves, window=window)) if curves else
        "<p>No benchmark has an RFT + length reward run with training steps.</p>",
        _length_table_html(table, collected),
        _training_figures(collected, figs),
        "<h2 id='findings'>Findings</h2>",
        "<p class='muted'>Generated from the numbers above. Differences are in percentage points; "
        "\"within noise\" means the two 95% intervals overlap.</p>",
        _findings_html(found, collected["synthetic"]),
        "<h2 id='how'>How it was made</h2>",
        _how_html(collected, prov, timings),
        RESIZE_SCRIPT,
        "</body></html>",
    ]
    return "\n".join(parts)


def build_report(study_dir, out_dir=None, lookup_inputs: bool = True) -> dict[str, Path]:
    """Write ``report.html``, ``table1.csv`` and ``metrics.json`` for a study folder.

    Args:
        study_dir: the study folder (with study.yaml and runs/).
        out_dir: where to write (default: the study folder).
        lookup_inputs: for Figure 1, re-load questions and images from the benchmark when the
            predictions lack them (synthetic benchmarks, or small real evaluations).

    Returns:
        ``{"report": path, "table1": path, "metrics": path}``.

    Raises:
        VrftError: the folder has no study.yaml. Unfinished or failed runs are listed, not fatal.
    """
    collected = collect_study(study_dir)
    table = table1(collected)
    found = findings(table, collected, collected["study"])
    fig1 = figure1_examples(collected, lookup_inputs=lookup_inputs)
    prov = _provenance_summary(collected)
    timings = _timings(collected)
    out = Path(out_dir) if out_dir is not None else Path(study_dir)
    page = render_html(collected, table, found, fig1, prov, timings)
    curves = length_curves(collected)
    metrics = {
        "study": {"name": collected["name"], "description": collected.get("description"),
                  "synthetic": collected["synthetic"], "model": collected["model"], "seeds": collected["seeds"],
                  "benchmarks": collected["benchmarks"],
                  "reference": (collected["study"].get("reference") or {}) if isinstance(
                      collected["study"].get("reference"), dict) else {}},
        "table1": table,
        "findings": found,
        "runs": [{**{k: r[k] for k in ("benchmark", "label", "task_kind", "variant", "seed", "status", "reason",
                                       "path", "wall_seconds", "done", "train_done")},
                  "modes": (r["metrics"] or {}).get("modes"),
                  "eval_seconds": (r["metrics"] or {}).get("seconds"),
                  "samples_per_second": (r["metrics"] or {}).get("samples_per_second"),
                  "train_steps": None if r["steps"] is None else int(len(r["steps"]))} for r in collected["runs"]],
        "missing": collected["missing"],
        "missing_cells": table[table["n_seeds"] == 0][["benchmark", "label", "method", "mode"]] if len(table) else [],
        "figure1": None if fig1 is None else {
            "benchmark": fig1["benchmark"], "seed": fig1["seed"],
            "examples": [{k: v for k, v in ex.items() if k != "image_b64"} for ex in fig1["examples"]]},
        "figure2": {"benchmarks": list(curves),
                    "window": plots.smoothing_window(max((len(d) for v in curves.values() for d in v.values()),
                                                         default=0))},
        "provenance": prov,
        "timings": timings,
        "generated": _dt.datetime.now().isoformat(timespec="seconds"),
        "vrft_version": __version__,
    }
    paths = {"report": out / "report.html", "table1": out / "table1.csv", "metrics": out / "metrics.json"}
    _atomic_write(paths["table1"], table.to_csv(index=False))
    _atomic_write(paths["metrics"], json.dumps(_jsonable(metrics), indent=2, default=str))
    _atomic_write(paths["report"], page)
    return paths


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vrft_lib.report",
                                     description="Render a study folder into report.html, table1.csv, metrics.json.")
    parser.add_argument("study_dir", help="the study folder (holds study.yaml and runs/)")
    parser.add_argument("--out", help="output folder (default: the study folder)")
    parser.add_argument("--no-lookup", action="store_true",
                        help="do not re-load benchmark questions/images for Figure 1")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks for errors")
    ns = parser.parse_args(argv)
    try:
        paths = build_report(ns.study_dir, ns.out, lookup_inputs=not ns.no_lookup)
    except VrftError as e:
        if ns.debug:
            raise
        print(f"error: {e}", file=sys.stderr)
        return 2
    for p in paths.values():
        print(p)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Read a study folder: its study.yaml, every run it expands into (finished or not), and their files.

The layout (see :mod:`vrft_lib.runfolder`)::

    DIR/study.yaml
    DIR/last_invocation.json                           (optional) failures of the last `vrft study`
    DIR/runs/<benchmark>/<variant>/seed<k>/DONE        written last: the run finished
                                          eval/metrics.json, predictions.jsonl, provenance.json
                                          train/steps.csv, train/DONE

The expected runs are :func:`vrft_lib.plan.spec.expected_runs` of the study; run folders found on
disk beside them are listed too. Nothing here fails on a missing or unreadable run file: the run gets
a status and a reason instead. Only regular files are read: a run file that is something else (a FIFO,
which would block its reader for ever, a device, a folder) makes the run ``unreadable``, naming it.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pandas as pd
import yaml

from ..errors import VrftError
from ..files import open_regular, read_json, read_text, regular_file_problem
from ..plan.spec import expected_runs
from ..runfolder import RUNS, STUDY_FILE, read_done, run_path, seed_of
from ..vocab import VARIANTS

# Fallbacks when study.yaml does not give a benchmark's label.
DEFAULT_LABELS = {
    "banner": "Banner-Analysis",
    "synthetic_banner": "Banner-Analysis",
    "fgvc_aircraft": "FGVC-Aircraft",
    "synthetic_aircraft": "FGVC-Aircraft",
    "sat": "SAT",
    "synthetic_spatial": "SAT",
}
MISSING_FIELDS = ("benchmark", "label", "variant", "seed", "status", "reason", "path")


# The files of a finished run folder that the report reads: its up-to-date check covers each of them.
RUN_FILES_READ = (
    "DONE",
    "provenance.json",
    "train/DONE",
    "train/steps.csv",
    "train/provenance.json",
    "eval/metrics.json",
    "eval/predictions.jsonl",
    "eval/provenance.json",
    "train/compute.json",
    "eval/compute.json",
)


def files_read(study_dir) -> list[Path]:
    """The files of a study folder that its report is made from: ``study.yaml`` and, per finished
    run, :data:`RUN_FILES_READ` (whether they exist or not)."""
    d = Path(study_dir)
    done = sorted(d.glob(f"{RUNS}/*/*/seed*/DONE"))
    return [d / STUDY_FILE] + [marker.parent / name for marker in done for name in RUN_FILES_READ]


def read_steps(path) -> pd.DataFrame | None:
    """A ``train/steps.csv`` as a DataFrame; None when it is missing, unreadable or empty."""
    try:
        with open_regular(path) as f:
            df = pd.read_csv(f)
    except (OSError, ValueError, pd.errors.EmptyDataError):
        return None
    return df if not df.empty else None


def read_predictions(path) -> list[dict]:
    """The rows of a ``predictions.jsonl`` (unreadable lines are skipped)."""
    rows = []
    try:
        with open_regular(path, "r", encoding="utf-8") as f:
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


def benchmarks_of(study: dict, runs_dir: Path) -> dict[str, dict]:
    """``{key: {key, label, task_kind}}`` of the study's benchmarks; without any in study.yaml, the
    benchmark folders found under ``runs/``."""
    raw = study.get("benchmarks")
    specs = {str(k): (v if isinstance(v, dict) else {}) for k, v in raw.items()} if isinstance(raw, dict) else {}
    if not specs and runs_dir.is_dir():
        specs = {p.name: {} for p in sorted(runs_dir.iterdir()) if p.is_dir()}
    out = {}
    for key, spec in specs.items():
        label = str(spec.get("label") or DEFAULT_LABELS.get(key, key))
        out[key] = {"key": key, "label": label, "task_kind": task_kind(key, label, spec)}
    return out


def run_keys(study: dict, study_dir: Path, benchmarks) -> list[tuple[str, str, int]]:
    """Every run to list: the study's expected runs and the run folders found on disk, per benchmark,
    variant (the kit's order, then others) and seed."""
    found = set()
    for key in benchmarks:
        for vdir in sorted(p for p in (study_dir / RUNS / key).glob("*") if p.is_dir()):
            found |= {
                (key, vdir.name, s) for s in (seed_of(p.name) for p in vdir.iterdir() if p.is_dir()) if s is not None
            }
    keys = list(dict.fromkeys([(k, v, int(s)) for k, v, s in expected_runs(study) if k in benchmarks] + sorted(found)))
    variants = list(dict.fromkeys([v for v in VARIANTS if any(k[1] == v for k in keys)] + [k[1] for k in keys]))
    bench = list(benchmarks)
    return sorted(keys, key=lambda k: (bench.index(k[0]), variants.index(k[1]), k[2]))


def load_run(path: Path, info: dict, variant: str, seed: int, failures: dict) -> dict:
    """One run's record: its status (``finished``, ``failed``, ``unfinished``, ``no eval``, ``not
    started``), why, and what it wrote (metrics, provenance, steps, DONE markers)."""
    key = info["key"]
    rec = {
        "benchmark": key,
        "label": info["label"],
        "task_kind": info["task_kind"],
        "variant": variant,
        "seed": seed,
        "path": str(path),
        "status": "not started",
        "reason": "no run folder",
        "done": None,
        "wall_seconds": None,
        "metrics": None,
        "provenance": None,
        "train_done": None,
        "steps": None,
        "predictions_path": None,
    }
    if not path.is_dir():
        return rec
    odd = [(name, regular_file_problem(path / name)) for name in RUN_FILES_READ if os.path.lexists(path / name)]
    odd = [(name, problem) for name, problem in odd if problem and problem != "is missing"]
    if odd:
        rec["status"] = "unreadable"
        named = "; ".join(f"'{path / name}' {problem}" for name, problem in odd)
        rec["reason"] = f"{named}: the report reads no file of this run (replace it, or run the run again)"
        return rec
    rec["steps"] = read_steps(path / "train" / "steps.csv")
    rec["train_done"] = read_done(path / "train")
    prov = (
        read_json(path / "eval" / "provenance.json")
        or read_json(path / "provenance.json")
        or read_json(path / "train" / "provenance.json")
    )
    rec["provenance"] = prov if isinstance(prov, dict) else None
    done = read_done(path)
    if done is None:
        logged = failures.get(f"{key}/{variant}/seed{seed}")
        if logged:
            rec["status"] = "failed"
            rec["reason"] = f"failed in the last study invocation: {logged.get('error') or 'error'}"
        else:
            rec["status"], rec["reason"] = "unfinished", "no DONE file (still running, interrupted or failed)"
        return rec
    rec["done"] = done
    wall = done.get("wall_seconds")
    rec["wall_seconds"] = float(wall) if isinstance(wall, (int, float)) else None
    metrics = read_json(path / "eval" / "metrics.json")
    if not isinstance(metrics, dict) or not isinstance(metrics.get("modes"), dict):
        rec["status"], rec["reason"] = "no eval", "DONE but eval/metrics.json is missing or unreadable"
        return rec
    rec["metrics"] = metrics
    if (path / "eval" / "predictions.jsonl").is_file():
        rec["predictions_path"] = str(path / "eval" / "predictions.jsonl")
    rec["status"], rec["reason"] = "finished", ""
    return rec


def read_study_yaml(study_dir: Path) -> tuple[dict, str]:
    """The parsed study.yaml of a study folder and its text. Raises VrftError when there is none."""
    yml = study_dir / STUDY_FILE
    if not yml.is_file():
        raise VrftError(
            f"'{yml}' does not exist: '{study_dir}' is not a study folder. A study folder holds study.yaml and "
            "runs/<benchmark>/<variant>/seed<k>/; create one with `vrft study params/<study>.yaml --out DIR`, "
            "then run `vrft report DIR`."
        )
    try:
        text = read_text(yml)
    except OSError as e:
        raise VrftError(f"'{yml}' cannot be read: {e}. Fix or regenerate the study folder.") from None
    try:
        study = yaml.safe_load(text) or {}
    except yaml.YAMLError as e:
        raise VrftError(f"'{yml}' is not valid YAML ({e}). Fix or regenerate the study folder.") from e
    if not isinstance(study, dict):
        raise VrftError(f"'{yml}' must hold a mapping (name, seeds, benchmarks, ...), not {type(study).__name__}.")
    return study, text


def collect_study(study_dir) -> dict:
    """Read a study folder: its parameters, every expected run (finished or not) and the missing ones.

    Returns a dict with ``study_dir``, ``study`` (the parsed study.yaml), ``study_yaml`` (its text),
    ``name``, ``description``, ``synthetic``, ``model``, ``seeds``, ``benchmarks`` (``{key: {key,
    label, task_kind}}``), ``runs`` (one record per benchmark, variant and seed: ``status``,
    ``reason``, ``metrics``, ``steps`` as a DataFrame, ``provenance``, ``done``, ``train_done``,
    ``predictions_path``; predictions are read on demand with :func:`read_predictions`), ``missing``
    (the runs that are not finished, with why) and ``last_invocation``.

    Raises:
        VrftError: the folder has no readable study.yaml.
    """
    d = Path(study_dir)
    study, text = read_study_yaml(d)
    benchmarks = benchmarks_of(study, d / RUNS)
    invocation = read_json(d / "last_invocation.json")
    invocation = invocation if isinstance(invocation, dict) else None
    failures = {str(f.get("run_id")): f for f in (invocation or {}).get("failures") or [] if isinstance(f, dict)}
    runs = [
        load_run(run_path(d, key, variant, seed), benchmarks[key], variant, seed, failures)
        for key, variant, seed in run_keys(study, d, benchmarks)
    ]
    seeds = [int(s) for s in (study.get("seeds") or []) if isinstance(s, (int, float, str)) and str(s).isdigit()]
    model = study.get("model")
    if isinstance(model, dict):
        model = model.get("name_or_path") or model.get("name")
    return {
        "study_dir": str(d),
        "study": study,
        "study_yaml": text,
        "name": str(study.get("name") or d.name),
        "description": study.get("description"),
        "synthetic": bool(study.get("synthetic", False)),
        "model": None if model is None else str(model),
        "seeds": seeds or sorted({r["seed"] for r in runs}),
        "benchmarks": benchmarks,
        "runs": runs,
        "missing": [{k: r[k] for k in MISSING_FIELDS} for r in runs if r["status"] != "finished"],
        "last_invocation": invocation,
    }


def finished_runs(collected: dict, key: str, variant: str) -> list[dict]:
    """The finished runs of one benchmark and variant (one per seed)."""
    return [
        r for r in collected["runs"] if r["benchmark"] == key and r["variant"] == variant and r["status"] == "finished"
    ]


def reference_of(study: dict) -> dict:
    """The study's ``reference`` (``{source, table1}``) when it is a mapping, else ``{}``."""
    ref = (study or {}).get("reference")
    return ref if isinstance(ref, dict) else {}


def provenance_summary(collected: dict) -> dict:
    """What the runs' ``eval/provenance.json`` say, with how many runs share each value: package
    versions, git commits, hardware and Python versions."""
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
    return {
        "packages": {k: sorted(v) for k, v in sorted(packages.items())},
        "git_commits": commits,
        "hardware": [{"hardware": json.loads(h), "runs": n} for h, n in hardware.items()],
        "python": sorted(pythons),
    }


def run_timings(collected: dict) -> dict:
    """Wall time per run (total, training, steps, seconds per step, evaluation, samples per second)
    and their sum over the runs that recorded one."""
    rows = []
    for r in collected["runs"]:
        td = r.get("train_done") or {}
        m = r.get("metrics") or {}
        train = td.get("train_seconds")
        rows.append(
            {
                "benchmark": r["benchmark"],
                "label": r["label"],
                "variant": r["variant"],
                "seed": r["seed"],
                "status": r["status"],
                "wall_seconds": r["wall_seconds"],
                "train_seconds": train if isinstance(train, (int, float)) else None,
                "steps": td.get("steps"),
                "mean_step_seconds": td.get("mean_step_seconds"),
                "eval_seconds": m.get("seconds"),
                "samples_per_second": m.get("samples_per_second"),
                "finished": (r.get("done") or {}).get("finished"),
            }
        )
    total = sum(t["wall_seconds"] for t in rows if t["wall_seconds"] is not None)
    return {
        "per_run": rows,
        "total_wall_seconds": total,
        "runs_with_wall_time": sum(1 for t in rows if t["wall_seconds"] is not None),
    }

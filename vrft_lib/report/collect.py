"""Read a study folder: its study.yaml, every run it expands into (finished or not), and their files.

The layout (see :mod:`vrft_lib.runfolder`)::

    DIR/study.yaml
    DIR/last_invocation.json                           (optional) failures of the last `vrft study`
    DIR/runs/<benchmark>/<variant>/seed<k>/DONE        written last: the run finished
                                          eval/metrics.json, predictions.jsonl, provenance.json
                                          train/steps.csv, train/DONE

The expected runs are :func:`vrft_lib.plan.spec.expected_runs` of the study; run folders found on
disk beside them are listed too. Every file is checked as it is read, against what the report needs
of it (one check per file, :mod:`.schema`). A study.yaml that fails its check is an error: there is
no study to report on. A run file that fails its check makes the run ``unreadable``, with the file
and why as its reason: the run is listed, and left out of every table, figure and statistic, while
the rest of the report is made. A missing or unfinished run gets a status and a reason too.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pandas as pd
import yaml

from ..errors import VrftError
from ..files import NotRegularFile, open_regular, read_text, regular_file_problem
from ..plan.spec import expected_runs
from ..plan.variants import study_variants
from ..runfolder import RUNS, STUDY_FILE, read_done, run_path, seed_of
from ..values import load_yaml
from ..vocab import BUILTIN_VARIANTS, METHOD_OF, NOTEBOOK_OF
from .schema import (
    DONE_FIELDS,
    TRAIN_DONE_FIELDS,
    last_invocation_problem,
    metrics_problem,
    phrase,
    predictions_problem,
    provenance_problem,
    record_problem,
    steps_problem,
    study_problem,
)

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
UNREADABLE = "unreadable"  # the status of a run with a file that fails its check


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


def text_of(path: Path) -> tuple[str | None, str | None]:
    """A file's text, or None and why it cannot be read (``is missing``, not a regular file, not
    UTF-8, ...). Only a regular file is read (:func:`~vrft_lib.files.read_text`): a FIFO would block
    its reader for ever."""
    try:
        return read_text(path), None
    except FileNotFoundError:
        return None, "is missing"
    except NotRegularFile as e:
        return None, f"is {e.strerror}, not a regular file"
    except (OSError, UnicodeDecodeError) as e:
        return None, f"cannot be read ({e})"


def read_checked_json(path: Path, check) -> tuple[object, str | None]:
    """A JSON file's value and why it cannot be used (None when it passes ``check``); a missing,
    unreadable or cut-short file has a problem too."""
    text, why = text_of(path)
    if why:
        return None, why
    try:
        data = json.loads(text)
    except ValueError as e:
        return None, f"is not valid JSON (cut short?): {e}"
    return data, check(data)


def read_steps(path) -> tuple[pd.DataFrame | None, str | None]:
    """A ``train/steps.csv`` as a DataFrame of numbers (None when it is missing or empty) and why it
    cannot be used (:func:`steps_problem`), or None."""
    path = Path(path)
    if why := regular_file_problem(path):
        return None, None if why == "is missing" else why
    try:
        with open_regular(path) as f:
            df = pd.read_csv(f)
    except pd.errors.EmptyDataError:
        return None, None
    except (OSError, ValueError) as e:  # a ragged row, bytes that are not text
        return None, f"cannot be read as CSV ({e})"
    if df.empty:
        return None, None
    if why := steps_problem(df):
        return None, why
    return df.apply(pd.to_numeric), None


def read_predictions(path) -> list[dict]:
    """The rows of a ``predictions.jsonl`` (unreadable lines are skipped; the report reads only files
    that passed :func:`predictions_problem`)."""
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


def variants_of(study: dict) -> dict[str, dict]:
    """The resolved definitions of a study.yaml's variants (:func:`vrft_lib.plan.variants.study_variants`);
    ``{}`` when they cannot be resolved (a hand-edited study.yaml): its run folders are listed anyway."""
    try:
        return study_variants(study)
    except (VrftError, TypeError, AttributeError):
        return {}


def found_variant(name: str) -> dict:
    """The definition of a variant found on disk that study.yaml does not define: a built-in's, else its
    name as its label and an unknown method."""
    if name in BUILTIN_VARIANTS:
        return {
            "name": name,
            "label": BUILTIN_VARIANTS[name]["label"],
            "method": METHOD_OF[name],
            "notebook": NOTEBOOK_OF[name],
            "base": BUILTIN_VARIANTS[name].get("base"),
            "defined_by": "kit",
        }
    return {"name": name, "label": name, "method": None, "notebook": None, "base": None, "defined_by": "unknown"}


def run_keys(study: dict, study_dir: Path, benchmarks, variants=None) -> list[tuple[str, str, int]]:
    """Every run to list: the study's expected runs and the run folders found on disk, per benchmark,
    variant (the study's order, then others) and seed."""
    found = set()
    for key in benchmarks:
        for vdir in sorted(p for p in (study_dir / RUNS / key).glob("*") if p.is_dir()):
            found |= {
                (key, vdir.name, s) for s in (seed_of(p.name) for p in vdir.iterdir() if p.is_dir()) if s is not None
            }
    expected = expected_runs(study) if variants else []
    keys = list(dict.fromkeys([(k, v, int(s)) for k, v, s in expected if k in benchmarks] + sorted(found)))
    order = list(dict.fromkeys([*(variants or {}), *BUILTIN_VARIANTS, *(k[1] for k in keys)]))
    bench = list(benchmarks)
    return sorted(keys, key=lambda k: (bench.index(k[0]), order.index(k[1]), k[2]))


PROVENANCE_FILES = ("eval/provenance.json", "provenance.json", "train/provenance.json")  # the first is used


def _read_run_files(path: Path, finished: bool) -> tuple[dict, list[str]]:
    """What a run folder holds for the report, each file checked as it is read: ``steps``,
    ``train_done``, ``provenance`` and, for a finished run, ``metrics`` and ``predictions_path``
    (None where absent or failing its check); and what is wrong with each file that fails its check."""
    out, problems = {}, []
    out["steps"], why = read_steps(path / "train" / "steps.csv")
    problems += [phrase("train/steps.csv", why)] if why else []
    train_done = read_done(path / "train")
    why = record_problem(train_done, TRAIN_DONE_FIELDS) if train_done else None
    out["train_done"] = None if why else train_done
    problems += [phrase("train/DONE", why)] if why else []
    found = [(name, *read_checked_json(path / name, provenance_problem)) for name in PROVENANCE_FILES]
    found = [(name, data, why) for name, data, why in found if why != "is missing"]
    problems += [phrase(name, why) for name, _, why in found if why]
    out["provenance"] = next((data for _, data, why in found if not why), None)
    if finished:
        metrics, why = read_checked_json(path / "eval" / "metrics.json", metrics_problem)
        out["metrics"] = None if why else metrics
        problems += [phrase("eval/metrics.json", why)] if why else []
        predictions = path / "eval" / "predictions.jsonl"
        text, why = text_of(predictions)
        why = why or predictions_problem(text)
        out["predictions_path"] = None if why else str(predictions)
        problems += [phrase("eval/predictions.jsonl", why)] if why else []
    return out, problems


def load_run(path: Path, info: dict, variant: str, seed: int, failures: dict) -> dict:
    """One run's record: its status (``finished``, ``failed``, ``unfinished``, ``unreadable``, ``not
    started``), why, and what it wrote (metrics, provenance, steps, DONE markers). A finished run with
    a file that fails its check (:mod:`.schema`) is ``unreadable``, its reason names the file and why,
    and nothing of it is used; an unfinished one shows what it wrote that can be read."""
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
        "definition": None,
    }
    if not path.is_dir():
        return rec
    odd = [(name, regular_file_problem(path / name)) for name in RUN_FILES_READ if os.path.lexists(path / name)]
    odd = [(name, problem) for name, problem in odd if problem and problem != "is missing"]
    if odd:  # checked before any file is opened: a FIFO would block its reader for ever
        rec["status"] = UNREADABLE
        named = "; ".join(f"'{path / name}' {problem}" for name, problem in odd)
        rec["reason"] = f"{named}: the report reads no file of this run (replace it, or run the run again)"
        return rec
    done = read_done(path)
    files, problems = _read_run_files(path, finished=done is not None)
    if done is None:
        logged = failures.get(f"{key}/{variant}/seed{seed}")
        if logged:
            rec["status"] = "failed"
            rec["reason"] = f"failed in the last study invocation: {logged.get('error') or 'error'}"
        else:
            rec["status"], rec["reason"] = "unfinished", "no DONE file (still running, interrupted or failed)"
        rec["reason"] += "".join(f"; unreadable: {p}" for p in problems)
        return {**rec, **files}
    why = record_problem(done, DONE_FIELDS)
    problems = ([phrase("DONE", why)] if why else []) + problems
    if problems:
        rec["status"], rec["reason"] = UNREADABLE, "; ".join(problems)
        return rec
    wall = done.get("wall_seconds")
    return {
        **rec,
        **files,
        "done": done,
        "definition": done.get("variant") if isinstance(done.get("variant"), dict) else None,
        "wall_seconds": None if wall is None else float(wall),
        "status": "finished",
        "reason": "",
    }


def read_study_yaml(study_dir) -> tuple[dict, str]:
    """The parsed study.yaml of a study folder and its text.

    Raises:
        VrftError: there is none, or it fails its check (:func:`.schema.study_problem`): it is not
            YAML, or a field the report reads has the wrong kind (``seeds`` not a list, ...).
    """
    study_dir = Path(study_dir)
    yml = study_dir / STUDY_FILE
    if not yml.is_file():
        raise VrftError(
            f"'{yml}' does not exist: '{study_dir}' is not a study folder. A study folder holds study.yaml and "
            "runs/<benchmark>/<variant>/seed<k>/; create one with `vrft study params/<study>.yaml --out DIR`, "
            "then run `vrft report DIR`."
        )
    text, why = text_of(yml)
    if why:
        raise VrftError(f"'{yml}' {why}. Fix or regenerate the study folder.")
    try:
        study = load_yaml(text)
    except yaml.YAMLError as e:
        raise VrftError(f"'{yml}' is not valid YAML ({e}). Fix or regenerate the study folder.") from e
    study = {} if study is None else study
    if why := study_problem(study):
        raise VrftError(
            f"{phrase(repr(str(yml)), why)}: no report can be made from it. Fix that field, or write the study "
            f"folder again with `vrft study PARAMS --out {study_dir}`."
        )
    return study, text


def collect_study(study_dir) -> dict:
    """Read a study folder: its parameters, every expected run (finished or not) and the missing ones.

    Returns a dict with ``study_dir``, ``study`` (the parsed study.yaml), ``study_yaml`` (its text),
    ``name``, ``description``, ``synthetic``, ``model``, ``seeds``, ``benchmarks`` (``{key: {key,
    label, task_kind}}``), ``runs`` (one record per benchmark, variant and seed: ``status``,
    ``reason``, ``metrics``, ``steps`` as a DataFrame, ``provenance``, ``done``, ``train_done``,
    ``predictions_path``, ``definition``: the variant's definition its DONE recorded; predictions are
    read on demand with :func:`read_predictions`), ``variants`` (``{name: definition}`` of every variant
    listed: study.yaml's, then those found on disk), ``missing`` (the runs that are not finished, with
    why), ``last_invocation`` and ``unreadable_files`` (the study-level files that fail their check and
    are not used: ``FILE: why``).

    Raises:
        VrftError: the folder has no study.yaml, or one that fails its check (:func:`read_study_yaml`).
    """
    d = Path(study_dir)
    study, text = read_study_yaml(d)
    benchmarks = benchmarks_of(study, d / RUNS)
    invocation, why = read_checked_json(d / "last_invocation.json", last_invocation_problem)
    invocation = None if why else invocation
    failures = {str(f.get("run_id")): f for f in (invocation or {}).get("failures") or [] if isinstance(f, dict)}
    defined = variants_of(study)
    keys = run_keys(study, d, benchmarks, defined)
    runs = [
        load_run(run_path(d, key, variant, seed), benchmarks[key], variant, seed, failures)
        for key, variant, seed in keys
    ]
    variants = {v: defined.get(v) or found_variant(v) for v in dict.fromkeys([*defined, *(k[1] for k in keys)])}
    seeds = [int(s) for s in study.get("seeds") or []]
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
        "variants": variants,
        "missing": [{k: r[k] for k in MISSING_FIELDS} for r in runs if r["status"] != "finished"],
        "last_invocation": invocation,
        "unreadable_files": [] if why in (None, "is missing") else [phrase("last_invocation.json", why)],
    }


def finished_runs(collected: dict, key: str, variant: str) -> list[dict]:
    """The finished runs of one benchmark and variant (one per seed)."""
    return [
        r for r in collected["runs"] if r["benchmark"] == key and r["variant"] == variant and r["status"] == "finished"
    ]


def variant_label(collected: dict, variant: str) -> str:
    """How the report names a variant: its definition's label, else its name."""
    return str(((collected.get("variants") or {}).get(variant) or found_variant(variant)).get("label") or variant)


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

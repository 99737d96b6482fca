"""``vrft study``: expand a study YAML into runs, execute each run's notebook with papermill, report.

A study (``params/*.yaml``) names the benchmarks, the methods and how to train and evaluate them.
For each benchmark and seed it expands into runs: ``training_free``, ``sft``, ``rft`` and, where the
benchmark sets ``length_reward: true``, ``rft_length`` (RFT plus the Normalized Length Reward). Each
run executes one notebook (``notebooks/{training_free,sft,rft}.ipynb``) with papermill into::

    DIR/runs/<benchmark>/<variant>/seed<k>/
        parameters.yaml   what papermill injected
        notebook.ipynb    the executed notebook (kept, also when it fails)
        train/  eval/     the run's outputs (see vrft_lib.train and vrft_lib.evaluate)
        DONE              written last, only when the notebook finished

Finished runs are skipped, so running the same study again recomputes nothing; an interrupted run
resumes from its last checkpoint. Then ``notebooks/report.ipynb`` renders ``DIR/report.html``,
``DIR/table1.csv`` and ``DIR/metrics.json``.
"""

from __future__ import annotations

import copy
import fnmatch
import json
import os
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from .config import dump_yaml, load_run_config, load_yaml, resolve_trainer_args
from .errors import ConfigError, VrftError, did_you_mean
from .experiment import _merge, prepare
from .provenance import peak_rss_mb, write_json

VARIANTS = ("training_free", "sft", "rft", "rft_length")
NOTEBOOKS = {"training_free": "training_free.ipynb", "sft": "sft.ipynb", "rft": "rft.ipynb",
             "rft_length": "rft.ipynb"}
METHOD_OF = {"training_free": "none", "sft": "sft", "rft": "grpo", "rft_length": "grpo"}
STUDY_KEYS = ("name", "description", "synthetic", "seeds", "model", "train_mode", "benchmarks", "variants",
              "rft", "sft", "length_reward", "evaluation", "run_defaults", "reference", "slurm")
BENCHMARK_KEYS = ("label", "task_kind", "data", "length_reward", "rft", "sft", "evaluation", "run_defaults")


def notebooks_dir() -> Path:
    """The kit's notebooks folder (beside the package in a checkout)."""
    env = os.environ.get("VRFT_NOTEBOOKS")
    if env:
        return Path(env)
    return Path(__file__).resolve().parent.parent / "notebooks"


class StudyError(VrftError, RuntimeError):
    """Some runs of a study failed."""


@dataclass
class PlannedRun:
    run_id: str               # "<benchmark>/<variant>/seed<k>"
    benchmark: str
    variant: str
    seed: int
    notebook: str
    run_dir: str
    parameters: dict = field(default_factory=dict)
    status: str = "pending"   # pending | done | failed

    def to_dict(self):
        return asdict(self)


def load_study(path) -> dict:
    """Read and check a study YAML (unknown keys, benchmarks, variants, seeds)."""
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"Study file '{p}' does not exist. Give a study YAML such as params/smoke.yaml.")
    try:
        study = load_yaml(p.read_text()) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"Study file '{p}' is not valid YAML: {e}") from None
    if not isinstance(study, dict):
        raise ConfigError(f"Study file '{p}': expected a mapping of keys at the top level.")
    for k in study:
        if k not in STUDY_KEYS:
            raise ConfigError(f"{p}: unknown key '{k}'{did_you_mean(k, STUDY_KEYS)}. Valid keys: {', '.join(STUDY_KEYS)}.")
    from .validate import check_study_fields

    check_study_fields(study, p)  # types of the study's own fields, before they are used
    study.setdefault("name", p.stem)
    study.setdefault("seeds", [0])
    study.setdefault("variants", list(VARIANTS))
    study.setdefault("train_mode", "think")
    study.setdefault("synthetic", False)
    seeds = study["seeds"]
    if not isinstance(seeds, list) or not seeds or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
        raise ConfigError(f"{p}: seeds must be a non-empty list of integers, got {seeds!r}.")
    for v in study["variants"]:
        if v not in VARIANTS:
            raise ConfigError(f"{p}: variants: unknown variant '{v}'{did_you_mean(v, VARIANTS)}; "
                              f"use {', '.join(VARIANTS)}.")
    benchmarks = study.get("benchmarks")
    if not isinstance(benchmarks, dict) or not benchmarks:
        raise ConfigError(f"{p}: 'benchmarks' must map benchmark keys to their settings (at least one).")
    for key, b in benchmarks.items():
        b = benchmarks[key] = dict(b or {})
        for k in b:
            if k not in BENCHMARK_KEYS:
                raise ConfigError(f"{p}: benchmarks.{key}: unknown key '{k}'{did_you_mean(k, BENCHMARK_KEYS)}. "
                                  f"Valid keys: {', '.join(BENCHMARK_KEYS)}.")
        b.setdefault("label", key)
        b.setdefault("data", {"name": key})
        if isinstance(b["data"], str):
            b["data"] = {"name": b["data"]}
        b["data"].setdefault("name", key)
    ref = study.get("reference")
    if isinstance(ref, str):
        from .reference import REFERENCES

        if ref not in REFERENCES:
            raise ConfigError(f"{p}: reference: unknown reference '{ref}'{did_you_mean(ref, REFERENCES)}; "
                              f"use one of {', '.join(REFERENCES)} or a mapping {{source, table1}}.")
        study["reference"] = copy.deepcopy(REFERENCES[ref])
    study["_source"] = str(p.resolve())
    return study


def select_runs(runs: list, only: str | None) -> list:
    """The runs ``--only`` names: the run whose id is exactly ``only``, else the ids matching it as a glob
    (or containing it). Exact first, so ``sat/rft/seed1`` is not also ``sat/rft/seed10``."""
    if not only:
        return list(runs)
    exact = [r for r in runs if r.run_id == only]
    return exact or [r for r in runs if fnmatch.fnmatch(r.run_id, only) or fnmatch.fnmatch(r.run_id, f"*{only}*")]


def _study_path(study: dict, value: str, where: str) -> str:
    """An absolute path for a relative path written in a study: from the working directory, else the
    study file's folder, else the kit's root. Notebooks run in notebooks/, so relative paths must not
    reach them."""
    p = Path(value).expanduser()
    if p.is_absolute():
        return str(p)
    bases = [Path.cwd()]
    if study.get("_source"):
        bases.append(Path(study["_source"]).parent)
    bases.append(Path(__file__).resolve().parent.parent)
    for base in bases:
        if (base / p).exists():
            return str((base / p).resolve())
    raise ConfigError(f"study '{study['name']}': {where}: file '{value}' not found (looked in "
                      f"{', '.join(str(b) for b in bases)}). Use one of params/accelerate/*.yaml or an absolute path.")


def _run_dict(study: dict, key: str, variant: str, seed: int) -> dict:
    """The run config (a dict) of one run of the study."""
    b = study["benchmarks"][key]
    method = METHOD_OF[variant]
    run = _merge(study.get("run_defaults") or {}, b.get("run_defaults") or {})
    run.update(name=f"{key}-{variant}-seed{seed}", method=method, seed=seed, train_mode=study["train_mode"],
               model=copy.deepcopy(study.get("model", "tiny")), data=copy.deepcopy(b["data"]))
    if method == "grpo":
        rft = _merge(study.get("rft") or {}, b.get("rft") or {})
        run.update({k: v for k, v in rft.items() if k != "rewards"})
        run["rewards"] = copy.deepcopy(rft.get("rewards") or [{"name": "accuracy"}, {"name": "format"}])
        if variant == "rft_length":
            if not study.get("length_reward"):
                raise ConfigError(f"study '{study['name']}': benchmark '{key}' asks for length_reward, but the "
                                  "study has no top-level 'length_reward' entry (e.g. {name: length, "
                                  "target_length: 64, scope: think}).")
            run["rewards"].append(copy.deepcopy(study["length_reward"]))
    elif method == "sft":
        run.update(_merge(study.get("sft") or {}, b.get("sft") or {}))
    if run.get("accelerate_config"):
        run["accelerate_config"] = _study_path(study, run["accelerate_config"], "accelerate_config")
    return run


def expand_study(study: dict, out_dir) -> list[PlannedRun]:
    """Every run of the study, in execution order (benchmark, seed, variant)."""
    out = Path(out_dir).resolve()
    runs = []
    for key, b in study["benchmarks"].items():
        for seed in study["seeds"]:
            for variant in study["variants"]:
                if variant == "rft_length" and not b.get("length_reward"):
                    continue
                run_dir = out / "runs" / key / variant / f"seed{seed}"
                evaluation = _merge(study.get("evaluation") or {}, b.get("evaluation") or {})
                params = {"run": _run_dict(study, key, variant, seed), "evaluation": evaluation,
                          "output_dir": str(run_dir)}
                runs.append(PlannedRun(f"{key}/{variant}/seed{seed}", key, variant, seed, NOTEBOOKS[variant],
                                       str(run_dir), params))
    return runs


def resolve_plan(runs: list[PlannedRun], num_processes_override=None) -> list[dict]:
    """Validate every run up front (no model is loaded) and resolve its TRL trainer arguments."""
    plan = []
    for r in runs:
        cfg, ev = prepare(r.parameters["run"], r.parameters["evaluation"], r.run_dir)
        entry = r.to_dict()
        entry["trainer_args"] = (resolve_trainer_args(cfg, num_processes=num_processes_override)
                                 if cfg.method != "none" else None)
        entry["eval"] = {"modes": ev.modes, "max_new_tokens": ev.max_new_tokens, "batch_size": ev.batch_size,
                         "backend": ev.backend, "split": ev.data.eval_split, "limit": ev.data.eval_limit}
        entry["status"] = "done" if (Path(r.run_dir) / "DONE").exists() else "pending"
        plan.append(entry)
    return plan


def _check_out_dir(study: dict, out: Path) -> None:
    saved = out / "study.yaml"
    if not saved.exists():
        return
    old = yaml.safe_load(saved.read_text()) or {}
    new = {k: v for k, v in study.items() if not k.startswith("_")}
    old = {k: v for k, v in old.items() if not k.startswith("_")}
    if old != new:
        diff = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
        raise ConfigError(
            f"Output folder '{out}' holds a different study (study.yaml differs in: {', '.join(diff)}). "
            "Use another --out, or delete that folder (or pass --force to replace its runs)."
        )


def _kernel_shutdown(run: dict) -> str:
    """How papermill stops a run's kernel once every cell has finished.

    A kernel that imported torch, transformers and TRL takes 1.5-2 s to tear its modules down, once
    per run. Every file a run writes is complete when its cell ends, so the kernel is stopped at
    once; a run that logs to an external tracker (``report_to``) keeps the graceful shutdown, so the
    tracker's exit hooks can finish their upload.
    """
    return "immediate" if run.get("report_to", "none") in (None, "none") else "graceful"


def execute_run(run: PlannedRun, kernel_name: str = "python3") -> float:
    """Execute one run's notebook with papermill; return its wall time. Raises on failure."""
    import papermill as pm

    run_dir = Path(run.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    dump_yaml(run.parameters, run_dir / "parameters.yaml")
    params = yaml.safe_load((run_dir / "parameters.yaml").read_text())
    t0 = time.perf_counter()
    pm.execute_notebook(
        str(notebooks_dir() / run.notebook), str(run_dir / "notebook.ipynb"), parameters=params,
        kernel_name=kernel_name, cwd=str(notebooks_dir()), progress_bar=False, log_output=False,
        request_save_on_cell_execute=True, shutdown_kernel=_kernel_shutdown(run.parameters["run"]),
    )
    wall = time.perf_counter() - t0
    write_json({"run_id": run.run_id, "wall_seconds": round(wall, 2),
                "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z")}, run_dir / "DONE")
    return wall


REPORT_STAMP = ".report-inputs"


def report_inputs(out: Path) -> str:
    """A fingerprint of what the report is made from: the study, every finished run's DONE marker,
    and the code and notebook that render it. Equal fingerprints give the same report."""
    import hashlib

    h = hashlib.sha256()
    for path in [out / "study.yaml", *sorted(out.glob("runs/*/*/seed*/DONE"))]:
        h.update(str(path.relative_to(out)).encode())
        h.update(path.read_bytes() if path.exists() else b"-")
    here = Path(__file__).resolve().parent
    for path in [here / "report.py", here / "plots.py", here / "reference.py", notebooks_dir() / "report.ipynb"]:
        h.update(path.read_bytes() if path.exists() else b"-")
    return h.hexdigest()


def report_up_to_date(out: Path) -> bool:
    """True when report.html exists and was rendered from exactly the study's present inputs."""
    stamp = out / REPORT_STAMP
    return (out / "report.html").exists() and stamp.exists() and stamp.read_text().strip() == report_inputs(out)


def render_report(out: Path, kernel_name: str = "python3") -> Path:
    """Execute the report notebook (kept as DIR/report.ipynb); it writes report.html and friends."""
    import papermill as pm

    fingerprint = report_inputs(out)
    (out / REPORT_STAMP).unlink(missing_ok=True)
    pm.execute_notebook(str(notebooks_dir() / "report.ipynb"), str(out / "report.ipynb"),
                        parameters={"study_dir": str(out)}, kernel_name=kernel_name, cwd=str(notebooks_dir()),
                        progress_bar=False, log_output=False, shutdown_kernel="immediate")
    (out / REPORT_STAMP).write_text(fingerprint + "\n")
    return out / "report.html"


def _dir_size_mb(path: Path) -> float:
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += os.path.getsize(os.path.join(root, f))
            except OSError:
                pass
    return total / 2**20


def run_study(params, out=None, only=None, force=False, fail_fast=False, report_only=False,
              no_report=False, stream=sys.stdout) -> dict:
    """Run a study end to end (see the module docstring); return a summary dict."""
    from tqdm.auto import tqdm

    study = load_study(params)
    out = Path(out or Path("outputs") / study["name"]).resolve()
    runs = expand_study(study, out)
    if only:
        runs = select_runs(runs, only)
        if not runs:
            raise ConfigError(f"--only '{only}' matches no run of study '{study['name']}'. Run ids look like "
                              f"'{expand_study(study, out)[0].run_id}'; see `vrft study {params} --dry-run`.")
    from .validate import validate_study

    # Everything the runs to do need (configs, data files, models, machine, output folder) is
    # checked before any work starts; finished runs are skipped, so they need nothing.
    pending = [r for r in runs if force or not (Path(r.run_dir) / "DONE").exists()]
    validate_study(study, [] if report_only else pending, out, force=force)
    out.mkdir(parents=True, exist_ok=True)
    dump_yaml({k: v for k, v in study.items() if not k.startswith("_")}, out / "study.yaml")
    t_start = time.perf_counter()
    failures, timings = [], {}
    if not report_only:
        todo = []
        for r in runs:
            done = (Path(r.run_dir) / "DONE").exists()
            if done and force:
                shutil.rmtree(r.run_dir)
                done = False
            if not done:
                todo.append(r)
        skipped = len(runs) - len(todo)
        print(f"[vrft] study '{study['name']}': {len(runs)} runs, {skipped} already finished, {len(todo)} to run "
              f"-> {out}", file=stream, flush=True)
        if any(r.parameters["run"].get("model") == "tiny" for r in todo):
            from .tiny_base import ensure_tiny_base

            t = time.perf_counter()
            print(f"[vrft] tiny instruct base: {ensure_tiny_base()}", file=stream, flush=True)
            timings["tiny_base"] = round(time.perf_counter() - t, 2)
        bar = tqdm(todo, desc="study", unit="run", file=stream, disable=not todo)
        for r in bar:
            bar.set_postfix_str(r.run_id)
            try:
                timings[r.run_id] = execute_run(r)
                print(f"[vrft] done   {r.run_id} ({timings[r.run_id]:.0f} s)", file=stream, flush=True)
            except Exception as e:  # noqa: BLE001 - a failed run is reported; the study goes on
                failures.append({"run_id": r.run_id, "notebook": str(Path(r.run_dir) / "notebook.ipynb"),
                                 "error": _short_error(e)})
                print(f"[vrft] FAILED {r.run_id}: {_short_error(e)}\n       partial notebook: "
                      f"{Path(r.run_dir) / 'notebook.ipynb'}", file=stream, flush=True)
                if fail_fast:
                    break
        bar.close()
    t_report = time.perf_counter()
    report_state = "not rendered (--no-report)"
    if not no_report:  # cluster run jobs leave the report to the study's report job
        if not report_only and report_up_to_date(out):
            report_state = "up to date (nothing changed since it was rendered)"
        else:
            render_report(out)
            report_state = "rendered"
    summary = {"study": study["name"], "out": str(out), "runs": len(runs),
               "ran": [k for k in timings if k != "tiny_base"],
               "failures": failures, "run_seconds": timings,
               "report": report_state, "report_seconds": round(time.perf_counter() - t_report, 2),
               "total_seconds": round(time.perf_counter() - t_start, 2),
               "peak_rss_mb": round(peak_rss_mb(), 1), "output_mb": round(_dir_size_mb(out), 1)}
    write_json(summary, out / "last_invocation.json")
    print(("[vrft] report not rendered (--no-report)" if no_report
           else f"[vrft] report: {out / 'report.html'}" + (" (up to date)" if report_state.startswith("up") else ""))
          + f"   (output folder {summary['output_mb']:.0f} MB, "
          f"{summary['total_seconds']:.0f} s)", file=stream, flush=True)
    if failures:
        lines = "\n".join(f"  - {f['run_id']}: {f['error']} (notebook: {f['notebook']})" for f in failures)
        raise StudyError(f"{len(failures)} run(s) of study '{study['name']}' failed:\n{lines}\n"
                         "Open the partial notebook to see the failing cell; fix it and run the same command "
                         "again: finished runs are skipped.")
    return summary


def _short_error(e: Exception) -> str:
    name = getattr(e, "ename", type(e).__name__)
    value = getattr(e, "evalue", str(e))
    text = f"{name}: {value}".strip()
    return text if len(text) < 400 else text[:400] + "..."


def run_study_cli(ns) -> int:
    if getattr(ns, "status", False):
        from .slurm import format_status, study_status

        study = load_study(ns.params)
        print(format_status(study_status(ns.out or Path("outputs") / study["name"])))
        return 0
    if getattr(ns, "submit", None):
        from .slurm import submit_study

        submit_study(ns.params, out=ns.out, only=ns.only, partition=ns.partition, time=ns.time,
                     dry_run=ns.dry_run, force=ns.force, as_json=ns.json)
        return 0
    if ns.dry_run:
        study = load_study(ns.params)
        out = Path(ns.out or Path("outputs") / study["name"]).resolve()
        runs = expand_study(study, out)
        if ns.only:
            runs = select_runs(runs, ns.only)
        from .validate import validate_study

        # configs and the output folder only: a dry run is for a login node, with no GPU and no data
        validate_study(study, runs, out, force=ns.force, check_environment=False)
        plan = resolve_plan(runs)
        if ns.json:
            print(json.dumps({"study": study["name"], "out": str(out), "runs": plan}, indent=2, default=str))
        else:
            print(f"study '{study['name']}' -> {out}: {len(plan)} runs")
            for p in plan:
                ta = p["trainer_args"] or {}
                steps = f"{ta.get('max_steps')} steps" if ta else "no training"
                print(f"  [{p['status']:7s}] {p['run_id']:42s} {p['notebook']:20s} {steps}")
        return 0
    run_study(ns.params, out=ns.out, only=ns.only, force=ns.force, fail_fast=ns.fail_fast,
              report_only=ns.report_only, no_report=getattr(ns, "no_report", False))
    return 0

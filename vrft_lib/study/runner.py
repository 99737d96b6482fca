"""``vrft study``: execute each run's notebook with papermill, then the report notebook.

The runs come from :mod:`vrft_lib.plan.spec`; each executes its notebook into its run folder::

    OUT/runs/<benchmark>/<variant>/seed<k>/
        parameters.yaml   what papermill injected
        variant.yaml      the variant's resolved definition (vrft_lib.plan.variants)
        notebook.ipynb    the executed notebook (kept, also when it fails)
        train/  eval/     the run's outputs (see vrft_lib.train and vrft_lib.evaluate)
        DONE              written last, only when the notebook finished (its wall time, the variant)

Finished runs are skipped, so running the same study again recomputes nothing; an interrupted run
resumes from its last checkpoint. Then ``notebooks/report.ipynb`` is executed into
``OUT/report.ipynb`` (it writes ``OUT/table1.csv`` and ``OUT/metrics.json``) and exported by
nbconvert, code hidden, into ``OUT/report.html``.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml
from tqdm.auto import tqdm

from ..errors import ConfigError, VrftError
from ..files import (
    LinkError,
    drop_truncated_notebook,
    dump_yaml,
    fault_error,
    make_dirs,
    naming_path,
    read_json,
    refuse_links,
    remove_temporary_files,
    remove_tree,
    write_json,
    writing_under,
)
from ..kernel import kernel_manager_class, private_kernel_dir
from ..locks import LOCK_FILE, folder_lock, run_lock_path
from ..plan.spec import PlannedRun, default_out, expand_study, load_study, notebooks_dir, select_runs, tiny_builds
from ..provenance import peak_rss_mb
from ..report.console import console_summary
from ..report.render import render_report, report_up_to_date
from ..runfolder import (
    RUNS,
    STUDY_FILE,
    VARIANT_FILE,
    claim_study_folder,
    is_done,
    missing_run_outputs,
    reopen_run,
    write_done,
)
from ..tiny.base import cache_root
from ..tiny.resolve import ensure_tiny_build
from ..vocab import TINY_MODEL
from .preflight import validate_study


class StudyError(VrftError, RuntimeError):
    """Some runs of a study failed."""


def kernel_shutdown(run: dict) -> str:
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

    run_dir = make_dirs(run.run_dir)
    refuse_links(run_dir, inside=True)  # the notebook, its kernel's log, train/ and eval/ land in the folder
    dump_yaml(run.parameters, run_dir / "parameters.yaml")
    if run.definition:
        dump_yaml(run.definition, run_dir / VARIANT_FILE)
    params = yaml.safe_load((run_dir / "parameters.yaml").read_text())
    t0 = time.perf_counter()
    with naming_path(run_dir / "notebook.ipynb"):  # papermill's own writes name no file on a full disk
        _execute_notebook(pm, run, run_dir, params, kernel_name)
    wall = time.perf_counter() - t0
    extra = {"variant": run.definition} if run.definition else {}
    write_done(run_dir, run_id=run.run_id, wall_seconds=round(wall, 2), **extra)
    return wall


def _execute_notebook(pm, run: PlannedRun, run_dir: Path, params: dict, kernel_name: str) -> None:
    pm.execute_notebook(
        str(notebooks_dir() / run.notebook),
        str(run_dir / "notebook.ipynb"),
        parameters=params,
        kernel_name=kernel_name,
        kernel_manager_class=kernel_manager_class(run_dir / "kernel.log"),
        cwd=str(notebooks_dir()),
        progress_bar=False,
        log_output=False,
        request_save_on_cell_execute=True,
        shutdown_kernel=kernel_shutdown(run.parameters["run"]),
    )


def expected_cost(parameters: dict) -> float:
    """A run's relative cost, from its parameters: a kernel start, the optimizer steps (GRPO: per
    completion and token budget; SFT: per example) and the evaluation's generations. Only the ratios
    matter (the overall bar's estimate of the time left); the constants are seconds measured on 2 busy CPU cores.

    >>> tf = {"run": {"method": "none", "data": {"eval_limit": 200}}, "evaluation": {"modes": ["no_think", "think"]}}
    >>> rft = {"run": {"method": "grpo", "data": {"eval_limit": 200}, "trainer": {"max_steps": 80,
    ...        "per_device_train_batch_size": 16, "gradient_accumulation_steps": 1, "max_completion_length": 64}}}
    >>> round(expected_cost(tf)), round(expected_cost(rft))
    (14, 91)
    """
    run, ev = parameters.get("run") or {}, parameters.get("evaluation") or {}
    t = run.get("trainer") or {}
    examples = int(t.get("per_device_train_batch_size") or 8) * int(t.get("gradient_accumulation_steps") or 1)
    steps = 0 if run.get("method") == "none" else int(t.get("max_steps") or 300)
    if run.get("method") == "grpo":
        per_step = 0.06 * examples * int(t.get("max_completion_length") or 1024) / 64
    else:
        per_step = 0.025 * examples
    n_eval = int((run.get("data") or {}).get("eval_limit") or 500) * len(ev.get("modes") or (0, 1))
    return 10.0 + max(0, steps) * per_step + 0.01 * n_eval


def watch_progress(run: PlannedRun, bar, stop: threading.Event, every: float = 2.0) -> None:
    """Until ``stop`` is set: show the running run's optimizer step (its ``train/progress.json``, written
    by vrft_lib.train) beside its id on the study's bar."""
    path = Path(run.run_dir) / "train" / "progress.json"
    while not stop.wait(every):
        try:
            p = read_json(path)
            bar.set_postfix_str(f"{run.run_id}: step {p['step']}/{p['max_steps']}")
        except (KeyError, TypeError):
            continue


def _dir_size_mb(path: Path) -> float:
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += os.path.getsize(os.path.join(root, f))
            except OSError:
                pass
    return total / 2**20


TINY_BASE = "tiny_base"  # the step that builds the tiny instruct base, in ``run_seconds``


@dataclass(frozen=True)
class Step:
    """What one step of a study found: a run's wall time (``seconds``) or its ``error`` (with the
    partial notebook to open), or the time the tiny base took to build (``name``: :data:`TINY_BASE`)."""

    name: str
    seconds: float | None = None
    error: str | None = None
    notebook: str | None = None

    @property
    def failure(self) -> dict:
        return {"run_id": self.name, "notebook": self.notebook, "error": self.error}


def run_study(
    params, out=None, only=None, force=False, fail_fast=False, report_only=False, no_report=False, stream=sys.stdout
) -> dict:
    """Run a study end to end (see the module docstring); return a summary dict."""
    study = load_study(params)
    out = Path(out or default_out(study)).resolve()
    runs = expand_study(study, out)
    if only:
        runs = select_runs(runs, only)
        if not runs:
            raise ConfigError(
                f"--only '{only}' matches no run of study '{study['name']}'. Run ids look like "
                f"'{expand_study(study, out)[0].run_id}'; see `vrft study {params} --dry-run`."
            )
    # Everything the runs to do need (configs, data files, models, machine, output folder) is
    # checked before any work starts; finished runs are skipped, so they need nothing.
    pending = [r for r in runs if force or not is_done(r.run_dir) or missing_run_outputs(r.run_dir, _trains(r))]
    validate_study(study, [] if report_only else pending, out, force=force)
    steps: list[Step] = []  # what was run so far, also for the summary of a study that stops early
    with contextlib.ExitStack() as held:
        held.enter_context(writing_under(out))  # nothing is written through a link below it
        _take_locks(held, out, [] if report_only else runs, shared=no_report)
        held.enter_context(private_kernel_dir())
        try:
            make_dirs(out)
            claim_study_folder(out)
            dump_yaml({k: v for k, v in study.items() if not k.startswith("_")}, out / STUDY_FILE)
            t_start = time.perf_counter()
            if not report_only:
                for step in _run_pending(study, out, runs, force, fail_fast, stream):
                    steps.append(step)
            summary = _finish(
                study, out, runs, steps, t_start, no_report=no_report, rerender=report_only, stream=stream
            )
            _raise_failures(study, steps)
            return summary
        except BaseException as e:
            if not isinstance(e, StudyError):  # the summary of a finished study is written already
                _write_abort_summary(out, study, runs, steps, e)
            raise


def _trains(run: PlannedRun) -> bool:
    return run.parameters["run"].get("method", "none") != "none"


def _take_locks(held: contextlib.ExitStack, out: Path, runs: list, shared: bool) -> None:
    """One writer per folder: a study holds ``OUT/.vrft-lock`` alone; a ``--no-report`` invocation (a
    cluster job) shares it with the others and holds the lock of each run it may run."""
    held.enter_context(folder_lock(out / LOCK_FILE, shared=shared, what=f"the study folder '{out}'"))
    if not shared:  # what writers killed mid-write left (the kit's names only): no other writer is here
        remove_temporary_files(out, subfolders=(RUNS, "slurm"))
        return
    for r in runs:
        held.enter_context(folder_lock(run_lock_path(out, r.run_id), what=f"run {r.run_id} in '{out}'"))


def _invocation(study: dict, out: Path, runs: list, steps: list[Step]) -> dict:
    """What every ``last_invocation.json`` starts with: the study, its runs and what was run."""
    timings = {s.name: s.seconds for s in steps if s.seconds is not None}
    return {
        "study": study["name"],
        "out": str(out),
        "runs": len(runs),
        "ran": [k for k in timings if k != TINY_BASE],
        "failures": [s.failure for s in steps if s.error is not None],
        "run_seconds": timings,
    }


def _write_abort_summary(out: Path, study: dict, runs: list, steps: list[Step], e: BaseException):
    """``last_invocation.json`` of a study that stopped early (interrupted, a full disk, ...)."""
    fault = fault_error(e)
    drop_truncated_notebook(e)
    reason = "interrupted" if isinstance(e, KeyboardInterrupt) else str(fault or f"{type(e).__name__}: {e}")
    summary = {**_invocation(study, out, runs, steps), "stopped": reason}
    summary["peak_rss_mb"] = round(peak_rss_mb(), 1)
    with contextlib.suppress(OSError, LinkError):  # a full disk may not take even this
        write_json(summary, out / "last_invocation.json")


def _run_pending(study: dict, out: Path, runs: list, force: bool, fail_fast: bool, stream) -> Iterator[Step]:
    """Run what is not finished (everything with ``force``), one :class:`Step` at a time: the tiny base
    when a run needs it, then each run; with ``fail_fast``, none after the first failure."""
    todo = [r for r in runs if _needs_run(r, force, stream)]
    print(
        f"[vrft] study '{study['name']}': {len(runs)} runs, {len(runs) - len(todo)} already finished, "
        f"{len(todo)} to run -> {out}",
        file=stream,
        flush=True,
    )
    builds = tiny_builds(todo)
    if builds:  # tiny, or tiny:<k> for each seed of a study run with `model: tiny:seed`
        yield _build_tiny_base(stream, builds)
    # the overall bar advances by each run's expected cost, so its estimate of the time left
    # weighs a 160 s RFT run against a 7 s training-free one
    costs = {r.run_id: expected_cost(r.parameters) for r in todo}
    bar = tqdm(
        total=sum(costs.values()) or None,
        desc="study",
        bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed} elapsed, ~{remaining} left{postfix}",
        file=stream,
        disable=not todo,
    )
    for r in todo:
        step = _run_one(r, bar, costs[r.run_id], stream)
        yield step
        if step.error is not None and fail_fast:
            break
    bar.close()


def _needs_run(r: PlannedRun, force: bool, stream) -> bool:
    """Whether a run is to be run: not finished, forced (its folder is removed), or finished with an
    output lost since (its folder is reopened)."""
    if force and remove_tree(r.run_dir):  # finished or not, of this config or another
        return True
    if not is_done(r.run_dir):
        return True
    if lost := missing_run_outputs(r.run_dir, _trains(r)):
        reopen_run(r.run_dir, lost)
        print(f"[vrft] {r.run_id} was finished, but '{lost[0]}' is missing: running it again", file=stream)
        return True
    return False


def _build_tiny_base(stream, builds: list[str]) -> Step:
    """Build (once per machine) each build of the tiny base the runs name, before the first run."""
    t = time.perf_counter()
    for name in builds:
        with naming_path(cache_root()):  # the cache's own writes name no file on a full disk
            base = ensure_tiny_build(name)
        shown = "" if name == TINY_MODEL else f" ({name})"
        print(f"[vrft] tiny instruct base{shown}: {base}", file=stream, flush=True)
    return Step(TINY_BASE, seconds=round(time.perf_counter() - t, 2))


def _run_one(r: PlannedRun, bar, cost: float, stream) -> Step:
    """Execute one run, its step count shown on the study's bar; a failure is returned, not raised,
    unless it is a fault (a full disk, a permission error) that stops every run."""
    bar.set_postfix_str(r.run_id)
    stop = threading.Event()
    threading.Thread(target=watch_progress, args=(r, bar, stop), daemon=True).start()
    try:
        seconds = execute_run(r)
    except Exception as e:  # noqa: BLE001 - a failed run is reported; the study goes on
        stop.set()
        if fault_error(e) or isinstance(e, LinkError):  # the folder's problem, not the run's: stop
            raise
        notebook = Path(r.run_dir) / "notebook.ipynb"
        print(
            f"[vrft] FAILED {r.run_id}: {_short_error(e)}\n       partial notebook: {notebook}",
            file=stream,
            flush=True,
        )
        return Step(r.run_id, error=_short_error(e), notebook=str(notebook))
    stop.set()
    bar.update(cost)
    print(f"[vrft] done   {r.run_id} ({seconds:.0f} s)", file=stream, flush=True)
    return Step(r.run_id, seconds=seconds)


def _render(out: Path, no_report: bool, rerender: bool) -> str:
    """Render the report unless it is up to date (``rerender``: always); return what became of it."""
    if no_report:  # cluster run jobs leave the report to the study's report job
        return "not rendered (--no-report)"
    if not rerender and report_up_to_date(out):
        return "up to date (nothing changed since it was rendered)"
    render_report(out)
    return "rendered"


def _finish(study, out: Path, runs: list, steps: list[Step], t_start: float, *, no_report, rerender, stream) -> dict:
    """Render the report, write ``last_invocation.json`` and print where the report is; return the summary."""
    t_report = time.perf_counter()
    report_state = _render(out, no_report, rerender)
    summary = {
        **_invocation(study, out, runs, steps),
        "report": report_state,
        "report_seconds": round(time.perf_counter() - t_report, 2),
        "total_seconds": round(time.perf_counter() - t_start, 2),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "output_mb": round(_dir_size_mb(out), 1),
    }
    write_json(summary, out / "last_invocation.json")
    if not no_report and console_summary(out):
        print(console_summary(out), file=stream, flush=True)  # Table 1 and the claims, then the path
    print(
        (
            "[vrft] report not rendered (--no-report)"
            if no_report
            else f"[vrft] report: {out / 'report.html'}" + (" (up to date)" if report_state.startswith("up") else "")
        )
        + f"   (output folder {summary['output_mb']:.0f} MB, "
        f"{summary['total_seconds']:.0f} s)",
        file=stream,
        flush=True,
    )
    return summary


def _raise_failures(study: dict, steps: list[Step]) -> None:
    failures = [s.failure for s in steps if s.error is not None]
    if failures:
        lines = "\n".join(f"  - {f['run_id']}: {f['error']} (notebook: {f['notebook']})" for f in failures)
        raise StudyError(
            f"{len(failures)} run(s) of study '{study['name']}' failed:\n{lines}\n"
            "Open the partial notebook to see the failing cell; fix it and run the same command "
            "again: finished runs are skipped."
        )


def _short_error(e: Exception) -> str:
    name = getattr(e, "ename", type(e).__name__)
    value = getattr(e, "evalue", str(e))
    text = f"{name}: {value}".strip()
    return text if len(text) < 400 else text[:400] + "..."

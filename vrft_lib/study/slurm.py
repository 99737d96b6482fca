"""Hand a study to a Slurm cluster: one job per run, then the report job, through ``submitit``.

``vrft study PARAMS --submit slurm`` validates every run (as ``--dry-run`` does), then submits

* one job per run that has no ``DONE`` marker. The job executes the run's notebook exactly as a local
  study does, with the command ``python -m vrft_lib.cli study PARAMS --out OUT --only RUN_ID
  --no-report``. An SFT or RFT run asks for ``num_processes`` GPUs on one node (its notebook launches
  ``accelerate launch`` on them, then evaluates on all of them); a training-free run is an evaluation
  job with ``slurm.evaluate.gpus`` GPUs (default: the training jobs' count), one evaluation process
  per GPU. A run whose ``device`` is ``cpu`` asks for none. ``--dry-run`` prints each job's GPUs and
  its estimated hours and GPU-hours (``slurm.estimate``; see :mod:`vrft_lib.plan.jobs`).
* the report job, ``python -m vrft_lib.cli study PARAMS --out OUT --report-only``, which starts
  when every run job has ended, finished or failed (``--dependency=afterany:...``), so the report
  shows what there is.

Resources come from the study's ``slurm:`` section (see ``params/paper.yaml``)::

    slurm:
      partition: gpu
      account: null
      qos: null
      constraint: null
      train:    {gpus: 8, time: "12:00:00", cpus: 64, mem_gb: 480}   # SFT and RFT runs
      evaluate: {gpus: 8, time: "06:00:00", cpus: 8, mem_gb: 64}     # training-free runs
      report:   {gpus: 0, time: "01:00:00", cpus: 4, mem_gb: 16}
      estimate: {grpo_step_seconds: 80, sft_step_seconds: 4, eval_sample_seconds: 0.75, load_hours: 0.25}
      setup: ["module load cuda/12.4"]                             # shell lines run first
      env: {HF_HUB_OFFLINE: "1"}                                   # exported in every job

``--partition`` and ``--time`` override the partition of every job and the time limit of the run
jobs. Jobs start in the directory ``vrft study`` was called from (``#SBATCH --chdir``), with the
Python interpreter that called it, so relative paths in the study mean the same thing on the cluster.

Everything about the submission lands in ``OUT/slurm/``: ``jobs.json`` (run id -> Slurm job id, and
``report``), ``plan.json`` (every job's command, resources and dependencies), and for each job
submitit's ``<jobid>_submission.sh`` (the sbatch script) and its logs ``<jobid>_0_log.out`` /
``<jobid>_0_log.err``. ``vrft study PARAMS --status`` reads them back: per run, ``done`` when its
``DONE`` marker exists, else the job's state from ``sacct`` (or ``squeue``), else ``not submitted``.

A job runs a :class:`RunCommand` (this module, pickled by reference by submitit), which executes the
command line in a child process and streams its output into the job's log.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import time as _time
from pathlib import Path

from ..errors import ConfigError, VrftError
from ..files import dump_yaml, make_dirs, read_json, refuse_links, write_json, writing_under
from ..models import is_hub_id
from ..plan.jobs import JobSpec, format_plan, plan_jobs
from ..plan.spec import check_same_study, default_out, expand_study, load_study, resolve_plan, select_runs
from ..runfolder import DONE, STUDY_NAMES, check_owned, claim_study_folder, is_done, parse_run_id, run_path

# Job states after which a run's job will not write anything any more (sacct / squeue vocabulary).
ACTIVE_STATES = (
    "PENDING",
    "RUNNING",
    "CONFIGURING",
    "COMPLETING",
    "REQUEUED",
    "RESIZING",
    "SUSPENDED",
    "STAGE_OUT",
    "SIGNALING",
    "REQUEUE_HOLD",
    "REQUEUE_FED",
)


class SlurmError(VrftError, RuntimeError):
    """Submitting to Slurm or asking it about jobs failed."""


# ----------------------------------------------------------------------------------------------
# What a job runs
# ----------------------------------------------------------------------------------------------


class RunCommand:
    """Run a command line in a child process, its output streamed to this process's (the job log).

    submitit pickles this object by reference to this module, so the job's Python must import
    ``vrft_lib`` (it does: the job runs the interpreter that submitted it). Returns the exit code
    (0); raises ``subprocess.CalledProcessError`` on failure, which marks the Slurm job as failed.
    """

    def __init__(self, command: list[str], cwd: str, env: dict[str, str] | None = None):
        self.command = list(command)
        self.cwd = cwd
        self.env = dict(env or {})

    def __call__(self) -> int:
        print(f"[vrft] {shlex.join(self.command)}  (in {self.cwd})", flush=True)
        subprocess.run(self.command, cwd=self.cwd, env=dict(os.environ, **self.env), check=True)
        return 0

    def __repr__(self) -> str:
        return f"RunCommand({shlex.join(self.command)!r}, cwd={self.cwd!r})"


def _comment(text: str) -> str:
    """A comment line of the job script: a newline or other control character in ``text`` is written
    escaped, so nothing after it becomes a line of shell."""
    return "# " + "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _sbatch_setup(job: JobSpec) -> list[str]:
    """Lines at the top of the sbatch script: what the job runs, its environment, the user's setup."""
    lines = [
        _comment(f"vrft {job.kind} job" + (f" for run {job.run_id}" if job.run_id else "")),
        _comment(f"command: {job.shell_command}"),
    ]
    lines += [f"export {k}={shlex.quote(v)}" for k, v in job.env.items()]  # names checked by slurm_settings
    lines += list(job.setup)
    lines.append(f"cd {shlex.quote(job.cwd)}")
    return lines


def default_executor(folder: Path, python: str):
    """submitit's Slurm executor writing its scripts and logs into ``folder``."""
    try:
        import submitit
    except ImportError:  # pragma: no cover - depends on the install
        raise SlurmError("Submitting to Slurm needs the 'submitit' package: pip install submitit") from None
    if shutil.which("sbatch") is None:
        raise SlurmError(
            "No 'sbatch' command on this machine: run `vrft study ... --submit slurm` on a Slurm "
            "login node (or use --dry-run to see the jobs it would submit)."
        )
    return submitit.AutoExecutor(folder=folder, cluster="slurm", slurm_python=shlex.quote(python))


def _submit_one(executor, job: JobSpec, dependency: str | None):
    # No srun step: the job's one task runs in the batch step, which holds the whole allocation. Since
    # Slurm 22.05 an srun step does not inherit --cpus-per-task, which would pin accelerate's processes
    # to one CPU. A run interrupted by its time limit resumes from its last checkpoint when submitted again.
    params = dict(
        name=job.name,
        timeout_min=int(job.time_min),
        nodes=1,
        tasks_per_node=1,
        slurm_setup=_sbatch_setup(job),
        slurm_additional_parameters={"chdir": job.cwd},
        slurm_use_srun=False,
    )
    if job.cpus:
        params["cpus_per_task"] = int(job.cpus)
    if job.gpus:
        params["gpus_per_node"] = int(job.gpus)
    if job.mem_gb:
        params["mem_gb"] = job.mem_gb
    for key in ("partition", "account", "qos", "constraint"):
        if getattr(job, key):
            params[f"slurm_{key}"] = getattr(job, key)
    if dependency:
        params["slurm_dependency"] = dependency
    executor.update_parameters(**params)
    return executor.submit(RunCommand(job.command, job.cwd, job.env))


# ----------------------------------------------------------------------------------------------
# Submission and status
# ----------------------------------------------------------------------------------------------


def _read_jobs(out: Path) -> dict:
    jobs = read_json(out / "slurm" / "jobs.json")
    return jobs if isinstance(jobs, dict) else {}


def _model_in_cache(model) -> bool | None:
    """True/False for a hub id (whether it is in the local Hugging Face cache); None for anything else."""
    name = model.get("name_or_path") if isinstance(model, dict) else model
    if not isinstance(name, str) or not is_hub_id(name):
        return None
    from huggingface_hub import try_to_load_from_cache

    return isinstance(try_to_load_from_cache(name, "config.json"), str)


def submit_study(
    params,
    out=None,
    *,
    only: str | None = None,
    partition: str | None = None,
    time=None,
    dry_run: bool = False,
    force: bool = False,
    executor="slurm",
    python: str | None = None,
    as_json: bool = False,
    stream=None,
) -> list[str]:
    """Submit the study's unfinished runs and its report job to Slurm; return the job ids (report last).

    Validates every run first (no job is submitted when one is invalid). Skips runs that have a
    ``DONE`` marker (unless ``force``) or a job still pending or running. Writes ``OUT/slurm/jobs.json``
    (run id -> job id, merged with earlier submissions), ``OUT/slurm/plan.json`` and submitit's sbatch
    scripts and logs. With ``dry_run``, prints the jobs (as JSON with ``as_json``), writes nothing and
    returns ``[]``.
    ``executor``: ``"slurm"``, or a callable ``(folder, python) -> submitit.Executor``.
    """
    stream = stream or sys.stdout
    study = load_study(params)
    out = Path(out or default_out(study)).resolve()
    all_runs = expand_study(study, out)
    runs = select_runs(all_runs, only)
    if not runs:
        raise ConfigError(
            f"--only '{only}' matches no run of study '{study['name']}'. Run ids look like "
            f"'{all_runs[0].run_id}'; see `vrft study {params} --dry-run`."
        )
    resolve_plan(runs)  # every run valid before anything is queued
    check_owned(out, force=force)  # a folder the kit does not own gets no job (nor with --dry-run)
    for path in [out / name for name in STUDY_NAMES]:
        refuse_links(path, root=out)
    previous = _read_jobs(out)
    states = query_states([v for k, v in previous.items() if k != "report"]) if previous and not dry_run else {}
    todo, waiting = [], []
    for r in runs:
        if is_done(r.run_dir) and not force:
            continue
        old = previous.get(r.run_id)
        if old and states.get(old, "").split(" ")[0] in ACTIVE_STATES:
            waiting.append(r.run_id)  # its earlier job is still queued or running
            continue
        todo.append(r)
    jobs = plan_jobs(study, out, todo, partition=partition, time=time, python=python, force=force)
    jobs[-1].after = [r.run_id for r in todo] + waiting
    model = study.get("model")
    if _model_in_cache(model) is False and str(jobs[0].env.get("HF_HUB_OFFLINE")) == "1":
        name = model["name_or_path"] if isinstance(model, dict) else model
        print(
            f"[vrft] warning: model '{name}' is not in this machine's Hugging Face cache, and the jobs run "
            f"with HF_HUB_OFFLINE=1. Download it first (`hf download {name}`) into a cache the compute "
            "nodes share, or set the study's model to a local folder.",
            file=stream,
        )
    if dry_run:
        print(json.dumps([j.to_dict() for j in jobs], indent=2) if as_json else format_plan(jobs), file=stream)
        return []
    if not todo and not waiting and (out / "report.html").exists():
        print(
            f"[vrft] every run of study '{study['name']}' is done and its report exists; nothing to submit "
            "(--force recomputes).",
            file=stream,
        )
        return []
    if not force:
        check_same_study(study, out)
    with writing_under(out):  # nothing written through a link below it
        return _submit_jobs(study, params, out, runs, todo, waiting, jobs, previous, executor, python, stream)


def _submit_jobs(study, params, out: Path, runs, todo, waiting, jobs, previous, executor, python, stream) -> list[str]:
    """Write the study's record and the plan into ``OUT``, then submit ``jobs``; return their ids."""
    make_dirs(out)
    claim_study_folder(out)
    folder = make_dirs(out / "slurm")
    dump_yaml({k: v for k, v in study.items() if not k.startswith("_")}, out / "study.yaml")
    write_json(
        {
            "study": study["name"],
            "params": study["_source"],
            "out": str(out),
            "created": _time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "skipped_done": [r.run_id for r in runs if r not in todo and r.run_id not in waiting],
            "still_queued": waiting,
            "jobs": [j.to_dict() for j in jobs],
        },
        folder / "plan.json",
    )
    make = default_executor if executor == "slurm" else executor
    if not callable(make):
        raise ConfigError(f"executor '{executor}': only 'slurm' is supported.")
    python = python or sys.executable
    ids = dict(previous)
    submitted = []
    for job in jobs:
        if job.kind == "report":
            after = [ids[rid] for rid in job.after if rid in ids]
            dependency = "afterany:" + ":".join(after) if after else None
        else:
            dependency = None
        try:
            handle = _submit_one(make(folder, python), job, dependency)
        except VrftError:
            raise
        except Exception as e:  # sbatch refused (bad partition, limits): say which job, keep what went in
            write_json(ids, folder / "jobs.json")
            raise SlurmError(
                f"submitting job '{job.name}' failed: {e}\nJobs submitted so far are in {folder / 'jobs.json'}."
            ) from e
        job_id = str(handle.job_id)
        ids["report" if job.run_id is None else job.run_id] = job_id
        submitted.append(job_id)
        print(
            f"[vrft] submitted {job_id:>10s}  {job.kind:8s} {job.run_id or 'report'}  "
            f"({job.gpus} GPU{'s' if job.gpus != 1 else ''}, {job.time_min} min"
            + (f", after {dependency}" if dependency else "")
            + ")",
            file=stream,
            flush=True,
        )
        write_json(ids, folder / "jobs.json")
    print(
        f"[vrft] {len(submitted)} job(s) submitted; follow them with `vrft study {params} --out {out} --status`.",
        file=stream,
    )
    return submitted


def query_states(job_ids) -> dict[str, str]:
    """Slurm's state of each job id (``sacct``, then ``squeue`` for ids sacct does not know).

    Ids that no tool knows are left out. Never raises: on a machine without Slurm it returns ``{}``.
    """
    ids = sorted({str(j) for j in job_ids if j})
    states: dict[str, str] = {}
    if not ids:
        return states
    if shutil.which("sacct"):
        try:
            text = subprocess.run(
                ["sacct", "-X", "-o", "JobID,State", "--parsable2", "-j", ",".join(ids)],
                capture_output=True,
                text=True,
                timeout=60,
            ).stdout
            from submitit.slurm.slurm import SlurmInfoWatcher

            for jid, info in SlurmInfoWatcher().read_info(text).items():
                if jid in ids and info.get("State"):
                    states[jid] = info["State"]
        except Exception:  # noqa: BLE001 - accounting may be disabled; squeue is next
            pass
    missing = [j for j in ids if j not in states]
    if missing and shutil.which("squeue"):
        try:
            text = subprocess.run(
                ["squeue", "-h", "-o", "%i|%T", "-j", ",".join(missing)], capture_output=True, text=True, timeout=60
            ).stdout
            for line in text.splitlines():
                if "|" in line:
                    jid, state = line.strip().split("|", 1)
                    if jid in missing:
                        states[jid] = state
        except Exception:  # noqa: BLE001
            pass
    return states


def study_status(out) -> list[dict]:
    """Where each run of the study in ``out`` stands: one row per run, then the report job.

    A row: ``run_id``, ``job_id`` (or None), ``state``: ``done`` (the run's DONE marker exists; for the
    report, report.html), else the Slurm state of its job (PENDING, RUNNING, FAILED, ...), ``submitted``
    when Slurm cannot be asked, or ``not submitted``.
    """
    out = Path(out).resolve()
    jobs = _read_jobs(out)
    run_ids: list[str] = []
    plan = out / "slurm" / "plan.json"
    if (out / "study.yaml").exists():
        try:
            run_ids = [r.run_id for r in expand_study(load_study(out / "study.yaml"), out)]
        except VrftError:  # e.g. a relative path in the study that does not resolve from here
            run_ids = []
    if not run_ids and isinstance(planned := read_json(plan), dict):
        run_ids = [j["run_id"] for j in planned.get("jobs") or [] if isinstance(j, dict) and j.get("run_id")]
    run_ids += [k for k in jobs if k != "report" and k not in run_ids]
    states = query_states(jobs.values())
    rows = []
    for rid in run_ids + ["report"]:
        job_id = jobs.get(rid)
        parts = parse_run_id(rid)
        marker = out / "report.html" if parts is None else run_path(out, *parts) / DONE
        if marker.exists():
            state = "done"
        elif job_id:
            state = states.get(job_id, "submitted")
        else:
            state = "not submitted"
        rows.append({"run_id": rid, "job_id": job_id, "state": state})
    return rows


def format_status(rows: list[dict]) -> str:
    """The status rows as a fixed-width table.

    >>> print(format_status([{"run_id": "sat/rft/seed0", "job_id": "42", "state": "RUNNING"}]))
    run                                         job         state
    sat/rft/seed0                               42          RUNNING
    """
    lines = [f"{'run':43s} {'job':11s} state"]
    for r in rows:
        lines.append(f"{r['run_id']:43s} {r['job_id'] or '-':11s} {r['state']}")
    return "\n".join(lines)

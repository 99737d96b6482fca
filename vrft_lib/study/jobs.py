"""The Slurm job plan of a study: each run's job (command, GPUs, CPUs, memory, time, partition,
environment) from the study's ``slurm:`` section, and the report job after them. Nothing here talks
to Slurm: :mod:`vrft_lib.study.slurm` submits these jobs and reads their states back.
"""

from __future__ import annotations

import math
import os
import re
import shlex
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..config import check_keys
from ..errors import ConfigError

SLURM_KEYS = ("partition", "account", "qos", "constraint", "train", "evaluate", "report", "setup", "env")
KIND_KEYS = ("gpus", "time", "cpus", "mem_gb", "partition")
JOB_KINDS = ("train", "evaluate", "report")
DEFAULTS = {
    "train": {"time": "24:00:00", "cpus": None, "mem_gb": None},  # cpus: 8 per GPU (at least 4)
    "evaluate": {"time": "12:00:00", "cpus": 8, "mem_gb": None},
    "report": {"gpus": 0, "time": "01:00:00", "cpus": 2, "mem_gb": 8},
}
DEFAULT_ENV = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}

# ----------------------------------------------------------------------------------------------
# Settings
# ----------------------------------------------------------------------------------------------


def parse_time(value) -> int:
    """A Slurm time limit in whole minutes (rounded up).

    Accepts minutes as a number and Slurm's formats ``MM``, ``MM:SS``, ``HH:MM:SS``, ``D-HH``,
    ``D-HH:MM``, ``D-HH:MM:SS``.

    >>> [parse_time(v) for v in (90, "90", "1:30:00", "2-00:00:00", "1-12", "45:30", "0:00:01")]
    [90, 90, 90, 2880, 2160, 46, 1]
    >>> parse_time("soon")
    Traceback (most recent call last):
    ...
    vrft_lib.errors.ConfigError: time limit 'soon': use minutes (720) or Slurm's [D-]HH:MM:SS (12:00:00, 1-00:00:00).
    """
    if isinstance(value, bool):
        value = str(value)
    if isinstance(value, (int, float)) and value > 0:
        return int(math.ceil(value))
    text = str(value).strip()
    m = re.fullmatch(r"(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?", text)
    if not m:
        raise ConfigError(f"time limit '{value}': use minutes (720) or Slurm's [D-]HH:MM:SS (12:00:00, 1-00:00:00).")
    days, a, b, c = m.groups()
    if days is not None:  # D-HH[:MM[:SS]]
        seconds = int(days) * 86400 + int(a) * 3600 + int(b or 0) * 60 + int(c or 0)
    elif c is not None:  # HH:MM:SS
        seconds = int(a) * 3600 + int(b) * 60 + int(c)
    elif b is not None:  # MM:SS
        seconds = int(a) * 60 + int(b)
    else:  # MM
        seconds = int(a) * 60
    if seconds <= 0:
        raise ConfigError(f"time limit '{value}': must be more than zero.")
    return int(math.ceil(seconds / 60))


def slurm_settings(study: dict) -> dict:
    """The study's ``slurm`` section, checked, with the defaults filled in."""
    where = f"study '{study.get('name')}': slurm"
    raw = study.get("slurm") or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping (partition, train, evaluate, report, setup, env), got {raw!r}.")
    check_keys(raw, SLURM_KEYS, where)
    out = {k: raw.get(k) for k in ("partition", "account", "qos", "constraint")}
    for kind in JOB_KINDS:
        section = raw.get(kind) or {}
        if not isinstance(section, dict):
            raise ConfigError(f"{where}.{kind}: expected a mapping of {', '.join(KIND_KEYS)}, got {section!r}.")
        check_keys(section, KIND_KEYS, f"{where}.{kind}")
        merged = dict(DEFAULTS[kind], **{k: v for k, v in section.items() if v is not None})
        merged["time_min"] = parse_time(merged.pop("time"))
        for k in ("gpus", "cpus", "mem_gb"):
            v = merged.get(k)
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0):
                raise ConfigError(f"{where}.{kind}.{k}: expected a non-negative number, got {v!r}.")
        out[kind] = merged
    setup = raw.get("setup") or []
    if not isinstance(setup, list) or not all(isinstance(s, str) for s in setup):
        raise ConfigError(f"{where}.setup: expected a list of shell lines, got {setup!r}.")
    out["setup"] = list(setup)
    env = raw.get("env") or {}
    if not isinstance(env, dict):
        raise ConfigError(f"{where}.env: expected a mapping NAME: value, got {env!r}.")
    out["env"] = dict(DEFAULT_ENV, **{str(k): str(v) for k, v in env.items()})
    return out


# ----------------------------------------------------------------------------------------------
# The plan
# ----------------------------------------------------------------------------------------------


@dataclass
class JobSpec:
    """One Slurm job: what it runs, where, with which resources, after which other jobs."""

    name: str  # the Slurm job name
    kind: str  # train | evaluate | report
    run_id: str | None  # None for the report job
    command: list[str]  # argv, run in ``cwd``
    cwd: str
    env: dict[str, str]
    gpus: int
    cpus: int | None
    mem_gb: float | None
    time_min: int
    partition: str | None
    account: str | None = None
    qos: str | None = None
    constraint: str | None = None
    setup: list[str] = field(default_factory=list)
    after: list[str] = field(default_factory=list)  # run ids this job waits for (afterany)

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def shell_command(self) -> str:
        return shlex.join(self.command)


def _job_name(study: dict, run_id: str | None) -> str:
    tail = "report" if run_id is None else run_id.replace("/", "-")
    return re.sub(r"[^A-Za-z0-9_.-]", "_", f"vrft-{study['name']}-{tail}")


def _train_gpus(run: dict, settings: dict, run_id: str) -> int:
    nproc = int(run.get("num_processes") or 1)
    wanted = settings["train"].get("gpus")
    if wanted is None:
        return 0 if run.get("device") == "cpu" else nproc
    wanted = int(wanted)
    if wanted not in (0, nproc):
        raise ConfigError(
            f"study slurm.train.gpus is {wanted}, but run '{run_id}' trains on num_processes = {nproc} "
            f"processes (one per GPU). Set slurm.train.gpus to {nproc} (or leave it out), or change "
            "run_defaults.num_processes."
        )
    return wanted


def plan_jobs(
    study: dict,
    out_dir,
    runs,
    *,
    partition: str | None = None,
    time=None,
    python: str | None = None,
    cwd: str | None = None,
    force: bool = False,
    params_path: str | None = None,
) -> list[JobSpec]:
    """The jobs that run ``runs`` (``vrft_lib.study.PlannedRun``) of ``study`` into ``out_dir``.

    One job per run, in the runs' order, then the report job, which waits for all of them. ``time``
    (minutes or ``[D-]HH:MM:SS``) overrides the run jobs' time limit, ``partition`` every job's
    partition. ``force`` adds ``--force`` to the run jobs (recompute a finished run). Loads no model.
    """
    settings = slurm_settings(study)
    out = str(Path(out_dir).resolve())
    params = str(Path(params_path or study["_source"]).resolve())
    python = python or sys.executable
    cwd = str(Path(cwd or os.getcwd()).resolve())
    time_min = parse_time(time) if time is not None else None
    base = [python, "-m", "vrft_lib.cli", "study", params, "--out", out]
    env = dict(settings["env"], PYTHONUNBUFFERED="1")
    jobs = []
    for r in runs:
        run = r.parameters["run"]
        kind = "evaluate" if r.variant == "training_free" else "train"
        res = settings[kind]
        if kind == "train":
            gpus = _train_gpus(run, settings, r.run_id)
            cpus = res.get("cpus") or max(4, 8 * gpus)
        else:
            gpus = int(res["gpus"]) if res.get("gpus") is not None else (0 if run.get("device") == "cpu" else 1)
            cpus = res.get("cpus")
        command = base + ["--only", r.run_id, "--no-report"] + (["--force"] if force else [])
        jobs.append(
            JobSpec(
                name=_job_name(study, r.run_id),
                kind=kind,
                run_id=r.run_id,
                command=command,
                cwd=cwd,
                env=env,
                gpus=gpus,
                cpus=cpus,
                mem_gb=res.get("mem_gb"),
                time_min=time_min or res["time_min"],
                partition=partition or res.get("partition") or settings["partition"],
                account=settings["account"],
                qos=settings["qos"],
                constraint=settings["constraint"] if gpus else None,
                setup=list(settings["setup"]),
            )
        )
    res = settings["report"]
    jobs.append(
        JobSpec(
            name=_job_name(study, None),
            kind="report",
            run_id=None,
            command=base + ["--report-only"],
            cwd=cwd,
            env=env,
            gpus=int(res.get("gpus") or 0),
            cpus=res.get("cpus"),
            mem_gb=res.get("mem_gb"),
            time_min=res["time_min"],
            partition=partition or res.get("partition") or settings["partition"],
            account=settings["account"],
            qos=settings["qos"],
            constraint=None,
            setup=list(settings["setup"]),
            after=[r.run_id for r in runs],
        )
    )
    return jobs


def format_plan(jobs: list[JobSpec]) -> str:
    lines = [f"{len(jobs)} Slurm job(s):"]
    for j in jobs:
        lines.append(
            f"  {j.kind:8s} {j.run_id or 'report':40s} gpus={j.gpus} cpus={j.cpus} mem_gb={j.mem_gb} "
            f"time={j.time_min}min partition={j.partition}" + (f" after {len(j.after)} run job(s)" if j.after else "")
        )
        lines.append(f"           {j.shell_command}")
    return "\n".join(lines)

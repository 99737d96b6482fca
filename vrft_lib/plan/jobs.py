"""The Slurm job plan of a study: each run's job (command, GPUs, CPUs, memory, time, partition,
environment) from the study's ``slurm:`` section, and the report job after them. Nothing here talks
to Slurm: :mod:`vrft_lib.study.slurm` submits these jobs and reads their states back.

A training job (SFT, RFT) holds ``num_processes`` GPUs, trains on them and then evaluates on all of
them; a training-free run is an evaluation job with its own GPU count (``slurm.evaluate.gpus``,
default the training jobs' GPUs: a node's). The job tells its evaluation how many processes to use
(``VRFT_EVAL_PROCESSES``). Each job carries an estimate of its hours and GPU-hours, worked out from
per-step and per-sample times (``slurm.estimate``; the defaults are the arithmetic of docs/paper.md
for Qwen2.5-VL-7B on A100s, not measurements).
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
from ..data.synthetic import DEFAULT_NUM_SAMPLES
from ..errors import ConfigError
from ..notebook import prepare
from ..parallel import EVAL_PROCESSES_ENV
from ..trainer_args import resolve_trainer_args

SLURM_KEYS = ("partition", "account", "qos", "constraint", "train", "evaluate", "report", "setup", "env", "estimate")
KIND_KEYS = ("gpus", "time", "cpus", "mem_gb", "partition")
JOB_KINDS = ("train", "evaluate", "report")
DEFAULTS = {
    "train": {"time": "24:00:00", "cpus": None, "mem_gb": None},  # cpus: 8 per GPU (at least 4)
    "evaluate": {"time": "12:00:00", "cpus": 8, "mem_gb": None},
    "report": {"gpus": 0, "time": "01:00:00", "cpus": 2, "mem_gb": 8},
}
DEFAULT_ENV = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
# What a job's estimate is worked out from: docs/paper.md section 5's arithmetic for Qwen2.5-VL-7B in
# bf16 on A100 80 GB (not measured). Replace them with measured figures (scripts/gpu_check.py).
ESTIMATE_DEFAULTS = {
    "grpo_step_seconds": 80.0,  # a GRPO step of 32 completions per GPU of up to 1,024 tokens
    "sft_step_seconds": 4.0,  # an SFT step of 4 examples per GPU
    "eval_sample_seconds": 0.75,  # one evaluated sample with up to 1,024 new tokens, on one GPU
    "load_hours": 0.25,  # loading the model, writing checkpoints, start-up
}
# Evaluation rows of the real benchmarks' splits (a dry run reads no data). Banner-Analysis is not
# public: a few hundred test images are assumed.
EVAL_ROWS = {("fgvc_aircraft", "test"): 3333, ("fgvc_aircraft", "val"): 3333, ("sat", "val"): 4000}
EVAL_ROWS.update({("sat", "test"): 150, ("banner", "test"): 300})

# ----------------------------------------------------------------------------------------------
# Settings
# ----------------------------------------------------------------------------------------------

# What a Slurm value that is not shell (every one but ``setup`` and ``env``) may hold: one token, the
# characters partition, account, QOS and time names use; a constraint adds Slurm's operators. No
# whitespace, newline, quote, ``;``, ``$`` or backtick can reach the job script through them.
TOKEN = re.compile(r"[A-Za-z0-9_.,:+=@%/-]+")
CONSTRAINT = re.compile(r"[A-Za-z0-9_.,:+=@%/&|*\[\]-]+")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
PLAIN_PATH = re.compile(r"[^\x00-\x1f\x7f]+")


def slurm_token(value, where: str, pattern=TOKEN):
    """``value`` (None, or a Slurm value that must be one token) checked against ``pattern``.

    >>> slurm_token("gpu", "slurm.partition")
    'gpu'
    >>> slurm_token("gpu\\nrm -rf ~", "slurm.partition")
    Traceback (most recent call last):
    ...
    vrft_lib.errors.ConfigError: slurm.partition is 'gpu\\nrm -rf ~': a Slurm value must be a single token ...
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)) or not pattern.fullmatch(str(value)):
        raise ConfigError(
            f"{where} is {str(value)!r}: a Slurm value must be a single token (letters, digits and "
            "_ . , : + = @ % / -; a constraint also & | * [ ]), with no whitespace, newline, quote, ';', "
            "'$' or backtick. Write the name Slurm knows (`sinfo` lists partitions); shell commands "
            "belong in slurm.setup, environment variables in slurm.env."
        )
    return str(value)


def plain_path(value: str, where: str) -> str:
    """``value``, a path the job script names, refused when it holds a newline or control character."""
    if not PLAIN_PATH.fullmatch(value):
        raise ConfigError(
            f"{where} is {value!r}: a path written into a Slurm job script cannot hold a newline or "
            "control character. Rename the folder (or choose another --out)."
        )
    return value


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
    out = {k: slurm_token(raw.get(k), f"{where}.{k}") for k in ("partition", "account", "qos")}
    out["constraint"] = slurm_token(raw.get("constraint"), f"{where}.constraint", CONSTRAINT)
    for kind in JOB_KINDS:
        section = raw.get(kind) or {}
        if not isinstance(section, dict):
            raise ConfigError(f"{where}.{kind}: expected a mapping of {', '.join(KIND_KEYS)}, got {section!r}.")
        check_keys(section, KIND_KEYS, f"{where}.{kind}")
        merged = dict(DEFAULTS[kind], **{k: v for k, v in section.items() if v is not None})
        merged["partition"] = slurm_token(merged.get("partition"), f"{where}.{kind}.partition")
        slurm_token(merged.get("time"), f"{where}.{kind}.time")
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
    for k in env:
        if not isinstance(k, str) or not ENV_NAME.fullmatch(k):
            raise ConfigError(
                f"{where}.env: {str(k)!r} is not an environment variable name (letters, digits and _, "
                "not starting with a digit)."
            )
    out["env"] = dict(DEFAULT_ENV, **{str(k): str(v) for k, v in env.items()})
    est = raw.get("estimate") or {}
    if not isinstance(est, dict):
        raise ConfigError(f"{where}.estimate: expected a mapping of {', '.join(ESTIMATE_DEFAULTS)}, got {est!r}.")
    check_keys(est, tuple(ESTIMATE_DEFAULTS), f"{where}.estimate")
    for k, v in est.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
            raise ConfigError(f"{where}.estimate.{k}: expected a non-negative number, got {v!r}.")
    out["estimate"] = dict(ESTIMATE_DEFAULTS, **est)
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
    estimate: dict = field(default_factory=dict)  # hours and gpu_hours (an estimate: see the module)

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
    partition = slurm_token(partition, "--partition")
    out = plain_path(str(Path(out_dir).resolve()), "the output folder")
    params = plain_path(str(Path(params_path or study["_source"]).resolve()), "the study file")
    python = plain_path(python or sys.executable, "the Python interpreter")
    cwd = plain_path(str(Path(cwd or os.getcwd()).resolve()), "the working directory")
    time_min = parse_time(slurm_token(time, "--time")) if time is not None else None
    base = [python, "-m", "vrft_lib.cli", "study", params, "--out", out]
    env = dict(settings["env"], PYTHONUNBUFFERED="1")
    jobs = []
    for r in runs:
        run = r.parameters["run"]
        kind = "evaluate" if run.get("method") == "none" else "train"
        res = settings[kind]
        if kind == "train":
            gpus = _train_gpus(run, settings, r.run_id)
            cpus = res.get("cpus") or max(4, 8 * gpus)
        else:  # its own count, else the node's: the training jobs' GPUs
            gpus = res.get("gpus")
            if gpus is None:
                gpus = settings["train"].get("gpus")
            if gpus is None:
                gpus = 0 if run.get("device") == "cpu" else int(run.get("num_processes") or 1)
            gpus = 0 if run.get("device") == "cpu" else int(gpus)
            cpus = res.get("cpus")
        command = base + ["--only", r.run_id, "--no-report"] + (["--force"] if force else [])
        job_env = dict(env, **({EVAL_PROCESSES_ENV: str(gpus)} if gpus else {}))  # evaluate on every GPU
        jobs.append(
            JobSpec(
                name=_job_name(study, r.run_id),
                kind=kind,
                run_id=r.run_id,
                command=command,
                cwd=cwd,
                env=job_env,
                gpus=gpus,
                cpus=cpus,
                mem_gb=res.get("mem_gb"),
                time_min=time_min or res["time_min"],
                partition=partition or res.get("partition") or settings["partition"],
                account=settings["account"],
                qos=settings["qos"],
                constraint=settings["constraint"] if gpus else None,
                setup=list(settings["setup"]),
                estimate=estimate_job(r, gpus, settings["estimate"]),
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


def eval_rows(data) -> int | None:
    """The evaluation rows of a run's data when known without reading it (its ``eval_limit``, a
    synthetic split's size, a real benchmark's published split size), else None."""
    known = None
    if data.name.startswith("synthetic_"):
        known = data.options.get("num_samples") or DEFAULT_NUM_SAMPLES.get(data.eval_split)
    else:
        known = EVAL_ROWS.get((data.name, data.eval_split))
    if data.eval_limit and known:
        return min(data.eval_limit, known)
    return data.eval_limit or known


def estimate_job(run, gpus: int, rates: dict) -> dict:
    """A run job's estimated wall hours and GPU-hours on ``gpus`` GPUs (none for a CPU job).

    Training: steps x the per-step time scaled to the run's work per GPU (GRPO: completions per GPU
    per step / 32 x max_completion_length / 1,024; SFT: examples per GPU per step / 4). Evaluation:
    rows x prompt modes x the per-sample time x max_new_tokens / 1,024, shared by the ``gpus``
    processes. Plus ``load_hours``. An estimate from ``rates`` (``slurm.estimate``), not a measurement.
    """
    if not gpus:
        return {}
    cfg, ev = prepare(run.parameters["run"], run.parameters["evaluation"], run.run_dir)
    train_s = 0.0
    if cfg.method != "none":
        args = resolve_trainer_args(cfg, device="cuda", num_processes=gpus)
        per_gpu = args["per_device_train_batch_size"] * args["gradient_accumulation_steps"]
        steps = max(0, args.get("max_steps") or 0)
        if cfg.method == "grpo":
            length = args.get("max_completion_length") or 256
            train_s = steps * rates["grpo_step_seconds"] * per_gpu / 32 * length / 1024
        else:
            train_s = steps * rates["sft_step_seconds"] * per_gpu / 4
    rows = eval_rows(ev.data)
    samples = rows * len(ev.modes) if rows else None
    eval_s = samples * rates["eval_sample_seconds"] * ev.max_new_tokens / 1024 / gpus if samples else 0.0
    hours = (train_s + eval_s) / 3600 + rates["load_hours"]
    return {
        "hours": round(hours, 2),
        "gpu_hours": round(hours * gpus, 1),
        "train_hours": round(train_s / 3600, 2),
        "eval_hours": round(eval_s / 3600, 2) if samples else None,  # None: rows unknown, not counted
        "eval_samples": samples,
        "eval_processes": gpus,
    }


def format_plan(jobs: list[JobSpec]) -> str:
    lines = [f"{len(jobs)} Slurm job(s):"]
    total = 0.0
    for j in jobs:
        est = j.estimate or {}
        total += est.get("gpu_hours") or 0.0
        guess = f" est. {est['hours']} h = {est['gpu_hours']} GPU-h" if est else ""
        if est and est.get("eval_hours") is None:
            guess += " (evaluation rows unknown: not counted)"
        lines.append(
            f"  {j.kind:8s} {j.run_id or 'report':40s} gpus={j.gpus} cpus={j.cpus} mem_gb={j.mem_gb} "
            f"time={j.time_min}min partition={j.partition}"
            + (f" after {len(j.after)} run job(s)" if j.after else "")
            + guess
        )
        lines.append(f"           {j.shell_command}")
    if total:
        lines.append(
            f"estimated GPU-hours: {total:.0f} in all (an estimate from per-step and per-sample times, "
            "slurm.estimate; the defaults are docs/paper.md's arithmetic for 7B on A100s, not measured)"
        )
    return "\n".join(lines)

"""Slurm hand-off (vrft_lib.slurm): the job plan, the sbatch scripts submitit writes, dependencies, status.

No real Slurm: ``sbatch``, ``srun``, ``sacct`` and ``squeue`` are small shell fakes put first on PATH.
The fake ``sbatch`` keeps a copy of each script and answers as Slurm does ("Submitted batch job N"),
so submitit's real submission code runs. A generated script is also executed with bash, the way
Slurm would, to show that it reaches the exact command line in the right folder with the right env.
"""

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import submitit  # noqa: E402  (in the lock file: a missing install must fail, not skip)
import yaml

from vrft_lib.errors import ConfigError  # noqa: E402
from vrft_lib.plan.jobs import parse_time, plan_jobs  # noqa: E402
from vrft_lib.plan.spec import expand_study, load_study  # noqa: E402
from vrft_lib.study.slurm import (  # noqa: E402
    RunCommand,
    format_status,
    study_status,
    submit_study,
)

ROOT = Path(__file__).resolve().parent.parent
PAPER = ROOT / "params" / "paper.yaml"

FAKE_SBATCH = """#!/bin/sh
n=$(cat "$FAKE_SLURM/counter" 2>/dev/null || echo 1000)
n=$((n+1))
echo "$n" > "$FAKE_SLURM/counter"
cp "$1" "$FAKE_SLURM/sbatch_$n.sh"
echo "Submitted batch job $n"
"""
FAKE_SACCT = """#!/bin/sh
echo "Slurm accounting storage is disabled" >&2
exit 1
"""
FAKE_SQUEUE = """#!/bin/sh
cat "$FAKE_SLURM/squeue.txt" 2>/dev/null
"""


@pytest.fixture
def fake_slurm(tmp_path, monkeypatch):
    """A folder of fake Slurm commands, first on PATH; returns the folder where they record things."""
    state = tmp_path / "fake_slurm"
    bin_dir = state / "bin"
    bin_dir.mkdir(parents=True)
    for name, text in {
        "sbatch": FAKE_SBATCH,
        "srun": "#!/bin/sh\nexit 0\n",
        "sacct": FAKE_SACCT,
        "squeue": FAKE_SQUEUE,
    }.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_SLURM", str(state))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return state


@pytest.fixture(scope="module")
def paper():
    return load_study(PAPER)


def _jobs(study, out, **kw):
    return plan_jobs(study, out, expand_study(study, out), **kw)


# ----------------------------------------------------------------------------------------------
# The plan
# ----------------------------------------------------------------------------------------------


def test_one_job_per_run_then_the_report(paper, tmp_path):
    jobs = _jobs(paper, tmp_path / "out", python="/opt/py/bin/python", cwd=str(tmp_path))
    assert len(jobs) == 12
    assert [j.kind for j in jobs].count("train") == 8
    assert [j.kind for j in jobs].count("evaluate") == 3
    assert jobs[-1].kind == "report" and jobs[-1].run_id is None
    assert jobs[-1].after == [j.run_id for j in jobs[:-1]]
    assert all(not j.after for j in jobs[:-1])


def test_gpus_time_and_resources_come_from_the_study(paper, tmp_path):
    jobs = {j.run_id: j for j in _jobs(paper, tmp_path / "out")}
    rft, tf, report = jobs["sat/rft_length/seed0"], jobs["sat/training_free/seed0"], jobs[None]
    assert (rft.gpus, rft.time_min, rft.cpus, rft.mem_gb, rft.partition) == (8, 720, 64, 480, "gpu")
    assert (tf.gpus, tf.time_min, tf.cpus, tf.mem_gb) == (8, 360, 8, 64)
    assert (report.gpus, report.time_min) == (0, 60)
    assert jobs["banner/sft/seed0"].gpus == 8  # SFT trains on the same 8 processes


def test_each_job_evaluates_on_all_of_its_gpus(paper, tmp_path):
    jobs = {j.run_id: j for j in _jobs(paper, tmp_path / "out")}
    for rid in ("sat/rft/seed0", "banner/sft/seed0", "sat/training_free/seed0"):
        assert jobs[rid].env["VRFT_EVAL_PROCESSES"] == "8", rid
        assert jobs[rid].estimate["eval_processes"] == 8
    assert "VRFT_EVAL_PROCESSES" not in jobs[None].env  # the report job has no GPU
    # a training-free job's own GPU count; left out, the node's (the training jobs' GPUs)
    own = dict(paper, slurm=dict(paper["slurm"], evaluate=dict(paper["slurm"]["evaluate"], gpus=2)))
    tf = {j.run_id: j for j in _jobs(own, tmp_path / "out")}["sat/training_free/seed0"]
    assert tf.gpus == 2 and tf.env["VRFT_EVAL_PROCESSES"] == "2"
    node = dict(paper, slurm=dict(paper["slurm"], evaluate={"time": "06:00:00"}))
    tf = {j.run_id: j for j in _jobs(node, tmp_path / "out")}["sat/training_free/seed0"]
    assert tf.gpus == 8 and tf.env["VRFT_EVAL_PROCESSES"] == "8"


def test_gpu_hour_estimates_follow_the_per_step_and_per_sample_times(paper, tmp_path):
    jobs = {j.run_id: j for j in _jobs(paper, tmp_path / "out")}
    rft = jobs["fgvc_aircraft/rft/seed0"].estimate
    # 300 steps x 80 s (32 completions of up to 1,024 tokens per GPU) = 6.67 h; 3,333 rows x 2 modes x
    # 0.75 s / 8 GPUs = 0.17 h; 0.25 h loading: 7.09 h on 8 GPUs
    assert rft["train_hours"] == pytest.approx(6.67, abs=0.01)
    assert rft["eval_hours"] == pytest.approx(0.17, abs=0.01) and rft["eval_samples"] == 6666
    assert rft["hours"] == pytest.approx(7.09, abs=0.01) and rft["gpu_hours"] == pytest.approx(56.7, abs=0.1)
    sft = jobs["fgvc_aircraft/sft/seed0"].estimate
    assert sft["train_hours"] == pytest.approx(300 * 4 / 3600, abs=0.01)
    tf = jobs["fgvc_aircraft/training_free/seed0"].estimate
    assert tf["train_hours"] == 0 and tf["gpu_hours"] == pytest.approx(8 * (0.17 + 0.25), abs=0.1)
    assert jobs[None].estimate == {}
    faster = dict(paper, slurm=dict(paper["slurm"], estimate={"grpo_step_seconds": 40}))
    half = {j.run_id: j for j in _jobs(faster, tmp_path / "out")}["fgvc_aircraft/rft/seed0"].estimate
    assert half["train_hours"] == pytest.approx(rft["train_hours"] / 2, abs=0.01)
    with pytest.raises(ConfigError, match="did you mean 'sft_step_seconds'"):
        _jobs(dict(paper, slurm={"estimate": {"sft_step_second": 1}}), tmp_path / "out")


def test_flags_override_partition_and_the_run_jobs_time(paper, tmp_path):
    jobs = _jobs(paper, tmp_path / "out", partition="a100", time="1-00:00:00")
    assert {j.partition for j in jobs} == {"a100"}
    assert {j.time_min for j in jobs if j.kind != "report"} == {1440}
    assert jobs[-1].time_min == 60


def test_exact_command_lines_working_directory_and_environment(paper, tmp_path):
    out = (tmp_path / "out").resolve()
    jobs = {j.run_id: j for j in _jobs(paper, out, python="/opt/py/bin/python", cwd=str(tmp_path))}
    assert jobs["fgvc_aircraft/rft/seed0"].command == [
        "/opt/py/bin/python",
        "-m",
        "vrft_lib.cli",
        "study",
        str(PAPER),
        "--out",
        str(out),
        "--only",
        "fgvc_aircraft/rft/seed0",
        "--no-report",
    ]
    assert jobs[None].command == [
        "/opt/py/bin/python",
        "-m",
        "vrft_lib.cli",
        "study",
        str(PAPER),
        "--out",
        str(out),
        "--report-only",
    ]
    for j in jobs.values():
        assert j.cwd == str(tmp_path.resolve())
        assert j.env["HF_HUB_OFFLINE"] == "1" and j.env["HF_DATASETS_OFFLINE"] == "1"


def test_cpu_runs_ask_for_no_gpu(tmp_path):
    study = load_study(ROOT / "params" / "smoke.yaml")
    study["run_defaults"] = dict(study["run_defaults"], device="cpu")
    assert {j.gpus for j in _jobs(study, tmp_path / "out")} == {0}


def test_gpus_per_training_job_must_match_the_processes(paper, tmp_path):
    study = dict(paper, slurm=dict(paper["slurm"], train=dict(paper["slurm"]["train"], gpus=4)))
    with pytest.raises(ConfigError, match="num_processes = 8"):
        _jobs(study, tmp_path / "out")


@pytest.mark.parametrize(
    "patch,match",
    [
        ({"partiton": "x"}, "did you mean 'partition'"),
        ({"train": {"gpu": 8}}, "did you mean 'gpus'"),
        ({"train": {"time": "tomorrow"}}, "time limit 'tomorrow'"),
        ({"env": ["HF_HUB_OFFLINE=1"]}, "slurm.env"),
    ],
)
def test_bad_slurm_sections_name_the_key(paper, tmp_path, patch, match):
    with pytest.raises(ConfigError, match=match):
        _jobs(dict(paper, slurm=patch), tmp_path / "out")


def test_parse_time_formats():
    assert parse_time("12:00:00") == 720 and parse_time(720) == 720 and parse_time("2-0") == 2880
    with pytest.raises(ConfigError):
        parse_time("0")


# ----------------------------------------------------------------------------------------------
# Submission through submitit, against fake Slurm commands
# ----------------------------------------------------------------------------------------------


def _submitted(fake_slurm, tmp_path, **kw):
    out = tmp_path / "out"
    ids = submit_study(PAPER, out, stream=open(os.devnull, "w"), **kw)
    return out.resolve(), ids


def test_submit_writes_jobs_json_and_the_sbatch_scripts(fake_slurm, tmp_path):
    out, ids = _submitted(fake_slurm, tmp_path)
    assert ids == [str(n) for n in range(1001, 1013)]
    jobs = json.loads((out / "slurm" / "jobs.json").read_text())
    assert jobs["banner/training_free/seed0"] == "1001" and jobs["report"] == "1012"
    assert len(jobs) == 12
    for job_id in ids:  # the script sbatch received is the one kept in OUT/slurm
        kept = (out / "slurm" / f"{job_id}_submission.sh").read_text()
        assert kept == (fake_slurm / f"sbatch_{job_id}.sh").read_text()
    plan = json.loads((out / "slurm" / "plan.json").read_text())
    assert len(plan["jobs"]) == 12
    assert (out / "study.yaml").exists()


def test_training_job_script(fake_slurm, tmp_path):
    out, _ = _submitted(fake_slurm, tmp_path)
    rid = json.loads((out / "slurm" / "jobs.json").read_text())["sat/rft/seed0"]
    script = (out / "slurm" / f"{rid}_submission.sh").read_text()
    lines = script.splitlines()
    for flag in (
        "--gpus-per-node=8",
        "--time=720",
        "--partition=gpu",
        "--cpus-per-task=64",
        "--mem=480GB",
        "--nodes=1",
        "--ntasks-per-node=1",
        "--job-name=vrft-paper-sat-rft-seed0",
        f"--chdir={Path.cwd().resolve()}",
    ):
        assert f"#SBATCH {flag}" in lines, flag
    assert "--dependency" not in script
    assert "export HF_HUB_OFFLINE=1" in lines
    assert "export VRFT_EVAL_PROCESSES=8" in lines  # the evaluation after training uses all 8 GPUs
    assert f"cd {shlex.quote(str(Path.cwd().resolve()))}" in lines
    command = [
        sys.executable,
        "-m",
        "vrft_lib.cli",
        "study",
        str(PAPER),
        "--out",
        str(out),
        "--only",
        "sat/rft/seed0",
        "--no-report",
    ]
    assert f"# command: {shlex.join(command)}" in lines
    # what the job really runs is the pickled callable: the same command, in the same folder
    fn = submitit.SlurmJob(out / "slurm", rid).submission().function
    assert isinstance(fn, RunCommand)
    assert fn.command == command and fn.cwd == str(Path.cwd().resolve())
    assert fn.env["HF_HUB_OFFLINE"] == "1"


def test_training_free_and_report_job_scripts(fake_slurm, tmp_path):
    out, ids = _submitted(fake_slurm, tmp_path, partition="debug", time="2:00:00")
    jobs = json.loads((out / "slurm" / "jobs.json").read_text())
    tf = (out / "slurm" / f"{jobs['fgvc_aircraft/training_free/seed0']}_submission.sh").read_text().splitlines()
    assert "#SBATCH --gpus-per-node=8" in tf and "#SBATCH --time=120" in tf and "#SBATCH --partition=debug" in tf
    assert "export VRFT_EVAL_PROCESSES=8" in tf
    report = (out / "slurm" / f"{jobs['report']}_submission.sh").read_text().splitlines()
    assert not any("gpus" in line for line in report)
    assert "#SBATCH --time=60" in report and "#SBATCH --partition=debug" in report
    assert f"#SBATCH --dependency=afterany:{':'.join(ids[:-1])}" in report
    fn = submitit.SlurmJob(out / "slurm", jobs["report"]).submission().function
    assert fn.command[-3:] == ["--out", str(out), "--report-only"]


def test_finished_runs_are_not_submitted_again(fake_slurm, tmp_path):
    out = (tmp_path / "out").resolve()
    done = out / "runs" / "banner" / "rft" / "seed0" / "DONE"
    done.parent.mkdir(parents=True)
    done.write_text("{}")
    ids = submit_study(PAPER, out, stream=open(os.devnull, "w"))
    jobs = json.loads((out / "slurm" / "jobs.json").read_text())
    assert "banner/rft/seed0" not in jobs and len(ids) == 11
    report = (out / "slurm" / f"{jobs['report']}_submission.sh").read_text()
    assert f"afterany:{':'.join(ids[:-1])}\n" in report


def test_a_second_submit_skips_queued_runs_and_waits_for_them(fake_slurm, tmp_path):
    out, first = _submitted(fake_slurm, tmp_path, only="sat/*")
    assert len(first) == 5  # four SAT runs and the report
    (fake_slurm / "squeue.txt").write_text(
        "".join(f"{i}|RUNNING\n" for i in first[:2]) + "".join(f"{i}|PENDING\n" for i in first[2:])
    )
    second = submit_study(PAPER, out, only="sat/*", stream=open(os.devnull, "w"))
    assert len(second) == 1  # only a new report job, after the jobs still queued
    report = (out / "slurm" / f"{second[0]}_submission.sh").read_text()
    assert f"--dependency=afterany:{':'.join(first[:4])}" in report


def test_dry_run_submits_and_writes_nothing(fake_slurm, tmp_path, capsys):
    out = tmp_path / "out"
    assert submit_study(PAPER, out, dry_run=True) == []
    assert not out.exists() and not (fake_slurm / "counter").exists()
    text = capsys.readouterr().out
    assert "12 Slurm job(s)" in text and "--only sat/rft_length/seed0 --no-report" in text
    rft = next(line for line in text.splitlines() if "sat/rft/seed0" in line and "gpus=" in line)
    assert "gpus=8" in rft and "GPU-h" in rft
    assert "estimated GPU-hours:" in text and "an estimate" in text


def test_no_sbatch_is_a_clear_error(tmp_path, monkeypatch):
    from vrft_lib.study.slurm import SlurmError

    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(SlurmError, match="sbatch"):
        submit_study(PAPER, tmp_path / "out", stream=open(os.devnull, "w"))


def test_a_submission_script_runs_the_command_where_slurm_would(fake_slurm, tmp_path):
    """Execute a generated sbatch script with bash, as the batch step does: submitit unpickles the
    RunCommand, which runs the job's command line in the submit folder with the job's environment."""
    record = tmp_path / "record.txt"
    python = tmp_path / "python"
    python.write_text(f"""#!/bin/sh
if [ "$1" = "-m" ] && [ "$2" = "vrft_lib.cli" ]; then
  {{ echo "$@"; pwd; echo "HF_HUB_OFFLINE=$HF_HUB_OFFLINE"; }} > {shlex.quote(str(record))}
  exit 0
fi
exec {shlex.quote(sys.executable)} "$@"
""")
    python.chmod(0o755)
    out = (tmp_path / "out").resolve()
    ids = submit_study(PAPER, out, only="banner/sft/seed0", python=str(python), stream=open(os.devnull, "w"))
    script = out / "slurm" / f"{ids[0]}_submission.sh"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "SUBMITIT_", "HF_HUB"))}
    env.update(SLURM_JOB_ID=ids[0], PYTHONPATH=str(ROOT))
    proc = subprocess.run(["bash", str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    argv, cwd, offline = record.read_text().splitlines()
    assert argv == f"-m vrft_lib.cli study {PAPER} --out {out} --only banner/sft/seed0 --no-report"
    assert Path(cwd).resolve() == Path.cwd().resolve()
    assert offline == "HF_HUB_OFFLINE=1"
    assert submitit.SlurmJob(out / "slurm", ids[0]).result() == 0  # the job's result, as submitit reads it


def test_run_command_fails_loudly(tmp_path):
    RunCommand([sys.executable, "-c", "print('ok')"], str(tmp_path))()
    with pytest.raises(subprocess.CalledProcessError):
        RunCommand([sys.executable, "-c", "raise SystemExit(3)"], str(tmp_path))()


# ----------------------------------------------------------------------------------------------
# Status
# ----------------------------------------------------------------------------------------------


def test_status_reads_done_markers_then_slurm(fake_slurm, tmp_path):
    out, ids = _submitted(fake_slurm, tmp_path, only="fgvc_aircraft/*")
    jobs = json.loads((out / "slurm" / "jobs.json").read_text())
    done = out / "runs" / "fgvc_aircraft" / "sft" / "seed0" / "DONE"
    done.parent.mkdir(parents=True)
    done.write_text("{}")
    (fake_slurm / "squeue.txt").write_text(f"{jobs['fgvc_aircraft/rft/seed0']}|RUNNING\n{jobs['report']}|PENDING\n")
    rows = {r["run_id"]: r for r in study_status(out)}
    assert rows["fgvc_aircraft/sft/seed0"]["state"] == "done"
    assert rows["fgvc_aircraft/rft/seed0"] == {
        "run_id": "fgvc_aircraft/rft/seed0",
        "job_id": jobs["fgvc_aircraft/rft/seed0"],
        "state": "RUNNING",
    }
    assert rows["report"]["state"] == "PENDING"
    assert rows["fgvc_aircraft/rft_length/seed0"]["state"] == "submitted"  # Slurm does not know it any more
    assert rows["sat/rft/seed0"] == {"run_id": "sat/rft/seed0", "job_id": None, "state": "not submitted"}
    assert len(rows) == 12
    table = format_status(list(rows.values()))
    assert "fgvc_aircraft/rft/seed0" in table and "RUNNING" in table


def test_status_prefers_sacct(fake_slurm, tmp_path):
    out, ids = _submitted(fake_slurm, tmp_path, only="banner/rft/seed0")
    (fake_slurm / "bin" / "sacct").write_text(
        "#!/bin/sh\nprintf 'JobID|State\\n%s|FAILED\\n%s|CANCELLED by 0\\n' " + f"{ids[0]} {ids[1]}\n"
    )
    rows = {r["run_id"]: r["state"] for r in study_status(out)}
    assert rows["banner/rft/seed0"] == "FAILED" and rows["report"] == "CANCELLED by 0"


def test_status_without_slurm_or_submission(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    rows = study_status(tmp_path / "nothing")
    assert rows == [{"run_id": "report", "job_id": None, "state": "not submitted"}]


# ----------------------------------------------------------------------------------------------
# The command line: `vrft study PARAMS --submit slurm | --status`
# ----------------------------------------------------------------------------------------------


def test_cli_has_the_cluster_options():
    from vrft_lib.cli import build_parser

    study = build_parser()._subparsers._group_actions[0].choices["study"]
    options = {o for a in study._actions for o in a.option_strings}
    assert {"--submit", "--status", "--partition", "--time", "--no-report"} <= options


def test_cli_submit_dry_run_and_status(fake_slurm, tmp_path, capsys):
    from vrft_lib.cli import main

    out = tmp_path / "out"
    assert main(["study", str(PAPER), "--out", str(out), "--submit", "slurm", "--dry-run", "--partition", "p1"]) == 0
    text = capsys.readouterr().out
    assert "12 Slurm job(s)" in text and "partition=p1" in text and not out.exists()
    assert main(["study", str(PAPER), "--out", str(out), "--submit", "slurm", "--only", "banner/*"]) == 0
    capsys.readouterr()
    assert main(["study", str(PAPER), "--out", str(out), "--status"]) == 0
    table = capsys.readouterr().out
    assert "banner/rft/seed0" in table and "sat/rft/seed0" in table and "not submitted" in table


def test_only_names_one_run_exactly(tmp_path, capsys):
    """A run job's --only RUN_ID must select that run alone: seed1 is not also seed10."""
    from vrft_lib.cli import main

    text = PAPER.read_text().replace("seeds: [0]", "seeds: [1, 10]")
    assert "seeds: [1, 10]" in text
    params = tmp_path / "two_seeds.yaml"
    params.write_text(text)
    assert (
        main(
            ["study", str(params), "--out", str(tmp_path / "out"), "--dry-run", "--json", "--only", "banner/rft/seed1"]
        )
        == 0
    )
    plan = json.loads(capsys.readouterr().out)
    assert [r["run_id"] for r in plan["runs"]] == ["banner/rft/seed1"]


# ----------------------------------------------------------------------------------------------
# Slurm values are single tokens: none becomes a line of the job script
# ----------------------------------------------------------------------------------------------

HOSTILE = ["gpu\ntouch {marker}", "gpu; touch {marker}", "gpu$(touch {marker})", "gpu`touch {marker}`"]


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize("where", ["partition", "account", "qos", "constraint", "train.partition", "train.time", "cli"])
def test_a_slurm_value_is_one_token_never_shell(fake_slurm, tmp_path, value, where):
    marker = tmp_path / "pwned"
    value = value.format(marker=marker)
    study = load_study(PAPER)
    slurm = dict(study["slurm"])
    kw = {}
    if where == "cli":
        kw["partition"], name = value, "--partition"
    elif where.startswith("train."):
        key = where.split(".")[1]
        slurm["train"], name = dict(slurm["train"], **{key: value}), f"slurm.{where}"
    else:
        slurm[where], name = value, f"slurm.{where}"
    params = tmp_path / "study.yaml"
    params.write_text(
        yaml.safe_dump({k: v for k, v in dict(study, slurm=slurm).items() if not k.startswith("_")}), encoding="utf-8"
    )
    out = tmp_path / "out"
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    for dry_run in (True, False):
        with pytest.raises(ConfigError) as err:
            submit_study(params, out, dry_run=dry_run, stream=open(os.devnull, "w"), **kw)
        text = str(err.value)
        assert name in text and repr(value) in text and "single token" in text and "slurm.setup" in text
    assert not marker.exists() and not out.exists()
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before  # nothing written anywhere
    assert not (fake_slurm / "counter").exists()  # sbatch never called


def test_env_names_and_paths_with_newlines_are_refused(paper, tmp_path):
    with pytest.raises(ConfigError, match="not an environment variable name"):
        _jobs(dict(paper, slurm={"env": {"A=1\ntouch x; B": "1"}}), tmp_path / "out")
    with pytest.raises(ConfigError, match="the output folder .*newline"):
        _jobs(paper, tmp_path / "out\ntouch x")

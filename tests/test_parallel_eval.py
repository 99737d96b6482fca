"""Evaluation shared by several processes: the same predictions, in the same order, and the same
metrics as one process; the launch really starts the processes it asks for."""

import json

import pytest

from vrft_lib.errors import ConfigError
from vrft_lib.evaluate import evaluate, load_eval_config
from vrft_lib.launch import child_env, eval_processes, launch_argv, launch_evaluation
from vrft_lib.parallel import EXPECTED_PROCESSES_ENV, Processes, WorldSizeError, check_world_size, deal_batches

TIMING = ("seconds", "generation_seconds", "samples_per_second", "num_processes")


def eval_cfg(model, out, **kw):
    return {
        "name": "par",
        "model": model,
        "data": {"name": "synthetic_banner", "eval_limit": 7, "classes_in_prompt": True},
        "max_new_tokens": 16,
        "batch_size": 4,  # 14 requests: 4 batches, the last one short
        "device": "cpu",
        "progress": False,
        "output_dir": str(out),
        **kw,
    }


def test_two_cpu_processes_give_the_predictions_and_metrics_of_one(tmp_path, tiny_base):
    one = evaluate(eval_cfg(tiny_base, tmp_path / "one"))
    log = tmp_path / "log.txt"
    with open(log, "w") as f:
        two = launch_evaluation(eval_cfg(tiny_base, tmp_path / "two"), 2, stream=f)
    text = log.read_text()
    assert "--multi_gpu" in text and "--num_processes 2" in text, text[-2000:]
    assert one["num_processes"] == 1
    assert two["num_processes"] == 2, "accelerate started one process where two were asked for"
    prov = json.loads((tmp_path / "two" / "provenance.json").read_text())
    assert prov["num_processes"] == 2
    lines_one = (tmp_path / "one" / "predictions.jsonl").read_text().splitlines()
    lines_two = (tmp_path / "two" / "predictions.jsonl").read_text().splitlines()
    assert len(lines_one) == 14
    assert lines_two == lines_one  # same responses, same order
    assert len({json.loads(x)["response"] for x in lines_one}) > 1  # the responses differ between rows
    strip = lambda m: {k: v for k, v in m.items() if k not in TIMING}  # noqa: E731
    assert strip(two) == strip(one)
    assert json.loads((tmp_path / "two" / "metrics.json").read_text()) == two
    assert (tmp_path / "two" / "DONE").exists()
    # a finished evaluation is not launched again
    assert launch_evaluation(eval_cfg(tiny_base, tmp_path / "two"), 2, stream=open(log, "a")) == two


def test_batches_are_dealt_whole_so_each_keeps_its_padding():
    order = list(range(11))
    one = deal_batches(order, 4, 1, 0)
    parts = [deal_batches(order, 4, 3, k) for k in range(3)]
    assert sorted(b for p in parts for b in p) == sorted(one)  # the same batches, nothing lost
    assert parts[2] == [[8, 9, 10]]
    assert deal_batches([], 4, 2, 1) == []
    with pytest.raises(ValueError):
        deal_batches(order, 4, 2, 2)


def test_a_launch_that_started_fewer_processes_fails(monkeypatch):
    monkeypatch.setenv(EXPECTED_PROCESSES_ENV, "2")
    for var in ("WORLD_SIZE", "MASTER_ADDR"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(WorldSizeError, match="asked for 2 processes but 1 started"):
        Processes("cpu")
    check_world_size(2)


def test_plain_accelerate_launch_of_two_cpu_processes_fails_loudly(tmp_path, tiny_base):
    """``accelerate launch --num_processes 2`` without --multi_gpu runs one process on a CPU machine:
    the evaluation refuses to run alone instead of quietly doing all the work in one process."""
    import os
    import subprocess
    import sys

    import yaml

    cfg = tmp_path / "eval.yaml"
    cfg.write_text(yaml.safe_dump(eval_cfg(tiny_base, tmp_path / "ev")))
    env = child_env("cpu", 2)
    env.pop(EXPECTED_PROCESSES_ENV)  # as a user types it: only accelerate's own variables
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", "2", "--num_machines", "1"]
    cmd += ["--mixed_precision", "no", "--dynamo_backend", "no", "-m", "vrft_lib.evaluate", str(cfg)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300, cwd=os.getcwd())
    assert proc.returncode != 0
    assert "started ONE process" in proc.stdout + proc.stderr, (proc.stdout + proc.stderr)[-2000:]
    assert not (tmp_path / "ev" / "DONE").exists()


def test_cpu_launch_uses_the_torchrun_launcher_and_says_how_many():
    cmd = launch_argv(2, "vrft_lib.evaluate", "e.yaml", config_file="params/accelerate/zero3.yaml", cpu=True)
    assert "--multi_gpu" in cmd and cmd[-3:] == ["-m", "vrft_lib.evaluate", "e.yaml"]
    assert "--multi_gpu" not in launch_argv(1, "vrft_lib.evaluate", "e.yaml", cpu=True)
    env = child_env("cpu", 2)
    assert env["ACCELERATE_USE_CPU"] == "true" and env[EXPECTED_PROCESSES_ENV] == "2"


def test_eval_processes_and_parallel_settings_resolve(monkeypatch):
    monkeypatch.delenv("VRFT_EVAL_PROCESSES", raising=False)
    cfg = load_eval_config({"device": "cpu"})
    assert eval_processes(cfg) == 1 and eval_processes(cfg, 4) == 4  # the run's count by default
    assert eval_processes(load_eval_config({"device": "cpu", "num_processes": 2}), 8) == 2
    monkeypatch.setenv("VRFT_EVAL_PROCESSES", "3")  # a Slurm job's GPUs
    assert eval_processes(cfg, 8) == 3
    assert eval_processes(load_eval_config({"device": "cpu", "num_processes": 2}), 8) == 2  # the config wins
    vllm = load_eval_config({"backend": "vllm", "num_processes": 8, "tensor_parallel_size": 2})
    assert (vllm.num_processes, vllm.tensor_parallel_size) == (8, 2)
    for bad in (
        {"num_processes": 0},
        {"tensor_parallel_size": 2},  # HF generate
        {"backend": "vllm", "num_processes": 3, "tensor_parallel_size": 2},
    ):
        with pytest.raises(ConfigError):
            load_eval_config(bad)


def test_bench_summary_shows_the_one_and_two_process_figures():
    from perf import summary

    runs = {"1": {"samples_per_second": 10.0}, "2": {"samples_per_second": 18.0}}
    row = summary.rows({"eval_processes": {"runs": runs, "identical_predictions": True, "speedup": 1.8}})[0]
    assert "1 vs 2 processes" in row[0] and "10.0 vs 18.0 samples/s (1.80x)" in row[1] and row[3] == "met"
    bad = summary.rows({"eval_processes": {"runs": runs, "identical_predictions": False, "speedup": 1.8}})[0]
    assert bad[3] == "NOT met" and "differ" in bad[0]


def test_leaving_the_process_group_destroys_the_one_this_process_joined(tmp_path):
    """The launched entry points leave their group before exit (an alive gloo group can abort the
    interpreter's shutdown); leaving twice, or with no group, is a no-op."""
    import torch.distributed as dist

    from vrft_lib.parallel import leave_process_group

    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    assert dist.is_initialized()
    leave_process_group()
    assert not dist.is_initialized()
    leave_process_group()


def test_a_failed_launch_names_the_childs_cause_printed_before_torchruns_summary(tmp_path):
    """The error of a failed launch quotes the lines that look like the cause, however early they came."""
    import sys

    from vrft_lib.launch import LaunchError, stream_command

    script = (
        "print('terminate called after throwing gloo::IoException')\n"
        "for i in range(100): print('line', i)\n"
        "raise SystemExit(3)"
    )
    with open(tmp_path / "log.txt", "w") as f, pytest.raises(LaunchError) as err:
        stream_command([sys.executable, "-c", script], {}, f, "run 'x'")
    text = str(err.value)
    assert "exit code 3" in text and "terminate called after throwing gloo::IoException" in text
    assert "line 99" in text and "line 10\n" not in text

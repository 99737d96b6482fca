"""Interruptions lose nothing, failures are reported and the same seed gives the same numbers (slow).

Each test runs small studies through ``vrft study`` in a subprocess, as a user runs them: one
synthetic benchmark, a few GRPO steps of the tiny instruct base.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from data_fixtures import make_banner_folder

pytestmark = pytest.mark.slow

WAIT = 300  # seconds: generous, another process may be using the CPU

RFT_SMALL = {
    "num_generations": 4,
    "per_device_train_batch_size": 8,
    "gradient_accumulation_steps": 1,
    "max_completion_length": 24,
    "learning_rate": 1.0e-4,
}


def write_study(path: Path, *, benchmarks: dict, variants: list, steps: int = 4, **extra) -> Path:
    study = {
        "name": path.stem,
        "synthetic": True,
        "seeds": [0],
        "model": "tiny",
        "benchmarks": benchmarks,
        "variants": variants,
        "rft": {"trainer": {**RFT_SMALL, "max_steps": steps}},
        "evaluation": {"modes": ["no_think", "think"], "max_new_tokens": 24, "batch_size": 16},
        "run_defaults": {"keep_checkpoints": 1, "save_steps": 2},
        **extra,
    }
    path.write_text(yaml.safe_dump(study, sort_keys=False))
    return path


BANNER = {
    "synthetic_banner": {
        "label": "Banner",
        "task_kind": "binary",
        "data": {"name": "synthetic_banner", "train_limit": 32, "eval_limit": 8, "classes_in_prompt": True},
    }
}


def study_cmd(params, out, *extra):
    return [sys.executable, "-m", "vrft_lib.cli", "study", str(params), "--out", str(out), *map(str, extra)]


def run_study(params, out, *extra, timeout=600):
    return subprocess.run(study_cmd(params, out, *extra), capture_output=True, text=True, timeout=timeout)


def start_then_kill(cmd, log: Path, ready) -> None:
    """Start ``cmd``, wait until ``ready()``, then SIGKILL everything it started, as a pre-emption does."""
    import psutil

    with open(log, "w") as f:
        proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + WAIT
        while time.time() < deadline and proc.poll() is None and not ready():
            time.sleep(0.05)
        children = psutil.Process(proc.pid).children(recursive=True) if proc.poll() is None else []
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    for child in children:  # the notebook kernel runs in a session of its own
        try:
            child.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(children, timeout=30)
    assert ready(), f"not ready before the deadline (exit {proc.returncode}):\n" + log.read_text()[-3000:]


def test_killed_study_resumes_from_the_checkpoint_and_recomputes_no_finished_run(tmp_path, tiny_base):
    params = write_study(tmp_path / "resume.yaml", benchmarks=BANNER, variants=["training_free", "rft"], steps=8)
    out = tmp_path / "out"
    free, rft = out / "runs/synthetic_banner/training_free/seed0", out / "runs/synthetic_banner/rft/seed0"

    # 1. Killed mid-training, once the Trainer wrote a checkpoint's state (the last file of a checkpoint).
    start_then_kill(
        study_cmd(params, out),
        tmp_path / "first.log",
        lambda: any((rft / "train" / "trainer").glob("checkpoint-*/trainer_state.json")),
    )
    assert (free / "DONE").exists(), "the training-free run should have finished before the kill"
    assert not (rft / "DONE").exists() and not (rft / "train" / "DONE").exists()
    finished = (free / "DONE").read_text()

    # 2. The same command resumes the training; killed again mid-evaluation.
    start_then_kill(study_cmd(params, out), tmp_path / "second.log", lambda: (rft / "train" / "DONE").exists())
    text = (tmp_path / "second.log").read_text()
    assert "2 runs, 1 already finished, 1 to run" in text, text[-3000:]
    trained = (rft / "train" / "DONE").read_text()
    done = json.loads(trained)
    assert done["resumed_from"] and "checkpoint-" in done["resumed_from"] and done["steps"] == 8, done
    mid_eval = not (rft / "eval" / "DONE").exists()  # (the evaluation may rarely have finished before the kill)

    # 3. The same command finishes the run: nothing finished is recomputed.
    third = run_study(params, out)
    text = third.stdout + third.stderr
    assert third.returncode == 0, text[-3000:]
    assert "2 runs, 1 already finished, 1 to run" in text
    assert (free / "DONE").read_text() == finished  # the finished run was not recomputed
    assert (rft / "train" / "DONE").read_text() == trained  # nor the finished training of the killed run
    assert mid_eval is False or (rft / "eval" / "DONE").exists()
    assert (rft / "DONE").exists() and (rft / "eval" / "metrics.json").exists()
    steps = pd.read_csv(rft / "train" / "steps.csv")
    assert list(steps["step"]) == list(range(1, 9))  # the steps before the checkpoint are kept, none twice
    comp = pd.read_parquet(rft / "train" / "completions.parquet")
    assert comp.groupby("step").size().to_dict() == {s: 8 for s in range(1, 9)}, "a step's completions lost or doubled"
    assert len(list((rft / "train" / "trainer").glob("checkpoint-*"))) <= 1  # keep_checkpoints: bounded disk
    assert "output folder" in text and "MB" in text  # the study prints the size of its output folder


def test_a_failed_run_is_reported_and_the_study_goes_on_unless_fail_fast(tmp_path, tiny_base):
    # A corrupt image fails the run when its data are loaded, inside the notebook (validation reads no image).
    root = make_banner_folder(tmp_path)
    (root / "train" / "negative" / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    benchmarks = {
        "banner": {
            "label": "Banner real",
            "task_kind": "binary",
            "data": {"name": "banner", "root": str(root), "eval_limit": 4},
        },
        "synthetic_banner": {
            "label": "Banner",
            "task_kind": "binary",
            "data": {"name": "synthetic_banner", "eval_limit": 4},
        },
    }
    params = write_study(
        tmp_path / "fail.yaml",
        benchmarks=benchmarks,
        variants=["training_free"],
        evaluation={"modes": ["no_think"], "max_new_tokens": 8, "batch_size": 8},
    )
    out = tmp_path / "out"
    # with --fail-fast, into another folder, side by side
    fail_fast = subprocess.Popen(
        study_cmd(params, tmp_path / "out_ff", "--fail-fast"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    proc = run_study(params, out)
    text = proc.stdout + proc.stderr
    failed = out / "runs/banner/training_free/seed0"
    assert proc.returncode != 0, text[-3000:]
    assert "Traceback" not in proc.stderr
    assert "FAILED banner/training_free/seed0" in text and "broken.jpg" in text
    assert f"partial notebook: {failed / 'notebook.ipynb'}" in text
    assert "1 run(s) of study 'fail' failed" in proc.stderr and str(failed / "notebook.ipynb") in proc.stderr
    nb = json.loads((failed / "notebook.ipynb").read_text())
    errors = [o for c in nb["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert errors and errors[0]["ename"] == "DataError" and "broken.jpg" in errors[0]["evalue"]
    assert not (failed / "DONE").exists()
    assert (out / "runs/synthetic_banner/training_free/seed0/DONE").exists()  # the independent run finished
    assert (out / "report.html").exists()

    text, _ = fail_fast.communicate(timeout=600)
    assert fail_fast.returncode != 0 and "FAILED banner/training_free/seed0" in text, text[-3000:]
    assert not (tmp_path / "out_ff/runs/synthetic_banner").exists()  # not attempted

    # Fix the data and run the same command again: only the failed run is recomputed.
    (root / "train" / "negative" / "broken.jpg").unlink()
    before = (out / "runs/synthetic_banner/training_free/seed0/DONE").read_text()
    proc = run_study(params, out)
    text = proc.stdout + proc.stderr
    assert proc.returncode == 0, text[-3000:]
    assert "2 runs, 1 already finished, 1 to run" in text and (failed / "DONE").exists()
    assert (out / "runs/synthetic_banner/training_free/seed0/DONE").read_text() == before


TIMING = ("time", "runtime", "per_second", "seconds", "finished", "created")


def _untimed(df: pd.DataFrame) -> pd.DataFrame:
    return df[[c for c in df.columns if not any(t in c for t in TIMING)]]


def test_same_params_and_seed_give_identical_numbers(tmp_path, tiny_base):
    params = write_study(tmp_path / "repeat.yaml", benchmarks=BANNER, variants=["rft"], steps=4)
    outs = [tmp_path / "a", tmp_path / "b"]
    # the two studies run side by side (each is mostly one busy process); concurrency changes no number
    procs = [
        subprocess.Popen(study_cmd(params, out), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for out in outs
    ]
    for proc in procs:
        text, _ = proc.communicate(timeout=900)
        assert proc.returncode == 0, text[-3000:]
    a, b = (out / "runs/synthetic_banner/rft/seed0" for out in outs)
    ma, mb = (json.loads((d / "eval" / "metrics.json").read_text()) for d in (a, b))
    assert ma["modes"] == mb["modes"]  # accuracy, its interval, n, format rate, lengths, per class
    pa, pb = ((d / "eval" / "predictions.jsonl").read_text().splitlines() for d in (a, b))
    assert len(pa) == 16 and pa == pb
    sa, sb = (pd.read_csv(d / "train" / "steps.csv") for d in (a, b))
    assert len(sa) == 4
    pd.testing.assert_frame_equal(_untimed(sa), _untimed(sb), check_exact=True)
    ca, cb = (pd.read_parquet(d / "train" / "completions.parquet") for d in (a, b))
    pd.testing.assert_frame_equal(_untimed(ca), _untimed(cb), check_exact=True)
    ta, tb = (json.loads((out / "metrics.json").read_text()) for out in outs)
    assert json.dumps(ta.get("table1", ta.get("table")), sort_keys=True) == json.dumps(
        tb.get("table1", tb.get("table")), sort_keys=True
    )


def test_a_resumed_run_ends_exactly_as_an_uninterrupted_one(tmp_path, tiny_base):
    """Resuming restores the weights (not only the step count) and passes over a checkpoint that a
    kill left half-written: the run ends with the same weights and step log as without the kill."""
    import torch
    from safetensors.torch import load_file

    from vrft_lib.train import train

    cfg = {
        "name": "h",
        "method": "grpo",
        "model": tiny_base,
        "output_dir": str(tmp_path / "run"),
        "data": {"name": "synthetic_banner", "train_limit": 32},
        "device": "cpu",
        "trainer": {**RFT_SMALL, "max_steps": 4},
        "save_steps": 2,
        "keep_checkpoints": 2,
        "keep_checkpoints_when_done": True,  # the test breaks a finished run's checkpoint
    }
    run_dir = train(cfg)
    trainer_dir = run_dir / "trainer"
    assert sorted(p.name for p in trainer_dir.glob("checkpoint-*")) == ["checkpoint-2", "checkpoint-4"]
    uninterrupted = load_file(run_dir / "model" / "model.safetensors")
    steps = pd.read_csv(run_dir / "steps.csv")
    # What a kill while checkpoint-4 is being saved leaves: its weights, no optimizer and no state
    # (the Trainer writes trainer_state.json last), and none of the files written at the end of a run.
    for name in ("trainer_state.json", "optimizer.pt", "scheduler.pt", "rng_state.pth"):
        (trainer_dir / "checkpoint-4" / name).unlink(missing_ok=True)
    for name in ("DONE", "steps.csv", "completions.parquet"):
        (run_dir / name).unlink()
    import shutil

    shutil.rmtree(run_dir / "model")
    train(cfg)
    done = json.loads((run_dir / "DONE").read_text())
    assert done["resumed_from"].endswith("checkpoint-2") and done["steps"] == 4, done
    resumed = load_file(run_dir / "model" / "model.safetensors")
    assert resumed.keys() == uninterrupted.keys()
    changed = [k for k in resumed if not torch.equal(resumed[k], uninterrupted[k])]
    assert not changed, f"{len(changed)} tensors differ from the uninterrupted run, e.g. {changed[:3]}"
    again = pd.read_csv(run_dir / "steps.csv")
    for col in ("loss", "reward", "kl"):  # kl 0 after the resume would mean the policy restarted from the base
        assert list(again[col]) == list(steps[col]), col

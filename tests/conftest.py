"""Shared fixtures. Tests never reach a hub; the tiny instruct base is cached per test session."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402


@pytest.fixture
def no_work(monkeypatch):
    """run_study without notebooks: each run only writes what a finished run holds; no report, no tiny
    base built. Returns the list of the runs' ids in the order they ran."""
    from pathlib import Path

    from vrft_lib.files import write_json
    from vrft_lib.runfolder import write_done
    from vrft_lib.study import runner

    calls = []

    def fake_run(run, kernel_name="python3"):
        calls.append(run.run_id)
        d = Path(run.run_dir)
        write_json({"modes": {}}, d / "eval" / "metrics.json")
        (d / "eval" / "predictions.jsonl").write_text("")
        write_done(d / "eval")
        write_done(d, run_id=run.run_id)
        return 0.0

    monkeypatch.setattr(runner, "execute_run", fake_run)
    monkeypatch.setattr(runner, "ensure_tiny_build", lambda name: "tiny")
    monkeypatch.setattr(runner, "render_report", lambda out: Path(out) / "report.html")
    return calls


@pytest.fixture(scope="session")
def tiny_base():
    """Path of the tiny instruct base (built once per machine into $VRFT_CACHE, then reused)."""
    from vrft_lib.tiny import ensure_tiny_base

    return ensure_tiny_base()


@pytest.fixture(scope="session")
def tiny_random(tmp_path_factory):
    """A freshly built random tiny model (no instruct training)."""
    from vrft_lib.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model", seed=0)


MINI_STUDY = """
name: mini
description: A reduced smoke study for the tests.
synthetic: true
seeds: [0]
model: tiny
benchmarks:
  synthetic_banner:
    label: Banner-Analysis
    task_kind: binary
    data: {name: synthetic_banner, train_limit: 64, eval_limit: 16, classes_in_prompt: true}
  synthetic_spatial:
    label: SAT
    task_kind: reasoning
    data: {name: synthetic_spatial, train_limit: 64, eval_limit: 16}
    length_reward: true
rft:
  trainer: {max_steps: 3, num_generations: 4, per_device_train_batch_size: 8, gradient_accumulation_steps: 1,
            max_completion_length: 32, learning_rate: 1.0e-4}
sft:
  trainer: {max_steps: 3, per_device_train_batch_size: 8, gradient_accumulation_steps: 1, learning_rate: 1.0e-4}
length_reward: {name: length, target_length: 16, scope: think}
evaluation: {modes: [no_think, think], max_new_tokens: 40, batch_size: 32}
run_defaults: {keep_checkpoints: 1, save_steps: 2}
reference: paper_table1
"""


@pytest.fixture(scope="session")
def mini_study(tmp_path_factory, tiny_base):
    """A reduced study run once through `vrft study` (the CLI, as a user runs it)."""
    import subprocess
    import sys

    root = tmp_path_factory.mktemp("study")
    params = root / "mini.yaml"
    params.write_text(MINI_STUDY)
    out = root / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "vrft_lib.cli", "study", str(params), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return {"params": params, "out": out, "stdout": proc.stdout + proc.stderr}

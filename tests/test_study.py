"""`vrft study` end to end on a reduced study (slow), plus its planning (fast)."""

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from vrft_lib.errors import ConfigError
from vrft_lib.plan.spec import expand_study, load_study, resolve_plan


def vrft(*args, timeout=600):
    return subprocess.run(
        [sys.executable, "-m", "vrft_lib.cli", *map(str, args)], capture_output=True, text=True, timeout=timeout
    )


def test_smoke_study_expands_to_the_papers_matrix(tmp_path):
    study = load_study("params/smoke.yaml")
    runs = expand_study(study, tmp_path)
    ids = {r.run_id for r in runs}
    for b in ("synthetic_banner", "synthetic_aircraft", "synthetic_count"):
        for v in ("training_free", "sft", "rft"):
            assert f"{b}/{v}/seed0" in ids
    assert "synthetic_aircraft/rft_length/seed0" in ids and "synthetic_count/rft_length/seed0" in ids
    assert "synthetic_banner/rft_length/seed0" not in ids
    rl = next(r for r in runs if r.run_id == "synthetic_count/rft_length/seed0")
    assert [x["name"] for x in rl.parameters["run"]["rewards"]] == ["accuracy", "format", "length"]
    plan = resolve_plan(runs)
    for p in plan:
        assert (p["trainer_args"] is None) == (p["variant"] == "training_free")
        if p["variant"] in ("rft", "rft_length"):
            assert p["trainer_args"]["beta"] == 0.04 and p["trainer_args"]["loss_type"] == "grpo"


def test_dry_run_json_loads_no_model(tmp_path):
    proc = vrft("study", "params/smoke.yaml", "--out", tmp_path / "o", "--dry-run", "--json")
    assert proc.returncode == 0, proc.stderr
    plan = json.loads(proc.stdout)
    assert len(plan["runs"]) == 11 and not (tmp_path / "o").exists()
    text = vrft("study", "params/smoke.yaml", "--out", tmp_path / "o", "--dry-run").stdout
    assert "synthetic_count/rft_length/seed0" in text


def test_dry_run_plan_shows_a_finished_run_with_lost_outputs_as_rerun(tmp_path):
    from vrft_lib.runfolder import RUN_OUTPUTS, write_done

    runs = [r for r in expand_study(load_study("params/smoke.yaml"), tmp_path) if r.variant == "training_free"][:2]
    for r in runs:
        for name in RUN_OUTPUTS:
            (Path(r.run_dir) / name).parent.mkdir(parents=True, exist_ok=True)
            (Path(r.run_dir) / name).write_text("{}")
        write_done(r.run_dir)
    (Path(runs[1].run_dir) / "eval" / "predictions.jsonl").unlink()
    plan = {p["run_id"]: p for p in resolve_plan(runs)}
    assert plan[runs[0].run_id]["status"] == "done" and "missing" not in plan[runs[0].run_id]
    assert plan[runs[1].run_id]["status"] == "rerun"
    assert plan[runs[1].run_id]["missing"].endswith("eval/predictions.jsonl")


@pytest.mark.parametrize(
    "patch, match",
    [
        ({"benchmarks": {"synthetic_banner": {"lable": "x"}}}, "unknown key 'lable' \\(did you mean 'label'\\?\\)"),
        ({"variants": ["rft", "ppo"]}, "unknown variant 'ppo'"),
        ({"seeds": []}, "seeds must be a non-empty list"),
        ({"reference": "paper_tabel1"}, "did you mean 'paper_table1'"),
        ({"sedes": [0]}, "did you mean 'seeds'"),
    ],
)
def test_bad_study_files_name_the_key(tmp_path, patch, match):
    study = yaml.safe_load(open("params/smoke.yaml"))
    for k, v in patch.items():
        if isinstance(v, dict) and isinstance(study.get(k), dict):
            for kk, vv in v.items():
                study[k][kk].update(vv)
        else:
            study[k] = v
    p = tmp_path / "s.yaml"
    p.write_text(yaml.safe_dump(study))
    with pytest.raises(ConfigError, match=match):
        load_study(p)
    proc = vrft("study", p, "--dry-run")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "error:" in proc.stderr


@pytest.mark.slow
def test_reduced_study_reports_every_cell(mini_study):
    out = mini_study["out"]
    assert (out / "report.html").exists() and (out / "report.ipynb").exists()
    table = pd.read_csv(out / "table1.csv")
    main = table[table["method"].isin(["training_free", "sft", "rft"])]
    assert len(main) == 2 * 3 * 2  # benchmarks x methods x modes
    assert main["accuracy"].notna().all() and main["paper_accuracy"].notna().all()
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["findings"], "no findings were generated"
    html = (out / "report.html").read_text()
    for section in ("Table 1", "Figure 1", "Figure 2", "Findings", "How it was made"):
        assert section in html, section
    for run in ("synthetic_banner/rft/seed0", "synthetic_spatial/rft_length/seed0"):
        d = out / "runs" / run
        assert (d / "DONE").exists() and (d / "notebook.ipynb").exists() and (d / "parameters.yaml").exists()
        assert (d / "train" / "steps.csv").exists() and (d / "eval" / "metrics.json").exists()
    steps = pd.read_csv(out / "runs/synthetic_spatial/rft_length/seed0/train/steps.csv")
    assert steps["length_reward"].notna().all()
    # every run recorded what it cost (training-free: its evaluation only), and the report states it
    for run in sorted((out / "runs").glob("*/*/seed0")):
        ev = json.loads((run / "eval" / "compute.json").read_text())
        assert ev["requests"] == 16 * 2 and ev["tokens_generated"] > 0 and ev["device_hours"] > 0
        assert (run / "train" / "compute.json").exists() == (run.parent.name != "training_free")
    rft = json.loads((out / "runs/synthetic_spatial/rft/seed0/train/compute.json").read_text())
    assert rft["steps"] == 3 and rft["completions"] == rft["prompts"] * 4 == 3 * 8
    comps = metrics["compute"]["comparisons"]
    assert {(c["benchmark"], c["a"], c["b"]) for c in comps} >= {("synthetic_spatial", "rft", "sft")}
    assert "Accuracy against training compute" in html and "SFT's training tokens" in html


@pytest.mark.slow
def test_second_study_run_recomputes_nothing(mini_study):
    out = mini_study["out"]
    before = (out / "runs/synthetic_banner/rft/seed0/DONE").read_text()
    report_mtime = (out / "report.html").stat().st_mtime_ns
    proc = vrft("study", mini_study["params"], "--out", out)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "7 already finished, 0 to run" in proc.stdout + proc.stderr
    assert (out / "runs/synthetic_banner/rft/seed0/DONE").read_text() == before
    # nothing changed, so the report is not rendered again
    assert "(up to date)" in proc.stdout and (out / "report.html").stat().st_mtime_ns == report_mtime
    assert json.loads((out / "last_invocation.json").read_text())["report"].startswith("up to date")
    # --report-only renders it anyway
    proc = vrft("study", mini_study["params"], "--out", out, "--report-only")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (out / "report.html").stat().st_mtime_ns != report_mtime


def test_report_fingerprint_follows_its_inputs(tmp_path):
    from vrft_lib.report.render import REPORT_STAMP, report_inputs, report_up_to_date

    out = tmp_path
    (out / "study.yaml").write_text("name: s\n")
    run = out / "runs" / "b" / "rft" / "seed0"
    run.mkdir(parents=True)
    (run / "DONE").write_text("{}")
    (out / "report.html").write_text("<html></html>")
    (out / REPORT_STAMP).write_text(report_inputs(out))
    assert report_up_to_date(out)
    (run / "DONE").write_text('{"finished": "later"}')  # a run was recomputed
    assert not report_up_to_date(out)
    (out / REPORT_STAMP).write_text(report_inputs(out))
    other = out / "runs" / "b" / "sft" / "seed0"
    other.mkdir(parents=True)
    (other / "DONE").write_text("{}")  # a new run finished
    assert not report_up_to_date(out)
    (out / REPORT_STAMP).write_text(report_inputs(out))
    (out / "report.html").unlink()  # the report was deleted
    assert not report_up_to_date(out)


@pytest.mark.slow
def test_a_different_study_in_the_same_folder_is_refused(mini_study, tmp_path):
    other = yaml.safe_load(mini_study["params"].read_text())
    other["seeds"] = [1]
    p = tmp_path / "other.yaml"
    p.write_text(yaml.safe_dump(other))
    proc = vrft("study", p, "--out", mini_study["out"])
    assert proc.returncode == 2 and "holds a different study" in proc.stderr


def test_kernels_stop_at_once_unless_a_tracker_must_upload():
    from vrft_lib.study.runner import kernel_shutdown

    assert kernel_shutdown({"method": "grpo"}) == "immediate"
    assert kernel_shutdown({"report_to": "none"}) == "immediate"
    assert kernel_shutdown({"report_to": "wandb"}) == "graceful"

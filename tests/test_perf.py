"""The benchmark scripts measure what they claim (small sizes here; `make bench` runs them in full)."""

import json
import os

import pytest

from perf import bench_eval, bench_overhead, bench_rewards, summary
from perf.bench_study import study_stages
from perf.common import write_result


@pytest.mark.slow
def test_kit_and_bare_trl_do_the_same_work(tiny_base, tmp_path):
    r = bench_overhead.measure(steps=2, pairs=1, work=tmp_path / "work")
    assert r["same_losses_max_abs_diff"] <= 1e-4  # measure() refuses otherwise
    assert r["kit_seconds_per_step"] > 0 and r["bare_seconds_per_step"] > 0
    assert r["trainer_args"]["beta"] == 0.04 and r["trainer_args"]["loss_type"] == "grpo"
    assert r["verdict"] in ("met", "NOT met")
    assert len(r["kit_runs"]) == len(r["bare_runs"]) == 1


@pytest.mark.slow
def test_batched_evaluation_matches_one_at_a_time(tiny_base):
    r = bench_eval.measure(rows=2, batch_size=6, max_new_tokens=24)
    assert r["requests"] == 2 * 2 * 3
    assert r["same_outputs_fraction"] == 1.0, "batched generation changed the responses"
    assert r["batched_samples_per_second"] > 0 and r["single_samples_per_second"] > 0


def test_rewards_benchmark_scores_every_completion(tiny_base, tmp_path, monkeypatch):
    monkeypatch.setattr(bench_rewards, "BENCH_DIR", tmp_path)
    write_result("overhead", {"kit_seconds_per_step": 0.3}, tmp_path)
    r = bench_rewards.measure(400)
    assert set(r["rewards"]) >= {"accuracy", "format", "length (think tokens)"}
    assert all(v["completions_per_second"] > 0 for v in r["rewards"].values())
    assert r["grpo_step_seconds"] == 0.3
    assert r["share_of_step"] == pytest.approx(r["study_rewards_ms_per_step"] / 1000 / 0.3, rel=1e-2)


def test_rewards_corpus_covers_the_failure_modes():
    rows = bench_rewards._corpus(300)
    texts = [r["completion"][0]["content"] for r in rows]
    assert {r["task"] for r in rows} == {"binary", "classification", "multiple_choice"}
    assert any(t.count("<answer>") > 1 for t in texts)  # repeated answers
    assert any("<answer>" not in t for t in texts)  # no answer block
    assert any(" or " in t.split("<answer>")[-1] for t in texts if "<answer>" in t)  # hedges


@pytest.mark.slow
def test_study_stages_add_up(mini_study):
    s = study_stages(mini_study["out"])
    runs = s["runs"]
    assert len(runs) == 7
    for run_id, r in runs.items():
        assert r["kernel_start"] >= 0 and r["setup_cell"] > 0 and r["eval_cell"] > 0, run_id
        assert 0 < r["eval_compute"] <= r["eval_cell"], run_id
        if "training_free" in run_id:
            assert r["train_compute"] == 0 and r["train_cell"] == 0
        else:
            assert 0 < r["train_compute"] <= r["train_cell"], run_id
        cells = r["setup_cell"] + r["train_cell"] + r["eval_cell"] + r["other_cells"]
        assert cells + r["kernel_start"] == pytest.approx(r["wall"], abs=0.05), run_id
    assert s["overhead_seconds"] == pytest.approx(s["wall_seconds"] - s["train_compute"] - s["eval_compute"], abs=0.05)
    assert 0 < s["overhead_fraction"] < 1


def _fake_results(d):
    write_result(
        "overhead",
        {"kit_seconds_per_step": 0.31, "bare_seconds_per_step": 0.30, "overhead_fraction": 0.0333, "verdict": "met"},
        d,
    )
    write_result(
        "eval",
        {
            "batch_size": 50,
            "same_outputs_fraction": 1.0,
            "batched_samples_per_second": 40.0,
            "single_samples_per_second": 5.0,
            "speedup": 8.0,
            "verdict": "met",
        },
        d,
    )
    write_result(
        "rewards",
        {
            "rewards": {
                "accuracy": {"completions_per_second": 90000.0},
                "format": {"completions_per_second": 200000.0},
            },
            "share_of_step": 0.002,
            "verdict": "met",
        },
        d,
    )


def test_summary_table_and_readme_block(tmp_path):
    _fake_results(tmp_path)
    table = summary.markdown(summary.load(tmp_path))
    assert "0.310 s vs 0.300 s (+3.3 %)" in table and "8.0x" in table and "0.20 % of a GRPO step" in table
    assert "Measured on" in table
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{summary.START}\nold\n{summary.END}\nafter\n")
    summary.update_readme(readme, table)
    text = readme.read_text()
    assert "old" not in text and table in text and text.startswith("intro") and text.endswith("after\n")
    assert summary.main(["--bench-dir", str(tmp_path)]) == 0
    assert json.loads((tmp_path / "summary.json").read_text())["table"] == table


def test_readme_has_the_benchmark_table():
    from perf.common import ROOT

    text = (ROOT / "README.md").read_text()
    assert summary.START in text and summary.END in text, "README lost its benchmark block"
    block = text.split(summary.START)[1].split(summary.END)[0]
    assert "| figure | measured | target |" in block and "Measured on" in block


def test_study_benchmark_never_empties_a_folder_it_did_not_make(tmp_path):
    from perf import bench_study

    mine = tmp_path / "my-study"
    mine.mkdir()
    (mine / "report.html").write_text("precious")
    with pytest.raises(SystemExit, match="not made by this benchmark"):
        bench_study.main(["--out", str(mine)])
    assert (mine / "report.html").read_text() == "precious"


@pytest.mark.slow
def test_learning_curves_evaluate_every_checkpoint(tiny_base, tmp_path):
    from perf import bench_learning
    from tests.conftest import MINI_STUDY

    study = tmp_path / "mini.yaml"
    study.write_text(MINI_STUDY)
    r = bench_learning.measure(study, ["synthetic_banner"], ("sft",), every=1, eval_rows=4, work=tmp_path / "w")
    c = r["curves"]["synthetic_banner"]["sft"]
    assert [p["step"] for p in c["points"]] == [0, 1, 2, 3]  # the start, then every checkpoint
    assert c["mode"] == "think" and all(0.0 <= p["accuracy"] <= 1.0 for p in c["points"])
    assert c["points"][0]["seconds"] == 0.0 and c["points"][-1]["seconds"] > 0
    fig = bench_learning.figure(r)
    assert len(fig.data) == 1 and list(fig.data[0].x) == [0, 1, 2, 3]


def test_skill_probe_rows_ask_what_they_score():
    import random

    from perf import bench_skills
    from vrft_lib import prompts

    rng = random.Random(0)
    repeat, lookup, lookups = (bench_skills.probe_row(rng, i, k) for i, k in enumerate(bench_skills.PROBES))
    assert repeat["question"].endswith(repeat["solution"]) and 3 <= len(repeat["solution"].split()) <= 6
    letter = prompts.sft_answer(lookup)
    assert lookup["choices"][ord(letter) - ord("A")] == lookup["solution"] in lookup["question"]
    listed = dict(line.split(". ", 1) for line in lookups["question"].splitlines()[:-1])
    asked = lookups["question"].splitlines()[-1].split(": ", 1)[1].split(", ")
    assert [listed[x] for x in lookups["solution"].split()] == asked
    with pytest.raises(SystemExit, match="unknown kind 'colr'"):
        bench_skills.rows_of(("colr",), 4, 0, "train")
    with pytest.raises(SystemExit, match="KIND"):
        bench_skills.parse_stages("repeat")


@pytest.mark.slow
def test_skill_curves_score_each_kind_in_both_modes(tmp_path):
    from perf import bench_skills

    stages = bench_skills.parse_stages("repeat,lookup:2;colour:1")
    r = bench_skills.measure(stages, ("repeat", "lookup", "colour"), every=1, eval_rows=6, work=tmp_path)
    assert [p["step"] for p in r["points"]] == [0, 1, 2, 3]
    keys = {f"{k}:{m}" for k in ("repeat", "lookup", "colour") for m in ("no_think", "think")}
    assert all(keys <= set(p) and all(0.0 <= p[k] <= 1.0 for k in keys) for p in r["points"])
    assert r["points"][-1]["seconds"] > 0 and r["parameters"] > 0
    assert len(bench_skills.figure(r).data) == len(keys)


def test_organism_check_flags_the_collapsed_cell_and_writes_its_findings(tmp_path, capsys):
    from perf import organism_check
    from vrft_lib.report.analysis import build_report
    from vrft_lib.report.example import COLLAPSED, write_example_study

    study = write_example_study(tmp_path / "study")
    build_report(study)
    results = organism_check.check(study)
    by = {(r["benchmark"], r["check"]): r for r in results}
    bench, variant, mode = COLLAPSED
    assert not by[(bench, f"{variant} {mode} not collapsed")]["ok"]
    assert by[("synthetic_banner", "sft no_think format at least 50 %")]["ok"]
    assert {r["seed"] for r in results} == {"seed0"}
    assert organism_check.main([str(study)]) == 1
    assert "FAIL" in capsys.readouterr().out and (study / "organism_check.json").is_file()


def test_base_probe_scores_each_stand_in_in_both_modes(tiny_base, tmp_path, monkeypatch, capsys):
    from perf import probe_base

    monkeypatch.setattr("perf.common.BENCH_DIR", tmp_path)
    assert probe_base.main(["--base", tiny_base, "--rows", "4"]) == 0
    result = json.loads((tmp_path / "probe_base.json").read_text())
    cells = {(c["stand_in"], c["mode"]) for c in result["cells"]}
    assert cells == {(s, m) for s in probe_base.STAND_INS for m in ("no_think", "think")}
    for c in result["cells"]:
        assert c["rows"] == 4 and 0 <= c["accuracy"] <= 1 and 0.25 <= c["top_share"] <= 1
        assert sum(n for _, n in c["answers"]) <= 4
    assert "synthetic_count" in capsys.readouterr().out


def test_tree_memory_names_the_processes_at_its_peak():
    # A child that holds 150 MB for a moment: the peak's breakdown names it, with about that much.
    import subprocess
    import sys
    import time

    from perf.common import TreeMemory

    code = "import time; b = bytearray(150 * 2**20); b[::4096] = b'x' * len(b[::4096]); time.sleep(1.5)"
    with TreeMemory(os.getpid(), interval=0.05) as mem:
        child = subprocess.Popen([sys.executable, "-c", code])
        child.wait()
        time.sleep(0.1)
    held = [p for p in mem.peak_breakdown if p["pid"] == child.pid]
    assert held and held[0]["mb"] >= 140 and held[0]["command"].startswith("python")
    assert mem.peak_total_mb >= sum(p["mb"] for p in mem.peak_breakdown) - 1 and mem.peak_at_seconds >= 0

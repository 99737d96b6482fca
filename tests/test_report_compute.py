"""The report's compute: the set-up table's compute column, RFT's training compute against SFT's, and
accuracy against training compute, read from fake run folders' compute.json (no model is run)."""

import json

import plotly.graph_objects as go
import pytest
from IPython.display import Markdown
from test_report import make_fake_study
from test_report_setup import _write_train

from vrft_lib.files import write_json
from vrft_lib.report import (
    analyse_study,
    collect_study,
    compute_comparisons,
    compute_figure,
    compute_markdown,
    metrics_record,
    training_setup,
)
from vrft_lib.report.render import render_report

CPU = {"device": "cpu", "num_processes": 1, "threads": 2, "gpus": 0, "device_hours_unit": "CPU-h"}
# invented training compute per variant: RFT processes 6.2x SFT's tokens in 5x its CPU-hours
TRAIN = {
    "sft": {"method": "sft", "steps": 20, "examples": 320, "tokens_trained": 1_600, "sequence_tokens": 10_000},
    "rft": {"method": "grpo", "steps": 20, "prompts": 80, "completions": 640, "sequence_tokens": 62_000},
    "rft_length": {"method": "grpo", "steps": 20, "prompts": 80, "completions": 640, "sequence_tokens": 99_000},
}
HOURS = {"sft": 0.004, "rft": 0.02, "rft_length": 0.03}


def add_compute(root, without=()):
    """Write train/compute.json (trained runs) and eval/compute.json (every run) into a fake study;
    the runs of ``without`` (benchmark, variant) get none."""
    for run in sorted((root / "runs").glob("*/*/seed*")):
        key, variant = run.parent.parent.name, run.parent.name
        if (key, variant) in without:
            continue
        write_json(
            {
                "phase": "eval",
                **CPU,
                "requests": 400,
                "tokens_generated": 12_000,
                "seconds": 3.6,
                "device_hours": 0.002,
            },
            run / "eval" / "compute.json",
        )
        if variant in TRAIN:
            rec = {"phase": "train", **CPU, **TRAIN[variant], "device_hours": HOURS[variant]}
            if variant != "sft":
                rec.update(completions_generated=640, tokens_generated=8_000, tokens_trained=8_000)
            write_json(rec, run / "train" / "compute.json")


@pytest.fixture
def study(tmp_path):
    root = make_fake_study(tmp_path)
    add_compute(root, without={("synthetic_aircraft", "sft")})
    return root


def test_setup_table_shows_each_run_s_compute(study):
    runs = study / "runs" / "synthetic_spatial"
    _write_train(runs / "rft" / "seed0", {"name": "r", "method": "grpo", "prompts_per_device": 1, "device": "cpu"}, 8)
    _write_train(runs / "sft" / "seed0", {"name": "s", "method": "sft", "device": "cpu"}, 8)
    _write_train(
        study / "runs" / "synthetic_aircraft" / "sft" / "seed0", {"name": "a", "method": "sft", "device": "cpu"}, 8
    )
    table = training_setup(collect_study(study)).set_index(["benchmark", "variant"])
    assert table.loc[("SAT", "rft"), "compute"] == (
        "train: 20 steps, 640 completions, 62k tokens (8k generated), 0.02 CPU-h; "
        "eval: 12k tokens generated, 0.002 CPU-h"
    )
    assert table.loc[("SAT", "sft"), "compute"].startswith("train: 20 steps, 320 examples, 10k tokens (1.6k targets)")
    assert table.loc[("FGVC-Aircraft", "sft"), "compute"] == "—"  # a run that recorded no compute


def test_rft_compute_is_stated_against_sft_per_benchmark(study):
    collected = collect_study(study)
    comps = {(c["label"], c["a"]): c for c in compute_comparisons(collected)}
    assert set(comps) == {(b, v) for b in ("Banner-Analysis", "SAT") for v in ("rft",)} | {("SAT", "rft_length")}
    sat = comps[("SAT", "rft")]
    assert sat["ratios"]["sequence_tokens"] == pytest.approx(6.2) and sat["ratios"]["device_hours"] == pytest.approx(5)
    assert not sat["matched"] and sat["a_compute"]["accuracy"] == {"no_think": 75.0, "think": 85.0}
    assert sat["text"].startswith("SAT: RFT used 6.2× SFT's training tokens (62k vs 10k processed")
    assert "5.0× its CPU-h (0.02 CPU-h vs 0.004 CPU-h)" in sat["text"]
    assert "RFT scored 75.0 / 85.0 % and SFT 70.0 / 62.0 %" in sat["text"]
    text = compute_markdown(collected).data
    assert "SAT: RFT used 6.2× SFT" in text and "FGVC-Aircraft" not in text  # no SFT compute there
    # metrics.json states the same, with every run's records and the fields' definitions
    record = json.loads(json.dumps(metrics_record(analyse_study(study, lookup_inputs=False))["compute"]))
    assert record["definitions"]["device_hours"].startswith("on a GPU: GPU-hours")
    assert any(c["text"] == sat["text"] for c in record["comparisons"])
    free = [r for r in record["runs"] if r["variant"] == "training_free"]
    assert free and all(r["train"] is None and r["eval"]["tokens_generated"] == 12_000 for r in free)


def test_matched_compute_is_said_so(study):
    rec = json.loads((study / "runs/synthetic_spatial/sft/seed0/train/compute.json").read_text())
    write_json({**rec, "device_hours": 0.018}, study / "runs/synthetic_spatial/sft/seed0/train/compute.json")
    sat = next(c for c in compute_comparisons(collect_study(study)) if c["label"] == "SAT" and c["a"] == "rft")
    assert sat["matched"] and "At matched compute (within 1.25×)" in sat["text"]


def test_accuracy_against_compute_figure(study):
    fig = compute_figure(collect_study(study))
    assert isinstance(fig, go.Figure)
    names = {t.name for t in fig.data}
    assert {"SFT w/o think", "SFT w/ think", "RFT w/ think", "RFT + length reward w/ think"} <= names
    assert all(fig.layout[f"xaxis{s}"].type == "log" for s in ("", "2", "3"))
    sat_rft = [t for t in fig.data if t.name == "RFT w/ think" and t.xaxis == "x3"]
    assert list(sat_rft[0].x) == [0.02] and list(sat_rft[0].y) == [85.0]
    # the buttons switch every trace's x to the tokens
    buttons = {b.label: b for b in fig.layout.updatemenus[0].buttons}
    tokens = buttons["tokens processed (sequence tokens)"].args[0]["x"]
    assert len(tokens) == len(fig.data) and [62_000] in tokens
    # training-free: one line per benchmark and mode
    assert len(fig.layout.shapes) == 6 and fig.layout.shapes[0].y0 == 60.0
    # without any compute record: a sentence
    empty = make_fake_study(study.parent / "bare")
    assert isinstance(compute_figure(collect_study(empty)), Markdown)


def test_rendered_report_shows_compute(study):
    page = render_report(study).read_text(encoding="utf-8")
    assert "Accuracy against training compute" in page and "SAT: RFT used 6.2× SFT" in page
    assert page.count('class="plotly-graph-div"') >= 4

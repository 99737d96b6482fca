"""The report around damaged inputs: a run whose files cannot be read is named on the page with the
file and why, and left out of every number, while the rest of the report is made; a damaged study.yaml
is a clear error of `vrft report` (fake study folders, no model)."""

import html
import json
import math

import pandas as pd
import pytest
import yaml
from test_report import make_fake_study

from vrft_lib import report
from vrft_lib.cli import main as vrft_main
from vrft_lib.report.collect import UNREADABLE
from vrft_lib.report.console import console_summary
from vrft_lib.report.views import md


def _run(root, key="synthetic_spatial", variant="rft", seed=0):
    return root / "runs" / key / variant / f"seed{seed}"


def _edit_json(path, change):
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def _metrics(change):
    return lambda run: _edit_json(run / "eval" / "metrics.json", change)


def _think(change):
    return _metrics(lambda m: change(m["modes"]["think"]))


def _set(field, value):
    return lambda d: d.__setitem__(field, value)


def _steps_cell(value):
    def damage(run):
        path = run / "train" / "steps.csv"
        df = pd.read_csv(path).astype(object)
        df.loc[2, "loss"] = value
        df.to_csv(path, index=False)

    return damage


def _first_prediction(change):
    def damage(run):
        path = run / "eval" / "predictions.jsonl"
        lines = path.read_text().splitlines()
        row = json.loads(lines[0])
        change(row)
        path.write_text("\n".join([json.dumps(row)] + lines[1:]) + "\n")

    return damage


def _cut(name, keep):
    def damage(run):
        path = run / name
        path.write_text(path.read_text()[:keep])

    return damage


# Each damaged input, and what the report says of the run (the reason the page shows).
DAMAGES = {
    "mode without accuracy": (_think(lambda m: m.pop("accuracy")), "eval/metrics.json: mode 'think' has no accuracy"),
    "mode not an object": (
        _metrics(lambda m: m["modes"].__setitem__("think", 0.85)),
        "eval/metrics.json: mode 'think' is 0.85 (a number), not an object",
    ),
    "modes a list": (
        _metrics(_set("modes", ["think"])),
        "eval/metrics.json: modes is ['think'] (a list), not an object",
    ),
    "count as text": (
        _think(_set("n", "two hundred")),
        "eval/metrics.json: mode 'think': n is 'two hundred' (text), not a number",
    ),
    "accuracy as text": (_think(_set("accuracy", "0.85")), "mode 'think': accuracy is '0.85' (text), not a number"),
    "accuracy NaN": (_think(_set("accuracy", math.nan)), "mode 'think': accuracy is NaN, not a number"),
    "accuracy inf": (_think(_set("accuracy", math.inf)), "mode 'think': accuracy is inf, not a finite number"),
    "accuracy above 1": (_think(_set("accuracy", 85.0)), "mode 'think': accuracy is 85.0, outside [0, 1]"),
    "interval as text": (_think(_set("accuracy_ci95", "[0.8, 0.9]")), "accuracy_ci95 is '[0.8, 0.9]' (text)"),
    "answers as text": (_think(_set("answers", "A")), "mode 'think': answers is 'A' (text), not an object"),
    "seconds as text": (_metrics(_set("seconds", "12 s")), "eval/metrics.json: seconds is '12 s' (text)"),
    "metrics cut short": (_cut("eval/metrics.json", 120), "eval/metrics.json is not valid JSON (cut short?)"),
    "metrics missing": (lambda run: (run / "eval" / "metrics.json").unlink(), "eval/metrics.json is missing"),
    "predictions missing": (
        lambda run: (run / "eval" / "predictions.jsonl").unlink(),
        "eval/predictions.jsonl is missing",
    ),
    "predictions cut short": (
        _cut("eval/predictions.jsonl", 5000),
        "eval/predictions.jsonl: line 21 is not valid JSON (cut short?)",
    ),
    "prediction without correct": (
        _first_prediction(lambda p: p.pop("correct")),
        "eval/predictions.jsonl: line 1 has no correct",
    ),
    "rotation as text": (
        _first_prediction(_set("rotation", "first")),
        "eval/predictions.jsonl: line 1: rotation is 'first' (text), not a number",
    ),
    "steps value as text": (_steps_cell("abc"), "train/steps.csv: column 'loss', row 3: 'abc' (text) is not a number"),
    "train DONE count as text": (
        lambda run: (run / "train" / "DONE").write_text(json.dumps({"steps": "twenty"})),
        "train/DONE: steps is 'twenty' (text), not a number",
    ),
    "DONE wall time as text": (
        lambda run: (run / "DONE").write_text(json.dumps({"wall_seconds": "2 min"})),
        "DONE: wall_seconds is '2 min' (text), not a number",
    ),
    "provenance packages a list": (
        lambda run: (run / "eval" / "provenance.json").write_text(json.dumps({"packages": ["torch"]})),
        "eval/provenance.json: packages is ['torch'] (a list), not an object",
    ),
}


@pytest.mark.parametrize("name", list(DAMAGES))
def test_a_damaged_run_is_unreadable_and_left_out(tmp_path, name):
    damage, reason = DAMAGES[name]
    root = make_fake_study(tmp_path)
    damage(_run(root))
    rep = report.analyse_study(root, lookup_inputs=False)
    runs = {(r["benchmark"], r["variant"], r["seed"]): r for r in rep.collected["runs"]}
    bad = runs.pop(("synthetic_spatial", "rft", 0))
    assert bad["status"] == UNREADABLE and reason in bad["reason"], bad["reason"]
    assert bad["metrics"] is None and bad["steps"] is None and bad["predictions_path"] is None
    assert all(r["status"] == "finished" for r in runs.values())
    # left out of Table 1, the findings and the figures; every other cell keeps its number
    t = rep.table.set_index(["benchmark", "method", "mode"])
    assert t.loc[("synthetic_spatial", "rft", "think"), "n_seeds"] == 0
    assert t.loc[("synthetic_aircraft", "rft", "think"), "accuracy"] == pytest.approx(85.0)
    assert t.loc[("synthetic_spatial", "rft_length", "think"), "accuracy"] == pytest.approx(97.0)
    f = next(f for f in rep.findings if f["id"] == "think.rft.synthetic_spatial")
    assert f["difference"] is None and "cannot be compared" in f["text"]
    assert f"{UNREADABLE}" in {m["status"] for m in rep.collected["missing"]}
    assert rep.figure1 is None or rep.figure1["benchmark"] != "synthetic_spatial"
    assert list(rep.curves["SAT"]) == ["RFT + length reward"]  # Figure 2 without the unreadable RFT run
    # and the summary names it
    summary = report.summary_markdown(rep.collected).data
    assert "1 finished run cannot be read" in summary and "SAT / RFT / seed 0" in summary


def test_values_the_evaluation_writes_are_not_damage(tmp_path):
    """NaN for a rate that could not be measured, and inf in a step log (a diverged step), are values."""
    root = make_fake_study(tmp_path)
    _think(_set("lenient_accuracy", math.nan))(_run(root))
    _steps_cell(math.inf)(_run(root))
    collected = report.collect_study(root)
    assert all(r["status"] == "finished" for r in collected["runs"])
    assert "SAT" in report.analyse_study(root, lookup_inputs=False).curves


def test_an_unfinished_run_with_a_damaged_step_log_says_so(tmp_path):
    root = make_fake_study(tmp_path, skip=[("synthetic_spatial", "rft", 0)])
    _steps_cell("abc")(_run(root))
    run = next(r for r in report.collect_study(root)["runs"] if r["path"] == str(_run(root)))
    assert run["status"] == "unfinished" and run["steps"] is None
    assert "unreadable: train/steps.csv: column 'loss', row 3" in run["reason"]


def test_a_damaged_last_invocation_is_not_used_and_named(tmp_path):
    root = make_fake_study(tmp_path)
    (root / "last_invocation.json").write_text(json.dumps({"ran": 3, "failures": 5, "total_seconds": 1.0}))
    rep = report.analyse_study(root, lookup_inputs=False)
    assert rep.collected["last_invocation"] is None
    assert md("last_invocation.json: ran is 3 (a number), not a list") in report.summary_markdown(rep.collected).data
    assert "last invocation" not in report.timings_markdown(rep.timings, rep.collected).data


def test_vrft_report_renders_around_every_damaged_run(tmp_path, capsys):
    """Every damage of DAMAGES in its own run of a three-seed study: `vrft report` exits 0, the page
    names every damaged run and why, and the other runs' numbers are on it."""
    root = make_fake_study(tmp_path, seeds=(0, 1, 2))
    targets = [(k, v) for k in ("synthetic_banner", "synthetic_aircraft", "synthetic_spatial") for v in ("sft", "rft")]
    targets += [(k, v) for v in ("training_free", "rft_length") for k in ("synthetic_aircraft", "synthetic_spatial")]
    slots = [(k, v, seed) for seed in (0, 1, 2) for k, v in targets]  # seeds 0 and 1 of each, then seed 2
    damaged = {}
    for damage, reason in DAMAGES.values():
        slot = next(s for s in slots if (_run(root, *s) / "train").is_dir() or not reason.startswith("train/"))
        slots.remove(slot)
        damage(_run(root, *slot))
        damaged[slot] = reason
    assert vrft_main(["report", str(root)]) == 0
    assert capsys.readouterr().out.strip().endswith("report.html")
    page = (root / "report.html").read_text(encoding="utf-8")
    runs = json.loads((root / "metrics.json").read_text())["runs"]
    runs = {(r["benchmark"], r["variant"], r["seed"]): r for r in runs}
    for run, reason in damaged.items():
        assert runs[run]["status"] == UNREADABLE and reason in runs[run]["reason"], run
        assert page.count(html.escape(reason, quote=False)) >= 2, reason  # the summary, the Missing runs table
    assert f"{len(damaged)} finished runs cannot be read" in page
    console = console_summary(root)  # what `vrft study` prints at the end
    assert f"{len(damaged)} finished run(s) cannot be read" in console
    assert "synthetic_banner/sft/seed0: eval/metrics.json: mode 'think' has no accuracy" in console
    assert sum(r["status"] == "finished" for r in runs.values()) == 33 - len(damaged)
    # the other runs' numbers: a cell with every seed, cells that lost two of three
    assert "60.00 ± 0.00\n[" in page and "85.00\n[" in page and "1 of 3 seeds" in page
    assert "Figure 2: accuracy and response length" in page and "Table 1 as bars" in page
    table = pd.read_csv(root / "table1.csv").set_index(["benchmark", "method", "mode"])
    assert table.loc[("synthetic_banner", "training_free", "no_think"), "n_seeds"] == 3
    assert table.loc[("synthetic_aircraft", "rft", "think"), ["n_seeds", "accuracy"]].tolist() == [1, 85.0]
    assert table.loc[("synthetic_banner", "sft", "think"), "n_seeds"] == 0  # every seed damaged


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"seeds": "0, 1"}, "seeds is '0, 1' (text), not a list of seeds"),
        ({"seeds": [0, "x"]}, "seeds is [0, 'x'] (a list), not a list of seeds"),
        ({"seeds": [0, 0]}, "a seed is given twice"),
        ({"benchmarks": ["sat"]}, "benchmarks is ['sat'] (a list), not an object"),
        ({"benchmarks": {"sat": {"label": {"x": 1}}}}, "benchmarks.sat: label is {'x': 1} (an object)"),
        ({"benchmarks": {"../x": {}}}, "'../x' is not a folder name the kit accepts"),
        ({"variants": "rft"}, "variants is 'rft' (text), not a list"),
        ("- a\n- b\n", "is ['a', 'b'] (a list), not a mapping"),
        ("name: [unclosed\n", "is not valid YAML"),
        ("name: s\nwhen: !!binary aGk=\n", "is not valid YAML"),
    ],
)
def test_a_damaged_study_yaml_is_an_error_of_vrft_report(tmp_path, capsys, change, says):
    root = make_fake_study(tmp_path)
    study = yaml.safe_load((root / "study.yaml").read_text())
    (root / "study.yaml").write_text(change if isinstance(change, str) else yaml.safe_dump({**study, **change}))
    assert vrft_main(["report", str(root)]) == 2
    err = capsys.readouterr().err
    assert str(root / "study.yaml") in err and says in err and "Traceback" not in err, err
    assert not (root / "report.html").exists() and not (root / "report.ipynb").exists()

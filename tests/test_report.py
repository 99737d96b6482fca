"""The study report: Table 1, findings, figures, files and the rendered page, on fake study folders (no
model is run; the pages are the report notebook executed by papermill and exported by nbconvert)."""

import json
import random
import re
import shutil
from pathlib import Path

import nbformat
import pandas as pd
import pytest
import yaml
from IPython.display import Image, Markdown

from vrft_lib import report
from vrft_lib.cli import main as vrft_main
from vrft_lib.errors import VrftError
from vrft_lib.evaluate import wilson_interval
from vrft_lib.report.render import render_report

BENCHMARKS = {
    "synthetic_banner": {"label": "Banner-Analysis", "task_kind": "binary"},
    "synthetic_aircraft": {"label": "FGVC-Aircraft", "task_kind": "perception"},
    "synthetic_spatial": {"label": "SAT", "task_kind": "reasoning"},
}
PAPER = {
    "Banner-Analysis": {
        "training_free": {"no_think": 80.72, "think": 80.11},
        "sft": {"no_think": 90.74, "think": 90.21},
        "rft": {"no_think": 97.22, "think": 97.83},
    },
    "FGVC-Aircraft": {
        "training_free": {"no_think": 55.48, "think": 47.55},
        "sft": {"no_think": 75.85, "think": 75.84},
        "rft": {"no_think": 63.57, "think": 83.32},
    },
    "SAT": {
        "training_free": {"no_think": 56.85, "think": 49.84},
        "sft": {"no_think": 58.24, "think": 59.62},
        "rft": {"no_think": 61.01, "think": 62.23},
    },
}
LENGTH_BENCHMARKS = ("synthetic_aircraft", "synthetic_spatial")

# Our accuracies (%), chosen so that every finding is known: thinking hurts training-free (by 10) and
# SFT (by 8), helps RFT (by 10); RFT beats SFT everywhere; the length reward lowers aircraft (-12) and
# raises spatial (+12). Intervals are +-3 points, so every difference above is outside noise.
DEFAULT_ACC = {}
for _k in BENCHMARKS:
    DEFAULT_ACC.update(
        {
            (_k, "training_free", "no_think"): 60.0,
            (_k, "training_free", "think"): 50.0,
            (_k, "sft", "no_think"): 70.0,
            (_k, "sft", "think"): 62.0,
            (_k, "rft", "no_think"): 75.0,
            (_k, "rft", "think"): 85.0,
        }
    )
DEFAULT_ACC.update(
    {
        ("synthetic_aircraft", "rft_length", "no_think"): 70.0,
        ("synthetic_aircraft", "rft_length", "think"): 73.0,
        ("synthetic_spatial", "rft_length", "no_think"): 78.0,
        ("synthetic_spatial", "rft_length", "think"): 97.0,
    }
)


def _item_outcomes(accuracy: float, n: int, variant: str, rng=None) -> list[bool]:
    """``n`` outcomes with ``round(accuracy * n)`` correct (as near as the first six allow): the first six
    follow a fixed pattern (RFT right on even ids, the others on multiples of 3; Figure 1's tests rely
    on it), the rest are right on a prefix of the item order (shuffled by ``rng`` when given)."""
    head = [(i % 2 == 0) if variant == "rft" else (i % 3 == 0) for i in range(min(6, n))]
    rest = n - len(head)
    k = max(0, min(rest, round(accuracy * n) - sum(head)))
    tail = [i < k for i in range(rest)]
    if rng is not None:
        rng.shuffle(tail)
    return head + tail


def _write_json(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def make_fake_study(
    tmp,
    acc=None,
    seeds=(0,),
    synthetic=True,
    n=200,
    independent=False,
    reference=True,
    seed_offsets=None,
    response_text=None,
    skip=(),
    claims=None,
):
    """Write a study folder under ``tmp`` and return its path.

    ``acc``: overrides of DEFAULT_ACC, ``{(benchmark key, variant, mode): accuracy %}``.
    ``seed_offsets``: ``{seed: points}`` added to every accuracy of that seed.
    ``skip``: ``(key, variant, seed)`` runs left without a DONE file.
    ``claims``: the study's own ``claims:`` (written into study.yaml).
    ``n``: items per evaluation; the predictions match the accuracies (see :func:`_item_outcomes`),
    with the items after the sixth in one shared order (so runs agree on the easy items and paired
    differences are clear) or, with ``independent``, in an order of their own per run and mode.
    """
    numbers = {**DEFAULT_ACC, **(acc or {})}
    root = tmp / "study"
    root.mkdir(parents=True, exist_ok=True)
    study = {
        "name": "fake-study",
        "description": "A fake study for the report tests.",
        "synthetic": synthetic,
        "seeds": list(seeds),
        "model": {"name_or_path": "tiny"},
        "variants": ["training_free", "sft", "rft", "rft_length"],
        "benchmarks": {k: dict(v, length_reward=k in LENGTH_BENCHMARKS) for k, v in BENCHMARKS.items()},
    }
    if reference:
        study["reference"] = {"source": "arXiv 2504.05682 Table 1 (Qwen2.5-VL-7B-Instruct)", "table1": PAPER}
    if claims:
        study["claims"] = claims
    (root / "study.yaml").write_text(yaml.safe_dump(study, sort_keys=False))
    offsets = seed_offsets or {}
    for key in BENCHMARKS:
        variants = ["training_free", "sft", "rft"] + (["rft_length"] if key in LENGTH_BENCHMARKS else [])
        for variant in variants:
            for seed in seeds:
                run = root / "runs" / key / variant / f"seed{seed}"
                modes = {}
                order = {
                    m: random.Random(f"{key}/{variant}/{seed}/{m}") if independent else None
                    for m in ("no_think", "think")
                }
                for mode in ("no_think", "think"):
                    a = (numbers[(key, variant, mode)] + offsets.get(seed, 0.0)) / 100
                    modes[mode] = {
                        "n": n,
                        "accuracy": a,
                        "accuracy_ci95": list(wilson_interval(round(a * n), n)),
                        "format_rate": 0.9 if mode == "think" else 1.0,
                        "mean_response_tokens": (300.0 if variant == "rft_length" else 100.0)
                        if mode == "think"
                        else 5.0,
                    }
                _write_json(
                    run / "eval" / "metrics.json",
                    {
                        "name": f"{key}-{variant}",
                        "benchmark": key,
                        "split": "test",
                        "task": "binary",
                        "model": "tiny",
                        "modes": modes,
                        "seconds": 12.5,
                        "samples_per_second": 32.0,
                    },
                )
                _write_json(
                    run / "eval" / "provenance.json",
                    {
                        "created": "2025-01-01T00:00:00",
                        "python": "3.11.9",
                        "packages": {"torch": "2.9.0", "trl": "1.16.0"},
                        "git_commit": "abc123",
                        "hardware": {"machine": "x86_64", "cpu_count": 16},
                        "command": ["vrft", "study"],
                    },
                )
                preds = []
                for mode in ("no_think", "think"):
                    for i, correct in enumerate(_item_outcomes(modes[mode]["accuracy"], n, variant, order[mode])):
                        text = (
                            response_text
                            if (response_text and i == 0)
                            else f"<think>reasoning {variant} {i}</think><answer>left</answer>"
                        )
                        preds.append(
                            {
                                "id": f"{key}-test-{i:06d}",
                                "mode": mode,
                                "rotation": 0,
                                "solution": "left",
                                "response": text,
                                "answer": "left" if correct else "right",
                                "correct": correct,
                                "format_ok": True,
                                "response_tokens": 40 + i,
                            }
                        )
                (run / "eval" / "predictions.jsonl").write_text("\n".join(json.dumps(p) for p in preds) + "\n")
                if variant != "training_free":
                    steps = pd.DataFrame({"step": range(1, 21), "loss": [1 / s for s in range(1, 21)]})
                    if variant.startswith("rft"):
                        steps["reward"] = [s / 20 for s in range(1, 21)]
                        steps["accuracy_reward"] = [s / 25 for s in range(1, 21)]
                        steps["mean_completion_length"] = [
                            (200 if variant == "rft_length" else 80) + s for s in range(1, 21)
                        ]
                        steps["kl"] = 0.01
                        if variant == "rft_length":
                            steps["length_reward"] = 0.6
                    (run / "train").mkdir(parents=True, exist_ok=True)
                    steps.to_csv(run / "train" / "steps.csv", index=False)
                    _write_json(run / "train" / "DONE", {"train_seconds": 100.0, "steps": 20, "mean_step_seconds": 5.0})
                if (key, variant, seed) not in skip:
                    _write_json(
                        run / "DONE",
                        {
                            "run_id": f"{key}/{variant}/seed{seed}",
                            "wall_seconds": 120.0,
                            "finished": "2025-01-01T01:00:00",
                        },
                    )
    return root


def _finding(found, fid):
    return next(f for f in found if f["id"] == fid)


def _analyse(root):
    collected = report.collect_study(root)
    table = report.table1(collected)
    return collected, table, report.findings(table, collected, collected["study"])


SPATIAL_EVAL = {
    "name": "e",
    "data": {"name": "synthetic_spatial", "root": None, "eval_split": "test", "eval_limit": 8, "options": {}},
    "seed": 0,
}
EXAMPLE_ID = "synthetic_spatial-test-000002"
# A study's own claims, in the full and the compact form: SFT beats training-free without think on every
# benchmark (+10 each: a pair no finding makes, so the claim adds it); thinking helps SFT on SAT (it
# hurts, by 8: contradicted); RFT w/ think beats both SFT cells on the reasoning benchmark (+23, +15).
USER_CLAIMS = [
    {
        "id": "sft_beats_training_free",
        "text": "SFT beats training-free without think",
        "compare": [
            {"a": {"variant": "sft", "mode": "no_think"}, "b": {"variant": "training_free", "mode": "no_think"}}
        ],
        "benchmarks": "all",
        "sign": "a>b",
        "quantifier": "every",
    },
    {
        "id": "think_helps_sft_on_sat",
        "text": "thinking helps SFT on SAT",
        "compare": {"a": "sft/think", "b": "sft/no_think"},
        "benchmarks": ["synthetic_spatial"],
        "sign": "+",
        "quantifier": "any",
    },
    {
        "id": "rft_think_beats_sft",
        "text": "RFT with think beats SFT in either mode on reasoning",
        "compare": [{"a": "rft/think", "b": "sft/think"}, {"a": "rft/think", "b": "sft/no_think"}],
        "benchmarks": {"task_kind": "reasoning"},
        "sign": "a>b",
    },
]
SCRIPT_TEXT = "<script>alert('x')</script> & more"


def _add_example_image(root):
    from PIL import Image as PILImage

    ex_dir = root / "runs" / "synthetic_spatial" / "rft_length" / "seed0" / "eval" / "examples"
    ex_dir.mkdir(parents=True)
    PILImage.new("RGB", (8, 8), (255, 0, 0)).save(ex_dir / f"{EXAMPLE_ID}.png")


def _add_eval_configs(root):
    for variant in ("rft", "rft_length"):
        path = root / "runs" / "synthetic_spatial" / variant / "seed0" / "eval" / "config.yaml"
        path.write_text(yaml.safe_dump(SPATIAL_EVAL))


def _html(obj) -> str:
    """What a displayed object puts on the page (a Markdown's text, a Styler's table)."""
    return obj.data if isinstance(obj, Markdown) else obj.to_html()


def _no_network(page: str) -> None:
    assert not re.search(r"<script[^>]*\bsrc\s*=", page)  # nothing is fetched: no script src at all
    assert not re.search(r"<link[^>]*\bhref\s*=\s*[\"']?(https?:)?//", page)
    assert not re.search(r"@import\s+url\(\s*[\"']?(https?:)?//", page)
    assert not re.search(r"import\(\s*[\"'](https?:)?//", page)


def _heading(page: str, level: int, text: str) -> bool:
    return re.search(rf"<h{level}[^>]*>\s*{re.escape(text)}\s*</h{level}>", page) is not None


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """The fake study rendered as `vrft study` renders it: the report notebook executed by papermill
    (kernel python3, cwd notebooks/) into report.ipynb and exported by nbconvert into report.html."""
    root = make_fake_study(tmp_path_factory.mktemp("rendered"), response_text=SCRIPT_TEXT, claims=USER_CLAIMS)
    _add_example_image(root)
    _add_eval_configs(root)
    html = render_report(root)
    return {"root": root, "html": html, "page": html.read_text(encoding="utf-8")}


def test_table1_cells_equal_inputs(tmp_path):
    collected, table, _ = _analyse(make_fake_study(tmp_path))
    assert not collected["missing"]
    for (key, variant, mode), acc in DEFAULT_ACC.items():
        row = table[(table.benchmark == key) & (table.method == variant) & (table["mode"] == mode)].iloc[0]
        assert row["accuracy"] == pytest.approx(acc)
        lo, hi = wilson_interval(round(acc * 2), 200)
        assert row["ci_low"] == pytest.approx(100 * lo) and row["ci_high"] == pytest.approx(100 * hi)
        assert row["n"] == 200 and row["n_seeds"] == 1
        if variant != "rft_length":
            assert row["paper_accuracy"] == PAPER[BENCHMARKS[key]["label"]][variant][mode]
        else:
            assert pd.isna(row["paper_accuracy"])
    assert len(table) == 3 * 3 * 2 + 2 * 2


def test_findings_follow_the_numbers(tmp_path):
    _, _, found = _analyse(make_fake_study(tmp_path))
    f = _finding(found, "think.rft.synthetic_spatial")
    assert f["direction"] == "up" and f["difference"] == pytest.approx(10.0) and f["within_noise"] is False
    assert "thinking helps accuracy by 10.00 points" in f["text"] and f["verdict"] == "supported"
    assert "the 95% interval of the difference excludes 0" in f["text"] and "McNemar p = " in f["text"]
    c = f["comparison"]
    assert c["n"] == 200 and c["difference_points"] == pytest.approx(10.0) and c["ci95"][0] > 0 and c["p_value"] < 0.01
    f = _finding(found, "think.sft.synthetic_aircraft")
    assert f["direction"] == "down" and "thinking hurts accuracy by 8.00 points" in f["text"]
    f = _finding(found, "rft_vs_sft.synthetic_banner.think")
    assert "RFT beats SFT by 23.00 points" in f["text"]
    f = _finding(found, "length_reward.synthetic_spatial")
    assert f["difference"] == pytest.approx(12.0) and f["verdict"] == "supported"
    assert "raises final accuracy by 12.00 points" in f["text"] and "300 vs 100 tokens" in f["text"]
    f = _finding(found, "length_reward.synthetic_aircraft")
    assert f["difference"] == pytest.approx(-12.0) and "lowers final accuracy" in f["text"]
    assert not any(f["id"] == "length_reward.synthetic_banner" for f in found)
    assert _finding(found, "rft_vs_sft.synthetic_banner.no_think")["verdict"] == "a_higher"  # no claim
    claims = {f["id"]: f["verdict"] for f in found if f["group"] == "paper"}
    assert claims == {k: "supported" for k in report.PAPER_CLAIMS}


def test_flipped_numbers_flip_the_findings(tmp_path):
    flipped = {}
    for k in BENCHMARKS:
        flipped[(k, "sft", "think")] = 80.0  # thinking now helps SFT (+10)
        flipped[(k, "rft", "think")] = 65.0  # and hurts RFT (-10); RFT now trails SFT with think
    flipped[("synthetic_spatial", "rft_length", "think")] = 50.0  # length reward hurts reasoning
    flipped[("synthetic_aircraft", "rft_length", "think")] = 90.0  # and helps perception
    _, _, found = _analyse(make_fake_study(tmp_path, acc=flipped))
    assert "thinking helps accuracy by 10.00 points" in _finding(found, "think.sft.synthetic_banner")["text"]
    assert "thinking hurts accuracy by 10.00 points" in _finding(found, "think.rft.synthetic_banner")["text"]
    assert "RFT trails SFT by 15.00 points" in _finding(found, "rft_vs_sft.synthetic_banner.think")["text"]
    assert _finding(found, "length_reward.synthetic_spatial")["verdict"] == "contradicted"
    claims = {f["id"]: f["verdict"] for f in found if f["group"] == "paper"}
    assert claims == {
        "paper.think_hurts_training_free": "supported",
        "paper.think_hurts_sft": "contradicted",
        "paper.think_helps_rft": "contradicted",
        "paper.rft_beats_sft_with_think": "contradicted",
        "paper.length_reward_helps_reasoning": "contradicted",
        "paper.length_reward_hurts_perception": "contradicted",
    }
    assert "3 contradict it" in _finding(found, "paper.think_hurts_sft")["text"]
    assert "Verdict: contradicted (3 resolved benchmarks against it" in _finding(found, "paper.think_hurts_sft")["text"]


def test_small_paired_difference_is_not_resolved(tmp_path):
    # +2 points over w/o think on 1000 items answered independently: the paired interval includes 0
    acc = {("synthetic_banner", "rft", "think"): 77.0}
    _, _, found = _analyse(make_fake_study(tmp_path, acc=acc, n=1000, independent=True))
    f = _finding(found, "think.rft.synthetic_banner")
    assert f["within_noise"] is True and f["difference"] == pytest.approx(2.0) and f["verdict"] == "not_resolved"
    lo, hi = f["comparison"]["ci95"]
    assert lo < 0 < hi and f["comparison"]["p_value"] > 0.05
    assert "includes 0, so the difference is not resolved" in f["text"]
    assert "excludes 0" in _finding(found, "think.rft.synthetic_aircraft")["text"]
    # "thinking helps RFT" is a claim about every benchmark: one of three not resolved leaves it mixed
    claim = _finding(found, "paper.think_helps_rft")
    assert claim["n_not_resolved"] == 1 and claim["n_supported"] == 2 and claim["verdict"] == "mixed"
    assert "for 1 the 95% interval of the difference includes 0" in claim["text"]
    assert "Verdict: mixed (2 of its 3 benchmarks resolved the expected way, 1 not resolved" in claim["text"]


def test_claim_is_not_supported_when_every_interval_includes_0(tmp_path):
    # Every difference of the claims has the paper's sign (the old sign count read "consistent"), but
    # each is 1 to 2 points on 300 items answered independently: no paired interval excludes 0.
    acc = {}
    for k in BENCHMARKS:
        acc.update(
            {
                (k, "training_free", "no_think"): 61.0,
                (k, "training_free", "think"): 60.0,
                (k, "sft", "no_think"): 61.0,
                (k, "sft", "think"): 60.0,
                (k, "rft", "no_think"): 61.0,
                (k, "rft", "think"): 62.0,
            }
        )
    acc[("synthetic_spatial", "rft_length", "think")] = 64.0
    acc[("synthetic_aircraft", "rft_length", "think")] = 60.0
    _, _, found = _analyse(make_fake_study(tmp_path, acc=acc, n=300, independent=True))
    claims = [f for f in found if f["group"] == "paper"]
    for claim in claims:
        evidence = [_finding(found, i) for i in claim["evidence"]]
        assert evidence and all(_sign(e["difference"]) == claim["expected_sign"] for e in evidence), claim["id"]
        assert all(e["comparison"]["ci95"][0] < 0 < e["comparison"]["ci95"][1] for e in evidence), claim["id"]
        assert claim["verdict"] == "not_resolved" and claim["n_supported"] == 0, claim["id"]
        # the thinking and RFT-vs-SFT claims cover three benchmarks, the length-reward claims one each
        reason = "none of its 3 benchmarks is resolved" if len(evidence) == 3 else "its one benchmark is not resolved"
        assert f"Verdict: not resolved ({reason})." in claim["text"], claim["id"]


def _sign(x):
    return (x > 0) - (x < 0)


def test_a_claim_about_every_benchmark_needs_every_one_resolved(tmp_path):
    # RFT beats SFT with think clearly on two benchmarks, and by 1 point (not resolved) on the third:
    # "RFT beats SFT on every benchmark with think" is mixed, not supported
    acc = {("synthetic_spatial", "rft", "think"): 63.0}
    _, _, found = _analyse(make_fake_study(tmp_path, acc=acc, n=400, independent=True))
    claim = _finding(found, "paper.rft_beats_sft_with_think")
    assert claim["quantifier"] == "every"
    assert (claim["n_supported"], claim["n_contradicted"], claim["n_not_resolved"]) == (2, 0, 1)
    assert claim["verdict"] == "mixed" and [c["verdict"] for c in claim["comparisons"]][2] == "not_resolved"
    # one resolved difference against it contradicts a claim about every benchmark
    acc = {("synthetic_spatial", "rft", "think"): 40.0}
    _, _, found = _analyse(make_fake_study(tmp_path / "against", acc=acc, n=400, independent=True))
    claim = _finding(found, "paper.rft_beats_sft_with_think")
    assert (claim["n_supported"], claim["n_contradicted"]) == (2, 1) and claim["verdict"] == "contradicted"


def test_comparisons_without_predictions_have_no_interval(tmp_path):
    collected = report.collect_study(make_fake_study(tmp_path))
    found = report.findings(report.table1(collected), None, collected["study"])  # no runs: no predictions
    f = _finding(found, "think.rft.synthetic_spatial")
    assert f["difference"] == pytest.approx(10.0) and f["comparison"]["ci95"] is None
    assert f["comparison"]["p_value"] is None and f["comparison"]["n"] == 0 and f["verdict"] == "not_resolved"
    assert "no paired predictions, so no interval: not resolved" in f["text"]
    assert all(c["verdict"] == "not_resolved" for c in found if c["group"] == "paper")


def test_paper_own_numbers_reproduce_the_paper_claims(tmp_path):
    acc = {
        (k, m, md): PAPER[v["label"]][m][md]
        for k, v in BENCHMARKS.items()
        for m in ("training_free", "sft", "rft")
        for md in ("no_think", "think")
    }
    acc[("synthetic_spatial", "rft_length", "think")] = 64.0
    acc[("synthetic_aircraft", "rft_length", "think")] = 80.0
    _, table, found = _analyse(make_fake_study(tmp_path, acc=acc))
    claims = {f["id"]: f["verdict"] for f in found if f["group"] == "paper"}
    # The paper's own SFT differences (-0.53, -0.01, +1.38 points) are one to three items of 200:
    # none is resolved, so the claim that thinking hurts SFT is not supported by its own numbers.
    assert claims["paper.think_hurts_sft"] == "not_resolved"
    assert _finding(found, "paper.think_hurts_sft")["n_not_resolved"] == 3
    # The other claims about every benchmark each have differences of one to five items of 200 (the
    # banner's thinking differences, RFT's on SAT, RFT vs SFT on SAT): resolved on the others only, so
    # mixed, not supported.
    expected = {
        "paper.think_hurts_training_free": (2, 1),
        "paper.think_helps_rft": (1, 2),
        "paper.rft_beats_sft_with_think": (2, 1),
    }
    for cid, counts in expected.items():
        claim = _finding(found, cid)
        assert claim["verdict"] == "mixed" and (claim["n_supported"], claim["n_not_resolved"]) == counts, cid
    # a claim about some benchmark of a kind: FGVC-Aircraft -3.5 points with the length reward is enough
    assert claims["paper.length_reward_hurts_perception"] == "supported"
    assert "contradicted" not in claims.values()
    f = _finding(found, "think.sft.synthetic_aircraft")  # 75.84 vs 75.85
    assert f["direction"] == "down" and f["same_sign_as_paper"] is True and f["verdict"] == "not_resolved"


def test_tie_is_no_difference(tmp_path):
    acc = {("synthetic_banner", "sft", "think"): 70.0}
    _, _, found = _analyse(make_fake_study(tmp_path, acc=acc))
    f = _finding(found, "think.sft.synthetic_banner")
    assert f["direction"] == "none" and "thinking makes no difference" in f["text"]


def test_rendered_page_has_every_section_and_the_numbers(rendered):
    root, page = rendered["root"], rendered["page"]
    assert rendered["html"] == root.resolve() / "report.html"
    assert (root / "report.ipynb").is_file() and (root / "table1.csv").is_file() and (root / "metrics.json").is_file()
    for heading in ("Summary", "Table 1", "Figure 1", "Figure 2", "Findings", "How it was made"):
        assert _heading(page, 2, heading), heading
    # summary: what was run, how many runs finished, the synthetic caveat
    assert "fake-study" in page and "11 of 11" in page and "The data are synthetic" in page
    # Table 1: ours with intervals and n, the paper's labelled as such
    lo, hi = wilson_interval(170, 200)
    assert "85.00" in page and f"[{100 * lo:.2f}, {100 * hi:.2f}]" in page and "(n = 200; chance 50%" in page
    assert "Paper (different model and data)" in page and "83.32" in page
    assert "arXiv 2504.05682 Table 1" in page and "Only the pattern" in page
    assert "Every expected run finished." in page
    # findings, grouped, and the paper's claims with verdicts
    assert "thinking helps accuracy by 10.00 points" in page and "RFT beats SFT by 23.00 points" in page
    assert "The claims: the paper" in page and "the length reward helps the reasoning task (SAT)" in page
    assert page.count(">supported<") >= len(report.PAPER_CLAIMS)
    assert (
        "Paired comparisons" in page and "McNemar p" in page and "the 95% interval of the difference excludes 0" in page
    )
    # Figure 2's table and how it was made
    lo, hi = wilson_interval(194, 200)
    assert "mean response tokens (w/ think)" in page and f"97.00 [{100 * lo:.2f}, {100 * hi:.2f}]" in page
    assert "abc123 (11 runs)" in page and "torch" in page and "2.9.0" in page and "Total wall time" in page
    assert "0:22:00" in page and "Study parameters" in page and ">fake-study</span>" in page  # study.yaml
    assert not list(root.glob(".*.tmp")) and not list(root.glob("*.vrft-tmp"))


def test_rendered_page_shows_the_studys_own_claims_beside_the_papers(rendered):
    root, page = rendered["root"], rendered["page"]
    metrics = json.loads((root / "metrics.json").read_text())
    claims = {f["id"]: f for f in metrics["findings"] if f["group"] in ("paper", "study")}
    assert list(claims)[-3:] == [
        "study.sft_beats_training_free",
        "study.think_helps_sft_on_sat",
        "study.rft_think_beats_sft",
    ]
    own = claims["study.sft_beats_training_free"]
    assert own["source"] == "study" and "paper_claim" not in own and own["verdict"] == "supported"
    assert claims["study.think_helps_sft_on_sat"]["verdict"] == "contradicted"
    # the claims table: whose claim, its quantifier, our numbers and the verdict, the study's after the paper's
    table = page[page.index("The claims: the paper") :]
    assert "this study" in table and "the paper" in table and "every comparison" in table and "any comparison" in table
    i = table.index("SFT beats training-free without think")
    assert table.index("the length reward hurts the perception task") < i
    row = table[table.rindex("<tr", 0, i) : table.index("</tr>", i)]
    assert "this study" in row and ">supported<" in row and "Banner-Analysis +10.00 [" in row
    row = table[table.rindex("<tr", 0, table.index("thinking helps SFT on SAT")) :]
    assert ">contradicted<" in row[: row.index("</tr>")]
    # the pairs only a study claim asks for get findings of their own, and the key findings name the claims
    assert "Other comparisons the claims make" in page
    assert "SFT w/o think scores above Training-free w/o think by 10.00 points" in page
    assert (
        "This study&#x27;s own 3 claims on these numbers" in page
        or "This study's own 3 claims on these numbers" in page
    )


def test_rendered_page_is_one_offline_file_with_plotly_figures(rendered):
    page = rendered["page"]
    assert page.count("plotly.js v") == 1  # the library inlined exactly once
    assert page.index("plotly.js v") < page.index("Plotly.newPlot")
    assert page.count('class="plotly-graph-div"') >= 3  # Table 1 bars, Figure 2, training curves
    assert "Figure 2: accuracy and response length" in page and "Table 1 as bars" in page
    assert "Training curves: SAT" in page
    _no_network(page)
    assert len(page) < 12 * 2**20


def test_rendered_page_hides_code_and_escapes_run_text(rendered):
    page = rendered["page"]
    nb = nbformat.read(Path("notebooks/report.ipynb"), as_version=4)
    for c in nb.cells:
        if c.cell_type == "code":
            for line in c.source.splitlines():
                if line.strip():
                    assert line.strip() not in page, line
    assert "study_dir = " not in page and "TqdmWarning" not in page
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(" in page and "&lt;/script&gt; &amp; more" in page


def test_rendered_figure1_shows_inputs_and_both_responses(rendered):
    page = rendered["page"]
    i = page.index("Example 1")
    assert page.index("data:image/png;base64,", i) < page.index("Example 2")  # its image, embedded
    assert "<strong>Choices:</strong> <strong>A.</strong>" in page and "(not recorded with the predictions)" not in page
    assert "<strong>Solution:</strong> left" in page
    assert "RFT + length reward" in page and ">correct<" in page and ">wrong<" in page
    assert "reasoning rft_length 3" in page


def test_table1_csv_and_metrics_json(tmp_path):
    root = make_fake_study(tmp_path)
    paths = report.build_report(root)
    assert set(paths) == {"table1", "metrics"} and not (root / "report.html").exists()
    csv = pd.read_csv(paths["table1"])
    for col in (
        "benchmark",
        "label",
        "method",
        "mode",
        "accuracy",
        "ci_low",
        "ci_high",
        "n",
        "n_seeds",
        "format_rate",
        "mean_response_tokens",
        "paper_accuracy",
    ):
        assert col in csv.columns
    row = csv[(csv.benchmark == "synthetic_aircraft") & (csv.method == "rft") & (csv["mode"] == "think")].iloc[0]
    assert row.accuracy == pytest.approx(85.0) and row.paper_accuracy == pytest.approx(83.32)
    assert row.format_rate == pytest.approx(90.0) and row.mean_response_tokens == pytest.approx(100.0)

    def no_nan(x):
        raise AssertionError(f"metrics.json holds {x}")

    m = json.loads(paths["metrics"].read_text(), parse_constant=no_nan)
    assert {"study", "table1", "findings", "runs", "missing", "timings", "provenance"} <= set(m)
    assert all({"id", "text", "verdict"} <= set(f) for f in m["findings"])
    keys = {"benchmark", "a", "b", "difference_points", "ci95", "p_value", "n", "verdict"}
    assert len(m["comparisons"]) == 3 * 3 + 3 * 2 + 2 and all(set(c) == keys for c in m["comparisons"])
    c = next(
        c for c in m["comparisons"] if c["a"] == {"method": "rft", "mode": "think"} and c["b"]["mode"] == "no_think"
    )
    assert c["benchmark"] == "synthetic_banner" and c["b"] == {"method": "rft", "mode": "no_think"}
    assert c["difference_points"] == pytest.approx(10.0) and c["n"] == 200 and c["verdict"] == "supported"
    assert c["ci95"][0] > 0 and 0 <= c["p_value"] < 0.01
    no_claim = next(c for c in m["comparisons"] if c["a"] == {"method": "rft", "mode": "no_think"})
    assert no_claim["b"] == {"method": "sft", "mode": "no_think"} and no_claim["verdict"] == "a_higher"
    assert m["timings"]["total_wall_seconds"] == pytest.approx(120.0 * 11)
    assert len(m["runs"]) == 11 and m["figure2"]["benchmarks"] == ["FGVC-Aircraft", "SAT"]
    assert m["figure1"]["benchmark"] == "synthetic_spatial" and len(m["figure1"]["examples"]) == 4


def test_study_claims_in_metrics_json_with_their_paired_statistics(tmp_path):
    root = make_fake_study(tmp_path, claims=USER_CLAIMS)
    m = json.loads(report.build_report(root)["metrics"].read_text())
    found = {f["id"]: f for f in m["findings"]}
    claim = found["study.sft_beats_training_free"]
    assert claim["group"] == "study" and claim["claim"] == "SFT beats training-free without think"
    assert claim["quantifier"] == "every" and claim["expected_sign"] == 1
    assert claim["compare"] == [
        {"a": {"variant": "sft", "mode": "no_think"}, "b": {"variant": "training_free", "mode": "no_think"}}
    ]
    assert [c["benchmark"] for c in claim["comparisons"]] == list(BENCHMARKS)
    for c in claim["comparisons"]:
        assert c["difference_points"] == pytest.approx(10.0) and c["ci95"][0] > 0 and c["p_value"] < 0.01
        assert c["n"] == 200 and c["verdict"] == "supported" and c["finding"].startswith("pair.")
    assert (claim["n_expected"], claim["n_supported"], claim["n_missing"]) == (3, 3, 0) and claim[
        "verdict"
    ] == "supported"
    assert claim["text"].startswith("This study's claim (on every benchmark it covers): SFT beats training-free")
    # its pairs are comparisons of metrics.json too, with a verdict for the claim's sign
    pairs = [
        c
        for c in m["comparisons"]
        if c["a"] == {"method": "sft", "mode": "no_think"} and c["b"]["method"] == "training_free"
    ]
    assert len(pairs) == 3 and all(c["verdict"] == "supported" for c in pairs)
    assert len(m["comparisons"]) == 3 * 3 + 3 * 2 + 2 + 3 + 1
    f = found["pair.synthetic_banner.sft.no_think.vs.training_free.no_think"]
    assert f["expected_sign"] == 1 and "SFT w/o think scores above Training-free w/o think by 10.00 points" in f["text"]
    # the same comparison as a paper claim's, judged by this claim's own sign: against it
    claim = found["study.think_helps_sft_on_sat"]
    assert claim["quantifier"] == "any" and claim["comparisons"][0]["finding"] == "think.sft.synthetic_spatial"
    assert claim["comparisons"][0]["verdict"] == "contradicted" and claim["verdict"] == "contradicted"
    assert found["think.sft.synthetic_spatial"]["verdict"] == "supported"  # for the paper's sign
    # two pairs on the reasoning benchmark; the quantifier defaults to every
    claim = found["study.rft_think_beats_sft"]
    assert claim["quantifier"] == "every" and claim["n_expected"] == 2 and claim["verdict"] == "supported"
    assert [c["difference_points"] for c in claim["comparisons"]] == pytest.approx([23.0, 15.0])
    assert "SAT, RFT w/ think vs SFT w/o think +15.00" in claim["text"]
    # the paper's claims keep their verdicts and are marked as the paper's
    assert all(found[k]["verdict"] == "supported" and found[k]["source"] == "paper" for k in report.PAPER_CLAIMS)


def test_a_study_claim_with_a_missing_benchmark(tmp_path):
    # SFT's SAT run did not finish: the claim about every benchmark is incomplete, the one about any
    # benchmark is supported by the two that are there
    claims = [
        dict(USER_CLAIMS[0], id="every"),
        dict(USER_CLAIMS[0], id="any", quantifier="any"),
        dict(USER_CLAIMS[1], id="only_sat"),
    ]
    root = make_fake_study(tmp_path, claims=claims, skip=[("synthetic_spatial", "sft", 0)])
    _, _, found = _analyse(root)
    every, any_, sat = (_finding(found, f"study.{k}") for k in ("every", "any", "only_sat"))
    assert (every["n_supported"], every["n_missing"], every["verdict"]) == (2, 1, "incomplete")
    assert "Verdict: incomplete (1 of its 3 benchmarks has no result (SAT)" in every["text"]
    assert "checked on 2 of 3 benchmarks" in every["text"]
    assert (any_["n_supported"], any_["n_missing"], any_["verdict"]) == (2, 1, "supported")
    assert sat["verdict"] == "incomplete" and "cannot be checked, the needed results are missing" in sat["text"]


def _with_missing_runs(tmp_path, **kwargs):
    root = make_fake_study(tmp_path, skip=[("synthetic_spatial", "sft", 0), ("synthetic_aircraft", "sft", 0)], **kwargs)
    shutil.rmtree(root / "runs" / "synthetic_banner" / "rft")
    _write_json(
        root / "last_invocation.json",
        {
            "ran": [],
            "total_seconds": 50.0,
            "failures": [
                {"run_id": "synthetic_spatial/sft/seed0", "error": "CUDA out of memory <oops>", "notebook": "x"}
            ],
        },
    )
    return root


def test_missing_runs_are_listed_not_fatal(tmp_path):
    root = _with_missing_runs(tmp_path)
    paths = report.build_report(root)
    collected, table, found = _analyse(root)
    status = {(m["benchmark"], m["variant"]): m["status"] for m in collected["missing"]}
    assert status == {
        ("synthetic_spatial", "sft"): "failed",
        ("synthetic_aircraft", "sft"): "unfinished",
        ("synthetic_banner", "rft"): "not started",
    }
    shown = "".join(_html(o) for o in report.missing_view(table, collected))
    assert "no DONE file" in shown and "no run folder" in shown and "CUDA out of memory &lt;oops&gt;" in shown
    assert "**Missing cells** (shown as —): Banner-Analysis / RFT / w/o think" in shown
    shown = report.table1_view(table, collected).to_html()
    assert ">—<" in shown and "(n = 200; chance 50%" in shown  # n stays a count beside missing cells
    f = _finding(found, "think.sft.synthetic_spatial")
    assert f["difference"] is None and "cannot be compared" in f["text"]
    m = json.loads(paths["metrics"].read_text())
    assert len(m["missing"]) == 3 and len(m["missing_cells"]) == 6
    claim = _finding(found, "paper.rft_beats_sft_with_think")
    assert claim["n_checked"] == 0 and claim["n_missing"] == 3 and claim["verdict"] == "incomplete"
    assert "cannot be checked, the needed results are missing" in claim["text"]
    claim = _finding(found, "paper.think_hurts_sft")
    assert claim["n_checked"] == 1 and "checked on 1 of 3 benchmarks" in claim["text"]
    # two benchmarks missing: a claim about every benchmark is incomplete, whatever the third says
    assert claim["n_supported"] == 1 and claim["n_missing"] == 2 and claim["verdict"] == "incomplete"
    assert "2 of its 3 benchmarks have no result (FGVC-Aircraft; SAT)" in claim["text"]


def test_empty_study_still_renders(tmp_path):
    root = tmp_path / "empty"
    root.mkdir()
    (root / "study.yaml").write_text(
        yaml.safe_dump({"name": "empty", "seeds": [0], "benchmarks": {"sat": {"label": "SAT"}}})
    )
    page = render_report(root).read_text()
    assert _heading(page, 3, "Missing runs") and "no run folder" in page and "0 of 3" in page
    assert "No benchmark has finished RFT runs both with and without the length reward" in page
    assert "study.yaml has no reference numbers" in page and ">not resolved<" in page
    assert page.count("plotly.js v") == 1
    _no_network(page)
    found = {f["id"]: f for f in json.loads((root / "metrics.json").read_text())["findings"] if f["group"] == "paper"}
    assert all(f["n_checked"] == 0 for f in found.values())
    # no run finished: the thinking claims lack all three cells' results; SAT runs no RFT + length reward
    # and no perception benchmark, so the length-reward claims have nothing to check
    assert (
        found["paper.think_helps_rft"]["verdict"] == "incomplete" and found["paper.think_helps_rft"]["n_missing"] == 1
    )
    assert found["paper.length_reward_helps_reasoning"]["verdict"] == "not_resolved"
    assert found["paper.length_reward_helps_reasoning"]["n_expected"] == 0
    assert "the study runs none of the comparisons it needs" in found["paper.length_reward_hurts_perception"]["text"]


def test_multiple_seeds_aggregate(tmp_path):
    root = make_fake_study(tmp_path, seeds=(0, 1, 2), seed_offsets={0: -2.0, 1: 0.0, 2: 2.0})
    collected, table, _ = _analyse(root)
    row = table[(table.benchmark == "synthetic_banner") & (table.method == "rft") & (table["mode"] == "think")].iloc[0]
    assert row["n_seeds"] == 3 and row["seeds"] == "0 1 2"
    assert row["accuracy"] == pytest.approx(85.0) and row["accuracy_std"] == pytest.approx(2.0)
    # mean ± t(2) · sd / sqrt(3) = 85 ± 4.303 · 2 / sqrt(3): wider than the pooled Wilson interval
    assert row["ci_low"] == pytest.approx(85 - 4.303 * 2 / 3**0.5) and row["ci_high"] == pytest.approx(
        85 + 4.969, abs=1e-3
    )
    shown = report.table1_view(table, collected).to_html()
    assert "85.00 ± 2.00\n[80.03, 89.97] · 3 seeds" in shown
    f = _finding(report.findings(table, collected), "think.rft.synthetic_banner")
    assert f["comparison"]["n"] == 600 and "3 seeds" in f["text"] and f["verdict"] == "supported"
    assert "seeds 0, 1, 2" in _html(report.summary_markdown(collected))
    assert set(json.loads(report.build_report(root)["metrics"].read_text())["study"]["seeds"]) == {0, 1, 2}


def test_missing_study_yaml_raises(tmp_path):
    with pytest.raises(VrftError, match="study.yaml.*vrft report"):
        report.build_report(tmp_path)
    assert vrft_main(["report", str(tmp_path)]) == 2


def test_vrft_report_renders_a_real_data_study(tmp_path, capsys):
    root = _with_missing_runs(tmp_path, synthetic=False)
    assert vrft_main(["report", str(root)]) == 0
    assert capsys.readouterr().out.strip().endswith("report.html")
    page = (root / "report.html").read_text()
    assert (root / "table1.csv").is_file() and (root / "metrics.json").is_file() and (root / "report.ipynb").is_file()
    assert ">Paper<" in page and "different model and data" not in page and "The data are the real benchmarks" in page
    assert _heading(page, 3, "Missing runs") and "no DONE file" in page and "CUDA out of memory &lt;oops&gt;" in page
    assert ">—<" in page and "8 of 11" in page and "cannot be compared" in page
    assert "The last invocation of the study ran 0 run(s)" in page
    _no_network(page)


def test_figure1_examples_and_images(tmp_path):
    root = make_fake_study(tmp_path)
    _add_example_image(root)
    fig1 = report.figure1_examples(report.collect_study(root), lookup_inputs=False)
    assert fig1["benchmark"] == "synthetic_spatial"
    ids = [e["id"] for e in fig1["examples"]]
    # rft is right on even ids, rft_length on multiples of 3: ids 2, 3, 4 disagree; the first two come
    # first, then the rest in id order
    assert ids == [
        "synthetic_spatial-test-000002",
        "synthetic_spatial-test-000003",
        "synthetic_spatial-test-000000",
        "synthetic_spatial-test-000001",
    ]
    first = fig1["examples"][0]
    assert first["image_b64"] and first["rft"]["correct"] is True and first["rft_length"]["correct"] is False
    assert fig1["examples"][1]["image_b64"] is None
    shown = report.figure1_display(fig1)
    images = [o for o in shown if isinstance(o, Image)]
    assert len(images) == 1 and images[0].data.startswith(b"\x89PNG")
    tables = [o.to_html() for o in shown if not isinstance(o, (Image, Markdown))]
    assert len(tables) == 4 and all("RFT + length reward" in t and "response" in t for t in tables)
    assert "(not recorded with the predictions)" in "".join(o.data for o in shown if isinstance(o, Markdown))


def test_task_kind_fallback_by_label(tmp_path):
    root = make_fake_study(tmp_path)
    study = yaml.safe_load((root / "study.yaml").read_text())
    for spec in study["benchmarks"].values():
        spec.pop("task_kind")
    (root / "study.yaml").write_text(yaml.safe_dump(study))
    _, table, found = _analyse(root)
    kinds = dict(zip(table.benchmark, table.task_kind))
    assert kinds == {"synthetic_banner": "binary", "synthetic_aircraft": "perception", "synthetic_spatial": "reasoning"}
    assert _finding(found, "paper.length_reward_helps_reasoning")["verdict"] == "supported"


def test_figure1_looks_up_synthetic_questions(tmp_path):
    root = make_fake_study(tmp_path)
    _add_eval_configs(root)
    fig1 = report.figure1_examples(report.collect_study(root))
    ex = fig1["examples"][0]
    assert ex["question"].endswith("?") and ex["choices"] and ex["image_b64"]
    shown = "".join(_html(o) for o in report.figure1_display(fig1) if not isinstance(o, Image))
    assert "(not recorded with the predictions)" not in shown and "**Choices:** **A.**" in shown


def test_study_text_is_escaped_in_every_view(tmp_path):
    root = make_fake_study(tmp_path)
    study = yaml.safe_load((root / "study.yaml").read_text())
    study["benchmarks"]["synthetic_spatial"]["label"] = "<b>SAT</b>"
    study["name"] = "fake *study* <i>"
    (root / "study.yaml").write_text(yaml.safe_dump(study))
    collected, table, found = _analyse(root)
    assert (
        "&lt;b&gt;SAT&lt;/b&gt; (n = 200; chance 50%; majority 100%)" in report.table1_view(table, collected).to_html()
    )
    assert "**fake \\*study\\* &lt;i&gt;**" in _html(report.summary_markdown(collected))
    assert "&lt;b&gt;SAT&lt;/b&gt;" in _html(report.findings_markdown(found))
    assert "<b>" not in _html(report.claims_view(found)) and "<b>" not in _html(report.length_table(table, collected))

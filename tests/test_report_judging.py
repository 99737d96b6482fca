"""What a reader needs to judge a Table 1 cell: format compliance, the chance level, a collapse flag,
the caveat in every finding that uses such a cell, and the summary at the top (fake study folders)."""

import json

from test_report import make_fake_study

from vrft_lib import report
from vrft_lib.report.findings import cell


def _flag(root, key, variant, mode, top="A", share=0.95, format_rate=None):
    path = root / "runs" / key / variant / "seed0" / "eval" / "metrics.json"
    m = json.loads(path.read_text())
    m["modes"][mode]["answers"] = {"top": top, "top_share": share, "collapsed": share >= 0.5, "entropy_bits": 0.3}
    if format_rate is not None:
        m["modes"][mode]["format_rate"] = format_rate
    path.write_text(json.dumps(m))


def test_cells_carry_format_chance_and_collapse_and_findings_say_so(tmp_path):
    root = make_fake_study(tmp_path, n=40)
    _flag(root, "synthetic_spatial", "sft", "think", top="B", share=0.9, format_rate=0.0)
    collected = report.collect_study(root)
    table = report.table1(collected)
    c = cell(table, "synthetic_spatial", "sft", "think")
    assert c["collapsed"] and c["top_answer"] == "B" and c["top_share"] == 90.0 and c["format_rate"] == 0.0
    assert c["chance"] == 50.0  # binary task in the fake metrics, no choices recorded
    assert not cell(table, "synthetic_spatial", "rft", "think")["collapsed"]
    html = report.table1_view(table, collected).to_html()
    assert "format 0%" in html and "⚠ collapsed: &#39;B&#39; 90%" in html and "chance 50%" in html
    found = report.findings(table, collected, collected["study"])
    f = next(x for x in found if x["id"] == "think.sft.synthetic_spatial")
    assert "Caveat: SFT w/ think collapsed onto one answer ('B' for 90% of the items)" in f["text"]
    assert "answered in the required format for 0% of the items, so its accuracy measures a format failure" in f["text"]
    clean = next(x for x in found if x["id"] == "think.rft.synthetic_spatial")
    assert "Caveat" not in clean["text"] and not clean["caveats"]
    claim = next(x for x in found if x["id"] == "paper.think_hurts_sft")
    assert "1 of these compare a model that collapsed onto one answer or missed the format" in claim["text"]
    summary = report.key_findings(table, collected, found).data
    assert "**Judge with care**" in summary and "SAT / SFT w/ think" in summary
    assert "**The paper's 6 claims on these numbers:**" in summary and "**Best cell per benchmark:**" in summary


def test_a_study_without_flags_has_no_caveats(tmp_path):
    root = make_fake_study(tmp_path, n=40)
    collected = report.collect_study(root)
    table = report.table1(collected)
    found = report.findings(table, collected, collected["study"])
    assert not any(f.get("caveats") for f in found)
    assert "Judge with care" not in report.key_findings(table, collected, found).data
    assert "; seed 0. Each benchmark" in report.summary_markdown(collected).data

"""scripts/browser_check.py without a browser (``make test-browser`` opens the page in Chromium): the
hostile study it renders holds markup in every text, one failed and one unreadable run, and its
verdicts fail a page where a script ran, a figure did not draw or the browser reported an error."""

import importlib.util
from pathlib import Path

from vrft_lib.report import collect_study

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "browser_check.py"
PASSING = {"pwned": 0, "handlers": 0, "js_links": 0, "iframes": 0, "figures": 5, "drawn": 5}
PASSING |= {"tick_markup": True, "text_markup": True, "title": "hostile <img src=x>: study report"}


def _script():
    spec = importlib.util.spec_from_file_location("browser_check", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_the_hostile_study_carries_markup_everywhere(tmp_path):
    bc = _script()
    collected = collect_study(bc.hostile_study(tmp_path / bc.FOLDER))
    status = {(r["benchmark"], r["variant"]): r["status"] for r in collected["runs"]}
    assert (
        status.pop(("synthetic_banner", "rft")) == "failed" and status.pop(("synthetic_banner", "sft")) == "unreadable"
    )
    assert set(status.values()) == {"finished"}
    assert "<script>" in collected["name"] and all(
        "<b>bold</b>" in b["label"] for b in collected["benchmarks"].values()
    )
    unreadable = next(r for r in collected["runs"] if r["status"] == "unreadable")
    assert "mode '<img src=x onerror=" in unreadable["reason"]


def test_verdicts_fail_what_the_browser_saw():
    bc = _script()
    assert bc.verdicts(PASSING, [], 5, hostile=True) == []
    assert bc.verdicts(PASSING | {"pwned": 2}, [], 5, hostile=True) == ["an injected script ran 2 time(s)"]
    assert "4 of 5 figures drew" in bc.verdicts(PASSING | {"drawn": 4}, [], 5, hostile=True)[0]
    assert "the notebook shows 6" in bc.verdicts(PASSING, [], 6, hostile=True)[0]
    assert bc.verdicts(PASSING | {"tick_markup": False}, [], 5, hostile=False) == []
    assert "does not show as written" in bc.verdicts(PASSING | {"tick_markup": False}, [], 5, hostile=True)[0]
    events = [
        {"method": "Runtime.exceptionThrown", "params": {"exceptionDetails": {"exception": {"description": "E"}}}},
        {"method": "Runtime.consoleAPICalled", "params": {"type": "error", "args": [{"value": "boom"}]}},
        {"method": "Runtime.consoleAPICalled", "params": {"type": "log", "args": [{"value": "fine"}]}},
        {"method": "Log.entryAdded", "params": {"entry": {"level": "error", "source": "network", "text": "404"}}},
    ]
    assert bc.problems_of(events) == ["uncaught exception: E", "console.error: boom", "console error (network): 404"]

"""The command line's conventions: --version, help on every option, --debug anywhere, --json only
where it means something, an --only that matches nothing, vrft data's split size, and the result
printed at the end of a study. Nothing here loads a model."""

from __future__ import annotations

import json

import pytest

from vrft_lib import __version__
from vrft_lib.cli import build_parser, main
from vrft_lib.report.console import console_summary


def test_version(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"vrft {__version__} (Python 3.") and "trl " in out


def _subparsers(parser):
    return next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction").choices


@pytest.mark.parametrize("command", ["study", "report", "train", "evaluate", "data", "tiny-base"])
def test_every_option_has_help(command):
    sub = _subparsers(build_parser())[command]
    lacking = [a.dest for a in sub._actions if a.dest != "help" and not a.help]
    assert not lacking, f"vrft {command}: options without help text: {lacking}"


@pytest.mark.parametrize("argv", [["--debug", "data", "nope"], ["data", "nope", "--debug"]])
def test_debug_before_or_after_the_sub_command(argv):
    ns = build_parser().parse_args(argv)
    assert ns.debug is True
    with pytest.raises(Exception, match="nope"):  # --debug: the error is raised, with its traceback
        main(argv)


def test_without_debug_an_error_is_a_message_and_exit_2(capsys):
    assert main(["data", "nope"]) == 2
    assert "nope" in capsys.readouterr().err


def test_json_without_dry_run_or_status_is_refused_before_any_work(tmp_path, capsys):
    assert main(["study", "smoke", "--json", "--out", str(tmp_path / "o")]) == 2
    assert "--json prints the plan of --dry-run or the table of --status" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_status_json(tmp_path, capsys):
    assert main(["study", "smoke", "--status", "--json", "--out", str(tmp_path / "o")]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[-1]["run_id"] == "report" and all(r["state"] == "not submitted" for r in rows)


def test_dry_run_only_matching_nothing_is_an_error_listing_the_runs(tmp_path, capsys):
    assert main(["study", "smoke", "--dry-run", "--only", "nothing*", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "--only 'nothing*' matches no run of study 'smoke'" in err
    assert "synthetic_banner/rft/seed0" in err and "synthetic_count/rft_length/seed0" in err


def test_data_reports_the_split_size_not_the_limit(capsys):
    assert main(["data", "synthetic_banner", "--split", "val", "--show", "1"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("synthetic_banner/val: 200 rows, task binary")
    assert main(["data", "synthetic_banner", "--split", "val", "--limit", "5", "--show", "0"]) == 0
    assert "5 rows loaded (--limit 5" in capsys.readouterr().out


def test_console_summary_prints_table1_and_the_claims(tmp_path):
    rows = [
        {
            "benchmark": "b",
            "label": "SAT",
            "method": m,
            "mode": mode,
            "accuracy": acc,
            "format_rate": 100.0,
            "chance": 33.3,
            "collapsed": m == "sft",
        }
        for (m, mode), acc in {("training_free", "no_think"): 40.0, ("sft", "think"): 33.0}.items()
    ]
    claims = [
        {"group": "paper", "paper_claim": "thinking helps RFT", "verdict": "not_resolved"},
        {"group": "study", "claim": "SFT beats training-free", "verdict": "incomplete"},
    ]
    (tmp_path / "metrics.json").write_text(json.dumps({"table1": rows, "findings": claims}))
    text = console_summary(tmp_path)
    lines = text.splitlines()
    assert lines[1].split() == [
        "benchmark",
        "chance",
        "training-free",
        "w/o",
        "training-free",
        "w/",
        "SFT",
        "w/o",
        "SFT",
        "w/",
    ]
    assert lines[2].split() == ["SAT", "33", "40.0", "(100)", "—", "—", "33.0", "(100)!"]
    assert "not resolved  thinking helps RFT" in text
    assert text.endswith("This study's own claims:\n  incomplete    SFT beats training-free")
    assert console_summary(tmp_path / "nothing") == ""


def test_tiny_base_seed_builds_another_draw_of_the_same_recipe(monkeypatch, tmp_path, capsys):
    from vrft_lib import tiny
    from vrft_lib.tiny.base import RECIPE, recipe_key

    monkeypatch.setenv("VRFT_CACHE", str(tmp_path / "cache"))
    asked = []
    monkeypatch.setattr(tiny, "ensure_tiny_base", lambda recipe=None, force=False: asked.append(recipe) or "path")
    assert main(["tiny-base", "--seed", "2"]) == 0
    assert asked == [{**RECIPE, "seed": 2}] and capsys.readouterr().out.strip() == "path"
    assert recipe_key(asked[0]) != recipe_key()  # cached apart from the default base
    assert main(["tiny-base"]) == 0 and asked[-1] is None  # the default recipe
    assert main(["tiny-base", "--seed", "-1"]) == 2
    assert "--seed -1" in capsys.readouterr().err and len(asked) == 2

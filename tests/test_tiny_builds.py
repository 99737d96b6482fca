"""Which build of the tiny base a model name asks for: ``tiny`` (the default build), ``tiny:<k>`` (its
recipe built with seed k) and, in a study file, ``tiny:seed`` (each study seed on its own build).
Unit-level: the builds are recorded, not made."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import yaml

from vrft_lib import cli
from vrft_lib.errors import ConfigError
from vrft_lib.plan.spec import expand_study, load_study
from vrft_lib.study import runner
from vrft_lib.study.preflight import validate_run
from vrft_lib.tiny import resolve
from vrft_lib.tiny.base import RECIPE, recipe_key

STUDY = {
    "name": "builds",
    "model": "tiny:seed",
    "seeds": [0, 2],
    "benchmarks": {"synthetic_banner": {"data": {"name": "synthetic_banner", "eval_limit": 4}}},
    "variants": ["training_free"],
}


def _study(tmp_path, **extra) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({**STUDY, **extra}))
    return path


def test_each_study_seed_runs_on_its_own_build(tmp_path):
    runs = expand_study(load_study(_study(tmp_path)), tmp_path / "out")
    assert {(r.seed, r.parameters["run"]["model"]) for r in runs} == {(0, "tiny:0"), (2, "tiny:2")}
    as_mapping = load_study(_study(tmp_path, model={"name_or_path": "tiny:seed", "dtype": "float32"}))
    models = [r.parameters["run"]["model"] for r in expand_study(as_mapping, tmp_path / "out")]
    assert models == [{"name_or_path": "tiny:0", "dtype": "float32"}, {"name_or_path": "tiny:2", "dtype": "float32"}]
    one = expand_study(load_study(_study(tmp_path, model="tiny:3")), tmp_path / "out")
    assert [r.parameters["run"]["model"] for r in one] == ["tiny:3", "tiny:3"]  # one build for every seed


@pytest.mark.parametrize("name", ["tiny:one", "tiny:-1", "tiny:", "tiny:1.5", "tiny:٣", f"tiny:{2**32}"])
def test_a_malformed_build_name_is_refused_when_the_study_is_read(tmp_path, name):
    path = _study(tmp_path, model=name)
    with pytest.raises(ConfigError, match=rf"{path}: model '{name}': a build of the tiny base is named tiny"):
        load_study(path)


def test_tiny_seed_names_no_build_of_its_own_in_a_run():
    run = {"name": "r", "method": "none", "model": "tiny:seed", "data": {"name": "synthetic_banner"}}
    with pytest.raises(ConfigError, match=r"'tiny:seed' puts each seed of a study on its own build"):
        validate_run(run)
    validate_run({**run, "model": "tiny:4"})  # one build: accepted, and nothing is built to check it


def test_a_build_name_resolves_to_the_recipe_built_with_that_seed(monkeypatch, tmp_path):
    monkeypatch.setenv("VRFT_CACHE", str(tmp_path / "cache"))
    asked = []
    monkeypatch.setattr(resolve, "ensure_tiny_base", lambda recipe=None: asked.append(recipe) or "path")
    assert resolve.resolve_model_path("tiny:0") == "path" and resolve.resolve_model_path("tiny") == "path"
    assert asked == [{**RECIPE, "seed": 0}, None]
    assert recipe_key(asked[0]) != recipe_key()  # another draw, cached apart
    assert recipe_key({**RECIPE, "seed": RECIPE["seed"]}) == recipe_key()  # tiny:<the recipe's seed> is tiny


def test_a_changed_stand_in_question_is_a_new_base(monkeypatch):
    # The tokenizer is trained on the stand-ins' texts: a cached base built before a question changed
    # would hold another tokenizer than a fresh build, so the question is part of the cache key.
    from vrft_lib.data import synthetic
    from vrft_lib.tiny import base

    base.corpus_digest.cache_clear()
    before = recipe_key()
    monkeypatch.setattr(synthetic, "BANNER_QUESTION", "Is this banner cheerful: positive or negative?")
    base.corpus_digest.cache_clear()
    try:
        assert recipe_key() != before
    finally:
        monkeypatch.undo()
        base.corpus_digest.cache_clear()
    assert recipe_key() == before


def test_the_study_builds_each_named_build_once_before_its_runs(tmp_path, monkeypatch, no_work):
    # no_work lists the runs as they run; the builds go into the same list
    monkeypatch.setattr(runner, "ensure_tiny_build", lambda name: no_work.append(name) or f"/cache/{name}")
    count = {"synthetic_count": {"data": {"name": "synthetic_count", "eval_limit": 4}}}
    path = _study(tmp_path, seeds=[0, 1, 2], benchmarks={**STUDY["benchmarks"], **count})
    stream = io.StringIO()
    runner.run_study(path, tmp_path / "out", stream=stream)
    # each build once, though two benchmarks use each, and all of them before the first run
    assert no_work[:3] == ["tiny:0", "tiny:1", "tiny:2"] and len(no_work) == 3 + 6
    assert all("/" in run_id for run_id in no_work[3:])
    assert "[vrft] tiny instruct base (tiny:2): /cache/tiny:2" in stream.getvalue()
    no_work.clear()
    runner.run_study(path, tmp_path / "out", stream=io.StringIO())
    assert no_work == []  # every run finished: no build is asked for, no run runs


def test_the_cli_names_a_malformed_build_in_one_paragraph(tmp_path, capsys):
    assert cli.main(["study", str(_study(tmp_path, model="tiny:x")), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "model 'tiny:x': a build of the tiny base is named tiny" in err and "Traceback" not in err


def test_a_dry_run_names_each_build_and_whether_it_is_cached(tmp_path, monkeypatch, capsys):
    from vrft_lib.runfolder import write_done
    from vrft_lib.tiny.resolve import tiny_build_state

    monkeypatch.setenv("VRFT_CACHE", str(tmp_path / "cache"))
    built = Path(tiny_build_state("tiny:2")["path"]).parent
    write_done(built)  # build 2 is in the cache, build 0 is not
    assert cli.main(["study", str(_study(tmp_path)), "--out", str(tmp_path / "out"), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "tiny base tiny:0: built first (about 5-6 min on 2 cores)" in out
    assert f"tiny base tiny:2: cached, {built / 'model'}" in out
    assert cli.main(["study", str(_study(tmp_path)), "--out", str(tmp_path / "out"), "--dry-run", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert [(b["name"], b["cached"]) for b in record["tiny_builds"]] == [("tiny:0", False), ("tiny:2", True)]

"""Variants as data: the paper's four as built-in definitions, a study's own variants (their resolution,
run configs, errors), their records in the run folders and the report, and one reduced study (slow)."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from IPython.display import Markdown
from test_report import make_fake_study

from vrft_lib import report
from vrft_lib.errors import ConfigError
from vrft_lib.plan.spec import expand_study, expected_runs, load_study, resolve_plan, run_config_dict
from vrft_lib.plan.variants import resolve_variants
from vrft_lib.report.variant_views import other_variants
from vrft_lib.rewards import build_rewards
from vrft_lib.study import runner
from vrft_lib.vocab import BUILTIN_VARIANTS, METHOD_OF, NOTEBOOK_OF, VARIANTS

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ("smoke", "paper", "paper_single_gpu", "paper_matched_freeze")


def vrft(*args, timeout=600):
    return subprocess.run(
        [sys.executable, "-m", "vrft_lib.cli", *map(str, args)], capture_output=True, text=True, timeout=timeout
    )


def study_file(tmp_path, base="smoke", name="s.yaml", **changes) -> Path:
    """A copy of a shipped study with top-level ``changes`` (None removes a key)."""
    study = yaml.safe_load((ROOT / "params" / f"{base}.yaml").read_text())
    for k, v in changes.items():
        if v is None:
            study.pop(k, None)
        else:
            study[k] = v
    path = tmp_path / name
    path.write_text(yaml.safe_dump(study, sort_keys=False))
    return path


def plan_of(path, out) -> list[dict]:
    """Every run of a study: id, notebook and run config (what --dry-run --json lists per run)."""
    return [(r.run_id, r.notebook, r.parameters) for r in expand_study(load_study(path), out)]


# ----------------------------------------------------------------------------------------------
# the paper's four, as data
# ----------------------------------------------------------------------------------------------


def test_the_builtin_table_is_the_papers_four():
    assert VARIANTS == ("training_free", "sft", "rft", "rft_length")
    assert METHOD_OF == {"training_free": "none", "sft": "sft", "rft": "grpo", "rft_length": "grpo"}
    assert NOTEBOOK_OF == {
        "training_free": "training_free.ipynb",
        "sft": "sft.ipynb",
        "rft": "rft.ipynb",
        "rft_length": "rft.ipynb",
    }
    resolved = resolve_variants(None, "kit")
    assert list(resolved) == list(VARIANTS)
    assert {v: d["defined_by"] for v, d in resolved.items()} == dict.fromkeys(VARIANTS, "kit")
    assert resolved["rft_length"]["base"] == "rft" and resolved["rft_length"]["length_reward"] is True


@pytest.mark.parametrize("base", SHIPPED)
def test_the_builtins_written_out_plan_exactly_what_the_default_plans(tmp_path, base):
    """The default, the list of names, the names in a mapping and the built-in definitions written out
    in the study give the same runs, notebooks and run configs (so the shipped studies are unchanged)."""
    default = plan_of(study_file(tmp_path, base, "a.yaml", variants=None), tmp_path / "o")
    written_out = {name: dict(d) for name, d in BUILTIN_VARIANTS.items()}
    for variants in (list(VARIANTS), dict.fromkeys(VARIANTS), written_out):
        assert plan_of(study_file(tmp_path, base, "b.yaml", variants=variants), tmp_path / "o") == default


def test_smoke_run_configs_are_the_studys_sections_for_each_method(tmp_path):
    """What run_config_dict built before variants were data: the study's rft or sft section over the run
    defaults, the length reward appended for rft_length, nothing for training-free."""
    study = load_study(ROOT / "params" / "smoke.yaml")
    raw = yaml.safe_load((ROOT / "params" / "smoke.yaml").read_text())
    rft = run_config_dict(study, "synthetic_count", "rft", 0)
    assert rft["trainer"] == raw["rft"]["trainer"] and rft["rewards"] == raw["rft"]["rewards"]
    length = run_config_dict(study, "synthetic_count", "rft_length", 0)
    assert length["rewards"] == raw["rft"]["rewards"] + [raw["length_reward"]]
    sft = run_config_dict(study, "synthetic_count", "sft", 0)
    assert sft["train_mode"] == "no_think" and sft["replay"] == 0.5 and sft["trainer"] == raw["sft"]["trainer"]
    free = run_config_dict(study, "synthetic_count", "training_free", 0)
    assert free["method"] == "none" and "trainer" not in free and "rewards" not in free
    runs = expand_study(study, tmp_path)
    assert [r.to_dict().keys() for r in runs][0] == {
        "run_id",
        "benchmark",
        "variant",
        "seed",
        "notebook",
        "run_dir",
        "parameters",
        "status",
    }
    assert all(r.definition["name"] == r.variant and r.definition["defined_by"] == "kit" for r in runs)


def test_dry_run_json_lists_each_variants_definition_once_beside_the_runs(tmp_path):
    proc = vrft("study", ROOT / "params" / "extend.yaml", "--out", tmp_path / "o", "--dry-run", "--json")
    assert proc.returncode == 0, proc.stderr
    plan = json.loads(proc.stdout)
    assert list(plan["variants"]) == [
        "training_free",
        "sft",
        "rft",
        "rft_length",
        "rft_no_think",
        "rft_length_response",
        "rft_frozen_vision",
        "sft_think",
    ]
    assert all("definition" not in r for r in plan["runs"])
    text = vrft("study", ROOT / "params" / "extend.yaml", "--out", tmp_path / "o", "--dry-run").stdout
    assert "variant rft_no_think ('RFT trained w/o think'): grpo, base rft, train_mode: no_think" in text
    assert "variant training_free" not in text  # the kit's own are not repeated


# ----------------------------------------------------------------------------------------------
# a study's own variants
# ----------------------------------------------------------------------------------------------


def test_the_shipped_example_resolves_each_variant_into_its_run_config(tmp_path):
    runs = {r.variant: r for r in expand_study(load_study(ROOT / "params" / "extend.yaml"), tmp_path)}
    assert {v: r.notebook for v, r in runs.items()} == {
        "training_free": "training_free.ipynb",
        "sft": "sft.ipynb",
        "rft": "rft.ipynb",
        "rft_length": "rft.ipynb",
        "rft_no_think": "rft.ipynb",
        "rft_length_response": "rft.ipynb",
        "rft_frozen_vision": "rft.ipynb",
        "sft_think": "sft.ipynb",
    }
    cfg = {v: r.parameters["run"] for v, r in runs.items()}
    assert cfg["rft_no_think"]["train_mode"] == "no_think" and cfg["rft"]["train_mode"] == "think"
    assert cfg["rft_no_think"]["rewards"] == cfg["rft"]["rewards"]
    assert cfg["rft_length"]["rewards"][-1]["scope"] == "think"
    length = cfg["rft_length_response"]["rewards"][-1]
    assert length == {**cfg["rft_length"]["rewards"][-1], "scope": "response", "target_length": 64}
    assert cfg["rft_frozen_vision"]["freeze_vision"] and cfg["rft_frozen_vision"]["freeze_projector"]
    assert "freeze_vision" not in cfg["rft"]
    assert cfg["sft_think"]["train_mode"] == "think" and cfg["sft"]["train_mode"] == "no_think"
    assert cfg["sft_think"]["replay"] == cfg["sft"]["replay"]
    d = runs["rft_length_response"].definition
    assert (d["method"], d["base"], d["defined_by"], d["label"]) == (
        "grpo",
        "rft_length",
        "study",
        "RFT + length reward (whole response)",
    )
    assert resolve_plan(list(runs.values()))  # every run config and its TRL arguments check out


def test_the_length_reward_on_the_whole_response_counts_what_the_think_scope_does_not(tmp_path):
    runs = {r.variant: r for r in expand_study(load_study(ROOT / "params" / "extend.yaml"), tmp_path)}

    class Words:
        def encode(self, text, add_special_tokens=False):
            return text.split()

    (think,), _ = build_rewards(runs["rft_length"].parameters["run"]["rewards"][-1:], tokenizer=Words())
    (whole,), _ = build_rewards(runs["rft_length_response"].parameters["run"]["rewards"][-1:], tokenizer=Words())
    long_answer = "<think>a b</think><answer>" + "word " * 60 + "</answer>"
    short_answer = "<think>a b</think><answer>word</answer>"
    assert think([long_answer]) == think([short_answer])  # the think part is the same
    assert whole([long_answer])[0] > whole([short_answer])[0]  # the response is longer
    assert whole([long_answer], completion_ids=[list(range(64))]) == [0.5]  # tokens: the generated ids, L0 = 64


def test_inheritance_merges_trainer_and_length_reward_and_follows_a_redefined_builtin(tmp_path):
    variants = {
        "rft": {"trainer": {"learning_rate": 1.0e-4}},  # the study's own rft: rft_length follows it
        "rft_length": None,
        "a": {"base": "rft", "trainer": {"max_steps": 7}, "length_reward": {"target_length": 16}},
        "b": {"base": "a", "label": "B", "length_reward": {"scope": "response"}, "benchmarks": ["synthetic_count"]},
    }
    study = load_study(study_file(tmp_path, variants=variants))
    d = study["_variants"]
    assert d["b"]["trainer"] == {"learning_rate": 1.0e-4, "max_steps": 7}
    assert d["b"]["length_reward"] == {"target_length": 16, "scope": "response"}
    assert d["rft_length"]["trainer"] == {"learning_rate": 1.0e-4} and d["rft_length"]["defined_by"] == "study"
    assert (d["a"]["label"], d["b"]["label"]) == ("a", "B")
    run = run_config_dict(study, "synthetic_count", "b", 0)
    assert run["trainer"]["max_steps"] == 7 and run["trainer"]["learning_rate"] == 1.0e-4
    assert run["trainer"]["per_device_train_batch_size"] == 32  # the study's rft section below it
    assert run["rewards"][-1] == {**study["length_reward"], "target_length": 16, "scope": "response"}
    # a and b add the length reward: a where a benchmark sets length_reward (not the banner); b where it says
    ids = {f"{k}/{v}" for k, v, _ in expected_runs(study)}
    assert "synthetic_aircraft/a" in ids and "synthetic_banner/a" not in ids
    assert {i for i in ids if i.endswith("/b")} == {"synthetic_count/b"}


def test_a_builtin_named_in_a_mapping_keeps_its_definition_and_its_place(tmp_path):
    study = load_study(study_file(tmp_path, variants={"sft": None, "mine": {"method": "sft", "train_mode": "think"}}))
    assert [v for _, v, _ in expected_runs(study)][:2] == ["sft", "mine"]
    assert study["_variants"]["sft"]["defined_by"] == "kit"
    assert run_config_dict(study, "synthetic_banner", "mine", 0)["train_mode"] == "think"
    assert yaml.safe_load(study_file(tmp_path).read_text()).get("variants") is None  # smoke: the default


# ----------------------------------------------------------------------------------------------
# refusals
# ----------------------------------------------------------------------------------------------

BAD = [
    (["sft", "sft"], r"variants: 'sft' is listed twice; list each variant once"),
    ([], r"variants: no variant is named, so the study would run nothing"),
    ({}, r"variants: no variant is named"),
    (["rft", "ppo"], r"unknown variant 'ppo'"),
    (
        {"mine": {"base": "rft", "train_mod": "no_think"}},
        r"variants\.mine: unknown key 'train_mod' \(did you mean 'train_mode'",
    ),
    ({"mine": {"base": "rtf"}}, r"variants\.mine\.base: unknown variant 'rtf' \(did you mean 'rft'\?\)"),
    ({"a": {"base": "b"}, "b": {"base": "a"}}, r"variants\.a\.base: the bases form a cycle \(a -> b -> a\)"),
    ({"a": {"base": "a"}}, r"the bases form a cycle \(a -> a\)"),
    (
        {"sft": {"method": "grpo"}},
        r"variants\.sft: 'sft' is a built-in variant trained by sft, and this study gives it",
    ),
    ({"rft_length": {"method": "sft"}}, r"'rft_length' is a built-in variant trained by grpo"),
    (
        {"rft": {"base": "sft"}},
        r"variants\.rft: 'rft' is a built-in variant trained by grpo, and this study gives it the method sft",
    ),
    (
        {"mine": {"base": "rft", "method": "sft"}},
        r"variants\.mine\.method: 'sft' differs from the method of its base 'rft'",
    ),
    ({"mine": {"label": "x"}}, r"variants\.mine: give its method \(method: none \| sft \| grpo\) or the variant"),
    ({"mine": None}, r"variants\.mine: no definition, and 'mine' is not a built-in variant"),
    ({"mine": {"method": "ppo"}}, r"variants\.mine\.method: unknown method 'ppo'"),
    ({"mine": {"base": "sft", "rewards": [{"name": "accuracy"}]}}, r"variants\.mine\.rewards: only an RFT variant"),
    (
        {"mine": {"base": "training_free", "train_mode": "think"}},
        r"variants\.mine\.train_mode: a training-free variant",
    ),
    ({"mine": {"base": "rft", "train_mode": "thinking"}}, r"variants\.mine\.train_mode: unknown mode 'thinking'"),
    ({"mine": {"base": "rft", "rewards": []}}, r"variants\.mine\.rewards: the list is empty"),
    (
        {"mine": {"base": "rft", "rewards": [{"name": "acuracy"}]}},
        r"variants\.mine\.rewards: rewards\[0\]: unknown reward 'acuracy'",
    ),
    (
        {"mine": {"base": "rft_length", "length_reward": {"scope": "answer"}}},
        r"variants\.mine\.length_reward: .*unknown scope 'answer'",
    ),
    (
        {"mine": {"base": "rft", "length_reward": {"name": "format"}}},
        r"variants\.mine\.length_reward\.name: 'format' is not",
    ),
    (
        {"mine": {"base": "rft", "trainer": {"max_stpes": 3}}},
        r"variants\.mine\.trainer: unknown GRPOConfig field 'max_stpes'",
    ),
    (
        {"mine": {"base": "sft", "trainer": {"learning_rate": "fast"}}},
        r"variants\.mine\.trainer\.learning_rate: expected a number",
    ),
    ({"mine": {"base": "rft", "freeze_vision": "yes"}}, r"variants\.mine\.freeze_vision: expected true or false"),
    (
        {"mine": {"base": "rft", "benchmarks": ["sat"]}},
        r"variants\.mine\.benchmarks: 'sat' is not a benchmark of this study",
    ),
    ({"mine": {"base": "rft", "benchmarks": []}}, r"variants\.mine\.benchmarks: the list is empty"),
    (
        {"mine": {"base": "rft", "label": "RFT"}, "rft": None},
        r"variants\.rft\.label: 'RFT' is also the label of variant 'mine'",
    ),
    ({"../up": {"base": "rft"}}, r"variants: '\.\./up' is not a folder name"),
    ({"mine": "rft"}, r"variants\.mine: expected a mapping"),
]


@pytest.mark.parametrize("variants, match", BAD)
def test_bad_variants_are_refused_naming_the_field_and_the_fix(tmp_path, variants, match):
    path = study_file(tmp_path, variants=variants)
    with pytest.raises(ConfigError, match=match) as e:
        load_study(path)
    assert str(e.value).startswith(str(path))


def test_a_length_variant_that_runs_on_no_benchmark_is_refused(tmp_path):
    study = yaml.safe_load((ROOT / "params" / "smoke.yaml").read_text())
    for b in study["benchmarks"].values():
        b.pop("length_reward", None)
    study["variants"] = {"rft": None, "rft_response": {"base": "rft_length", "length_reward": {"scope": "response"}}}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(study))
    with pytest.raises(ConfigError, match=r"variants\.rft_response: it runs on no benchmark"):
        load_study(path)


def test_a_variant_adding_the_studys_length_reward_needs_one(tmp_path):
    path = study_file(tmp_path, length_reward=None, variants={"mine": {"base": "rft", "length_reward": True}})
    with pytest.raises(ConfigError, match=r"variant 'mine' adds the length reward, but the study has no top-level"):
        expand_study(load_study(path), tmp_path / "o")
    own = study_file(
        tmp_path, length_reward=None, variants={"mine": {"base": "rft", "length_reward": {"scope": "response"}}}
    )
    run = run_config_dict(load_study(own), "synthetic_count", "mine", 0)
    assert run["rewards"][-1] == {"name": "length", "scope": "response"}  # the reward's own defaults otherwise


@pytest.mark.parametrize(
    "changes, match",
    [
        (
            {"evaluation": {"modes": []}},
            r"s\.yaml: evaluation\.modes: the list is empty, so no model would be evaluated",
        ),
        ({"evaluation": {"modes": ["think", "think"]}}, r"evaluation\.modes: 'think' is listed twice"),
        ({"rft": {"rewards": []}}, r"rft\.rewards: expected a non-empty list"),
    ],
)
def test_empty_or_repeated_lists_that_must_hold_something_are_refused(tmp_path, changes, match):
    path = study_file(tmp_path, **changes)
    with pytest.raises(ConfigError, match=match):
        load_study(path)
    proc = vrft("study", path, "--dry-run")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


def test_a_benchmarks_empty_modes_and_a_run_configs_empty_lists_are_refused(tmp_path):
    study = yaml.safe_load((ROOT / "params" / "smoke.yaml").read_text())
    study["benchmarks"]["synthetic_banner"]["evaluation"] = {"modes": []}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(study))
    with pytest.raises(ConfigError, match=r"benchmarks\.synthetic_banner\.evaluation\.modes: the list is empty"):
        load_study(path)
    from vrft_lib.config import load_eval_config, load_run_config

    with pytest.raises(ConfigError, match=r"eval config\.modes: the list is empty"):
        load_eval_config({"modes": []})
    with pytest.raises(ConfigError, match=r"run config\.rewards: the list is empty"):
        load_run_config({"method": "grpo", "rewards": []})
    study["benchmarks"]["synthetic_banner"]["evaluation"] = None
    study["benchmarks"]["synthetic_banner"]["rft"] = {"rewards": []}  # reaches the run config
    path.write_text(yaml.safe_dump(study))
    proc = vrft("study", path, "--dry-run")
    assert proc.returncode == 2 and "run synthetic_banner/rft/seed0" in proc.stderr
    assert "rewards: the list is empty" in proc.stderr


# ----------------------------------------------------------------------------------------------
# run folders and the report
# ----------------------------------------------------------------------------------------------


def test_a_run_folder_records_its_variants_definition(tmp_path, monkeypatch):
    run = next(
        r for r in expand_study(load_study(ROOT / "params" / "extend.yaml"), tmp_path) if r.variant == "sft_think"
    )
    monkeypatch.setattr(runner, "_execute_notebook", lambda *a, **k: None)
    runner.execute_run(run)
    d = Path(run.run_dir)
    recorded = yaml.safe_load((d / "variant.yaml").read_text())
    assert recorded == run.definition and recorded["train_mode"] == "think" and recorded["base"] == "sft"
    assert json.loads((d / "DONE").read_text())["variant"] == recorded


def user_variant_study(tmp_path) -> Path:
    """The report tests' fake study with two variants of its own: copies of RFT's and SFT's run folders."""
    root = make_fake_study(tmp_path)
    study = yaml.safe_load((root / "study.yaml").read_text())
    study["variants"] = {
        "training_free": None,
        "sft": None,
        "rft": None,
        "rft_length": None,
        "rft_no_think": {"base": "rft", "label": "RFT trained w/o think", "train_mode": "no_think"},
        "sft_think": {"base": "sft", "label": "SFT on think targets", "benchmarks": ["synthetic_spatial"]},
    }
    study["claims"] = [  # a study's own claim may judge its own variants
        {
            "id": "sft_think_beats_training_free",
            "text": "SFT on think targets beats training-free with think",
            "compare": {"a": "sft_think/think", "b": "training_free/think"},
            "benchmarks": ["synthetic_spatial"],
            "sign": "a>b",
        }
    ]
    (root / "study.yaml").write_text(yaml.safe_dump(study, sort_keys=False))
    definitions = resolve_variants(study["variants"], "s")
    for key in ("synthetic_banner", "synthetic_aircraft", "synthetic_spatial"):
        for variant, source in (("rft_no_think", "rft"), ("sft_think", "sft")):
            if variant == "sft_think" and key != "synthetic_spatial":
                continue
            d = root / "runs" / key / variant / "seed0"
            shutil.copytree(root / "runs" / key / source / "seed0", d)
            done = json.loads((d / "DONE").read_text())
            (d / "DONE").write_text(json.dumps({**done, "variant": definitions[variant]}))
    return root


def test_the_report_shows_the_studys_own_variants(tmp_path):
    root = user_variant_study(tmp_path)
    collected = report.collect_study(root)
    assert list(collected["variants"])[-2:] == ["rft_no_think", "sft_think"]
    own = [r for r in collected["runs"] if r["variant"] == "sft_think"]
    assert len(own) == 1 and own[0]["definition"]["label"] == "SFT on think targets"
    table = report.table1(collected)
    assert {"rft_no_think", "sft_think"} <= set(table["method"])
    t1 = report.table1_view(table, collected).to_html()
    assert "RFT trained w/o think" not in t1  # Table 1 keeps the paper's three columns
    t2 = report.table2_view(table, collected).to_html()
    for label in ("RFT + length reward", "RFT trained w/o think", "SFT on think targets"):
        assert label in t2
    bars = report.table2_bars(table, collected)
    assert {t.name for t in bars.data} >= {"RFT trained w/o think w/o think", "SFT on think targets w/ think"}
    assert len({t.marker.color for t in bars.data}) == 3  # one colour per variant
    definitions = report.variants_view(collected).to_html()
    assert "no_think" in definitions and "study" in definitions and "kit" in definitions
    claim = next(f for f in report.findings(table, collected, collected["study"]) if f["group"] == "study")
    assert claim["verdict"] == "supported", claim  # 62 % against 50 % on 200 paired items
    curves = report.training_figures(collected)
    names = {t.name for fig in curves for t in fig.data}
    assert {"RFT trained w/o think", "SFT on think targets"} <= names
    summary = report.summary_markdown(collected).data
    assert "the study's own variants: RFT trained w/o think, SFT on think targets" in summary
    assert "rft_no_think" not in report.runs_view(collected).to_html()  # named by its label
    report.write_outputs(root, lookup_inputs=False)
    metrics = json.loads((root / "metrics.json").read_text())
    assert metrics["variants"]["rft_no_think"]["train_mode"] == "no_think"
    run = next(r for r in metrics["runs"] if r["variant"] == "rft_no_think")
    assert run["done"]["variant"]["base"] == "rft"
    from vrft_lib.report.console import console_summary

    text = console_summary(root)
    assert "Table 2: the study's own variants" in text and "SFT on think targets w/" in text
    assert text.index("RFT+len") < text.index("Table 2")  # the console's Table 1 is as before


def test_a_study_without_variants_of_its_own_has_table2_for_the_length_reward_only(tmp_path):
    root = make_fake_study(tmp_path)
    collected = report.collect_study(root)
    table = report.table1(collected)
    assert other_variants(table, collected) == ["rft_length"]
    t2 = report.table2_view(table, collected).to_html()
    assert "RFT + length reward" in t2 and "Banner-Analysis" not in t2  # no length run on the banner
    assert "own variant" not in report.summary_markdown(collected).data
    only_builtin = make_fake_study(tmp_path / "b")
    study = yaml.safe_load((only_builtin / "study.yaml").read_text())
    study["variants"] = ["training_free", "sft", "rft"]
    (only_builtin / "study.yaml").write_text(yaml.safe_dump(study))
    for d in (only_builtin / "runs").glob("*/rft_length"):
        shutil.rmtree(d)
    collected = report.collect_study(only_builtin)
    view = report.table2_view(report.table1(collected), collected)
    assert isinstance(view, Markdown) and "no variant beside" in view.data


# ----------------------------------------------------------------------------------------------
# one reduced study with two variants of its own (slow)
# ----------------------------------------------------------------------------------------------

REDUCED = """
name: own_variants
description: A reduced study with two variants of its own, for the tests.
synthetic: true
seeds: [0]
model: tiny
benchmarks:
  synthetic_banner:
    label: Banner-Analysis
    task_kind: binary
    data: {name: synthetic_banner, train_limit: 32, eval_limit: 8}
variants:
  rft_no_think: {base: rft, label: RFT trained w/o think, train_mode: no_think}
  sft_think: {base: sft, label: SFT on think targets, train_mode: think}
rft:
  trainer: {max_steps: 2, num_generations: 4, per_device_train_batch_size: 8, gradient_accumulation_steps: 1,
            max_completion_length: 24, learning_rate: 1.0e-4}
sft:
  train_mode: no_think
  trainer: {max_steps: 2, per_device_train_batch_size: 8, gradient_accumulation_steps: 1, learning_rate: 1.0e-4}
evaluation: {modes: [no_think, think], max_new_tokens: 32, batch_size: 16}
run_defaults: {keep_checkpoints: 1, save_steps: 2}
claims:
  - id: rft_no_think_beats_sft_think
    text: RFT trained without think beats SFT on think targets, each without think
    compare: {a: rft_no_think/no_think, b: sft_think/no_think}
    sign: a>b
"""


@pytest.mark.slow
def test_a_reduced_study_runs_two_variants_of_its_own_and_reports_them(tmp_path, tiny_base):
    params, out = tmp_path / "own.yaml", tmp_path / "out"
    params.write_text(REDUCED)
    proc = vrft("study", params, "--out", out, timeout=1200)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for variant, method, mode in (("rft_no_think", "grpo", "no_think"), ("sft_think", "sft", "think")):
        d = out / "runs" / "synthetic_banner" / variant / "seed0"
        definition = yaml.safe_load((d / "variant.yaml").read_text())
        assert definition["method"] == method and definition["defined_by"] == "study"
        assert json.loads((d / "DONE").read_text())["variant"] == definition
        trained = yaml.safe_load((d / "train" / "config.yaml").read_text())
        assert trained["method"] == method and trained["train_mode"] == mode
        assert (d / "eval" / "metrics.json").is_file()
    table = pd.read_csv(out / "table1.csv")
    own = table[table["method"].isin(["rft_no_think", "sft_think"])]
    assert len(own) == 4 and own["accuracy"].notna().all()
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["variants"]["sft_think"]["label"] == "SFT on think targets"
    page = (out / "report.html").read_text()
    assert "Table 2" in page and "RFT trained w/o think" in page and "SFT on think targets" in page
    assert "Table 2: the study's own variants" in proc.stdout and "SFT on think targets w/" in proc.stdout
    # the study's own claim on its own variants, with the paired statistics of its one comparison
    (claim,) = [f for f in metrics["findings"] if f["group"] == "study"]
    assert claim["id"] == "study.rft_no_think_beats_sft_think" and claim["n_expected"] == 1
    (pair,) = claim["comparisons"]
    assert pair["a"] == {"method": "rft_no_think", "mode": "no_think"} and pair["n"] == 8
    assert pair["ci95"] is not None and pair["p_value"] is not None
    assert claim["verdict"] in ("supported", "contradicted", "not_resolved")
    assert "RFT trained without think beats SFT on think targets" in page
    assert "This study's own claims:" in proc.stdout

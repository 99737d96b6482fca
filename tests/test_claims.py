"""Claims as data (vrft_lib.plan.claims): a study's own claims, checked when the study is loaded
(plan/spec.py), and the paper's six, written in the same form. The verdict rule is tested in
test_stats.py, the claims in the report in test_report.py."""

from __future__ import annotations

import copy

import pytest
import yaml
from test_report import USER_CLAIMS

from vrft_lib.errors import ConfigError
from vrft_lib.plan.claims import PAPER, PAPER_CLAIMS_YAML, parse_claims
from vrft_lib.plan.spec import check_same_study, load_study, variant_names

BASE = {
    "name": "c",
    "synthetic": True,
    "seeds": [0],
    "model": "tiny",
    "benchmarks": {
        "synthetic_banner": {"label": "Banner", "task_kind": "binary"},
        "synthetic_count": {"label": "SAT", "task_kind": "reasoning", "length_reward": True},
    },
    "length_reward": {"name": "length", "target_length": 64, "scope": "think"},
}
GOOD = [
    USER_CLAIMS[0],  # the full form: SFT beats training-free without think, on every benchmark
    {
        "id": "length_on_count",
        "text": "the length reward helps counting",
        "compare": {"a": "rft_length/think", "b": "rft/think"},
        "benchmarks": ["synthetic_count"],
        "sign": "+",
        "quantifier": "any",
    },
    {
        "id": "rft_beats_both_sft",
        "text": "RFT w/ think beats SFT in either mode on reasoning",
        "compare": [{"a": "rft/think", "b": "sft/think"}, {"a": "rft/think", "b": "sft/no_think"}],
        "benchmarks": {"task_kind": "reasoning"},
        "sign": 1,
    },
]


def write_study(tmp_path, claims=None, name="s.yaml", **patch):
    study = copy.deepcopy(BASE) | patch
    if claims is not None:
        study["claims"] = claims
    path = tmp_path / name
    path.write_text(yaml.safe_dump(study, sort_keys=False))
    return path


def test_good_claims_load_in_the_full_and_the_compact_form(tmp_path):
    study = load_study(write_study(tmp_path, GOOD))
    assert study["claims"] == GOOD  # kept as written: the report reads them from study.yaml
    claims = parse_claims(study["claims"], "claims", variant_names(study), list(study["benchmarks"]))
    assert [c.id for c in claims] == [
        "study.sft_beats_training_free",
        "study.length_on_count",
        "study.rft_beats_both_sft",
    ]
    every, length, both = claims
    assert every.pairs == ((("sft", "no_think"), ("training_free", "no_think")),) and every.sign == 1
    assert every.benchmarks is None and every.task_kinds is None and every.source == "study"
    assert length.pairs == ((("rft_length", "think"), ("rft", "think")),) and length.quantifier == "any"
    assert length.benchmarks == ("synthetic_count",)
    assert both.quantifier == "every" and both.task_kinds == ("reasoning",) and len(both.pairs) == 2
    assert both.selects("synthetic_count", "reasoning") and not both.selects("synthetic_banner", "binary")


@pytest.mark.parametrize(
    "claim, match",
    [
        (
            {"compare": {"a": "rtf/think", "b": "sft/think"}},
            r"compare\.a\.variant: unknown variant 'rtf' \(did you mean 'rft'",
        ),
        ({"compare": {"a": "rft/thinking", "b": "sft/think"}}, r"compare\.a\.mode: unknown prompt mode 'thinking'"),
        (
            {"compare": {"a": "rft-think", "b": "sft/think"}},
            r"compare\.a: 'rft-think' is not a cell; write it as 'variant/mode'",
        ),
        ({"compare": {"a": "rft/think", "b": "rft/think"}}, r"A and B are the same cell"),
        ({"compare": {"a": "rft/think"}}, r"expected a pair with exactly the keys a and b"),
        ({"compare": []}, r"compare: expected a pair"),
        (
            {"benchmarks": ["synthetic_cont"]},
            r"benchmarks: unknown benchmark 'synthetic_cont' \(did you mean 'synthetic_count'",
        ),
        ({"benchmarks": {"task_kind": "reasonning"}}, r"benchmarks\.task_kind: unknown kind 'reasonning'"),
        ({"benchmarks": "some"}, r"benchmarks: expected 'all', a list of benchmark keys or \{task_kind: KIND\}"),
        ({"sign": "up"}, r"sign: 'up' is not a sign; use a>b"),
        ({"sign": True}, r"sign: True is not a sign"),
        ({"quantifier": "evry"}, r"quantifier: 'evry' is not a quantifier \(did you mean 'every'"),
        ({"text": " "}, r"text: the claim in words is missing"),
        ({"id": "has space"}, r"id: 'has space' is not an id"),
        ({"benchmark": "all"}, r"unknown key 'benchmark' \(did you mean 'benchmarks'"),
        ({"sign": None}, r"'sign' is missing; a claim needs id, text, compare and sign"),
    ],
)
def test_a_bad_claim_is_refused_naming_the_file_the_claim_and_the_field(tmp_path, claim, match):
    raw = {"id": "x", "text": "RFT beats SFT", "compare": {"a": "rft/think", "b": "sft/think"}, "sign": "a>b"} | claim
    raw = {k: v for k, v in raw.items() if v is not None}
    path = write_study(tmp_path, [raw])
    with pytest.raises(ConfigError, match=match) as e:
        load_study(path)
    assert str(path) in str(e.value) and "claims[0]" in str(e.value)


def test_claims_checked_against_the_study(tmp_path):
    # a variant the study does not run
    path = write_study(tmp_path, [GOOD[0]], variants=["training_free", "rft"])
    with pytest.raises(ConfigError, match=r"unknown variant 'sft'.*this study's variants are training_free, rft"):
        load_study(path)
    # a benchmark named that does not run a variant the claim compares
    claim = dict(GOOD[1], benchmarks=["synthetic_banner"])
    with pytest.raises(ConfigError, match=r"benchmark 'synthetic_banner' does not run rft_length \(its length_reward"):
        load_study(write_study(tmp_path, [claim]))
    # no benchmark it selects runs its variants: it could never be checked
    claim = dict(GOOD[1], benchmarks={"task_kind": "binary"})
    with pytest.raises(ConfigError, match=r"no benchmark it selects runs the variants it compares"):
        load_study(write_study(tmp_path, [claim]))
    # ids are unique
    with pytest.raises(ConfigError, match=r"claims\[1\]\.id: the id 'sft_beats_training_free' is given twice"):
        load_study(write_study(tmp_path, [GOOD[0], dict(GOOD[1], id="sft_beats_training_free")]))
    # the list itself
    with pytest.raises(ConfigError, match=r"claims: expected a list"):
        load_study(write_study(tmp_path, {"id": "x"}))


def test_the_papers_claims_are_written_as_a_study_writes_its_own(tmp_path):
    """One form, one code path: the paper's claims, given as a study's claims, read the same."""
    benchmarks = BASE["benchmarks"] | {
        "synthetic_aircraft": {"label": "FGVC", "task_kind": "perception", "length_reward": True}
    }
    study = load_study(write_study(tmp_path, yaml.safe_load(PAPER_CLAIMS_YAML), benchmarks=benchmarks))
    own = parse_claims(study["claims"], "claims", variant_names(study), list(study["benchmarks"]))
    strip = [(c.id.split(".", 1)[1], c.text, c.pairs, c.sign, c.quantifier, c.benchmarks, c.task_kinds) for c in own]
    assert strip == [
        (c.id.split(".", 1)[1], c.text, c.pairs, c.sign, c.quantifier, c.benchmarks, c.task_kinds) for c in PAPER
    ]
    # universal: the claims about thinking and RFT vs SFT; existential: the length reward's on "some" tasks
    assert {c.id: c.quantifier for c in PAPER} == {
        "paper.think_hurts_training_free": "every",
        "paper.think_hurts_sft": "every",
        "paper.think_helps_rft": "every",
        "paper.rft_beats_sft_with_think": "every",
        "paper.length_reward_helps_reasoning": "any",
        "paper.length_reward_hurts_perception": "any",
    }
    assert all(c.source == "paper" for c in PAPER)


def test_claims_alone_do_not_make_a_different_study(tmp_path):
    """Claims change only the report: the output folder of the same study without them is accepted."""
    out = tmp_path / "out"
    out.mkdir()
    before = load_study(write_study(tmp_path, name="before.yaml"))
    (out / "study.yaml").write_text(yaml.safe_dump({k: v for k, v in before.items() if not k.startswith("_")}))
    check_same_study(load_study(write_study(tmp_path, GOOD, name="before.yaml")), out)
    with pytest.raises(ConfigError, match="holds a different study"):
        check_same_study(load_study(write_study(tmp_path, GOOD, name="before.yaml", seeds=[1])), out)


def test_variant_names_reads_a_list_or_a_mapping():
    assert variant_names({"variants": ["sft", "rft"]}) == ["sft", "rft"]
    assert variant_names({"variants": {"sft": {}, "my_rft": {"method": "grpo"}}}) == ["sft", "my_rft"]
    assert variant_names({}) == ["training_free", "sft", "rft", "rft_length"]

"""Claims as data: what a study expects of its comparisons, checked when the study is loaded.

A claim names one or more pairs of Table 1 cells (A and B, each a variant and a prompt mode), the
benchmarks it is checked on, the sign it expects of A - B and a quantifier: ``every`` (the claim
holds on every comparison it names) or ``any`` (on at least one, and on none the other way). The
paper's six claims are written in this form (:data:`PAPER_CLAIMS_YAML`), and a study may add its own
under ``claims:``, in the same form; the report checks both with one code path
(:mod:`vrft_lib.report.claims`). The schema and the verdict rule are in docs/report.md.

>>> [(c.id, c.quantifier, c.sign) for c in PAPER][:2]
[('paper.think_hurts_training_free', 'every', -1), ('paper.think_hurts_sft', 'every', -1)]
>>> PAPER[0].pairs
((('training_free', 'think'), ('training_free', 'no_think')),)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import yaml

from ..errors import ConfigError, did_you_mean
from ..values import check_keys
from ..vocab import PROMPT_MODES, TASK_KINDS, VARIANTS

CLAIM_KEYS = ("id", "text", "compare", "benchmarks", "sign", "quantifier")
QUANTIFIERS = ("every", "any")
# how a claim may write its sign: A above B, or A below B
SIGNS = {"a>b": 1, "+": 1, 1: 1, "a<b": -1, "-": -1, -1: -1}
CLAIM_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
SOURCES = ("paper", "study")

Cell = tuple[str, str]  # (variant, prompt mode)

# The paper's six claims (arXiv 2504.05682, section 4 and the introduction), as a study would write
# them. The quantifiers follow the paper's wording: the thinking claims and RFT vs SFT are stated of
# the models without restriction ("incorporating <think> tokens leads to underperformance in both
# training-free and SFT models", "disabling the thinking process during inference consistently
# impairs" RFT, "RFT beats SFT on all three with think"), so every benchmark must show them; the
# length-reward claims are stated of "some complicated tasks" and "some simple visual tasks", so one
# benchmark of the kind showing them (and none the other way) is enough.
PAPER_CLAIMS_YAML = """
- id: think_hurts_training_free
  text: thinking hurts training-free models
  compare: {a: training_free/think, b: training_free/no_think}
  sign: a<b
  quantifier: every
- id: think_hurts_sft
  text: thinking hurts SFT models
  compare: {a: sft/think, b: sft/no_think}
  sign: a<b
  quantifier: every
- id: think_helps_rft
  text: thinking helps RFT models
  compare: {a: rft/think, b: rft/no_think}
  sign: a>b
  quantifier: every
- id: rft_beats_sft_with_think
  text: RFT beats SFT on every benchmark with think
  compare: {a: rft/think, b: sft/think}
  sign: a>b
  quantifier: every
- id: length_reward_helps_reasoning
  text: the length reward helps the reasoning task (SAT)
  compare: {a: rft_length/think, b: rft/think}
  benchmarks: {task_kind: reasoning}
  sign: a>b
  quantifier: any
- id: length_reward_hurts_perception
  text: the length reward hurts the perception task (FGVC-Aircraft)
  compare: {a: rft_length/think, b: rft/think}
  benchmarks: {task_kind: perception}
  sign: a<b
  quantifier: any
"""


@dataclass(frozen=True)
class Claim:
    """One claim: the cell pairs it compares (A - B), on which benchmarks (``benchmarks``: keys, or
    None for every benchmark of ``task_kinds``, or of any kind when that is None too), the expected sign
    (+1: A above B) and the quantifier; ``source``: the paper's or the study's own.

    >>> c = PAPER_BY_ID["paper.length_reward_hurts_perception"]
    >>> c.sign, c.selects("fgvc", "perception"), c.selects("sat", "reasoning")
    (-1, True, False)
    """

    id: str  # "paper.<id>" or "study.<id>"
    text: str
    source: str
    pairs: tuple[tuple[Cell, Cell], ...]
    sign: int
    quantifier: str
    benchmarks: tuple[str, ...] | None = None
    task_kinds: tuple[str, ...] | None = None

    def selects(self, key: str, kind: str | None) -> bool:
        """Whether the claim is checked on benchmark ``key`` of task kind ``kind``."""
        if self.benchmarks is not None:
            return key in self.benchmarks
        return self.task_kinds is None or kind in self.task_kinds

    def covers(self, key: str, kind: str | None, a: Cell, b: Cell) -> bool:
        """Whether A vs B on benchmark ``key`` is one of the claim's comparisons."""
        return (a, b) in self.pairs and self.selects(key, kind)


def _cell(value, where: str, variants) -> Cell:
    if isinstance(value, str):
        parts = value.split("/")
        if len(parts) != 2:
            raise ConfigError(
                f"{where}: {value!r} is not a cell; write it as 'variant/mode' (e.g. 'rft/think') or as "
                "{variant: rft, mode: think}."
            )
        value = {"variant": parts[0].strip(), "mode": parts[1].strip()}
    if not isinstance(value, dict):
        raise ConfigError(
            f"{where}: expected a cell such as 'rft/think' or {{variant: rft, mode: think}}, got {value!r}."
        )
    check_keys(value, ("variant", "mode"), where)
    variant, mode = value.get("variant"), value.get("mode")
    if variant not in variants:
        raise ConfigError(
            f"{where}.variant: unknown variant {variant!r}{did_you_mean(variant, variants)}; "
            f"this study's variants are {', '.join(variants)}."
        )
    if mode not in PROMPT_MODES:
        raise ConfigError(
            f"{where}.mode: unknown prompt mode {mode!r}{did_you_mean(mode, PROMPT_MODES)}; use "
            f"{' or '.join(PROMPT_MODES)}."
        )
    return (variant, mode)


def _pairs(value, where: str, variants) -> tuple[tuple[Cell, Cell], ...]:
    items = [value] if isinstance(value, dict) else value
    if not isinstance(items, list) or not items:
        raise ConfigError(
            f"{where}: expected a pair {{a: CELL, b: CELL}} or a non-empty list of them "
            f"(a cell: 'rft/think' or {{variant: rft, mode: think}}), got {value!r}."
        )
    out = []
    for i, pair in enumerate(items):
        at = f"{where}[{i}]" if isinstance(value, list) else where
        if not isinstance(pair, dict) or set(pair) != {"a", "b"}:
            raise ConfigError(
                f"{at}: expected a pair with exactly the keys a and b (the difference is A - B), got {pair!r}."
            )
        a, b = _cell(pair["a"], f"{at}.a", variants), _cell(pair["b"], f"{at}.b", variants)
        if a == b:
            raise ConfigError(f"{at}: A and B are the same cell ({a[0]}/{a[1]}); a claim compares two cells.")
        if (a, b) in out:
            raise ConfigError(f"{at}: the pair {a[0]}/{a[1]} vs {b[0]}/{b[1]} is given twice.")
        out.append((a, b))
    return tuple(out)


def _benchmarks(value, where: str, benchmarks) -> tuple[tuple[str, ...] | None, tuple[str, ...] | None]:
    """``(keys, task kinds)`` of a claim's ``benchmarks`` entry: ``all``, a list of keys, or
    ``{task_kind: KIND}`` (one kind or a list)."""
    if value is None or value == "all":
        return None, None
    if isinstance(value, list) and value and all(isinstance(k, str) for k in value):
        if benchmarks is not None:
            for k in value:
                if k not in benchmarks:
                    raise ConfigError(
                        f"{where}: unknown benchmark {k!r}{did_you_mean(k, benchmarks)}; this study's benchmarks "
                        f"are {', '.join(benchmarks)}."
                    )
        if len(set(value)) < len(value):
            raise ConfigError(f"{where}: a benchmark is named twice in {value!r}.")
        return tuple(value), None
    if isinstance(value, dict) and set(value) == {"task_kind"}:
        kinds = value["task_kind"] if isinstance(value["task_kind"], list) else [value["task_kind"]]
        for kind in kinds:
            if kind not in TASK_KINDS:
                raise ConfigError(
                    f"{where}.task_kind: unknown kind {kind!r}{did_you_mean(str(kind), TASK_KINDS)}; use one of "
                    f"{', '.join(TASK_KINDS)}."
                )
        return None, tuple(kinds)
    raise ConfigError(f"{where}: expected 'all', a list of benchmark keys or {{task_kind: KIND}}, got {value!r}.")


def parse_claim(raw, where: str, variants, benchmarks=None, source: str = "study") -> Claim:
    """One claim from its data (a study's ``claims:`` entry), checked: its keys, id, text, cells
    (``variants``: the study's variant names), benchmarks (``benchmarks``: the study's keys, None: not
    checked), sign and quantifier.

    >>> parse_claim({"id": "x", "text": "SFT beats RFT", "compare": {"a": "sft/think", "b": "rft/think"},
    ...              "sign": "a>b"}, "claims[0]", ["sft", "rft"]).quantifier
    'every'
    >>> parse_claim({"id": "x", "text": "t", "compare": {"a": "sft/think", "b": "rtf/think"}, "sign": "+"},
    ...             "claims[0]", ["sft", "rft"])
    Traceback (most recent call last):
    ...
    vrft_lib.errors.ConfigError: claims[0].compare.b.variant: unknown variant 'rtf' (did you mean 'rft'?); ...
    """
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping with {', '.join(CLAIM_KEYS)}, got {raw!r}.")
    check_keys(raw, CLAIM_KEYS, where)
    for key in ("id", "text", "compare", "sign"):
        if key not in raw:
            raise ConfigError(f"{where}: '{key}' is missing; a claim needs id, text, compare and sign.")
    cid = raw["id"]
    if not isinstance(cid, str) or not CLAIM_ID.fullmatch(cid):
        raise ConfigError(f"{where}.id: {cid!r} is not an id; use letters, digits, '_', '.' and '-'.")
    text = raw["text"]
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"{where}.text: the claim in words is missing (a non-empty string).")
    sign = raw["sign"]
    key = sign.strip().lower().replace(" ", "") if isinstance(sign, str) else sign
    if isinstance(key, bool) or key not in SIGNS:
        raise ConfigError(
            f"{where}.sign: {sign!r} is not a sign; use a>b (A above B) or a<b (A below B), or '+' / '-' (quoted)."
        )
    quantifier = raw.get("quantifier", "every")
    if quantifier not in QUANTIFIERS:
        raise ConfigError(
            f"{where}.quantifier: {quantifier!r} is not a quantifier{did_you_mean(str(quantifier), QUANTIFIERS)}; use "
            "every (the claim must hold on each of its comparisons) or any (on at least one)."
        )
    keys, kinds = _benchmarks(raw.get("benchmarks"), f"{where}.benchmarks", benchmarks)
    return Claim(
        id=f"{source}.{cid}",
        text=text.strip(),
        source=source,
        pairs=_pairs(raw["compare"], f"{where}.compare", list(variants)),
        sign=SIGNS[key],
        quantifier=quantifier,
        benchmarks=keys,
        task_kinds=kinds,
    )


def parse_claims(raw, where: str, variants, benchmarks=None, source: str = "study") -> tuple[Claim, ...]:
    """Every claim of a ``claims:`` list (:func:`parse_claim`), their ids unique."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ConfigError(f"{where}: expected a list of claims (each with id, text, compare and sign), got {raw!r}.")
    out: list[Claim] = []
    for i, item in enumerate(raw):
        claim = parse_claim(item, f"{where}[{i}]", variants, benchmarks, source)
        if any(c.id == claim.id for c in out):
            raise ConfigError(
                f"{where}[{i}].id: the id '{claim.id.split('.', 1)[1]}' is given twice; each claim needs its own."
            )
        out.append(claim)
    return tuple(out)


def check_study_claims(study: dict, where: str, variants, runs) -> tuple[Claim, ...]:
    """The claims of a loaded study, checked against it (what :func:`vrft_lib.plan.spec.load_study` calls):
    each as :func:`parse_claims` checks it, and each able to be checked at all: a benchmark it names
    runs both variants of each of its pairs (``runs``: the study's ``(benchmark, variant)`` pairs), and
    at least one benchmark it selects runs them."""
    benches = study.get("benchmarks") or {}
    claims = parse_claims(study.get("claims"), f"{where}: claims", variants, list(benches))
    runs = set(runs)
    for i, c in enumerate(claims):
        at = f"{where}: claims[{i}] ('{c.id.split('.', 1)[1]}')"
        for key in c.benchmarks or ():
            for a, b in c.pairs:
                lacking = [v for v in dict.fromkeys((a[0], b[0])) if (key, v) not in runs]
                if lacking:
                    raise ConfigError(
                        f"{at}: benchmark '{key}' does not run {' or '.join(lacking)}"
                        + (" (its length_reward is not true)" if "rft_length" in lacking else "")
                        + ", so the claim could never be checked there; name other benchmarks or variants."
                    )
        kinds = {k: (spec or {}).get("task_kind") for k, spec in benches.items()}
        # a benchmark without a task_kind may be of any kind (the report guesses it from its name)
        checkable = [
            key
            for key, kind in kinds.items()
            if (c.selects(key, kind) or (kind is None and c.benchmarks is None))
            and any((key, a[0]) in runs and (key, b[0]) in runs for a, b in c.pairs)
        ]
        if not checkable:
            raise ConfigError(
                f"{at}: no benchmark it selects runs the variants it compares, so it could never be checked; "
                "name other benchmarks or variants."
            )
    return claims


PAPER = parse_claims(yaml.safe_load(PAPER_CLAIMS_YAML), "the paper's claims", VARIANTS, source="paper")
PAPER_BY_ID = {c.id: c for c in PAPER}

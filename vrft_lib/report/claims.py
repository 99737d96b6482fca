"""The comparisons the report makes and the claims they check, as small frozen records.

A :class:`Comparison` names two cells of Table 1 on one benchmark (A against B, difference A - B in
points) and the words its finding uses. A claim (:class:`~vrft_lib.plan.claims.Claim`) is data: the
paper's six (:data:`PAPER`) and a study's own (``claims:`` in its study file), read by
:func:`claims_of`; :func:`claim_finding` gives one its verdict from the findings of the comparisons
it expects (rule: :func:`~.stats.claim_verdict`).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..plan.claims import PAPER, PAPER_BY_ID, Claim, parse_claims
from ..plan.spec import variant_names
from ..plots import METHOD_LABELS, MODE_LABELS
from .stats import claim_verdict, comparison_verdict

__all__ = [
    "PAPER",
    "PAPER_BY_ID",
    "PAPER_CLAIMS",
    "Claim",
    "Comparison",
    "claim_finding",
    "claims_of",
    "pair_comparison",
]

PAPER_CLAIMS = {c.id: c.text for c in PAPER}
CLAIM_GROUPS = ("paper", "study")  # a claim finding's group: whose claim it is


def claims_of(study: dict) -> tuple[Claim, ...]:
    """The claims a study's report checks: the paper's six, then the study's own (its ``claims:``,
    checked against its variants and benchmarks).

    >>> [c.id for c in claims_of({"claims": [{"id": "x", "text": "t", "compare": {"a": "sft/think",
    ...     "b": "training_free/think"}, "sign": "a>b"}]})][-2:]
    ['paper.length_reward_hurts_perception', 'study.x']
    """
    benches = study.get("benchmarks")
    keys = [str(k) for k in benches] if isinstance(benches, dict) else None
    return PAPER + parse_claims(study.get("claims"), "study.yaml: claims", variant_names(study), keys)


@dataclass(frozen=True)
class Comparison:
    """Cell ``a`` against cell ``b`` (each ``(variant, mode)``) on one benchmark; ``verbs``: the finding's
    words for A above B, A below B and a tie; ``method``, ``mode`` or ``task_kind``: what the finding
    records of the pair; ``sign``: the direction a claim expects of it (+1: A above B; None: no claim
    covers it) and ``claim`` that claim's id, set by the findings from the first claim that covers it.

    >>> Comparison("think.rft.x", "think", "x", "X", ("rft", "think"), ("rft", "no_think"), "w/ think",
    ...            "w/o think", "RFT on X", ("up", "down", "tie"), method="rft").extra
    {'method': 'rft'}
    """

    id: str
    group: str
    benchmark: str
    label: str
    a: tuple[str, str]
    b: tuple[str, str]
    a_name: str
    b_name: str
    subject: str
    verbs: tuple[str, str, str]
    method: str | None = None
    mode: str | None = None
    task_kind: str | None = None
    sign: int | None = None
    claim: str | None = None

    @property
    def extra(self) -> dict:
        """What the finding records of the pair beyond its cells: ``method``, ``mode`` or ``task_kind``."""
        return {k: v for k, v in (("method", self.method), ("mode", self.mode), ("task_kind", self.task_kind)) if v}


def cell_label(c: tuple[str, str]) -> str:
    """A cell in words.

    >>> cell_label(("training_free", "no_think"))
    'Training-free w/o think'
    """
    return f"{METHOD_LABELS.get(c[0], c[0])} {MODE_LABELS.get(c[1], c[1])}"


def comparison_record(comp: Comparison, stats: dict | None, difference: float | None, verdict: str) -> dict:
    """What ``metrics.json`` records of a paired comparison: its benchmark and cells, the difference
    A - B in points (from ``stats``, else ``difference``), the paired interval, p-value and n, and
    its ``verdict``."""
    return {
        "benchmark": comp.benchmark,
        "a": {"method": comp.a[0], "mode": comp.a[1]},
        "b": {"method": comp.b[0], "mode": comp.b[1]},
        "difference_points": stats["difference_points"] if stats else difference,
        "ci95": stats["ci95"] if stats else None,
        "p_value": stats["p_value"] if stats else None,
        "n": stats["n"] if stats else 0,
        "verdict": verdict,
    }


def pair_comparison(key: str, label: str, a: tuple[str, str], b: tuple[str, str]) -> Comparison:
    """A comparison that only a claim asks for (group ``pair``): A against B on one benchmark.

    >>> pair_comparison("sat", "SAT", ("sft", "think"), ("training_free", "no_think")).id
    'pair.sat.sft.think.vs.training_free.no_think'
    """
    a_name, b_name = cell_label(a), cell_label(b)
    return Comparison(
        f"pair.{key}.{a[0]}.{a[1]}.vs.{b[0]}.{b[1]}",
        "pair",
        key,
        label,
        a,
        b,
        a_name,
        b_name,
        f"{label}, {a_name} vs {b_name}",
        (f"{a_name} scores above {b_name}", f"{a_name} scores below {b_name}", f"{a_name} and {b_name} score the same"),
    )


def _count(k: int, word: str) -> str:
    return f"{k} {word}" + ("" if k == 1 else "s")


def _reason(claim: Claim, verdict: str, per: list[dict], unit: str) -> str:
    """Why a claim got its verdict, in words (the quantifier, then the counts that decide)."""
    n = len(per)
    count = {v: sum(1 for c in per if c["verdict"] == v) for v in ("supported", "contradicted", "not_resolved")}
    sup, con, open_ = count["supported"], count["contradicted"], count["not_resolved"]
    missing = [c["label"] for c in per if c["verdict"] == "missing"]
    named = "; ".join(missing)
    if len(missing) == n == 1:
        lacking = f"its one {unit} has no result ({named})"
    elif len(missing) == n:
        lacking = f"none of its {_count(n, unit)} has a result ({named})"
    else:
        lacking = (
            f"{len(missing)} of its {_count(n, unit)} {'has' if len(missing) == 1 else 'have'} no result ({named})"
        )
    if not n:
        return "the study runs none of the comparisons it needs"
    none = f"its one {unit} is not resolved" if n == 1 else f"none of its {_count(n, unit)} is resolved"
    if claim.quantifier == "every":
        return {
            "contradicted": f"{_count(con, 'resolved ' + unit)} against it, and a claim about every {unit} "
            "fails on one",
            "incomplete": f"{lacking}, and a claim about every {unit} needs them all",
            "supported": f"each of its {_count(n, unit)} is resolved the expected way",
            "mixed": f"{sup} of its {_count(n, unit)} resolved the expected way, {open_} not resolved, and a claim "
            f"about every {unit} needs them all",
            "not_resolved": none,
        }[verdict]
    return {
        "mixed": f"resolved {unit}s go both ways ({sup} for it, {con} against)",
        "supported": f"{_count(sup, 'resolved ' + unit)} for it and none against, and a claim about some {unit} "
        "needs one",
        "contradicted": f"every resolved {unit} ({con}) goes against it",
        "incomplete": f"none of those with a result is resolved, and {lacking}" if len(missing) < n else lacking,
        "not_resolved": none,
    }[verdict]


def claim_finding(claim: Claim, evidence: list[tuple[Comparison, dict]], synthetic: bool) -> dict:
    """A claim's record (a finding of group ``paper`` or ``study``): each comparison it expects (``evidence``:
    one per benchmark and pair that the study runs, with its finding) with its paired statistics and
    its verdict for this claim's sign (``missing`` when a cell has no result), the counts, the verdict
    (:func:`~.stats.claim_verdict`), why (``reason``) and the sentence."""
    per = []
    for comp, f in evidence:
        c = f.get("comparison")
        label = comp.label if len(claim.pairs) == 1 else f"{comp.label}, {cell_label(comp.a)} vs {cell_label(comp.b)}"
        verdict = "missing" if c is None else comparison_verdict(c["ci95"], claim.sign)
        per.append({"finding": f["id"], "label": label, **comparison_record(comp, c, None, verdict)})
    verdicts = [c["verdict"] for c in per]
    counts = {v: verdicts.count(v) for v in ("supported", "contradicted", "not_resolved", "missing")}
    verdict = claim_verdict(verdicts, claim.quantifier)
    unit = "benchmark" if len(claim.pairs) == 1 else "comparison"
    reason = _reason(claim, verdict, per, unit)
    usable = [(comp, f) for comp, f in evidence if f.get("comparison")]
    flagged = [f for _, f in usable if f.get("caveats")]
    record = {
        "id": claim.id,
        "group": claim.source,
        "source": claim.source,
        "claim": claim.text,
        **({"paper_claim": claim.text} if claim.source == "paper" else {}),
        "quantifier": claim.quantifier,
        "expected_sign": claim.sign,
        "compare": [
            {"a": {"variant": a[0], "mode": a[1]}, "b": {"variant": b[0], "mode": b[1]}} for a, b in claim.pairs
        ],
        "evidence": [f["id"] for _, f in usable],
        "comparisons": per,
        "n_expected": len(per),
        "n_checked": len(usable),
        "n_supported": counts["supported"],
        "n_contradicted": counts["contradicted"],
        "n_not_resolved": counts["not_resolved"],
        "n_missing": counts["missing"],
        "verdict": verdict,
        "reason": reason,
        "note": "different model and data: only the pattern is compared"
        if synthetic and claim.source == "paper"
        else None,
        "values": {c["label"]: c for c in per if c["verdict"] != "missing"} or None,
        "caveats": [c for f in flagged for c in f["caveats"]],
    }
    whose = "Paper" if claim.source == "paper" else "This study's claim"
    scope = f"on every {unit} it covers" if claim.quantifier == "every" else f"on at least one {unit} it covers"
    head = f"{whose} ({scope}): {claim.text}."
    end = f"Verdict: {verdict.replace('_', ' ')} ({reason})."
    if not usable:
        why = "the study runs none of the comparisons it needs" if not per else "the needed results are missing"
        return {**record, "text": f"{head} Ours: cannot be checked, {why}. {end}"}

    def one(c):
        ci = "no interval" if c["ci95"] is None else f"[{c['ci95'][0]:+.2f}, {c['ci95'][1]:+.2f}]"
        return f"{c['label']} {c['difference_points']:+.2f} {ci}"

    shown = [c for c in per if c["verdict"] != "missing"]
    partial = f" (checked on {len(usable)} of {_count(len(per), unit)})" if counts["missing"] else ""
    caveat = (
        f" {len(flagged)} of these compare a model that collapsed onto one answer or missed the format "
        f"({'; '.join(record['caveats'])})."
        if flagged
        else ""
    )
    text = (
        f"{head} Ours: {len(usable)} paired difference(s) ({'; '.join(one(c) for c in shown)}, points with 95% "
        f"intervals){partial}: {counts['supported']} support the claim, {counts['contradicted']} contradict it, and "
        f"for {counts['not_resolved']} the 95% interval of the difference includes 0 or is missing (not "
        f"resolved). {end}{caveat}"
    )
    return {**record, "text": text}

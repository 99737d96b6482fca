"""The comparisons the report makes and the paper's claims they check, as small frozen records.

A :class:`Comparison` names two cells of Table 1 on one benchmark (A against B, difference A - B in
points) and the words its finding uses; a :class:`Claim` is one of the paper's findings: the
comparisons it covers and the sign the paper reports for them. :data:`PAPER` is the one table of
the claims: a comparison's expected sign (:attr:`Comparison.sign`), the claims' wording
(:data:`PAPER_CLAIMS`) and their evidence are all read from it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Claim:
    """One of the paper's findings: the comparisons of ``group`` it covers (those of ``method``,
    ``mode`` or ``task_kind`` where given) and the paper's sign for them (+1: A above B).

    >>> c = PAPER_BY_ID["paper.length_reward_hurts_perception"]
    >>> c.sign, c.n_benchmarks([("a", "A", "perception"), ("b", "B", "reasoning")])
    (-1, 1)
    """

    id: str
    paper: str  # the claim in the paper's words
    group: str  # the findings it is checked on: think, rft_vs_sft or length_reward
    sign: int
    method: str | None = None
    mode: str | None = None
    task_kind: str | None = None  # only benchmarks of this kind (None: every benchmark)

    def covers(self, comp: Comparison) -> bool:
        return comp.group == self.group and all(
            want is None or have == want
            for want, have in ((self.method, comp.method), (self.mode, comp.mode), (self.task_kind, comp.task_kind))
        )

    def n_benchmarks(self, benches: list[tuple[str, str, str]]) -> int:
        """How many of ``(key, label, task kind)`` benchmarks the claim could be checked on."""
        return sum(1 for _, _, kind in benches if self.task_kind is None or kind == self.task_kind)


# The paper's six claims, in the order the report gives them.
PAPER = (
    Claim(
        "paper.think_hurts_training_free", "thinking hurts training-free models", "think", -1, method="training_free"
    ),
    Claim("paper.think_hurts_sft", "thinking hurts SFT models", "think", -1, method="sft"),
    Claim("paper.think_helps_rft", "thinking helps RFT models", "think", 1, method="rft"),
    Claim(
        "paper.rft_beats_sft_with_think",
        "RFT beats SFT on every benchmark with think",
        "rft_vs_sft",
        1,
        mode="think",
    ),
    Claim(
        "paper.length_reward_helps_reasoning",
        "the length reward helps the reasoning task (SAT)",
        "length_reward",
        1,
        task_kind="reasoning",
    ),
    Claim(
        "paper.length_reward_hurts_perception",
        "the length reward hurts the perception task (FGVC-Aircraft)",
        "length_reward",
        -1,
        task_kind="perception",
    ),
)
PAPER_BY_ID = {c.id: c for c in PAPER}
PAPER_CLAIMS = {c.id: c.paper for c in PAPER}


@dataclass(frozen=True)
class Comparison:
    """Cell ``a`` against cell ``b`` (each ``(variant, mode)``) on one benchmark; ``verbs``: the finding's
    words for A above B, A below B and a tie; ``method``, ``mode`` or ``task_kind``: what the finding
    records of the pair (and what a claim selects it by).

    >>> Comparison("think.rft.x", "think", "x", "X", ("rft", "think"), ("rft", "no_think"), "w/ think",
    ...            "w/o think", "RFT on X", ("up", "down", "tie"), method="rft").sign
    1
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

    @property
    def sign(self) -> int | None:
        """The paper's direction for this pair (+1: A above B), from the claim covering it; None if none does."""
        return next((c.sign for c in PAPER if c.covers(self)), None)

    @property
    def extra(self) -> dict:
        """What the finding records of the pair beyond its cells: ``method``, ``mode`` or ``task_kind``."""
        return {k: v for k, v in (("method", self.method), ("mode", self.mode), ("task_kind", self.task_kind)) if v}

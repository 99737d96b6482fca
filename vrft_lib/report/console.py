"""The study's result on the console: Table 1 as text (with RFT + length reward), the variants the study
defines in a second table, the verdicts on the claims and the runs the report could not read, from the
``metrics.json`` that the report notebook wrote (what ``vrft study`` prints at the end)."""

from __future__ import annotations

import json
from pathlib import Path

from ..files import read_text
from ..vocab import PROMPT_MODES, TABLE_VARIANTS
from .collect import UNREADABLE

SHORT = {"training_free": "training-free", "sft": "SFT", "rft": "RFT", "rft_length": "RFT+len"}
CONSOLE_TABLE1 = (*TABLE_VARIANTS, "rft_length")  # Table 1's columns on the console (and in the README)
MODE_SHORT = {"no_think": "w/o", "think": "w/"}


def _cell(row: dict | None) -> str:
    if not row or _number(row.get("accuracy")) is None:
        return "— "
    text = f"{float(row['accuracy']):.1f}"
    if _number(row.get("format_rate")) is not None:
        text += f" ({float(row['format_rate']):.0f})"
    return text + ("!" if row.get("collapsed") in (True, "True", "true") else " ")


def table1_text(records: list[dict]) -> str:
    """Table 1 as fixed-width text: a row per benchmark (with its chance level), a column per method and
    prompt mode; each cell the accuracy % with the format compliance % in parentheses, ``!`` when the
    model collapsed onto one answer.

    >>> print(table1_text([{"benchmark": "b", "label": "SAT", "method": "rft", "mode": "think",
    ...                     "accuracy": 61.5, "format_rate": 98.0, "chance": 33.3, "collapsed": True}]))
    benchmark  chance  RFT w/o      RFT w/
    SAT            33       —   61.5 (98)!
    """
    return cells_text(records, CONSOLE_TABLE1, SHORT)


def cells_text(records: list[dict], variants, names: dict) -> str:
    """:func:`table1_text` for the columns ``variants`` (those with a record), each named ``names[v]``;
    the rows are the benchmarks with a record of one of them.

    >>> rows = [{"benchmark": "b", "label": "SAT", "method": "rft_nt", "mode": m, "accuracy": a, "format_rate": 100.0,
    ...          "chance": 50.0, "collapsed": m == "think"} for m, a in [("no_think", 50.0), ("think", 61.0)]]
    >>> print(cells_text(rows, ["rft_nt"], {"rft_nt": "RFT nt"}))
    benchmark  chance   RFT nt w/o    RFT nt w/
    SAT            50  50.0 (100)   61.0 (100)!
    """
    methods = [m for m in variants if any(r.get("method") == m for r in records)]
    records = [r for r in records if r.get("method") in methods]
    cols = [(m, mode) for m in methods for mode in PROMPT_MODES]
    header = ["benchmark", "chance", *[f"{names.get(m, m)} {MODE_SHORT[mode]}" for m, mode in cols]]
    rows = []
    for key in dict.fromkeys(r["benchmark"] for r in records):
        mine = [r for r in records if r["benchmark"] == key]
        by = {(r["method"], r["mode"]): r for r in mine}
        chance = next((_number(r.get("chance")) for r in mine if _number(r.get("chance")) is not None), None)
        rows.append([mine[0]["label"], "—" if chance is None else f"{chance:.0f}", *[_cell(by.get(c)) for c in cols]])
    widths = [max(len(str(x[i])) for x in [header, *rows]) for i in range(len(header))]

    def line(cells):
        return "  ".join([str(cells[0]).ljust(widths[0]), *(str(c).rjust(w) for c, w in zip(cells[1:], widths[1:]))])

    return "\n".join(line(r) for r in [header, *rows])


def console_summary(study_dir) -> str:
    """What ``vrft study`` prints when the report is rendered: Table 1 as text, its legend, the verdict
    on each of the paper's claims and of the study's own, and the runs left out as unreadable, with why.
    Empty when the study folder has no ``metrics.json``."""
    path = Path(study_dir) / "metrics.json"
    try:
        metrics = json.loads(read_text(path))
    except (OSError, ValueError):
        return ""
    records = metrics.get("table1") or []
    lines = []
    if any(r.get("method") in CONSOLE_TABLE1 for r in records):
        lines += [
            "Table 1: accuracy %, format compliance % in parentheses, ! = answers collapsed onto one option",
            table1_text(records),
        ]
    variants = metrics.get("variants") if isinstance(metrics.get("variants"), dict) else {}
    own = [v for v in variants if v not in CONSOLE_TABLE1]
    if own and any(r.get("method") in own for r in records):
        names = {v: str((variants[v] or {}).get("label") or v) for v in own}
        lines += ["Table 2: the study's own variants (the same cells)", cells_text(records, own, names)]
    for group, title in (("paper", "The paper's claims on these numbers:"), ("study", "This study's own claims:")):
        claims = [f for f in metrics.get("findings") or [] if f.get("group") == group]
        if claims:
            lines.append(title)
            lines += [
                f"  {str(c.get('verdict', '')).replace('_', ' '):13s} {c.get('claim') or c.get('paper_claim', '')}"
                for c in claims
            ]
    unreadable = [r for r in metrics.get("runs") or [] if isinstance(r, dict) and r.get("status") == UNREADABLE]
    if unreadable:
        lines.append(f"{len(unreadable)} finished run(s) cannot be read, left out of every number (see Missing runs):")
        lines += [
            f"  {r.get('benchmark')}/{r.get('variant')}/seed{r.get('seed')}: {r.get('reason')}" for r in unreadable
        ]
    return "\n".join(lines)


def table1_markdown(records: list[dict]) -> str:
    """Table 1 as a Markdown table (what ``scripts/readme_results.py`` writes into the README): a row per
    benchmark with its chance level, a column per method and prompt mode; each cell the accuracy %, the
    format compliance % in parentheses, and ⚠ when the model collapsed onto one answer.

    >>> print(table1_markdown([{"benchmark": "b", "label": "SAT", "method": "rft", "mode": "think",
    ...                         "accuracy": 61.5, "format_rate": 98.0, "chance": 33.3, "collapsed": False}]))
    | benchmark | chance | RFT w/o think | RFT w/ think |
    |---|---|---|---|
    | SAT | 33 | — | 61.5 (98) |
    """
    methods = [m for m in (*TABLE_VARIANTS, "rft_length") if any(r.get("method") == m for r in records)]
    cols = [(m, mode) for m in methods for mode in PROMPT_MODES]
    names = {"no_think": "w/o think", "think": "w/ think"}
    lines = [
        "| benchmark | chance | " + " | ".join(f"{SHORT[m]} {names[mode]}" for m, mode in cols) + " |",
        "|---|---|" + "---|" * len(cols),
    ]
    for key in dict.fromkeys(r["benchmark"] for r in records):
        mine = [r for r in records if r["benchmark"] == key]
        by = {(r["method"], r["mode"]): r for r in mine}
        chance = next((_number(r.get("chance")) for r in mine if _number(r.get("chance")) is not None), None)
        cells = [_cell(by.get(c)).strip().replace("!", " ⚠") for c in cols]
        lines.append(
            f"| {mine[0]['label']} | {'—' if chance is None else f'{chance:.0f}'} | " + " | ".join(cells) + " |"
        )
    return "\n".join(lines)


def _number(v):
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if f != f else f

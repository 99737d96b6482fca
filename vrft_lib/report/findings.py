"""Table 1 and the findings: the numbers of a collected study and the sentences generated from them.

:func:`table1` aggregates the finished runs into the tidy table (one row per benchmark, method and
prompt mode, seeds aggregated); :func:`findings` compares its cells by the rules of
``docs/report.md`` (differences in percentage points, "within noise" when the two 95% intervals
overlap) and checks the paper's six claims on them.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..plots import METHOD_LABELS, MODE_LABELS, method_key, smoothing_window
from ..vocab import PROMPT_MODES, TABLE_VARIANTS
from .collect import finished_runs, reference_of

TIE_POINTS = 0.005  # |difference| below this many points (i.e. 0.00 when printed): no difference

# The paper's findings, as checkable claims (see findings()).
PAPER_CLAIMS = {
    "paper.think_hurts_training_free": "thinking hurts training-free models",
    "paper.think_hurts_sft": "thinking hurts SFT models",
    "paper.think_helps_rft": "thinking helps RFT models",
    "paper.rft_beats_sft_with_think": "RFT beats SFT on every benchmark with think",
    "paper.length_reward_helps_reasoning": "the length reward helps the reasoning task (SAT)",
    "paper.length_reward_hurts_perception": "the length reward hurts the perception task (FGVC-Aircraft)",
}
TABLE1_COLUMNS = [
    "benchmark",
    "label",
    "task_kind",
    "method",
    "mode",
    "accuracy",
    "accuracy_std",
    "ci_low",
    "ci_high",
    "n",
    "n_seeds",
    "n_seeds_expected",
    "seeds",
    "format_rate",
    "mean_response_tokens",
    "circular_accuracy",
    "mean_per_class_accuracy",
    "paper_accuracy",
]


# ----------------------------------------------------------------------------------------------
# Table 1
# ----------------------------------------------------------------------------------------------


def _norm_mode(m: str) -> str | None:
    s = str(m).strip().lower().replace("-", "_").replace(" ", "_")
    if s in ("no_think", "nothink", "w/o_think", "without_think", "wo_think"):
        return "no_think"
    if s in ("think", "w/_think", "with_think", "w_think"):
        return "think"
    return None


def paper_table(study: dict) -> dict:
    """The paper's Table 1 from ``reference.table1`` as ``{label: {method: {mode: accuracy %}}}``."""
    raw = reference_of(study).get("table1")
    out: dict = {}
    if not isinstance(raw, dict):
        return out
    for label, methods in raw.items():
        if not isinstance(methods, dict):
            continue
        for m, modes in methods.items():
            key = method_key(str(m))
            if key is None or not isinstance(modes, dict):
                continue
            for mode, v in modes.items():
                mk = _norm_mode(mode)
                if mk is not None and isinstance(v, (int, float)):
                    out.setdefault(str(label), {}).setdefault(key, {})[mk] = float(v)
    return out


def _mean(values):
    vals = [float(v) for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    return float(np.mean(vals)) if vals else float("nan")


def table1(collected: dict) -> pd.DataFrame:
    """The tidy Table 1: one row per benchmark, variant (method) and mode, seeds aggregated.

    Columns: ``benchmark``, ``label``, ``task_kind``, ``method``, ``mode``, ``accuracy`` (mean over
    seeds, %), ``accuracy_std`` (across seeds, %; NaN for one seed), ``ci_low``/``ci_high`` (mean of
    the per-seed 95% interval bounds, %), ``n`` (evaluation samples per seed), ``n_seeds`` (seeds with a
    result), ``n_seeds_expected`` (runs expected for the cell), ``seeds``,
    ``format_rate`` (%), ``mean_response_tokens``, ``circular_accuracy`` (%),
    ``mean_per_class_accuracy`` (%), ``paper_accuracy`` (%, from study.yaml's reference). A cell
    without a finished run has ``n_seeds == 0`` and NaN numbers.
    """
    paper = paper_table(collected.get("study") or {})
    rows = []
    for key, info in collected["benchmarks"].items():
        variants = list(dict.fromkeys(r["variant"] for r in collected["runs"] if r["benchmark"] == key))
        for variant in variants:
            runs = finished_runs(collected, key, variant)
            for mode in PROMPT_MODES:
                per = [
                    (r["seed"], r["metrics"]["modes"][mode])
                    for r in runs
                    if isinstance(r["metrics"]["modes"].get(mode), dict)
                    and r["metrics"]["modes"][mode].get("accuracy") is not None
                ]
                accs = [100 * float(m["accuracy"]) for _, m in per]
                cis = [m.get("accuracy_ci95") for _, m in per]
                cis = [c for c in cis if isinstance(c, (list, tuple)) and len(c) == 2 and None not in c]
                ns = [int(m["n"]) for _, m in per if m.get("n") is not None]

                def pct(field, per=per):
                    return _mean([100 * float(m[field]) for _, m in per if m.get(field) is not None])

                pref = paper.get(info["label"]) or paper.get(key) or {}
                rows.append(
                    {
                        "benchmark": key,
                        "label": info["label"],
                        "task_kind": info["task_kind"],
                        "method": variant,
                        "mode": mode,
                        "accuracy": _mean(accs),
                        "accuracy_std": float(np.std(accs, ddof=1)) if len(accs) > 1 else float("nan"),
                        "ci_low": _mean([100 * float(c[0]) for c in cis]),
                        "ci_high": _mean([100 * float(c[1]) for c in cis]),
                        "n": (ns[0] if len(set(ns)) == 1 else round(float(np.mean(ns)), 1)) if ns else None,
                        "n_seeds": len(per),
                        "n_seeds_expected": sum(
                            1 for r in collected["runs"] if r["benchmark"] == key and r["variant"] == variant
                        ),
                        "seeds": " ".join(str(s) for s, _ in per),
                        "format_rate": pct("format_rate"),
                        "mean_response_tokens": _mean([m.get("mean_response_tokens") for _, m in per]),
                        "circular_accuracy": pct("circular_accuracy"),
                        "mean_per_class_accuracy": pct("mean_per_class_accuracy"),
                        "paper_accuracy": (pref.get(variant) or {}).get(mode, float("nan")),
                    }
                )
    return pd.DataFrame(rows, columns=TABLE1_COLUMNS)


# ----------------------------------------------------------------------------------------------
# Findings
# ----------------------------------------------------------------------------------------------

# ----------------------------------------------------------------------------------------------
# Findings
# ----------------------------------------------------------------------------------------------


def cell(table: pd.DataFrame, key: str, method: str, mode: str) -> dict | None:
    """The Table 1 row of one cell as a dict; None when it has no finished run."""
    sub = table[(table["benchmark"] == key) & (table["method"] == method) & (table["mode"] == mode)]
    if sub.empty or not (sub.iloc[0]["n_seeds"] > 0) or pd.isna(sub.iloc[0]["accuracy"]):
        return None
    return sub.iloc[0].to_dict()


def num(v) -> float | None:
    """A number as a float; None for None or NaN.

    >>> num(2), num(float("nan")), num(None)
    (2.0, None, None)
    """
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def intervals_overlap(a: dict, b: dict) -> bool | None:
    """Whether two cells' 95% intervals overlap (None when one is unknown).

    >>> intervals_overlap({"ci_low": 50, "ci_high": 60}, {"ci_low": 59, "ci_high": 70})
    True
    >>> intervals_overlap({"ci_low": 50, "ci_high": 60}, {"ci_low": 61, "ci_high": 70})
    False
    """
    lo = [num(a.get("ci_low")), num(b.get("ci_low"))]
    hi = [num(a.get("ci_high")), num(b.get("ci_high"))]
    if None in lo or None in hi:
        return None
    return max(lo) <= min(hi)


def _direction(diff: float) -> int:
    return 0 if abs(diff) < TIE_POINTS else (1 if diff > 0 else -1)


def _noise_clause(overlap: bool | None) -> str:
    if overlap is None:
        return "no 95% interval is available to judge noise"
    if overlap:
        return "the 95% intervals overlap, so the difference is within noise"
    return "the 95% intervals do not overlap"


def _paper_clause(paper_diff: float | None, diff: float) -> tuple[str, bool | None]:
    if paper_diff is None:
        return "", None
    same = _direction(paper_diff) == _direction(diff)
    return (f" Paper: {paper_diff:+.2f} points ({'same' if same else 'opposite'} direction)."), same


def _pair_finding(fid, group, table, key, label, a_spec, b_spec, a_name, b_name, subject, verbs, extra=None):
    """A finding comparing cell A against cell B (difference A - B, in points)."""
    a, b = cell(table, key, *a_spec), cell(table, key, *b_spec)
    base = {"id": fid, "group": group, "benchmark": key, "label": label, **(extra or {})}
    if a is None or b is None:
        lacking = " and ".join(n for n, c in ((a_name, a), (b_name, b)) if c is None)
        return {
            **base,
            "text": f"{subject}: cannot be compared, the {lacking} result is missing.",
            "values": None,
            "difference": None,
            "direction": None,
            "within_noise": None,
            "consistent_with_paper": None,
        }
    diff = float(a["accuracy"]) - float(b["accuracy"])
    direction = _direction(diff)
    overlap = intervals_overlap(a, b)
    pa, pb = num(a.get("paper_accuracy")), num(b.get("paper_accuracy"))
    paper_diff = pa - pb if pa is not None and pb is not None else None
    up, down, tie = verbs
    if direction == 0:
        core = f"{tie} ({a_name} {a['accuracy']:.2f}% vs {b_name} {b['accuracy']:.2f}%)"
    else:
        core = (
            f"{up if direction > 0 else down} by {abs(diff):.2f} points "
            f"({a_name} {a['accuracy']:.2f}% vs {b_name} {b['accuracy']:.2f}%)"
        )
    paper_text, same = _paper_clause(paper_diff, diff)
    return {
        **base,
        "text": f"{subject}: {core}; {_noise_clause(overlap)}.{paper_text}",
        "values": {
            a_name: float(a["accuracy"]),
            b_name: float(b["accuracy"]),
            f"{a_name} ci95": [num(a["ci_low"]), num(a["ci_high"])],
            f"{b_name} ci95": [num(b["ci_low"]), num(b["ci_high"])],
        },
        "difference": diff,
        "direction": {1: "up", -1: "down", 0: "none"}[direction],
        "within_noise": overlap,
        "paper_difference": paper_diff,
        "consistent_with_paper": same,
    }


def _final_train_length(collected: dict | None, key: str, variant: str) -> float | None:
    """Mean ``mean_completion_length`` over the last smoothing window of training, averaged over seeds."""
    if not collected:
        return None
    vals = []
    for r in collected["runs"]:
        df = r.get("steps")
        if r["benchmark"] == key and r["variant"] == variant and df is not None and "mean_completion_length" in df:
            s = (
                df.sort_values("step")["mean_completion_length"].dropna()
                if "step" in df
                else df["mean_completion_length"].dropna()
            )
            if len(s):
                vals.append(float(s.tail(smoothing_window(len(s))).mean()))
    return float(np.mean(vals)) if vals else None


def _claim(fid, evidence: list[dict], rule: str, sign: int, checked_of: int, synthetic: bool) -> dict:
    usable = [f for f in evidence if f.get("difference") is not None]
    paper = PAPER_CLAIMS[fid]
    if not usable:
        return {
            "id": fid,
            "group": "paper",
            "paper_claim": paper,
            "rule": rule,
            "evidence": [f["id"] for f in evidence],
            "values": None,
            "n_agree": 0,
            "n_checked": 0,
            "n_within_noise": 0,
            "consistent_with_paper": None,
            "text": f"Paper: {paper}. Ours: cannot be checked, the needed results are missing.",
            "note": "different model and data: only the pattern is compared" if synthetic else None,
        }
    agree = [f for f in usable if _direction(f["difference"]) == sign]
    noisy = sum(1 for f in usable if f.get("within_noise"))
    if rule == "majority":
        ok = len(agree) * 2 > len(usable)
        need = "more than half of them"
    else:
        ok = len(agree) == len(usable)
        need = "all of them"
    word = {1: "higher", -1: "lower"}[sign]
    diffs = ", ".join(f"{f['label']} {f['difference']:+.2f}" for f in usable)
    partial = f" (checked on {len(usable)} of {checked_of} benchmarks)" if len(usable) < checked_of else ""
    text = (
        f"Paper: {paper}. Ours: {len(agree)} of {len(usable)} differences point that way ({diffs} points; "
        f"{noisy} of them within noise){partial}; the rule needs {need} to be {word}: "
        f"{'consistent' if ok else 'not consistent'} with the paper."
    )
    return {
        "id": fid,
        "group": "paper",
        "paper_claim": paper,
        "rule": rule,
        "evidence": [f["id"] for f in usable],
        "values": {f["label"]: f["difference"] for f in usable},
        "n_agree": len(agree),
        "n_checked": len(usable),
        "n_within_noise": noisy,
        "consistent_with_paper": ok,
        "text": text,
        "note": "different model and data: only the pattern is compared" if synthetic else None,
    }


def findings(table: pd.DataFrame, collected: dict | None = None, study: dict | None = None) -> list[dict]:
    """Sentences generated from the numbers (rules in docs/report.md), each a dict with ``id``, ``group``,
    ``text``, ``values``, ``difference`` (points), ``within_noise`` and ``consistent_with_paper``.

    Groups: ``think`` (think vs no think per method and benchmark), ``rft_vs_sft`` (per benchmark and
    mode), ``length_reward`` (RFT with vs without the length reward, think mode, per benchmark with an
    ``rft_length`` variant) and ``paper`` (the paper's six claims, checked on these numbers).
    """
    study = study if study is not None else (collected or {}).get("study") or {}
    synthetic = bool(study.get("synthetic", (collected or {}).get("synthetic", False)))
    benches = list(dict.fromkeys(zip(table["benchmark"], table["label"], table["task_kind"]))) if len(table) else []
    out: list[dict] = []
    think: dict[str, list[dict]] = {m: [] for m in TABLE_VARIANTS}
    for m in TABLE_VARIANTS:
        for key, label, _ in benches:
            f = _pair_finding(
                f"think.{m}.{key}",
                "think",
                table,
                key,
                label,
                (m, "think"),
                (m, "no_think"),
                "w/ think",
                "w/o think",
                f"{METHOD_LABELS[m]} on {label}",
                ("thinking helps accuracy", "thinking hurts accuracy", "thinking makes no difference"),
                {"method": m},
            )
            think[m].append(f)
            out.append(f)
    rft_sft: dict[str, list[dict]] = {mode: [] for mode in PROMPT_MODES}
    for key, label, _ in benches:
        for mode in PROMPT_MODES:
            f = _pair_finding(
                f"rft_vs_sft.{key}.{mode}",
                "rft_vs_sft",
                table,
                key,
                label,
                ("rft", mode),
                ("sft", mode),
                "RFT",
                "SFT",
                f"{label}, {MODE_LABELS[mode]}",
                ("RFT beats SFT", "RFT trails SFT", "RFT and SFT tie"),
                {"mode": mode},
            )
            rft_sft[mode].append(f)
            out.append(f)
    length: dict[str, list[dict]] = {}
    for key, label, kind in benches:
        if not ((table["benchmark"] == key) & (table["method"] == "rft_length")).any():
            continue
        f = _pair_finding(
            f"length_reward.{key}",
            "length_reward",
            table,
            key,
            label,
            ("rft_length", "think"),
            ("rft", "think"),
            "RFT + length reward",
            "RFT",
            f"{label} ({kind}), w/ think",
            (
                "the length reward raises final accuracy",
                "the length reward lowers final accuracy",
                "the length reward leaves final accuracy unchanged",
            ),
            {"task_kind": kind},
        )
        f.pop("paper_difference", None)
        expected = {"reasoning": 1, "perception": -1}.get(kind)
        f["consistent_with_paper"] = (
            None if expected is None or f["difference"] is None else _direction(f["difference"]) == expected
        )
        a, b = cell(table, key, "rft_length", "think"), cell(table, key, "rft", "think")
        tok_l = num(a.get("mean_response_tokens")) if a else None
        tok_r = num(b.get("mean_response_tokens")) if b else None
        tr_l, tr_r = _final_train_length(collected, key, "rft_length"), _final_train_length(collected, key, "rft")
        f["response_tokens"] = {
            "eval": {"rft_length": tok_l, "rft": tok_r},
            "end_of_training": {"rft_length": tr_l, "rft": tr_r},
        }
        extra = []
        if tok_l is not None and tok_r is not None:
            change = "longer" if tok_l > tok_r else ("shorter" if tok_l < tok_r else "as long")
            extra.append(
                f"evaluation responses are {change} with the length reward "
                f"({tok_l:.0f} vs {tok_r:.0f} tokens on average)"
            )
        if tr_l is not None and tr_r is not None:
            extra.append(f"at the end of training (mean of the last logged steps), {tr_l:.0f} vs {tr_r:.0f} tokens")
        if extra and f["difference"] is not None:
            f["text"] += " Response length: " + "; ".join(extra) + "."
        length.setdefault(kind, []).append(f)
        out.append(f)
    n = len(benches)
    out.append(_claim("paper.think_hurts_training_free", think["training_free"], "majority", -1, n, synthetic))
    out.append(_claim("paper.think_hurts_sft", think["sft"], "majority", -1, n, synthetic))
    out.append(_claim("paper.think_helps_rft", think["rft"], "majority", 1, n, synthetic))
    out.append(_claim("paper.rft_beats_sft_with_think", rft_sft["think"], "all", 1, n, synthetic))
    out.append(
        _claim(
            "paper.length_reward_helps_reasoning",
            length.get("reasoning", []),
            "all",
            1,
            sum(1 for b in benches if b[2] == "reasoning"),
            synthetic,
        )
    )
    out.append(
        _claim(
            "paper.length_reward_hurts_perception",
            length.get("perception", []),
            "all",
            -1,
            sum(1 for b in benches if b[2] == "perception"),
            synthetic,
        )
    )
    return out


# ----------------------------------------------------------------------------------------------
# Figure data

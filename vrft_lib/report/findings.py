"""Table 1 and the findings: the numbers of a collected study and the sentences generated from them.

:func:`table1` aggregates the finished runs into the tidy table (one row per benchmark, method and
prompt mode, seeds aggregated; 95% Wilson or seed intervals); :func:`findings` compares its cells
by the rules of ``docs/report.md`` (differences in percentage points, each with a paired bootstrap
interval and an exact McNemar p-value from the runs' predictions, see :mod:`.stats`) and gives the
paper's six claims, and the study's own, a verdict: supported, contradicted, mixed, incomplete or not
resolved. The comparisons and the claims they check are the records of :mod:`.claims`.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd

from ..plots import METHOD_LABELS, MODE_LABELS, method_key, smoothing_window
from ..vocab import PROMPT_MODES, TABLE_VARIANTS
from .claims import Comparison, claim_finding, claims_of, comparison_record, pair_comparison
from .collect import finished_runs, read_predictions, reference_of
from .stats import comparison_verdict, excludes_zero, paired_comparison, seed_interval

TIE_POINTS = 0.005  # |difference| below this many points (i.e. 0.00 when printed): no difference

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
    "chance",
    "majority",
    "collapsed",
    "top_answer",
    "top_share",
]
FORMAT_FAILURE = 50.0  # format compliance (%) below which a finding says its accuracy measures a format failure


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


def _cell_interval(accs: list[float], ns: list[int], cis: list) -> tuple[float, float]:
    """A cell's 95% interval in %: from the seeds' accuracies and sizes (Wilson, or the seed interval);
    without sizes for every seed, the mean of the recorded per-seed bounds."""
    if accs and len(ns) == len(accs) and all(n > 0 for n in ns):
        lo, hi = seed_interval([a / 100 for a in accs], ns)
        return 100 * lo, 100 * hi
    return _mean([100 * float(c[0]) for c in cis]), _mean([100 * float(c[1]) for c in cis])


def chance_level(collected: dict, key: str) -> tuple[float, float]:
    """A benchmark's chance level and majority baseline (%), from the predictions of one of its finished
    runs (rotation 0, one mode): chance is the mean over items of 1 / the number of choices (a binary
    item without choices: 1/2; a classification without a class list: 1 / the labels seen); majority
    is the share of the commonest right answer (a model that always gives it scores this). NaN when no
    finished run has predictions."""
    for r in collected["runs"]:
        if r["benchmark"] != key or r["status"] != "finished" or not r.get("predictions_path"):
            continue
        rows = [p for p in read_predictions(r["predictions_path"]) if not p.get("rotation")]
        mode = rows[0].get("mode") if rows else None
        rows = [p for p in rows if p.get("mode") == mode]
        if not rows:
            continue
        labels = {str(p.get("solution")) for p in rows}
        task = (r.get("metrics") or {}).get("task")
        per = []
        for p in rows:
            k = len(p.get("choices") or []) or (2 if task == "binary" else len(labels))
            if k > 1:
                per.append(1 / k)
        counts = pd.Series([str(p.get("solution")) for p in rows]).value_counts()
        return 100 * float(np.mean(per)) if per else float("nan"), 100 * float(counts.iloc[0]) / len(rows)
    return float("nan"), float("nan")


def table1(collected: dict) -> pd.DataFrame:
    """The tidy Table 1: one row per benchmark, variant (method) and mode, seeds aggregated.

    Columns: ``benchmark``, ``label``, ``task_kind``, ``method``, ``mode``, ``accuracy`` (mean over
    seeds, %), ``accuracy_std`` (across seeds, %; NaN for one seed), ``ci_low``/``ci_high`` (mean of
    the per-seed 95% interval bounds, %), ``n`` (evaluation samples per seed), ``n_seeds`` (seeds with a
    result), ``n_seeds_expected`` (runs expected for the cell), ``seeds``,
    ``format_rate`` (%), ``mean_response_tokens``, ``circular_accuracy`` (%),
    ``mean_per_class_accuracy`` (%), ``paper_accuracy`` (%, from study.yaml's reference), ``chance`` and
    ``majority`` (%, the benchmark's, :func:`chance_level`), ``collapsed`` (a seed's answers collapsed
    onto one option, see ``answers`` in the evaluation's metrics), ``top_answer`` (that option, else
    the commonest answer) and ``top_share`` (% of items given the commonest answer, seed mean). A cell
    without a finished run has ``n_seeds == 0`` and NaN numbers.
    """
    paper = paper_table(collected.get("study") or {})
    rows = []
    for key, info in collected["benchmarks"].items():
        chance, majority = chance_level(collected, key)
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
                ci = _cell_interval(accs, ns, cis)

                def pct(field, per=per):
                    return _mean([100 * float(m[field]) for _, m in per if m.get(field) is not None])

                pref = paper.get(info["label"]) or paper.get(key) or {}
                answers = [m["answers"] for _, m in per if isinstance(m.get("answers"), dict)]
                collapsed = [a for a in answers if a.get("collapsed")]
                rows.append(
                    {
                        "benchmark": key,
                        "label": info["label"],
                        "task_kind": info["task_kind"],
                        "method": variant,
                        "mode": mode,
                        "accuracy": _mean(accs),
                        "accuracy_std": float(np.std(accs, ddof=1)) if len(accs) > 1 else float("nan"),
                        "ci_low": ci[0],
                        "ci_high": ci[1],
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
                        "chance": chance,
                        "majority": majority,
                        "collapsed": bool(collapsed),
                        "top_answer": (collapsed or answers or [{}])[0].get("top"),
                        "top_share": _mean(
                            [100 * float(a["top_share"]) for a in answers if a.get("top_share") is not None]
                        ),
                    }
                )
    return pd.DataFrame(rows, columns=TABLE1_COLUMNS)


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


def _direction(diff: float) -> int:
    return 0 if abs(diff) < TIE_POINTS else (1 if diff > 0 else -1)


def outcomes(collected: dict | None, key: str, variant: str, mode: str, cache: dict | None = None) -> dict:
    """``{seed: {item id: correct}}`` of one cell's finished runs, from their ``eval/predictions.jsonl``
    (rotation 0 only; seeds without predictions are left out)."""
    out: dict = {}
    if not collected:
        return out
    cache = {} if cache is None else cache
    for r in finished_runs(collected, key, variant):
        path = r.get("predictions_path")
        if not path:
            continue
        if path not in cache:
            cache[path] = read_predictions(path)
        by_id = {
            str(p["id"]): bool(p["correct"])
            for p in cache[path]
            if p.get("mode") == mode and int(p.get("rotation") or 0) == 0 and "id" in p and "correct" in p
        }
        if by_id:
            out[r["seed"]] = by_id
    return out


def paired(a: dict, b: dict) -> list[list[tuple[bool, bool]]]:
    """The items of two cells' :func:`outcomes` matched by seed, then by id: per common seed, the
    ``(a_correct, b_correct)`` pairs in id order.

    >>> paired({0: {"x": True, "y": False}, 1: {"x": True}}, {0: {"y": True, "x": True, "z": False}})
    [[(True, True), (False, True)]]
    """
    return [[(a[s][i], b[s][i]) for i in sorted(set(a[s]) & set(b[s]))] for s in sorted(set(a) & set(b), key=str)]


def _stats_clause(comp: dict | None, verdict: str, by: str | None = None) -> str:
    if comp is None:
        return "no paired predictions, so no interval: not resolved"
    lo, hi = comp["ci95"]
    seeds = f", {comp['n_seeds']} seeds" if comp["n_seeds"] > 1 else ""
    where = "excludes 0" if excludes_zero(comp["ci95"]) else "includes 0, so the difference is not resolved"
    whose = "the paper" if (by or "").startswith("paper.") else "this study's claim"
    words = {"supported": f" (as {whose} says)", "contradicted": f" (against {whose})"}.get(verdict, "")
    return (
        f"paired difference {comp['difference_points']:+.2f} points, 95% interval [{lo:+.2f}, {hi:+.2f}] "
        f"({comp['n']} paired items{seeds}), McNemar p = {comp['p_value']:.3g}; "
        f"the 95% interval of the difference {where}{words}"
    )


def _paper_clause(paper_diff: float | None, diff: float) -> tuple[str, bool | None]:
    if paper_diff is None:
        return "", None
    same = _direction(paper_diff) == _direction(diff)
    return (f" Paper: {paper_diff:+.2f} points ({'same' if same else 'opposite'} sign)."), same


def _pair_finding(ctx, c: Comparison) -> dict:
    """The finding of one :class:`~.claims.Comparison` (difference A - B, in points); its
    ``expected_sign`` is the direction of the first claim that covers the pair (+1: A above B), whose id
    is ``expected_by``."""
    table, collected, cache = ctx
    key, a_name, b_name, sign = c.benchmark, c.a_name, c.b_name, c.sign
    a, b = cell(table, key, *c.a), cell(table, key, *c.b)
    base = {
        "id": c.id,
        "group": c.group,
        "benchmark": key,
        "label": c.label,
        "expected_sign": sign,
        "expected_by": c.claim,
        **c.extra,
    }
    if a is None or b is None:
        lacking = " and ".join(n for n, x in ((a_name, a), (b_name, b)) if x is None)
        return {
            **base,
            "text": f"{c.subject}: cannot be compared, the {lacking} result is missing.",
            "values": None,
            "difference": None,
            "direction": None,
            "comparison": None,
            "verdict": "not_resolved",
            "within_noise": None,
            "same_sign_as_paper": None,
        }
    diff = float(a["accuracy"]) - float(b["accuracy"])
    direction = _direction(diff)
    pairs = paired(outcomes(collected, key, *c.a, cache), outcomes(collected, key, *c.b, cache))
    stats = paired_comparison(pairs)
    verdict = comparison_verdict(stats["ci95"] if stats else None, sign)
    comp = comparison_record(c, stats, diff, verdict)
    pa, pb = num(a.get("paper_accuracy")), num(b.get("paper_accuracy"))
    paper_diff = pa - pb if pa is not None and pb is not None else None
    up, down, tie = c.verbs
    if direction == 0:
        core = f"{tie} ({a_name} {a['accuracy']:.2f}% vs {b_name} {b['accuracy']:.2f}%)"
    else:
        core = (
            f"{up if direction > 0 else down} by {abs(diff):.2f} points "
            f"({a_name} {a['accuracy']:.2f}% vs {b_name} {b['accuracy']:.2f}%)"
        )
    paper_text, same = _paper_clause(paper_diff, diff)
    caveats = [x for x in (cell_caveat(a), cell_caveat(b)) if x]
    caveat_text = f" Caveat: {'; '.join(caveats)}." if caveats else ""
    return {
        **base,
        "text": f"{c.subject}: {core}; {_stats_clause(stats, verdict, c.claim)}.{paper_text}{caveat_text}",
        "caveats": caveats,
        "values": {
            a_name: float(a["accuracy"]),
            b_name: float(b["accuracy"]),
            f"{a_name} ci95": [num(a["ci_low"]), num(a["ci_high"])],
            f"{b_name} ci95": [num(b["ci_low"]), num(b["ci_high"])],
        },
        "difference": diff,
        "direction": {1: "up", -1: "down", 0: "none"}[direction],
        "comparison": comp,
        "verdict": verdict,
        "within_noise": None if stats is None else not excludes_zero(stats["ci95"]),
        "paper_difference": paper_diff,
        "same_sign_as_paper": same,
    }


def cell_caveat(c: dict) -> str | None:
    """What a reader must know before comparing a cell: its model collapsed onto one answer, or it
    mostly missed the required format (its accuracy then measures that failure); None otherwise.

    >>> cell_caveat({"method": "sft", "mode": "think", "format_rate": 0.0, "collapsed": False})
    'SFT w/ think answered in the required format for 0% of the items, so its accuracy measures a format failure'
    >>> cell_caveat({"method": "rft", "mode": "think", "format_rate": 99.0, "collapsed": True, "top_answer": "A",
    ...              "top_share": 93.0})
    "RFT w/ think collapsed onto one answer ('A' for 93% of the items)"
    """
    name = f"{METHOD_LABELS.get(c.get('method'), c.get('method'))} {MODE_LABELS.get(c.get('mode'), c.get('mode'))}"
    out = []
    if c.get("collapsed"):
        share = num(c.get("top_share"))
        out.append(
            f"{name} collapsed onto one answer ('{c.get('top_answer')}'"
            + (f" for {share:.0f}% of the items)" if share is not None else ")")
        )
    fmt = num(c.get("format_rate"))
    if fmt is not None and fmt < FORMAT_FAILURE:
        out.append(
            f"{name} answered in the required format for {fmt:.0f}% of the items, so its accuracy measures a "
            "format failure"
        )
    return "; ".join(out) or None


def comparisons(found: list[dict]) -> list[dict]:
    """The ``comparisons`` of ``metrics.json``: one per finding whose two cells have a result."""
    return [f["comparison"] for f in found if f.get("comparison")]


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


def planned_comparisons(table: pd.DataFrame, benches: list[tuple[str, str, str]]) -> list[Comparison]:
    """The report's comparisons of ``(key, label, task kind)`` benchmarks, in the order of its findings:
    think vs no think per method, RFT vs SFT per mode, and RFT with vs without the length reward (think
    mode) on each benchmark with an ``rft_length`` variant."""
    think = [
        Comparison(
            f"think.{m}.{key}",
            "think",
            key,
            label,
            (m, "think"),
            (m, "no_think"),
            "w/ think",
            "w/o think",
            f"{METHOD_LABELS[m]} on {label}",
            ("thinking helps accuracy", "thinking hurts accuracy", "thinking makes no difference"),
            method=m,
        )
        for m in TABLE_VARIANTS
        for key, label, _ in benches
    ]
    rft_sft = [
        Comparison(
            f"rft_vs_sft.{key}.{mode}",
            "rft_vs_sft",
            key,
            label,
            ("rft", mode),
            ("sft", mode),
            "RFT",
            "SFT",
            f"{label}, {MODE_LABELS[mode]}",
            ("RFT beats SFT", "RFT trails SFT", "RFT and SFT tie"),
            mode=mode,
        )
        for key, label, _ in benches
        for mode in PROMPT_MODES
    ]
    length = [
        Comparison(
            f"length_reward.{key}",
            "length_reward",
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
            task_kind=kind,
        )
        for key, label, kind in benches
        if ((table["benchmark"] == key) & (table["method"] == "rft_length")).any()
    ]
    return think + rft_sft + length


def _length_finding(f: dict, table: pd.DataFrame, collected: dict | None) -> dict:
    """A length-reward finding with the response lengths of its two cells (evaluation and the end of
    training) added; it has no paper difference."""
    key = f["benchmark"]
    f.pop("paper_difference", None)
    f.pop("same_sign_as_paper", None)
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
            f"evaluation responses are {change} with the length reward ({tok_l:.0f} vs {tok_r:.0f} tokens on average)"
        )
    if tr_l is not None and tr_r is not None:
        extra.append(f"at the end of training (mean of the last logged steps), {tr_l:.0f} vs {tr_r:.0f} tokens")
    if extra and f["difference"] is not None:
        f["text"] += " Response length: " + "; ".join(extra) + "."
    return f


def _claim_comparisons(claims, benches, runs: set, planned: list[Comparison]) -> list[Comparison]:
    """The comparisons the claims ask for that :func:`planned_comparisons` does not make (group ``pair``),
    on each benchmark that a claim selects and that runs both of a pair's variants."""
    known = {(c.benchmark, c.a, c.b) for c in planned}
    extra = []
    for claim in claims:
        for key, label, kind in benches:
            for a, b in claim.pairs:
                if claim.selects(key, kind) and {(key, a[0]), (key, b[0])} <= runs and (key, a, b) not in known:
                    known.add((key, a, b))
                    extra.append(pair_comparison(key, label, a, b))
    return extra


def findings(table: pd.DataFrame, collected: dict | None = None, study: dict | None = None) -> list[dict]:
    """Sentences generated from the numbers (rules in docs/report.md), each a dict with ``id``, ``group``,
    ``text``, ``values``, ``difference`` (points, from Table 1), ``comparison`` (the paired statistics
    from the runs' predictions; an entry of ``metrics.json``'s ``comparisons``) and ``verdict``.

    Groups: ``think`` (think vs no think per method and benchmark), ``rft_vs_sft`` (per benchmark and
    mode), ``length_reward`` (RFT with vs without the length reward, think mode, per benchmark with an
    ``rft_length`` variant), ``pair`` (any other pair of cells a claim compares), ``paper`` (the paper's
    six claims of :data:`~.claims.PAPER`) and ``study`` (the study's own ``claims:``), each claim checked
    on the comparisons it expects: those of the benchmarks it selects that run both of a pair's
    variants. Without ``collected`` (no predictions) no comparison has an interval.
    """
    study = study if study is not None else (collected or {}).get("study") or {}
    synthetic = bool(study.get("synthetic", (collected or {}).get("synthetic", False)))
    benches = list(dict.fromkeys(zip(table["benchmark"], table["label"], table["task_kind"]))) if len(table) else []
    kinds = {key: kind for key, _, kind in benches}
    runs = set(zip(table["benchmark"], table["method"])) if len(table) else set()  # the study's (benchmark, variant)
    claims = claims_of(study)
    planned = planned_comparisons(table, benches)
    ctx = (table, collected, {})
    done = []
    for comp in planned + _claim_comparisons(claims, benches, runs, planned):
        owner = next((c for c in claims if c.covers(comp.benchmark, kinds[comp.benchmark], comp.a, comp.b)), None)
        comp = replace(comp, sign=owner and owner.sign, claim=owner and owner.id)
        f = _pair_finding(ctx, comp)
        done.append((comp, _length_finding(f, table, collected) if comp.group == "length_reward" else f))

    def expected(claim, comp):
        covered = claim.covers(comp.benchmark, kinds[comp.benchmark], comp.a, comp.b)
        return covered and {(comp.benchmark, comp.a[0]), (comp.benchmark, comp.b[0])} <= runs

    records = [claim_finding(c, [(comp, f) for comp, f in done if expected(c, comp)], synthetic) for c in claims]
    return [f for _, f in done] + records

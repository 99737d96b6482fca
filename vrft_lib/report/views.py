"""What the report notebook shows as text and tables: IPython Markdown objects and pandas Stylers.

Every value that comes from a study folder (labels, error messages, model responses, study.yaml) is
escaped here: :func:`md` for Markdown, ``escape="html"`` in every Styler of :func:`styled`.
"""

from __future__ import annotations

import datetime as dt
import html
import re
import sys

import pandas as pd
import plotly
from IPython.display import Markdown

from .. import __version__
from ..plots import METHOD_LABELS, MODE_LABELS
from ..vocab import PROMPT_MODES, TABLE_VARIANTS, TINY_MODEL, TINY_PER_SEED
from .claims import CLAIM_GROUPS
from .collect import UNREADABLE, variant_label
from .findings import cell, cell_caveat, num

MISSING = "—"
VERDICT_STYLE = {
    "supported": "color: #1a7f37; font-weight: bold",
    "contradicted": "color: #c62828; font-weight: bold",
    "mixed": "color: #b26a00; font-weight: bold",
    "incomplete": "color: #b26a00",
    "not resolved": "color: #666",
}
FINDING_GROUPS = {
    "think": "Thinking (w/ think vs w/o think), per method",
    "rft_vs_sft": "RFT vs SFT, per benchmark and mode",
    "length_reward": "The length reward (RFT + length reward vs RFT, final evaluation)",
    "pair": "Other comparisons the claims make",
}
WHOSE = {"paper": "the paper", "study": "this study"}  # whose claim a claim finding is
_MD_SPECIAL = re.compile(r"([\\`*_\[\]#|~$])")


# ----------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------


def md(value) -> str:
    """A value as literal Markdown text: HTML-escaped, Markdown's markup characters backslashed.

    >>> md("<b>SAT</b> *x*")
    '&lt;b&gt;SAT&lt;/b&gt; \\\\*x\\\\*'
    >>> md(None)
    ''
    """
    return _MD_SPECIAL.sub(r"\\\1", html.escape("" if value is None else str(value), quote=False))


def fmt(v, spec: str = ".2f", missing: str = MISSING) -> str:
    """A number formatted, or ``missing`` for None and NaN.

    >>> fmt(83.321), fmt(float("nan")), fmt(None, ".0f")
    ('83.32', '—', '—')
    """
    v = num(v) if not isinstance(v, str) else v
    return missing if v is None else format(v, spec)


def duration(seconds) -> str:
    """Seconds as ``H:MM:SS``.

    >>> duration(3725), duration(None)
    ('1:02:05', '—')
    """
    s = num(seconds)
    if s is None:
        return MISSING
    h, rem = divmod(int(round(s)), 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}"


def styled(df: pd.DataFrame, index: bool = False, wrap: bool = False):
    """A table for display: every cell and header HTML-escaped, left-aligned, the index hidden unless
    ``index``; ``wrap`` keeps line breaks and spaces of long text (model responses)."""
    s = df.style.format(escape="html", na_rep=MISSING).format_index(escape="html", axis=1)
    s = s.format_index(escape="html", axis=0) if index else s.hide(axis="index")
    props = {"text-align": "left", "vertical-align": "top"}
    if wrap:
        props["white-space"] = "pre-wrap"
    return s.set_properties(**props)


# ----------------------------------------------------------------------------------------------
# summary
# ----------------------------------------------------------------------------------------------


def summary_markdown(collected: dict) -> Markdown:
    """What was run: study, model, benchmarks, seeds, variants, how many runs finished, and whether the
    data are synthetic."""
    b = ", ".join(f"{v['label']} ({k}, {v['task_kind']})" for k, v in collected["benchmarks"].items())
    finished = sum(1 for r in collected["runs"] if r["status"] == "finished")
    seeds = seeds_text(collected["seeds"])
    lines = [
        f"Study **{md(collected['name'])}**: model {model_text(collected['model'])} on "
        f"{md(b or 'no benchmarks')}; {md(seeds)}. {variants_sentence(collected)} Every model is evaluated "
        f"without and with thinking. **{finished} of {len(collected['runs'])} runs finished.**"
    ]
    if collected["synthetic"]:
        lines.append(
            "**The data are synthetic** stand-ins for the paper's benchmarks and the model is not the "
            "paper's: compare the pattern with the paper, not the numbers."
        )
    else:
        lines.append("The data are the real benchmarks.")
    if collected.get("description"):
        lines.append(f"*{md(collected['description'])}*")
    lines += unreadable_lines(collected)
    lines.append(f"Generated {dt.datetime.now().isoformat(timespec='seconds')} from {md(collected['study_dir'])}.")
    return Markdown("\n\n".join(lines))


def model_text(model: str | None) -> str:
    """The study's model as the summary names it (Markdown, escaped).

    >>> model_text("tiny:seed")
    'tiny:seed (each seed on its own build of the tiny base: seed k on tiny:k)'
    >>> model_text(None), model_text("Qwen/Qwen2.5-VL-7B-Instruct")
    ('not stated', 'Qwen/Qwen2.5-VL-7B-Instruct')
    """
    if model == TINY_PER_SEED:
        return f"{md(model)} (each seed on its own build of the tiny base: seed k on {TINY_MODEL}:k)"
    return md(model or "not stated")


def variants_sentence(collected: dict) -> str:
    """What each benchmark is run as: the paper's sentence when the study runs the kit's variants, else
    (or in addition) the labels of the variants the study defines."""
    ran = {r["variant"] for r in collected["runs"]}
    own = [d for v, d in (collected.get("variants") or {}).items() if d.get("defined_by") != "kit" and v in ran]
    kit = set(TABLE_VARIANTS) & ran
    text = ""
    if kit:
        text = "Each benchmark is run training-free, after SFT and after RFT (GRPO)" + (
            ", and after RFT with the length reward where listed" if "rft_length" in ran else ""
        )
    if own:
        names = ", ".join(md(d["label"]) for d in own)
        text += (", and as " if text else "Each benchmark is run as ") + f"the study's own variants: {names}"
    return (text or "No run is listed") + "."


def unreadable_lines(collected: dict) -> list[str]:
    """The runs whose files cannot be read (left out of every number) and the study files that are not
    used, each with the file and why."""
    runs = [r for r in collected["runs"] if r["status"] == UNREADABLE]
    lines = []
    if runs:
        names = [
            f"{r['label']} / {variant_label(collected, r['variant'])} / seed {r['seed']} ({r['reason']})" for r in runs
        ]
        lines.append(
            f"**{len(runs)} finished run{'s' if len(runs) > 1 else ''} cannot be read** and "
            f"{'are' if len(runs) > 1 else 'is'} left out of every table, figure and statistic (listed under "
            f"Missing runs): {md('; '.join(names))}."
        )
    for text in collected.get("unreadable_files") or []:
        lines.append(f"**Not used, it cannot be read:** {md(text)}.")
    return lines


def seeds_text(seeds) -> str:
    """``seed 0`` or ``seeds 0, 1, 2``.

    >>> seeds_text([0]), seeds_text([0, 1, 2]), seeds_text([])
    ('seed 0', 'seeds 0, 1, 2', 'no seeds')
    """
    seeds = [str(s) for s in seeds]
    return f"seed {seeds[0]}" if len(seeds) == 1 else (f"seeds {', '.join(seeds)}" if seeds else "no seeds")


def cell_name(c: dict, collected: dict | None = None) -> str:
    """``benchmark / variant mode``, the variant by its label."""
    name = variant_label(collected, c["method"]) if collected else METHOD_LABELS.get(c["method"], c["method"])
    return f"{c['label']} / {name} {MODE_LABELS.get(c['mode'], c['mode'])}"


def key_findings(table: pd.DataFrame, collected: dict, found: list[dict]) -> Markdown:
    """The report in a few sentences: the best cell of each benchmark against its chance level, the
    verdicts on the paper's claims, the cells to judge with care (a collapsed model, a format failure)
    and how many comparisons did not resolve."""
    lines = []
    best = []
    for key, info in collected["benchmarks"].items():
        cells = [c for m in TABLE_VARIANTS for md_ in PROMPT_MODES if (c := cell(table, key, m, md_))]
        if cells:
            top = max(cells, key=lambda c: c["accuracy"])
            chance = num(top.get("chance"))
            best.append(
                f"{md(info['label'])} {top['accuracy']:.1f}% ({METHOD_LABELS[top['method']]} "
                f"{MODE_LABELS[top['mode']]}" + (f"; chance {chance:.0f}%)" if chance is not None else ")")
            )
    if best:
        lines.append("**Best cell per benchmark:** " + "; ".join(best) + ".")
    for group, title in (("paper", "The paper's"), ("study", "This study's own")):
        claims = [f for f in found if f["group"] == group]
        if claims:
            by: dict[str, list[str]] = {}
            for c in claims:
                by.setdefault(verdict(c["verdict"]), []).append(c["claim"])
            parts = [f"{len(v)} {k} ({md('; '.join(v))})" for k, v in by.items()]
            lines.append(f"**{title} {len(claims)} claims on these numbers:** " + ", ".join(parts) + ".")
    flagged = [
        f"{md(cell_name(row, collected))}: {md(text)}"
        for row in table.to_dict(orient="records")
        if row.get("n_seeds") and (text := cell_caveat(row))
    ]
    if flagged:
        lines.append("**Judge with care** (every finding that uses these cells says so): " + "; ".join(flagged) + ".")
    comps = [f["comparison"] for f in found if f.get("comparison")]
    if comps:
        open_ = sum(1 for c in comps if c["verdict"] == "not_resolved")
        lines.append(
            f"**Not resolved:** {open_} of {len(comps)} paired comparisons have a 95% interval that includes 0 "
            "(or no paired items): more items or seeds are needed to tell them apart."
        )
    return Markdown("\n\n".join(lines) or "No finished run yet: nothing to summarise.")


def runs_view(collected: dict):
    """Per benchmark and variant: how many of its runs finished."""
    rows = {}
    for r in collected["runs"]:
        row = rows.setdefault(
            (r["benchmark"], r["variant"]),
            {
                "benchmark": r["label"],
                "key": r["benchmark"],
                "task kind": r["task_kind"],
                "variant": variant_label(collected, r["variant"]),
                "seeds": [],
                "finished": 0,
                "runs": 0,
            },
        )
        row["runs"] += 1
        row["finished"] += r["status"] == "finished"
        row["seeds"].append(str(r["seed"]))
    df = pd.DataFrame(
        [{**r, "seeds": " ".join(r["seeds"]), "finished": f"{r['finished']} of {r['runs']}"} for r in rows.values()],
        columns=["benchmark", "key", "task kind", "variant", "seeds", "finished", "runs"],
    )
    return styled(df.drop(columns="runs"))


# ----------------------------------------------------------------------------------------------
# Table 1
# ----------------------------------------------------------------------------------------------


def cell_text(c: dict | None) -> str:
    """One of our Table 1 cells: accuracy (± std across seeds), the 95% interval, and the seeds.

    >>> cell_text({"accuracy": 85.0, "accuracy_std": 2.0, "ci_low": 82.0, "ci_high": 88.0, "n_seeds": 3,
    ...            "n_seeds_expected": 3})
    '85.00 ± 2.00\\n[82.00, 88.00] · 3 seeds'
    >>> cell_text(None)
    '—'
    """
    if c is None:
        return MISSING
    main = f"{c['accuracy']:.2f}" + (f" ± {fmt(c['accuracy_std'])}" if c["n_seeds"] > 1 else "")
    seeds = f" · {int(c['n_seeds'])} seeds" if c["n_seeds"] > 1 else ""
    if c["n_seeds"] < c["n_seeds_expected"]:
        seeds = f" · {int(c['n_seeds'])} of {int(c['n_seeds_expected'])} seeds"
    text = f"{main}\n[{fmt(c['ci_low'])}, {fmt(c['ci_high'])}]{seeds}"
    if num(c.get("format_rate")) is not None:
        text += f"\nformat {c['format_rate']:.0f}%"
    if c.get("collapsed"):
        share = num(c.get("top_share"))
        text += f"\n⚠ collapsed: '{c.get('top_answer')}'" + (f" {share:.0f}%" if share is not None else "")
    return text


def paper_label(collected: dict) -> str:
    """The name of the paper's rows: with synthetic data, they are a different model and data."""
    return "Paper (different model and data)" if collected["synthetic"] else "Paper"


def table1_view(table: pd.DataFrame, collected: dict):
    """Table 1 as the paper lays it out: per benchmark a row *Ours* (accuracy %, 95% interval, seeds;
    the best cell bold) and a row with the paper's numbers; columns method x prompt mode."""
    return cells_view(table, collected, TABLE_VARIANTS, {m: METHOD_LABELS[m] for m in TABLE_VARIANTS}, paper=True)


def cells_view(table: pd.DataFrame, collected: dict, variants, labels: dict, paper: bool):
    """Per benchmark a row *Ours* (the best cell bold) and, with ``paper`` and reference numbers, a row
    with the paper's; columns variant x prompt mode."""
    has_paper = paper and bool(len(table)) and table["paper_accuracy"].notna().any()
    columns = pd.MultiIndex.from_tuples([(labels[m], MODE_LABELS[md_]) for m in variants for md_ in PROMPT_MODES])
    rows, index, bold = [], [], []
    for key, info in collected["benchmarks"].items():
        ran = len(table) and ((table["benchmark"] == key) & table["method"].isin(list(variants))).any()
        if not (paper or ran):  # Table 2: a benchmark none of its variants ran on
            continue
        cells = [cell(table, key, m, md_) for m in variants for md_ in PROMPT_MODES]
        best = max((c["accuracy"] for c in cells if c), default=None)
        # the sizes as floats (the column holds NaN for a missing cell), written as counts below
        ns = sorted({num(c["n"]) for c in cells if c and num(c.get("n")) is not None})
        chance = next((num(c.get("chance")) for c in cells if c and num(c.get("chance")) is not None), None)
        majority = next((num(c.get("majority")) for c in cells if c and num(c.get("majority")) is not None), None)
        facts = (
            ([f"n = {', '.join(str(int(n)) if n.is_integer() else str(n) for n in ns)}"] if ns else [])
            + ([f"chance {chance:.0f}%"] if chance is not None else [])
            + ([f"majority {majority:.0f}%"] if majority is not None else [])
        )
        name = info["label"] + (f" ({'; '.join(facts)})" if facts else "")
        rows.append([cell_text(c) for c in cells])
        index.append((name, "Ours"))
        bold.append([c is not None and c["accuracy"] == best for c in cells])
        if has_paper:
            sub = table[table["benchmark"] == key]
            ref = [
                sub[(sub["method"] == m) & (sub["mode"] == md_)]["paper_accuracy"]
                for m in variants
                for md_ in PROMPT_MODES
            ]
            rows.append([fmt(p.iloc[0] if len(p) else None) for p in ref])
            index.append((name, paper_label(collected)))
            bold.append([False] * len(cells))
    idx = pd.MultiIndex.from_tuples(index, names=["benchmark", "numbers"]) if index else None
    df = pd.DataFrame(rows, index=idx, columns=columns)
    weight = pd.DataFrame(bold, index=df.index, columns=columns).replace({True: "font-weight: bold", False: ""})
    return styled(df, index=True, wrap=True).apply(lambda _: weight, axis=None)


def table1_note(table: pd.DataFrame, collected: dict) -> Markdown:
    """Where the paper's rows come from, and what may be compared with them."""
    if not (len(table) and table["paper_accuracy"].notna().any()):
        return Markdown("study.yaml has no reference numbers: the paper's Table 1 is not shown.")
    ref = collected["study"].get("reference")
    src = md((ref if isinstance(ref, dict) else {}).get("source") or "the paper's Table 1")
    if collected["synthetic"]:
        return Markdown(
            f"**{paper_label(collected)}** rows are the paper's own numbers ({src}): a different "
            "model on the real benchmarks, while ours come from synthetic stand-in benchmarks and the "
            "model of this study. Only the pattern (which cell is higher) is comparable."
        )
    return Markdown(f"**Paper** rows are the paper's own numbers ({src}), not ours.")


def missing_view(table: pd.DataFrame, collected: dict) -> list:
    """The Table 1 cells without a result and the runs that did not finish, with why."""
    miss = collected["missing"]
    cells = table[table["n_seeds"] == 0] if len(table) else table
    if not miss and cells.empty:
        return [Markdown("Every expected run finished.")]
    out = []
    if not cells.empty:
        names = [
            f"{r.label} / {variant_label(collected, r.method)} / {MODE_LABELS[r.mode]}" for r in cells.itertuples()
        ]
        out.append(Markdown(f"**Missing cells** (shown as {MISSING}): {md('; '.join(names))}."))
    if miss:
        df = pd.DataFrame(miss)[["label", "variant", "seed", "status", "reason"]]
        out.append(styled(df.rename(columns={"label": "benchmark", "reason": "why"})))
    return out


def length_table(table: pd.DataFrame, collected: dict):
    """The final evaluation of RFT with and without the length reward, per benchmark with an RFT +
    length reward run."""
    keys = [
        k
        for k in collected["benchmarks"]
        if len(table) and ((table["benchmark"] == k) & (table["method"] == "rft_length")).any()
    ]
    if not keys:
        return Markdown("No benchmark has an RFT + length reward run.")
    rows = []
    for k in keys:
        for v in ("rft", "rft_length"):
            cells = [cell(table, k, v, md_) for md_ in PROMPT_MODES]
            acc = [f"{c['accuracy']:.2f} [{fmt(c['ci_low'])}, {fmt(c['ci_high'])}]" if c else MISSING for c in cells]
            rows.append(
                {
                    "benchmark": collected["benchmarks"][k]["label"],
                    "variant": METHOD_LABELS[v],
                    "w/o think (%)": acc[0],
                    "w/ think (%)": acc[1],
                    "mean response tokens (w/ think)": fmt(cells[1]["mean_response_tokens"], ".0f")
                    if cells[1]
                    else MISSING,
                }
            )
    return styled(pd.DataFrame(rows))


# ----------------------------------------------------------------------------------------------
# findings
# ----------------------------------------------------------------------------------------------


def findings_markdown(found: list[dict]) -> Markdown:
    """The generated sentences, grouped (thinking, RFT vs SFT, the length reward)."""
    out = []
    for group, title in FINDING_GROUPS.items():
        items = [f for f in found if f["group"] == group]
        if items:
            out.append(f"#### {title}\n\n" + "\n".join(f"- {md(f['text'])}" for f in items))
    return Markdown("\n\n".join(out) or "No finding could be generated.")


def verdict(word: str | None) -> str:
    """A verdict in words (``not_resolved`` reads "not resolved"; None is "not resolved" too).

    >>> verdict("supported"), verdict("not_resolved"), verdict("a_higher"), verdict(None)
    ('supported', 'not resolved', 'A higher', 'not resolved')
    """
    return {"a_higher": "A higher", "b_higher": "B higher"}.get(word or "", (word or "not_resolved").replace("_", " "))


def claims_view(found: list[dict]):
    """The claims checked on our numbers, the paper's then the study's own: whose, the claim, its
    quantifier, our numbers, the counts and the verdict."""
    rows = [
        {
            "whose": WHOSE[c["group"]],
            "claim": c["claim"],
            "holds on": f"{c['quantifier']} comparison",
            "our numbers": c["text"],
            "supported / contradicted / not resolved / missing": f"{c['n_supported']} / {c['n_contradicted']} / "
            f"{c['n_not_resolved']} / {c['n_missing']}",
            "verdict": verdict(c["verdict"]),
        }
        for c in found
        if c["group"] in CLAIM_GROUPS
    ]
    cols = [
        "whose",
        "claim",
        "holds on",
        "our numbers",
        "supported / contradicted / not resolved / missing",
        "verdict",
    ]
    return styled(pd.DataFrame(rows, columns=cols)).map(lambda v: VERDICT_STYLE.get(v, ""), subset=["verdict"])


def _side(side: dict) -> str:
    return f"{METHOD_LABELS.get(side['method'], side['method'])}, {MODE_LABELS.get(side['mode'], side['mode'])}"


def comparisons_view(found: list[dict]):
    """Every paired comparison: A, B, the difference A - B with its 95% paired bootstrap interval, the
    exact McNemar p-value, the paired items and the verdict."""
    rows = []
    for f in found:
        c = f.get("comparison")
        if not c:
            continue
        ci = c["ci95"]
        rows.append(
            {
                "benchmark": f["label"],
                "A": _side(c["a"]),
                "B": _side(c["b"]),
                "A − B (points)": fmt(c["difference_points"], "+.2f"),
                "95% interval": MISSING if ci is None else f"[{ci[0]:+.2f}, {ci[1]:+.2f}]",
                "McNemar p": MISSING if c["p_value"] is None else f"{c['p_value']:.3g}",
                "paired items": c["n"],
                "verdict": verdict(c["verdict"]),
            }
        )
    if not rows:
        return Markdown("No pair of cells could be compared.")
    return styled(pd.DataFrame(rows)).map(lambda v: VERDICT_STYLE.get(v, ""), subset=["verdict"])


def claims_note(collected: dict) -> Markdown:
    """How the claims are checked (and, for synthetic data, that only the pattern is compared)."""
    text = (
        "Each difference is paired: the same items answered by both cells (rotation 0), matched by id. "
        "Its 95% interval is a paired bootstrap (seeds resampled, then items), its p-value an exact "
        "McNemar test. A difference *supports* a claim when it has the claim's sign and its interval "
        "excludes 0, *contradicts* it when it has the opposite sign and its interval excludes 0, and is "
        "*not resolved* otherwise; it is *missing* when a cell has no result. A claim about *every* comparison "
        "it covers is *supported* only when each one is there and resolved its way, *contradicted* when a "
        "resolved one goes against it, *incomplete* when one is missing, *mixed* when some are resolved its "
        "way and the rest are not, and *not resolved* when none is. A claim about *any* comparison is "
        "*supported* when a resolved one goes its way and none against, *contradicted* when the resolved ones "
        "all go against it, *mixed* when they go both ways, and otherwise *incomplete* (one is missing) or "
        "*not resolved*. Claims marked *this study* are the study's own (its `claims:`), not the paper's."
    )
    if collected["synthetic"]:
        text += " Our numbers come from a different model and synthetic data, so only the pattern is compared."
    return Markdown(text)


# ----------------------------------------------------------------------------------------------
# how it was made
# ----------------------------------------------------------------------------------------------


def code_block(text: str, lang: str = "") -> str:
    """Text as a fenced Markdown code block (the fence longer than any run of backticks in it).

    >>> code_block("a: 1", "yaml")
    '```yaml\\na: 1\\n```'
    """
    fence = "`" * max(3, 1 + max((len(m) for m in re.findall(r"`+", text)), default=0))
    return f"{fence}{lang}\n{text.rstrip()}\n{fence}"


def how_markdown(collected: dict, prov: dict) -> Markdown:
    """The study's parameters (study.yaml), seeds, git commits, Python and hardware of the runs."""
    commits = prov["git_commits"]
    lines = [
        "**Study parameters** (study.yaml):",
        code_block(collected["study_yaml"], "yaml"),
        f"**Seeds:** {md(', '.join(str(s) for s in collected['seeds']) or MISSING)}",
        "**Git commit:** "
        + (md("; ".join(f"{c} ({n} runs)" for c, n in commits.items())) if commits else "not recorded"),
    ]
    if prov["python"]:
        lines.append(f"**Python:** {md(', '.join(prov['python']))}")
    if prov["hardware"]:
        lines.append(
            "**Hardware:**\n\n"
            + "\n".join(
                f"- {md(', '.join(f'{k}: {v}' for k, v in h['hardware'].items()))} ({h['runs']} runs)"
                for h in prov["hardware"]
            )
        )
    return Markdown("\n\n".join(lines))


def packages_view(prov: dict):
    """The package versions the runs recorded (several when runs differ); a sentence when none did."""
    if not prov["packages"]:
        return Markdown("No run recorded its package versions (eval/provenance.json).")
    return styled(
        pd.DataFrame([{"package": k, "version(s) in the runs": ", ".join(v)} for k, v in prov["packages"].items()])
    )


def made_with() -> Markdown:
    """The versions that rendered this report."""
    return Markdown(
        f"Report built by vrft {md(__version__)} with Python {md(sys.version.split()[0])}, "
        f"pandas {md(pd.__version__)}, plotly {md(plotly.__version__)}."
    )


def timings_view(timings: dict):
    """Wall time per run: total, training, steps, seconds per step, evaluation, samples per second."""
    rows = [
        {
            "benchmark": t["label"],
            "variant": t["variant"],
            "seed": t["seed"],
            "status": t["status"],
            "wall": duration(t["wall_seconds"]),
            "train (s)": fmt(t["train_seconds"], ".1f"),
            "steps": MISSING if t["steps"] is None else str(t["steps"]),
            "s / step": fmt(t["mean_step_seconds"], ".3f"),
            "eval (s)": fmt(t["eval_seconds"], ".1f"),
            "samples / s": fmt(t["samples_per_second"], ".2f"),
            "finished": t["finished"] or MISSING,
        }
        for t in timings["per_run"]
    ]
    return styled(pd.DataFrame(rows))


def timings_markdown(timings: dict, collected: dict) -> Markdown:
    """The total wall time of the runs, and what the last `vrft study` call did."""
    text = (
        f"**Total wall time** (sum over {timings['runs_with_wall_time']} finished runs): "
        f"{duration(timings['total_wall_seconds'])} ({timings['total_wall_seconds']:.0f} s)."
    )
    inv = collected.get("last_invocation") or {}
    if isinstance(inv.get("total_seconds"), (int, float)):
        text += (
            f"\n\nThe last invocation of the study ran {len(inv.get('ran') or [])} run(s) and took "
            f"{duration(inv['total_seconds'])} in all ({len(inv.get('failures') or [])} failed); peak memory "
            f"{md(inv.get('peak_rss_mb', MISSING))} MB, output folder {md(inv.get('output_mb', MISSING))} MB."
        )
    return Markdown(text)

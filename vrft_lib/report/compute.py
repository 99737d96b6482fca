"""What the runs cost, read from their ``train/compute.json`` and ``eval/compute.json``
(:mod:`vrft_lib.compute`): a compute column for the set-up table, the RFT-to-SFT compute ratios per
benchmark, and accuracy against training compute.

Runs without those files (written before the kit recorded compute) show no compute and are left out
of the ratios and the figure. A training-free run has only evaluation compute: in the figure it is a
horizontal line (no training compute to place it at on a log axis).
"""

from __future__ import annotations

import html
import math
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
from IPython.display import Markdown
from plotly.subplots import make_subplots

from ..compute import COMPUTE_FILE, FIELDS
from ..files import read_json
from ..plots import METHOD_LABELS, MODE_LABELS, color_for
from ..vocab import PROMPT_MODES
from .views import md

# The training compute the figure can be drawn against (its buttons), the first one by default.
X_AXES = {
    "device_hours": "training device-hours",
    "sequence_tokens": "training tokens processed (sequence tokens)",
    "tokens_trained": "tokens in the training loss",
}
MATCHED_WITHIN = 1.25  # two runs' training compute is "matched" when neither used more than 1.25x the other's
MODE_SYMBOLS = {"no_think": "circle", "think": "diamond"}
MODE_DASHES = {"no_think": "dot", "think": "dash"}


def run_compute(run: dict) -> tuple[dict | None, dict | None]:
    """``(train, eval)`` compute records of one run record (from ``collect_study``); None when absent."""
    path = Path(run["path"])
    out = []
    for phase in ("train", "eval"):
        data = read_json(path / phase / COMPUTE_FILE)
        out.append(data if isinstance(data, dict) else None)
    return out[0], out[1]


def short(n) -> str:
    """A count in a few characters.

    >>> short(950), short(20_400), short(1_234_567), short(None)
    ('950', '20.4k', '1.23M', '—')
    """
    if n is None or (isinstance(n, float) and math.isnan(n)):
        return "—"
    n = float(n)
    for scale, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= scale:
            return f"{n / scale:.3g}{suffix}"
    return f"{n:.0f}"


def hours(h, unit: str | None) -> str:
    """Device-hours with two significant digits.

    >>> hours(0.02134, "CPU-h"), hours(12.5, "GPU-h"), hours(None, None)
    ('0.021 CPU-h', '12 GPU-h', '—')
    """
    if h is None:
        return "—"
    return f"{float(f'{h:.2g}'):g} {unit or ''}".strip()


def train_text(c: dict | None) -> str | None:
    """One training record in a few words.

    >>> train_text({"method": "grpo", "steps": 80, "completions": 2560, "sequence_tokens": 130_000,
    ...             "tokens_generated": 20_000, "device_hours": 0.02, "device_hours_unit": "CPU-h"})
    'train: 80 steps, 2,560 completions, 130k tokens (20k generated), 0.02 CPU-h'
    """
    if not c:
        return None
    if c.get("method") == "grpo":
        seen = f"{c.get('completions', 0):,} completions"
        inner = f"{short(c.get('tokens_generated'))} generated"
    else:
        seen = f"{c.get('examples', 0):,} examples"
        inner = f"{short(c.get('tokens_trained'))} targets"
    return (
        f"train: {c.get('steps')} steps, {seen}, {short(c.get('sequence_tokens'))} tokens ({inner}), "
        f"{hours(c.get('device_hours'), c.get('device_hours_unit'))}"
    )


def eval_text(c: dict | None) -> str | None:
    """One evaluation record in a few words.

    >>> eval_text({"tokens_generated": 12_000, "device_hours": 0.001, "device_hours_unit": "CPU-h"})
    'eval: 12k tokens generated, 0.001 CPU-h'
    """
    if not c:
        return None
    cost = hours(c.get("device_hours"), c.get("device_hours_unit"))
    return f"eval: {short(c.get('tokens_generated'))} tokens generated, {cost}"


def compute_text(run: dict) -> str:
    """A run's compute for the set-up table: ``train: ...; eval: ...`` (— without records)."""
    train, ev = run_compute(run)
    return "; ".join(t for t in (train_text(train), eval_text(ev)) if t) or "—"


# ----------------------------------------------------------------------------------------------
# per run, and RFT against SFT per benchmark
# ----------------------------------------------------------------------------------------------


def compute_rows(collected: dict) -> list[dict]:
    """One row per finished run with a compute record: its training and evaluation compute and its
    accuracy (%) per prompt mode."""
    rows = []
    for r in collected["runs"]:
        if r["status"] != "finished":
            continue
        train, ev = run_compute(r)
        if train is None and ev is None:
            continue
        modes = (r.get("metrics") or {}).get("modes") or {}
        rows.append(
            {
                "benchmark": r["benchmark"],
                "label": r["label"],
                "variant": r["variant"],
                "seed": r["seed"],
                "method": (train or {}).get("method") or "none",
                "train": train,
                "eval": ev,
                "accuracy": {
                    m: 100 * float(modes[m]["accuracy"])
                    for m in PROMPT_MODES
                    if isinstance(modes.get(m), dict) and modes[m].get("accuracy") is not None
                },
            }
        )
    return rows


def _mean(values):
    values = [float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return sum(values) / len(values) if values else None


RATIO_KEYS = ("device_hours", "sequence_tokens", "tokens_trained", "steps", "seconds")


def _side(rows: list[dict]) -> dict:
    """Seed means of a variant's training compute and accuracy."""
    out = {k: _mean([r["train"].get(k) for r in rows]) for k in RATIO_KEYS}
    out["device_hours_unit"] = rows[0]["train"].get("device_hours_unit")
    out["accuracy"] = {m: _mean([r["accuracy"].get(m) for r in rows]) for m in PROMPT_MODES}
    out["seeds"] = sorted(r["seed"] for r in rows)
    return out


def _ratio(a, b):
    return a / b if a is not None and b else None


def _times(x) -> str:
    return "—" if x is None else f"{x:.1f}×" if x < 100 else f"{x:,.0f}×"


def compute_comparisons(collected: dict) -> list[dict]:
    """Per benchmark, every GRPO-trained variant against every SFT-trained one (seed means): the
    ratio of their training compute (``device_hours``, ``sequence_tokens``, ``tokens_trained``,
    ``steps``, ``seconds``), whether it is matched (neither used more than 1.25x the other's
    device-hours, or tokens where no device-hours were recorded), both sides' accuracy, and a sentence."""
    rows = [r for r in compute_rows(collected) if r["train"]]
    out = []
    for key, info in collected["benchmarks"].items():
        mine = [r for r in rows if r["benchmark"] == key]
        by_variant: dict[str, list[dict]] = {}
        for r in mine:
            by_variant.setdefault(r["variant"], []).append(r)
        rft = [v for v, rs in by_variant.items() if rs[0]["method"] == "grpo"]
        sft = [v for v, rs in by_variant.items() if rs[0]["method"] == "sft"]
        for a in rft:
            for b in sft:
                sa, sb = _side(by_variant[a]), _side(by_variant[b])
                ratios = {k: _ratio(sa[k], sb[k]) for k in RATIO_KEYS}
                basis = ratios["device_hours"] if ratios["device_hours"] is not None else ratios["sequence_tokens"]
                matched = basis is not None and 1 / MATCHED_WITHIN <= basis <= MATCHED_WITHIN
                rec = {
                    "benchmark": key,
                    "label": info["label"],
                    "a": a,
                    "b": b,
                    "a_compute": sa,
                    "b_compute": sb,
                    "ratios": ratios,
                    "matched": matched,
                }
                rec["text"] = comparison_text(rec)
                out.append(rec)
    return out


def _name(variant: str) -> str:
    return METHOD_LABELS.get(variant, variant)


def _accuracies(side: dict) -> str:
    acc = side["accuracy"]
    return " / ".join("—" if acc.get(m) is None else f"{acc[m]:.1f}" for m in PROMPT_MODES) + " %"


def comparison_text(c: dict) -> str:
    """The sentence of one comparison (plain text; the report escapes it)."""
    a, b, sa, sb, r = _name(c["a"]), _name(c["b"]), c["a_compute"], c["b_compute"], c["ratios"]
    unit = sa.get("device_hours_unit") or sb.get("device_hours_unit") or "device-h"
    parts = [
        f"{c['label']}: {a} used {_times(r['sequence_tokens'])} {b}'s training tokens "
        f"({short(sa['sequence_tokens'])} vs {short(sb['sequence_tokens'])} processed; "
        f"{short(sa['tokens_trained'])} vs {short(sb['tokens_trained'])} in the loss)",
        f"{_times(r['device_hours'])} its {unit} "
        f"({hours(sa['device_hours'], unit)} vs {hours(sb['device_hours'], unit)})",
        f"over {short(sa['steps'])} vs {short(sb['steps'])} steps",
    ]
    text = ", ".join(parts) + "."
    modes = " / ".join(MODE_LABELS[m] for m in PROMPT_MODES)
    where = (
        f"At matched compute (within {MATCHED_WITHIN:g}×)"
        if c["matched"]
        else f"With {_times(r['device_hours'] if r['device_hours'] is not None else r['sequence_tokens'])} the compute"
    )
    text += f" {where}, {a} scored {_accuracies(sa)} and {b} {_accuracies(sb)} ({modes})."
    if len(sa["seeds"]) > 1 or len(sb["seeds"]) > 1:
        text += f" Seed means ({len(sa['seeds'])} and {len(sb['seeds'])} seeds)."
    return text


def compute_record(collected: dict) -> dict:
    """What ``metrics.json`` holds under ``compute``: the fields' definitions, every run's records and
    the comparisons."""
    rows = compute_rows(collected)
    return {
        "definitions": FIELDS,
        "matched_within": MATCHED_WITHIN,
        "runs": [{k: r[k] for k in ("benchmark", "variant", "seed", "method", "train", "eval")} for r in rows],
        "comparisons": compute_comparisons(collected),
    }


def compute_markdown(collected: dict) -> Markdown:
    """The comparisons as a list of sentences, or why there are none."""
    comps = compute_comparisons(collected)
    if not comps:
        return Markdown(
            "No benchmark has both an RFT and an SFT run that recorded its training compute (`train/compute.json`)."
        )
    return Markdown("\n".join(f"* {md(c['text'])}" for c in comps))


# ----------------------------------------------------------------------------------------------
# the figure: accuracy against training compute
# ----------------------------------------------------------------------------------------------


def compute_figure(collected: dict):
    """Accuracy (%) against training compute (log x), one panel per benchmark: each trained run a point
    per prompt mode (circle w/o think, diamond w/ think), coloured by variant; training-free as
    horizontal lines (dotted w/o think, dashed w/ think). Buttons switch the x axis between
    device-hours, tokens processed and tokens in the loss. A Markdown sentence when no run recorded
    its training compute."""
    rows = compute_rows(collected)
    trained = [r for r in rows if r["train"]]
    if not trained:
        return Markdown("No run recorded its training compute (`train/compute.json`), so there is nothing to plot.")
    benches = [
        (k, info["label"]) for k, info in collected["benchmarks"].items() if any(r["benchmark"] == k for r in rows)
    ]
    fig = make_subplots(rows=1, cols=len(benches), subplot_titles=[b[1] for b in benches], shared_yaxes=True)
    variants = list(dict.fromkeys(r["variant"] for r in trained))
    unit = trained[0]["train"].get("device_hours_unit") or "device-h"
    xs: list[dict] = []  # per trace, its x values under each axis choice
    for col, (key, _label) in enumerate(benches, start=1):
        for i, variant in enumerate(variants):
            runs = [r for r in trained if r["benchmark"] == key and r["variant"] == variant]
            for mode in PROMPT_MODES:
                pts = [r for r in runs if r["accuracy"].get(mode) is not None]
                if not pts:
                    continue
                name = f"{_name(variant)} {MODE_LABELS[mode]}"
                xs.append({k: [r["train"].get(k) for r in pts] for k in X_AXES})
                fig.add_trace(
                    go.Scatter(
                        x=xs[-1]["device_hours"],
                        y=[r["accuracy"][mode] for r in pts],
                        mode="markers",
                        name=name,
                        legendgroup=name,
                        showlegend=not any(t.name == name for t in fig.data),
                        marker=dict(color=color_for(variant, i), symbol=MODE_SYMBOLS[mode], size=11),
                        text=[
                            html.escape(f"seed {r['seed']}: {train_text(r['train'])}", quote=False).replace(
                                ", ", "<br>"
                            )
                            for r in pts
                        ],
                        hovertemplate="%{text}<br>accuracy %{y:.1f}%<extra>" + html.escape(name) + "</extra>",
                    ),
                    row=1,
                    col=col,
                )
        for mode in PROMPT_MODES:
            free = [r["accuracy"].get(mode) for r in rows if r["benchmark"] == key and r["method"] == "none"]
            level = _mean(free)
            if level is not None:
                fig.add_hline(
                    y=level,
                    line=dict(color=color_for("training_free"), dash=MODE_DASHES[mode], width=1.5),
                    annotation_text=f"training-free {MODE_LABELS[mode]}",
                    annotation_font_size=10,
                    row=1,
                    col=col,
                )
    axes = [f"xaxis{'' if c == 1 else c}" for c in range(1, len(benches) + 1)]

    def titles(k):
        text = f"{X_AXES[k]} ({unit})" if k == "device_hours" else X_AXES[k]
        return {f"{a}.title.text": text for a in axes}

    buttons = [
        dict(label=X_AXES[k].replace("training ", ""), method="update", args=[{"x": [x[k] for x in xs]}, titles(k)])
        for k in X_AXES
    ]
    fig.update_xaxes(type="log")
    fig.update_yaxes(range=[0, 105])
    fig.update_yaxes(title_text="accuracy (%)", row=1, col=1)
    fig.update_layout(titles("device_hours"))
    fig.update_layout(
        title=dict(text="Accuracy against training compute (x: log scale)"),
        height=460,
        template="plotly_white",
        legend=dict(orientation="h", y=-0.25),
        updatemenus=[dict(type="buttons", direction="right", x=0, xanchor="left", y=1.22, buttons=buttons)],
        margin=dict(t=120),
    )
    return fig


def compute_table(collected: dict) -> pd.DataFrame:
    """One row per finished run with a compute record: the set-up table's compute text per phase."""
    return pd.DataFrame(
        [
            {
                "benchmark": r["label"],
                "variant": r["variant"],
                "seed": r["seed"],
                "training": train_text(r["train"]) or "— (not trained)",
                "evaluation": eval_text(r["eval"]) or "—",
            }
            for r in compute_rows(collected)
        ]
    )

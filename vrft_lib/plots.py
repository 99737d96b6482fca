"""Plotly figure builders for the study report and the notebooks.

Every builder returns a ``plotly.graph_objects.Figure`` and never shows it; the caller decides
(``fig.show()`` or the last expression of a notebook cell). Colours are the same
everywhere: training-free grey, SFT blue, RFT orange, RFT with the length reward green. plotly draws
some HTML in titles, names, ticks and hover text (``<b>``, ``<a href>``, ``<br>``): every text that
comes from a study (a benchmark label, a run or class name, a question) is HTML-escaped before it
reaches a figure, so it shows as written.

>>> import pandas as pd
>>> steps = pd.DataFrame({"step": [1, 2, 3], "accuracy_reward": [0.2, 0.4, 0.5],
...                       "mean_completion_length": [40, 60, 80]})
>>> fig = training_curves({"RFT": steps})
>>> [t.name for t in fig.data]
['RFT', 'RFT']
>>> smoothing_window(300), smoothing_window(40), smoothing_window(5)
(10, 4, 1)
"""

from __future__ import annotations

import base64
import html
import io
import math
import textwrap
from collections.abc import Mapping, Sequence

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
from plotly.io.base_renderers import NotebookRenderer
from plotly.subplots import make_subplots

from .vocab import BUILTIN_VARIANTS, PROMPT_MODES

METHOD_LABELS = {name: d["label"] for name, d in BUILTIN_VARIANTS.items()}
METHOD_COLORS = {
    "training_free": "#7f7f7f",  # grey
    "sft": "#1f77b4",  # blue
    "rft": "#ff7f0e",  # orange
    "rft_length": "#2ca02c",  # green
}
MODE_LABELS = {"no_think": "w/o think", "think": "w/ think"}
MODE_PATTERNS = {"no_think": "", "think": "/"}
MODE_COLORS = {"no_think": "#9ecae1", "think": "#3182bd"}
COLUMN_TITLES = {
    "accuracy_reward": "accuracy reward",
    "mean_completion_length": "mean response length (tokens)",
    "reward": "total reward",
    "format_reward": "format reward",
    "length_reward": "length reward",
    "loss": "loss",
    "kl": "KL to the reference",
    "learning_rate": "learning rate",
    "step_time": "seconds per step",
}
_FALLBACK_COLORS = ("#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#d62728")
_RAW_OPACITY = 0.25
DEFAULT_CURVE_COLUMNS = ("accuracy_reward", "mean_completion_length", "reward", "loss", "kl")


def method_key(label: str) -> str | None:
    """The method key (``training_free``, ``sft``, ``rft``, ``rft_length``) a label names, or None.

    >>> method_key("RFT + length reward"), method_key("sft"), method_key("Training-free"), method_key("x")
    ('rft_length', 'sft', 'training_free', None)
    >>> method_key("RFT without length reward")
    'rft'
    """
    text = str(label).strip()
    if text in METHOD_COLORS:
        return text
    for key, name in METHOD_LABELS.items():
        if text.lower() == name.lower():
            return key
    low = text.lower().replace("-", "_").replace(" ", "_")
    if "length" in low and "rft" in low and not any(w in low for w in ("no_length", "without", "w/o")):
        return "rft_length"
    for key in ("training_free", "sft", "rft"):
        if low == key or low.startswith(key + "_") or low.endswith("_" + key):
            return key
    return None


def color_for(label: str, index: int = 0) -> str:
    """The colour of a method (by key or label); other labels get a fallback colour by ``index``."""
    key = method_key(label)
    return METHOD_COLORS[key] if key else _FALLBACK_COLORS[index % len(_FALLBACK_COLORS)]


def variant_colors(variants: Sequence[str]) -> dict[str, str]:
    """A colour per variant: the paper's own their colours, every other one the next fallback colour, so
    that two variants of a study never share one (a label alone, :func:`color_for`, cannot tell them).

    >>> variant_colors(["rft", "rft_no_think", "sft_think"])
    {'rft': '#ff7f0e', 'rft_no_think': '#9467bd', 'sft_think': '#8c564b'}
    """
    others = [v for v in variants if v not in METHOD_COLORS]
    return {v: METHOD_COLORS.get(v) or _FALLBACK_COLORS[others.index(v) % len(_FALLBACK_COLORS)] for v in variants}


def smoothing_window(n_steps: int) -> int:
    """Rolling-mean window for training curves: a tenth of the steps, at most 10, at least 1."""
    return int(max(1, min(10, int(n_steps) // 10)))


def _as_runs(steps) -> dict[str, pd.DataFrame]:
    if isinstance(steps, pd.DataFrame):
        return {"run": steps}
    if isinstance(steps, Mapping):
        return {str(k): v for k, v in steps.items() if isinstance(v, pd.DataFrame)}
    raise TypeError(f"expected a pandas DataFrame or a dict of them, got {type(steps).__name__}")


def _xy(df: pd.DataFrame, column: str):
    d = df[["step", column]] if "step" in df else df[[column]].assign(step=range(1, len(df) + 1))
    d = d.dropna(subset=[column]).sort_values("step")
    return d["step"].to_numpy(), d[column].astype(float)


def _empty(title: str, message: str) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text=html.escape(message), showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    fig.update_layout(
        title=dict(text=html.escape(title)),
        height=300,
        template="plotly_white",
        xaxis=dict(visible=False),
        yaxis=dict(visible=False),
    )
    return fig


def training_curves(
    steps,
    columns: Sequence[str] = DEFAULT_CURVE_COLUMNS,
    smooth: int = 1,
    title: str = "Training curves",
    colors: Mapping[str, str] | None = None,
) -> go.Figure:
    """One subplot per column over ``step``, one line per run label.

    Args:
        steps: a ``train/steps.csv`` table, or a dict ``{run label: table}``.
        columns: the columns to plot; those absent from every table are skipped.
        smooth: rolling-mean window in steps; above 1 the raw values stay as faint lines.
        title: the figure title.
        colors: ``{run label: colour}``; a label without one gets :func:`color_for`'s.
    """
    runs = _as_runs(steps)
    cols = [c for c in columns if any(c in df for df in runs.values())]
    if not cols:
        return _empty(title, "No training steps to plot (none of: " + ", ".join(columns) + ").")
    ncols = 1 if len(cols) == 1 else 2
    nrows = math.ceil(len(cols) / ncols)
    fig = make_subplots(
        rows=nrows,
        cols=ncols,
        subplot_titles=[html.escape(COLUMN_TITLES.get(c, c)) for c in cols],
        horizontal_spacing=0.1,
        vertical_spacing=0.14 if nrows > 1 else 0.1,
    )
    shown: set[str] = set()
    for i, col in enumerate(cols):
        r, c = divmod(i, ncols)
        for j, (label, df) in enumerate(runs.items()):
            if col not in df:
                continue
            x, y = _xy(df, col)
            color = (colors or {}).get(label) or color_for(label, j)
            if smooth and smooth > 1:
                fig.add_trace(
                    go.Scatter(
                        x=x,
                        y=y,
                        mode="lines",
                        name=html.escape(f"{label} (raw)"),
                        legendgroup=label,
                        showlegend=False,
                        opacity=_RAW_OPACITY,
                        line=dict(color=color, width=1),
                    ),
                    row=r + 1,
                    col=c + 1,
                )
                y = y.rolling(int(smooth), min_periods=1).mean()
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=y,
                    mode="lines",
                    name=html.escape(label),
                    legendgroup=label,
                    showlegend=label not in shown,
                    line=dict(color=color, width=2),
                ),
                row=r + 1,
                col=c + 1,
            )
            shown.add(label)
        fig.update_xaxes(title_text="training step", row=r + 1, col=c + 1)
        fig.update_yaxes(title_text=html.escape(COLUMN_TITLES.get(col, col)), row=r + 1, col=c + 1)
    fig.update_layout(
        title=dict(text=html.escape(title)),
        height=300 * nrows + 80,
        template="plotly_white",
        legend=dict(orientation="h", y=-0.12 if nrows == 1 else -0.06),
    )
    return fig


def length_reward_figure(
    curves: Mapping[str, Mapping[str, pd.DataFrame]],
    window: int | None = None,
    columns: Sequence[str] = ("accuracy_reward", "mean_completion_length"),
) -> go.Figure:
    """Figure 2: accuracy and response length over training steps, RFT with vs without the length reward.

    Args:
        curves: ``{benchmark label: {variant label: steps table}}``, e.g.
            ``{"SAT": {"RFT": df, "RFT + length reward": df2}}``. One row of panels per benchmark.
        window: rolling-mean window in steps (trailing, ``min_periods=1``); default
            :func:`smoothing_window` of the longest run. Raw values stay as faint lines.
        columns: the two panels of a row (accuracy reward, mean completion length).
    """
    curves = {str(b): dict(v) for b, v in curves.items() if v}
    if not curves:
        return _empty("Figure 2: length reward", "No RFT runs with and without the length reward.")
    if window is None:
        longest = max((len(df) for v in curves.values() for df in v.values()), default=0)
        window = smoothing_window(longest)
    titles = [f"{b}: {COLUMN_TITLES.get(c, c)}" for b in curves for c in columns]
    fig = make_subplots(
        rows=len(curves),
        cols=len(columns),
        subplot_titles=[html.escape(t) for t in titles],
        horizontal_spacing=0.1,
        vertical_spacing=0.18 / max(1, len(curves) - 1) + 0.08,
    )
    shown: set[str] = set()
    for r, variants in enumerate(curves.values(), start=1):
        for c, col in enumerate(columns, start=1):
            for j, (label, df) in enumerate(variants.items()):
                if col not in df:
                    continue
                x, y = _xy(df, col)
                color = color_for(label, j)
                fig.add_trace(
                    go.Scatter(
                        x=x,
                        y=y,
                        mode="lines",
                        name=html.escape(f"{label} (raw)"),
                        legendgroup=label,
                        showlegend=False,
                        opacity=_RAW_OPACITY,
                        hoverinfo="skip",
                        line=dict(color=color, width=1),
                    ),
                    row=r,
                    col=c,
                )
                fig.add_trace(
                    go.Scatter(
                        x=x,
                        y=y.rolling(int(window), min_periods=1).mean(),
                        mode="lines",
                        name=html.escape(label),
                        legendgroup=label,
                        showlegend=label not in shown,
                        line=dict(color=color, width=2.5),
                    ),
                    row=r,
                    col=c,
                )
                shown.add(label)
            fig.update_xaxes(title_text="training step", row=r, col=c)
            fig.update_yaxes(title_text=html.escape(COLUMN_TITLES.get(col, col)), row=r, col=c)
    fig.update_layout(
        title=dict(
            text=f"Figure 2: accuracy and response length during RFT, with vs without the length "
            f"reward<br><sup>lines: rolling mean over {window} step(s); faint: raw values</sup>"
        ),
        height=320 * len(curves) + 120,
        template="plotly_white",
        legend=dict(orientation="h", y=-0.08),
        meta=dict(window=int(window)),
    )
    return fig


def table1_figure(
    table_df: pd.DataFrame,
    methods: Sequence[str] = ("training_free", "sft", "rft"),
    labels: Mapping[str, str] | None = None,
    title: str = "Table 1 as bars: accuracy by method and prompt mode",
) -> go.Figure:
    """Grouped bars of Table 1: per benchmark, one bar per method and mode, with 95% interval error bars.

    ``table_df`` is the tidy table of :func:`vrft_lib.report.table1` (columns ``label`` or
    ``benchmark``, ``method``, ``mode``, ``accuracy``, ``ci_low``, ``ci_high`` in percent, and
    optionally ``paper_accuracy``). With paper numbers, a second row of panels shows them. ``methods``
    are the variants shown (their colours: :func:`variant_colors`), ``labels`` their names
    (default :data:`METHOD_LABELS`, else the variant's own name).
    """
    df = table_df.copy()
    if df.empty:
        return _empty("Table 1", "No results yet.")
    df["_bench"] = df["label"] if "label" in df else df["benchmark"]
    df = df[df["method"].isin(methods)]
    benches = list(dict.fromkeys(df["_bench"]))
    ticks = [html.escape(str(b)) for b in benches]  # plotly draws some HTML in a label: show it as text
    has_paper = "paper_accuracy" in df and df["paper_accuracy"].notna().any()
    rows = 2 if has_paper else 1
    fig = make_subplots(
        rows=rows,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.12,
        subplot_titles=["Ours (bars: accuracy; whiskers: 95% interval)"] + (["Paper's Table 1"] if has_paper else []),
    )
    colors = variant_colors(list(methods))
    for m in methods:
        for mode in PROMPT_MODES:
            sub = df[(df["method"] == m) & (df["mode"] == mode)].set_index("_bench").reindex(benches)
            name = f"{(labels or {}).get(m) or METHOD_LABELS.get(m, m)} {MODE_LABELS[mode]}"
            acc = sub["accuracy"].astype(float)
            err_hi = (sub["ci_high"].astype(float) - acc).clip(lower=0) if "ci_high" in sub else None
            err_lo = (acc - sub["ci_low"].astype(float)).clip(lower=0) if "ci_low" in sub else None
            marker = dict(
                color=colors[m],
                pattern=dict(shape=MODE_PATTERNS[mode]),
                line=dict(color="#333", width=0.5),
            )
            fig.add_trace(
                go.Bar(
                    x=ticks,
                    y=acc,
                    name=html.escape(name),
                    legendgroup=name,
                    offsetgroup=name,
                    marker=marker,
                    error_y=None
                    if err_hi is None
                    else dict(
                        type="data", symmetric=False, array=err_hi.tolist(), arrayminus=err_lo.tolist(), thickness=1.2
                    ),
                    hovertemplate="%{x}<br>" + html.escape(name) + ": %{y:.2f}%<extra></extra>",
                ),
                row=1,
                col=1,
            )
            if has_paper:
                fig.add_trace(
                    go.Bar(
                        x=ticks,
                        y=sub["paper_accuracy"].astype(float),
                        name=html.escape(f"{name} (paper)"),
                        legendgroup=name,
                        offsetgroup=name,
                        showlegend=False,
                        marker=marker,
                        opacity=0.75,
                        hovertemplate="%{x}<br>paper " + html.escape(name) + ": %{y:.2f}%<extra></extra>",
                    ),
                    row=2,
                    col=1,
                )
    for r in range(1, rows + 1):
        fig.update_yaxes(title_text="accuracy (%)", range=[0, 105], row=r, col=1)
    fig.update_xaxes(title_text="benchmark", row=rows, col=1)
    fig.update_layout(
        barmode="group",
        title=dict(text=html.escape(title)),
        height=380 * rows + 80,
        template="plotly_white",
        legend=dict(orientation="h", y=-0.15),
    )
    return fig


def _png_data_uri(image) -> str:
    if isinstance(image, (bytes, bytearray)):
        data = bytes(image)
        if not data.startswith(b"\x89PNG"):
            from PIL import Image

            buf = io.BytesIO()
            Image.open(io.BytesIO(data)).convert("RGB").save(buf, format="PNG")
            data = buf.getvalue()
    else:
        from PIL import Image

        if not isinstance(image, Image.Image):
            import numpy as np

            image = Image.fromarray(np.asarray(image).astype("uint8"))
        buf = io.BytesIO()
        image.convert("RGB").save(buf, format="PNG")
        data = buf.getvalue()
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def image_grid(images: Sequence, titles: Sequence[str], cols: int = 4, title: str = "Sample images") -> go.Figure:
    """Images in a grid with their titles (e.g. the question and answer), as a plotly figure.

    ``images``: PIL images, numpy arrays or encoded image bytes. Titles are HTML-escaped and wrapped.
    """
    images, titles = list(images), [str(t) for t in titles]
    if len(images) != len(titles):
        raise ValueError(f"image_grid: {len(images)} images but {len(titles)} titles")
    if not images:
        return _empty(title, "No images.")
    cols = max(1, min(int(cols), len(images)))
    nrows = math.ceil(len(images) / cols)
    wrapped = ["<br>".join(textwrap.wrap(html.escape(t), 36)[:4]) for t in titles]
    fig = make_subplots(rows=nrows, cols=cols, subplot_titles=wrapped, vertical_spacing=0.2 / nrows + 0.05)
    for i, img in enumerate(images):
        r, c = divmod(i, cols)
        fig.add_trace(go.Image(source=_png_data_uri(img), name=html.escape(titles[i][:40])), row=r + 1, col=c + 1)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.update_annotations(font=dict(size=11))
    fig.update_layout(
        title=dict(text=html.escape(title)), height=260 * nrows + 60, template="plotly_white", margin=dict(t=110)
    )
    return fig


def accuracy_by_mode(metrics: dict) -> go.Figure:
    """Accuracy per prompt mode of one evaluation (its ``metrics.json``), with 95% intervals.

    Adds circular accuracy when present, and a per-class panel for classification tasks.
    """
    modes = metrics.get("modes") or {}
    name = f"{metrics.get('name', 'evaluation')} on {metrics.get('benchmark', '?')} ({metrics.get('split', '?')})"
    if not modes:
        return _empty(name, "No modes in these metrics.")
    per_class = any(m.get("per_class_accuracy") for m in modes.values())
    fig = make_subplots(
        rows=1,
        cols=2 if per_class else 1,
        column_widths=[0.35, 0.65] if per_class else None,
        subplot_titles=["accuracy (95% interval)"] + (["per-class accuracy"] if per_class else []),
    )
    for mode, m in modes.items():
        label = MODE_LABELS.get(mode, mode)
        x, y, lo, hi = [], [], [], []
        for key, ci_key, xname in (
            ("accuracy", "accuracy_ci95", "accuracy"),
            ("circular_accuracy", "circular_accuracy_ci95", "circular accuracy"),
            ("mean_per_class_accuracy", None, "mean per-class"),
        ):
            if m.get(key) is None:
                continue
            v = 100 * float(m[key])
            ci = m.get(ci_key) if ci_key else None
            x.append(xname)
            y.append(v)
            lo.append(v - 100 * float(ci[0]) if ci else 0.0)
            hi.append(100 * float(ci[1]) - v if ci else 0.0)
        fig.add_trace(
            go.Bar(
                x=x,
                y=y,
                name=html.escape(label),
                legendgroup=label,
                marker_color=MODE_COLORS.get(mode),
                marker_pattern_shape=MODE_PATTERNS.get(mode, ""),
                error_y=dict(type="data", symmetric=False, array=hi, arrayminus=lo),
            ),
            row=1,
            col=1,
        )
        if per_class and m.get("per_class_accuracy"):
            pc = m["per_class_accuracy"]
            fig.add_trace(
                go.Bar(
                    x=[html.escape(str(k)) for k in pc],
                    y=[100 * float(v) for v in pc.values()],
                    name=html.escape(f"{label} per class"),
                    legendgroup=label,
                    showlegend=False,
                    marker_color=MODE_COLORS.get(mode),
                    marker_pattern_shape=MODE_PATTERNS.get(mode, ""),
                ),
                row=1,
                col=2,
            )
    fig.update_yaxes(title_text="accuracy (%)", range=[0, 105])
    fig.update_layout(barmode="group", title=dict(text=html.escape(name)), height=400, template="plotly_white")
    return fig


OFFLINE_RENDERER = "notebook_offline"


class OfflineNotebookRenderer(NotebookRenderer):
    """plotly's ``notebook`` renderer without MathJax from a CDN: plotly.js is inlined once (in the
    output where the renderer is first used) and each figure's HTML fetches nothing."""

    def to_mimebundle(self, fig_dict):
        return {
            "text/html": pio.to_html(
                fig_dict,
                config=self.config,
                auto_play=self.auto_play,
                include_plotlyjs=False,
                include_mathjax=False,
                post_script=self.post_script,
                full_html=False,
                animation_opts=self.animation_opts,
                default_width="100%",
                default_height=525,
                validate=False,
            )
        }


def setup_notebook_renderer(renderer: str = f"plotly_mimetype+{OFFLINE_RENDERER}") -> str:
    """Make notebook figures survive ``nbconvert`` to HTML, offline.

    Plotly's default stores only its JSON mimetype, which nbconvert's HTML drops. The
    ``notebook_offline`` renderer (registered here) also writes each figure as HTML that needs no
    network: plotly.js is inlined once, where the first figure is shown, and no MathJax is fetched
    (plotly's own ``notebook`` renderer loads MathJax from a CDN with every figure). Returns the
    renderer now in use.
    """
    if OFFLINE_RENDERER not in pio.renderers:
        pio.renderers[OFFLINE_RENDERER] = OfflineNotebookRenderer(config={"displaylogo": False})
    pio.renderers.default = renderer
    return pio.renderers.default

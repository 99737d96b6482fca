"""The report's figures: their data (Figure 1's examples, Figure 2's training curves) and what the
report notebook displays for them (plotly figures from :mod:`vrft_lib.plots`, images, tables).

Choices (see ``docs/report.md``): Figure 1 shows the first benchmark, preferring ``reasoning`` then
``perception``, with finished ``rft`` and ``rft_length`` runs that have predictions, at the lowest
seed both have; its inputs are those both answered in think mode, first up to half where exactly one
of the two is right, then the rest in id order. Figure 2 and the training curves are seed means,
smoothed over :func:`vrft_lib.plots.smoothing_window` steps; the training curves show every trained
variant of the study, its own included, and :func:`table2_bars` the variants outside Table 1.
"""

from __future__ import annotations

import base64
import io
import string
from pathlib import Path

import pandas as pd
import yaml
from IPython.display import Image, Markdown

from .. import plots
from ..data import load_benchmark
from ..files import read_bytes, read_text
from ..plots import METHOD_LABELS
from .collect import finished_runs, read_predictions, variant_label
from .variant_views import other_variants
from .views import md, styled

FIGURE1_EXAMPLES = 4  # examples shown in Figure 1
FIGURE1_IMAGE_WIDTH = 192  # pixels on the page
LOOKUP_MAX_ROWS = 500  # real benchmarks: look questions up only for evaluations this small
RESPONSE_FIELDS = ("response", "answer", "correct", "response_tokens")


# ----------------------------------------------------------------------------------------------
# Figure 2 and the training curves: data
# ----------------------------------------------------------------------------------------------


def mean_steps(frames: list[pd.DataFrame]) -> pd.DataFrame | None:
    """The seed mean of several ``steps.csv`` tables at each step (one table is returned as is).

    >>> a = pd.DataFrame({"step": [1, 2], "loss": [1.0, 0.5]})
    >>> mean_steps([a, a.assign(loss=[3.0, 1.5])])["loss"].tolist()
    [2.0, 1.0]
    """
    frames = [f for f in frames if f is not None and "step" in f]
    if not frames:
        return None
    if len(frames) == 1:
        return frames[0]
    num = [f.select_dtypes("number") for f in frames]
    return pd.concat(num).groupby("step", as_index=False).mean()


def variant_steps(collected: dict, key: str, variants) -> dict[str, pd.DataFrame]:
    """``{variant label: seed-mean steps}`` of one benchmark's variants that logged training steps (the
    label of a variant the study defines is its own, :func:`~.collect.variant_label`)."""
    out = {}
    for variant in variants:
        df = mean_steps(
            [
                r["steps"]
                for r in collected["runs"]
                if r["benchmark"] == key and r["variant"] == variant and r["steps"] is not None
            ]
        )
        if df is not None:
            out[variant_label(collected, variant)] = df
    return out


def length_curves(collected: dict) -> dict[str, dict[str, pd.DataFrame]]:
    """Figure 2's data: ``{benchmark label: {"RFT": steps, "RFT + length reward": steps}}`` (seed means)."""
    out = {}
    for key, info in collected["benchmarks"].items():
        per = variant_steps(collected, key, ("rft", "rft_length"))
        if METHOD_LABELS["rft_length"] in per:
            out[info["label"]] = per
    return out


def curves_window(curves: dict[str, dict[str, pd.DataFrame]]) -> int:
    """Figure 2's smoothing window: :func:`vrft_lib.plots.smoothing_window` of the longest run."""
    return plots.smoothing_window(max((len(d) for v in curves.values() for d in v.values()), default=0))


# ----------------------------------------------------------------------------------------------
# Figure 1: data
# ----------------------------------------------------------------------------------------------


def select_examples(a: list[dict], b: list[dict], k: int = FIGURE1_EXAMPLES, mode: str = "think") -> list[str]:
    """Ids for Figure 1: inputs that both runs answered (``mode``, rotation 0); first up to ``k // 2``
    where exactly one of the two is correct, then the rest in id order.

    >>> a = [{"id": i, "mode": "think", "correct": c} for i, c in [("x1", 1), ("x2", 0), ("x3", 1)]]
    >>> b = [{"id": i, "mode": "think", "correct": c} for i, c in [("x1", 1), ("x2", 1), ("x3", 1)]]
    >>> select_examples(a, b, k=2)
    ['x2', 'x1']
    """
    ia, ib = by_id(a, mode), by_id(b, mode)
    common = sorted(set(ia) & set(ib))
    differ = [i for i in common if bool(ia[i].get("correct")) != bool(ib[i].get("correct"))]
    chosen = differ[: k // 2]
    chosen += [i for i in common if i not in chosen][: k - len(chosen)]
    return chosen


def by_id(predictions: list[dict], mode: str = "think") -> dict[str, dict]:
    """The predictions of one prompt mode (rotation 0) by id."""
    return {str(r.get("id")): r for r in predictions if r.get("mode") == mode and not r.get("rotation")}


def png_b64(path: Path) -> str | None:
    """A file's bytes in base64; None when it cannot be read."""
    try:
        return base64.b64encode(read_bytes(path)).decode("ascii")
    except OSError:
        return None


def benchmark_inputs(run_dir: Path, ids: list[str]) -> dict[str, dict]:
    """Questions, choices and the first image of some ids, re-loaded from the evaluation's benchmark.

    Only for synthetic benchmarks or evaluations of at most LOOKUP_MAX_ROWS rows; any problem gives {}.
    """
    try:
        if (run_dir / "eval" / "config.yaml").is_file():
            cfg = yaml.safe_load(read_text(run_dir / "eval" / "config.yaml")) or {}
        else:  # what the study injected into the run's notebook
            cfg = (yaml.safe_load(read_text(run_dir / "parameters.yaml")) or {}).get("run") or {}
        data = cfg.get("data") or {}
        name, limit = str(data.get("name", "")), data.get("eval_limit")
        if not name.startswith("synthetic_") and not (isinstance(limit, int) and limit <= LOOKUP_MAX_ROWS):
            return {}
        ds = load_benchmark(
            name,
            data.get("eval_split", "test"),
            root=data.get("root"),
            limit=limit,
            seed=int(cfg.get("seed", 0)),
            **(data.get("options") or {}),
        )
        wanted, out = set(ids), {}
        for i, rid in enumerate(ds["id"]):
            if rid in wanted:
                row = ds[i]
                img = None
                if row.get("images"):
                    buf = io.BytesIO()
                    row["images"][0].convert("RGB").save(buf, format="PNG")
                    img = base64.b64encode(buf.getvalue()).decode("ascii")
                out[rid] = {
                    "question": row.get("question"),
                    "choices": list(row.get("choices") or []),
                    "image_b64": img,
                }
        return out
    except Exception:  # noqa: BLE001 - inputs are a nicety; the report must not fail on them
        return {}


def example_image(runs: list[dict], example_id: str) -> str | None:
    """An ``eval/examples/<id>.png`` of the first of ``runs`` that has one, in base64 (never a file
    outside that folder)."""
    for run in runs:
        base = (Path(run["path"]) / "eval" / "examples").resolve()
        cand = (base / f"{example_id}.png").resolve()
        if cand.is_file() and base in cand.parents:
            return png_b64(cand)
    return None


def figure1_examples(collected: dict, k: int = FIGURE1_EXAMPLES, lookup_inputs: bool = True) -> dict | None:
    """Figure 1's data: think-mode responses of RFT without vs with the length reward, same inputs.

    Picks the reasoning benchmark first (then perception, then any) with both variants finished, and
    the lowest seed both have. Returns ``{benchmark, label, seed, examples: [...]}`` or None; each
    example has ``id``, ``question``, ``choices``, ``solution``, ``image_b64`` and, for ``rft`` and
    ``rft_length``, the ``response``, ``answer``, ``correct`` and ``response_tokens``.
    """
    order = {"reasoning": 0, "perception": 1}
    for key, info in sorted(collected["benchmarks"].items(), key=lambda kv: order.get(kv[1]["task_kind"], 2)):
        rft = {r["seed"]: r for r in finished_runs(collected, key, "rft") if r["predictions_path"]}
        rl = {r["seed"]: r for r in finished_runs(collected, key, "rft_length") if r["predictions_path"]}
        common = sorted(set(rft) & set(rl))
        if not common:
            continue
        seed = common[0]
        pa, pb = read_predictions(rft[seed]["predictions_path"]), read_predictions(rl[seed]["predictions_path"])
        ids = select_examples(pa, pb, k)
        if not ids:
            continue
        ia, ib = by_id(pa), by_id(pb)
        need = [i for i in ids if not ia[i].get("question")]
        looked = benchmark_inputs(Path(rl[seed]["path"]), need) if (need and lookup_inputs) else {}
        examples = []
        for i in ids:
            inp = looked.get(i, {})
            examples.append(
                {
                    "id": i,
                    "question": ia[i].get("question") or inp.get("question"),
                    "choices": ia[i].get("choices") or inp.get("choices"),
                    "solution": ia[i].get("solution"),
                    "image_b64": example_image([rl[seed], rft[seed]], i) or inp.get("image_b64"),
                    "rft": {f: ia[i].get(f) for f in RESPONSE_FIELDS},
                    "rft_length": {f: ib[i].get(f) for f in RESPONSE_FIELDS},
                }
            )
        return {"benchmark": key, "label": info["label"], "seed": seed, "examples": examples}
    return None


# ----------------------------------------------------------------------------------------------
# What the notebook displays
# ----------------------------------------------------------------------------------------------


def table1_bars(table: pd.DataFrame):
    """Table 1 as grouped bars (ours with 95% whiskers; the paper's in a second panel); every panel
    names its benchmarks on the x axis and says accuracy (%) on the y axis."""
    fig = plots.table1_figure(table)
    if len(table):
        fig.update_xaxes(showticklabels=True)
        fig.update_yaxes(title_text="accuracy (%)")
    return fig


def table2_bars(table: pd.DataFrame, collected: dict):
    """Table 2 as grouped bars: the study's variants outside Table 1 (:func:`~.views.other_variants`),
    ours with 95% whiskers, each named by its label; a sentence when there is none."""
    variants = other_variants(table, collected)
    if not variants:
        return Markdown("The study has no variant beside Table 1's.")
    fig = plots.table1_figure(
        table[table["method"].isin(variants)].assign(paper_accuracy=float("nan")),
        methods=variants,
        labels={v: variant_label(collected, v) for v in variants},
        title="Table 2 as bars: accuracy by variant and prompt mode",
    )
    fig.update_xaxes(showticklabels=True)
    return fig


def figure2(curves: dict[str, dict[str, pd.DataFrame]]) -> list:
    """Figure 2: the smoothing sentence and the figure, or a sentence saying there is nothing to show."""
    if not curves:
        return [Markdown("No benchmark has an RFT + length reward run with training steps.")]
    window = curves_window(curves)
    return [
        Markdown(
            f"Lines: trailing rolling mean over {window} step(s) (a tenth of the steps, at most 10); "
            "faint lines: the raw values; with several seeds, the seed mean at each step."
        ),
        plots.length_reward_figure(curves, window=window),
    ]


def training_figures(collected: dict) -> list:
    """The training curves of every trained variant, one figure per benchmark (seed means), each
    variant in a colour of its own (:func:`vrft_lib.plots.variant_colors`)."""
    trained = [v for v, d in collected["variants"].items() if d.get("method") != "none"]
    colors = {variant_label(collected, v): c for v, c in plots.variant_colors(trained).items()}
    out = []
    for key, info in collected["benchmarks"].items():
        per = variant_steps(collected, key, trained)
        if per:
            longest = max(len(df) for df in per.values())
            out.append(
                plots.training_curves(
                    per,
                    columns=("reward", "accuracy_reward", "mean_completion_length", "loss", "kl"),
                    smooth=plots.smoothing_window(longest),
                    title=f"Training curves: {info['label']}",
                    colors=colors,
                )
            )
    return out or [Markdown("No run logged training steps.")]


def lettered(choices) -> str:
    """Choices as the prompt letters them, for Markdown.

    >>> lettered(["left", "right"])
    '**A.** left · **B.** right'
    """
    return " · ".join(f"**{string.ascii_uppercase[i]}.** {md(c)}" if i < 26 else md(c) for i, c in enumerate(choices))


def with_letter(answer, choices) -> str:
    """An answer beside its choice: a letter gets its choice's text, a choice's text its letter.

    >>> with_letter("B", ["left", "right"]), with_letter("left", ["left", "right"]), with_letter("x", [])
    ('B. right', 'A. left', 'x')
    """
    text, choices = "" if answer is None else str(answer), list(choices or [])
    letters = string.ascii_uppercase[: min(26, len(choices))]
    if len(text) == 1 and text.upper() in letters:
        return f"{text.upper()}. {choices[letters.index(text.upper())]}"
    for i, c in enumerate(choices[:26]):
        if text.strip().lower() == str(c).strip().lower():
            return f"{letters[i]}. {c}"
    return text


def example_table(example: dict):
    """One example's two responses side by side: response, answer (with its choice), correct or wrong,
    tokens."""
    cols = {}
    for variant in ("rft", "rft_length"):
        r = example[variant]
        cols[METHOD_LABELS[variant]] = {
            "response": "" if r.get("response") is None else str(r["response"]),
            "answer": "—" if r.get("answer") is None else with_letter(r["answer"], example.get("choices")),
            "verdict": "correct" if r.get("correct") else "wrong",
            "tokens": "—" if r.get("response_tokens") is None else str(r["response_tokens"]),
        }
    return styled(pd.DataFrame(cols), index=True, wrap=True).map(
        lambda v: {"correct": "color: #1a7f37; font-weight: bold", "wrong": "color: #c62828; font-weight: bold"}.get(
            v, ""
        )
    )


def figure1_display(fig1: dict | None) -> list:
    """Figure 1 for the notebook: per example its image, question, lettered choices and solution, then
    both responses side by side."""
    if not fig1:
        return [
            Markdown(
                "No benchmark has finished RFT runs both with and without the length reward with "
                "predictions, so there are no examples to show."
            )
        ]
    out = [
        Markdown(
            f"{md(fig1['label'])}, seed {fig1['seed']}, think mode: the same inputs answered by RFT "
            "without and with the length reward."
        )
    ]
    for n, ex in enumerate(fig1["examples"], start=1):
        out.append(Markdown(f"#### Example {n}: {md(ex['id'])}"))
        if ex.get("image_b64"):
            out.append(Image(data=base64.b64decode(ex["image_b64"]), format="png", width=FIGURE1_IMAGE_WIDTH))
        lines = [f"**Question:** {md(ex.get('question') or '(not recorded with the predictions)')}"]
        if ex.get("choices"):
            lines.append(f"**Choices:** {lettered(ex['choices'])}")
        lines.append(f"**Solution:** {md(with_letter(ex.get('solution'), ex.get('choices')) or '—')}")
        out += [Markdown("\n\n".join(lines)), example_table(ex)]
    return out

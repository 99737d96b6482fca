"""Figure builders: each returns a plotly figure with the expected traces and colours."""

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
import pytest
from PIL import Image

from vrft_lib import plots


def _steps(n=30, length0=80.0, with_length=False):
    df = pd.DataFrame(
        {
            "step": np.arange(1, n + 1),
            "loss": np.linspace(1, 0.2, n),
            "accuracy_reward": np.linspace(0.2, 0.8, n),
            "reward": np.linspace(0.5, 1.8, n),
            "mean_completion_length": length0 + np.arange(n),
            "kl": 0.01,
        }
    )
    if with_length:
        df["length_reward"] = 0.6
    return df


def test_training_curves_one_line_per_run_and_column():
    fig = plots.training_curves(
        {"SFT": _steps()[["step", "loss"]], "RFT": _steps()},
        columns=("accuracy_reward", "mean_completion_length", "loss", "missing"),
    )
    assert isinstance(fig, go.Figure)
    names = [t.name for t in fig.data]
    assert names.count("RFT") == 3 and names.count("SFT") == 1  # SFT only has loss
    colours = {t.name: t.line.color for t in fig.data}
    assert colours == {"RFT": plots.METHOD_COLORS["rft"], "SFT": plots.METHOD_COLORS["sft"]}
    titles = [a.text for a in fig.layout.annotations]
    assert titles == ["accuracy reward", "mean response length (tokens)", "loss"]
    assert sum(bool(t.showlegend) for t in fig.data) == 2


def test_training_curves_single_frame_and_smoothing():
    fig = plots.training_curves(_steps(), columns=("accuracy_reward",), smooth=5)
    assert [t.name for t in fig.data] == ["run (raw)", "run"]
    raw, smooth = fig.data
    assert raw.opacity < 1 and np.allclose(smooth.y[4], np.mean(raw.y[:5]))
    assert plots.training_curves(_steps(), columns=("nothing",)).layout.annotations[0].text.startswith("No training")


def test_length_reward_figure_panels_per_benchmark():
    curves = {
        "FGVC-Aircraft": {"RFT": _steps(), "RFT + length reward": _steps(length0=200, with_length=True)},
        "SAT": {"RFT": _steps(), "RFT + length reward": _steps(length0=200, with_length=True)},
    }
    fig = plots.length_reward_figure(curves, window=4)
    assert len(fig.data) == 2 * 2 * 2 * 2  # benchmarks x panels x variants x (raw, smoothed)
    smoothed = [t for t in fig.data if not t.name.endswith("(raw)")]
    raw = [t for t in fig.data if t.name.endswith("(raw)")]
    assert len(smoothed) == len(raw) == 8 and all(t.opacity < 0.5 for t in raw)
    assert {t.line.color for t in smoothed if t.name == "RFT"} == {plots.METHOD_COLORS["rft"]}
    assert {t.line.color for t in smoothed if t.name == "RFT + length reward"} == {plots.METHOD_COLORS["rft_length"]}
    assert sum(bool(t.showlegend) for t in fig.data) == 2
    titles = [a.text for a in fig.layout.annotations]
    assert titles[:2] == ["FGVC-Aircraft: accuracy reward", "FGVC-Aircraft: mean response length (tokens)"]
    assert "rolling mean over 4 step" in fig.layout.title.text and fig.layout.meta["window"] == 4
    # the default window follows the run length
    assert plots.length_reward_figure(curves).layout.meta["window"] == 3
    assert plots.length_reward_figure({}).layout.annotations[0].text.startswith("No RFT")


def _table(paper=True):
    rows = []
    for label in ("Banner-Analysis", "SAT"):
        for i, m in enumerate(("training_free", "sft", "rft")):
            for mode in ("no_think", "think"):
                acc = 50 + 10 * i + (5 if mode == "think" else 0)
                rows.append(
                    {
                        "benchmark": label.lower(),
                        "label": label,
                        "method": m,
                        "mode": mode,
                        "accuracy": acc,
                        "ci_low": acc - 2,
                        "ci_high": acc + 3,
                        "paper_accuracy": acc + 1 if paper else np.nan,
                    }
                )
    return pd.DataFrame(rows)


def test_table1_figure_bars_with_intervals():
    fig = plots.table1_figure(_table())
    bars = [t for t in fig.data if isinstance(t, go.Bar)]
    assert len(bars) == 12  # 3 methods x 2 modes, ours and the paper's
    ours = [t for t in bars if not t.name.endswith("(paper)")]
    rft_think = next(t for t in ours if t.name == "RFT w/ think")
    assert list(rft_think.x) == ["Banner-Analysis", "SAT"] and list(rft_think.y) == [75, 75]
    assert list(rft_think.error_y.array) == [3, 3] and list(rft_think.error_y.arrayminus) == [2, 2]
    assert rft_think.marker.color == plots.METHOD_COLORS["rft"] and rft_think.marker.pattern.shape == "/"
    assert [a.text for a in fig.layout.annotations][1] == "Paper's Table 1"
    assert len(plots.table1_figure(_table(paper=False)).data) == 6


def test_table1_figure_missing_cells_are_gaps():
    t = _table(paper=False)
    t.loc[(t.label == "SAT") & (t.method == "sft"), ["accuracy", "ci_low", "ci_high"]] = np.nan
    fig = plots.table1_figure(t)
    sft = next(tr for tr in fig.data if tr.name == "SFT w/o think")
    assert np.isnan(sft.y[1]) and sft.y[0] == 60


def test_image_grid_images_and_escaped_titles():
    imgs = [Image.new("RGB", (16, 16), c) for c in ("red", "green", "blue")]
    fig = plots.image_grid(imgs, ["<b>one</b>", "two", "three"], cols=2)
    assert [type(t) for t in fig.data] == [go.Image] * 3
    assert all(t.source.startswith("data:image/png;base64,") for t in fig.data)
    assert fig.layout.annotations[0].text == "&lt;b&gt;one&lt;/b&gt;"
    fig = plots.image_grid([np.zeros((4, 4, 3), dtype=np.uint8)], ["array"])
    assert len(fig.data) == 1
    with pytest.raises(ValueError):
        plots.image_grid(imgs, ["only one"])


def test_text_from_data_reaches_plotly_escaped():
    """plotly draws some HTML in labels, names and ticks (<b>, <a href>, ...): text from a study shows as written."""
    label, mark = "<b>SAT</b> <img src=x onerror=alert(1)>", "&lt;b&gt;SAT&lt;/b&gt; &lt;img src=x onerror=alert(1)&gt;"
    table = _table().replace({"label": {"SAT": label}})
    fig = plots.table1_figure(table)
    assert all(list(t.x) == ["Banner-Analysis", mark] for t in fig.data)
    curves = plots.training_curves({"<i>run</i>": _steps()}, smooth=3, columns=("loss", "<u>col</u>"))
    assert {t.name for t in curves.data} == {"&lt;i&gt;run&lt;/i&gt;", "&lt;i&gt;run&lt;/i&gt; (raw)"}
    fig2 = plots.length_reward_figure({label: {"<i>RFT</i>": _steps()}})
    assert fig2.layout.annotations[0].text.startswith(mark) and fig2.data[1].name == "&lt;i&gt;RFT&lt;/i&gt;"
    modes = {"<b>m</b>": {"accuracy": 0.5, "per_class_accuracy": {"<s>red</s>": 0.5}}}
    fig = plots.accuracy_by_mode({"name": "<i>e</i>", "modes": modes})
    assert [t.name for t in fig.data] == ["&lt;b&gt;m&lt;/b&gt;", "&lt;b&gt;m&lt;/b&gt; per class"]
    assert list(fig.data[1].x) == ["&lt;s&gt;red&lt;/s&gt;"] and fig.layout.title.text.startswith("&lt;i&gt;e")


def test_accuracy_by_mode():
    metrics = {
        "name": "rft",
        "benchmark": "fgvc_aircraft",
        "split": "test",
        "modes": {
            "no_think": {
                "n": 10,
                "accuracy": 0.5,
                "accuracy_ci95": [0.4, 0.6],
                "per_class_accuracy": {"A": 0.4, "B": 0.6},
                "mean_per_class_accuracy": 0.5,
            },
            "think": {
                "n": 10,
                "accuracy": 0.7,
                "accuracy_ci95": [0.6, 0.8],
                "per_class_accuracy": {"A": 0.8, "B": 0.6},
                "mean_per_class_accuracy": 0.7,
            },
        },
    }
    fig = plots.accuracy_by_mode(metrics)
    assert [t.name for t in fig.data] == ["w/o think", "w/o think per class", "w/ think", "w/ think per class"]
    think = fig.data[2]
    assert list(think.x) == ["accuracy", "mean per-class"] and think.y[0] == pytest.approx(70)
    assert think.error_y.array[0] == pytest.approx(10)
    simple = plots.accuracy_by_mode({"modes": {"think": {"accuracy": 0.3, "accuracy_ci95": [0.2, 0.4]}}})
    assert len(simple.data) == 1


def test_setup_notebook_renderer():
    before = pio.renderers.default
    try:
        assert plots.setup_notebook_renderer() == "plotly_mimetype+notebook_offline"
        assert pio.renderers.default == "plotly_mimetype+notebook_offline"
        assert plots.setup_notebook_renderer("plotly_mimetype+notebook") == "plotly_mimetype+notebook"
    finally:
        pio.renderers.default = before


def test_offline_renderer_fetches_nothing():
    before = pio.renderers.default
    try:
        plots.setup_notebook_renderer()
    finally:
        pio.renderers.default = before
    html = pio.renderers[plots.OFFLINE_RENDERER].to_mimebundle(plots.training_curves(_steps()).to_dict())["text/html"]
    assert 'class="plotly-graph-div"' in html and "Plotly.newPlot" in html
    assert "<script src" not in html and "mathjax" not in html.lower()  # plotly's notebook renderer adds a CDN MathJax
    assert "plotly.js v" not in html  # plotly.js itself is inlined once, when the renderer is first used


def test_method_colours_and_labels():
    assert plots.color_for("Training-free") == "#7f7f7f" and plots.color_for("sft") == "#1f77b4"
    assert plots.color_for("RFT") == "#ff7f0e" and plots.color_for("RFT + length reward") == "#2ca02c"
    assert plots.color_for("something else", 0) != plots.color_for("something else", 1)

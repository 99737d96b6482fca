"""Draw what a study's report shows first (its summary, Table 1 and the Table 1 bars) as a PNG, for
the README: ``docs/report.png``.

    python scripts/report_screenshot.py                   # outputs/smoke, else the made-up example
    python scripts/report_screenshot.py outputs/smoke --out docs/report.png

A browser screenshot of report.html would need a headless browser, and plotly's static export
(kaleido 1.x) needs Chrome; neither installs offline. This draws the same numbers, from
``vrft_lib.report`` exactly as the page computes them, with matplotlib (``pip install matplotlib``;
it is not one of the kit's dependencies).
"""

from __future__ import annotations

import argparse
import textwrap
from pathlib import Path

from vrft_lib import report
from vrft_lib.plots import METHOD_LABELS, MODE_LABELS
from vrft_lib.report.example import notebook_study
from vrft_lib.report.findings import cell
from vrft_lib.report.views import cell_text
from vrft_lib.vocab import PROMPT_MODES, TABLE_VARIANTS

COLOURS = {"training_free": "#9e9e9e", "sft": "#1f77b4", "rft": "#ff7f0e"}


def plain(markdown: str) -> str:
    return markdown.replace("**", "").replace("\\", "").replace("`", "")


def draw(study_dir, out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rep = report.analyse_study(study_dir)
    table, collected = rep.table, rep.collected
    keys = list(collected["benchmarks"])
    cols = [(m, mode) for m in TABLE_VARIANTS for mode in PROMPT_MODES]
    fig = plt.figure(figsize=(13, 11), dpi=110)
    grid = fig.add_gridspec(3, 1, height_ratios=[0.75, 1.35, 1.4], hspace=0.3)
    # the summary, as the page opens
    ax = fig.add_subplot(grid[0])
    ax.axis("off")
    ax.set_title(f"Study report: {collected['name']}", loc="left", fontsize=15, fontweight="bold")
    summary = plain(report.key_findings(table, collected, rep.findings).data)
    wrapped = "\n".join(textwrap.fill(p, 150) for p in summary.split("\n\n"))
    ax.text(0, 1, wrapped, va="top", ha="left", fontsize=8.5, family="DejaVu Sans", wrap=True)
    # Table 1
    ax = fig.add_subplot(grid[1])
    ax.axis("off")
    ax.set_title("Table 1: accuracy %, 95% interval, format compliance (⚠: answers collapsed)", loc="left", pad=28)
    rows, colours, labels = [], [], []
    for key in keys:
        cells = [cell(table, key, m, md_) for m, md_ in cols]
        rows.append([cell_text(c).replace(" · ", "\n") for c in cells])
        colours.append(
            ["#ffe0b2" if c and (c.get("collapsed") or (c.get("format_rate") or 100) < 50) else "white" for c in cells]
        )
        chance = next((c["chance"] for c in cells if c and c.get("chance") == c.get("chance")), None)
        labels.append(collected["benchmarks"][key]["label"] + (f"\nchance {chance:.0f}%" if chance else ""))
    t = ax.table(
        cellText=rows,
        cellColours=colours,
        rowLabels=labels,
        colLabels=[f"{METHOD_LABELS[m]}\n{MODE_LABELS[md_]}" for m, md_ in cols],
        loc="center",
        cellLoc="center",
    )
    t.auto_set_font_size(False)
    t.set_fontsize(8)
    t.scale(1, 4.2)
    # the bars
    ax = fig.add_subplot(grid[2])
    width = 0.8 / len(cols)
    for j, (m, md_) in enumerate(cols):
        xs, ys, err = [], [], [[], []]
        for i, key in enumerate(keys):
            c = cell(table, key, m, md_)
            if c:
                xs.append(i + (j - (len(cols) - 1) / 2) * width)
                ys.append(c["accuracy"])
                err[0].append(max(0, c["accuracy"] - c["ci_low"]))
                err[1].append(max(0, c["ci_high"] - c["accuracy"]))
        ax.bar(
            xs,
            ys,
            width,
            yerr=err,
            color=COLOURS[m],
            hatch="//" if md_ == "think" else None,
            edgecolor="#333",
            linewidth=0.5,
            label=f"{METHOD_LABELS[m]} {MODE_LABELS[md_]}",
            capsize=2,
        )
    for i, key in enumerate(keys):
        c = next((c for m, md_ in cols if (c := cell(table, key, m, md_))), None)
        if c and c.get("chance") == c.get("chance"):
            ax.hlines(c["chance"], i - 0.45, i + 0.45, colors="#c62828", linestyles="dashed", linewidth=1)
    ax.set_xticks(range(len(keys)), [collected["benchmarks"][k]["label"] for k in keys])
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 100)
    ax.legend(ncol=6, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.1))
    ax.set_title("Table 1 as bars (whiskers: 95% interval; dashed: chance)", loc="left")
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, bbox_inches="tight")
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("study_dir", nargs="?", help="a study folder (default: outputs/smoke, else the made-up example)")
    p.add_argument("--out", default="docs/report.png", help="the PNG to write (default docs/report.png)")
    ns = p.parse_args(argv)
    study_dir, note = notebook_study(ns.study_dir, smoke="outputs/smoke")
    print(f"{draw(study_dir, Path(ns.out))} drawn from {study_dir}" + (f" ({plain(note)})" if note else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The study report: what ``notebooks/report.ipynb`` calls for every number, table and figure.

``vrft report STUDY_DIR`` (and ``vrft study``, last) executes that notebook with papermill into
``STUDY_DIR/report.ipynb`` and exports it with nbconvert, code hidden, into ``STUDY_DIR/report.html``
(:mod:`vrft_lib.report.render`). The notebook writes, through :func:`write_outputs`:

* ``table1.csv``: the tidy table (one row per benchmark, method and prompt mode; rates in percent);
* ``metrics.json``: everything the report computed (table, findings, the paired ``comparisons``,
  per-run metrics, timings).

The package, by responsibility (this face only re-exports):

* :mod:`~vrft_lib.report.analysis`: everything the report shows, computed once (:func:`analyse_study`),
  and the files it writes (:func:`write_outputs`);
* :mod:`~vrft_lib.report.collect`: read a study folder (study.yaml, each run's files, provenance),
  each file checked as it is read against :mod:`~vrft_lib.report.schema` (what the report needs of it);
* :mod:`~vrft_lib.report.findings`: Table 1 and the findings, by the rules of ``docs/report.md``;
* :mod:`~vrft_lib.report.stats`: the intervals, the paired comparisons and the verdict rules;
* :mod:`~vrft_lib.report.figures`: Figure 1 and Figure 2 (their data and their display);
* :mod:`~vrft_lib.report.views`: the Markdown text and tables the notebook shows;
* :mod:`~vrft_lib.report.variant_views`: Table 2 (the study's other variants) and their definitions;
* :mod:`~vrft_lib.report.setup`: how each run was trained (batch, SFT targets, frozen parts, its
  compute) and the strict beside the lenient accuracy;
* :mod:`~vrft_lib.report.compute`: what the runs cost (their ``compute.json``), RFT's training compute
  against SFT's per benchmark, and accuracy against training compute;
* :mod:`~vrft_lib.report.render`: execute the notebook, export the page, and know whether the page is
  up to date (not imported here: the notebook's kernel needs none of it).

Missing, unfinished or unreadable runs (a file that fails its check) never stop the report: their
cells show "—" and they are listed with why. A study.yaml that fails its check is a VrftError.
"""

from .analysis import StudyReport, analyse_study, build_report, metrics_record, write_outputs
from .claims import PAPER_CLAIMS
from .collect import (
    collect_study,
    finished_runs,
    provenance_summary,
    read_predictions,
    run_timings,
    task_kind,
)
from .compute import compute_comparisons, compute_figure, compute_markdown, compute_record, compute_table
from .figures import (
    FIGURE1_EXAMPLES,
    figure1_display,
    figure1_examples,
    figure2,
    length_curves,
    select_examples,
    table1_bars,
    table2_bars,
    training_figures,
)
from .findings import TIE_POINTS, comparisons, findings, paper_table, table1
from .setup import strict_and_lenient, training_setup
from .variant_views import table2_view, variants_view
from .views import (
    claims_note,
    claims_view,
    comparisons_view,
    findings_markdown,
    how_markdown,
    key_findings,
    length_table,
    made_with,
    missing_view,
    packages_view,
    runs_view,
    summary_markdown,
    table1_note,
    table1_view,
    timings_markdown,
    timings_view,
)

__all__ = [
    "compute_comparisons",
    "compute_figure",
    "compute_markdown",
    "compute_record",
    "compute_table",
    "strict_and_lenient",
    "training_setup",
    "FIGURE1_EXAMPLES",
    "PAPER_CLAIMS",
    "TIE_POINTS",
    "StudyReport",
    "analyse_study",
    "build_report",
    "claims_note",
    "claims_view",
    "collect_study",
    "comparisons",
    "comparisons_view",
    "figure1_display",
    "figure1_examples",
    "figure2",
    "findings",
    "findings_markdown",
    "finished_runs",
    "how_markdown",
    "key_findings",
    "length_curves",
    "length_table",
    "made_with",
    "metrics_record",
    "missing_view",
    "packages_view",
    "paper_table",
    "provenance_summary",
    "read_predictions",
    "run_timings",
    "runs_view",
    "select_examples",
    "summary_markdown",
    "table1",
    "table1_bars",
    "table1_note",
    "table1_view",
    "table2_bars",
    "table2_view",
    "task_kind",
    "timings_markdown",
    "timings_view",
    "training_figures",
    "variants_view",
    "write_outputs",
]

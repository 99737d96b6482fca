"""Render a study's report: execute ``notebooks/report.ipynb`` on the study folder with papermill, then
export it with nbconvert into one self-contained page, code cells hidden.

The page needs no network for anything it shows: images are embedded, plotly.js is inlined once by
the notebook's renderer (:func:`vrft_lib.plots.setup_notebook_renderer`), and the template is
nbconvert's ``lab`` template without the scripts it would fetch from a CDN (require.js, MathJax,
mermaid.js, the widget manager), which the report does not use.

papermill, nbformat and nbconvert are imported by the functions that use them: they are needed only
to render, and nbformat alone takes about a second to import.
"""

from __future__ import annotations

import ast
import hashlib
from pathlib import Path

import jinja2

from ..files import NotRegularFile, naming_path, read_bytes, read_text, refuse_links, remove_file, write_text
from ..kernel import kernel_manager_class, private_kernel_dir
from ..plan.spec import notebooks_dir
from ..vocab import REPORT_NOTEBOOK
from .collect import files_read, read_study_yaml

REPORT_HTML = "report.html"
REPORT_STAMP = ".report-inputs"  # the fingerprint of what report.html was rendered from
TEMPLATE_NAME = "vrft_report.html.j2"
# nbconvert's lab template with every block that loads a script from the network left empty.
TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
"""


def html_exporter():
    """nbconvert's HTML exporter for the report: code cells and prompts hidden, images embedded, no
    script fetched from the network."""
    from nbconvert import HTMLExporter  # nbconvert (and papermill, nbformat below): only to render a report

    return HTMLExporter(
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        exclude_anchor_links=True,
        embed_images=True,
        extra_loaders=[jinja2.DictLoader({TEMPLATE_NAME: TEMPLATE})],
        template_file=TEMPLATE_NAME,
    )


def drop_stderr(nb):
    """Leave out what the cells printed to stderr (library warnings); the executed notebook keeps it."""
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs if not (o.output_type == "stream" and o.get("name") == "stderr")]
    return nb


def export_html(notebook, html_path, title: str | None = None) -> Path:
    """Export an executed notebook to one self-contained HTML page (written atomically), without what
    its cells printed to stderr; ``title`` is the page's title (default: the page's file name)."""
    import nbformat

    nb = drop_stderr(nbformat.read(str(notebook), as_version=4))
    resources = {"metadata": {"name": title or Path(html_path).stem}}
    body, _ = html_exporter().from_notebook_node(nb, resources=resources)
    write_text(body, html_path)
    return Path(html_path)


def execute_report(out, kernel_name: str = "python3") -> Path:
    """Execute the report notebook on the study folder ``out`` into ``out/report.ipynb`` (the notebook
    writes ``table1.csv`` and ``metrics.json`` there). Raises papermill's error when a cell fails."""
    import papermill as pm

    out = Path(out).resolve()
    refuse_links(out / REPORT_NOTEBOOK)  # papermill writes it with a plain open(): no link followed
    with private_kernel_dir(), naming_path(out / REPORT_NOTEBOOK):
        _execute(pm, out, kernel_name)
    return out / REPORT_NOTEBOOK


def _execute(pm, out: Path, kernel_name: str) -> None:
    pm.execute_notebook(
        str(notebooks_dir() / REPORT_NOTEBOOK),
        str(out / REPORT_NOTEBOOK),
        parameters={"study_dir": str(out), "write_files": True},
        kernel_name=kernel_name,
        kernel_manager_class=kernel_manager_class(out / "report-kernel.log"),
        cwd=str(notebooks_dir()),
        progress_bar=False,
        log_output=False,
        shutdown_kernel="immediate",
    )


def render_page(out, kernel_name: str = "python3") -> Path:
    """Execute the report notebook on the study folder ``out`` and export ``out/report.html``.

    Raises:
        VrftError: ``out`` has no study.yaml, or one that fails its check (before anything is run or
            written; a run whose files cannot be read is shown as such on the page instead).
    """
    out = Path(out).resolve()
    read_study_yaml(out)
    notebook = execute_report(out, kernel_name)
    return export_html(notebook, out / REPORT_HTML, title=f"{out.name}: study report")


def report_code() -> list[Path]:
    """The kit's source files the report is computed with: the ``report`` package and every
    ``vrft_lib`` module it imports, directly or not, read from their import statements (so a new
    import counts without a list to update)."""
    package = Path(__file__).resolve().parent.parent
    todo, seen = sorted((package / "report").glob("*.py")), set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.ImportFrom) and node.level):
                continue
            base = path.parent
            for _ in range(node.level - 1):
                base = base.parent
            if node.module:
                base = base.joinpath(*node.module.split("."))
            for target in [base] + [base / alias.name for alias in node.names]:
                todo += [f for f in (target.with_suffix(".py"), target / "__init__.py") if f.is_file()]
    return sorted(seen)


def report_inputs(out) -> str:
    """A fingerprint of what the report is made from: the study, the files it reads of every finished
    run (:func:`vrft_lib.report.collect.files_read`), and the code (:func:`report_code`) and notebook
    that render it. Equal fingerprints give the same report."""
    out = Path(out)
    h = hashlib.sha256()
    for path in files_read(out):
        h.update(str(path.relative_to(out)).encode())
        h.update(_content(path))
    for path in [*report_code(), notebooks_dir() / REPORT_NOTEBOOK]:
        h.update(_content(path))
    return h.hexdigest()


def _content(path: Path) -> bytes:
    """A file's bytes for the fingerprint; a stand-in for one that is missing or not a regular file
    (a FIFO is never opened for reading: it would block)."""
    try:
        return read_bytes(path)
    except NotRegularFile as e:
        return f"not a regular file: {e.strerror}".encode()
    except OSError:
        return b"-"


def report_up_to_date(out) -> bool:
    """True when report.html exists and was rendered from exactly the study's present inputs."""
    out = Path(out)
    try:
        stamp = read_text(out / REPORT_STAMP).strip()
    except OSError:  # missing, or not a regular file
        return False
    return (out / REPORT_HTML).exists() and stamp == report_inputs(out)


def render_report(out, kernel_name: str = "python3") -> Path:
    """Render the page (:func:`render_page`) and record the fingerprint of its inputs beside it, so
    that :func:`report_up_to_date` can tell when it must be rendered again."""
    out = Path(out)
    fingerprint = report_inputs(out)
    remove_file(out / REPORT_STAMP)
    page = render_page(out, kernel_name=kernel_name)
    write_text(fingerprint + "\n", out / REPORT_STAMP)
    return page

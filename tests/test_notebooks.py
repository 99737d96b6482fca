"""Every notebook runs top to bottom with its default parameters under nbval (slow).

The notebooks are copied into a scratch checkout layout (notebooks/ beside outputs/) so that their
default relative output paths land in a temporary folder; the report notebook reads the reduced
study made by the `mini_study` fixture.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

NOTEBOOKS = sorted(p.name for p in Path("notebooks").glob("*.ipynb"))


def test_notebooks_are_committed_without_outputs():
    import nbformat

    assert {"training_free.ipynb", "sft.ipynb", "rft.ipynb", "report.ipynb", "explore_benchmark.ipynb"} <= set(
        NOTEBOOKS
    )
    for name in NOTEBOOKS:
        nb = nbformat.read(f"notebooks/{name}", as_version=4)
        tagged = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
        assert len(tagged) == 1, f"{name}: exactly one cell must be tagged 'parameters'"
        assert nb.metadata["kernelspec"]["name"] == "python3"
        for c in nb.cells:
            if c.cell_type == "code":
                assert not c.outputs and c.execution_count is None, f"{name} has outputs"


def test_every_notebook_runs_under_nbval(tmp_path, mini_study):
    work = tmp_path / "kit"
    shutil.copytree("notebooks", work / "notebooks")
    (work / "outputs").mkdir()
    os.symlink(mini_study["out"], work / "outputs" / "smoke")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval-lax", "-q", "-p", "no:cacheprovider", str(work / "notebooks")],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=work,
    )
    assert proc.returncode == 0, proc.stdout[-5000:]
    assert f"{len(NOTEBOOKS)} passed" in proc.stdout or "passed" in proc.stdout
    for name in ("training_free", "sft", "rft"):
        assert (work / "outputs" / "notebooks" / name / "eval" / "metrics.json").exists(), name


def _nbval(notebook: Path, cwd: Path):
    env = dict(os.environ, PYTHONPATH=str(Path.cwd()))  # the kernels import this checkout's vrft_lib
    return subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval-lax", "-q", "-p", "no:cacheprovider", str(notebook)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=cwd,
        env=env,
    )


def test_report_notebook_runs_on_a_fresh_clone_and_leaves_a_study_untouched(tmp_path):
    work = tmp_path / "kit"
    shutil.copytree("notebooks", work / "notebooks")
    proc = _nbval(work / "notebooks" / "report.ipynb", work)  # no outputs/ at all: the made-up example
    assert proc.returncode == 0, proc.stdout[-5000:]
    assert not (work / "outputs").exists()
    # a study in outputs/smoke is read, never written (its report.html, table1.csv, metrics.json)
    from vrft_lib.report.example import write_example_study

    smoke = write_example_study(work / "outputs" / "smoke")
    for name in ("report.html", "table1.csv", "metrics.json"):
        (smoke / name).write_text(f"the user's {name}")
    before = {p: p.read_bytes() for p in smoke.rglob("*") if p.is_file()}
    proc = _nbval(work / "notebooks" / "report.ipynb", work)
    assert proc.returncode == 0, proc.stdout[-5000:]
    assert {p: p.read_bytes() for p in smoke.rglob("*") if p.is_file()} == before


def test_ipc_kernels_start_without_the_unencrypted_tcp_warning(tmp_path, capfd, monkeypatch):
    import nbformat
    import papermill as pm

    from vrft_lib.kernel import kernel_manager_class

    monkeypatch.setenv("VRFT_KERNEL_TRANSPORT", "ipc")
    monkeypatch.chdir(tmp_path)  # the IPC sockets are made in the working folder
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print('hello')")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, tmp_path / "in.ipynb")
    out = pm.execute_notebook(
        str(tmp_path / "in.ipynb"),
        str(tmp_path / "out.ipynb"),
        kernel_manager_class=kernel_manager_class(),
        progress_bar=False,
    )
    assert out.cells[0].outputs[0]["text"] == "hello\n"
    assert "without encryption" not in capfd.readouterr().err


def test_a_kernel_with_a_log_keeps_its_own_output_off_the_console(tmp_path, capfd):
    import nbformat
    import papermill as pm

    from vrft_lib.kernel import kernel_manager_class

    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("import os\nprint('hello')\nos.write(2, b'below python\\n')")]
    )
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, tmp_path / "in.ipynb")
    out = pm.execute_notebook(
        str(tmp_path / "in.ipynb"),
        str(tmp_path / "out.ipynb"),
        kernel_manager_class=kernel_manager_class(tmp_path / "kernel.log"),
        progress_bar=False,
    )
    assert out.cells[0].outputs[0]["text"].startswith("hello\n")  # cell output stays in the notebook
    log = (tmp_path / "kernel.log").read_text()
    assert "without encryption" in log  # the kernel's TCP start-up warning went to the log ...
    assert "without encryption" not in capfd.readouterr().err  # ... not to the console

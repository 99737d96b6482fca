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

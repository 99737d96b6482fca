"""A non-editable install runs a study from a folder outside the checkout (slow: builds and installs).

The kit is built into a wheel and installed (not editable) into a fresh virtual environment whose
dependencies come from the test's own environment, then `vrft` runs from a scratch folder: the
notebooks and params it uses must be the ones shipped inside the installed package.
"""

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from conftest import MINI_STUDY

pytestmark = pytest.mark.slow
CHECKOUT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """``(venv, site-packages)`` of a fresh environment holding the kit from a wheel."""
    root = tmp_path_factory.mktemp("install")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = venv / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    # the dependencies: this environment's packages, on the path after the new environment's own
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    wheels = root / "wheels"
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(CHECKOUT),
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(wheels),
        ],
        capture_output=True,
        text=True,
        cwd=root,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    wheel = next(wheels.glob("vrft-*.whl"))
    inst = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(py),
            "install",
            "--no-deps",
            "--ignore-installed",
            "-q",
            str(wheel),
        ],
        capture_output=True,
        text=True,
        cwd=root,
    )
    assert inst.returncode == 0, inst.stderr[-3000:]
    return venv, site


def _vrft(venv, *args, cwd, timeout=600):
    env = {k: v for k, v in os.environ.items() if k != "VRFT_NOTEBOOKS"}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    # the dependencies' data files (nbconvert's templates) lie in their own environment's share/jupyter
    env["JUPYTER_PATH"] = str(Path(sys.prefix) / "share" / "jupyter")
    return subprocess.run(
        [str(venv / "bin" / "vrft"), *map(str, args)], capture_output=True, text=True, cwd=cwd, env=env, timeout=timeout
    )


def test_the_wheel_ships_the_package_the_notebooks_and_the_params(installed):
    venv, site = installed
    pkg = site / "vrft_lib"
    assert {p.name for p in (pkg / "notebooks").glob("*.ipynb")} >= {
        "training_free.ipynb",
        "sft.ipynb",
        "rft.ipynb",
        "report.ipynb",
        "explore_benchmark.ipynb",
    }
    assert {p.name for p in (pkg / "params").glob("*.yaml")} >= {
        "smoke.yaml",
        "paper.yaml",
        "paper_single_gpu.yaml",
        "paper_matched_freeze.yaml",
    }
    assert (pkg / "params" / "accelerate" / "zero3.yaml").is_file()
    # every subpackage of the checkout is in the wheel
    for init in (CHECKOUT / "vrft_lib").rglob("__init__.py"):
        assert (pkg / init.relative_to(CHECKOUT / "vrft_lib")).is_file(), init


def test_a_non_editable_install_dry_runs_the_kit_studies_from_any_folder(installed, tmp_path):
    venv, site = installed
    proc = _vrft(venv, "study", "params/smoke.yaml", "--dry-run", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    plan = json.loads(proc.stdout)
    assert plan["study"] == "smoke" and len(plan["runs"]) == 11
    assert Path(plan["out"]) == tmp_path / "outputs" / "smoke"
    paper = _vrft(venv, "study", "paper", "--dry-run", "--json", cwd=tmp_path)
    assert paper.returncode == 0, paper.stderr[-2000:]
    zero3 = [r for r in json.loads(paper.stdout)["runs"] if r["parameters"]["run"].get("accelerate_config")]
    assert zero3 and all(r["parameters"]["run"]["accelerate_config"].startswith(str(site)) for r in zero3)
    missing = _vrft(venv, "study", "params/nope.yaml", "--dry-run", cwd=tmp_path)
    own = "kit's own studies (extend, paper, paper_matched_freeze, paper_single_gpu, smoke)"
    assert missing.returncode == 2 and own in missing.stderr


def test_a_non_editable_install_runs_a_study_and_its_report(installed, tmp_path, tiny_base):
    venv, site = installed
    params = tmp_path / "mini.yaml"
    params.write_text(MINI_STUDY)
    proc = _vrft(
        venv, "study", params, "--out", "out", "--only", "synthetic_banner/training_free/*", cwd=tmp_path, timeout=900
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    run = tmp_path / "out" / "runs" / "synthetic_banner" / "training_free" / "seed0"
    assert (run / "DONE").is_file() and (run / "eval" / "metrics.json").is_file()
    executed = json.loads((run / "notebook.ipynb").read_text())
    assert executed["metadata"]["papermill"]["input_path"].startswith(str(site / "vrft_lib" / "notebooks"))
    assert (tmp_path / "out" / "report.html").is_file()
    assert not (CHECKOUT / "outputs" / "mini").exists()

"""Faults and races: one writer per folder, nothing stale trusted, damaged checkpoints passed over,
a full disk or a signal ends in a message, and bad data refused up front. Unit-level, no training."""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

import pytest
import yaml
from data_fixtures import make_banner_folder, make_fgvc_root

from vrft_lib import cli
from vrft_lib.checkpoints import checkpoint_problem
from vrft_lib.errors import ConfigError, DataError
from vrft_lib.files import FaultError, drop_truncated_notebook, dump_yaml, fault_error, write_json
from vrft_lib.kernel import KERNELS_PREFIX
from vrft_lib.locks import LOCK_FILE, FolderBusy, folder_lock, run_lock_path
from vrft_lib.runfolder import missing_run_outputs, reopen_run, write_done
from vrft_lib.study import runner

REPO = Path(__file__).resolve().parents[1]
STUDY = {
    "name": "f",
    "model": "tiny",
    "benchmarks": {"synthetic_banner": {"data": {"name": "synthetic_banner", "eval_limit": 4}}},
    "variants": ["training_free"],
}
RUN = "synthetic_banner/training_free/seed0"


def _study(tmp_path, **extra) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({**STUDY, **extra}))
    return path


# ----------------------------------------------------------------------------------------------
# one writer per folder
# ----------------------------------------------------------------------------------------------


@contextlib.contextmanager
def held_by_another_process(lock: Path):
    """A second process holding ``lock`` until the block ends; yields its PID."""
    code = "import sys\nfrom vrft_lib.locks import folder_lock\nwith folder_lock(sys.argv[1]):\n"
    code += "    print('held', flush=True)\n    sys.stdin.read()\n"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(lock)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert proc.stdout.readline().strip() == "held"
        yield proc.pid
    finally:
        proc.stdin.close()
        proc.wait(timeout=60)


def test_a_second_study_on_the_same_folder_is_refused_naming_the_holder(tmp_path, no_work, capsys):
    params, out = _study(tmp_path), tmp_path / "out"
    unfinished = out / "runs" / RUN / "parameters.yaml"
    unfinished.parent.mkdir(parents=True)
    unfinished.write_text("another process is writing this\n")
    with held_by_another_process(out / LOCK_FILE) as pid:
        with pytest.raises(FolderBusy, match=rf"PID {pid} on host .*started .*holds '{out / LOCK_FILE}'"):
            runner.run_study(params, out=out, force=True)
        # --dry-run and --status still read
        assert cli.main(["study", str(params), "--out", str(out), "--dry-run"]) == 0
        assert cli.main(["study", str(params), "--out", str(out), "--status"]) == 0
        assert RUN in capsys.readouterr().out
        assert sorted(p.name for p in out.iterdir()) == [LOCK_FILE, "runs"]  # no study.yaml, summary, report
    assert no_work == [] and unfinished.read_text() == "another process is writing this\n"
    # once the holder is gone, the study runs (and takes --force to replace the unfinished run)
    runner.run_study(params, out=out, force=True, no_report=True)
    assert no_work == [RUN] and not unfinished.exists() and not (out / LOCK_FILE).exists()


def test_cluster_jobs_share_the_folder_but_not_a_run(tmp_path, no_work):
    params, out = _study(tmp_path, seeds=[0, 1]), tmp_path / "out"
    with folder_lock(run_lock_path(out, RUN)):  # a job running seed0
        runner.run_study(params, out=out, only="*/seed1", no_report=True)  # another job: seed1
        with pytest.raises(FolderBusy, match=f"writing to run {RUN}"):
            runner.run_study(params, out=out, only="*/seed0", no_report=True)
        with folder_lock(out / LOCK_FILE, shared=True):  # a full study waits for the jobs
            with pytest.raises(FolderBusy, match="writing to the study folder"):
                runner.run_study(params, out=out)
    assert no_work == ["synthetic_banner/training_free/seed1"]


# ----------------------------------------------------------------------------------------------
# nothing stale trusted
# ----------------------------------------------------------------------------------------------


def test_a_finished_run_with_lost_outputs_is_run_again_naming_the_file(tmp_path, no_work):
    params, out = _study(tmp_path), tmp_path / "out"
    runner.run_study(params, out=out, no_report=True)
    run_dir = out / "runs" / RUN
    (run_dir / "eval" / "metrics.json").unlink()
    log = io.StringIO()
    runner.run_study(params, out=out, no_report=True, stream=log)
    assert no_work == [RUN, RUN]
    assert f"{RUN} was finished, but '{run_dir / 'eval' / 'metrics.json'}' is missing" in log.getvalue()
    # a trained run that lost its weights loses its training and evaluation markers too
    for name in ("train/DONE", "train/steps.csv", "train/model/config.json", "train/model/model.safetensors"):
        (run_dir / name).parent.mkdir(parents=True, exist_ok=True)
        (run_dir / name).write_text("{}")
    assert missing_run_outputs(run_dir, trained=True) == []
    (run_dir / "train/model/model.safetensors").unlink()
    lost = missing_run_outputs(run_dir, trained=True)
    assert lost == [run_dir / "train/model/model.safetensors"]
    assert sorted(str(p.relative_to(run_dir)) for p in reopen_run(run_dir, lost)) == ["DONE", "eval/DONE", "train/DONE"]


def test_force_clears_an_unfinished_run_of_another_config(tmp_path, no_work):
    params, out = _study(tmp_path), tmp_path / "out"
    saved = out / "runs" / RUN / "train" / "config.yaml"
    dump_yaml({"name": "an older config", "seed": 7}, saved)
    with pytest.raises(ConfigError, match="holds unfinished runs of a different config.*Pass --force"):
        runner.run_study(params, out=out, no_report=True)
    runner.run_study(params, out=out, force=True, no_report=True)
    assert no_work == [RUN] and not saved.exists()


def test_an_evaluation_of_another_config_is_done_again(tmp_path, monkeypatch, capsys):
    from vrft_lib import evaluate as ev

    cfg = {"name": "e", "model": "tiny", "data": {"name": "synthetic_banner", "eval_limit": 8}}
    out = tmp_path / "eval"
    old = {"modes": {"think": {"n": 8}}}
    write_json(old, out / "metrics.json")
    (out / "predictions.jsonl").write_text("")
    dump_yaml(ev.load_eval_config(cfg, output_dir=str(out)).to_dict(), out / "config.yaml")
    write_done(out)  # a killed run's finished evaluation
    assert ev.evaluate(cfg, output_dir=str(out), progress=False) == old  # same config: trusted

    class Evaluating(Exception):
        pass

    def load_benchmark(*a, **k):
        raise Evaluating

    monkeypatch.setattr(ev, "load_benchmark", load_benchmark)
    changed = {**cfg, "data": {"name": "synthetic_banner", "eval_limit": 24}}
    with pytest.raises(Evaluating):
        ev.evaluate(changed, output_dir=str(out))
    assert "was finished, but its config.yaml differs in: data: evaluating again" in capsys.readouterr().out
    assert not (out / "DONE").exists()
    write_done(out)
    (out / "predictions.jsonl").unlink()  # same config, a lost output
    with pytest.raises(Evaluating):
        ev.evaluate(cfg, output_dir=str(out))
    assert f"'{out / 'predictions.jsonl'}' is missing" in capsys.readouterr().out


def test_the_report_is_stale_when_a_metrics_or_predictions_file_changes(tmp_path):
    from vrft_lib.report.render import REPORT_STAMP, report_inputs, report_up_to_date

    (tmp_path / "study.yaml").write_text("name: s\n")
    run = tmp_path / "runs" / "b" / "rft" / "seed0"
    write_done(run)
    for name in ("eval/metrics.json", "eval/predictions.jsonl", "train/steps.csv"):
        (tmp_path / "report.html").write_text("<html></html>")
        (tmp_path / REPORT_STAMP).write_text(report_inputs(tmp_path))
        assert report_up_to_date(tmp_path)
        (run / name).parent.mkdir(parents=True, exist_ok=True)
        (run / name).write_text("changed")
        assert not report_up_to_date(tmp_path), name


def test_a_garbled_study_record_is_named(tmp_path, capsys):
    params, out = _study(tmp_path), tmp_path / "out"
    out.mkdir()
    (out / "study.yaml").write_text("name: [unclosed\n  x: {")
    assert cli.main(["study", str(params), "--out", str(out), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert f"'{out / 'study.yaml'}' is garbled" in err and "Traceback" not in err


# ----------------------------------------------------------------------------------------------
# checkpoints checked before resuming
# ----------------------------------------------------------------------------------------------


def _checkpoint(folder: Path, step: int) -> Path:
    import torch
    from safetensors.torch import save_file

    folder.mkdir(parents=True)
    save_file({"w": torch.arange(64, dtype=torch.float32)}, folder / "model.safetensors")
    torch.save({"state": {0: torch.zeros(64)}}, folder / "optimizer.pt")
    (folder / "trainer_state.json").write_text(json.dumps({"global_step": step, "log_history": []}))
    return folder


def _truncate(path: Path, keep: int = 40) -> None:
    path.write_bytes(path.read_bytes()[:keep])


@pytest.mark.parametrize(
    "damage, why",
    [
        (lambda c: _truncate(c / "model.safetensors"), "model.safetensors is truncated"),
        (lambda c: _truncate(c / "model.safetensors", 4), "model.safetensors is truncated"),
        (lambda c: _truncate(c / "optimizer.pt", 100), "optimizer.pt is truncated"),
        (lambda c: (c / "trainer_state.json").write_text('{"global_st'), "trainer_state.json is not a complete"),
        (lambda c: (c / "trainer_state.json").unlink(), "no trainer_state.json"),
    ],
)
def test_a_damaged_newest_checkpoint_is_passed_over_with_one_line(tmp_path, damage, why):
    from vrft_lib.checkpoints import last_complete_checkpoint

    good = _checkpoint(tmp_path / "checkpoint-2", 2)
    bad = _checkpoint(tmp_path / "checkpoint-4", 4)
    assert checkpoint_problem(bad) is None and last_complete_checkpoint(tmp_path) == str(bad)
    damage(bad)
    lines = []
    assert last_complete_checkpoint(tmp_path, report=lines.append) == str(good)
    assert len(lines) == 1 and f"skipping damaged checkpoint {bad}: {why}" in lines[0]
    damage(good)  # none whole: a fresh start
    assert last_complete_checkpoint(tmp_path, report=lines.append) is None and len(lines) == 3


def test_steps_table_columns_do_not_depend_on_the_order_of_the_log():
    from vrft_lib.train import steps_table

    a = steps_table([{"step": 1, "loss": 1.0, "clip": 0.1, "epoch": 0.5}, {"step": 2, "loss": 0.5, "epoch": 1.0}])
    b = steps_table([{"epoch": 0.5, "step": 1, "loss": 1.0}, {"epoch": 1.0, "clip": 0.2, "loss": 0.5, "step": 2}])
    assert list(a.columns) == list(b.columns) == ["step", "loss", "clip", "epoch"]


# ----------------------------------------------------------------------------------------------
# faults become messages
# ----------------------------------------------------------------------------------------------


@contextlib.contextmanager
def full_disk(tmp_path, monkeypatch):
    """A folder on a full file system: a 1 MB tmpfs filled up when it can be mounted (as root), else
    writes there fail the way a full disk fails them (os.replace and Path.write_text raise ENOSPC)."""
    folder = tmp_path / "full"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)], capture_output=True)
    try:
        if mounted.returncode == 0:
            with contextlib.suppress(OSError), open(folder / "filler", "wb") as f:
                f.write(b"\0" * (2 << 20))
        else:
            real = Path.write_text

            def write_text(self, *a, **k):
                if str(self).startswith(str(folder)):
                    raise OSError(errno.ENOSPC, "No space left on device")  # no file named, as os.write
                return real(self, *a, **k)

            monkeypatch.setattr(Path, "write_text", write_text)
        yield folder, mounted.returncode == 0
    finally:
        if mounted.returncode == 0:
            subprocess.run(["umount", str(folder)], check=True)


def test_a_full_disk_names_the_file_and_leaves_no_temporary_file(tmp_path, monkeypatch):
    with full_disk(tmp_path, monkeypatch) as (folder, real):
        with pytest.raises(OSError) as info:
            write_json({"x": "y" * (1 << 20)}, folder / "metrics.json")
        assert info.value.errno == errno.ENOSPC and info.value.filename == str(folder / "metrics.json")
        assert sorted(p.name for p in folder.iterdir()) == (["filler"] if real else [])
    message = str(fault_error(info.value))
    assert f"Cannot write '{folder / 'metrics.json'}': the disk is full" in message and "another --out" in message


@pytest.mark.parametrize(
    "error, words",
    [
        (OSError(errno.ENOSPC, "No space left on device", "/o/runs/x/notebook.ipynb"), "the disk is full"),
        (PermissionError(errno.EACCES, "Permission denied", "/o/study.yaml"), "permission denied"),
    ],
)
def test_a_fault_during_a_study_is_one_paragraph_and_the_summary_is_written(
    tmp_path, monkeypatch, capsys, error, words
):
    params, out = _study(tmp_path), tmp_path / "out"
    monkeypatch.setattr(runner, "ensure_tiny_build", lambda name: "tiny")

    def fail(run, kernel_name="python3"):
        raise error

    monkeypatch.setattr(runner, "execute_run", fail)
    assert cli.main(["study", str(params), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: Cannot write '{error.filename}': {words}") and "Traceback" not in err
    summary = json.loads((out / "last_invocation.json").read_text())
    assert summary["stopped"].startswith(f"Cannot write '{error.filename}'")
    with pytest.raises(FaultError):  # --debug: the traceback, chained to the OSError
        cli.main(["--debug", "study", str(params), "--out", str(out)])


def test_sigterm_stops_a_study_like_ctrl_c_and_removes_the_kernel_files(tmp_path, monkeypatch, capsys):
    params, out = _study(tmp_path), tmp_path / "out"
    monkeypatch.setattr(runner, "ensure_tiny_build", lambda name: "tiny")
    runtime = []

    def killed(run, kernel_name="python3"):
        runtime.append(Path(os.environ["JUPYTER_RUNTIME_DIR"]))
        assert tempfile.gettempdir() == str(runtime[0])  # where jupyter_client's mkstemp writes
        (runtime[0] / "kernel-1234.json").write_text('{"key": "secret"}')  # what a kernel leaves
        signal.raise_signal(signal.SIGTERM)
        raise AssertionError("SIGTERM did not stop the run")

    monkeypatch.setattr(runner, "execute_run", killed)
    before, handler = os.environ.get("JUPYTER_RUNTIME_DIR"), signal.getsignal(signal.SIGTERM)
    killed_earlier = Path(tempfile.mkdtemp(prefix=f"{KERNELS_PREFIX}{2**22 + 1}-"))  # a SIGKILLed study's
    (killed_earlier / "tmpab12.json").write_text('{"key": "secret"}')
    assert cli.main(["study", str(params), "--out", str(out)]) == 130
    assert "interrupted (SIGTERM)" in capsys.readouterr().err
    assert not runtime[0].exists() and os.environ.get("JUPYTER_RUNTIME_DIR") == before
    assert not killed_earlier.exists() and tempfile.gettempdir() != str(runtime[0])
    assert json.loads((out / "last_invocation.json").read_text())["stopped"] == "interrupted"
    assert signal.getsignal(signal.SIGTERM) == handler


def test_temporary_files_of_a_killed_writer_are_removed_by_the_next_study(tmp_path, no_work):
    params, out = _study(tmp_path), tmp_path / "out"
    left = out / "runs" / RUN / "eval" / ".metrics.json.k3j_9z0a.vrft-tmp"
    left.parent.mkdir(parents=True)
    left.write_text('{"mo')
    runner.run_study(params, out=out)
    assert not left.exists() and no_work == [RUN]


# ----------------------------------------------------------------------------------------------
# up-front data checks
# ----------------------------------------------------------------------------------------------


def test_an_image_name_that_is_not_utf8_is_named(tmp_path):
    from vrft_lib.data import check_benchmark_files, load_benchmark

    root = make_banner_folder(tmp_path)
    bad = os.path.join(os.fsencode(root / "train" / "positive"), b"caf\xe9.png")
    shutil.copy(root / "train" / "positive" / "p0.png", bad)
    match = r"The name of file '.*positive/caf\\xe9.png' of benchmark 'banner' is not valid UTF-8"
    with pytest.raises(DataError, match=match):
        check_benchmark_files("banner", "train", root=str(root))
    with pytest.raises(DataError, match=match):
        load_benchmark("banner", "train", root=str(root))


def test_duplicate_class_names_are_refused(tmp_path):
    from vrft_lib.data import check_benchmark_files

    root = make_fgvc_root(tmp_path)
    variants = root / "data" / "variants.txt"
    first = variants.read_text().splitlines()[0]
    variants.write_text(variants.read_text() + first + "\n")
    match = rf"class list '{re.escape(str(variants))}' names class '{re.escape(first)}' 2 times \(class lines 1, "
    with pytest.raises(DataError, match=match):
        check_benchmark_files("fgvc_aircraft", "train", root=str(root))


def _png_header_only(path: Path, width: int, height: int) -> Path:
    """A PNG that claims width x height pixels in its header (its pixel data are a few bytes)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0")) + chunk(b"IEND", b"")
    )
    return path


@pytest.mark.parametrize("side", [12000, 30000])  # above the kit's bound; above PIL's own bomb limit
def test_an_image_above_the_pixel_bound_is_refused_before_decoding(tmp_path, side):
    from vrft_lib.data import load_benchmark

    root = make_banner_folder(tmp_path)
    big = _png_header_only(root / "train" / "negative" / "huge.png", side, side)
    with pytest.raises(DataError, match=rf"{re.escape(str(big))}: the image is .*above .*VRFT_MAX_IMAGE_PIXELS"):
        load_benchmark("banner", "train", root=str(root))


def test_the_lock_of_a_study_does_not_outlive_its_process(tmp_path):
    lock = tmp_path / LOCK_FILE
    with held_by_another_process(lock):
        with pytest.raises(FolderBusy):
            with folder_lock(lock):
                pass
    with folder_lock(lock):  # the holder exited: free, and its record gone
        assert json.loads(lock.read_text())["pid"] == os.getpid()
    assert not lock.exists()


def test_a_notebook_cut_short_by_a_full_disk_is_removed(tmp_path):
    cut, whole = tmp_path / "notebook.ipynb", tmp_path / "report.ipynb"
    cut.write_text('{"cells": [{"source": "pri')
    whole.write_text('{"cells": []}')
    full = errno.ENOSPC, "No space left on device"
    assert drop_truncated_notebook(PermissionError(errno.EACCES, "Permission denied", str(cut))) is None
    assert drop_truncated_notebook(OSError(*full, str(whole))) is None and whole.exists()
    assert drop_truncated_notebook(OSError(*full, str(cut))) == cut and not cut.exists()

"""The kit writes only into an output folder it owns, never through a symbolic link below it, and reads
only regular files: each refusal is one message, and nothing outside ``--out`` changes (a decoy folder
is checksummed before and after). Unit-level, no training."""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import stat
from pathlib import Path

import pytest
import yaml
from test_faults import RUN, STUDY

from vrft_lib import cli
from vrft_lib.checkpoints import drop_checkpoints
from vrft_lib.files import (
    LinkError,
    NotRegularFile,
    atomic_path,
    make_dirs,
    open_append,
    read_json,
    read_text,
    remove_file,
    remove_temporary_files,
    remove_tree,
    write_json,
    writing_under,
)
from vrft_lib.locks import LOCK_FILE, LOCKS_DIR, FolderBusy, folder_lock, run_lock_path
from vrft_lib.plan.spec import load_study
from vrft_lib.report import render
from vrft_lib.report.collect import collect_study
from vrft_lib.runfolder import STUDY_MARKER, foreign_entries, write_done
from vrft_lib.study import runner

FOREIGN = "is not a study folder of the kit"


@pytest.fixture
def params(tmp_path) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(STUDY))
    return path


@pytest.fixture
def no_work(monkeypatch):
    """run_study without notebooks: each run writes what a finished run holds; the report writes its
    three files (as the report notebook and nbconvert do)."""
    calls = []

    def fake_run(run, kernel_name="python3"):
        calls.append(run.run_id)
        d = make_dirs(run.run_dir)
        write_json({"modes": {}}, d / "eval" / "metrics.json")
        write_json({}, d / "eval" / "predictions.jsonl")
        write_done(d / "eval")
        write_done(d, run_id=run.run_id)
        return 0.0

    def fake_page(out, kernel_name="python3"):
        for name in ("metrics.json", "table1.csv", "report.html"):
            write_json({"by": "the kit"}, Path(out) / name)
        return Path(out) / "report.html"

    monkeypatch.setattr(runner, "execute_run", fake_run)
    monkeypatch.setattr(runner, "ensure_tiny_build", lambda name: "tiny")
    monkeypatch.setattr(render, "render_page", fake_page)
    return calls


def checksum(folder: Path) -> dict:
    """Every entry under ``folder`` (links not followed): its kind, mode and content or target."""
    found = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            p = Path(root) / name
            st = os.lstat(p)
            if stat.S_ISLNK(st.st_mode):
                what = "link:" + os.readlink(p)
            elif stat.S_ISREG(st.st_mode):
                what = hashlib.sha256(p.read_bytes()).hexdigest()
            else:
                what = stat.S_IFMT(st.st_mode)
            found[str(p.relative_to(folder))] = (what, stat.S_IMODE(st.st_mode), st.st_mtime_ns)
    return found


@pytest.fixture
def decoy(tmp_path) -> Path:
    """A folder of the user's outside --out: what a link points at. It must never change."""
    d = tmp_path / "decoy"
    (d / "sub").mkdir(parents=True)
    for name in ("file.json", "notebook.ipynb", "page.html", "sub/x.tmp", ".y.tmp"):
        (d / name).write_text(f"the user's {name}\n")
    return d


def my_notes(tmp_path) -> Path:
    """A user's folder that holds no study: results of their own, their own temporary files."""
    d = tmp_path / "my-notes"
    (d / "drafts").mkdir(parents=True)
    for name in ("metrics.json", "report.html", "table1.csv", "notes.tmp", ".cache.tmp", "drafts/a.tmp"):
        (d / name).write_text(f"mine: {name}\n")
    return d


def main(*argv) -> int:
    return cli.main([str(a) for a in argv])


# ----------------------------------------------------------------------------------------------
# 1. the kit writes only into a folder it owns
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "mode",
    [
        [],
        ["--report-only"],
        ["--no-report"],
        ["--dry-run"],
        ["--only", RUN],
        ["--submit", "slurm"],
        ["--submit", "slurm", "--dry-run"],
    ],
    ids=["study", "report-only", "no-report", "dry-run", "only", "submit", "submit-dry-run"],
)
def test_a_folder_holding_no_study_is_refused_in_every_mode(tmp_path, params, no_work, capsys, mode):
    notes = my_notes(tmp_path)
    before = checksum(notes)
    assert main("study", params, "--out", notes, *mode) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: Output folder '{notes}' {FOREIGN}: it holds .cache.tmp, drafts/, metrics.json")
    assert "--force" in err and "another --out" in err and "Traceback" not in err
    assert checksum(notes) == before and no_work == []


def test_vrft_report_refuses_a_folder_the_kit_did_not_make(tmp_path, no_work, capsys):
    notes = my_notes(tmp_path)
    (notes / "study.yaml").write_text("name: my own notes\n")  # not the kit's: beside the user's files
    before = checksum(notes)
    assert main("report", notes) == 2
    err = capsys.readouterr().err
    assert f"'{notes}' {FOREIGN}: it holds .cache.tmp, drafts/" in err and "`vrft report`" in err
    assert checksum(notes) == before
    (notes / "study.yaml").unlink()
    before = checksum(notes)
    assert main("report", notes) == 2
    assert "is not a study folder (it has no study.yaml)" in capsys.readouterr().err
    assert checksum(notes) == before


def test_force_writes_the_study_beside_the_users_files_and_deletes_none(tmp_path, params, no_work, capsys):
    notes = my_notes(tmp_path)
    kept = {k: v for k, v in checksum(notes).items() if k not in ("metrics.json", "report.html", "table1.csv")}
    left = notes / ".metrics.json.ab12cd34.vrft-tmp"  # a killed writer's
    left.write_text("{")
    assert main("study", params, "--out", notes, "--force") == 0
    after = checksum(notes)
    assert {k: after[k] for k in kept} == kept  # notes.tmp, .cache.tmp, drafts/a.tmp untouched
    assert not left.exists() and (notes / STUDY_MARKER).is_file() and no_work == [RUN]
    assert foreign_entries(notes) == []  # the kit's now: the same command runs without --force
    assert main("study", params, "--out", notes) == 0 and main("report", notes) == 0


@pytest.mark.parametrize("how", ["absent", "empty", "study"])
def test_a_new_empty_or_kit_folder_is_written_without_force(tmp_path, params, no_work, how):
    out = tmp_path / "out"
    if how != "absent":
        out.mkdir()
    if how == "study":  # a study folder of a kit that wrote no marker: study.yaml and runs/ only
        study = {k: v for k, v in load_study(params).items() if not k.startswith("_")}
        (out / "study.yaml").write_text(yaml.safe_dump(study, sort_keys=False))
        (out / "runs" / RUN).mkdir(parents=True)
    assert foreign_entries(out) == []
    runner.run_study(params, out=out)
    assert (out / STUDY_MARKER).is_file() and (out / "report.html").is_file() and no_work == [RUN]


def test_the_sweep_removes_only_the_kits_temporary_files(tmp_path, decoy, params, no_work):
    out = tmp_path / "out"
    runner.run_study(params, out=out, no_report=True)
    before = checksum(decoy)
    kit = [out / ".metrics.json.a1b2c3d4.vrft-tmp", out / "runs" / RUN / "eval" / ".DONE.zz_9y8x7.vrft-tmp"]
    theirs = [out / "mine.tmp", out / ".notes.x.tmp", out / "runs" / RUN / "scratch.tmp"]
    theirs += [out / "drafts" / ".a.b1c2d3e4.vrft-tmp"]  # a kit-like name outside the kit's folders
    for p in kit + theirs:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("x")
    (out / "runs" / ".link.q1w2e3r4.vrft-tmp").symlink_to(decoy / "file.json")  # a link: not the kit's file
    assert sorted(remove_temporary_files(out, subfolders=("runs",))) == sorted(kit)
    assert all(p.exists() for p in theirs) and (out / "runs" / ".link.q1w2e3r4.vrft-tmp").is_symlink()
    assert checksum(decoy) == before


# ----------------------------------------------------------------------------------------------
# 2. nothing written, locked or deleted through a link below --out
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "link, target",
    [
        (f"runs/{RUN}/eval", "decoy"),  # DONE, metrics and predictions would land in the decoy
        (f"runs/{RUN}/notebook.ipynb", "decoy/notebook.ipynb"),  # papermill would overwrite it
        (f"runs/{RUN}/kernel.log", "decoy/file.json"),
        ("runs/synthetic_banner", "decoy"),
        (LOCK_FILE, "decoy/file.json"),  # the lock's record would overwrite the file
        ("report.html", "decoy/page.html"),
        ("study.yaml", "decoy/file.json"),
    ],
)
def test_a_link_where_the_study_writes_is_refused_naming_it(tmp_path, decoy, params, no_work, capsys, link, target):
    out = tmp_path / "out"
    runner.run_study(params, out=out, no_report=True)
    remove_tree(out / "runs" / RUN)  # the run to do again, with a link in its way
    (out / "runs" / RUN).mkdir(parents=True)
    path = out / link
    if path.is_dir() and not path.is_symlink():
        remove_tree(path)
    else:
        path.unlink(missing_ok=True)
    path.symlink_to(tmp_path / target)
    before = checksum(decoy)
    for argv in (["study", params, "--out", out], ["study", params, "--out", out, "--force"]):
        assert main(*argv) == 2
        err = capsys.readouterr().err
        assert f"'{path}' is a symbolic link (to '{tmp_path / target}')" in err, err
        assert "Remove the link" in err and "Traceback" not in err
    if link in (LOCK_FILE, "report.html", "study.yaml"):
        assert main("report", out) == 2 and f"'{path}' is a symbolic link" in capsys.readouterr().err
    assert checksum(decoy) == before and path.is_symlink() and no_work == [RUN]


def test_the_write_helpers_refuse_links_below_the_root(tmp_path, decoy):
    out = tmp_path / "out"
    (out / "runs").mkdir(parents=True)
    (out / "runs" / "eval").symlink_to(decoy)
    (out / "page.html").symlink_to(decoy / "page.html")
    before = checksum(decoy)
    with writing_under(out):
        writes = [
            lambda: write_done(out / "runs" / "eval"),
            lambda: write_json({}, out / "runs" / "eval" / "metrics.json"),
            lambda: write_json({}, out / "page.html"),  # replacing the link itself is refused too
            lambda: make_dirs(out / "runs" / "eval" / "deeper"),
            lambda: remove_file(out / "runs" / "eval" / "file.json"),
            lambda: remove_tree(out / "runs" / "eval" / "sub"),
            lambda: open_append(out / "page.html"),
            lambda: folder_lock(out / "runs" / "eval" / LOCK_FILE).__enter__(),
        ]
        for write in writes:
            with pytest.raises(LinkError, match=r"is a symbolic link .*inside the output folder"):
                write()
        with atomic_path(out / "runs" / "fine.json") as tmp:  # no link on the way: written
            tmp.write_text("{}")
    assert checksum(decoy) == before and read_json(out / "runs" / "fine.json") == {}
    # outside a write root (or above it) the helpers behave as before; reading through a link is fine
    assert read_json(out / "runs" / "eval" / "file.json") is None and read_text(out / "page.html")


def test_the_lock_file_itself_is_never_followed(tmp_path, decoy):
    lock = tmp_path / LOCK_FILE
    lock.symlink_to(decoy / "file.json")
    before = checksum(decoy)
    with pytest.raises(LinkError, match=f"Cannot lock '{lock}'"):  # O_NOFOLLOW, with no write root too
        with folder_lock(lock):
            pass
    assert checksum(decoy) == before


def test_an_output_folder_that_is_itself_a_link_is_followed(tmp_path, params, no_work):
    real = tmp_path / "scratch" / "out"
    real.mkdir(parents=True)
    (tmp_path / "out").symlink_to(real)
    runner.run_study(params, out=tmp_path / "out")
    assert (real / "runs" / RUN / "DONE").is_file() and (real / STUDY_MARKER).is_file()


def test_the_report_notebook_is_not_written_through_a_link(tmp_path, decoy, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.ipynb").symlink_to(decoy / "notebook.ipynb")
    before = checksum(decoy)
    monkeypatch.setattr(render, "_execute", lambda *a: pytest.fail("papermill started"))
    with writing_under(out), pytest.raises(LinkError, match="report.ipynb"):
        render.execute_report(out)
    assert checksum(decoy) == before


# ----------------------------------------------------------------------------------------------
# 3. only regular files are read
# ----------------------------------------------------------------------------------------------


@contextlib.contextmanager
def no_hang(seconds: int = 30):
    """Fail instead of blocking for ever (a FIFO opened for reading waits for a writer)."""

    def alarm(signum, frame):
        raise TimeoutError(f"blocked for {seconds} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize("name", ["eval/predictions.jsonl", "eval/metrics.json", "train/steps.csv", "DONE"])
def test_a_fifo_where_a_run_file_should_be_is_named_and_never_read(tmp_path, params, no_work, capsys, name):
    out = tmp_path / "out"
    runner.run_study(params, out=out, no_report=True)
    fifo = out / "runs" / RUN / name
    fifo.parent.mkdir(parents=True, exist_ok=True)
    fifo.unlink(missing_ok=True)
    os.mkfifo(fifo)
    with no_hang():
        run = collect_study(out)["runs"][0]
        assert run["status"] == "unreadable" and f"'{fifo}' is a FIFO (named pipe), not a regular file" in run["reason"]
        assert render.report_inputs(out) and not render.report_up_to_date(out)
        assert main("report", out) == 0  # the notebook is faked; the fingerprint and the lock are real
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_fifos_elsewhere_are_never_opened_for_reading(tmp_path, params, capsys):
    from data_fixtures import make_banner_folder

    from vrft_lib.data import check_benchmark_files, load_benchmark
    from vrft_lib.data.common import check_images_exist, load_images
    from vrft_lib.errors import ConfigError, DataError

    root = make_banner_folder(tmp_path)
    os.mkfifo(root / "train" / "positive" / "zz.png")
    os.mkfifo(tmp_path / "fifo.yaml")
    ckpt = tmp_path / "train" / "trainer" / "checkpoint-2"
    ckpt.mkdir(parents=True)
    os.mkfifo(ckpt / "trainer_state.json")
    os.mkfifo(tmp_path / "plain")
    with no_hang():
        with pytest.raises(NotRegularFile, match="is a FIFO"):
            read_text(tmp_path / "plain")
        assert read_json(tmp_path / "plain") is None
        with pytest.raises(ConfigError, match=r"fifo.yaml' is a FIFO \(named pipe\), not a regular file"):
            main("--debug", "study", tmp_path / "fifo.yaml")
        with pytest.raises(DataError, match=r"zz.png' of benchmark 'banner' is a FIFO \(named pipe\), not a regular"):
            check_images_exist("banner", [root / "train" / "positive" / "zz.png"])
        check_benchmark_files("banner", "train", root=str(root))  # a FIFO is no image: not listed
        assert len(load_benchmark("banner", "train", root=str(root))) > 0
        with pytest.warns(UserWarning, match=r"zz.png: is a FIFO \(named pipe\), not a regular file"):
            assert load_images("banner", [("zz.png", root / "train" / "positive" / "zz.png")], "skip") == [None]
        drop_checkpoints(tmp_path / "train")
        assert not ckpt.exists()


def test_a_fifo_study_record_in_the_output_folder_is_named(tmp_path, params, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / STUDY_MARKER).write_text("{}")  # a study folder of the kit, whose record became a FIFO
    os.mkfifo(out / "study.yaml")
    with no_hang():
        assert main("study", params, "--out", out, "--dry-run") == 2
    assert "study.yaml' is a FIFO (named pipe), not a regular file" in capsys.readouterr().err


# ----------------------------------------------------------------------------------------------
# 4. vrft report holds the study's lock; the folder of run locks does not outlive them
# ----------------------------------------------------------------------------------------------


def test_vrft_report_takes_the_study_lock(tmp_path, params, no_work, capsys):
    out = tmp_path / "out"
    runner.run_study(params, out=out, no_report=True)
    before = checksum(out)
    with folder_lock(out / LOCK_FILE, what=f"the study folder '{out}'"):
        assert main("report", out) == 2
        assert f"Another process is writing to the study folder '{out}'" in capsys.readouterr().err
        with pytest.raises(FolderBusy):  # and a report holds it against a study
            runner.run_study(params, out=out)
    assert {k: v for k, v in checksum(out).items() if k != LOCK_FILE} == before
    assert main("report", out) == 0 and not (out / LOCK_FILE).exists()


def test_the_folder_of_run_locks_is_removed_when_it_is_left_empty(tmp_path, params, no_work):
    out = tmp_path / "out"
    with folder_lock(run_lock_path(out, "a/b/seed0")):
        with folder_lock(run_lock_path(out, "a/b/seed1")):
            pass
        assert (out / LOCKS_DIR).is_dir()  # another run's lock is still in it
    assert not (out / LOCKS_DIR).exists()
    runner.run_study(params, out=out, no_report=True)  # a cluster job's invocation
    assert not (out / LOCKS_DIR).exists() and not (out / LOCK_FILE).exists()

"""The run-folder contract: where each output lives, how it is written, and when it counts as finished.

A study folder::

    OUT/study.yaml                              the resolved study
    OUT/runs/<benchmark>/<variant>/seed<k>/     a *run folder* (see :func:`run_path`)
        parameters.yaml  notebook.ipynb         what papermill injected, the executed notebook
        train/           a *train folder*: what vrft_lib.train writes (model/, steps.csv, ...)
        eval/            an *eval folder*: what vrft_lib.evaluate writes (predictions.jsonl, ...)
        DONE             the completion marker, written last

Every folder that can be finished (run, train, eval, the tiny base) is finished exactly when its
``DONE`` marker exists. The marker is one JSON object (at least ``finished``, a timestamp), written
atomically, so a reader never sees half of it. Every file is written through :func:`atomic_path`:
to a temporary name beside it, then renamed.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re
import shutil
import socket
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import yaml

from .errors import VrftError

DONE = "DONE"
RUNS = "runs"
STUDY_FILE = "study.yaml"
# Files are created with the permissions of any other file of the user (mkstemp alone makes them 0600,
# unreadable to colleagues sharing a cluster folder).
_UMASK = os.umask(0)
os.umask(_UMASK)
FILE_MODE = 0o666 & ~_UMASK
RUN_ID = re.compile(r"(?P<benchmark>[^/]+)/(?P<variant>[^/]+)/seed(?P<seed>\d+)")


# ----------------------------------------------------------------------------------------------
# where things live
# ----------------------------------------------------------------------------------------------


def run_id(benchmark: str, variant: str, seed: int) -> str:
    """The id of one run of a study, also its path below ``OUT/runs``.

    >>> run_id("sat", "rft", 1)
    'sat/rft/seed1'
    """
    return f"{benchmark}/{variant}/seed{int(seed)}"


def parse_run_id(rid: str) -> tuple[str, str, int] | None:
    """``(benchmark, variant, seed)`` of a run id, or None when it is not one.

    >>> parse_run_id("sat/rft/seed1"), parse_run_id("report")
    (('sat', 'rft', 1), None)
    """
    m = RUN_ID.fullmatch(str(rid))
    return (m["benchmark"], m["variant"], int(m["seed"])) if m else None


def run_path(out_dir, benchmark: str, variant: str, seed: int) -> Path:
    """The run folder of one run of the study in ``out_dir``.

    >>> run_path("/o", "sat", "rft", 0).as_posix()
    '/o/runs/sat/rft/seed0'
    """
    return Path(out_dir) / RUNS / run_id(benchmark, variant, seed)


def seed_of(folder_name: str) -> int | None:
    """The seed a ``seed<k>`` folder name holds, or None.

    >>> seed_of("seed3"), seed_of("notes")
    (3, None)
    """
    m = re.fullmatch(r"seed(\d+)", folder_name)
    return int(m.group(1)) if m else None


# ----------------------------------------------------------------------------------------------
# writing
# ----------------------------------------------------------------------------------------------


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; on success it replaces ``path`` (a reader never sees
    half a file), on failure it is removed. The name is unique per writer.

    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "x.txt"
    >>> with atomic_path(target) as tmp:
    ...     _ = tmp.write_text("hello")
    >>> target.read_text(), sorted(p.name for p in target.parent.iterdir())
    ('hello', ['x.txt'])
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except OSError as e:  # name the file being written (a full disk's os.write names none, or the tmp)
        if e.errno is None or (e.filename and e.filename != tmp):
            raise
        raise OSError(e.errno, e.strerror or os.strerror(e.errno), str(path)) from e
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_text(path, text: str) -> None:
    """Write a text file atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(data, path) -> None:
    """Write JSON atomically (values JSON does not know are written as their ``str``)."""
    write_text(path, json.dumps(data, indent=2, default=str))


def dump_yaml(data, path) -> None:
    """Write YAML atomically, keys in their order."""
    write_text(path, yaml.safe_dump(data, sort_keys=False))


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


# ----------------------------------------------------------------------------------------------
# the DONE marker
# ----------------------------------------------------------------------------------------------


def write_done(folder, **record) -> dict:
    """Mark ``folder`` finished: ``DONE`` holds ``record`` plus ``finished`` (a timestamp)."""
    record = {**record, "finished": record.get("finished") or now()}
    write_json(record, Path(folder) / DONE)
    return record


def is_done(folder) -> bool:
    """Whether ``folder`` holds a ``DONE`` marker."""
    return (Path(folder) / DONE).is_file()


def read_done(folder) -> dict | None:
    """The record of ``folder``'s ``DONE`` marker; None when there is none. A marker that is not a
    JSON object (an older kit's) reads as ``{}``: the folder is finished, with nothing recorded."""
    path = Path(folder) / DONE
    if not path.is_file():
        return None
    data = read_json(path)
    return data if isinstance(data, dict) else {}


def read_json(path):
    """The JSON value in ``path``; None when it is missing or unreadable."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


# ----------------------------------------------------------------------------------------------
# the same config?
# ----------------------------------------------------------------------------------------------

# Run-config keys that may differ between two attempts of one run: where it writes, how it logs, what
# it keeps once finished.
RESUMABLE_KEYS = frozenset({"output_dir", "print_completions", "report_to", "keep_checkpoints_when_done"})


def config_diff(saved, new: dict, ignore=RESUMABLE_KEYS) -> list[str] | None:
    """The top-level keys in which the YAML file ``saved`` differs from ``new`` (sorted); None when
    ``saved`` does not exist. Keys starting with ``_`` and those in ``ignore`` are not compared; an
    unreadable file differs in every key.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "config.yaml"
    >>> dump_yaml({"a": 1, "b": 2, "output_dir": "x"}, p)
    >>> config_diff(p, {"a": 1, "b": 3, "output_dir": "y"}), config_diff(p.with_name("no.yaml"), {})
    (['b'], None)
    """
    path = Path(saved)
    if not path.exists():
        return None
    try:
        old = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError):
        old = {}
    if not isinstance(old, dict):
        old = {}
    keys = {k for k in set(old) | set(new) if not str(k).startswith("_") and k not in ignore}
    return sorted(k for k in keys if old.get(k) != new.get(k))


# ----------------------------------------------------------------------------------------------
# one writer per folder
# ----------------------------------------------------------------------------------------------

LOCK_FILE = ".vrft-lock"
LOCKS_DIR = ".vrft-locks"  # one lock file per run, beside (not in) the run folders --force deletes


class FolderBusy(VrftError, RuntimeError):
    """Another process is writing the folder."""


def _holder_text(path: Path) -> str:
    info = read_json(path)
    if not isinstance(info, dict):
        return "another process (it has not recorded its PID yet)"
    return f"PID {info.get('pid', '?')} on host {info.get('host', '?')}, started {info.get('started', '?')}" + (
        f" ({info['command']})" if info.get("command") else ""
    )


@contextlib.contextmanager
def folder_lock(path, *, shared: bool = False, what: str = "folder"):
    """Hold an ``fcntl`` lock on the lock file ``path`` for the ``with`` block (created as needed).

    An exclusive lock (the default) admits one holder; shared locks admit any number of shared holders
    and no exclusive one. A second process asking for a lock it cannot have gets :class:`FolderBusy`
    at once, naming the holder (PID, host, start time, command), which the lock file records. The lock
    goes with the process (a killed holder leaves no stale lock). The last holder removes the file.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / ".lock"
    >>> with folder_lock(p):
    ...     try:
    ...         with folder_lock(p, what="the study"):
    ...             pass
    ...     except FolderBusy as e:
    ...         print(str(e)[:44])
    Another process is writing to the study: PID
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE)
        try:
            fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise FolderBusy(
                f"Another process is writing to {what}: {_holder_text(path)} holds '{path}'. Wait for it to "
                "finish (`vrft study ... --status` shows where the runs stand), or stop it and run the same "
                "command again. A second writer would overwrite its files."
            ) from None
        try:  # the file may have been removed by the holder we waited for: lock the one at the path
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        record = {"pid": os.getpid(), "host": socket.gethostname(), "started": now(), "command": _command()}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(record).encode(), 0)
        yield path
    finally:
        try:  # the last holder removes the file (a shared holder is the last when it can lock it alone)
            if shared:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.unlink(path)
        except OSError:
            pass
        os.close(fd)


def _command() -> str:
    args = [os.path.basename(sys.argv[0] or "python"), *sys.argv[1:]]
    return " ".join(args)[:300]


def run_lock_path(out_dir, rid: str) -> Path:
    """The lock file of run ``rid`` of the study in ``out_dir``.

    >>> run_lock_path("/o", "sat/rft/seed0").as_posix()
    '/o/.vrft-locks/sat+rft+seed0'
    """
    return Path(out_dir) / LOCKS_DIR / rid.replace("/", "+")


def remove_temporary_files(folder) -> list[Path]:
    """Remove the temporary files that writers killed mid-write left under ``folder`` (the names
    :func:`atomic_path` gives: ``.<name>.<random>.tmp``); return them. Only safe while no other
    process writes there, i.e. under an exclusive :func:`folder_lock`."""
    removed = []
    for path in Path(folder).rglob(".*.tmp"):
        if path.is_file():
            with contextlib.suppress(OSError):
                path.unlink()
                removed.append(path)
    return removed


# ----------------------------------------------------------------------------------------------
# nothing stale trusted
# ----------------------------------------------------------------------------------------------


def missing_files(folder, names) -> list[Path]:
    """The files of ``names`` (paths relative to ``folder``; ``a|b``: either one) that do not exist.

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp()); _ = (d / "b").write_text("x")
    >>> [p.name for p in missing_files(d, ["a", "b", "c|b"])]
    ['a']
    """
    folder = Path(folder)
    missing = []
    for name in names:
        options = name.split("|")
        if not any((folder / o).is_file() for o in options):
            missing.append(folder / options[0])
    return missing


# What a finished run folder must hold, beside DONE: the files the report reads, and for a trained run
# the model the evaluation read (a sharded model has an index instead of model.safetensors).
RUN_OUTPUTS = ("eval/metrics.json", "eval/predictions.jsonl", "eval/DONE")
TRAIN_OUTPUTS = (
    "train/DONE",
    "train/steps.csv",
    "train/model/config.json",
    "train/model/model.safetensors|train/model/model.safetensors.index.json",
)


def missing_run_outputs(run_dir, trained: bool) -> list[Path]:
    """The outputs a finished run folder lacks (:data:`RUN_OUTPUTS`, and :data:`TRAIN_OUTPUTS` for
    a trained run); ``[]`` when it holds them all, or when it is not finished."""
    if not is_done(run_dir):
        return []
    return missing_files(run_dir, RUN_OUTPUTS + (TRAIN_OUTPUTS if trained else ()))


def reopen_run(run_dir, missing) -> list[Path]:
    """Make a finished run folder whose outputs ``missing`` (from :func:`missing_run_outputs`) were
    lost unfinished again, so that running it again re-does what they depend on: the training when
    the model or the training record is gone, the evaluation in any case. Return the markers removed.
    """
    run_dir = Path(run_dir)
    rel = [Path(p).relative_to(run_dir).parts[0] for p in missing]
    markers = [run_dir / DONE, run_dir / "eval" / DONE] + ([run_dir / "train" / DONE] if "train" in rel else [])
    removed = [m for m in markers if m.is_file()]
    for m in removed:
        m.unlink()
    return removed


# What an evaluation may change and still be the same evaluation: where it goes, its bar, and how many
# processes share it (the responses are the same; see vrft_lib.parallel)
EVAL_RESUMABLE_KEYS = frozenset({"output_dir", "progress", "num_processes", "tensor_parallel_size"})
EVAL_OUTPUTS = ("metrics.json", "predictions.jsonl", "config.yaml")


def stale_reason(folder, config: dict, outputs=(), ignore=RESUMABLE_KEYS) -> str | None:
    """Why the finished ``folder`` cannot be trusted for ``config``: its ``config.yaml`` differs, or one
    of ``outputs`` is missing; None when it can.

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp()); dump_yaml({"n": 8}, d / "config.yaml")
    >>> stale_reason(d, {"n": 8}, ["config.yaml"]), stale_reason(d, {"n": 24})
    (None, 'its config.yaml differs in: n')
    """
    folder = Path(folder)
    missing = missing_files(folder, outputs)
    if missing:
        return f"'{missing[0]}' is missing"
    diff = config_diff(folder / "config.yaml", config, ignore=ignore)
    if diff is None:
        return f"'{folder / 'config.yaml'}' is missing"
    return f"its config.yaml differs in: {', '.join(diff)}" if diff else None


# ----------------------------------------------------------------------------------------------
# checkpoints checked before resuming
# ----------------------------------------------------------------------------------------------


def _safetensors_problem(path: Path) -> str | None:
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            return f"{path.name} is truncated ({size} bytes)"
        n = int.from_bytes(head, "little")
        if n > size - 8:
            return f"{path.name} is truncated (its header needs {n} bytes, the file holds {size})"
        try:
            header = json.loads(f.read(n))
        except ValueError:
            return f"{path.name} has an unreadable header"
    ends = [v["data_offsets"][1] for k, v in header.items() if k != "__metadata__" and isinstance(v, dict)]
    if ends and 8 + n + max(ends) > size:
        return f"{path.name} is truncated (its tensors need {8 + n + max(ends)} bytes, the file holds {size})"
    return None


def _zip_problem(path: Path) -> str | None:
    try:
        with zipfile.ZipFile(path) as z:
            size = path.stat().st_size
            if any(i.header_offset + i.compress_size > size for i in z.infolist()):
                return f"{path.name} is truncated"
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return f"{path.name} is truncated or not a torch file"
    return None


def checkpoint_problem(folder) -> str | None:
    """Why the Trainer checkpoint ``folder`` cannot be resumed from, or None when it looks whole.

    File checks only (no tensor is loaded): ``trainer_state.json`` exists and holds a ``global_step``
    (the Trainer writes it last); every other JSON file parses; every ``.safetensors`` file holds the
    bytes its header promises; every torch file (``.pt``, ``.pth``, ``.bin``) is a complete zip archive.
    """
    folder = Path(folder)
    state = folder / "trainer_state.json"
    if not state.is_file():
        return "no trainer_state.json (the save was interrupted)"
    data = read_json(state)
    if not isinstance(data, dict) or "global_step" not in data:
        return "trainer_state.json is not a complete trainer state"
    for path in sorted(folder.rglob("*")):
        if not path.is_file():
            continue
        try:
            if path.suffix == ".json" and path != state and read_json(path) is None:
                return f"{path.name} is not valid JSON"
            if path.suffix == ".safetensors":
                problem = _safetensors_problem(path)
            elif path.suffix in (".pt", ".pth", ".bin"):
                problem = _zip_problem(path)
            else:
                problem = None
        except OSError as e:
            problem = f"{path.name} cannot be read ({e.strerror})"
        if problem:
            return problem
    return None


# ----------------------------------------------------------------------------------------------
# faults become messages
# ----------------------------------------------------------------------------------------------

# errno -> (what happened, what to do)
FAULTS = {
    errno.ENOSPC: (
        "the disk is full",
        "Free space on that file system (old outputs; fewer checkpoints with run_defaults.keep_checkpoints), "
        "or choose another --out",
    ),
    errno.EDQUOT: ("the disk quota is exceeded", "Free space in your quota, or choose another --out"),
    errno.EACCES: ("permission denied", "Fix the permissions of that path (`ls -ld` it), or choose another --out"),
    errno.EPERM: ("the operation is not permitted", "Fix the permissions of that path, or choose another --out"),
    errno.EROFS: ("the file system is read-only", "Choose an --out on a writable file system"),
    errno.EIO: ("an input/output error occurred", "Check the disk (and its mount), or choose another --out"),
}


class FaultError(VrftError, RuntimeError):
    """The machine refused a write or a read (full disk, permissions): one paragraph, no traceback."""


def fault_error(exc: BaseException) -> FaultError | None:
    """The one-paragraph error for an ``OSError`` of :data:`FAULTS` (naming its path), else None.

    >>> print(fault_error(OSError(errno.ENOSPC, "No space left on device", "/o/x.json")))
    Cannot write '/o/x.json': the disk is full (No space left on device). Free space on ...
    """
    if not isinstance(exc, OSError) or exc.errno not in FAULTS:
        return None
    what, fix = FAULTS[exc.errno]
    where = f"'{exc.filename}'" if exc.filename else "a file (the path was not reported)"
    return FaultError(
        f"Cannot write {where}: {what} ({exc.strerror or os.strerror(exc.errno)}). {fix}; then run the same "
        "command again: finished runs are kept and an interrupted one resumes. Temporary files were removed."
    )


def drop_truncated_notebook(exc: BaseException) -> Path | None:
    """Delete the notebook that a full disk cut short while it was written (``exc`` names it): no
    Jupyter opens it, and the space it holds lets the failure summary be written. Return its path."""
    path = Path(exc.filename) if isinstance(exc, OSError) and isinstance(exc.filename, str) else None
    if path is None or path.suffix != ".ipynb" or exc.errno not in (errno.ENOSPC, errno.EDQUOT) or not path.is_file():
        return None
    if read_json(path) is not None:
        return None
    with contextlib.suppress(OSError):
        path.unlink()
        return path
    return None


@contextlib.contextmanager
def naming_path(path):
    """Re-raise an ``OSError`` of the block that names no file as the same error naming ``path``
    (``os.write`` on a full disk, for one, names none)."""
    try:
        yield
    except OSError as e:
        if e.filename or e.errno is None:
            raise
        raise OSError(e.errno, e.strerror or os.strerror(e.errno), str(path)) from e


KERNELS_PREFIX = "vrft-kernels-"


@contextlib.contextmanager
def private_kernel_dir():
    """Keep the kernel connection files (they hold the kernels' HMAC keys) of the notebooks run in the
    block in a new private folder, deleted after it, also when the block is interrupted.

    jupyter_client writes a connection file with ``tempfile.mkstemp`` (or into
    ``JUPYTER_RUNTIME_DIR``): both point at the folder for the block. A folder that a killed process
    (SIGKILL) left behind is deleted by the next one.
    """
    base = tempfile.gettempdir()
    for stale in Path(base).glob(f"{KERNELS_PREFIX}*-*"):
        pid = stale.name[len(KERNELS_PREFIX) :].split("-")[0]
        if pid.isdigit() and not _alive(int(pid)) and stale.stat().st_uid == os.getuid():
            shutil.rmtree(stale, ignore_errors=True)
    folder = tempfile.mkdtemp(prefix=f"{KERNELS_PREFIX}{os.getpid()}-", dir=base)
    before_env, before_dir = os.environ.get("JUPYTER_RUNTIME_DIR"), tempfile.tempdir
    os.environ["JUPYTER_RUNTIME_DIR"] = folder
    tempfile.tempdir = folder
    try:
        yield Path(folder)
    finally:
        tempfile.tempdir = before_dir
        if before_env is None:
            os.environ.pop("JUPYTER_RUNTIME_DIR", None)
        else:
            os.environ["JUPYTER_RUNTIME_DIR"] = before_env
        shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True

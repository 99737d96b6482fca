"""One writer per folder: an ``fcntl`` lock whose file names its holder."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import socket
import sys
from pathlib import Path

from .errors import VrftError
from .files import LinkError, file_mode, link_message, make_dirs, now, read_json, refuse_links

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
    goes with the process (a killed holder leaves no stale lock). The last holder removes the file, and
    the folder of run locks (:data:`LOCKS_DIR`) when it is left empty. The lock file is opened without
    following a link (``O_NOFOLLOW``), and inside a write root no folder on the way may be a link
    (:func:`vrft_lib.files.refuse_links`): the record is never written into another file.

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
    refuse_links(path, "lock")
    while True:
        make_dirs(path.parent)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, file_mode())
        except FileNotFoundError:  # the folder of run locks was removed by a holder that left it empty
            continue
        except OSError as e:
            if e.errno == errno.ELOOP:
                raise LinkError(link_message(path, path, path.parent, "lock")) from None
            raise
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
        if path.parent.name == LOCKS_DIR:
            with contextlib.suppress(OSError):  # not empty: another run's lock is in it
                os.rmdir(path.parent)


def _command() -> str:
    args = [os.path.basename(sys.argv[0] or "python"), *sys.argv[1:]]
    return " ".join(args)[:300]


def run_lock_path(out_dir, rid: str) -> Path:
    """The lock file of run ``rid`` of the study in ``out_dir``.

    >>> run_lock_path("/o", "sat/rft/seed0").as_posix()
    '/o/.vrft-locks/sat+rft+seed0'
    """
    return Path(out_dir) / LOCKS_DIR / rid.replace("/", "+")

"""Files written whole or not at all, and the faults of a refused write as one-paragraph messages.

Every file of the kit is written through :func:`atomic_path`: to a temporary name beside it, then
renamed, so a reader never sees half a file. The writers take the data first and the path second,
as ``json.dump`` and ``yaml.safe_dump`` do: ``write_text(text, path)``, ``write_json(data, path)``,
``dump_yaml(data, path)``.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
import time
from pathlib import Path

import yaml

from .errors import VrftError


def current_umask() -> int:
    """The process's umask now (read from /proc where there is one: setting it to read it back races
    with other threads creating files)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """The mode a plain ``open(path, "w")`` gives a new file under the current umask (0644 under 022).

    Files of the kit get it whatever wrote them: ``mkstemp`` (and safetensors' writer, which goes
    through one) makes them 0600, unreadable to colleagues sharing a cluster folder.
    """
    return 0o666 & ~current_umask()


def plain_modes(path) -> None:
    """Give ``path`` (a file, or every file under a folder, e.g. a saved model) :func:`file_mode`."""
    path = Path(path)
    mode = file_mode()
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file() and not p.is_symlink()]
    for p in files:
        if p.stat().st_mode & 0o777 != mode:
            os.chmod(p, mode)


def with_path(exc: OSError, path) -> OSError:
    """The same ``OSError`` naming ``path`` (``os.write`` on a full disk, for one, names no file)."""
    return OSError(exc.errno, exc.strerror or os.strerror(exc.errno), str(path))


@contextlib.contextmanager
def naming_path(path):
    """Re-raise an ``OSError`` of the block that names no file as the same error naming ``path``."""
    try:
        yield
    except OSError as e:
        if e.filename or e.errno is None:
            raise
        raise with_path(e, path) from e


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
        os.chmod(tmp, file_mode())
        os.replace(tmp, path)
    except OSError as e:  # name the file being written (a full disk's os.write names none, or the tmp)
        if e.errno is None or (e.filename and e.filename != tmp):
            raise
        raise with_path(e, path) from e
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_text(text: str, path) -> None:
    """Write a text file atomically."""
    if not isinstance(text, str):
        raise TypeError(f"write_text(text, path) takes the text first, got {type(text).__name__}")
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(data, path) -> None:
    """Write JSON atomically (values JSON does not know are written as their ``str``)."""
    write_text(json.dumps(data, indent=2, default=str), path)


def dump_yaml(data, path) -> None:
    """Write YAML atomically, keys in their order."""
    write_text(yaml.safe_dump(data, sort_keys=False), path)


def read_json(path):
    """The JSON value in ``path``; None when it is missing or unreadable."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def now() -> str:
    """The local time as an ISO timestamp, as the kit's records hold it."""
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def remove_temporary_files(folder) -> list[Path]:
    """Remove the temporary files that writers killed mid-write left under ``folder`` (the names
    :func:`atomic_path` gives: ``.<name>.<random>.tmp``); return them. Only safe while no other
    process writes there, i.e. under an exclusive :func:`vrft_lib.locks.folder_lock`."""
    removed = []
    for path in Path(folder).rglob(".*.tmp"):
        if path.is_file():
            with contextlib.suppress(OSError):
                path.unlink()
                removed.append(path)
    return removed


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

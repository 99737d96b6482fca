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
import sys
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


# ----------------------------------------------------------------------------------------------
# inputs the kit cannot read become messages
# ----------------------------------------------------------------------------------------------

# errno -> (what is wrong with the path, what to do): a path given on the command line, in a study or in
# an environment variable that the file system refuses
PATH_PROBLEMS = {
    errno.ENAMETOOLONG: (
        "a name in it is longer than the file system allows",
        "Use shorter names (most file systems allow 255 bytes per folder or file name, 4096 per path)",
    ),
    errno.ENOTDIR: (
        "a part of it that should be a folder is a file",
        "Fix the path so that every part before the last is a folder (`ls -ld` each part)",
    ),
    errno.EISDIR: ("it is a folder where a file is expected", "Give the path of a file"),
    errno.ELOOP: ("its symbolic links loop", "Fix the links (`ls -l` each part of the path)"),
}
NAME_MAX = 255  # bytes in one folder or file name on most file systems


class InputError(VrftError, ValueError):
    """An input the kit cannot read (a path the file system refuses, text that is not UTF-8, values
    nested too deep, an integer too long to read): one paragraph, no traceback."""


def shown_path(path) -> str:
    """``path`` for a message, each name of more than 64 characters cut to its start and its length.

    >>> shown_path("/o/" + "x" * 300 + "/a.yaml")
    '/o/xxxxxxxxxxxxxxxxxxxxxxxx...(300 characters)/a.yaml'
    """
    text = os.fsdecode(path) if isinstance(path, (str, bytes, os.PathLike)) else str(path)
    return "/".join(p if len(p) <= 64 else f"{p[:24]}...({len(p)} characters)" for p in text.split("/"))


def path_problem(exc: OSError) -> str:
    """What ``exc`` (an error of :data:`PATH_PROBLEMS`) says about its path, with the name too long."""
    what = PATH_PROBLEMS[exc.errno][0]
    if exc.errno == errno.ENAMETOOLONG and isinstance(exc.filename, (str, bytes, os.PathLike)):
        raw = os.fsencode(exc.filename)
        longest = max(raw.split(b"/"), key=len)
        if len(longest) > NAME_MAX:
            what += f": one of {len(longest)} bytes, where the limit is usually {NAME_MAX}"
        else:
            what += f": the path has {len(raw)} bytes"
    return what


def input_error(exc: BaseException, inputs: str = "") -> InputError | None:
    """The one-paragraph error for an input the kit cannot read, else None (a real bug keeps its
    traceback): an ``OSError`` of :data:`PATH_PROBLEMS` (naming its path), a ``UnicodeDecodeError``, a
    ``RecursionError``, or the ``ValueError`` of an integer past Python's digit limit. ``inputs`` names
    what the command read (its files and folders), for errors that name no file.

    >>> print(input_error(OSError(errno.ENOTDIR, "Not a directory", "/data/f.txt/cache")))
    Cannot use the path '/data/f.txt/cache': a part of it that should be a folder is a file (Not a directory). ...
    >>> input_error(ValueError("a real bug")) is None
    True
    """
    also = f" This command's inputs: {inputs}." if inputs else ""
    debug = " `vrft --debug ...` shows where it was read."
    if isinstance(exc, OSError):
        if exc.errno not in PATH_PROBLEMS:
            return None
        where = f"the path '{shown_path(exc.filename)}'" if exc.filename else "a path (the path was not reported)"
        if exc.filename2:
            where += f" (or '{shown_path(exc.filename2)}')"
        return InputError(
            f"Cannot use {where}: {path_problem(exc)} ({exc.strerror or os.strerror(exc.errno)}). "
            f"{PATH_PROBLEMS[exc.errno][1]}; then run the same command again."
        )
    if isinstance(exc, UnicodeDecodeError):
        return InputError(
            f"A file this command read is not UTF-8 text ({exc.reason}: byte 0x{exc.object[exc.start]:02x} at "
            f"position {exc.start}).{also} Save it as UTF-8.{debug}"
        )
    if isinstance(exc, RecursionError):
        return InputError(
            f"An input holds lists or mappings nested too deeply to be read (deeper than Python's recursion limit "
            f"of {sys.getrecursionlimit()} calls).{also} Flatten it to a few levels. If none of your inputs nests "
            "deeply, this is a bug of the kit: report it with the traceback of `vrft --debug ...`."
        )
    if isinstance(exc, ValueError) and "integer string conversion" in str(exc):
        limit = sys.get_int_max_str_digits() if hasattr(sys, "get_int_max_str_digits") else 4300
        return InputError(
            f"An input holds an integer of more than {limit} digits, more than Python reads.{also} Give a "
            f"number of a few digits.{debug}"
        )
    return None

"""Files written whole or not at all, never through a link, read only when they are regular files,
and the faults of a refused write as one-paragraph messages.

Every file of the kit is written through :func:`atomic_path`: to a temporary name beside it
(``.<name>.<random>.vrft-tmp``, :data:`TMP_SUFFIX`), then renamed, so a reader never sees half a file.
The writers take the data first and the path second, as ``json.dump`` and ``yaml.safe_dump`` do:
``write_text(text, path)``, ``write_json(data, path)``, ``dump_yaml(data, path)``.

Inside a *write root* (the study's ``--out``, registered with :func:`writing_under` for the process and
the processes it starts), every write, folder creation, lock and deletion refuses a symbolic link
anywhere in its path below the root (the path itself included) with a :class:`LinkError` naming the
link: :func:`atomic_path`, :func:`make_dirs`, :func:`remove_file`, :func:`remove_tree`,
:func:`open_append` and :func:`refuse_links` for a path another library writes. Reading through links
stays allowed, but :func:`read_bytes` and :func:`read_text` read regular files only (a FIFO would
block its reader for ever): anything else raises :class:`NotRegularFile`, an ``OSError``.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
import stat
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


TMP_SUFFIX = ".vrft-tmp"  # every temporary file of the kit ends so: .<name>.<8 random characters>.vrft-tmp
TMP_NAME = re.compile(r"\..+\.[a-z0-9_]{8}" + re.escape(TMP_SUFFIX))


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; on success it replaces ``path`` (a reader never sees
    half a file), on failure it is removed. The name is unique per writer and the kit's own
    (:data:`TMP_NAME`). Inside a write root, a link in the path is refused (:func:`refuse_links`).

    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "x.txt"
    >>> with atomic_path(target) as tmp:
    ...     _ = tmp.write_text("hello")
    >>> target.read_text(), sorted(p.name for p in target.parent.iterdir())
    ('hello', ['x.txt'])
    """
    path = Path(path)
    refuse_links(path)
    make_dirs(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TMP_SUFFIX)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, file_mode())
        refuse_links(path)  # a link made while the data were written is not replaced either
        os.replace(tmp, path)
    except OSError as e:  # name the file being written (a full disk's os.write names none, or the tmp)
        if e.errno is None or (e.filename and e.filename != tmp):
            raise
        raise with_path(e, path) from e
    finally:
        if os.path.lexists(tmp):
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
    """The JSON value in ``path``; None when it is missing, unreadable or not a regular file."""
    try:
        return json.loads(read_text(path))
    except (OSError, ValueError):
        return None


def now() -> str:
    """The local time as an ISO timestamp, as the kit's records hold it."""
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def remove_temporary_files(folder, subfolders=()) -> list[Path]:
    """Remove the temporary files that writers killed mid-write left in ``folder`` and anywhere under its
    ``subfolders`` (names relative to it); return them. Only the kit's own names (:data:`TMP_NAME`) that
    are regular files go, and no link is followed. Only safe in a folder the kit owns, while no other
    process writes there, i.e. under an exclusive :func:`vrft_lib.locks.folder_lock`."""
    folder = Path(folder)
    found = [p for p in _entries(folder)]
    for name in subfolders:
        sub = folder / name
        if sub.is_dir() and not sub.is_symlink():
            for root, _dirs, files in os.walk(sub):  # os.walk follows no link to a folder
                found += [Path(root) / f for f in files]
    removed = []
    for path in found:
        if TMP_NAME.fullmatch(path.name) and stat.S_ISREG(_lstat_mode(path)):
            with contextlib.suppress(OSError):
                path.unlink()
                removed.append(path)
    return removed


def _entries(folder: Path) -> list[Path]:
    try:
        return list(folder.iterdir())
    except OSError:
        return []


def _lstat_mode(path) -> int:
    try:
        return os.lstat(path).st_mode
    except OSError:
        return 0


# ----------------------------------------------------------------------------------------------
# no write through a link
# ----------------------------------------------------------------------------------------------

WRITE_ROOTS_ENV = "VRFT_WRITE_ROOTS"  # the write roots, a JSON list: child processes inherit them


class LinkError(VrftError, RuntimeError):
    """A write, lock or deletion inside a write root would go through a symbolic link."""


def write_roots() -> list[str]:
    """The write roots of this process (absolute paths), from :data:`WRITE_ROOTS_ENV`."""
    try:
        roots = json.loads(os.environ.get(WRITE_ROOTS_ENV) or "[]")
    except ValueError:
        return []
    return [r for r in roots if isinstance(r, str) and os.path.isabs(r)] if isinstance(roots, list) else []


@contextlib.contextmanager
def writing_under(root):
    """Make ``root`` a write root for the block, in this process and the processes it starts (notebook
    kernels, ``accelerate launch``): the kit writes nothing through a link below it. ``root`` itself
    may be a link (as given, and where it leads, are both roots)."""
    before = os.environ.get(WRITE_ROOTS_ENV)
    roots = write_roots()
    for r in (os.path.abspath(root), os.path.realpath(root)):
        if r not in roots:
            roots.append(r)
    os.environ[WRITE_ROOTS_ENV] = json.dumps(roots)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(WRITE_ROOTS_ENV, None)
        else:
            os.environ[WRITE_ROOTS_ENV] = before


def _root_of(path: str, root=None) -> str | None:
    if root is not None:
        roots = [os.path.abspath(root), os.path.realpath(root)]
    else:
        roots = write_roots()
    holding = [r for r in roots if path == r or path.startswith(r.rstrip(os.sep) + os.sep)]
    return min(holding, key=len) if holding else None


def find_link(path, root=None, inside: bool = False) -> tuple[Path, Path] | None:
    """``(link, root)``: the first symbolic link on the way from the write root that holds ``path``
    (``root``, else the outermost of :func:`write_roots`) down to ``path`` itself, and with ``inside``
    also anywhere in the folder ``path``; None when there is none, or no root holds ``path``.

    >>> import tempfile, pathlib, os
    >>> d = pathlib.Path(tempfile.mkdtemp()); os.symlink("/tmp", d / "eval")
    >>> [p.name for p in find_link(d / "eval" / "metrics.json", root=d)], find_link(d / "x", root=d)
    (['eval', ...], None)
    """
    p = os.path.abspath(path)
    top = _root_of(p, root)
    if top is None:
        return None
    current = top
    for part in os.path.relpath(p, top).split(os.sep):
        if part in ("", "."):
            continue
        current = os.path.join(current, part)
        mode = _lstat_mode(current)
        if stat.S_ISLNK(mode):
            return Path(current), Path(top)
        if not mode:  # nothing below a missing component
            return None
    if inside and stat.S_ISDIR(_lstat_mode(p)):
        for where, dirs, files in os.walk(p):  # follows no link
            for name in sorted(dirs + files):
                if os.path.islink(os.path.join(where, name)):
                    return Path(where) / name, Path(top)
    return None


def link_message(path, link, root, action: str = "write") -> str:
    """The one paragraph of a refused write (``action``: write, lock, delete, create) through ``link``."""
    try:
        target = f" (to '{os.readlink(link)}')"
    except OSError:
        target = ""
    return (
        f"Cannot {action} '{path}': '{link}' is a symbolic link{target} inside the output folder '{root}', and "
        "the kit writes, locks and deletes nothing through a link there (it would act on the link's target, "
        f"outside the folder). Remove the link (`rm '{link}'` removes the link alone, not what it points to), "
        "or choose another --out; --out itself may be a link."
    )


def refuse_links(path, action: str = "write", root=None, inside: bool = False) -> None:
    """Raise :class:`LinkError` when :func:`find_link` finds a link on the way to ``path``."""
    found = find_link(path, root=root, inside=inside)
    if found:
        raise LinkError(link_message(path, found[0], found[1], action))


def make_dirs(path) -> Path:
    """``mkdir -p path``, refusing a link on the way inside a write root; return the path."""
    path = Path(path)
    refuse_links(path, "create")
    path.mkdir(parents=True, exist_ok=True)
    return path


def remove_file(path, missing_ok: bool = True) -> bool:
    """Delete the file ``path`` (not through a link inside a write root); return whether it existed."""
    refuse_links(path, "delete")
    try:
        os.unlink(path)
    except FileNotFoundError:
        if not missing_ok:
            raise
        return False
    return True


def remove_tree(path) -> bool:
    """Delete the folder ``path`` and all in it (links in it are removed, never followed), refusing a
    link on the way to it inside a write root; return whether it existed."""
    refuse_links(path, "delete")
    if not os.path.lexists(path):
        return False
    shutil.rmtree(path)
    return True


def open_append(path):
    """``open(path, "ab")`` that follows no link: the path itself (``O_NOFOLLOW``) nor, inside a write
    root, any folder on the way."""
    refuse_links(path)
    make_dirs(Path(path).parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, file_mode())
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise LinkError(link_message(path, path, Path(path).parent)) from None
        raise
    return os.fdopen(fd, "ab")


# ----------------------------------------------------------------------------------------------
# only regular files are read
# ----------------------------------------------------------------------------------------------

KINDS = {
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFDIR: "a folder",
}


class NotRegularFile(OSError):
    """A file was expected and something else is there (a FIFO, a device, a folder): not read."""

    def __str__(self) -> str:
        return f"'{self.filename}' is {self.strerror}, not a regular file"


def file_kind(mode: int) -> str:
    """What a ``st_mode`` is, in words (``a FIFO (named pipe)``, ``a socket``, ...)."""
    return KINDS.get(stat.S_IFMT(mode), "not a regular file")


def regular_file_problem(path) -> str | None:
    """Why ``path`` (links followed) is not a regular file to read: ``is missing`` or ``is a FIFO ...,
    not a regular file``; None when it is one."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "is missing"
    except OSError as e:
        return f"cannot be read ({e.strerror})"
    return None if stat.S_ISREG(mode) else f"is {file_kind(mode)}, not a regular file"


def open_regular(path, mode: str = "rb", **kwargs):
    """``open(path, mode)`` for reading, only when ``path`` (links followed) is a regular file: it is
    opened without blocking and checked on the open descriptor, so a FIFO never blocks the reader.

    Raises:
        NotRegularFile: ``path`` is a FIFO, a socket, a device or a folder.
    """
    if "r" not in mode or "+" in mode:
        raise ValueError(f"open_regular reads: mode {mode!r}")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as e:
        if e.errno in (errno.ENXIO, errno.EISDIR):  # a socket; a folder
            kind = "a socket" if e.errno == errno.ENXIO else "a folder"
            raise NotRegularFile(errno.EINVAL, kind, str(path)) from None
        raise
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise NotRegularFile(errno.EINVAL, file_kind(st.st_mode), str(path))
    os.set_blocking(fd, True)
    return os.fdopen(fd, mode, **kwargs)


def read_bytes(path) -> bytes:
    """The bytes of the regular file ``path`` (:func:`open_regular`)."""
    with open_regular(path) as f:
        return f.read()


def read_text(path, encoding: str = "utf-8") -> str:
    """The text of the regular file ``path`` (:func:`open_regular`)."""
    with open_regular(path, "r", encoding=encoding) as f:
        return f.read()


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

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
import json
import os
import re
import tempfile
import time
from pathlib import Path

import yaml

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

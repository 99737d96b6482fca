"""The run-folder contract: where each output lives, how it is written, and when it counts as finished.

A study folder::

    OUT/study.yaml                              the resolved study
    OUT/runs/<benchmark>/<variant>/seed<k>/     a *run folder* (see :func:`run_path`)
        parameters.yaml  notebook.ipynb         what papermill injected, the executed notebook
        variant.yaml                            the variant's resolved definition
        train/           a *train folder*: what vrft_lib.train writes (model/, steps.csv, ...)
        eval/            an *eval folder*: what vrft_lib.evaluate writes (predictions.jsonl, ...)
        DONE             the completion marker, written last

Every folder that can be finished (run, train, eval, the tiny base) is finished exactly when its
``DONE`` marker exists. The marker is one JSON object (at least ``finished``, a timestamp), written
atomically, so a reader never sees half of it.

Every file is written atomically (:mod:`vrft_lib.files`); one writer per folder (:mod:`vrft_lib.locks`).

The kit writes only into a study folder it owns (:func:`check_owned`): one that is absent or empty,
that holds the marker :data:`STUDY_MARKER` (written by :func:`claim_study_folder` when the kit first
writes there), or that a kit without the marker made (``study.yaml`` beside nothing but the names a
study writes, :data:`STUDY_NAMES`); any other folder only with ``--force``.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import yaml

from .errors import ConfigError
from .files import TMP_NAME, now, read_json, read_text, remove_file, write_json
from .locks import LOCK_FILE, LOCKS_DIR

DONE = "DONE"
RUNS = "runs"
STUDY_FILE = "study.yaml"
VARIANT_FILE = "variant.yaml"  # a run folder's record of its variant's resolved definition
STUDY_MARKER = ".vrft-study"  # written into a study folder when the kit first writes there: the kit owns it
# Every name the kit writes at the top of a study folder.
STUDY_NAMES = (
    STUDY_FILE,
    STUDY_MARKER,
    RUNS,
    "report.html",
    "report.ipynb",
    "report-kernel.log",
    ".report-inputs",
    "table1.csv",
    "metrics.json",
    "last_invocation.json",
    "organism_check.json",
    "slurm",
    LOCK_FILE,
    LOCKS_DIR,
)
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


SAFE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


def check_folder_name(name, where: str) -> None:
    """Study names, benchmark keys and variant names become folder names under ``--out``: letters, digits, ``_ . -``,
    not starting with a dot, so that nothing is written or deleted outside the output folder.

    >>> check_folder_name("fgvc_aircraft", "benchmarks")
    >>> check_folder_name("../../escape", "benchmarks")
    Traceback (most recent call last):
    ...
    vrft_lib.errors.ConfigError: benchmarks: '../../escape' is not a folder name the kit accepts: ...
    """
    if not isinstance(name, str) or not SAFE_NAME.fullmatch(name):
        raise ConfigError(
            f"{where}: {name!r} is not a folder name the kit accepts: use letters, digits, '_', '.' and '-', "
            "not starting with '.' (it names a folder under the output folder)."
        )


# ----------------------------------------------------------------------------------------------
# whose folder: the kit writes only into a study folder it owns
# ----------------------------------------------------------------------------------------------


def _kind(path: Path) -> int:
    try:
        return os.lstat(path).st_mode
    except OSError:
        return 0


def foreign_entries(out) -> list[str]:
    """What makes ``out`` a folder the kit does not own: its entries (a folder's name ends in ``/``),
    or ``[]`` when the kit owns it. The kit owns a folder that

    * is absent, or empty (the kit's lock files aside: another invocation may be starting there);
    * holds the marker :data:`STUDY_MARKER` as a regular file;
    * holds nothing but the names of :data:`STUDY_NAMES` and the kit's temporary files, among them
      ``study.yaml`` as a regular file or a ``runs`` folder laid out as the kit lays it out (nothing
      but ``runs/<benchmark>/<variant>/seed<k>/`` folders): a study folder written before the kit
      wrote the marker.

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp()); _ = (d / "notes.txt").write_text("mine")
    >>> foreign_entries(d), foreign_entries(d / "new")
    (['notes.txt'], [])
    >>> _ = (d / STUDY_MARKER).write_text("{}"); foreign_entries(d)
    []
    """
    out = Path(out)
    if not out.is_dir():
        return []  # absent (or a file: the output folder check names that)
    names = sorted(os.listdir(out))
    if stat.S_ISREG(_kind(out / STUDY_MARKER)):
        return []
    extra = [n for n in names if n not in (LOCK_FILE, LOCKS_DIR)]
    if not extra:
        return []
    if all(n in STUDY_NAMES or TMP_NAME.fullmatch(n) for n in names) and (
        stat.S_ISREG(_kind(out / STUDY_FILE)) or _runs_layout(out / RUNS)
    ):
        return []
    return [n + "/" if stat.S_ISDIR(_kind(out / n)) else n for n in extra]


def _runs_layout(runs: Path) -> bool:
    """Whether ``runs`` is a folder holding nothing but ``<benchmark>/<variant>/seed<k>/`` folders."""

    def folders(path: Path, depth: int) -> bool:
        if not stat.S_ISDIR(_kind(path)):
            return False
        if depth == 0:
            return True
        try:
            names = os.listdir(path)
        except OSError:
            return False
        return all((depth > 1 or seed_of(n) is not None) and folders(path / n, depth - 1) for n in names)

    return folders(runs, 3)


def check_owned(out, force: bool = False, command: str = "vrft study") -> None:
    """Refuse to write into ``out`` unless the kit owns it (:func:`foreign_entries`) or ``force``.

    Raises:
        ConfigError: one paragraph naming what the folder holds and how to proceed.
    """
    found = foreign_entries(out)
    if not found or force:
        return
    shown = ", ".join(found[:8]) + (f", ... ({len(found)} entries)" if len(found) > 8 else "")
    marker = Path(out) / STUDY_MARKER
    if command == "vrft study":
        how = (
            "Choose another --out (a new or empty folder), or pass --force to make this folder a study folder "
            "anyway: the study then writes study.yaml, runs/, report.html, report.ipynb, table1.csv, metrics.json, "
            "last_invocation.json and its hidden records (.vrft-study, .vrft-lock) there, replacing files of those "
            "names, and leaves every other file alone"
        )
    else:
        how = f"Give `{command}` the --out folder of a `vrft study` run"
    raise ConfigError(
        f"Output folder '{out}' is not a study folder of the kit: it holds {shown}, and no '{STUDY_MARKER}' "
        "marker. The kit writes only into a new or empty folder, or into a study folder it made (holding the "
        f"'{STUDY_MARKER}' marker it writes or, made before the marker, only the names a study writes, with its "
        "study.yaml or runs/<benchmark>/<variant>/seed<k>/ folders), so that "
        f"nothing of yours is overwritten or deleted. {how}. If it is a study folder of the kit to which you "
        f"added files, mark it as one: `touch '{marker}'`."
    )


def claim_study_folder(out) -> None:
    """Write the marker :data:`STUDY_MARKER` into ``out`` (kept when it is there): the kit owns it."""
    marker = Path(out) / STUDY_MARKER
    if not stat.S_ISREG(_kind(marker)):
        write_json({"kit": "vrft", "created": now()}, marker)


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
    >>> from vrft_lib.files import dump_yaml
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "config.yaml"
    >>> dump_yaml({"a": 1, "b": 2, "output_dir": "x"}, p)
    >>> config_diff(p, {"a": 1, "b": 3, "output_dir": "y"}), config_diff(p.with_name("no.yaml"), {})
    (['b'], None)
    """
    path = Path(saved)
    if not path.exists():
        return None
    try:
        old = yaml.safe_load(read_text(path)) or {}
    except (yaml.YAMLError, UnicodeDecodeError, OSError):  # OSError: not a regular file (a FIFO)
        old = {}
    if not isinstance(old, dict):
        old = {}
    keys = {k for k in set(old) | set(new) if not str(k).startswith("_") and k not in ignore}
    return sorted(k for k in keys if old.get(k) != new.get(k))


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
        remove_file(m)
    return removed


# What an evaluation may change and still be the same evaluation: where it goes, its bar, and how many
# processes share it (the responses are the same; see vrft_lib.parallel); and the former `bootstrap`
# setting of older eval folders, which changed no number.
EVAL_RESUMABLE_KEYS = frozenset({"output_dir", "progress", "num_processes", "tensor_parallel_size", "bootstrap"})
EVAL_OUTPUTS = ("metrics.json", "predictions.jsonl", "config.yaml")


def stale_reason(folder, config: dict, outputs=(), ignore=RESUMABLE_KEYS) -> str | None:
    """Why the finished ``folder`` cannot be trusted for ``config``: its ``config.yaml`` differs, or one
    of ``outputs`` is missing; None when it can.

    >>> import tempfile, pathlib
    >>> from vrft_lib.files import dump_yaml
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

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
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from .errors import ConfigError
from .files import now, read_json, write_json

DONE = "DONE"
RUNS = "runs"
STUDY_FILE = "study.yaml"
VARIANT_FILE = "variant.yaml"  # a run folder's record of its variant's resolved definition
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
        old = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError):
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
        m.unlink()
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

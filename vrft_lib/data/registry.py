"""The registry of benchmark loaders, the shared row schema, and the two ways to use a loader.

:func:`load_benchmark` checks the request (benchmark, options, limit, seed, split, root), calls the
loader and wraps its rows in a ``datasets.Dataset``; :func:`check_benchmark_files` does the same
checks, then the file check registered beside the loader: it finds what the loader would stop on
(a missing root, annotation file or image, a malformed line) without decoding any image.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass

import datasets

from ..errors import DataError, did_you_mean
from .common import duplicates, is_int_in, max_image_pixels, require_root

TASKS = ("binary", "classification", "multiple_choice")

FEATURES = datasets.Features(
    {
        "id": datasets.Value("string"),
        "images": datasets.List(datasets.Image()),
        "question": datasets.Value("string"),
        "solution": datasets.Value("string"),
        "choices": datasets.List(datasets.Value("string")),
        "task": datasets.Value("string"),
        "rationale": datasets.Value("string"),
        # how a multiple-choice answer is written: "letter" (the default) or "text" (vrft_lib.prompts)
        "answer_with": datasets.Value("string"),
    }
)
COLUMNS = tuple(FEATURES)


@dataclass
class LoadedSplit:
    """What a loader returns: rows in the shared schema (images as encoded bytes) and metadata."""

    rows: list[dict]
    task: str
    classes: list[str] | None = None
    answer_with: str = "letter"  # "text": multiple-choice answers are the option's text, not its letter


BENCHMARKS: dict[str, Callable[..., LoadedSplit]] = {}


def register_benchmark(
    name: str,
    *,
    splits: tuple[str, ...] | None = None,
    needs_root: bool = False,
    check: Callable[..., None] | None = None,
    layout: str = "",
):
    """Register ``loader(split, root, limit, seed, **options) -> LoadedSplit`` under ``name``.

    ``splits``: the valid split names when they are fixed (``None``: the loader checks them, e.g.
    banner's splits are the folders it finds). ``needs_root``: the loader reads user files.
    ``check``: the loader's file check, called by :func:`check_benchmark_files` with the loader's
    arguments (the root as a path that exists, every option as a keyword); it reads no image and
    raises :class:`~vrft_lib.errors.DataError` for what the loader would stop on. Without one, a
    benchmark gets the generic checks, and one that needs no root a one-row load. ``layout``: one
    sentence describing the expected files, quoted by the errors about the root.
    """

    def decorate(loader):
        loader.benchmark_name = name
        loader.splits = tuple(splits) if splits else None
        loader.needs_root = needs_root
        loader.file_check = check
        loader.layout = layout
        BENCHMARKS[name] = loader
        return loader

    return decorate


def list_benchmarks() -> list[str]:
    """The registered benchmark names, sorted.

    >>> list_benchmarks()[:3]
    ['banner', 'fgvc_aircraft', 'sat']
    """
    return sorted(BENCHMARKS)


def _get_loader(name: str):
    if name not in BENCHMARKS:
        raise DataError(
            f"Unknown benchmark '{name}'{did_you_mean(name, BENCHMARKS)}. "
            f"Known benchmarks: {', '.join(list_benchmarks())}. "
            "Register a new one with @register_benchmark (see docs/data.md, 'Adding a benchmark')."
        )
    return BENCHMARKS[name]


def benchmark_options(name: str) -> dict:
    """The options of benchmark ``name`` with their defaults.

    >>> benchmark_options("synthetic_aircraft")
    {'image_size': 56, 'num_samples': None, 'num_classes': 8, 'names': 'codes', 'answer_with': 'letter'}
    """
    loader = _get_loader(name)
    return {
        p.name: p.default
        for p in inspect.signature(loader).parameters.values()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    }


def _check_request(name: str, split: str, limit, seed, options: dict):
    """The checks every benchmark gets: option names, limit, seed, a fixed split. Returns the loader
    and the resolved options (defaults included)."""
    loader = _get_loader(name)
    valid = benchmark_options(name)
    unknown = sorted(set(options) - set(valid))
    if unknown:
        listing = ", ".join(f"{k}={v!r}" for k, v in valid.items()) or "none"
        raise DataError(
            f"Unknown option {', '.join(repr(u) for u in unknown)} for benchmark '{name}'"
            f"{did_you_mean(unknown[0], valid)}. Valid options (with defaults): {listing}."
        )
    if limit is not None and not is_int_in(limit, 1, None):
        raise DataError(f"limit must be a positive integer or None, got {limit!r} (benchmark '{name}').")
    if not is_int_in(seed, 0, None):
        raise DataError(f"seed must be a non-negative integer, got {seed!r} (benchmark '{name}').")
    if loader.splits is not None and split not in loader.splits:
        raise DataError(
            f"Unknown split '{split}' for benchmark '{name}'{did_you_mean(split, loader.splits)}. "
            f"Valid splits: {', '.join(loader.splits)}."
        )
    return loader, {**valid, **options}


def load_benchmark(
    name: str,
    split: str,
    root: str | None = None,
    limit: int | None = None,
    seed: int = 0,
    **options,
) -> datasets.Dataset:
    """Load one split of a benchmark as a ``datasets.Dataset`` with the columns of :data:`FEATURES`.

    Args:
        name: a registered benchmark (see :func:`list_benchmarks`).
        split: the split name, e.g. ``"train"`` or ``"test"``.
        root: where the real data lies (ignored by synthetic benchmarks).
        limit: keep at most this many rows: a subset chosen by ``seed`` (real data; the subset for
            ``limit=k`` is contained in the one for ``limit=k+1``, rows stay in file order) or the
            first ``limit`` rows (synthetic). A limit above the split's size keeps every row.
        seed: chooses the subset, the choice order (SAT) and the synthetic images.
        **options: benchmark-specific options (see :func:`benchmark_options`).

    Raises:
        DataError: unknown benchmark, split or option, missing root or files, malformed data.
    """
    loader, resolved = _check_request(name, split, limit, seed, options)
    max_image_pixels()  # a bad VRFT_MAX_IMAGE_PIXELS is refused whichever benchmark loads
    if loader.needs_root:
        root = require_root(name, root, loader.layout)
    loaded = loader(split, root, None if limit is None else int(limit), int(seed), **resolved)
    if not loaded.rows:
        raise DataError(
            f"Split '{split}' of benchmark '{name}' is empty (root: {root}). Check that the split holds "
            "readable images and annotations, or choose another split."
        )
    repeated = duplicates(loaded.classes or [])
    if repeated:
        raise DataError(
            f"The class list of benchmark '{name}' (root: {root}) names {', '.join(repr(c) for c in repeated[:5])} "
            "more than once; each class must be listed once (a model cannot tell two equal names apart). "
            "Remove the repeated names from its class list."
        )
    if loaded.task not in TASKS:  # a loader bug, not a user error
        raise ValueError(f"loader for {name!r} returned task {loaded.task!r}; expected one of {TASKS}")
    description = {
        "benchmark": name,
        "split": split,
        "task": loaded.task,
        "classes": loaded.classes,
        "options": resolved,
        "root": str(root) if loader.needs_root else None,  # synthetic benchmarks ignore root
        "limit": None if limit is None else int(limit),
        "seed": int(seed),
        "num_rows": len(loaded.rows),
    }
    for row in loaded.rows:
        row.setdefault("answer_with", loaded.answer_with)
    columns = {c: [row[c] for row in loaded.rows] for c in COLUMNS}
    columns["images"] = [[{"bytes": b, "path": None} for b in images] for images in columns["images"]]
    info = datasets.DatasetInfo(description=json.dumps(description, default=str), features=FEATURES)
    return datasets.Dataset.from_dict(columns, features=FEATURES, info=info)


def benchmark_info(ds: datasets.Dataset) -> dict:
    """What :func:`load_benchmark` recorded about ``ds``.

    Keys: ``benchmark``, ``split``, ``task``, ``classes`` (list or None), ``options`` (resolved,
    defaults included), ``root``, ``limit``, ``seed``, ``num_rows`` (at load time).

    >>> info = benchmark_info(load_benchmark("synthetic_aircraft", "test", limit=1, num_classes=3))
    >>> info["task"], info["classes"]
    ('classification', ['AX-300', 'Vega 110', 'F/K-10'])
    """
    try:
        info = json.loads(ds.info.description or "")
        if not isinstance(info, dict) or "benchmark" not in info:
            raise ValueError
    except ValueError:
        raise DataError(
            "This dataset carries no benchmark description in ds.info.description; it was not made by "
            "vrft_lib.data.load_benchmark (or the description was replaced). Load it with load_benchmark."
        ) from None
    return info


def check_benchmark_files(
    name: str, split: str, root=None, limit=None, seed: int = 0, *, files: bool = True, **options
) -> None:
    """Check, without decoding any image, that ``load_benchmark(name, split, root, ...)`` finds its files.

    First the checks every benchmark gets: the option names, ``limit``, ``seed``, a fixed list of
    splits and (for a benchmark that reads files) the root. Then the file check registered beside
    the loader (see :func:`register_benchmark`): for the real benchmarks the option values, the
    split, the annotation files, that every label is in the class list, that the split is not empty
    and (with ``on_bad_image="error"``) that the image files the run will read exist. A benchmark
    that needs no root and registered no check draws one row. Corrupt images are found when the
    data are loaded. ``files=False`` reads no file: for a benchmark that needs a root it stops after
    the option names, limit, seed and fixed splits.

    >>> check_benchmark_files("synthetic_spatial", "test", num_objects=2)
    >>> check_benchmark_files("synthetic_spatial", "tset")
    Traceback (most recent call last):
    ...
    vrft_lib.errors.DataError: Unknown split 'tset' for benchmark 'synthetic_spatial' (did you mean 'test'?). ...

    Raises:
        DataError: naming the file or option, what is wrong and how to fix it.
    """
    loader, resolved = _check_request(name, split, limit, seed, options)
    limit = None if limit is None else int(limit)
    if not loader.needs_root:
        if loader.file_check is not None:
            loader.file_check(split, root, limit, int(seed), **resolved)
        else:
            load_benchmark(name, split, limit=1, seed=seed, **options)  # checks option values; one row
        return
    if not files:
        return
    path = require_root(name, root, loader.layout)
    if loader.file_check is not None:
        loader.file_check(split, path, limit, int(seed), **resolved)

"""Benchmarks: one registry of loaders, each returning a ``datasets.Dataset`` with one shared schema.

Every benchmark, real or synthetic, yields rows with exactly the columns of :data:`FEATURES`:

* ``id`` (str): stable and unique, e.g. ``fgvc_aircraft-test-1025794``;
* ``images``: a list of images (one, or two for some SAT rows);
* ``question`` (str): the question alone, without format instructions or lettered choices (the
  prompts module adds those);
* ``solution`` (str): the canonical answer; for multiple choice the text of the right choice;
* ``choices`` (list of str): the choice texts, empty unless ``task == "multiple_choice"``;
* ``task``: ``"binary"``, ``"classification"`` or ``"multiple_choice"``;
* ``rationale`` (str): a short correct explanation (synthetic rows), empty for real data.

Because the features are identical, splits of different benchmarks can be concatenated.
:func:`load_benchmark` records what it loaded (benchmark, split, task, class list, resolved options,
root, limit, seed) as JSON in ``ds.info.description``; :func:`benchmark_info` reads it back.

A new benchmark is one loader function plus one registry line::

    @register_benchmark("my_bench", splits=("train", "test"))
    def load_my_bench(split, root, limit, seed, *, my_option=1):
        rows = [...]  # dicts with the columns above; images as encoded bytes
        return LoadedSplit(rows, task="binary", classes=["positive", "negative"])

Keyword-only parameters of the loader are its options, with their defaults.

>>> "fgvc_aircraft" in list_benchmarks()
True
>>> ds = load_benchmark("synthetic_banner", "train", limit=4)
>>> ds.num_rows, ds[0]["task"], ds[0]["images"][0].size
(4, 'binary', (56, 56))
>>> benchmark_info(ds)["options"]
{'image_size': 56, 'num_samples': None}
"""

from __future__ import annotations

import ast
import csv
import inspect
import io
import json
import os
import re
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import datasets
import numpy as np
from PIL import Image

from ..errors import DataError, did_you_mean
from . import synthetic

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
    }
)
COLUMNS = tuple(FEATURES)

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp")
BANNER_LABELS = ("positive", "negative")
BANNER_QUESTION = synthetic.BANNER_QUESTION
FGVC_SPLITS = ("train", "val", "trainval", "test")
FGVC_LEVELS = {  # level -> (class list file, label file prefix, question noun)
    "variant": ("variants.txt", "images_variant", "variant"),
    "family": ("families.txt", "images_family", "family"),
    "manufacturer": ("manufacturers.txt", "images_manufacturer", "manufacturer"),
}
FGVC_COPYRIGHT_PIXELS = 20
SAT_SPLITS = ("train", "static", "val", "test")
SAT_FIELDS = ("image_bytes", "question", "answers", "correct_answer")
SAT_TEXT_BATCH_ROWS = 8192  # rows per batch while reading the text columns
SAT_IMAGE_BATCH_ROWS = 32  # rows per batch while reading images: bounds memory on the 5 GiB train file
SYNTHETIC_SPLITS = tuple(synthetic.SPLIT_CODES)
_IMAGE_WORKERS = min(8, os.cpu_count() or 1)

_BANNER_LAYOUT = (
    "either a folder ROOT/<split>/<label>/<image> with label folders 'positive' and 'negative' "
    "(images .jpg/.jpeg/.png/.webp/.bmp), or a manifest file ROOT.csv / ROOT.jsonl with fields "
    "'image' (path relative to the manifest's folder, or absolute), 'label' and 'split'"
)
_FGVC_LAYOUT = (
    "the fgvc-aircraft-2013b archive: ROOT/data/images/<id>.jpg, "
    "ROOT/data/images_variant_{train,val,trainval,test}.txt (lines '<id> <label>') and "
    "ROOT/data/variants.txt (ROOT may also be the data/ folder itself)"
)
_SAT_LAYOUT = (
    "the array/SAT dataset repository: ROOT/SAT_<split>.parquet for split in train, static, val, test, "
    "with fields image_bytes, question, answers, question_type, correct_answer"
)


# ----------------------------------------------------------------------------------------------
# registry
# ----------------------------------------------------------------------------------------------


@dataclass
class LoadedSplit:
    """What a loader returns: rows in the shared schema (images as encoded bytes) and metadata."""

    rows: list[dict]
    task: str
    classes: list[str] | None = None


BENCHMARKS: dict[str, Callable[..., LoadedSplit]] = {}


def register_benchmark(name: str, *, splits: tuple[str, ...] | None = None, needs_root: bool = False):
    """Register ``loader(split, root, limit, seed, **options) -> LoadedSplit`` under ``name``.

    ``splits``: the valid split names when they are fixed (``None``: the loader checks them, e.g.
    banner's splits are the folders it finds). ``needs_root``: the loader reads user files.
    """

    def decorate(loader):
        loader.benchmark_name = name
        loader.splits = tuple(splits) if splits else None
        loader.needs_root = needs_root
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
            "Register a new one with @register_benchmark in vrft_lib/data.py."
        )
    return BENCHMARKS[name]


def benchmark_options(name: str) -> dict:
    """The options of benchmark ``name`` with their defaults.

    >>> benchmark_options("synthetic_aircraft")
    {'image_size': 56, 'num_samples': None, 'num_classes': 8}
    """
    loader = _get_loader(name)
    return {
        p.name: p.default
        for p in inspect.signature(loader).parameters.values()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    }


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
    loader = _get_loader(name)
    valid = benchmark_options(name)
    unknown = sorted(set(options) - set(valid))
    if unknown:
        listing = ", ".join(f"{k}={v!r}" for k, v in valid.items()) or "none"
        raise DataError(
            f"Unknown option {', '.join(repr(u) for u in unknown)} for benchmark '{name}'"
            f"{did_you_mean(unknown[0], valid)}. Valid options (with defaults): {listing}."
        )
    if limit is not None and not _is_int_in(limit, 1, None):
        raise DataError(f"limit must be a positive integer or None, got {limit!r} (benchmark '{name}').")
    if not _is_int_in(seed, 0, None):
        raise DataError(f"seed must be a non-negative integer, got {seed!r} (benchmark '{name}').")
    if loader.splits is not None and split not in loader.splits:
        raise DataError(
            f"Unknown split '{split}' for benchmark '{name}'{did_you_mean(split, loader.splits)}. "
            f"Valid splits: {', '.join(loader.splits)}."
        )
    if loader.needs_root:
        root = _require_root(name, root)
    resolved = {**valid, **options}
    loaded = loader(split, root, None if limit is None else int(limit), int(seed), **resolved)
    if not loaded.rows:
        raise DataError(
            f"Split '{split}' of benchmark '{name}' is empty (root: {root}). Check that the split holds "
            "readable images and annotations, or choose another split."
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


# ----------------------------------------------------------------------------------------------
# helpers for real data
# ----------------------------------------------------------------------------------------------


def _require_root(name: str, root, layout: str | None = None) -> Path:
    layout = layout or {"banner": _BANNER_LAYOUT, "fgvc_aircraft": _FGVC_LAYOUT, "sat": _SAT_LAYOUT}.get(name, "")
    if root is None or str(root) == "":
        raise DataError(f"Benchmark '{name}' needs root=: the path of its data. Expected {layout}.")
    path = Path(os.path.expanduser(str(root)))
    if not path.exists():
        raise DataError(f"Root '{path}' for benchmark '{name}' does not exist. Expected {layout}.")
    return path


def _choose(n: int, limit: int | None, seed: int) -> list[int]:
    """Indices of a seeded subset of ``range(n)`` in increasing order; nested in ``limit``.

    >>> set(_choose(10, 3, seed=0)) <= set(_choose(10, 4, seed=0))
    True
    >>> _choose(3, None, seed=5), _choose(3, 10, seed=5)
    ([0, 1, 2], [0, 1, 2])
    """
    if limit is None or limit >= n:
        return list(range(n))
    return sorted(int(i) for i in np.random.default_rng(seed).permutation(n)[:limit])


def _check_option(benchmark: str, option: str, value, allowed) -> None:
    if value not in allowed:
        raise DataError(
            f"Option {option}={value!r} of benchmark '{benchmark}' is invalid; "
            f"valid values: {', '.join(repr(a) for a in allowed)}."
        )


def _check_max_side(benchmark: str, value) -> None:
    if value is not None and not _is_int_in(value, 28, None):
        raise DataError(
            f"Option max_image_side={value!r} of benchmark '{benchmark}' is invalid; "
            "give None (keep the size) or an integer of at least 28 (pixels of the longer side)."
        )


def _process_image(data: bytes, crop_bottom: int = 0, max_side: int | None = None) -> bytes:
    """Decode (which validates) and, when asked, crop the bottom rows and/or downscale; re-encode."""
    with Image.open(io.BytesIO(data)) as img:
        img.load()
        fmt = img.format
        if not crop_bottom and not (max_side and max(img.size) > max_side):
            return data
        if crop_bottom:
            if img.height <= crop_bottom:
                raise ValueError(f"image is {img.height} pixels high, cannot crop {crop_bottom}")
            img = img.crop((0, 0, img.width, img.height - crop_bottom))
        if max_side and max(img.size) > max_side:
            scale = max_side / max(img.size)
            img = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))), Image.BICUBIC)
        out = io.BytesIO()
        if fmt == "JPEG":
            img.convert("RGB").save(out, "JPEG", quality=95)
        else:
            img.save(out, "PNG")
        return out.getvalue()


def _load_images(benchmark: str, items, on_bad_image: str, crop_bottom: int = 0, max_side: int | None = None):
    """Read and check images in parallel.

    ``items``: (where, source) pairs: ``where`` names the image in messages, ``source`` is a path or
    encoded bytes. Returns a list of bytes, with None for bad images when ``on_bad_image == "skip"``.
    """

    def one(item):
        where, source = item
        try:
            data = Path(source).read_bytes() if isinstance(source, (str, Path)) else bytes(source)
            return _process_image(data, crop_bottom, max_side), None
        except FileNotFoundError:
            return None, f"{where}: file not found"
        except Exception as exc:  # PIL raises many types for corrupt files
            return None, f"{where}: cannot be read as an image ({type(exc).__name__}: {exc})"

    with ThreadPoolExecutor(_IMAGE_WORKERS) as pool:
        results = list(pool.map(one, items))
    bad = [problem for _, problem in results if problem]
    if bad and on_bad_image == "error":
        raise DataError(
            f"Bad image in benchmark '{benchmark}': {bad[0]}"
            + (f" (and {len(bad) - 1} more)" if len(bad) > 1 else "")
            + ". Fix or remove the file, or pass on_bad_image='skip' to leave such rows out with a warning."
        )
    if bad:
        warnings.warn(
            f"{benchmark}: skipped {len(bad)} missing or unreadable image(s) and the rows that hold them; "
            f"first: {bad[0]}",
            stacklevel=4,  # _load_images <- loader <- load_benchmark <- the caller
        )
    return [data for data, _ in results]


def _real_row(row_id, images, question, solution, choices, task) -> dict:
    return {
        "id": row_id,
        "images": images,
        "question": question,
        "solution": solution,
        "choices": choices,
        "task": task,
        "rationale": "",
    }


# ----------------------------------------------------------------------------------------------
# banner
# ----------------------------------------------------------------------------------------------


def _banner_records_from_folder(root: Path, split: str) -> list[tuple[str, str, Path]]:
    """(id suffix, label, image path) for one split of ROOT/<split>/<label>/<image>."""
    splits = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not splits:
        raise DataError(f"Banner root '{root}' holds no split folders. Expected {_BANNER_LAYOUT}.")
    if split not in splits:
        hint = ""
        if {s.lower() for s in splits} & set(BANNER_LABELS):
            hint = f" '{root}' looks like a split folder itself: pass its parent as root."
        raise DataError(
            f"Unknown split '{split}' for benchmark 'banner' under '{root}'{did_you_mean(split, splits)}. "
            f"Valid splits (the folders found there): {', '.join(splits)}.{hint}"
        )
    split_dir = root / split
    records = []
    for entry in sorted(split_dir.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_file():
            if entry.suffix.lower() in IMAGE_EXTENSIONS:
                raise DataError(
                    f"Image '{entry}' lies directly in the split folder; banner images must be in a label "
                    f"folder: {split_dir}/positive/ or {split_dir}/negative/."
                )
            continue
        label = entry.name.lower()
        if label not in BANNER_LABELS:
            raise DataError(
                f"Folder '{entry}' is not a banner label: expected label folders 'positive' and 'negative' "
                f"in '{split_dir}'. Rename or move it."
            )
        for path in sorted(entry.rglob("*")):
            if path.is_file() and path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith("."):
                records.append((path.relative_to(split_dir).as_posix(), label, path))
    return records


def _read_manifest(path: Path) -> list[tuple[int, dict]]:
    """(line number, record) pairs of a .csv or .jsonl manifest."""
    suffix = path.suffix.lower()
    records = []
    if suffix == ".csv":
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            fields = [f.strip() for f in (reader.fieldnames or [])]
            missing = [f for f in ("image", "label", "split") if f not in fields]
            if missing:
                raise DataError(
                    f"Manifest '{path}' lacks the column(s) {', '.join(missing)}; found columns: "
                    f"{', '.join(fields) or 'none'}. The header must name image, label and split."
                )
            for record in reader:
                records.append((reader.line_num, {(k or "").strip(): v for k, v in record.items()}))
    elif suffix == ".jsonl":
        with open(path, encoding="utf-8") as fh:
            for line_no, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise DataError(
                        f"Line {line_no} of manifest '{path}' is not valid JSON ({exc.msg}). Each line must be "
                        'an object like {"image": "train/a.jpg", "label": "positive", "split": "train"}.'
                    ) from None
                if not isinstance(record, dict):
                    raise DataError(f"Line {line_no} of manifest '{path}' is not a JSON object.")
                records.append((line_no, record))
    else:
        raise DataError(
            f"Banner root '{path}' is a file but not a .csv or .jsonl manifest. Expected {_BANNER_LAYOUT}."
        )
    return records


def _banner_records_from_manifest(path: Path, split: str) -> list[tuple[str, str, Path]]:
    records, splits, seen = [], set(), set()
    for line_no, record in _read_manifest(path):
        values = {}
        for field in ("image", "label", "split"):
            value = record.get(field)
            if value is None or str(value).strip() == "":
                raise DataError(
                    f"Line {line_no} of manifest '{path}' has no '{field}' value; every record needs "
                    "image, label and split."
                )
            values[field] = str(value).strip()
        label = values["label"].lower()
        if label not in BANNER_LABELS:
            raise DataError(
                f"Line {line_no} of manifest '{path}' has label '{values['label']}'; banner labels must be "
                "'positive' or 'negative'. Fix the label or drop the line."
            )
        splits.add(values["split"])
        if values["split"] == split:
            image = Path(os.path.expanduser(values["image"]))
            image = image if image.is_absolute() else path.parent / image
            key = values["image"] if values["image"] not in seen else f"{values['image']}@line{line_no}"
            seen.add(values["image"])
            records.append((key, label, image))
    if split not in splits:
        found = sorted(splits)
        raise DataError(
            f"Unknown split '{split}' for benchmark 'banner' in manifest '{path}'{did_you_mean(split, found)}. "
            f"Valid splits (values of the split field): {', '.join(found) or 'none (the manifest is empty)'}."
        )
    return records


@register_benchmark("banner", needs_root=True)
def load_banner(split, root, limit, seed, *, on_bad_image="error", max_image_side=None) -> LoadedSplit:
    """Banner-Analysis-style sentiment: a folder per split and label, or a CSV/JSONL manifest.

    Options: ``on_bad_image`` ("error" or "skip": leave out rows whose image is missing or corrupt,
    with a warning), ``max_image_side`` (downscale so the longer side is at most this many pixels).
    """
    _check_option("banner", "on_bad_image", on_bad_image, ("error", "skip"))
    _check_max_side("banner", max_image_side)
    if root.is_dir():
        records = _banner_records_from_folder(root, split)
    else:
        records = _banner_records_from_manifest(root, split)
    chosen = [records[i] for i in _choose(len(records), limit, seed)]
    images = _load_images("banner", [(str(p), p) for _, _, p in chosen], on_bad_image, 0, max_image_side)
    rows = [
        _real_row(f"banner-{split}-{key}", [img], BANNER_QUESTION, label, [], "binary")
        for (key, label, _), img in zip(chosen, images)
        if img is not None
    ]
    return LoadedSplit(rows, task="binary", classes=list(BANNER_LABELS))


# ----------------------------------------------------------------------------------------------
# fgvc_aircraft
# ----------------------------------------------------------------------------------------------


def _fgvc_data_dir(root: Path) -> Path:
    for candidate in (root / "data", root, root / "fgvc-aircraft-2013b" / "data"):
        if (candidate / "images").is_dir() or any(candidate.glob("images_variant_*.txt")):
            return candidate
    raise DataError(
        f"Root '{root}' is not an FGVC-Aircraft folder: found no data/images/ in it. Expected {_FGVC_LAYOUT}."
    )


def _read_class_list(path: Path) -> list[str]:
    if not path.is_file():
        raise DataError(
            f"FGVC-Aircraft class list '{path}' is missing; it should list one class name per line, as "
            f"in the fgvc-aircraft-2013b archive. Expected {_FGVC_LAYOUT}."
        )
    classes = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not classes:
        raise DataError(f"FGVC-Aircraft class list '{path}' is empty; it should list one class name per line.")
    return classes


@register_benchmark("fgvc_aircraft", splits=FGVC_SPLITS, needs_root=True)
def load_fgvc_aircraft(
    split, root, limit, seed, *, level="variant", crop_copyright=True, max_image_side=None, on_bad_image="error"
) -> LoadedSplit:
    """FGVC-Aircraft (fgvc-aircraft-2013b): classify the variant, family or manufacturer.

    Options: ``level`` ("variant", "family", "manufacturer"), ``crop_copyright`` (cut the 20-pixel
    copyright strip at the bottom), ``max_image_side`` (downscale the longer side), ``on_bad_image``
    ("error" or "skip").
    """
    _check_option("fgvc_aircraft", "level", level, tuple(FGVC_LEVELS))
    _check_option("fgvc_aircraft", "crop_copyright", crop_copyright, (True, False))
    _check_option("fgvc_aircraft", "on_bad_image", on_bad_image, ("error", "skip"))
    _check_max_side("fgvc_aircraft", max_image_side)
    data = _fgvc_data_dir(root)
    class_file, prefix, noun = FGVC_LEVELS[level]
    classes = _read_class_list(data / class_file)
    known = set(classes)
    label_file = data / f"{prefix}_{split}.txt"
    if not label_file.is_file():
        raise DataError(
            f"FGVC-Aircraft label file '{label_file}' is missing; split '{split}' at level '{level}' needs "
            f"it, with lines '<image id> <{noun}>'. Expected {_FGVC_LAYOUT}."
        )
    entries = []
    for line_no, line in enumerate(label_file.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        image_id, _, label = line.strip().partition(" ")  # labels may hold spaces: split once
        label = label.strip()
        if not label:
            raise DataError(
                f"Line {line_no} of '{label_file}' ('{line.strip()}') has no label; expected '<image id> <{noun}>'."
            )
        if label not in known:
            raise DataError(
                f"Line {line_no} of '{label_file}' has {noun} '{label}', which is not in the class list "
                f"'{data / class_file}'{did_you_mean(label, classes)}. Fix the label or the class list."
            )
        entries.append((image_id, label))
    chosen = [entries[i] for i in _choose(len(entries), limit, seed)]
    crop = FGVC_COPYRIGHT_PIXELS if crop_copyright else 0
    paths = [data / "images" / f"{image_id}.jpg" for image_id, _ in chosen]
    sources = [(str(p), p) for p in paths]
    images = _load_images("fgvc_aircraft", sources, on_bad_image, crop, max_image_side)
    question = f"Which aircraft {noun} is shown in this image?"
    rows = [
        _real_row(f"fgvc_aircraft-{split}-{image_id}", [img], question, label, [], "classification")
        for (image_id, label), img in zip(chosen, images)
        if img is not None
    ]
    return LoadedSplit(rows, task="classification", classes=classes)


# ----------------------------------------------------------------------------------------------
# sat
# ----------------------------------------------------------------------------------------------


def _sat_image_source(element, root: Path):
    """Raw bytes, or an HF Image struct {bytes, path}: return bytes or a path to read."""
    if isinstance(element, dict):
        if element.get("bytes"):
            return element["bytes"]
        if element.get("path"):
            path = Path(element["path"])
            return path if path.is_absolute() else root / path
        return b""  # reported as unreadable
    if element is None:
        return b""
    return element


def _sat_answers(value, row: int, path: Path) -> list[str]:
    """The choice strings of a row: a list, or (in some exports) its JSON / Python text form."""
    raw = value
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            try:
                value = ast.literal_eval(value)
            except (ValueError, SyntaxError):
                value = None
    if not isinstance(value, (list, tuple)) or not value:
        raise DataError(
            f"Row {row} of '{path}' has answers {raw!r}; expected a non-empty list of choice strings."
        )
    return [str(a) for a in value]


@register_benchmark("sat", splits=SAT_SPLITS, needs_root=True)
def load_sat(
    split, root, limit, seed, *, shuffle_choices=True, max_image_side=None, on_bad_image="error"
) -> LoadedSplit:
    """SAT (array/SAT): spatial multiple-choice questions over one or two images.

    Reads ``SAT_<split>.parquet`` with ``pyarrow`` in batches: first the text columns (to choose rows
    by ``limit`` and ``seed``), then the images of the chosen rows only, so memory stays bounded even
    for the 5 GiB single-row-group train file. Options: ``shuffle_choices`` (permute each row's
    choices, seeded by ``seed`` and the row, as the dataset card asks), ``max_image_side``,
    ``on_bad_image`` ("error" or "skip").
    """
    import pyarrow.parquet as pq

    _check_option("sat", "shuffle_choices", shuffle_choices, (True, False))
    _check_option("sat", "on_bad_image", on_bad_image, ("error", "skip"))
    _check_max_side("sat", max_image_side)
    if not root.is_dir():
        raise DataError(f"SAT root '{root}' is not a folder. Expected {_SAT_LAYOUT}.")
    path = root / f"SAT_{split}.parquet"
    if not path.is_file():
        found = sorted(p.name for p in root.glob("SAT_*.parquet"))
        raise DataError(
            f"SAT file '{path}' is missing (found: {', '.join(found) or 'no SAT_*.parquet files'}). "
            f"Expected {_SAT_LAYOUT}; download the array/SAT repository into ROOT."
        )
    try:
        parquet = pq.ParquetFile(path, buffer_size=1 << 23, pre_buffer=False)
    except Exception as exc:
        raise DataError(f"SAT file '{path}' cannot be read as parquet ({exc}). Re-download it.") from None
    names = parquet.schema_arrow.names
    missing = [f for f in SAT_FIELDS if f not in names]
    if missing:
        raise DataError(
            f"SAT file '{path}' lacks the field(s) {', '.join(missing)}; found: {', '.join(names)}. "
            f"Expected {_SAT_LAYOUT}."
        )

    # Pass 1: the text columns of every row (small), to choose rows.
    text_columns = ["question", "answers", "correct_answer"] + (["question_type"] if "question_type" in names else [])
    text = {c: [] for c in text_columns}
    for batch in parquet.iter_batches(batch_size=SAT_TEXT_BATCH_ROWS, columns=text_columns):
        for c in text_columns:
            text[c].extend(batch.column(c).to_pylist())
    chosen = _choose(len(text["question"]), limit, seed)

    rows_meta = {}
    for i in chosen:
        answers = _sat_answers(text["answers"][i], i, path)
        correct = text["correct_answer"][i]
        stripped = [a.strip() for a in answers]
        if correct is None or str(correct).strip() not in stripped:
            raise DataError(
                f"Row {i} of '{path}' has correct_answer {correct!r}, which is not among its answers {answers}. "
                "Fix the row, or choose other rows with limit/seed."
            )
        solution = answers[stripped.index(str(correct).strip())]
        if shuffle_choices:
            answers = [answers[k] for k in np.random.default_rng([seed, i]).permutation(len(answers))]
        qtype = text["question_type"][i] if "question_type" in text else None
        suffix = "-" + re.sub(r"[^A-Za-z0-9_]+", "_", str(qtype)) if qtype else ""
        rows_meta[i] = (f"sat-{split}-{i:06d}{suffix}", str(text["question"][i] or "").strip(), solution, answers)

    # Pass 2: the images of the chosen rows only, a few rows at a time.
    wanted = set(chosen)
    last = max(chosen) if chosen else -1
    raw_images: dict[int, list] = {}
    offset = 0
    if chosen:
        for batch in parquet.iter_batches(batch_size=SAT_IMAGE_BATCH_ROWS, columns=["image_bytes"]):
            local = [k for k in range(batch.num_rows) if offset + k in wanted]
            if local:
                column = batch.column(0)
                for k in local:
                    raw_images[offset + k] = column[k].as_py() or []
            offset += batch.num_rows
            if offset > last:
                break

    items, owners = [], []
    for i in chosen:
        elements = raw_images.get(i, [])
        if not elements:
            items.append((f"row {i} of '{path}' (image_bytes is empty)", b""))
            owners.append(i)
        for j, element in enumerate(elements):
            items.append((f"image {j} of row {i} of '{path}'", _sat_image_source(element, root)))
            owners.append(i)
    images = _load_images("sat", items, on_bad_image, 0, max_image_side)
    per_row: dict[int, list] = {i: [] for i in chosen}
    bad_rows = set()
    for owner, img in zip(owners, images):
        if img is None:
            bad_rows.add(owner)
        else:
            per_row[owner].append(img)
    rows = []
    for i in chosen:
        if i in bad_rows:
            continue
        row_id, question, solution, answers = rows_meta[i]
        rows.append(_real_row(row_id, per_row[i], question, solution, answers, "multiple_choice"))
    return LoadedSplit(rows, task="multiple_choice", classes=None)


# ----------------------------------------------------------------------------------------------
# synthetic benchmarks
# ----------------------------------------------------------------------------------------------


def _is_int_in(value, low: int, high: int | None) -> bool:
    """``value`` is an int (not a bool) in ``[low, high]`` (``high=None``: no upper bound)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        return False
    return low <= value and (high is None or value <= high)


def _synthetic_size(benchmark: str, split: str, limit, num_samples, image_size) -> int:
    if num_samples is not None and not _is_int_in(num_samples, 1, None):
        raise DataError(
            f"Option num_samples={num_samples!r} of benchmark '{benchmark}' is invalid; give a positive "
            f"integer, or None for the default split sizes {synthetic.DEFAULT_NUM_SAMPLES}."
        )
    if not _is_int_in(image_size, 28, None) or image_size % 28:
        raise DataError(
            f"Option image_size={image_size!r} of benchmark '{benchmark}' is invalid; it must be a positive "
            "multiple of 28 (Qwen2.5-VL merges 14-pixel patches 2x2), e.g. 56, 112 or 224."
        )
    size = num_samples if num_samples is not None else synthetic.DEFAULT_NUM_SAMPLES[split]
    return size if limit is None else min(size, limit)


@register_benchmark("synthetic_banner", splits=SYNTHETIC_SPLITS)
def load_synthetic_banner(split, root, limit, seed, *, image_size=56, num_samples=None) -> LoadedSplit:
    """Procedural banners: background colour palette + smiling/frowning face carry the sentiment.

    ``num_samples``: rows in the split (default train 2000, val 200, test 500); ``limit`` keeps the
    first rows. ``image_size``: pixels per side, a multiple of 28.
    """
    n = _synthetic_size("synthetic_banner", split, limit, num_samples, image_size)
    return LoadedSplit(synthetic.generate_banner(split, n, seed, image_size), "binary", list(BANNER_LABELS))


@register_benchmark("synthetic_aircraft", splits=SYNTHETIC_SPLITS)
def load_synthetic_aircraft(split, root, limit, seed, *, image_size=56, num_samples=None, num_classes=8) -> LoadedSplit:
    """Procedural aircraft: ``num_classes`` (2-100) variants made of fuselage colour, wing sweep,
    engine count and tail colour."""
    n = _synthetic_size("synthetic_aircraft", split, limit, num_samples, image_size)
    if not _is_int_in(num_classes, 2, synthetic.MAX_AIRCRAFT_CLASSES):
        raise DataError(
            f"Option num_classes={num_classes!r} of benchmark 'synthetic_aircraft' is invalid; "
            f"give an integer from 2 to {synthetic.MAX_AIRCRAFT_CLASSES}."
        )
    rows = synthetic.generate_aircraft(split, n, seed, image_size, num_classes)
    return LoadedSplit(rows, "classification", synthetic.aircraft_classes(num_classes))


@register_benchmark("synthetic_spatial", splits=SYNTHETIC_SPLITS)
def load_synthetic_spatial(split, root, limit, seed, *, image_size=56, num_samples=None, num_objects=3) -> LoadedSplit:
    """Procedural spatial relations between 2 or 3 coloured shapes (2-4 text choices)."""
    n = _synthetic_size("synthetic_spatial", split, limit, num_samples, image_size)
    _check_option("synthetic_spatial", "num_objects", num_objects, (2, 3))
    return LoadedSplit(synthetic.generate_spatial(split, n, seed, image_size, num_objects), "multiple_choice", None)

"""``banner``: Banner-Analysis-style sentiment, a folder per split and label or a CSV/JSONL manifest.

:func:`banner_records` lists the records of a split (and stops on a malformed layout or line); the
loader reads their images, the file check only checks that they exist.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

from ..errors import DataError, did_you_mean
from ..values import read_config_text
from .common import (
    IMAGE_EXTENSIONS,
    ON_BAD_IMAGE,
    check_file_name,
    check_images_exist,
    check_max_side,
    check_option,
    choose_rows,
    empty_split_error,
    load_images,
    real_row,
)
from .registry import LoadedSplit, register_benchmark
from .synthetic import BANNER_QUESTION

BANNER_LABELS = ("positive", "negative")
BANNER_LAYOUT = (
    "either a folder ROOT/<split>/<label>/<image> with label folders 'positive' and 'negative' "
    "(images .jpg/.jpeg/.png/.webp/.bmp), or a manifest file ROOT.csv / ROOT.jsonl with fields "
    "'image' (path relative to the manifest's folder, or absolute), 'label' and 'split'"
)


def banner_records(root: Path, split: str) -> list[tuple[str, str, Path]]:
    """(id suffix, label, image path) for one split of a banner folder or manifest ``root``."""
    if root.is_dir():
        return _records_from_folder(root, split)
    return _records_from_manifest(root, split)


def _records_from_folder(root: Path, split: str) -> list[tuple[str, str, Path]]:
    """(id suffix, label, image path) for one split of ROOT/<split>/<label>/<image>."""
    splits = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not splits:
        raise DataError(f"Banner root '{root}' holds no split folders. Expected {BANNER_LAYOUT}.")
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
                check_file_name("banner", path)
                records.append((path.relative_to(split_dir).as_posix(), label, path))
    return records


def _read_manifest(path: Path) -> list[tuple[int, dict]]:
    """(line number, record) pairs of a .csv or .jsonl manifest."""
    suffix = path.suffix.lower()
    records = []
    text = read_config_text(path, "Manifest", DataError) if suffix in (".csv", ".jsonl") else ""
    if suffix == ".csv":
        with io.StringIO(text.removeprefix("\ufeff"), newline="") as fh:
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
        with io.StringIO(text, newline=None) as fh:
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
        raise DataError(f"Banner root '{path}' is a file but not a .csv or .jsonl manifest. Expected {BANNER_LAYOUT}.")
    return records


def _records_from_manifest(path: Path, split: str) -> list[tuple[str, str, Path]]:
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


def _check_options(on_bad_image, max_image_side) -> None:
    check_option("banner", "on_bad_image", on_bad_image, ON_BAD_IMAGE)
    check_max_side("banner", max_image_side)


def check_banner_files(split, root, limit, seed, *, on_bad_image, max_image_side) -> None:
    """The file check of ``banner``: options, layout, labels, a non-empty split, the images exist."""
    _check_options(on_bad_image, max_image_side)
    records = banner_records(root, split)
    if not records:
        raise empty_split_error("banner", split, root)
    chosen = [records[i] for i in choose_rows(len(records), limit, seed)]
    check_images_exist("banner", [p for _, _, p in chosen], on_bad_image)


@register_benchmark("banner", needs_root=True, check=check_banner_files, layout=BANNER_LAYOUT)
def load_banner(split, root, limit, seed, *, on_bad_image="error", max_image_side=None) -> LoadedSplit:
    """Banner-Analysis-style sentiment: a folder per split and label, or a CSV/JSONL manifest.

    Options: ``on_bad_image`` ("error" or "skip": leave out rows whose image is missing or corrupt,
    with a warning), ``max_image_side`` (downscale so the longer side is at most this many pixels).
    """
    _check_options(on_bad_image, max_image_side)
    records = banner_records(root, split)
    chosen = [records[i] for i in choose_rows(len(records), limit, seed)]
    images = load_images("banner", [(str(p), p) for _, _, p in chosen], on_bad_image, 0, max_image_side)
    rows = [
        real_row(f"banner-{split}-{key}", [img], BANNER_QUESTION, label, [], "binary")
        for (key, label, _), img in zip(chosen, images)
        if img is not None
    ]
    return LoadedSplit(rows, task="binary", classes=list(BANNER_LABELS))

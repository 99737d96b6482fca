"""``fgvc_aircraft``: FGVC-Aircraft (fgvc-aircraft-2013b), the variant, family or manufacturer.

:func:`read_fgvc_split` reads and validates the class list and label file of a split; the loader
reads the images of the chosen rows, the file check only checks that they exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import DataError, did_you_mean
from ..values import read_config_text
from .common import (
    ON_BAD_IMAGE,
    check_images_exist,
    check_max_side,
    check_option,
    choose_rows,
    duplicates,
    empty_split_error,
    load_images,
    real_row,
)
from .registry import LoadedSplit, register_benchmark

FGVC_SPLITS = ("train", "val", "trainval", "test")
FGVC_LEVELS = {  # level -> (class list file, label file prefix, question noun)
    "variant": ("variants.txt", "images_variant", "variant"),
    "family": ("families.txt", "images_family", "family"),
    "manufacturer": ("manufacturers.txt", "images_manufacturer", "manufacturer"),
}
FGVC_COPYRIGHT_PIXELS = 20
FGVC_LAYOUT = (
    "the fgvc-aircraft-2013b archive: ROOT/data/images/<id>.jpg, "
    "ROOT/data/images_variant_{train,val,trainval,test}.txt (lines '<id> <label>') and "
    "ROOT/data/variants.txt (ROOT may also be the data/ folder itself)"
)


@dataclass
class FgvcSplit:
    """A split's annotations: the data folder, the class list and the (image id, label) entries."""

    folder: Path
    classes: list[str]
    entries: list[tuple[str, str]]
    noun: str  # what the labels name: "variant", "family" or "manufacturer"

    def image_path(self, image_id: str) -> Path:
        return self.folder / "images" / f"{image_id}.jpg"


def fgvc_data_dir(root: Path) -> Path:
    """The archive's ``data/`` folder: ``root/data``, ``root`` itself or ``root/fgvc-aircraft-2013b/data``."""
    for candidate in (root / "data", root, root / "fgvc-aircraft-2013b" / "data"):
        if (candidate / "images").is_dir() or any(candidate.glob("images_variant_*.txt")):
            return candidate
    raise DataError(
        f"Root '{root}' is not an FGVC-Aircraft folder: found no data/images/ in it. Expected {FGVC_LAYOUT}."
    )


def read_class_list(path: Path) -> list[str]:
    """The class names of a class list file, one per line, in file order."""
    if not path.is_file():
        raise DataError(
            f"FGVC-Aircraft class list '{path}' is missing; it should list one class name per line, as "
            f"in the fgvc-aircraft-2013b archive. Expected {FGVC_LAYOUT}."
        )
    text = read_config_text(path, "FGVC-Aircraft class list", DataError)
    classes = [line.strip() for line in text.splitlines() if line.strip()]
    if not classes:
        raise DataError(f"FGVC-Aircraft class list '{path}' is empty; it should list one class name per line.")
    repeated = duplicates(classes)
    if repeated:
        lines = [i for i, name in enumerate(classes, 1) if name == repeated[0]]
        raise DataError(
            f"FGVC-Aircraft class list '{path}' names class '{repeated[0]}' {len(lines)} times (class lines "
            f"{', '.join(map(str, lines))})"
            + (f", and {len(repeated) - 1} more class(es) twice" if len(repeated) > 1 else "")
            + ". Each class must be listed once: remove the repeated lines."
        )
    return classes


def read_fgvc_split(root: Path, split: str, level: str) -> FgvcSplit:
    """Read the class list and the label file of ``split`` at ``level``; every label must be a class."""
    folder = fgvc_data_dir(root)
    class_file, prefix, noun = FGVC_LEVELS[level]
    classes = read_class_list(folder / class_file)
    known = set(classes)
    label_file = folder / f"{prefix}_{split}.txt"
    if not label_file.is_file():
        raise DataError(
            f"FGVC-Aircraft label file '{label_file}' is missing; split '{split}' at level '{level}' needs "
            f"it, with lines '<image id> <{noun}>'. Expected {FGVC_LAYOUT}."
        )
    entries = []
    for line_no, line in enumerate(read_config_text(label_file, "FGVC-Aircraft label file", DataError).splitlines(), 1):
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
                f"'{folder / class_file}'{did_you_mean(label, classes)}. Fix the label or the class list."
            )
        entries.append((image_id, label))
    return FgvcSplit(folder, classes, entries, noun)


def _check_options(level, crop_copyright, max_image_side, on_bad_image) -> None:
    check_option("fgvc_aircraft", "level", level, tuple(FGVC_LEVELS))
    check_option("fgvc_aircraft", "crop_copyright", crop_copyright, (True, False))
    check_option("fgvc_aircraft", "on_bad_image", on_bad_image, ON_BAD_IMAGE)
    check_max_side("fgvc_aircraft", max_image_side)


def check_fgvc_files(split, root, limit, seed, *, level, crop_copyright, max_image_side, on_bad_image) -> None:
    """The file check of ``fgvc_aircraft``: options, class list, label file, a non-empty split, the
    image folder and the images the run reads exist."""
    _check_options(level, crop_copyright, max_image_side, on_bad_image)
    annotations = read_fgvc_split(root, split, level)
    if not annotations.entries:
        raise empty_split_error("fgvc_aircraft", split, root)
    images = annotations.folder / "images"
    if not images.is_dir():
        raise DataError(f"FGVC-Aircraft image folder '{images}' is missing. Expected {FGVC_LAYOUT}.")
    chosen = [annotations.entries[i] for i in choose_rows(len(annotations.entries), limit, seed)]
    check_images_exist("fgvc_aircraft", [annotations.image_path(i) for i, _ in chosen], on_bad_image)


@register_benchmark("fgvc_aircraft", splits=FGVC_SPLITS, needs_root=True, check=check_fgvc_files, layout=FGVC_LAYOUT)
def load_fgvc_aircraft(
    split, root, limit, seed, *, level="variant", crop_copyright=True, max_image_side=None, on_bad_image="error"
) -> LoadedSplit:
    """FGVC-Aircraft (fgvc-aircraft-2013b): classify the variant, family or manufacturer.

    Options: ``level`` ("variant", "family", "manufacturer"), ``crop_copyright`` (cut the 20-pixel
    copyright strip at the bottom), ``max_image_side`` (downscale the longer side), ``on_bad_image``
    ("error" or "skip").
    """
    _check_options(level, crop_copyright, max_image_side, on_bad_image)
    annotations = read_fgvc_split(root, split, level)
    entries = annotations.entries
    chosen = [entries[i] for i in choose_rows(len(entries), limit, seed)]
    crop = FGVC_COPYRIGHT_PIXELS if crop_copyright else 0
    sources = [(str(p), p) for p in (annotations.image_path(image_id) for image_id, _ in chosen)]
    images = load_images("fgvc_aircraft", sources, on_bad_image, crop, max_image_side)
    question = f"Which aircraft {annotations.noun} is shown in this image?"
    rows = [
        real_row(f"fgvc_aircraft-{split}-{image_id}", [img], question, label, [], "classification")
        for (image_id, label), img in zip(chosen, images)
        if img is not None
    ]
    return LoadedSplit(rows, task="classification", classes=annotations.classes)

"""``sat``: SAT (array/SAT), spatial multiple-choice questions over one or two images.

:func:`open_sat_file` opens a split's parquet file and validates its schema; :func:`sat_choices`
validates a row's answers and finds its solution. The loader reads the text columns of every row,
then the images of the chosen rows only; the file check validates the answers of the first
:data:`SAT_HEAD_ROWS` rows and reads no image.

``pyarrow`` is imported inside the functions that read parquet: commands that never read SAT do
not import it.
"""

from __future__ import annotations

import ast
import json
import re
import warnings
from pathlib import Path

import numpy as np

from ..answers import normalize_answer
from ..errors import DataError
from ..values import short_repr
from .common import (
    ON_BAD_IMAGE,
    check_max_side,
    check_option,
    choose_rows,
    empty_split_error,
    load_images,
    real_row,
)
from .registry import LoadedSplit, register_benchmark

SAT_SPLITS = ("train", "static", "val", "test")
SAT_FIELDS = ("image_bytes", "question", "answers", "correct_answer")
SAT_TEXT_BATCH_ROWS = 8192  # rows per batch while reading the text columns
SAT_IMAGE_BATCH_ROWS = 32  # rows per batch while reading images: bounds memory on the 5 GiB train file
SAT_HEAD_ROWS = 256  # rows of a SAT file whose answers the file check validates up front
ON_COLLIDING_CHOICES = ("error", "skip")  # the values of the on_colliding_choices option
SAT_LAYOUT = (
    "the array/SAT dataset repository: ROOT/SAT_<split>.parquet for split in train, static, val, test, "
    "with fields image_bytes, question, answers, question_type, correct_answer"
)


def open_sat_file(root: Path, split: str):
    """``(parquet file, path)`` of ``ROOT/SAT_<split>.parquet``, its schema checked (only the footer is
    read). The reads are buffered page by page, with no pre-buffering of the (huge) row group."""
    import pyarrow.parquet as pq  # here, not at the top: see the module docstring

    if not root.is_dir():
        raise DataError(f"SAT root '{root}' is not a folder. Expected {SAT_LAYOUT}.")
    path = root / f"SAT_{split}.parquet"
    if not path.is_file():
        found = sorted(p.name for p in root.glob("SAT_*.parquet"))
        raise DataError(
            f"SAT file '{path}' is missing (found: {', '.join(found) or 'no SAT_*.parquet files'}). "
            f"Expected {SAT_LAYOUT}; download the array/SAT repository into ROOT."
        )
    try:
        parquet = pq.ParquetFile(path, buffer_size=1 << 23, pre_buffer=False)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for a bad file
        raise DataError(f"SAT file '{path}' cannot be read as parquet ({exc}). Re-download it.") from None
    names = parquet.schema_arrow.names
    missing = [f for f in SAT_FIELDS if f not in names]
    if missing:
        raise DataError(
            f"SAT file '{path}' lacks the field(s) {', '.join(missing)}; found: {', '.join(names)}. "
            f"Expected {SAT_LAYOUT}."
        )
    return parquet, path


def sat_answers(value, row: int, path: Path) -> list[str]:
    """The choice strings of a row: a list, or (in some exports) its JSON / Python text form.

    >>> sat_answers('["left", "right"]', 0, Path("SAT_val.parquet"))
    ['left', 'right']
    """
    raw = value
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):  # RecursionError: lists nested thousands deep
            try:
                value = ast.literal_eval(value)
            except (ValueError, SyntaxError, RecursionError, MemoryError):
                value = None
    # each choice one string (or number); a list inside the list is no choice, however deep it nests
    if (
        not isinstance(value, (list, tuple))
        or not value
        or not all(isinstance(a, (str, int, float)) and not isinstance(a, bool) for a in value)
    ):
        raise DataError(
            f"Row {row} of '{path}' has answers {short_repr(raw)}; expected a non-empty list of choice strings."
        )
    return [str(a) for a in value]


def sat_choices(answers, correct, row: int, path: Path) -> tuple[list[str], str]:
    """``(choices, solution)`` of a row: its answers, and the one that ``correct`` names (spaces aside).

    >>> sat_choices(["left ", "right"], "left", 3, Path("SAT_val.parquet"))
    (['left ', 'right'], 'left ')
    """
    choices = sat_answers(answers, row, path)
    stripped = [a.strip() for a in choices]
    if correct is None or str(correct).strip() not in stripped:
        raise DataError(
            f"Row {row} of '{path}' has correct_answer {correct!r}, which is not among its answers {choices}. "
            "Fix the row, or choose other rows with limit/seed."
        )
    return choices, choices[stripped.index(str(correct).strip())]


def colliding_choices(choices: list[str]) -> list[str]:
    """The choices of a row that equal another one after :func:`~vrft_lib.answers.normalize_answer`
    (the reward could not tell them apart), in row order.

    >>> colliding_choices(["left", "right", "Left."]), colliding_choices(["left", "right"])
    (['left', 'Left.'], [])
    """
    groups: dict[str, list[str]] = {}
    for choice in choices:
        groups.setdefault(normalize_answer(choice), []).append(choice)
    return [c for c in choices if len(groups[normalize_answer(c)]) > 1]


def colliding_choices_error(choices: list[str], row: int, path: Path) -> DataError:
    """The error for a row whose choices collide after normalisation."""
    return DataError(
        f"Row {row} of '{path}' has choices that are the same answer after normalisation: "
        f"{colliding_choices(choices)!r} (answers {choices!r}); an answer could not tell them apart. "
        "Fix the row, or set the data option on_colliding_choices: skip to leave such rows out with a count."
    )


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


def _check_options(shuffle_choices, max_image_side, on_bad_image, on_colliding_choices) -> None:
    check_option("sat", "shuffle_choices", shuffle_choices, (True, False))
    check_option("sat", "on_bad_image", on_bad_image, ON_BAD_IMAGE)
    check_option("sat", "on_colliding_choices", on_colliding_choices, ON_COLLIDING_CHOICES)
    check_max_side("sat", max_image_side)


def check_sat_files(
    split, root, limit, seed, *, shuffle_choices, max_image_side, on_bad_image, on_colliding_choices
) -> None:
    """The file check of ``sat``: options, the file and its schema, a non-empty split, and the answers
    of the first :data:`SAT_HEAD_ROWS` rows (no image is read; colliding choices are an error there
    with ``on_colliding_choices="error"``)."""
    _check_options(shuffle_choices, max_image_side, on_bad_image, on_colliding_choices)
    parquet, path = open_sat_file(root, split)
    if parquet.metadata.num_rows == 0:
        raise empty_split_error("sat", split, root)
    batch = next(parquet.iter_batches(batch_size=SAT_HEAD_ROWS, columns=["answers", "correct_answer"]), None)
    if batch is None:
        return
    for i, (answers, correct) in enumerate(zip(batch.column(0).to_pylist(), batch.column(1).to_pylist())):
        choices, _ = sat_choices(answers, correct, i, path)
        if on_colliding_choices == "error" and colliding_choices(choices):
            raise colliding_choices_error(choices, i, path)


@register_benchmark("sat", splits=SAT_SPLITS, needs_root=True, check=check_sat_files, layout=SAT_LAYOUT)
def load_sat(
    split,
    root,
    limit,
    seed,
    *,
    shuffle_choices=True,
    max_image_side=None,
    on_bad_image="error",
    on_colliding_choices="error",
) -> LoadedSplit:
    """SAT (array/SAT): spatial multiple-choice questions over one or two images.

    Reads ``SAT_<split>.parquet`` with ``pyarrow`` in batches: first the text columns (to choose rows
    by ``limit`` and ``seed``), then the images of the chosen rows only, so memory stays bounded even
    for the 5 GiB single-row-group train file. Options: ``shuffle_choices`` (permute each row's
    choices, seeded by ``seed`` and the row, as the dataset card asks), ``max_image_side``,
    ``on_bad_image`` ("error" or "skip"), ``on_colliding_choices`` ("error": stop on a row whose
    choices are the same after normalisation, naming it; "skip": leave such rows out with a warning
    and a count).
    """
    _check_options(shuffle_choices, max_image_side, on_bad_image, on_colliding_choices)
    parquet, path = open_sat_file(root, split)
    names = parquet.schema_arrow.names

    # Pass 1: the text columns of every row (small), to choose rows.
    text_columns = ["question", "answers", "correct_answer"] + (["question_type"] if "question_type" in names else [])
    text = {c: [] for c in text_columns}
    for batch in parquet.iter_batches(batch_size=SAT_TEXT_BATCH_ROWS, columns=text_columns):
        for c in text_columns:
            text[c].extend(batch.column(c).to_pylist())
    chosen = choose_rows(len(text["question"]), limit, seed)

    rows_meta, colliding = {}, []
    for i in chosen:
        answers, solution = sat_choices(text["answers"][i], text["correct_answer"][i], i, path)
        if colliding_choices(answers):
            if on_colliding_choices == "error":
                raise colliding_choices_error(answers, i, path)
            colliding.append(i)
            continue
        if shuffle_choices:
            answers = [answers[k] for k in np.random.default_rng([seed, i]).permutation(len(answers))]
        qtype = text["question_type"][i] if "question_type" in text else None
        suffix = "-" + re.sub(r"[^A-Za-z0-9_]+", "_", str(qtype)) if qtype else ""
        rows_meta[i] = (f"sat-{split}-{i:06d}{suffix}", str(text["question"][i] or "").strip(), solution, answers)

    if colliding:
        warnings.warn(
            f"sat: skipped {len(colliding)} row(s) of '{path}' whose choices are the same after normalisation; "
            f"first: row {colliding[0]} {colliding_choices(sat_answers(text['answers'][colliding[0]], 0, path))!r}",
            stacklevel=3,  # load_sat <- load_benchmark <- the caller
        )
        chosen = [i for i in chosen if i in rows_meta]

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
    images = load_images("sat", items, on_bad_image, 0, max_image_side)
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
        rows.append(real_row(row_id, per_row[i], question, solution, answers, "multiple_choice"))
    return LoadedSplit(rows, task="multiple_choice", classes=None)

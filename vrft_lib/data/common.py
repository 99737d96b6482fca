"""Helpers shared by the loaders of real data and their file checks.

Choosing rows (:func:`choose_rows`), checking option values (:func:`check_option`,
:func:`check_max_side`, :func:`is_int_in`), finding the root (:func:`require_root`), reading images
in parallel (:func:`load_images`), checking that image files exist without reading them
(:func:`check_images_exist`) and building a row of the shared schema (:func:`real_row`).
"""

from __future__ import annotations

import io
import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import DataError
from ..files import NotRegularFile, read_bytes, regular_file_problem
from ..values import env_int

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp")
ON_BAD_IMAGE = ("error", "skip")  # the values of the loaders' on_bad_image option
IMAGE_WORKERS = min(8, os.cpu_count() or 1)
# The most pixels an image may have; its header is read before it is decoded, so a huge file is refused
# without the memory its decoding takes (12000 x 12000 RGB: 430 MB, more while it is converted).
MAX_IMAGE_PIXELS = 50_000_000
MAX_IMAGE_PIXELS_ENV = "VRFT_MAX_IMAGE_PIXELS"  # raises (or lowers) the bound


def max_image_pixels() -> int:
    """The most pixels an image may have: ``$VRFT_MAX_IMAGE_PIXELS``, else :data:`MAX_IMAGE_PIXELS`; a
    value that is not a whole number is refused naming the variable.

    >>> max_image_pixels() == MAX_IMAGE_PIXELS or "VRFT_MAX_IMAGE_PIXELS" in os.environ
    True
    """
    return env_int(MAX_IMAGE_PIXELS_ENV, MAX_IMAGE_PIXELS, "pixels")


class ImageTooLarge(ValueError):
    """An image holds more pixels than :func:`max_image_pixels`."""


def printable(path) -> str:
    """``path`` as text that can be printed: bytes of a file name that are not UTF-8 as ``\\xNN``.

    >>> printable(os.fsdecode(b"/d/caf\\xe9.jpg"))
    '/d/caf\\\\xe9.jpg'
    """
    try:
        return os.fsencode(str(path)).decode("utf-8", "backslashreplace")
    except UnicodeError:
        return ascii(str(path))[1:-1]


def duplicates(names) -> list[str]:
    """The names given more than once, in the order they repeat.

    >>> duplicates(["A320", "737", "A320", "737", "A320"])
    ['A320', '737']
    """
    seen, repeated = set(), []
    for name in names:
        if name in seen and name not in repeated:
            repeated.append(name)
        seen.add(name)
    return repeated


def check_file_name(benchmark: str, path) -> None:
    """Refuse a file name that is not valid UTF-8 (it cannot be stored in a dataset or printed)."""
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        raise DataError(
            f"The name of file '{printable(path)}' of benchmark '{benchmark}' is not valid UTF-8 (the bytes "
            "shown as \\xNN). Rename it with a UTF-8 name (e.g. `convmv -f latin1 -t utf8 --notest FILE`), or "
            "remove it."
        ) from None


def is_int_in(value, low: int, high: int | None) -> bool:
    """``value`` is an int (not a bool) in ``[low, high]`` (``high=None``: no upper bound).

    >>> is_int_in(3, 1, None), is_int_in(True, 0, 1), is_int_in(5, 1, 4)
    (True, False, False)
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        return False
    return low <= value and (high is None or value <= high)


def choose_rows(n: int, limit: int | None, seed: int) -> list[int]:
    """Indices of a seeded subset of ``range(n)`` in increasing order; nested in ``limit``.

    >>> set(choose_rows(10, 3, seed=0)) <= set(choose_rows(10, 4, seed=0))
    True
    >>> choose_rows(3, None, seed=5), choose_rows(3, 10, seed=5)
    ([0, 1, 2], [0, 1, 2])
    """
    if limit is None or limit >= n:
        return list(range(n))
    return sorted(int(i) for i in np.random.default_rng(seed).permutation(n)[:limit])


def check_option(benchmark: str, option: str, value, allowed) -> None:
    """Raise a :class:`DataError` unless ``value`` is one of ``allowed``."""
    if value not in allowed:
        raise DataError(
            f"Option {option}={value!r} of benchmark '{benchmark}' is invalid; "
            f"valid values: {', '.join(repr(a) for a in allowed)}."
        )


def check_max_side(benchmark: str, value) -> None:
    """Check the ``max_image_side`` option: None, or an integer of at least 28."""
    if value is not None and not is_int_in(value, 28, None):
        raise DataError(
            f"Option max_image_side={value!r} of benchmark '{benchmark}' is invalid; "
            "give None (keep the size) or an integer of at least 28 (pixels of the longer side)."
        )


def require_root(name: str, root, layout: str = "") -> Path:
    """``root`` as a path that exists; else a :class:`DataError` quoting the expected ``layout``."""
    expected = f" Expected {layout}." if layout else ""
    if root is None or str(root) == "":
        raise DataError(f"Benchmark '{name}' needs root=: the path of its data.{expected}")
    path = Path(os.path.expanduser(str(root)))
    if not path.exists():
        raise DataError(f"Root '{path}' for benchmark '{name}' does not exist.{expected}")
    return path


def empty_split_error(name: str, split: str, root) -> DataError:
    """The error of a file check that finds no row in the split."""
    return DataError(
        f"Split '{split}' of benchmark '{name}' is empty (root: {root}). Check that the split holds "
        "images and annotations, or choose another split."
    )


def check_images_exist(name: str, paths: list, on_bad_image: str = "error") -> None:
    """With ``on_bad_image="error"``, check that every file of ``paths`` exists (none is read)."""
    for p in paths:
        check_file_name(name, p)
    if on_bad_image != "error":
        return
    missing = [p for p in paths if not Path(p).is_file()]
    if missing:
        more = f" (and {len(missing) - 1} more of the {len(paths)} images the run reads)" if len(missing) > 1 else ""
        problem = regular_file_problem(missing[0])
        problem = "does not exist" if problem in (None, "is missing") else problem
        raise DataError(
            f"Image '{printable(missing[0])}' of benchmark '{name}' {problem}{more}. Restore the file(s), or "
            "set the benchmark's data option on_bad_image: skip to leave such rows out with a count."
        )


def _process_image(data: bytes, crop_bottom: int = 0, max_side: int | None = None, max_pixels: int = MAX_IMAGE_PIXELS):
    """Decode (which validates) and, when asked, crop the bottom rows and/or downscale; re-encode."""
    try:
        opened = Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:  # PIL's own bound, from the header
        raise ImageTooLarge(f"above PIL's decompression-bomb bound ({exc})") from None
    with opened as img:
        width, height = img.size  # from the header: nothing is decoded yet
        if width * height > max_pixels:
            raise ImageTooLarge(
                f"{width} x {height} = {width * height / 1e6:.1f} million pixels, above the kit's bound of "
                f"{max_pixels / 1e6:g} million pixels"
            )
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


def load_images(benchmark: str, items, on_bad_image: str, crop_bottom: int = 0, max_side: int | None = None):
    """Read and check images in parallel.

    ``items``: (where, source) pairs: ``where`` names the image in messages, ``source`` is a path or
    encoded bytes. Returns a list of bytes, with None for bad images when ``on_bad_image == "skip"``.
    """
    max_pixels = max_image_pixels()  # here, not in the workers: a bad VRFT_MAX_IMAGE_PIXELS is one error

    def one(item):
        where, source = item
        try:
            data = read_bytes(source) if isinstance(source, (str, Path)) else bytes(source)
            return _process_image(data, crop_bottom, max_side, max_pixels), None
        except FileNotFoundError:
            return None, f"{printable(where)}: file not found"
        except NotRegularFile as exc:  # a FIFO would block the reader for ever: never opened for reading
            return None, f"{printable(where)}: is {exc.strerror}, not a regular file"
        except ImageTooLarge as exc:
            return None, (
                f"{printable(where)}: the image is {exc}. Downscale the file, or raise the bound with the "
                "environment variable VRFT_MAX_IMAGE_PIXELS"
            )
        except Exception as exc:  # noqa: BLE001 - PIL raises many types for corrupt files
            return None, f"{printable(where)}: cannot be read as an image ({type(exc).__name__}: {exc})"

    with ThreadPoolExecutor(IMAGE_WORKERS) as pool:
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
            stacklevel=4,  # load_images <- loader <- load_benchmark <- the caller
        )
    return [data for data, _ in results]


def real_row(row_id, images, question, solution, choices, task) -> dict:
    """A row of the shared schema (see :data:`vrft_lib.data.FEATURES`); real data have no rationale."""
    return {
        "id": row_id,
        "images": images,
        "question": question,
        "solution": solution,
        "choices": choices,
        "task": task,
        "rationale": "",
    }

"""Benchmarks: one registry of loaders, each returning a ``datasets.Dataset`` with one shared schema.

Every benchmark, real or synthetic, yields rows with exactly the columns of :data:`FEATURES`:

* ``id`` (str): stable and unique, e.g. ``fgvc_aircraft-test-1025794``;
* ``images``: a list of images (one, or two for some SAT rows);
* ``question`` (str): the question alone, without format instructions or lettered choices (the
  prompts module adds those);
* ``solution`` (str): the canonical answer; for multiple choice the text of the right choice;
* ``choices`` (list of str): the choice texts, empty unless ``task == "multiple_choice"``;
* ``task``: ``"binary"``, ``"classification"`` or ``"multiple_choice"``;
* ``rationale`` (str): a short correct explanation (synthetic rows), empty for real data;
* ``answer_with`` (str): ``"letter"`` (the prompt asks for the option's letter; every real benchmark)
  or ``"text"`` (the option's text: a synthetic stand-in's option); see
  :data:`vrft_lib.prompts.ANSWER_WITH`.

Because the features are identical, splits of different benchmarks can be concatenated.
:func:`load_benchmark` records what it loaded (benchmark, split, task, class list, resolved options,
root, limit, seed) as JSON in ``ds.info.description``; :func:`benchmark_info` reads it back.
:func:`check_benchmark_files` checks, without decoding any image, that a load would find its files.

The package: :mod:`.registry` (the registry, :func:`load_benchmark`, :func:`check_benchmark_files`),
:mod:`.common` (helpers shared by the loaders), one module per real benchmark holding its loader and
its file check (:mod:`.banner`, :mod:`.fgvc`, :mod:`.sat`), :mod:`.synthetic` (the procedural
generators) and :mod:`.synthetic_loaders`.

A new benchmark is one loader function plus one registry line, with its file check beside it::

    def check_my_bench(split, root, limit, seed, *, my_option):
        ...  # what the loader would stop on, reading no image: raise DataError

    @register_benchmark("my_bench", splits=("train", "test"), needs_root=True, check=check_my_bench)
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
{'image_size': 56, 'num_samples': None, 'answer_with': 'letter'}
"""

from __future__ import annotations

from . import synthetic
from .banner import (
    BANNER_LABELS,
    BANNER_LAYOUT,
    banner_records,
    check_banner_files,
    load_banner,
)
from .common import (
    IMAGE_EXTENSIONS,
    ON_BAD_IMAGE,
    check_images_exist,
    check_max_side,
    check_option,
    choose_rows,
    empty_split_error,
    is_int_in,
    load_images,
    real_row,
    require_root,
)
from .fgvc import (
    FGVC_COPYRIGHT_PIXELS,
    FGVC_LAYOUT,
    FGVC_LEVELS,
    FGVC_SPLITS,
    check_fgvc_files,
    load_fgvc_aircraft,
    read_fgvc_split,
)
from .registry import (
    BENCHMARKS,
    COLUMNS,
    FEATURES,
    TASKS,
    LoadedSplit,
    benchmark_info,
    benchmark_options,
    check_benchmark_files,
    list_benchmarks,
    load_benchmark,
    register_benchmark,
)
from .sat import (
    SAT_FIELDS,
    SAT_LAYOUT,
    SAT_SPLITS,
    check_sat_files,
    load_sat,
    open_sat_file,
    sat_choices,
)
from .synthetic import BANNER_QUESTION
from .synthetic_loaders import (
    SYNTHETIC_SPLITS,
    load_synthetic_aircraft,
    load_synthetic_banner,
    load_synthetic_spatial,
)

__all__ = [
    "BANNER_LABELS",
    "BANNER_LAYOUT",
    "BANNER_QUESTION",
    "BENCHMARKS",
    "COLUMNS",
    "FEATURES",
    "FGVC_COPYRIGHT_PIXELS",
    "FGVC_LAYOUT",
    "FGVC_LEVELS",
    "FGVC_SPLITS",
    "IMAGE_EXTENSIONS",
    "ON_BAD_IMAGE",
    "SAT_FIELDS",
    "SAT_LAYOUT",
    "SAT_SPLITS",
    "SYNTHETIC_SPLITS",
    "TASKS",
    "LoadedSplit",
    "banner_records",
    "benchmark_info",
    "benchmark_options",
    "check_banner_files",
    "check_benchmark_files",
    "check_fgvc_files",
    "check_images_exist",
    "check_max_side",
    "check_option",
    "check_sat_files",
    "choose_rows",
    "empty_split_error",
    "is_int_in",
    "list_benchmarks",
    "load_banner",
    "load_benchmark",
    "load_fgvc_aircraft",
    "load_images",
    "load_sat",
    "load_synthetic_aircraft",
    "load_synthetic_banner",
    "load_synthetic_spatial",
    "open_sat_file",
    "read_fgvc_split",
    "real_row",
    "register_benchmark",
    "require_root",
    "sat_choices",
    "synthetic",
]

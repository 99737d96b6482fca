"""Where a run's model name becomes a loadable path: ``tiny`` is the cached tiny instruct base (built
on first use), anything else is checked by :func:`vrft_lib.models.locate_model`; and the check of the
cache folder the tiny base is built into (``$VRFT_CACHE``)."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from ..errors import ConfigError
from ..files import shown_path
from ..models import locate_model
from ..runfolder import is_done
from ..vocab import is_tiny_name, tiny_build_seed
from .base import RECIPE, cache_root, ensure_tiny_base, recipe_key

CACHE_ENV = "VRFT_CACHE"


def check_cache_root() -> Path:
    """The kit's cache folder (``$VRFT_CACHE``, default ``~/.cache/vrft``), refused before anything is
    built into it when it cannot be a folder: a part of it is a file, or a name in it is too long.

    >>> check_cache_root() == cache_root()
    True
    """
    root = cache_root()
    named = (
        f"{CACHE_ENV} is '{shown_path(root)}'"
        if os.environ.get(CACHE_ENV)
        else (f"The kit's cache folder '{shown_path(root)}' ({CACHE_ENV} unset)")
    )
    fix = f"Point {CACHE_ENV} at a folder (export {CACHE_ENV}=/path/to/folder), or unset it for ~/.cache/vrft."
    for part in (root, *root.parents):  # the nearest part that exists must be a folder
        try:
            mode = os.stat(part).st_mode
        except (FileNotFoundError, NotADirectoryError):
            continue
        except OSError as e:
            if e.errno != errno.ENAMETOOLONG:
                raise
            raise ConfigError(f"{named}: a name in it is longer than the file system allows. {fix}") from None
        if not stat.S_ISDIR(mode):
            raise ConfigError(f"{named}, but '{shown_path(part)}' is a file, not a folder. {fix}")
        return root
    return root


def tiny_recipe(name: str) -> dict | None:
    """The recipe a tiny model name builds: ``None`` (the default) for ``tiny``, the default recipe with
    seed ``k`` for ``tiny:k``.

    >>> tiny_recipe("tiny") is None, tiny_recipe("tiny:0")["seed"]
    (True, 0)
    """
    seed = tiny_build_seed(name)
    return None if seed is None else {**RECIPE, "seed": seed}


def ensure_tiny_build(name: str) -> str:
    """Path of the build of the tiny base that ``name`` (``tiny`` or ``tiny:<k>``) asks for, built on
    first use into the cache (the default recipe built with another seed is cached under a key of its own)."""
    recipe = tiny_recipe(name)
    check_cache_root()
    return ensure_tiny_base(recipe)


def tiny_build_state(name: str) -> dict:
    """Where the build ``name`` (``tiny`` or ``tiny:<k>``) is cached and whether it is built yet; builds
    nothing and loads no model (a dry run's question)."""
    folder = cache_root() / f"tiny-instruct-{recipe_key(tiny_recipe(name))}"
    return {"name": name, "path": str(folder / "model"), "cached": is_done(folder)}


def resolve_model_path(name_or_path: str) -> str:
    """A loadable local path or hub id for a run's model: ``tiny`` means the cached tiny instruct base,
    ``tiny:<k>`` its recipe built with seed ``k``."""
    if is_tiny_name(name_or_path):
        return ensure_tiny_build(name_or_path)
    return locate_model(name_or_path)

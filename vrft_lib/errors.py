"""User-facing errors.

Every error the kit raises for bad input is a :class:`VrftError`: its message is one paragraph that
names the bad thing (file, field, path), says what was wrong and how to fix it. The command line
prints the message alone (no traceback) unless ``--debug`` is given.
"""

from __future__ import annotations

import difflib
import sys


class VrftError(Exception):
    """Base class of the errors a user can fix."""


class ConfigError(VrftError, ValueError):
    """A study, run or evaluation config is invalid."""


class DataError(VrftError, ValueError):
    """A dataset root, annotation file or image is missing or malformed."""


class ModelError(VrftError, RuntimeError):
    """A model cannot be found or loaded."""


def did_you_mean(name: str, options) -> str:
    """Return `` (did you mean 'x'?)`` for the closest option, or an empty string.

    >>> did_you_mean("fgvc_aircaft", ["fgvc_aircraft", "sat"])
    " (did you mean 'fgvc_aircraft'?)"
    >>> did_you_mean("zzz", ["sat"])
    ''
    """
    close = difflib.get_close_matches(str(name), [str(o) for o in options], n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def exit_code(command, debug: bool = False) -> int:
    """Run ``command()`` as a command-line program does: its return value (None: 0) is the exit code;
    a :class:`VrftError` prints its message alone and gives 2 (with ``debug``: raises, to show the
    traceback); Ctrl-C gives 130. Every entry point of the kit (``vrft``, ``python -m vrft_lib.train``,
    ``python -m vrft_lib.evaluate``) goes through here.

    >>> exit_code(lambda: None), exit_code(lambda: 3)
    (0, 3)
    >>> def bad():
    ...     raise ConfigError("run config: unknown key 'x'.")
    >>> import contextlib, io
    >>> with contextlib.redirect_stderr(io.StringIO()) as err:
    ...     code = exit_code(bad)
    >>> code, err.getvalue().strip()
    (2, "error: run config: unknown key 'x'.")
    """
    try:
        return int(command() or 0)
    except VrftError as e:
        if debug:
            raise
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130

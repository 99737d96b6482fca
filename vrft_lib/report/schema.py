"""What each file of a study folder must hold for the report to use it: one check per file, each
returning why a value cannot be used, or None (:func:`study_problem` for study.yaml,
:func:`metrics_problem`, :func:`predictions_problem`, :func:`steps_problem` and
:func:`record_problem` with the field tables below for a run's files). :mod:`.collect` applies them as
it reads: a study.yaml that fails its check is an error, a run file that fails its check makes the run
``unreadable``. The kit writes NaN for a rate it could not measure, so optional rates may be NaN; no
number is ever text, true/false or infinite.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd

from ..errors import VrftError
from ..runfolder import check_folder_name


def shown(value, width: int = 40) -> str:
    """A value as a problem quotes it: its repr, cut to ``width`` characters, and its JSON kind.

    >>> shown("two hundred"), shown([1, 2]), shown(None)
    ("'two hundred' (text)", '[1, 2] (a list)', 'null')
    """
    if value is None:
        return "null"
    kind = {str: "text", bool: "true/false", list: "a list", dict: "an object"}.get(type(value), "a number")
    text = repr(value)
    return f"{text[: width - 4]}...{text[-1]} ({kind})" if len(text) > width else f"{text} ({kind})"


def number(low=None, high=None, whole: bool = False, nan: bool = False):
    """A check for a number (not true/false, not text) in ``[low, high]``; ``whole``: an integer value;
    ``nan``: NaN allowed (what the evaluation writes for a rate it could not measure), inf never.

    >>> count = number(low=1, whole=True)
    >>> count(200), count("two hundred"), count(float("inf")), count(2.5)
    (None, "is 'two hundred' (text), not a number", 'is inf, not a finite number', 'is 2.5, not a whole number')
    """

    def check(value) -> str | None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"is {shown(value)}, not a number"
        if math.isnan(value):
            return None if nan else "is NaN, not a number"
        if math.isinf(value):
            return f"is {value}, not a finite number"
        if whole and value != int(value):
            return f"is {value}, not a whole number"
        if (low is not None and value < low) or (high is not None and value > high):
            return f"is {value}, outside [{'' if low is None else low}, {'' if high is None else high}]"
        return None

    return check


def of_type(*types, what: str):
    """A check for a value of one of ``types`` (true/false is not a number here)."""

    def check(value) -> str | None:
        if isinstance(value, bool) and bool not in types:
            return f"is {shown(value)}, not {what}"
        return None if isinstance(value, types) else f"is {shown(value)}, not {what}"

    return check


TEXT = of_type(str, what="text")
FLAG = of_type(bool, what="true or false")
OBJECT = of_type(dict, what="an object")
LIST = of_type(list, what="a list")
SCALAR = of_type(str, int, float, what="text or a number")
RATE = number(0, 1)
RATE_OR_NAN = number(0, 1, nan=True)
SECONDS = number(low=0)
COUNT = number(low=0, whole=True)


def interval(value) -> str | None:
    """A check for a 95% interval: two rates (NaN allowed: not measured)."""
    if not isinstance(value, list) or len(value) != 2 or any(RATE_OR_NAN(v) for v in value):
        return f"is {shown(value)}, not two numbers in [0, 1]"
    return None


def phrase(where: str, why: str) -> str:
    """A problem said of a place: ``where is ...`` / ``where has ...``, else ``where: ...``.

    >>> phrase("eval/metrics.json", "is missing"), phrase("eval/metrics.json", "mode 'think' has no accuracy")
    ('eval/metrics.json is missing', "eval/metrics.json: mode 'think' has no accuracy")
    """
    return f"{where} {why}" if why.startswith(("is ", "has ", "cannot ")) else f"{where}: {why}"


def record_problem(record, fields: dict, required=()) -> str | None:
    """Why a JSON record cannot be used: not an object, a ``required`` field missing (or null), or a
    field of ``fields`` (name: check) that fails its check; a missing or null optional field is fine."""
    if not isinstance(record, dict):
        return f"is {shown(record)}, not an object"
    for name in required:
        if record.get(name) is None:
            return f"has no {name}"
    for name, check in fields.items():
        if record.get(name) is not None and (why := check(record[name])):
            return f"{name} {why}"
    return None


DONE_FIELDS = {"wall_seconds": SECONDS, "finished": TEXT, "variant": OBJECT}
TRAIN_DONE_FIELDS = {"train_seconds": SECONDS, "steps": COUNT, "mean_step_seconds": SECONDS}
PROVENANCE_FIELDS = {"packages": OBJECT, "git_commit": TEXT, "python": TEXT, "hardware": OBJECT, "num_processes": COUNT}
PACKAGE_VERSION = of_type(str, int, float, what="a version")
METRICS_FIELDS = {"task": TEXT, "seconds": SECONDS, "samples_per_second": SECONDS}
MODE_FIELDS = {
    "accuracy": RATE,
    "n": number(low=1, whole=True),
    "accuracy_ci95": interval,
    "lenient_accuracy": RATE_OR_NAN,
    "format_rate": RATE_OR_NAN,
    "mean_response_tokens": number(low=0, nan=True),
    "circular_accuracy": RATE_OR_NAN,
    "mean_per_class_accuracy": RATE_OR_NAN,
    "answers": OBJECT,
}
ANSWERS_FIELDS = {"top": SCALAR, "top_share": RATE_OR_NAN, "collapsed": FLAG}
PREDICTION_FIELDS = {
    "id": SCALAR,
    "mode": TEXT,
    "correct": FLAG,
    "rotation": COUNT,
    "question": TEXT,
    "choices": LIST,
    "solution": SCALAR,
    "response": TEXT,
    "answer": SCALAR,
    "response_tokens": COUNT,
}
LAST_INVOCATION_FIELDS = {"ran": LIST, "failures": LIST, "total_seconds": SECONDS}


def last_invocation_problem(data) -> str | None:
    """Why a parsed ``last_invocation.json`` cannot be used (:data:`LAST_INVOCATION_FIELDS`), or None."""
    return record_problem(data, LAST_INVOCATION_FIELDS)


def provenance_problem(data) -> str | None:
    """Why a parsed ``provenance.json`` cannot be used (:data:`PROVENANCE_FIELDS`), or None."""
    if why := record_problem(data, PROVENANCE_FIELDS):
        return why
    for name, version in (data.get("packages") or {}).items():
        if bad := PACKAGE_VERSION(version):
            return f"packages.{name} {bad}"
    return None


def metrics_problem(data) -> str | None:
    """Why a parsed ``eval/metrics.json`` cannot be used, or None: an object with the fields of
    :data:`METRICS_FIELDS` and ``modes``, one object per prompt mode with an ``accuracy`` and the
    fields of :data:`MODE_FIELDS` (its ``answers`` those of :data:`ANSWERS_FIELDS`).

    >>> metrics_problem({"modes": {"think": {"n": 10}}})
    "mode 'think' has no accuracy"
    >>> metrics_problem({"modes": {"think": {"accuracy": 0.5, "n": "ten"}}})
    "mode 'think': n is 'ten' (text), not a number"
    """
    if why := record_problem(data, {**METRICS_FIELDS, "modes": OBJECT}, required=("modes",)):
        return why
    if not data["modes"]:
        return "modes is empty: no prompt mode was evaluated"
    for mode, m in data["modes"].items():
        if why := record_problem(m, MODE_FIELDS, required=("accuracy",)):
            return phrase(f"mode {mode!r}", why)
        if why := record_problem(m.get("answers") or {}, ANSWERS_FIELDS):
            return f"mode {mode!r}: answers.{why}"
    return None


def predictions_problem(text: str) -> str | None:
    """Why the text of an ``eval/predictions.jsonl`` cannot be used, or None: one JSON object per line
    (blank lines aside) with ``id``, ``mode`` and ``correct`` and the fields of
    :data:`PREDICTION_FIELDS`, and at least one such line.

    >>> predictions_problem('{"id": "a", "mode": "think", "correct": true}\\n{"id": "b", "mo')
    'line 2 is not valid JSON (cut short?): Unterminated string starting at: line 1 column 13 (char 12)'
    """
    rows = 0
    for i, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as e:
            return f"line {i} is not valid JSON (cut short?): {e}"
        if why := record_problem(row, PREDICTION_FIELDS, required=("id", "mode", "correct")):
            return phrase(f"line {i}", why)
        rows += 1
    return None if rows else "has no predictions"


def steps_problem(df: pd.DataFrame) -> str | None:
    """Why a ``train/steps.csv`` table cannot be used, or None: every value a number (empty cells, NaN
    and inf are values: a step that did not log it, a diverged step) and ``step`` whole numbers."""
    for col in df.columns:
        values = pd.to_numeric(df[col], errors="coerce")
        bad = values.isna() & df[col].notna()
        if bad.any():
            row = int(np.argmax(bad.to_numpy()))
            return f"column {col!r}, row {row + 1}: {shown(df[col].iloc[row])} is not a number"
    if "step" in df:
        step = pd.to_numeric(df["step"], errors="coerce")
        bad = ~np.isfinite(step) | (step % 1 != 0)
        if bad.any():
            row = int(np.argmax(bad.to_numpy()))
            return f"column 'step', row {row + 1}: {shown(df['step'].iloc[row])} is not a step number"
    return None


def study_problem(study) -> str | None:
    """Why a parsed study.yaml cannot be reported on, or None: a mapping whose ``seeds`` are distinct
    whole numbers in [0, 2**32), ``variants`` (a list or a mapping) and ``benchmarks`` keys folder
    names, each benchmark a mapping (``label``, ``task_kind`` text, ``length_reward`` true/false),
    ``name`` text or a number, ``synthetic`` true/false, ``model`` text or a mapping, ``reference`` a
    mapping.

    >>> study_problem({"seeds": "0, 1"})
    "seeds is '0, 1' (text), not a list of seeds (whole numbers in [0, 2**32))"
    """
    fields = {"name": SCALAR, "description": SCALAR, "synthetic": FLAG, "reference": OBJECT}
    fields |= {"model": of_type(str, dict, what="a model name or a mapping"), "benchmarks": OBJECT}
    fields |= {"variants": of_type(list, dict, what="a list of variants or a mapping of their definitions")}
    if not isinstance(study, dict):
        return f"is {shown(study)}, not a mapping (name, seeds, benchmarks, ...)"
    if why := record_problem(study, fields):
        return why
    seeds = study.get("seeds")
    seed = number(0, 2**32 - 1, whole=True)
    if seeds is not None and (not isinstance(seeds, list) or any(seed(s) for s in seeds)):
        return f"seeds is {shown(seeds)}, not a list of seeds (whole numbers in [0, 2**32))"
    if seeds and len(set(seeds)) < len(seeds):
        return f"seeds is {shown(seeds)}: a seed is given twice"
    names = [("variants", v) for v in study.get("variants") or []]
    names += [("benchmarks", k) for k in study.get("benchmarks") or {}]
    for where, name in names:
        try:
            check_folder_name(name, where)
        except VrftError as e:
            return str(e)
    bench = {"label": SCALAR, "task_kind": TEXT, "length_reward": FLAG}
    for key, spec in (study.get("benchmarks") or {}).items():
        if spec is not None and (why := record_problem(spec, bench)):
            return phrase(f"benchmarks.{key}", why).replace("not an object", "not a mapping")
    return None

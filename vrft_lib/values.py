"""Plain values: the kit's YAML loader (JSON types only, ``1e-4`` a number) and the one type check of
every config it reads (``check_value``), with the unknown-key check (``check_keys``)."""

from __future__ import annotations

import copy
import enum
import math
import os
import re
import types
import typing
from pathlib import Path

import yaml

from .errors import ConfigError, did_you_mean

MAX_YAML_ALIASES = 100  # anchors referenced more than this: an alias bomb, not a config
# Values a document holds once every alias is expanded (each alias counts the size of what it refers
# to): a few nested aliases can stand for billions of values, which every later walk would visit.
MAX_YAML_VALUES = 100_000
# Levels of nesting (mappings in lists in mappings...), aliases expanded: a config needs a handful; a few
# hundred exhaust Python's recursion limit while the document is read or walked.
MAX_YAML_DEPTH = 50
# Digits of an integer: Python refuses to read one of more than 4300; a config's integers need 20 at most.
MAX_INT_DIGITS = 100
_NON_JSON_TAGS = ("binary", "set", "omap", "pairs", "timestamp")


class _Loader(yaml.SafeLoader):
    """``yaml.safe_load`` for the kit's files: JSON types only (no ``!!binary``, ``!!set``, ``!!omap``,
    ``!!pairs`` or ``!!timestamp``; an unquoted date stays a string), at most ``MAX_YAML_ALIASES``
    aliases, at most ``MAX_YAML_DEPTH`` levels of nesting, integers of at most ``MAX_INT_DIGITS`` digits,
    and ``1e-4`` read as a number (YAML 1.1 reads it as a string)."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            self.alias_count = getattr(self, "alias_count", 0) + 1
            if self.alias_count > MAX_YAML_ALIASES:
                raise yaml.composer.ComposerError(
                    None, None, f"more than {MAX_YAML_ALIASES} aliases (*name): refused", self.peek_event().start_mark
                )
        self.nesting = getattr(self, "nesting", 0) + 1
        try:
            if self.nesting > MAX_YAML_DEPTH:
                raise self.too_deep(self.peek_event().start_mark)
            node = super().compose_node(parent, index)
        finally:
            self.nesting -= 1
        self.expanded_size(node)
        if self.expanded_depth(node) > MAX_YAML_DEPTH:  # an alias brings the depth of what it refers to
            raise self.too_deep(node.start_mark)
        return node

    @staticmethod
    def too_deep(mark):
        return yaml.composer.ComposerError(
            None,
            None,
            f"values nested more than {MAX_YAML_DEPTH} levels deep (lists and mappings inside each other, aliases "
            "expanded): refused; a config needs a few levels",
            mark,
        )

    def expanded_depth(self, node) -> int:
        """How many levels ``node`` nests with every alias expanded (a scalar: 1)."""
        depths = self.__dict__.setdefault("depths", {})
        if id(node) not in depths:
            if isinstance(node, yaml.MappingNode):
                children = [n for pair in node.value for n in pair]
            else:
                children = node.value if isinstance(node, yaml.SequenceNode) else []
            depths[id(node)] = 1 + max((depths.get(id(c), 1) for c in children), default=0)
        return depths[id(node)]

    def construct_yaml_int(self, node):
        digits = str(node.value).replace("_", "").lstrip("+-")
        if len(digits) > MAX_INT_DIGITS:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"an integer of {len(digits):,} digits is refused (at most {MAX_INT_DIGITS}; a config's integers "
                "need 20 at most)",
                node.start_mark,
            )
        return super().construct_yaml_int(node)

    def compose_document(self):
        node = super().compose_document()
        if self.expanded_size(node) > MAX_YAML_VALUES:
            raise yaml.composer.ComposerError(
                None,
                None,
                f"the document expands to more than {MAX_YAML_VALUES:,} values once its aliases (*name) are "
                "expanded (an alias bomb): refused; write the values out, or nest fewer aliases",
                node.start_mark,
            )
        return node

    def expanded_size(self, node) -> int:
        """How many values ``node`` stands for with every alias expanded (an alias counts the size of
        the node it refers to, known already: an anchor is composed before its aliases)."""
        sizes = self.__dict__.setdefault("sizes", {})
        if id(node) in sizes:
            return sizes[id(node)]
        if isinstance(node, yaml.MappingNode):
            size = 1 + sum(sizes.get(id(k), 1) + sizes.get(id(v), 1) for k, v in node.value)
        elif isinstance(node, yaml.SequenceNode):
            size = 1 + sum(sizes.get(id(v), 1) for v in node.value)
        else:
            size = 1
        sizes[id(node)] = size
        return size


def _refuse_tag(loader, node):
    raise yaml.constructor.ConstructorError(
        None, None, f"the tag {node.tag!r} is not allowed: a config holds JSON types only", node.start_mark
    )


for _tag in _NON_JSON_TAGS:
    _Loader.add_constructor(f"tag:yaml.org,2002:{_tag}", _refuse_tag)
_Loader.add_constructor("tag:yaml.org,2002:int", _Loader.construct_yaml_int)
# unquoted dates stay strings (the implicit timestamp resolver is dropped from this loader only)
_Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |\.[0-9_]+(?:[eE][-+][0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


def check_plain(value, where: str) -> None:
    """Refuse anything that is not plain JSON data (mappings with string keys, lists, strings, numbers,
    booleans, null): what reaches a notebook's parameters is data, never code.

    >>> check_plain({"a": [1, 2.5, "x", None, True]}, "study")
    >>> check_plain({"peft": {"note": b"x"}}, "study")
    Traceback (most recent call last):
    ...
    vrft_lib.errors.ConfigError: study.peft.note: bytes is not a JSON value (a string, number, ...
    """
    if value is None or isinstance(value, (str, bool, int, float)):
        check_finite(value, where)
        return
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, (str, int, float, bool)):
                raise ConfigError(f"{where}: the key {k!r} is not a JSON key; write it as a string.")
            check_plain(v, f"{where}.{k}")
        return
    if isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            check_plain(v, f"{where}[{i}]")
        return
    raise ConfigError(
        f"{where}: {type(value).__name__} is not a JSON value (a string, number, true/false, null, list or "
        "mapping); write it as one of those."
    )


def yaml_number(value: float) -> str:
    """A float as YAML spells it: ``.inf``, ``-.inf``, ``.nan``, else Python's repr."""
    if math.isnan(value):
        return ".nan"
    return (".inf" if value > 0 else "-.inf") if math.isinf(value) else repr(value)


def check_finite(value, where: str) -> None:
    """Refuse an infinite or not-a-number float anywhere in ``value`` (mappings and lists walked), naming
    the field: no setting of the kit or of TRL means anything at ``.inf`` or ``.nan``.

    >>> check_finite({"trainer": {"learning_rate": 1e-6, "betas": [0.9, 0.99]}}, "run")
    >>> check_finite({"trainer": {"learning_rate": float("inf")}}, "run")
    Traceback (most recent call last):
    ...
    vrft_lib.errors.ConfigError: run.trainer.learning_rate: .inf is not a finite number; give a number ...
    """
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ConfigError(
                f"{where}: {yaml_number(value)} is not a finite number; give a number (e.g. 1e-6), or remove the "
                "field for its default."
            )
    elif isinstance(value, dict):
        for k, v in value.items():
            check_finite(v, f"{where}.{k}")
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            check_finite(v, f"{where}[{i}]")


def read_config_text(path, what: str, error: type[Exception] = ConfigError) -> str:
    r"""The text of a config file (``what``: "Study file", "Run config file", ...), read as UTF-8 whatever
    the locale; a file that is not UTF-8 is refused (an ``error``: a data file gives a ``DataError``) naming
    the file, the byte, its line and column.

    >>> import pathlib, tempfile
    >>> bad = pathlib.Path(tempfile.mkdtemp()) / "s.yaml"
    >>> _ = bad.write_bytes(b"name: x\ndescription: caf\xe9\n")
    >>> read_config_text(bad, "Study file")
    Traceback (most recent call last):
    ...
    vrft_lib.errors.ConfigError: Study file '...s.yaml' is not UTF-8 text: byte 0xe9 at line 2, column 17 ...
    """
    data = Path(path).read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        column = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise error(
            f"{what} '{path}' is not UTF-8 text: byte 0x{data[e.start]:02x} at line {line}, column {column} "
            f"({e.reason}). Save the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8 OLD > NEW`), or write that "
            "character as plain ASCII."
        ) from None


def env_int(name: str, default: int, what: str) -> int:
    """The environment variable ``name`` read as a whole number of at least 1 (``what`` says what it
    counts), or ``default`` when it is unset or empty; anything else is refused naming the variable.

    >>> env_int("VRFT_TEST_UNSET_VARIABLE", 5, "pixels")
    5
    >>> os.environ["VRFT_TEST_VARIABLE"] = "lots"
    >>> env_int("VRFT_TEST_VARIABLE", 5, "pixels")
    Traceback (most recent call last):
    ...
    vrft_lib.errors.ConfigError: The environment variable VRFT_TEST_VARIABLE is 'lots': expected a whole ...
    >>> del os.environ["VRFT_TEST_VARIABLE"]
    """
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text) if len(text) <= 20 else None
    except ValueError:
        value = None
    if value is None or not 1 <= value <= 10**18:
        shown = text if len(text) <= 40 else f"{text[:40]}... ({len(text)} characters)"
        raise ConfigError(
            f"The environment variable {name} is {shown!r}: expected a whole number of {what} from 1 to 10**18 "
            f"(e.g. {default}). Set it to one (export {name}={default}), or unset it for the default ({default:,})."
        )
    return value


def deep_merge(base: dict, extra: dict) -> dict:
    """Deep-merge ``extra`` into a copy of ``base`` (mappings merge, everything else replaces).

    >>> deep_merge({"a": {"b": 1, "c": 2}, "d": 1}, {"a": {"c": 3}})
    {'a': {'b': 1, 'c': 3}, 'd': 1}
    """
    out = copy.deepcopy(base)
    for k, v in (extra or {}).items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def load_yaml(text: str):
    """``yaml.safe_load`` that also reads ``1e-4`` as a float.

    >>> load_yaml("lr: 1e-4")
    {'lr': 0.0001}
    """
    return yaml.load(text, Loader=_Loader)


def check_keys(d: dict, valid, where: str) -> None:
    """Refuse a key of ``d`` that is not in ``valid``, suggesting the closest one: the one unknown-key
    check of run configs, study files and their Slurm sections.

    >>> check_keys({"methdo": 1}, ["method", "model"], "run config")
    Traceback (most recent call last):
    ...
    vrft_lib.errors.ConfigError: run config: unknown key 'methdo' (did you mean 'method'?). Valid keys: method, model.
    """
    valid = list(valid)
    for k in d:
        if k not in valid:
            raise ConfigError(f"{where}: unknown key '{k}'{did_you_mean(k, valid)}. Valid keys: {', '.join(valid)}.")


TYPE_NAMES = {
    str: "a string",
    dict: "a mapping",
    list: "a list",
    tuple: "a list",
    bool: "true or false",
    int: "an integer",
    float: "a number",
    type(None): "null",
}


def _union_args(annotation) -> tuple:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return typing.get_args(annotation)
    return (annotation,)


def type_problem(value, annotation) -> str | None:
    """What ``value`` should have been for a field of this annotation (``int``, ``str | None``,
    ``Literal[...]``, an enum, ...), or None if it fits. The one type check of every config the kit
    reads: run and eval configs, the fields of a study file, the TRL trainer fields a run sets.

    >>> type_problem("80", int), type_problem(80, int), type_problem(1, float), type_problem(True, int)
    ('an integer', None, None, 'an integer')
    >>> type_problem(None, int | None), type_problem("x", int | None), type_problem(7, str | dict)
    (None, 'an integer', 'a string or a mapping')
    """
    accepted = []
    for a in _union_args(annotation):
        origin = typing.get_origin(a) or a
        if a is type(None) or a is None:
            accepted.append(type(None))
        elif origin is typing.Literal:
            if value in typing.get_args(a):
                return None
        elif isinstance(origin, type) and issubclass(origin, enum.Enum):
            accepted.append(str)
        elif origin in (int, float, bool, str, list, dict, tuple):
            accepted.append(origin)
        else:
            return None  # a type this light check does not model
    if not accepted or all(t is type(None) for t in accepted):
        return None

    def fits(kind):
        if kind is type(None):
            return value is None
        if kind is bool:
            return isinstance(value, bool)
        if kind is int:
            return isinstance(value, int) and not isinstance(value, bool)
        if kind is float:
            return isinstance(value, (int, float)) and not isinstance(value, bool)
        if kind in (list, tuple):
            return isinstance(value, (list, tuple))
        return isinstance(value, kind)

    if any(fits(k) for k in accepted):
        return None
    names = [TYPE_NAMES.get(k, k.__name__) for k in accepted if k is not type(None)] or ["null"]
    return " or ".join(dict.fromkeys(names))


def numeric_string(value, annotation):
    """``value`` read as a number when it is a number that PyYAML (YAML 1.1: papermill's ``-f``, a plain
    ``yaml.safe_load``) left a string, such as ``5e-5``, and ``annotation`` wants a number but no string;
    otherwise ``value`` unchanged. The kit's own loader reads ``5e-5`` as a number: both paths end the same.
    A string that any YAML reads as a string (a quoted ``"16"``) stays one, and is refused by the check.

    >>> numeric_string("5e-5", float), numeric_string("1e3", int), numeric_string("5e-5", str | None)
    (5e-05, 1000, '5e-5')
    >>> numeric_string("16", int), numeric_string("1.5e0", int), numeric_string("fast", float)
    ('16', '1.5e0', 'fast')
    """
    if not isinstance(value, str) or type_problem(value, annotation) is None:
        return value
    try:
        if not isinstance(yaml.safe_load(value), str):
            return value
        number = load_yaml(value)
    except (yaml.YAMLError, ValueError, RecursionError):  # ValueError: an integer past Python's digit limit
        return value
    if isinstance(number, float) and number.is_integer() and type_problem(number, annotation):
        number = int(number)  # "1e3" for an integer field
    if isinstance(number, bool) or not isinstance(number, (int, float)) or type_problem(number, annotation):
        return value
    return number


def short_repr(value, limit: int = 200) -> str:
    """``repr(value)``, cut to about ``limit`` characters (a value in a message is not a dump).

    >>> short_repr("x" * 500, 10)
    "'xxxxxxxx... (502 characters)"
    """
    try:
        text = repr(value)
    except (ValueError, RecursionError):  # an integer past Python's digit limit, a list nested too deep
        return f"a {type(value).__name__} too large to show"
    return text if len(text) <= limit else f"{text[: limit - 1]}... ({len(text)} characters)"


def check_value(value, annotation, where: str):
    """``value`` when it fits ``annotation`` (its type, or an enum's values), a number spelt as a string
    read as that number (:func:`numeric_string`); anything else is refused, naming ``where``.

    >>> check_value("5e-5", float, "trainer.learning_rate")
    5e-05
    >>> check_value("fast", float, "trainer.learning_rate")
    Traceback (most recent call last):
    ...
    vrft_lib.errors.ConfigError: trainer.learning_rate: expected a number, got 'fast'.
    """
    value = numeric_string(value, annotation)
    problem = type_problem(value, annotation)
    if problem:
        raise ConfigError(f"{where}: expected {problem}, got {short_repr(value)}.")
    check_finite(value, where)
    if isinstance(value, str):
        for a in _union_args(annotation):
            if isinstance(a, type) and issubclass(a, enum.Enum):
                valid = [str(m.value) for m in a]
                if value not in valid:
                    raise ConfigError(
                        f"{where}: unknown value '{value}'{did_you_mean(value, valid)}; "
                        f"valid values: {', '.join(valid)}."
                    )
    return value

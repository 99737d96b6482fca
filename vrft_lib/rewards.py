"""Rule-based rewards for GRPO on visual tasks: accuracy, format and the normalised length reward.

Every reward follows TRL's reward-function protocol: it is called as
``f(prompts=..., completions=..., completion_ids=..., **columns)`` where each dataset column
(``solution``, ``choices``, ``task``, ``mode``, ``images``, ``id``...) arrives as a list with one
value per completion, together with ``trainer_state``, ``log_metric`` and ``log_extra``. A reward
returns one float per completion, never ``None``, and never raises: a malformed completion simply
scores 0.

Parsing and matching rules (see ``docs/rewards.md``):

- the answer is the content of exactly one ``<answer>...</answer>`` block (:func:`extract_answer`),
  read after the think block in ``think`` mode: an answer inside the reasoning scores 0;
- answers and labels are compared by exact equality after :func:`normalize_answer`, never by
  substring, so hedges ("A or B"), prefixes ("737" for "737-300") and empty answers score 0;
- multiple-choice answers may be the option letter or the option text (:func:`accuracy_reward`).

``REWARDS`` maps the names used in params files to the functions and factories, and
:func:`build_rewards` turns a params list into the ``reward_funcs`` and ``reward_weights`` that
``GRPOTrainer`` / ``GRPOConfig`` take.
"""

from __future__ import annotations

import inspect
import logging
import math
import re
from collections.abc import Callable, Sequence
from typing import Any

from .answers import (
    ANSWER_CLOSE,
    ANSWER_OPEN,
    LETTERS,
    TAGS,
    THINK_CLOSE,
    THINK_OPEN,
    choice_index,
    completion_text,
    extract_answer,
    extract_think,
    normalize_answer,
)
from .errors import ConfigError, did_you_mean
from .vocab import PROMPT_MODES

logger = logging.getLogger(__name__)

# The two answer formats (vrft_lib.vocab.PROMPT_MODES).

_THINK_FORMAT = re.compile(r"\A<think>(.*)</think>\s*<answer>(.*)</answer>\Z", re.DOTALL)
_ANSWER_FORMAT = re.compile(r"\A<answer>(.*)</answer>\Z", re.DOTALL)
# A normalised multiple-choice answer "b. text", "b) text", "b: text", "b] text" (the opening
# bracket of "(b) text" is already gone after normalisation).
_LETTER_AND_TEXT = re.compile(r"\A([a-z])\s*[.):\]]\s*(.+)\Z", re.DOTALL)

# The exponent of the length sigmoid is clipped to this range so the reward stays strictly inside
# (0, 1) in floating point; sigmoid(30) = 1 - 9.4e-14.
_MAX_EXPONENT = 30.0


# ---------------------------------------------------------------------------------------------
# Per-sample columns
# ---------------------------------------------------------------------------------------------


def _is_column(value: Any) -> bool:
    """A per-sample column: a list, tuple or ``datasets`` column, not a string."""
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def _sample(value: Any, i: int) -> Any:
    """The i-th value of a per-sample column, or ``value`` itself when it is a fixed value."""
    if _is_column(value):
        return value[i] if i < len(value) else None
    return value


def _sample_choices(choices: Any, i: int) -> list:
    """The i-th sample's choices; ``choices`` is a column (list of lists) or one shared list."""
    if not _is_column(choices) or len(choices) == 0:
        return []
    if all(c is None or _is_column(c) for c in choices):
        row = choices[i] if i < len(choices) else None
        return list(row) if row is not None else []
    return list(choices)


def _sample_mode(mode: Any, i: int, default: str = "think") -> str:
    value = _sample(mode, i)
    return value if isinstance(value, str) else default


# ---------------------------------------------------------------------------------------------
# Accuracy
# ---------------------------------------------------------------------------------------------


def _multiple_choice_correct(answer: str, solution: str, choices: list) -> bool:
    k = choice_index(solution, choices)
    given = normalize_answer(answer)
    texts = [normalize_answer(c) for c in choices]
    if k is None:  # the solution is not one of the choices: text equality, unless it matches several
        return given == normalize_answer(solution) != "" and given not in texts
    if not given:
        return False
    exact = [j for j, c in enumerate(choices) if c.strip() == answer.strip()]
    if exact:  # the exact text of a choice wins over a normalised match
        return exact[0] == k
    if given in texts:  # the text of a choice (takes precedence over a letter reading); unique
        return [j for j, t in enumerate(texts) if t == given] == [k]
    if len(given) == 1 and "a" <= given <= "z":  # "B", "(B)", "B.", "B)"
        return LETTERS.index(given.upper()) == k
    match = _LETTER_AND_TEXT.match(given)  # "B. <text of B>"
    if match:
        letter, text = match.group(1), normalize_answer(match.group(2))
        return LETTERS.index(letter.upper()) == k and text == texts[k]
    return False


def accuracy_reward(
    completions: list,
    solution: list[str],
    choices: list[list[str]] | None = None,
    task: list[str] | None = None,
    mode: list[str] | str | None = None,
    **kwargs,
) -> list[float]:
    r"""Reward 1.0 when the completion's answer is exactly the ground truth, else 0.0.

    The answer is taken with :func:`extract_answer` (in ``think`` mode the think block is removed
    first; then one ``<answer>`` block, or a tag-free remainder read whole) and compared with the
    solution by exact equality after :func:`normalize_answer`. An answer inside the reasoning or
    after an unclosed ``<think>`` scores 0.

    For multiple choice (a non-empty ``choices`` list, ``solution`` being the text of the right
    choice), these answers score 1 when they designate the right choice: its letter (``B``,
    ``(B)``, ``B.``, ``B)``, lower case too), the letter followed by the choice's own text
    (``B. left``), or the choice text alone. An answer equal to some choice's text is read as that
    text, not as a letter; when choices collide after normalisation (``left``, ``Left.``), the
    choice the answer equals exactly wins, and an answer that only matches several of them
    normalised scores 0 (so does a solution that does: no choice is the right one).

    Everything else scores 0: a missing, empty or repeated answer block, a hedge (``A or B``,
    ``A, B``, ``A/B`` unless that is itself a label), a prefix or superstring of the label (``737``
    for ``737-300``), a letter outside the choices, a letter with another choice's text.

    Args:
        completions (`list`): completions, plain strings or ``[{"role": "assistant", "content": str}]``.
        solution (`list[str]`): ground-truth answer per completion (the text of the right choice
            for multiple choice).
        choices (`list[list[str]]`, *optional*): the options per completion, empty if not multiple choice.
        task (`list[str]`, *optional*): the task per completion; not needed (choices decide).
        mode (`list[str] | str`, *optional*): ``"think"`` or ``"no_think"`` per completion or for all;
            ``None`` reads answers as in ``think`` mode.
        **kwargs: other dataset columns and trainer arguments, ignored.

    Returns:
        `list[float]`: 1.0 or 0.0 per completion.

    Example:
        >>> accuracy_reward(
        ...     ["<answer>737-300</answer>", "<answer>737</answer>", "<answer>737-300 or 737-400</answer>"],
        ...     solution=["737-300"] * 3,
        ... )
        [1.0, 0.0, 0.0]
        >>> accuracy_reward(
        ...     [[{"role": "assistant", "content": "<think>\nleft is nearer\n</think>\n<answer>(B)</answer>"}]],
        ...     solution=["left"], choices=[["right", "left"]],
        ... )
        [1.0]
    """
    rewards = []
    for i, completion in enumerate(completions or []):
        try:
            answer = extract_answer(completion_text(completion), _sample_mode(mode, i))
            sol = _sample(solution, i)
            sol = "" if sol is None else str(sol)
            if answer is None or not normalize_answer(answer):
                rewards.append(0.0)
                continue
            options = _sample_choices(choices, i)
            if options:
                correct = _multiple_choice_correct(answer, sol, [str(c) for c in options])
            else:
                correct = normalize_answer(answer) == normalize_answer(sol) != ""
            rewards.append(1.0 if correct else 0.0)
        except Exception:
            rewards.append(0.0)
    return rewards


# ---------------------------------------------------------------------------------------------
# Format
# ---------------------------------------------------------------------------------------------


def _format_ok(text: str, mode: str) -> bool:
    text = text.strip()
    counts = {tag: text.count(tag) for tag in TAGS}
    if mode == "no_think":
        if counts[THINK_OPEN] or counts[THINK_CLOSE] or counts[ANSWER_OPEN] != 1 or counts[ANSWER_CLOSE] != 1:
            return False
        match = _ANSWER_FORMAT.match(text)
        return bool(match) and bool(match.group(1).strip())
    if any(n != 1 for n in counts.values()):
        return False
    match = _THINK_FORMAT.match(text)
    return bool(match) and bool(match.group(1).strip()) and bool(match.group(2).strip())


def format_reward(completions: list, mode: list[str] | str | None = "think", **kwargs) -> list[float]:
    r"""Reward 1.0 when the completion has exactly the requested format, else 0.0.

    ``think`` mode: the stripped completion is one ``<think>...</think>`` block followed by one
    ``<answer>...</answer>`` block, with only whitespace between them. ``no_think`` mode: the
    stripped completion is one ``<answer>...</answer>`` block and there is no think tag. In both,
    block contents may span lines but must not be blank, and no tag may be repeated or nested.
    The tag-free answers that :func:`extract_answer` accepts in ``no_think`` mode score 0 here.

    Args:
        completions (`list`): completions, plain strings or ``[{"role": "assistant", "content": str}]``.
        mode (`list[str] | str`): ``"think"`` or ``"no_think"``, per completion (the ``mode``
            column of :func:`vrft_lib.prompts.to_grpo_dataset`) or one value for all. ``None`` and
            unknown values mean ``think``.
        **kwargs: other dataset columns and trainer arguments, ignored.

    Returns:
        `list[float]`: 1.0 or 0.0 per completion.

    Example:
        >>> format_reward(["<think>\nThe nose is short.\nFour engines.\n</think>\n<answer>747-400</answer>",
        ...                "<think>x</think><answer>a</answer><answer>b</answer>",
        ...                "<answer>747-400</answer>"])
        [1.0, 0.0, 0.0]
        >>> format_reward([[{"role": "assistant", "content": "<answer>747-400</answer>"}]], mode="no_think")
        [1.0]
    """
    rewards = []
    for i, completion in enumerate(completions or []):
        try:
            ok = _format_ok(completion_text(completion), _sample_mode(mode, i))
            rewards.append(1.0 if ok else 0.0)
        except Exception:
            rewards.append(0.0)
    return rewards


# ---------------------------------------------------------------------------------------------
# Normalised length
# ---------------------------------------------------------------------------------------------

LENGTH_UNITS = ("tokens", "words", "chars")
LENGTH_SCOPES = ("response", "think")


def _sigmoid(x: float) -> float:
    x = min(max(x, -_MAX_EXPONENT), _MAX_EXPONENT)
    return 1.0 / (1.0 + math.exp(-x))


def _as_tokenizer(tokenizer: Any) -> Any:
    """A tokenizer from a tokenizer or a processor (which holds one as ``.tokenizer``)."""
    if tokenizer is None or hasattr(tokenizer, "encode"):
        return tokenizer
    return getattr(tokenizer, "tokenizer", tokenizer)


def normalized_length_reward(
    alpha: float = 1.0,
    target_length: int = 256,
    unit: str = "tokens",
    scope: str = "response",
    tokenizer: Any = None,
) -> Callable[..., list[float]]:
    r"""Build the Normalized Length Reward: ``sigmoid(alpha * (L - L0) / L0)``.

    The paper rewards longer responses through a sigmoid of the response length that stays in
    (0, 1), with a scaling factor alpha = 1 and a predefined length L0; its Eq. 4 and the value of
    L0 are lost from the available text. This is an interpretation with that stated shape: the
    reward is 0.5 at ``L = L0``, increases with ``L``, is ``sigmoid(-alpha)`` (0.27 for alpha = 1)
    at ``L = 0`` and saturates towards 1, so that padding a long response gains almost nothing.

    Args:
        alpha (`float`): the scaling factor (> 0); larger is steeper.
        target_length (`int`): L0 (> 0), in ``unit``.
        unit (`str`): how ``L`` is counted. ``"tokens"``: with ``scope="response"`` the lengths of
            ``completion_ids`` (the generated tokens, end-of-sequence token included), else the
            ``tokenizer``; ``"words"``: whitespace-separated words; ``"chars"``: characters.
        scope (`str`): ``"response"``: the whole completion; ``"think"``: only the content of the
            completion's single ``<think>`` block, with ``L = 0`` when that block is missing,
            unclosed or repeated.
        tokenizer (*optional*): a tokenizer or processor; required for ``unit="tokens"`` with
            ``scope="think"``, and used for ``scope="response"`` when no ``completion_ids`` arrive
            (without either, words are counted instead and a warning is logged once).

    Returns:
        A reward function ``(completions, completion_ids=None, **kwargs) -> list[float]`` named
        ``length_reward`` (``think_length_reward`` for ``scope="think"``). When TRL passes
        ``log_metric``, it also logs the batch's mean length as ``<name>/mean_<unit>``.

    Raises:
        ConfigError: for a bad parameter, or tokens of the think part without a tokenizer.

    Example:
        >>> length_reward = normalized_length_reward(alpha=1.0, target_length=4, unit="words")
        >>> length_reward.__name__
        'length_reward'
        >>> [round(r, 3) for r in length_reward(["one two three four", "", "a " * 400])]
        [0.5, 0.269, 1.0]
        >>> think_length = normalized_length_reward(target_length=10, unit="chars", scope="think")
        >>> think_length(["<think>0123456789</think><answer>B</answer>", "<answer>B</answer>"])[0]
        0.5
    """
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not math.isfinite(alpha) or alpha <= 0:
        raise ConfigError(f"length reward: alpha must be a positive number, got {alpha!r}.")
    if (
        isinstance(target_length, bool)
        or not isinstance(target_length, (int, float))
        or not math.isfinite(target_length)
        or target_length <= 0
    ):
        raise ConfigError(f"length reward: target_length (L0) must be a positive number, got {target_length!r}.")
    if unit not in LENGTH_UNITS:
        raise ConfigError(
            f"length reward: unknown unit {unit!r}{did_you_mean(unit, LENGTH_UNITS)}; "
            f"use one of {', '.join(LENGTH_UNITS)}."
        )
    if scope not in LENGTH_SCOPES:
        raise ConfigError(
            f"length reward: unknown scope {scope!r}{did_you_mean(scope, LENGTH_SCOPES)}; "
            f"use one of {', '.join(LENGTH_SCOPES)}."
        )
    tokenizer = _as_tokenizer(tokenizer)
    if unit == "tokens" and scope == "think" and tokenizer is None:
        raise ConfigError(
            "length reward: counting the tokens of the think part needs a tokenizer "
            "(completion_ids cover the whole response); pass tokenizer=..., or use unit 'words' or 'chars'."
        )
    alpha, target = float(alpha), float(target_length)
    name = "length_reward" if scope == "response" else "think_length_reward"
    warned = []

    def count_tokens(text: str) -> int:
        return len(tokenizer.encode(text, add_special_tokens=False))

    def measure(text: str, ids: Any) -> int:
        if scope == "think":
            text = extract_think(text) or ""
            if not text:
                return 0
        if unit == "chars":
            return len(text)
        if unit == "words":
            return len(text.split())
        if scope == "response" and ids is not None:
            return len(ids)
        if tokenizer is not None:
            return count_tokens(text)
        if not warned:
            logger.warning("%s: no completion_ids and no tokenizer; counting words instead of tokens.", name)
            warned.append(True)
        return len(text.split())

    def length_reward(completions: list, completion_ids: list | None = None, **kwargs) -> list[float]:
        rewards, lengths = [], []
        for i, completion in enumerate(completions or []):
            try:
                ids = _sample(completion_ids, i) if _is_column(completion_ids) else None
                length = measure(completion_text(completion), ids)
            except Exception:
                length = 0
            lengths.append(length)
            rewards.append(_sigmoid(alpha * (length - target) / target))
        log_metric = kwargs.get("log_metric")
        if callable(log_metric) and lengths:
            try:
                log_metric(f"{name}/mean_{unit}", sum(lengths) / len(lengths))
            except Exception:
                pass
        return rewards

    length_reward.__name__ = length_reward.__qualname__ = name
    length_reward.__doc__ = (
        f"Normalized length reward sigmoid({alpha:g} * (L - {target:g}) / {target:g}), "
        f"L = {unit} of the {'think block' if scope == 'think' else 'whole response'}."
    )
    return length_reward


# ---------------------------------------------------------------------------------------------
# Registry
# ---------------------------------------------------------------------------------------------

REWARDS: dict[str, Callable] = {
    "accuracy": accuracy_reward,
    "format": format_reward,
    "length": normalized_length_reward,
}
"""Names used in params files -> reward functions (called as is) or factories (called with the
entry's parameters). A new reward is one function plus one line here."""


def _is_reward_function(obj: Callable) -> bool:
    """A reward function takes ``completions``; anything else in ``REWARDS`` is a factory."""
    try:
        return "completions" in inspect.signature(obj).parameters
    except (TypeError, ValueError):
        return True


def _with_mode(func: Callable, mode: str) -> Callable:
    """Bind a default ``mode``; a per-sample ``mode`` column, when the data has one, wins."""

    def reward(completions, **kwargs):
        kwargs.setdefault("mode", mode)
        return func(completions, **kwargs)

    reward.__name__ = reward.__qualname__ = func.__name__
    reward.__doc__ = func.__doc__
    reward.__wrapped__ = func
    return reward


def build_rewards(
    spec: Sequence[dict | str],
    mode: str | None = None,
    tokenizer: Any = None,
) -> tuple[list[Callable], list[float]]:
    """Turn a params list of rewards into ``(reward_funcs, reward_weights)`` for GRPO.

    Args:
        spec: entries like ``{"name": "accuracy", "weight": 1.0}`` or
            ``{"name": "length", "weight": 1.0, "alpha": 1.0, "target_length": 256,
            "unit": "tokens", "scope": "think"}``; a bare name means weight 1. Keys other than
            ``name`` and ``weight`` are passed to the reward's factory.
        mode (`str`, *optional*): ``"think"`` or ``"no_think"``: the default answer format for
            the accuracy and format rewards (a ``mode`` column in the data overrides it).
        tokenizer (*optional*): passed to factories that take one (the length reward).

    Returns:
        `tuple[list[Callable], list[float]]`: the functions, each with a distinct ``__name__``
        (TRL logs ``rewards/<name>/mean``), and their weights.

    Raises:
        ConfigError: unknown reward name or parameter, bad weight, a name listed twice.

    Example:
        >>> funcs, weights = build_rewards(
        ...     [{"name": "accuracy"}, {"name": "format", "weight": 0.5},
        ...      {"name": "length", "unit": "words", "target_length": 64}], mode="think")
        >>> [f.__name__ for f in funcs], weights
        (['accuracy_reward', 'format_reward', 'length_reward'], [1.0, 0.5, 1.0])
        >>> build_rewards([{"name": "acuracy"}])  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        vrft_lib.errors.ConfigError: rewards[0]: unknown reward 'acuracy' (did you mean 'accuracy'?); ...
    """
    if mode is not None and mode not in PROMPT_MODES:
        raise ConfigError(
            f"rewards: unknown mode {mode!r}{did_you_mean(mode, PROMPT_MODES)}; use one of {', '.join(PROMPT_MODES)}."
        )
    if isinstance(spec, (str, dict)) or not isinstance(spec, Sequence):
        raise ConfigError(
            f"rewards: expected a list of entries like {{name: accuracy, weight: 1.0}}, got {type(spec).__name__}."
        )
    funcs, weights = [], []
    for position, entry in enumerate(spec):
        where = f"rewards[{position}]"
        if isinstance(entry, str):
            entry = {"name": entry}
        if not isinstance(entry, dict) or "name" not in entry:
            raise ConfigError(f"{where}: expected a mapping with a 'name' key (and optional 'weight'), got {entry!r}.")
        params = dict(entry)
        name = params.pop("name")
        weight = params.pop("weight", 1.0)
        if name not in REWARDS:
            raise ConfigError(
                f"{where}: unknown reward {name!r}{did_you_mean(name, REWARDS)}; known rewards: {', '.join(REWARDS)}."
            )
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight):
            raise ConfigError(f"{where} ({name}): weight must be a finite number, got {weight!r}.")
        target = REWARDS[name]
        if _is_reward_function(target):
            if params:
                bad = next(iter(params))
                raise ConfigError(f"{where} ({name}): unknown parameter {bad!r}; this reward takes only a weight.")
            takes_mode = "mode" in inspect.signature(target).parameters
            func = _with_mode(target, mode) if mode is not None and takes_mode else target
        else:
            accepted = [p for p in inspect.signature(target).parameters if p != "tokenizer"]
            for key in params:
                if key not in accepted:
                    raise ConfigError(
                        f"{where} ({name}): unknown parameter {key!r}{did_you_mean(key, accepted)}; "
                        f"accepted: weight, {', '.join(accepted)}."
                    )
            if "tokenizer" in inspect.signature(target).parameters:
                params["tokenizer"] = tokenizer
            try:
                func = target(**params)
            except ConfigError as err:
                raise ConfigError(f"{where}: {err}") from None
        if func.__name__ in {f.__name__ for f in funcs}:
            raise ConfigError(
                f"{where}: reward {func.__name__!r} is listed twice; give it one entry and raise its weight instead."
            )
        funcs.append(func)
        weights.append(float(weight))
    return funcs, weights

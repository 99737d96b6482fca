"""Prompts and training targets: the one place that holds the texts the model sees.

Two answer modes are compared in the study (the paper's "w/o <think>" and "w/ <think>"):

- ``no_think``: answer directly, only the final answer inside ``<answer> </answer>``;
- ``think``: reason step by step inside ``<think> </think>``, then the final answer inside
  ``<answer> </answer>``.

The format instruction goes at the end of the user turn and there is no system message: the chat
template adds the model's built-in system prompt, as in the paper. Multiple-choice answers are the
option's letter (``A``, ``B``, ...), or its text for rows whose ``answer_with`` is ``"text"``
(see :data:`ANSWER_WITH`).

The dataset converters produce what TRL 1.16 expects for a vision-language model:

- :func:`to_grpo_dataset`: a conversational ``prompt`` with one ``{"type": "image"}`` placeholder
  per image and an ``images`` column (a list of PIL images), which ``GRPOTrainer`` fills into the
  placeholders; the other columns (``solution``, ``choices``, ``task``, ``mode``, ``id``) reach the
  reward functions as keyword arguments.
- :func:`to_sft_dataset`: conversational ``prompt`` / ``completion`` columns plus ``images``;
  ``SFTTrainer`` then picks its vision collator and puts the loss on the completion only.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from .answers import LETTERS, choice_index, normalize_answer
from .errors import ConfigError, DataError, did_you_mean
from .vocab import PROMPT_MODES

__all__ = [
    "FORMAT_INSTRUCTIONS",
    "ANSWER_WITH",
    "CLASSES_LINE",
    "DEFAULT_RATIONALE",
    "answer_letter",
    "sft_answer",
    "user_text",
    "build_messages",
    "sft_target",
    "with_class_choices",
    "to_grpo_dataset",
    "to_sft_dataset",
]

# Format instructions, by mode, then by kind of answer ("choice": the letter of an option,
# "option": the text of an option, "text": a label or free answer). They end every user turn.
FORMAT_INSTRUCTIONS = {
    "no_think": {
        "text": ("Answer directly with only the final answer inside <answer> </answer> tags, without any reasoning."),
        "choice": (
            "Answer directly with only the letter of the correct option inside <answer> </answer> tags, "
            "without any reasoning."
        ),
        "option": (
            "Answer directly with only the text of the correct option inside <answer> </answer> tags, "
            "without any reasoning."
        ),
    },
    "think": {
        "text": (
            "Reason step by step inside <think> </think> tags, "
            "then give only the final answer inside <answer> </answer> tags."
        ),
        "choice": (
            "Reason step by step inside <think> </think> tags, "
            "then give only the letter of the correct option inside <answer> </answer> tags."
        ),
        "option": (
            "Reason step by step inside <think> </think> tags, "
            "then give only the text of the correct option inside <answer> </answer> tags."
        ),
    },
}

# How a multiple-choice row is answered: by the option's letter (the paper's prompts, the default) or
# by its text. A row says which in its ``answer_with`` field, set by the benchmark's ``answer_with``
# option (synthetic stand-ins; docs/data.md). The accuracy reward accepts both either way.
ANSWER_WITH = ("letter", "text")

# A multiple-choice option line, e.g. "A. the chair".
CHOICE_LINE = "{letter}. {text}"

# The class list of a classification task, when one is given.
CLASSES_LINE = "Options: {classes}"

# The think part of an SFT target for rows that have no rationale of their own.
DEFAULT_RATIONALE = "Looking at the image, the answer is {answer}."

# SFT target layouts, by mode.
SFT_TEMPLATES = {
    "no_think": "<answer>{answer}</answer>",
    "think": "<think>\n{rationale}\n</think>\n<answer>{answer}</answer>",
}

# The columns each converted dataset keeps.
GRPO_COLUMNS = ("prompt", "images", "solution", "choices", "task", "mode", "id")
SFT_COLUMNS = ("prompt", "completion", "images")


def _check_mode(mode: str) -> str:
    if mode not in PROMPT_MODES:
        raise ConfigError(
            f"unknown prompt mode {mode!r}{did_you_mean(mode, PROMPT_MODES)}; use one of {', '.join(PROMPT_MODES)}."
        )
    return mode


def _choices(row) -> list[str]:
    choices = row.get("choices") or []
    if len(choices) > len(LETTERS):
        raise DataError(f"row {row.get('id')!r}: {len(choices)} choices; at most {len(LETTERS)} can be lettered A-Z.")
    return [str(c) for c in choices]


def answer_with(row) -> str:
    """``"letter"`` or ``"text"``: how the row's multiple-choice answer is written (default letter)."""
    style = row.get("answer_with") or "letter"
    if style not in ANSWER_WITH:
        raise DataError(
            f"row {row.get('id')!r}: answer_with={style!r} is not one of {', '.join(ANSWER_WITH)}; "
            "set the benchmark's answer_with option to 'letter' or 'text'."
        )
    return style


def answer_letter(row) -> str:
    """Return the letter of the right choice of a multiple-choice row.

    The right choice is the one :func:`vrft_lib.answers.choice_index` finds, as the accuracy
    reward does: the choice whose text is exactly ``row["solution"]``, else the one choice equal to
    it after :func:`vrft_lib.answers.normalize_answer`, else a solution that is itself a letter.

    Raises:
        DataError: the row has no choices, the solution is none of them, or it matches several
            of them after normalisation (colliding choices).

    Example:
        >>> answer_letter({"solution": "left", "choices": ["right", "left"]})
        'B'
        >>> answer_letter({"solution": "Left.", "choices": ["left", "Left."]})
        'B'
    """
    choices = _choices(row)
    solution = str(row.get("solution", ""))
    if not choices:
        raise DataError(f"row {row.get('id')!r}: no choices, so there is no answer letter.")
    k = choice_index(solution, choices)
    if k is not None:
        return LETTERS[k]
    target = normalize_answer(solution)
    colliding = [c for c in choices if target and normalize_answer(c) == target]
    if colliding:
        raise DataError(
            f"row {row.get('id')!r}: the solution {solution!r} matches several choices after normalisation "
            f"({colliding!r}), so no letter is the right one; make the choices distinct."
        )
    raise DataError(f"row {row.get('id')!r}: the solution {solution!r} is none of the choices {choices!r}.")


def sft_answer(row) -> str:
    """The answer as the model should write it: for multiple choice the letter of the right option
    (or its text, when the row's ``answer_with`` is ``"text"``), else the solution.

    Example:
        >>> sft_answer({"solution": "left", "choices": ["right", "left"]})
        'B'
        >>> sft_answer({"solution": "Left.", "choices": ["right", "left"], "answer_with": "text"})
        'left'
        >>> sft_answer({"solution": "F/A-18", "choices": []})
        'F/A-18'
    """
    if not _choices(row):
        return str(row.get("solution", "")).strip()
    letter = answer_letter(row)
    return _choices(row)[LETTERS.index(letter)] if answer_with(row) == "text" else letter


def with_class_choices(row, classes: Sequence[str] | None):
    """The row with its class list as lettered choices, when ``classes`` is given.

    A row that has choices already, a class list longer than the 26 letters, or a row answered in
    words (``answer_with: text``) is returned as is: the classes then go on one ``Options:`` line and
    the answer is the class name. With class choices, the model may answer with the letter or the
    class name, and rewards and SFT targets treat the row as multiple choice.

    Example:
        >>> with_class_choices({"solution": "negative", "choices": []}, ["positive", "negative"])["choices"]
        ['positive', 'negative']
        >>> worded = {"solution": "red swept", "choices": [], "answer_with": "text"}
        >>> with_class_choices(worded, ["red swept", "red straight"])["choices"]
        []
    """
    if not classes or (row.get("choices") or []) or len(classes) > len(LETTERS) or answer_with(row) == "text":
        return row
    return {**dict(row), "choices": [str(c) for c in classes]}


def user_text(row, mode: str, classes: Sequence[str] | None = None) -> str:
    """Return the text of the user turn: question, options, format instruction, one per line.

    - multiple choice (non-empty ``choices``): one ``A. text`` line per choice, and the
      instruction asks for the letter (or the option's text, when ``row["answer_with"]`` is
      ``"text"``);
    - otherwise, when ``classes`` is given: the classes as lettered choices (see
      :func:`with_class_choices`), or, beyond 26 classes, one ``Options: a, b, c`` line.

    Args:
        row: a data row with ``question`` and ``choices``.
        mode (`str`): ``"think"`` or ``"no_think"``.
        classes (`Sequence[str]`, *optional*): the class names of a classification task.

    Returns:
        `str`: the user text.

    Example:
        >>> row = {"question": "Which object is closer to the camera?", "choices": ["the chair", "the table"]}
        >>> print(user_text(row, "think"))  # doctest: +NORMALIZE_WHITESPACE
        Which object is closer to the camera?
        A. the chair
        B. the table
        Reason step by step inside <think> </think> tags,
        then give only the letter of the correct option inside <answer> </answer> tags.
        >>> print(user_text({"question": "What is the variant of this aircraft?", "choices": []}, "no_think",
        ...                 classes=["707-320", "727-200"]))  # doctest: +NORMALIZE_WHITESPACE
        What is the variant of this aircraft?
        A. 707-320
        B. 727-200
        Answer directly with only the letter of the correct option inside <answer> </answer> tags,
        without any reasoning.
    """
    _check_mode(mode)
    row = with_class_choices(row, classes)
    choices = _choices(row)
    lines = [str(row.get("question", "")).strip()]
    if choices:
        lines += [CHOICE_LINE.format(letter=LETTERS[k], text=text) for k, text in enumerate(choices)]
    elif classes:
        lines.append(CLASSES_LINE.format(classes=", ".join(str(c) for c in classes)))
    kind = ("option" if answer_with(row) == "text" else "choice") if choices else "text"
    lines.append(FORMAT_INSTRUCTIONS[mode][kind])
    return "\n".join(line for line in lines if line)


def build_messages(row, mode: str, classes: Sequence[str] | None = None) -> list[dict]:
    """Return the conversational prompt: one user turn, the images first, then the text.

    There is no system message: the chat template inserts the model's built-in one.

    Example:
        >>> build_messages({"question": "Is this banner positive or negative?", "choices": [], "images": [None]},
        ...                "no_think")  # doctest: +NORMALIZE_WHITESPACE
        [{'role': 'user', 'content': [{'type': 'image'},
          {'type': 'text', 'text': 'Is this banner positive or negative?\\nAnswer directly with only the final answer
          inside <answer> </answer> tags, without any reasoning.'}]}]
    """
    images = row.get("images") or []
    content = [{"type": "image"} for _ in images]
    content.append({"type": "text", "text": user_text(row, mode, classes)})
    return [{"role": "user", "content": content}]


def sft_target(row, mode: str) -> str:
    """Return the SFT target: the assistant turn the SFT baseline is trained to produce.

    The paper trains its SFT baseline (LLaMA-Factory, 300 steps) without saying what the targets
    are. Here the target is the answer written in the format of the training mode, so that the SFT
    and GRPO models are asked for, and parsed in, the same format:

    - ``no_think``: ``<answer>ANSWER</answer>``;
    - ``think``: ``<think>\\nRATIONALE\\n</think>\\n<answer>ANSWER</answer>`` with the row's
      ``rationale``; a row without one gets :data:`DEFAULT_RATIONALE`, a single generic sentence
      that restates the answer (so the model learns the format, not a reasoning style).

    ANSWER is the letter of the right choice for multiple choice, else the ``solution``. The loss
    is on this completion only (prompt/completion data in :func:`to_sft_dataset`).

    Example:
        >>> sft_target({"solution": "negative", "choices": [], "rationale": ""}, "no_think")
        '<answer>negative</answer>'
        >>> print(sft_target({"solution": "left", "choices": ["right", "left"], "rationale": ""}, "think"))
        <think>
        Looking at the image, the answer is B. left.
        </think>
        <answer>B</answer>
    """
    _check_mode(mode)
    answer = sft_answer(row)
    if mode == "no_think":
        return SFT_TEMPLATES[mode].format(answer=answer)
    rationale = str(row.get("rationale") or "").strip()
    if not rationale:
        shown = f"{answer}. {row['solution']}" if _choices(row) and answer_with(row) == "letter" else answer
        rationale = DEFAULT_RATIONALE.format(answer=shown)
    return SFT_TEMPLATES[mode].format(rationale=rationale, answer=answer)


def _as_dataset(ds: Any):
    from datasets import Dataset

    if isinstance(ds, Dataset):
        return ds
    if isinstance(ds, Iterable):
        return Dataset.from_list([dict(row) for row in ds])
    raise DataError(f"expected a datasets.Dataset or a list of rows, got {type(ds).__name__}.")


def _map_without_decoding(ds, convert, desc: str):
    """``ds.map(convert)`` with the images left encoded: the converters only count them, and
    decoding every image would cost far more than the conversion itself."""
    from datasets import Image, List

    feature = ds.features.get("images")
    lazy = isinstance(feature, List) and isinstance(feature.feature, Image) and feature.feature.decode
    if lazy:
        ds = ds.cast_column("images", List(Image(mode=feature.feature.mode, decode=False)))
    ds = ds.map(convert, desc=desc)
    if lazy:
        ds = ds.cast_column("images", feature)
    return ds


def to_grpo_dataset(ds, mode: str, classes: Sequence[str] | None = None):
    """Convert data rows to GRPO training data for one mode.

    Columns: ``prompt`` (:func:`build_messages`), ``images`` (unchanged), ``solution``,
    ``choices``, ``task``, ``id``, and ``mode`` (the same value on every row, read by the
    accuracy and format rewards). Other columns (``question``, ``rationale``...) are dropped.

    Args:
        ds: a ``datasets.Dataset`` (or a list of row dicts) with the data columns.
        mode (`str`): ``"think"`` or ``"no_think"``.
        classes (`Sequence[str]`, *optional*): class names listed in classification prompts.

    Returns:
        `datasets.Dataset`
    """
    _check_mode(mode)
    ds = _as_dataset(ds)

    def convert(row):
        row = with_class_choices(row, classes)
        return {"prompt": build_messages(row, mode), "choices": row["choices"], "mode": mode}

    ds = _map_without_decoding(ds, convert, f"GRPO prompts ({mode})")
    return ds.select_columns([c for c in GRPO_COLUMNS if c in ds.column_names])


def to_sft_dataset(ds, mode: str, classes: Sequence[str] | None = None):
    """Convert data rows to SFT training data (prompt/completion) for one mode.

    Columns: ``prompt`` (:func:`build_messages`, the same prompt GRPO sees),
    ``completion`` (``[{"role": "assistant", "content": sft_target(row, mode)}]``) and ``images``.
    With prompt/completion data, TRL's ``SFTTrainer`` computes the loss on the completion only.

    Args:
        ds: a ``datasets.Dataset`` (or a list of row dicts) with the data columns.
        mode (`str`): ``"think"`` or ``"no_think"``.
        classes (`Sequence[str]`, *optional*): class names listed in classification prompts.

    Returns:
        `datasets.Dataset`
    """
    _check_mode(mode)
    ds = _as_dataset(ds)

    def convert(row):
        row = with_class_choices(row, classes)
        return {
            "prompt": build_messages(row, mode),
            "completion": [{"role": "assistant", "content": sft_target(row, mode)}],
        }

    ds = _map_without_decoding(ds, convert, f"SFT targets ({mode})")
    return ds.select_columns([c for c in SFT_COLUMNS if c in ds.column_names])

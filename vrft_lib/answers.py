"""Reading a completion: its text, the content of its ``<answer>`` and ``<think>`` blocks, and the
normalisation under which an answer equals a label (see ``docs/rewards.md``).

The rewards (:mod:`vrft_lib.rewards`), the prompts and the evaluation all read answers through here.
"""

from __future__ import annotations

import re
import string
import unicodedata
from typing import Any

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
ANSWER_OPEN, ANSWER_CLOSE = "<answer>", "</answer>"
TAGS = (THINK_OPEN, THINK_CLOSE, ANSWER_OPEN, ANSWER_CLOSE)

# Option labels of multiple-choice questions: the i-th choice is LETTERS[i].
LETTERS = string.ascii_uppercase


def completion_text(completion: Any) -> str:
    """Return the text of one completion, plain or conversational.

    Args:
        completion: a string, or a list of messages ``[{"role": "assistant", "content": ...}]``
            whose content is a string or a list of ``{"type": "text", "text": ...}`` parts.

    Returns:
        `str`: the text (the messages' texts joined); ``""`` for anything unreadable.

    Example:
        >>> completion_text("<answer>B</answer>")
        '<answer>B</answer>'
        >>> completion_text([{"role": "assistant", "content": "<answer>B</answer>"}])
        '<answer>B</answer>'
        >>> completion_text([{"role": "assistant", "content": [{"type": "text", "text": "hi"}]}])
        'hi'
        >>> completion_text(None)
        ''
    """
    try:
        if isinstance(completion, str):
            return completion
        if completion is None:
            return ""
        if isinstance(completion, dict):
            return _content_text(completion.get("content"))
        if isinstance(completion, (list, tuple)):
            return "".join(completion_text(message) for message in completion)
        return str(completion)
    except Exception:  # a reward must never fail on a malformed completion
        return ""


def _content_text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, (list, tuple)):
        parts = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
        return "".join(parts)
    return str(content)


def strip_think(text: Any) -> str | None:
    """Return what a ``think``-mode response answered: the text after its think block.

    The think block is the first ``<think>`` and the first ``</think>`` after it; everything up to
    and including that ``</think>`` is removed (an answer written before or inside the reasoning is
    removed with it). A response with no ``<think>`` but a ``</think>`` began its reasoning without
    the opening tag: everything up to and including its first ``</think>`` is removed, as lmms-eval
    and VLMEvalKit split there. A response with neither tag is returned whole (it skipped the
    reasoning); one whose first ``<think>`` is never closed gives ``None`` (a truncated or unfinished
    response).

    Example:
        >>> strip_think("<think>maybe <answer>A</answer></think>\\n<answer>B</answer>")
        '\\n<answer>B</answer>'
        >>> strip_think("maybe A... </think> B")
        ' B'
        >>> strip_think("<answer>B</answer>")
        '<answer>B</answer>'
        >>> strip_think("<think>never closed <answer>B</answer>") is None
        True
    """
    if not isinstance(text, str):
        text = completion_text(text)
    start = text.find(THINK_OPEN)
    if start < 0:
        end = text.find(THINK_CLOSE)  # a lone </think>: the reasoning began without its tag
        return text if end < 0 else text[end + len(THINK_CLOSE) :]
    end = text.find(THINK_CLOSE, start + len(THINK_OPEN))
    if end < 0:
        return None
    return text[end + len(THINK_CLOSE) :]


def _direct_answer(text: str) -> str | None:
    """The answer of a direct (``no_think``) response: its one answer block, or a tag-free text."""
    n_open, n_close = text.count(ANSWER_OPEN), text.count(ANSWER_CLOSE)
    if n_open == 0 and n_close == 0:
        if THINK_OPEN in text or THINK_CLOSE in text:
            return None
        return text.strip() or None
    if n_open != 1 or n_close != 1:
        return None
    start = text.index(ANSWER_OPEN) + len(ANSWER_OPEN)
    end = text.index(ANSWER_CLOSE)
    if end < start:
        return None
    return text[start:end].strip()


def extract_answer(text: Any, mode: str | None = "think") -> str | None:
    """Return the completion's answer, by one rule for both modes.

    ``no_think``: the content of the response's single ``<answer>...</answer>`` block (it may span
    several lines); zero or several ``<answer>`` / ``</answer>`` tags give ``None`` (several
    answers are a hedge, not an answer), except that a response with no tag at all (neither answer
    nor think tags) is read whole: a model asked to answer directly sometimes drops the tags, and
    exact matching still rejects anything but the bare label.

    ``think`` (and any other mode value): the think block is removed first (:func:`strip_think`; a
    lone ``</think>`` ends the reasoning too), and what remains is read exactly as a ``no_think``
    response. So an answer inside the reasoning, before it, or after an unclosed ``<think>`` gives
    ``None``; a response without a think block is read on what it answered (the format reward records
    the skipped reasoning, or its missing ``<think>``).

    Args:
        text: the completion text (a completion in either format is accepted too).
        mode (`str`): ``"think"`` or ``"no_think"``.

    Returns:
        `str | None`: the answer with surrounding whitespace removed, or ``None``.

    Example:
        >>> extract_answer("<think>\\nwings...\\n</think>\\n<answer> 737-300 </answer>")
        '737-300'
        >>> extract_answer("<think>it is <answer>737-300</answer></think>") is None
        True
        >>> extract_answer("<think>unfinished... <answer>737-300</answer>") is None
        True
        >>> extract_answer("<answer>A</answer><answer>B</answer>") is None
        True
        >>> extract_answer("737-300"), extract_answer("737-300", mode="no_think")
        ('737-300', '737-300')
    """
    try:
        if not isinstance(text, str):
            text = completion_text(text)
        if mode != "no_think":
            text = strip_think(text)
            if text is None:
                return None
        return _direct_answer(text)
    except Exception:
        return None


def extract_think(text: Any) -> str | None:
    """Return the content of the completion's single ``<think>...</think>`` block, or ``None``.

    ``None`` when the block is missing, unclosed (e.g. a truncated completion) or repeated.

    Example:
        >>> extract_think("<think>\\nstep 1\\nstep 2\\n</think><answer>B</answer>")
        'step 1\\nstep 2'
        >>> extract_think("<think>never closed") is None
        True
    """
    try:
        if not isinstance(text, str):
            text = completion_text(text)
        if text.count(THINK_OPEN) != 1 or text.count(THINK_CLOSE) != 1:
            return None
        start = text.index(THINK_OPEN) + len(THINK_OPEN)
        end = text.index(THINK_CLOSE)
        if end < start:
            return None
        return text[start:end].strip()
    except Exception:
        return None


def _is_edge_junk(s: str, i: int, leading: bool) -> bool:
    """Whether character ``s[i]`` at the start (or end) of ``s`` is removed by normalisation."""
    ch = s[i]
    if ch.isspace():
        return True
    if not unicodedata.category(ch).startswith("P"):
        return False
    if leading and ch == "-" and i + 1 < len(s) and s[i + 1].isdigit():
        return False  # a minus sign: "-3" is not "3"
    if not leading and ch == "%":
        return False  # a unit: "50%" is not "50"
    return True


def normalize_answer(s: Any) -> str:
    """Normalise an answer or a label for exact comparison.

    Steps, in order:

    1. Unicode NFKC (full-width ``Ｂ`` becomes ``B``, ligatures are split, ...);
    2. case folding (``str.casefold``);
    3. runs of whitespace (spaces, tabs, newlines) become one space;
    4. whitespace and punctuation (Unicode category P*) are removed from both ends, repeatedly,
       except a leading ``-`` directly before a digit (a minus sign) and a trailing ``%``.

    Characters inside the string are kept: ``F/A-18``, ``737-300`` and ``DC-9-30`` stay intact.
    Anything that is not a string becomes ``""`` (``None``) or its ``str()``.

    Example:
        >>> normalize_answer("  Boeing   737-300. ")
        'boeing 737-300'
        >>> normalize_answer("**F/A-18**")
        'f/a-18'
        >>> normalize_answer("(B)")
        'b'
        >>> normalize_answer("\\"Positive\\"\\n")
        'positive'
        >>> normalize_answer("-3"), normalize_answer("50%.")
        ('-3', '50%')
    """
    try:
        if s is None:
            return ""
        s = unicodedata.normalize("NFKC", s if isinstance(s, str) else str(s)).casefold()
        s = " ".join(s.split())
        start, end = 0, len(s)
        while start < end and _is_edge_junk(s, start, leading=True):
            start += 1
        while end > start and _is_edge_junk(s, end - 1, leading=False):
            end -= 1
        return s[start:end]
    except Exception:
        return ""


def choice_index(solution: Any, choices: list) -> int | None:
    """Return the index of the right choice of a multiple-choice row, or ``None``.

    In order: the choice whose text is exactly the solution (surrounding spaces aside); else the
    one choice equal to it after :func:`normalize_answer` (``None`` when several are: the choices
    collide); else a solution that is itself a letter within the choices (``"B"``).

    Example:
        >>> choice_index("Left.", ["left", "Left."]), choice_index("LEFT", ["left", "Left."])
        (1, None)
        >>> choice_index("the table", ["the chair", "The Table"]), choice_index("b", ["x", "y"])
        (1, 1)
    """
    solution = "" if solution is None else str(solution)
    stripped = [str(c).strip() for c in choices]
    if solution.strip() and solution.strip() in stripped:
        return stripped.index(solution.strip())
    target = normalize_answer(solution)
    if not target:
        return None
    matches = [k for k, choice in enumerate(choices) if normalize_answer(choice) == target]
    if matches:
        return matches[0] if len(matches) == 1 else None
    if len(target) == 1 and target.upper() in LETTERS[: len(choices)]:
        return LETTERS.index(target.upper())
    return None


def lenient_correct(text: Any, solution: Any, choices: list | None = None) -> bool:
    """Whether a response is right under the substring rule Visual-RFT and CLS-RL publish with.

    This is not the training reward (:func:`vrft_lib.rewards.accuracy_reward` is exact); it is
    recorded beside it so that numbers can be set beside those papers'. The rule:

    1. the answer text is the content of the first ``<answer>...</answer>`` block anywhere in the
       response (inside the reasoning too), else the whole response;
    2. it and the label are normalised (:func:`normalize_answer`);
    3. without choices (or when the solution is none of them) the response is right when the
       normalised label is non-empty and contained in the normalised answer text;
    4. with choices: an answer text that is the whole text of a choice designates that choice (as
       in the strict rule, a text is read before a letter), and is right only when that is the
       right choice; otherwise it is right when the right choice's normalised text is contained in
       it (a one-character text only as a separate word: ``3`` is not in ``13``; a text that is
       itself an option letter, choices ``["B", "A"]``, only whole, by the first reading), or the
       answer text is the right letter (``B``, ``(B)``, ``B.``), or begins with that letter and a
       ``.``, ``)``, ``:`` or ``]`` (``B. the table``).

    So hedges, superstrings and reasoning without an answer block may count (``737-300 or
    737-400`` is right for ``737-300``); a prefix (``737``) does not, nor does a letter that is the
    text of another choice (choices ``["B", "A"]``: ``A`` is the second choice, not the first).

    Example:
        >>> lenient_correct("<answer>Boeing 737-300 or 737-400</answer>", "737-300")
        True
        >>> lenient_correct("<think>it is 737-300</think>", "737-300")
        True
        >>> lenient_correct("<answer>737</answer>", "737-300")
        False
        >>> choices = ["the chair", "the table"]
        >>> answers = ("B", "(b) x", "on the table", "A")
        >>> [lenient_correct(f"<answer>{a}</answer>", "the table", choices) for a in answers]
        [True, True, True, False]
        >>> [lenient_correct(f"<answer>{a}</answer>", "B", ["B", "A"]) for a in ("B", "A", "Answer: A")]
        [True, False, False]
    """
    try:
        if not isinstance(text, str):
            text = completion_text(text)
        start = text.find(ANSWER_OPEN)
        end = text.find(ANSWER_CLOSE, start + len(ANSWER_OPEN)) if start >= 0 else -1
        given = normalize_answer(text[start + len(ANSWER_OPEN) : end] if end >= 0 else text)
        if not given:
            return False
        choices = [str(c) for c in (choices or [])]
        k = choice_index(solution, choices) if choices else None
        if k is None:
            label = normalize_answer(solution)
            return bool(label) and label in given
        texts = [normalize_answer(c) for c in choices]
        named = [j for j, t in enumerate(texts) if t == given]
        if named:  # the whole text of a choice: that choice, before any letter reading
            return named == [k]
        text_k, letter = texts[k], LETTERS[k].lower()
        if len(text_k) > 1:
            if text_k in given:
                return True
        elif text_k not in LETTERS[: len(choices)].lower():  # a text that is an option letter: whole only
            if re.search(rf"(?<!\w){re.escape(text_k)}(?!\w)", given):  # "3", not the 3 of "13"
                return True
        return given == letter or (given[0] == letter and len(given) > 1 and given[1:].lstrip()[:1] in tuple(".):]"))
    except Exception:
        return False

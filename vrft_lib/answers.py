"""Reading a completion: its text, the content of its ``<answer>`` and ``<think>`` blocks, and the
normalisation under which an answer equals a label (see ``docs/rewards.md``).

The rewards (:mod:`vrft_lib.rewards`), the prompts and the evaluation all read answers through here.
"""

from __future__ import annotations

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


def extract_answer(text: Any, mode: str | None = "think") -> str | None:
    """Return the content of the completion's single ``<answer>...</answer>`` block.

    The block may span several lines. Zero or several ``<answer>`` / ``</answer>`` tags give
    ``None`` (several answers are a hedge, not an answer). In ``no_think`` mode only, a response
    that contains no tag at all is read whole as the answer: a model asked to answer directly
    sometimes drops the tags, and exact matching still rejects anything but the bare label. In
    ``think`` mode (and for any other mode value) a missing answer tag gives ``None``.

    Args:
        text: the completion text (a completion in either format is accepted too).
        mode (`str`): ``"think"`` or ``"no_think"``.

    Returns:
        `str | None`: the answer with surrounding whitespace removed, or ``None``.

    Example:
        >>> extract_answer("<think>\\nwings...\\n</think>\\n<answer> 737-300 </answer>")
        '737-300'
        >>> extract_answer("<answer>A</answer><answer>B</answer>") is None
        True
        >>> extract_answer("737-300") is None
        True
        >>> extract_answer("737-300", mode="no_think")
        '737-300'
    """
    try:
        if not isinstance(text, str):
            text = completion_text(text)
        n_open, n_close = text.count(ANSWER_OPEN), text.count(ANSWER_CLOSE)
        if n_open == 0 and n_close == 0:
            if mode == "no_think" and THINK_OPEN not in text and THINK_CLOSE not in text:
                return text.strip()
            return None
        if n_open != 1 or n_close != 1:
            return None
        start = text.index(ANSWER_OPEN) + len(ANSWER_OPEN)
        end = text.index(ANSWER_CLOSE)
        if end < start:
            return None
        return text[start:end].strip()
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

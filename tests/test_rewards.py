"""Rewards: one case per behaviour, with literal completions in both TRL formats."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vrft_lib.answers import (
    choice_index,
    completion_text,
    extract_answer,
    extract_think,
    lenient_correct,
    normalize_answer,
    strip_think,
)
from vrft_lib.errors import ConfigError
from vrft_lib.evaluate import score, summarize
from vrft_lib.rewards import (
    REWARDS,
    accuracy_reward,
    build_rewards,
    format_reward,
    normalized_length_reward,
)

MC_CHOICES = ["the chair", "the table", "the lamp"]  # right answer: B, "the table"


def conv(text: str) -> list[dict]:
    """A completion in TRL's conversational format."""
    return [{"role": "assistant", "content": text}]


def both_formats(text: str) -> list:
    return [text, conv(text)]


def think(answer: str, reasoning: str = "The wings are swept.\nFour engines.") -> str:
    return f"<think>\n{reasoning}\n</think>\n<answer>{answer}</answer>"


# --- completion_text / extract_answer -----------------------------------------------------------


def test_completion_text_handles_both_formats():
    assert completion_text("abc") == "abc"
    assert completion_text(conv("abc")) == "abc"
    assert completion_text([{"role": "assistant", "content": [{"type": "text", "text": "abc"}]}]) == "abc"
    assert completion_text([{"role": "assistant", "content": None}]) == ""
    assert completion_text(42) == "42"


def test_extract_answer_multiline_block():
    assert extract_answer("<think>a\nb</think><answer>\nBoeing\n737-300\n</answer>") == "Boeing\n737-300"


@pytest.mark.parametrize(
    "text",
    [
        "<answer>A</answer><answer>B</answer>",
        "<answer>A</answer></answer>",
        "<answer><answer>B</answer></answer>",
        "</answer>B<answer>",
        "<answer>B",
        "B</answer>",
    ],
)
def test_extract_answer_rejects_zero_or_several_blocks(text):
    assert extract_answer(text, "think") is None
    assert extract_answer(text, "no_think") is None


def test_extract_answer_tag_free_response_is_read_in_both_modes():
    assert extract_answer("737-300", "think") == "737-300"  # no think block: scored on what it answered
    assert extract_answer(" 737-300\n", "no_think") == "737-300"
    # a think tag is a tag: the tag-free reading applies to tag-free responses only ...
    assert extract_answer("<think>x</think> 737-300", "no_think") is None
    # ... and in think mode to what remains once the think block is removed
    assert extract_answer("<think>x</think> 737-300", "think") == "737-300"
    assert extract_answer("   ", "no_think") is None


def test_a_lone_think_close_ends_the_reasoning_but_earns_no_format_reward():
    lone = "The nose is short.\n</think>\n<answer>737-300</answer>"
    assert strip_think(lone) == "\n<answer>737-300</answer>"
    assert accuracy_reward([lone], solution=["737-300"], mode="think") == [1.0]
    assert format_reward([lone], mode="think") == [0.0]  # the template needs its <think>
    assert format_reward(["<think>\nThe nose is short.\n</think>\n<answer>737-300</answer>"]) == [1.0]
    assert extract_think(lone) is None  # no think block: a think-scoped length reward counts 0
    # no_think mode reads the response as given: a stray think tag with no answer block is no answer
    assert extract_answer("reasons</think> 737-300", "no_think") is None


def test_extract_think():
    assert extract_think("<think>\nstep\n</think><answer>B</answer>") == "step"
    assert extract_think("<think>a</think><think>b</think>") is None
    assert extract_think("</think>a<think>") is None
    assert extract_think("<answer>B</answer>") is None


# --- normalize_answer ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("  F/A-18  ", "f/a-18"),
        ("737-300.", "737-300"),
        ("Boeing\t\n 737-300", "boeing 737-300"),
        ("ＰＯＳＩＴＩＶＥ", "positive"),  # full-width, NFKC
        ("STRASSE", "strasse"),
        ("Straße", "strasse"),  # casefold, not lower
        ("'negative'!", "negative"),
        ("**B**", "b"),
        ("(B)", "b"),
        ("DC-9-30", "dc-9-30"),
        ("-3", "-3"),
        ("50%", "50%"),
        ("...", ""),
        ("", ""),
        (None, ""),
    ],
)
def test_normalize_answer(raw, expected):
    assert normalize_answer(raw) == expected


# --- accuracy_reward ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "answer, solution",
    [
        ("737-300", "737-300"),
        (" BOEING  737-300. ", "Boeing 737-300"),
        ("\nPositive\n", "positive"),
        ("Ｂ７３７", "b737"),  # full-width
    ],
)
def test_accuracy_exact_label_after_normalisation(answer, solution):
    for c in both_formats(think(answer)):
        assert accuracy_reward([c], solution=[solution], mode=["think"]) == [1.0]


def test_accuracy_label_containing_slash():
    assert accuracy_reward([think("F/A-18")], solution=["F/A-18"]) == [1.0]
    assert accuracy_reward([think("F/A-18")], solution=["F-16A/B"]) == [0.0]


@pytest.mark.parametrize(
    "completion",
    [
        think("737"),  # prefix of the label
        think("737-300 or 737-400"),  # superstring / hedge
        think("737-300, 737-400"),
        think("737-300/737-400"),
        think(""),  # empty answer
        think("   "),
        "<think>x</think><answer>737-300</answer><answer>737-400</answer>",  # several answers
        "<think>x</think><answer>737-300</answer><answer>737-300</answer>",
        "<think>I think it is 737-300</think>",  # the answer only inside the reasoning
        "The answer is 737-300",
    ],
)
def test_accuracy_hacks_score_zero(completion):
    for c in both_formats(completion):
        assert accuracy_reward([c], solution=["737-300"], mode="think") == [0.0]


def test_accuracy_no_think_tagless_answer_is_lenient_but_exact():
    out = accuracy_reward(
        ["737-300", "it is 737-300", "<answer>737-300</answer>"], solution=["737-300"] * 3, mode=["no_think"] * 3
    )
    assert out == [1.0, 0.0, 1.0]


def test_accuracy_default_mode_reads_as_think():
    assert accuracy_reward(["<think>it is <answer>737-300</answer></think>"], solution=["737-300"]) == [0.0]
    assert accuracy_reward(["<think>x</think> 737-300"], solution=["737-300"]) == [1.0]


# --- think mode: the answer is read after the reasoning --------------------------------------------

THINK_MODE_CASES = [
    # (completion, answer read in think mode, accuracy for "737-300")
    ("<think>It is the 737-300.</think>\n<answer>737-300</answer>", "737-300", 1.0),  # think, then answer
    ("<think>It could be <answer>737-300</answer></think>", None, 0.0),  # answer only inside think
    ("<think>It could be <answer>737-300</answer></think><answer>737-400</answer>", "737-400", 0.0),
    ("<think>The nose is short... <answer>737-300</answer>", None, 0.0),  # unclosed think
    ("<think>unclosed", None, 0.0),
    ("<answer>737-300</answer>", "737-300", 1.0),  # no think block: scored on what it answered
    ("737-300", "737-300", 1.0),  # no think block, no tag: read whole, as in no_think
    ("<answer>737-300</answer><think>x</think>", None, 0.0),  # answer before think
    ("<answer>737-300</answer><think>x", None, 0.0),  # answer before an unclosed think
    ("<think>x</think>", None, 0.0),  # empty remainder
    ("<think>x</think>\n  \n", None, 0.0),  # blank remainder
    ("<think>x</think><answer> </answer>", "", 0.0),  # blank answer
    ("<think>a</think><think>b</think><answer>737-300</answer>", "737-300", 1.0),  # two think blocks
    ("<think>a</think><answer>737-300</answer><think>b</think>", "737-300", 1.0),
    ("<think>a</think><think>b <answer>737-300</answer>", "737-300", 1.0),  # only the first block goes
    ("<think>x</think><answer>737-300</answer><answer>737-400</answer>", None, 0.0),  # two answers remain
    ("<think>x</think> 737-300 ", "737-300", 1.0),  # tag-free remainder
    ("</think>x<think>y</think><answer>737-300</answer>", "737-300", 1.0),  # first well-formed block
    # a lone </think> (the reasoning began without its tag) ends the reasoning, as in lmms-eval / VLMEvalKit
    ("The nose is short.</think>\n737-300", "737-300", 1.0),
    ("The nose is short.\n</think>\n<answer>737-300</answer>", "737-300", 1.0),
    ("maybe <answer>737-400</answer></think><answer>737-300</answer>", "737-300", 1.0),  # inside: removed
    ("maybe <answer>737-300</answer></think>", None, 0.0),  # only inside the reasoning
    ("a</think>b</think> 737-300", None, 0.0),  # the first </think> ends it; a stray one remains
]


@pytest.mark.parametrize("completion, answer, accuracy", THINK_MODE_CASES)
def test_think_mode_reads_the_answer_after_the_think_block(completion, answer, accuracy):
    assert extract_answer(completion, "think") == answer
    for c in both_formats(completion):
        assert accuracy_reward([c], solution=["737-300"], mode="think") == [accuracy]


@pytest.mark.parametrize(
    "remainder",
    ["<answer>737-300</answer>", " 737-300", "<answer>B</answer>", "the table", "<answer>737</answer>", "", "x y"],
)
def test_think_mode_scores_the_remainder_exactly_as_no_think(remainder):
    for solution, choices in (("737-300", []), ("the table", MC_CHOICES)):
        direct = accuracy_reward([remainder], solution=[solution], choices=[choices], mode="no_think")
        thought = accuracy_reward([f"<think>\nreasons\n</think>{remainder}"], solution=[solution], choices=[choices])
        skipped = accuracy_reward([remainder], solution=[solution], choices=[choices], mode="think")
        assert direct == thought == skipped
        assert extract_answer(remainder, "no_think") == extract_answer(f"<think>r</think>{remainder}", "think")


def test_think_mode_without_think_block_loses_only_the_format_reward():
    assert accuracy_reward(["<answer>737-300</answer>"], solution=["737-300"], mode="think") == [1.0]
    assert format_reward(["<answer>737-300</answer>"], mode="think") == [0.0]


@pytest.mark.parametrize(
    "answer",
    [
        "B",
        "b",
        "(B)",
        "B.",
        "B)",
        "B:",
        "B. the table",
        "(B) the table",
        "B) The Table.",
        "the table",
        "The Table",
        "**B**",
    ],
)
def test_accuracy_multiple_choice_accepted_forms(answer):
    for c in both_formats(think(answer)):
        assert accuracy_reward([c], solution=["the table"], choices=[MC_CHOICES], task=["multiple_choice"]) == [1.0]


@pytest.mark.parametrize(
    "answer",
    [
        "A or B",
        "A, B",
        "A/B",
        "A B",
        "AB",
        "A",  # wrong letter
        "the chair",  # wrong text
        "B. the chair",  # right letter, wrong text
        "A. the table",  # wrong letter, right text
        "D",  # letter outside the choices
        "Z",
        "table",  # part of the text
        "the table or the chair",
        "",
        "Option B",
    ],
)
def test_accuracy_multiple_choice_hacks_score_zero(answer):
    for c in both_formats(think(answer)):
        assert accuracy_reward([c], solution=["the table"], choices=[MC_CHOICES]) == [0.0]


def test_accuracy_multiple_choice_slash_choice_is_a_label():
    choices = ["A/B", "C"]
    assert accuracy_reward([think("A/B")], solution=["A/B"], choices=[choices]) == [1.0]
    assert accuracy_reward([think("A")], solution=["A/B"], choices=[choices]) == [1.0]  # letter A
    assert accuracy_reward([think("A/B")], solution=["C"], choices=[choices]) == [0.0]


def test_accuracy_colliding_choices_exact_text_wins():
    choices = ["left", "Left.", "right"]  # A and B collide after normalisation; B is right
    assert (
        accuracy_reward(
            [think(a) for a in ("Left.", "B", "B. Left.", " Left. ")], solution=["Left."] * 4, choices=[choices] * 4
        )
        == [1.0] * 4
    )
    # "left" is exactly choice A; "LEFT" matches A and B normalised: ambiguous
    assert (
        accuracy_reward([think(a) for a in ("left", "A", "LEFT", "C")], solution=["Left."] * 4, choices=[choices] * 4)
        == [0.0] * 4
    )
    assert accuracy_reward([think("left")], solution=["left"], choices=[choices]) == [1.0]
    # a solution that matches several choices only after normalisation names no choice
    assert (
        accuracy_reward([think(a) for a in ("left", "A", "B")], solution=["LEFT"] * 3, choices=[choices] * 3)
        == [0.0] * 3
    )


def test_accuracy_per_sample_columns():
    completions = [think("B"), think("positive"), conv("<answer>negative</answer>")]
    out = accuracy_reward(
        completions,
        solution=["the table", "positive", "negative"],
        choices=[MC_CHOICES, [], []],
        task=["multiple_choice", "binary", "binary"],
        mode=["think", "think", "no_think"],
        trainer_state=None,
        images=[[], [], []],
        id=["1", "2", "3"],
    )
    assert out == [1.0, 1.0, 1.0]


def test_accuracy_never_raises_on_odd_inputs():
    assert accuracy_reward([None, 3, {"x": 1}, [[]]], solution=[None, 1, "", "a"]) == [0.0] * 4
    assert accuracy_reward([think("a")], solution=[]) == [0.0]  # solution column too short
    assert accuracy_reward([], solution=[]) == []


# --- lenient_correct (the published substring rule, recorded beside accuracy) -----------------------


@pytest.mark.parametrize(
    "completion, solution, choices, strict, lenient",
    [
        ("<answer>737-300</answer>", "737-300", [], 1.0, True),
        ("<answer>Boeing 737-300</answer>", "737-300", [], 0.0, True),  # superstring
        ("<answer>737-300 or 737-400</answer>", "737-300", [], 0.0, True),  # hedge
        ("<answer>737</answer>", "737-300", [], 0.0, False),  # prefix
        ("<think>it is 737-300</think>", "737-300", [], 0.0, True),  # no answer block: the whole text
        ("<think>maybe <answer>737-300</answer></think><answer>737-400</answer>", "737-300", [], 0.0, True),
        ("<answer></answer>", "737-300", [], 0.0, False),
        ("<answer>B</answer>", "the table", MC_CHOICES, 1.0, True),
        ("<answer>(b) the chair</answer>", "the table", MC_CHOICES, 0.0, True),  # letter B, read first
        ("<answer>A. the table</answer>", "the table", MC_CHOICES, 0.0, True),  # the right text appears
        ("<answer>on the table</answer>", "the table", MC_CHOICES, 0.0, True),
        ("<answer>A</answer>", "the table", MC_CHOICES, 0.0, False),
        ("<answer>a lamp</answer>", "the chair", MC_CHOICES, 0.0, False),  # "a" is not the letter A here
        ("<answer>Option B</answer>", "the table", MC_CHOICES, 0.0, False),
        # choice texts that are letters: a letter that is another choice's text designates that choice
        ("<answer>A</answer>", "B", ["B", "A"], 0.0, False),  # the text of the second choice, not letter A
        ("<answer>A.</answer>", "B", ["B", "A"], 0.0, False),
        ("<answer>Answer: A</answer>", "B", ["B", "A"], 0.0, False),  # the "a" of "answer" is no choice
        ("<answer>B</answer>", "B", ["B", "A"], 1.0, True),
        ("<answer>A</answer>", "A", ["B", "A"], 1.0, True),
        ("<answer>B. A</answer>", "A", ["A", "B"], 0.0, False),  # letter B, the wrong option
        # one-character texts that are not letters count as separate words only
        ("<answer>there are 3</answer>", "3", ["2", "3", "4"], 0.0, True),
        ("<answer>13</answer>", "3", ["2", "3", "4"], 0.0, False),
        ("<answer>B</answer>", "3", ["2", "3", "4"], 1.0, True),
    ],
)
def test_lenient_correct_beside_strict_accuracy(completion, solution, choices, strict, lenient):
    assert accuracy_reward([completion], solution=[solution], choices=[choices], mode="think") == [strict]
    assert lenient_correct(completion, solution, choices) is lenient
    assert lenient_correct(conv(completion), solution, choices) is lenient


def test_lenient_is_never_stricter_than_accuracy_on_tagged_answers():
    answers = ["B", "b", "(B)", "B.", "B)", "B:", "B. the table", "the table", "The Table", "**B**"]
    for a in answers:
        assert lenient_correct(think(a), "the table", MC_CHOICES), a
    assert lenient_correct(think("737-300"), "737-300") and not lenient_correct(None, "737-300")


@pytest.mark.parametrize("choices", [["A", "B"], ["B", "A"], ["A", "B", "C"], ["C", "A", "B"], ["x", "A"]])
def test_lenient_letter_answers_designate_one_option_when_texts_are_letters(choices):
    """A bare letter (or a choice's whole text) designates one option, the one the strict rule reads."""
    for answer in ("A", "B", "C", "(A)", "b.", "Answer: B"):
        right = [sol for sol in choices if lenient_correct(f"<answer>{answer}</answer>", sol, choices)]
        strict = [sol for sol in choices if accuracy_reward([f"<answer>{answer}</answer>"], [sol], [choices])[0]]
        assert len(right) <= 1, (answer, right)
        if answer != "Answer: B":
            assert right == strict, (answer, right, strict)


def test_evaluation_records_lenient_beside_strict():
    row = {"id": "r", "solution": "737-300", "choices": [], "task": "classification"}
    responses = [
        "<think>x</think><answer>737-300</answer>",
        "<think>x</think><answer>Boeing 737-300</answer>",
        "<think>it is <answer>737-300</answer></think>",
        "<answer>737</answer>",
    ]
    preds = [score({"row": row, "mode": "think", "rotation": 0}, r, 5) for r in responses]
    assert [(p["correct"], p["lenient_correct"]) for p in preds] == [
        (True, True),
        (False, True),
        (False, True),
        (False, False),
    ]
    assert preds[2]["answer"] is None  # the answer inside the reasoning is not read
    m = summarize(preds, "classification")
    assert m["accuracy"] == 0.25 and m["lenient_accuracy"] == 0.75
    old = [{k: v for k, v in p.items() if k != "lenient_correct"} for p in preds]  # predictions from before
    assert math.isnan(summarize(old, "classification")["lenient_accuracy"])


def test_choice_index_exact_text_wins_then_unique_normalised_then_letter():
    assert choice_index("Left.", ["left", "Left."]) == 1
    assert choice_index(" left ", ["left", "Left."]) == 0
    assert choice_index("LEFT", ["left", "Left."]) is None  # collides
    assert choice_index("RIGHT", ["left", "right"]) == 1
    assert choice_index("b", ["x", "y"]) == 1 and choice_index("c", ["x", "y"]) is None
    assert choice_index("", ["x", "y"]) is None


# --- format_reward ------------------------------------------------------------------------------


def test_format_think_multiline():
    text = "<think>\nStep 1: the nose.\n\nStep 2: the engines.\n</think>\n\n<answer>\n747-400\n</answer>\n"
    for c in both_formats(text):
        assert format_reward([c]) == [1.0]
        assert format_reward([c], mode=["think"]) == [1.0]


@pytest.mark.parametrize(
    "text",
    [
        "<answer>B</answer>",  # no think block
        "<think>x</think>",  # no answer
        "<answer>B</answer><think>x</think>",  # wrong order
        "<think>x</think> so <answer>B</answer>",  # text between the blocks
        "Sure! <think>x</think><answer>B</answer>",  # text around
        "<think>x</think><answer>B</answer> done",
        "<think><think>x</think></think><answer>B</answer>",  # nested
        "<think>x</think><answer>B</answer><answer>C</answer>",  # extra block
        "<think>x<answer>B</answer></think><answer>B</answer>",
        "<think>  </think><answer>B</answer>",  # blank think
        "<think>x</think><answer> </answer>",  # blank answer
        "<think>x</think><answer>B",  # unclosed
    ],
)
def test_format_think_rejects(text):
    for c in both_formats(text):
        assert format_reward([c], mode="think") == [0.0]


def test_format_no_think():
    ok = ["<answer>B</answer>", "  <answer>\nBoeing 737-300\n</answer>\n"]
    bad = [
        "B",
        "<think>x</think><answer>B</answer>",
        "<answer>B</answer><answer>C</answer>",
        "x <answer>B</answer>",
        "<answer></answer>",
        "<answer>B</answer></think>",
    ]
    assert format_reward([conv(t) for t in ok], mode="no_think") == [1.0, 1.0]
    assert format_reward(bad, mode="no_think") == [0.0] * len(bad)


def test_format_mode_per_sample_column_wins_over_bound_mode():
    funcs, _ = build_rewards(["format"], mode="think")
    fmt = funcs[0]
    completions = ["<answer>B</answer>", "<think>x</think><answer>B</answer>"]
    assert fmt(completions) == [0.0, 1.0]  # bound think mode
    assert fmt(completions, mode=["no_think", "think"]) == [1.0, 1.0]  # the column wins


# --- normalized_length_reward -------------------------------------------------------------------


def words(n: int) -> str:
    return " ".join(["w"] * n)


def test_length_half_at_target_and_range():
    reward = normalized_length_reward(alpha=1.0, target_length=10, unit="words")
    values = reward([words(n) for n in (0, 5, 10, 20, 100, 10_000)])
    assert values[2] == 0.5
    assert values[0] == pytest.approx(1 / (1 + math.e))  # sigmoid(-alpha)
    assert all(0.0 < v < 1.0 for v in values)
    assert values == sorted(values) and len(set(values)) == len(values)  # increasing
    assert values[-1] - values[-2] < 1e-3 < values[3] - values[2]  # saturating


def test_length_alpha_controls_steepness():
    gentle = normalized_length_reward(alpha=1.0, target_length=10, unit="words")([words(20)])[0]
    steep = normalized_length_reward(alpha=4.0, target_length=10, unit="words")([words(20)])[0]
    assert 0.5 < gentle < steep < 1.0


def test_length_tokens_from_completion_ids():
    reward = normalized_length_reward(target_length=4)
    assert reward(["anything", conv("x")], completion_ids=[[1, 2, 3, 4], [1] * 12]) == pytest.approx(
        [0.5, 1 / (1 + math.exp(-2))]
    )


class WhitespaceTokenizer:
    def encode(self, text, add_special_tokens=False):
        return text.split()


class FakeProcessor:
    tokenizer = WhitespaceTokenizer()


def test_length_tokens_from_tokenizer_and_processor():
    for tok in (WhitespaceTokenizer(), FakeProcessor()):
        reward = normalized_length_reward(target_length=3, tokenizer=tok)
        assert reward([words(3)]) == [0.5]  # no completion_ids: the tokenizer counts


def test_length_tokens_without_ids_or_tokenizer_falls_back_to_words():
    assert normalized_length_reward(target_length=3)([words(3)]) == [0.5]


def test_length_units_chars_and_words():
    text = "<think>abc de</think><answer>B</answer>"
    assert normalized_length_reward(target_length=len(text), unit="chars")([text]) == [0.5]
    assert normalized_length_reward(target_length=2, unit="words")(["<think>abc de</think>"]) == [0.5]


def test_length_scope_think():
    reward = normalized_length_reward(target_length=5, unit="chars", scope="think")
    assert reward.__name__ == "think_length_reward"
    text = "<think>\nabcde\n</think>\n<answer>a very long answer that is not counted</answer>"
    missing = "<answer>" + "x" * 100 + "</answer>"
    unclosed = "<think>" + "x" * 100
    values = reward([text, conv(text), missing, unclosed])
    assert values[:2] == [0.5, 0.5]
    assert values[2] == values[3] == pytest.approx(1 / (1 + math.e))  # L = 0


def test_length_scope_think_tokens_uses_tokenizer():
    reward = normalized_length_reward(target_length=2, scope="think", tokenizer=WhitespaceTokenizer())
    assert reward(["<think>one two</think><answer>x y z w</answer>"], completion_ids=[[1] * 50]) == [0.5]


def test_length_logs_mean_length():
    logged = {}
    reward = normalized_length_reward(target_length=2, unit="words")
    reward(["a b", "a b c d"], log_metric=lambda name, value: logged.update({name: value}))
    assert logged == {"length_reward/mean_words": 3.0}


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"alpha": 0}, "alpha"),
        ({"alpha": float("nan")}, "alpha"),
        ({"target_length": 0}, "target_length"),
        ({"target_length": -5}, "target_length"),
        ({"unit": "token"}, "did you mean 'tokens'"),
        ({"scope": "thinking"}, "did you mean 'think'"),
        ({"unit": "tokens", "scope": "think"}, "tokenizer"),
    ],
)
def test_length_factory_errors(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        normalized_length_reward(**kwargs)


# --- registry -----------------------------------------------------------------------------------


def test_registry_names():
    assert set(REWARDS) == {"accuracy", "format", "length"}


def test_build_rewards_names_and_weights():
    funcs, weights = build_rewards(
        [
            {"name": "accuracy", "weight": 1.0},
            {"name": "format", "weight": 0.5},
            {"name": "length", "weight": 2, "alpha": 1.0, "target_length": 8, "unit": "words", "scope": "think"},
        ],
        mode="think",
    )
    assert [f.__name__ for f in funcs] == ["accuracy_reward", "format_reward", "think_length_reward"]
    assert weights == [1.0, 0.5, 2.0]
    assert all(isinstance(w, float) for w in weights)


def test_build_rewards_binds_mode_for_accuracy():
    # the remainder of a think block is read in think mode; a think tag blocks the tag-free no_think reading
    funcs, _ = build_rewards(["accuracy"], mode="no_think")
    assert funcs[0](["<think>x</think> 737-300"], solution=["737-300"]) == [0.0]
    assert funcs[0](["<think>x</think> 737-300"], solution=["737-300"], mode=["think"]) == [1.0]  # column wins
    funcs, _ = build_rewards(["accuracy"])
    assert funcs[0](["<think>x</think> 737-300"], solution=["737-300"]) == [1.0]


def test_build_rewards_passes_tokenizer():
    spec = [{"name": "length", "scope": "think", "target_length": 2}]
    funcs, _ = build_rewards(spec, tokenizer=WhitespaceTokenizer())
    assert funcs[0](["<think>a b</think><answer>c</answer>"]) == [0.5]


def test_build_rewards_response_and_think_length_have_distinct_names():
    spec = [{"name": "length", "unit": "words"}, {"name": "length", "unit": "words", "scope": "think"}]
    funcs, _ = build_rewards(spec)
    assert [f.__name__ for f in funcs] == ["length_reward", "think_length_reward"]


@pytest.mark.parametrize(
    "spec, message",
    [
        ([{"name": "acuracy"}], "unknown reward 'acuracy' \\(did you mean 'accuracy'\\?\\)"),
        ([{"name": "length", "target_lenght": 10}], "unknown parameter 'target_lenght'.*did you mean 'target_length'"),
        ([{"name": "format", "alpha": 1}], "unknown parameter 'alpha'"),
        ([{"name": "accuracy", "weight": "high"}], "weight"),
        ([{"weight": 1.0}], "'name'"),
        ([{"name": "accuracy"}, {"name": "accuracy"}], "listed twice"),
        ([{"name": "length", "unit": "parsecs"}], "rewards\\[0\\].*unit"),
        ({"name": "accuracy"}, "list"),
    ],
)
def test_build_rewards_errors(spec, message):
    with pytest.raises(ConfigError, match=message):
        build_rewards(spec)


def test_build_rewards_unknown_mode():
    with pytest.raises(ConfigError, match="did you mean 'think'"):
        build_rewards(["format"], mode="thinking")


# --- property: no parsing function or reward ever raises ----------------------------------------

FRAGMENTS = [
    "<think>",
    "</think>",
    "<answer>",
    "</answer>",
    "<answer",
    "think>",
    "</",
    "<",
    ">",
    "\n",
    " ",
    "A",
    "B.",
    "(B)",
    "737-300",
    "F/A-18",
    "ß",
    "\u0301",
    "\x00",
    "🙂",
    "Ｂ",
]
texts = st.one_of(
    st.text(max_size=200),
    st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=20)), max_size=60).map("".join),
    # one fragment repeated up to ~100k characters
    st.tuples(st.sampled_from(FRAGMENTS), st.integers(0, 100_000)).map(lambda t: t[0] * (t[1] // len(t[0]))),
)
# Rewards are built once: the property checks the functions, not the factories.
LENGTH_REWARDS = [
    normalized_length_reward(target_length=16, unit=unit, scope=scope, tokenizer=WhitespaceTokenizer())
    for unit in ("tokens", "words", "chars")
    for scope in ("response", "think")
] + [normalized_length_reward(alpha=50.0, target_length=1, unit="chars")]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=texts, as_conv=st.booleans(), mode=st.sampled_from(["think", "no_think", None, "bogus"]), mc=st.booleans())
def test_property_never_raises_and_stays_in_range(text, as_conv, mode, mc):
    completion = conv(text) if as_conv else text
    assert isinstance(completion_text(completion), str)
    assert extract_answer(text, mode) is None or isinstance(extract_answer(text, mode), str)
    assert extract_think(text) is None or isinstance(extract_think(text), str)
    assert isinstance(normalize_answer(text), str)
    choices = [MC_CHOICES] if mc else [[]]
    for value in accuracy_reward([completion], solution=["the table"], choices=choices, mode=mode):
        assert value in (0.0, 1.0)
    for value in format_reward([completion], mode=mode):
        assert value in (0.0, 1.0)
    for reward in LENGTH_REWARDS:
        (value,) = reward([completion], completion_ids=[list(range(len(text) % 97))])
        assert 0.0 < value < 1.0

"""Prompts, SFT targets and the GRPO / SFT dataset formats."""

from __future__ import annotations

import pytest
from datasets import Dataset
from PIL import Image

from vrft_lib.errors import ConfigError, DataError
from vrft_lib.prompts import (
    FORMAT_INSTRUCTIONS,
    answer_letter,
    build_messages,
    sft_target,
    to_grpo_dataset,
    to_sft_dataset,
    user_text,
)
from vrft_lib.rewards import accuracy_reward, format_reward
from vrft_lib.vocab import PROMPT_MODES as MODES

THINK_TEXT = (
    "Reason step by step inside <think> </think> tags, then give only the final answer inside <answer> </answer> tags."
)
THINK_CHOICE = (
    "Reason step by step inside <think> </think> tags, "
    "then give only the letter of the correct option inside <answer> </answer> tags."
)
NO_THINK_TEXT = "Answer directly with only the final answer inside <answer> </answer> tags, without any reasoning."
NO_THINK_CHOICE = (
    "Answer directly with only the letter of the correct option inside <answer> </answer> tags, without any reasoning."
)


def image(color="red"):
    return Image.new("RGB", (8, 8), color)


BINARY = {
    "id": "banner-1",
    "images": [image()],
    "question": "Is the content of this banner positive or negative?",
    "solution": "negative",
    "choices": [],
    "task": "binary",
    "rationale": "",
}
CLASSIFICATION = {
    "id": "1025794",
    "images": [image("blue")],
    "question": "Which aircraft variant is shown?",
    "solution": "F/A-18",
    "choices": [],
    "task": "classification",
    "rationale": "",
}
MULTIPLE_CHOICE = {
    "id": "sat-7",
    "images": [image(), image("green")],
    "question": "Did the camera move left or right between the two frames?",
    "solution": "right",
    "choices": ["left", "right"],
    "task": "multiple_choice",
    "rationale": "The door shifts to the left of the frame, so the camera turned right.",
}
ROWS = [BINARY, CLASSIFICATION, MULTIPLE_CHOICE]


def test_modes():
    assert MODES == ("no_think", "think")
    assert set(FORMAT_INSTRUCTIONS) == set(MODES)


@pytest.mark.parametrize(
    "row, mode, classes, expected",
    [
        (BINARY, "think", None, f"Is the content of this banner positive or negative?\n{THINK_TEXT}"),
        (BINARY, "no_think", None, f"Is the content of this banner positive or negative?\n{NO_THINK_TEXT}"),
        (CLASSIFICATION, "think", None, f"Which aircraft variant is shown?\n{THINK_TEXT}"),
        (
            CLASSIFICATION,
            "no_think",
            ["F/A-18", "737-300", "Cessna 172"],
            f"Which aircraft variant is shown?\nA. F/A-18\nB. 737-300\nC. Cessna 172\n{NO_THINK_CHOICE}",
        ),
        (
            CLASSIFICATION,
            "no_think",
            [f"class {k}" for k in range(30)],
            "Which aircraft variant is shown?\nOptions: "
            + ", ".join(f"class {k}" for k in range(30))
            + f"\n{NO_THINK_TEXT}",
        ),
        (
            MULTIPLE_CHOICE,
            "think",
            None,
            f"Did the camera move left or right between the two frames?\nA. left\nB. right\n{THINK_CHOICE}",
        ),
        (
            MULTIPLE_CHOICE,
            "no_think",
            ["ignored"],
            f"Did the camera move left or right between the two frames?\nA. left\nB. right\n{NO_THINK_CHOICE}",
        ),
    ],
)
def test_user_text_exact(row, mode, classes, expected):
    assert user_text(row, mode, classes) == expected


def test_unknown_mode():
    with pytest.raises(ConfigError, match="did you mean 'no_think'"):
        user_text(BINARY, "nothink")


@pytest.mark.parametrize("row", ROWS)
@pytest.mark.parametrize("mode", MODES)
def test_build_messages_one_placeholder_per_image_no_system(row, mode):
    messages = build_messages(row, mode)
    assert [m["role"] for m in messages] == ["user"]
    content = messages[0]["content"]
    assert content[: len(row["images"])] == [{"type": "image"}] * len(row["images"])
    assert content[-1] == {"type": "text", "text": user_text(row, mode)}
    assert len(content) == len(row["images"]) + 1


def test_answer_letter():
    assert answer_letter(MULTIPLE_CHOICE) == "B"
    assert answer_letter({**MULTIPLE_CHOICE, "solution": " Right "}) == "B"  # normalised match
    with pytest.raises(DataError, match="none of the choices"):
        answer_letter({**MULTIPLE_CHOICE, "solution": "up"})
    with pytest.raises(DataError, match="no choices"):
        answer_letter(BINARY)


def test_answer_letter_colliding_choices_agrees_with_the_reward():
    choices = ["left", "Left.", "right"]  # A and B collide after normalisation
    for solution, letter in (("Left.", "B"), ("left", "A"), ("right", "C")):
        row = {"id": "c", "solution": solution, "choices": choices, "rationale": ""}
        assert answer_letter(row) == letter
        for mode in MODES:
            target = sft_target(row, mode)
            assert accuracy_reward([target], solution=[solution], choices=[choices], mode=[mode]) == [1.0]
            wrong = target.replace(
                f"<answer>{letter}</answer>", "<answer>" + ("A" if letter != "A" else "B") + "</answer>"
            )
            assert accuracy_reward([wrong], solution=[solution], choices=[choices], mode=[mode]) == [0.0]
    with pytest.raises(DataError, match=r"matches several choices after normalisation \(\['left', 'Left\.'\]\)"):
        answer_letter({"id": "c", "solution": "LEFT", "choices": choices})


def test_sft_targets():
    assert sft_target(BINARY, "no_think") == "<answer>negative</answer>"
    assert sft_target(CLASSIFICATION, "no_think") == "<answer>F/A-18</answer>"
    assert sft_target(MULTIPLE_CHOICE, "no_think") == "<answer>B</answer>"
    assert sft_target(MULTIPLE_CHOICE, "think") == (
        "<think>\nThe door shifts to the left of the frame, so the camera turned right.\n</think>\n<answer>B</answer>"
    )
    # no rationale: a generic one-sentence rationale
    assert sft_target(BINARY, "think") == (
        "<think>\nLooking at the image, the answer is negative.\n</think>\n<answer>negative</answer>"
    )
    assert sft_target({**MULTIPLE_CHOICE, "rationale": ""}, "think") == (
        "<think>\nLooking at the image, the answer is B. right.\n</think>\n<answer>B</answer>"
    )


@pytest.mark.parametrize("row", ROWS)
@pytest.mark.parametrize("mode", MODES)
def test_sft_targets_earn_full_accuracy_and_format(row, mode):
    target = sft_target(row, mode)
    kwargs = {"solution": [row["solution"]], "choices": [row["choices"]], "mode": [mode]}
    assert accuracy_reward([target], **kwargs) == [1.0]
    assert format_reward([[{"role": "assistant", "content": target}]], mode=[mode]) == [1.0]


@pytest.fixture(scope="module")
def dataset():
    return Dataset.from_list(ROWS)


def test_grpo_dataset_columns(dataset):
    grpo = to_grpo_dataset(dataset, "think", classes=["F/A-18", "737-300"])
    assert set(grpo.column_names) == {"prompt", "images", "solution", "choices", "task", "mode", "id"}
    assert grpo["mode"] == ["think"] * 3
    assert grpo["solution"] == ["negative", "F/A-18", "right"]
    row = grpo[2]
    assert row["prompt"] == build_messages(MULTIPLE_CHOICE, "think")
    assert len(row["images"]) == 2 and isinstance(row["images"][0], Image.Image)
    assert "A. F/A-18\nB. 737-300" in grpo[1]["prompt"][0]["content"][-1]["text"]
    assert grpo["choices"][1] == ["F/A-18", "737-300"]  # so that the rewards accept the letter too


def test_sft_dataset_columns(dataset):
    sft = to_sft_dataset(dataset, "no_think")
    assert set(sft.column_names) == {"prompt", "completion", "images"}
    row = sft[2]
    assert row["prompt"] == build_messages(MULTIPLE_CHOICE, "no_think")
    assert row["completion"] == [{"role": "assistant", "content": "<answer>B</answer>"}]
    assert len(row["images"]) == 2 and isinstance(row["images"][1], Image.Image)


def test_dataset_from_a_list_of_rows():
    assert to_grpo_dataset(ROWS, "no_think").num_rows == 3


def test_grpo_prompt_fills_with_trl(dataset):
    """TRL puts the row's images into the placeholders: counts must match."""
    from trl.data_utils import prepare_multimodal_messages

    for row in to_grpo_dataset(dataset, "think"):
        filled = prepare_multimodal_messages(row["prompt"], images=row["images"])
        parts = filled[0]["content"]
        assert [p["image"] for p in parts if p["type"] == "image"] == row["images"]


def test_rewards_read_grpo_dataset_columns(dataset):
    """Dataset columns (``datasets`` Column objects, not lists) work as reward keyword arguments."""
    for mode in MODES:
        grpo = to_grpo_dataset(dataset, mode)
        targets = [sft_target(row, mode) for row in ROWS]
        kwargs = {key: grpo[key] for key in ("solution", "choices", "task", "mode", "id")}
        assert accuracy_reward(targets, **kwargs) == [1.0, 1.0, 1.0]
        assert format_reward(targets, **kwargs) == [1.0, 1.0, 1.0]
        assert format_reward(targets, mode=grpo["mode"]) == [1.0, 1.0, 1.0]


def test_answer_with_text_asks_for_the_option_text_and_trains_on_it():
    row = {"id": "r", "question": "Which object is closer to the camera?", "solution": "the red circle"}
    row |= {"choices": ["the blue square", "the red circle"], "rationale": "", "answer_with": "text"}
    text = user_text(row, "no_think")
    assert "A. the blue square\nB. the red circle" in text
    assert text.endswith(
        "Answer directly with only the text of the correct option inside <answer> </answer> tags, "
        "without any reasoning."
    )
    assert "letter" not in user_text(row, "think")
    assert sft_target(row, "no_think") == "<answer>the red circle</answer>"
    assert sft_target(row, "think").endswith("the answer is the red circle.\n</think>\n<answer>the red circle</answer>")
    for answer in ("the red circle", "B"):  # the reward scores the text and the letter alike
        completion = [[{"role": "assistant", "content": f"<answer>{answer}</answer>"}]]
        scored = accuracy_reward(completion, solution=[row["solution"]], choices=[row["choices"]], mode=["no_think"])
        assert scored == [1.0]
    letters = dict(row, answer_with="letter")
    assert sft_target(letters, "no_think") == "<answer>B</answer>" and "letter" in user_text(letters, "no_think")
    with pytest.raises(DataError, match="answer_with='both'.*letter, text"):
        user_text(dict(row, answer_with="both"), "think")

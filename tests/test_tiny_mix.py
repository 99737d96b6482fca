"""The tiny base's instruction mix teaches generic skills, never a stand-in's examples."""

import io
import re

import numpy as np

from vrft_lib.data import synthetic, synthetic_count
from vrft_lib.tiny import instruct_mix
from vrft_lib.tiny.base import RECIPE, recipe_stages


def _pixels(img) -> bytes:
    if isinstance(img, bytes | bytearray):
        from PIL import Image

        img = Image.open(io.BytesIO(img))
    return np.asarray(img.convert("RGB")).tobytes()


def test_the_mix_holds_no_stand_in_question_image_or_class_name():
    mix = instruct_mix.generate("train", limit=1200, image_size=synthetic.DEFAULT_IMAGE_SIZE)
    stand_ins = (
        synthetic.generate_banner("train", 200)
        + synthetic.generate_aircraft("train", 200)
        + synthetic.generate_aircraft("train", 200, num_classes=10, names="words")
        + synthetic.generate_spatial("train", 300)
        + synthetic_count.generate_count("train", 300)
    )
    questions = {r["question"] for r in stand_ins}
    assert not questions & {r["question"] for r in mix}
    images = {_pixels(r["images"][0]) for r in stand_ins}
    assert not images & {_pixels(r["images"][0]) for r in mix}
    text = " ".join(r["question"] + " " + r["rationale"] + " " + " ".join(r["choices"]) for r in mix)
    assert not [name for name in synthetic.aircraft_classes(100) if name in text]
    # Names in words ("red swept") are generic descriptions: the mix says them only of marks (pair rows
    # answered straight or swept are drawn as marks), never of an aircraft (no aircraft image, question
    # or word in the mix).
    names = synthetic.aircraft_word_classes(10)
    worded = [r for r in mix if any(n in r["question"] + " " + r["solution"] for n in names)]
    assert worded and {r["kind"] for r in worded} == {"pair"}
    assert all(r["solution"].split()[-1] in ("straight", "swept") for r in worded)
    assert "aircraft" not in text.lower() and "wing" not in text.lower()
    assert {r["kind"] for r in mix} == set(instruct_mix.KINDS)


def test_recipe_stages_train_on_part_of_the_mix_first():
    assert recipe_stages(RECIPE) == [{"kinds": None, "rows": RECIPE["instruct_rows"], "sft": RECIPE["sft"]}]
    recipe = {"instruct_rows": 8, "sft": {"max_steps": 2, "learning_rate": 1e-3}}
    recipe["stages"] = [{"kinds": ["colour"], "rows": 4, "sft": {"max_steps": 1}}, {}]
    first, second = recipe_stages(recipe)
    assert first == {"kinds": ["colour"], "rows": 4, "sft": {"max_steps": 1, "learning_rate": 1e-3}}
    assert second == {"kinds": None, "rows": 8, "sft": recipe["sft"]}
    assert {r["kind"] for r in instruct_mix.generate("train", 6, kinds=["colour", "shape"])} == {"colour", "shape"}


def test_the_banner_words_come_only_with_signs_and_the_two_common_knowledge_colours():
    mix = instruct_mix.generate("train", limit=480)
    worded = [r for r in mix if {"positive", "negative"} & set((r["question"] + " " + r["solution"]).split())]
    assert worded and {r["kind"] for r in worded} == {"sign", "mood"}
    assert {r["solution"] for r in worded} == {"positive", "negative"}
    # the mood of a colour only for green (positive) and red (negative), never a banner's other colours
    moods = {(re.search(r"mostly (\w+)", r["rationale"])[1], r["solution"]) for r in worded if r["kind"] == "mood"}
    assert moods == {("green", "positive"), ("red", "negative")}
    assert not any("banner" in (r["question"] + r["rationale"]).lower() for r in mix)


def test_a_rationale_opens_with_the_two_words_its_question_offers():
    """Reasoning set by what is asked: "... positive or negative?" is reasoned "The choice is positive or
    negative. ..."; a question that offers no two words gets no such opening."""
    mix = instruct_mix.generate("train", limit=len(instruct_mix.KINDS) * 10)
    asked = {r["id"]: re.search(r"(\w+) or (\w+)\?$", r["question"]) for r in mix}
    offered = [r for r in mix if asked[r["id"]]]
    assert {r["kind"] for r in offered} >= {"sign", "mood", "amount", "more", "mark", "pair", "either_or", "yes_no"}
    for r in offered:
        x, y = asked[r["id"]].groups()
        assert r["rationale"].startswith(f"The choice is {x} or {y}. "), r
    assert not any(r["rationale"].startswith("The choice") for r in mix if not asked[r["id"]])


def _colour_pixels(img) -> dict[str, int]:
    """How many pixels of each of the mix's colours an image holds (within a small distance)."""
    px = np.asarray(img.convert("RGB")).astype(int).reshape(-1, 3)
    return {
        name: int((np.abs(px - np.array(rgb)).sum(axis=1) < 40).sum()) for name, rgb in instruct_mix.COLOURS.items()
    }


def test_a_thing_is_named_by_the_colour_of_its_body_not_of_its_small_parts():
    rows = instruct_mix.generate("train", limit=len(instruct_mix.KINDS) * 60)
    named = [r for r in rows if r["kind"] == "colour"]
    with_parts = 0
    for r in named:
        counts = _colour_pixels(r["images"][0])
        assert max(counts, key=counts.get) == r["solution"], (r["id"], counts)
        with_parts += sum(n > 0 for c, n in counts.items() if c != r["solution"]) > 0
    assert 0.3 * len(named) < with_parts < 0.8 * len(named)  # about half of the things carry parts of other colours


def test_the_colour_answered_to_an_amount_row_covers_more_of_the_picture():
    rows = [r for r in instruct_mix.generate("train", limit=len(instruct_mix.KINDS) * 80) if r["kind"] == "amount"]
    assert len(rows) >= 100
    wrong = []
    for r in rows:
        other = next(w for w in r["question"].rstrip("?").split(": ")[1].split(" or ") if w != r["solution"])
        counts = _colour_pixels(r["images"][0])
        if counts[r["solution"]] <= counts[other]:
            wrong.append((r["id"], counts))
    # A few rows of shapes of one size disagree: two triangles (half a square's area each) against one
    # square (3 of the 6,144 rows the base trains on, measured).
    assert len(wrong) <= 0.02 * len(rows), wrong


def test_only_a_marks_parts_are_asked_straight_or_swept():
    rows = [r for r in instruct_mix.generate("train", limit=len(instruct_mix.KINDS) * 80) if r["kind"] == "pair"]
    parts = [r for r in rows if " are its " in r["question"]]
    assert parts and all(r["solution"].split()[-1] in ("straight", "swept") for r in parts)
    assert all(f"its {r['question'].split(' are its ')[1].split()[0]} are " in r["rationale"] for r in parts)

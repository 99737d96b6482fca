"""The tiny base's instruction mix teaches generic skills, never a stand-in's examples."""

import io

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
    moods = {(r["rationale"].split()[4].rstrip(","), r["solution"]) for r in worded if r["kind"] == "mood"}
    assert moods == {("green", "positive"), ("red", "negative")}
    assert not any("banner" in (r["question"] + r["rationale"]).lower() for r in mix)

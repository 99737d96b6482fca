"""A generic synthetic instruction mix: what makes the tiny model an "instruct" model.

The real Qwen2.5-VL-7B-Instruct arrives able to look at an image, follow the prompt format and pick an
answer among the options a question offers. The tiny CPU model gets the same head start from a short
SFT on this mix: naming colours and shapes, counting, yes/no questions, picking among "X or Y" options,
listed options and lettered choices, in both prompt modes. It also carries one prior of the kind a
pretrained model has: green feels positive and red negative (the "mood" rows). None of it is one of
the three benchmarks (no banners, no aircraft, no spatial relations), so training-free accuracy on
them stays low and fine-tuning has something to learn.

Rows follow the benchmark schema of :mod:`vrft_lib.data`; they are not a registered benchmark, only
the tiny base's training data (:func:`vrft_lib.tiny.base.instruct_sft_dataset`).
"""

from __future__ import annotations

import math
import random
import re

from PIL import Image, ImageDraw

COLOURS = {
    "red": (220, 30, 30),
    "green": (30, 170, 60),
    "blue": (40, 70, 220),
    "yellow": (235, 210, 30),
    "purple": (140, 50, 170),
    "orange": (245, 140, 20),
    "black": (20, 20, 20),
    "white": (250, 250, 250),
}
SHAPES = ("circle", "square", "triangle")
THINGS = ("shape", "mark", "sign", "figure", "object", "thing")  # what a two-word question calls its subject
MARK_PARTS = ("arms", "strokes", "lines", "sides")  # what a mark's straight or swept parts are called
NUMBER_WORDS = {1: "1", 2: "2", 3: "3", 4: "4"}
KINDS = (
    *("colour", "shape", "count", "yes_no", "either_or", "options"),
    *("amount", "guess", "pair", "guess", "sign", "mood"),
    *("mark", "pair", "count_colour", "more", "amount"),
)
# "guess" rows: a question about something the image does not show, with lettered options and an
# arbitrary right letter. They teach the answer format of multiple choice for any question and any
# options (letters), and nothing about which option is right: the model starts every new
# multiple-choice task at chance, as an instruct model meeting an unfamiliar task would.
FILLER = (
    "which",
    "item",
    "best",
    "matches",
    "this",
    "picture",
    "kind",
    "type",
    "sign",
    "mark",
    "scene",
    "label",
    "style",
    "group",
    "part",
    "name",
    "model",
    "object",
    "here",
    "shown",
    "most",
    "likely",
    "describes",
    "category",
    "version",
    "pattern",
    "layout",
    "design",
    "class",
    "option",
)
CODE_PARTS = ("AB", "K", "Z", "M", "Q", "RT", "L", "V", "X", "N")


def _draw_shape(draw, shape, box, fill):
    x0, y0, x1, y1 = box
    if shape == "circle":
        draw.ellipse(box, fill=fill)
    elif shape == "square":
        draw.rectangle(box, fill=fill)
    else:
        draw.polygon([((x0 + x1) / 2, y0), (x1, y1), (x0, y1)], fill=fill)


def _background(rng):
    g = rng.randint(120, 170)  # mid grey, so black and white shapes both stand out
    return (g, g, g)


def _one_shape_image(rng, size, colour, shape, big=None):
    g = rng.randint(60, 170)  # dark to mid grey; black shapes only on the lighter ones
    g = max(g, 120) if colour == "black" else g
    img = Image.new("RGB", (size, size), (g, g, g))
    d = ImageDraw.Draw(img)
    if big is None:
        s = rng.randint(size // 2, size - 8)
    else:
        s = rng.randint(int(size * 0.7), size - 6) if big == "big" else rng.randint(size // 5, size // 3)
    x, y = rng.randint(2, size - s - 2), rng.randint(2, size - s - 2)
    _draw_shape(d, shape, (x, y, x + s, y + s), COLOURS[colour])
    if rng.random() < 0.5:
        _details(rng, d, (x, y, x + s, y + s), colour)
    return img


def _details(rng, draw, box, colour):
    """Small parts of other colours on a thing (dots, a tab at one side), as real things have: the
    thing's colour is the colour of its body, not of every part of it."""
    x0, y0, x1, y1 = box
    s = x1 - x0
    others = [c for c in COLOURS if c != colour]
    for _ in range(rng.randint(1, 2)):  # dots inside the body
        r = max(1, s // 10)
        cx, cy = rng.uniform(x0 + s / 3, x1 - s / 3), rng.uniform(y0 + s / 3, y1 - s / 3)
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=COLOURS[rng.choice(others)])
    if rng.random() < 0.5:  # a tab at one side
        t = max(2, s // 5)
        side = rng.choice(["left", "right", "top", "bottom"])
        mx, my = (x0 + x1) / 2, (y0 + y1) / 2
        tab = {
            "left": (x0 - t / 2, my - t, x0 + t / 2, my + t),
            "right": (x1 - t / 2, my - t, x1 + t / 2, my + t),
            "top": (mx - t, y0 - t / 2, mx + t, y0 + t / 2),
            "bottom": (mx - t, y1 - t / 2, mx + t, y1 + t / 2),
        }[side]
        draw.rectangle(tab, fill=COLOURS[rng.choice(others)])


def _count_image(rng, size, n):
    img = Image.new("RGB", (size, size), _background(rng))
    d = ImageDraw.Draw(img)
    cell = size // 2
    cells = rng.sample([(0, 0), (0, 1), (1, 0), (1, 1)], n)
    for cx, cy in cells:
        s = cell - 6
        x, y = cx * cell + 3, cy * cell + 3
        _draw_shape(
            d, rng.choice(SHAPES), (x, y, x + s, y + s), COLOURS[rng.choice(["red", "blue", "yellow", "black"])]
        )
    return img


def _mark_image(rng, size, colour, swept: bool):
    """A mark that is not an aircraft: a stem with two arms, straight across it (a T) or swept back
    (an arrow head), turned by a random angle."""
    img = Image.new("RGB", (size, size), _background(rng))
    d = ImageDraw.Draw(img)
    c, r = size / 2 + rng.uniform(-3, 3), size * rng.uniform(0.3, 0.4)
    turn = math.radians(rng.uniform(0, 360))
    w = max(2, round(size * rng.uniform(0.06, 0.09)))

    def at(x, y):  # the mark's own frame, stem along x
        return (c + x * math.cos(turn) - y * math.sin(turn), c + x * math.sin(turn) + y * math.cos(turn))

    ink = COLOURS[colour]
    d.line([at(-r, 0), at(r, 0)], fill=ink, width=w)
    for side in (1, -1):
        tip = at(-0.75 * r, side * 0.8 * r) if swept else at(0.1 * r, side * 0.9 * r)
        d.line([at(0.25 * r if swept else 0.1 * r, 0), tip], fill=ink, width=w)
    if rng.random() < 0.5:  # a small part of another colour at one end of the stem
        ex, ey = at(rng.choice([-r, r]), 0)
        d.ellipse((ex - w, ey - w, ex + w, ey + w), fill=COLOURS[rng.choice([c for c in COLOURS if c != colour])])
    return img


def _colour_count_image(rng, size, counts: dict):
    """Shapes of the given colours, one per cell of a 2x2 grid, of varied sizes."""
    img = Image.new("RGB", (size, size), _background(rng))
    d = ImageDraw.Draw(img)
    cell = size // 2
    items = [c for c, n in counts.items() for _ in range(n)]
    for c, (cx, cy) in zip(items, rng.sample([(0, 0), (0, 1), (1, 0), (1, 1)], len(items))):
        s = rng.randint(cell // 3, cell - 4)
        x, y = cx * cell + rng.randint(1, cell - s - 1), cy * cell + rng.randint(1, cell - s - 1)
        _draw_shape(d, rng.choice(SHAPES), (x, y, x + s, y + s), COLOURS[c])
    return img


def _amount_shapes_image(rng, size, big: str, small: str):
    """Shapes of two colours, one per cell of a 2x2 grid, so that ``big`` covers more of the picture:
    either one to three of each, those of ``big`` drawn large and those of ``small`` small, whatever the
    counts; or all of about one size, more of ``big`` than of ``small``."""
    img = Image.new("RGB", (size, size), _background(rng))
    d = ImageDraw.Draw(img)
    cell = size // 2
    same_size = rng.random() < 0.5
    if same_size:
        n_big = rng.randint(2, 3)
        n_small = rng.randint(1, min(n_big - 1, 4 - n_big))
    else:
        n_big = rng.randint(1, 3)
        n_small = rng.randint(1, 4 - n_big)
    items = [big] * n_big + [small] * n_small
    for c, (cx, cy) in zip(items, rng.sample([(0, 0), (0, 1), (1, 0), (1, 1)], len(items))):
        if same_size:
            s = rng.randint(cell - 12, cell - 6)
        else:
            s = rng.randint(cell - 8, cell - 3) if c == big else rng.randint(cell // 5, cell // 3)
        x, y = cx * cell + rng.randint(1, cell - s - 1), cy * cell + rng.randint(1, cell - s - 1)
        _draw_shape(d, rng.choice(SHAPES), (x, y, x + s, y + s), COLOURS[c])
    return img


BRIGHT, DARK = ("yellow", "white", "orange"), ("black", "purple", "blue")
WARM, COOL = ("red", "orange", "yellow"), ("blue", "green", "purple")


def _either_or(rng, colour, shape):
    """Two words offered by the question, the right one, and why."""
    pairs = ["colour", "round", "size"]
    if colour in BRIGHT + DARK:
        pairs.append("bright")
    if colour in WARM + COOL:
        pairs.append("warm")
    kind = rng.choice(pairs)
    if kind == "colour":
        other = rng.choice([c for c in COLOURS if c != colour])
        return [colour, other], colour, f"The shape is {colour}, not {other}, so the answer is {colour}."
    if kind == "round":
        a = "round" if shape == "circle" else "angular"
        return ["round", "angular"], a, f"The shape is a {shape}, which is {a}, so the answer is {a}."
    if kind == "size":
        a = rng.choice(["big", "small"])
        return ["big", "small"], a, f"The shape fills {'most' if a == 'big' else 'little'} of the image, so it is {a}."
    if kind == "bright":
        a = "bright" if colour in BRIGHT else "dark"
        return ["bright", "dark"], a, f"The shape is {colour}, a {a} colour, so the answer is {a}."
    a = "warm" if colour in WARM else "cool"
    return ["warm", "cool"], a, f"The shape is {colour}, a {a} colour, so the answer is {a}."


# A question that ends by offering two words ("... positive or negative?"). The reasoning of such a row
# opens by restating them, so that which line of reasoning follows is set by what is asked, not only
# by how the picture looks.
OFFERED = re.compile(r"(\w+) or (\w+)\?$")


def make_row(rng: random.Random, index: int, size: int = 56, kind: str | None = None) -> dict:
    """One instruction example in the benchmark schema (images as PIL)."""
    kind = kind or KINDS[index % len(KINDS)]
    colour, shape = rng.choice(list(COLOURS)), rng.choice(SHAPES)
    img = _one_shape_image(rng, size, colour, shape)
    choices: list[str] = []
    options: list[str] | None = None
    task = "classification"
    answer_in_words = False
    if kind == "colour":
        q, a = "What colour is the shape in the image?", colour
        why = f"The image shows a {colour} {shape}, so its colour is {colour}."
    elif kind == "shape":
        q, a = "What shape is shown in the image?", shape
        why = f"The image shows a {colour} {shape}, so the shape is a {shape}."
    elif kind == "count":
        n = rng.randint(1, 4)
        img = _count_image(rng, size, n)
        q, a = "How many shapes are in the image?", NUMBER_WORDS[n]
        why = f"I count the shapes one by one and find {n}, so there are {n} shapes."
    elif kind == "yes_no":
        asked = rng.choice([colour, rng.choice(list(COLOURS))])
        a = "yes" if asked == colour else "no"
        q, task = f"Is the shape {asked}: yes or no?", "binary"
        why = f"The shape is {colour}, which {'is' if a == 'yes' else 'is not'} {asked}, so the answer is {a}."
    elif kind == "either_or":
        # Pick one of two words offered by the question: the skill a binary benchmark asks for.
        words, a, why = _either_or(rng, colour, shape)
        img = _one_shape_image(rng, size, colour, shape, big=a if words == ["big", "small"] else None)
        if rng.random() < 0.5:
            words = words[::-1]
        q, task = f"Is the shape {words[0]} or {words[1]}?", "binary"
    elif kind == "sign":
        # A plus or a minus sign: the words "positive" and "negative" in a sense that has nothing to
        # do with sentiment, as a pretrained model knows them.
        positive = rng.random() < 0.5
        img = Image.new("RGB", (size, size), _background(rng))
        d = ImageDraw.Draw(img)
        c, arm, w = size / 2 + rng.randint(-4, 4), rng.randint(size // 4, size // 3), rng.randint(3, 5)
        ink = COLOURS[rng.choice(["black", "white", "blue", "red"])]
        d.rectangle((c - arm, c - w, c + arm, c + w), fill=ink)
        if positive:
            d.rectangle((c - w, c - arm, c + w, c + arm), fill=ink)
        a = "positive" if positive else "negative"
        words = ["positive", "negative"] if rng.random() < 0.5 else ["negative", "positive"]
        q, task = f"Is this sign {words[0]} or {words[1]}?", "binary"
        why = f"The sign is a {'plus' if positive else 'minus'}, so it is {a}."
    elif kind == "mood":
        # The mood of a colour, for the two colours whose meaning is common knowledge (green feels
        # positive, red negative) and no other: a pretrained model's prior, not a banner's rule.
        fill = rng.choice(["green", "red"])
        img = Image.new("RGB", (size, size), tuple(min(255, max(0, c + rng.randint(-15, 15))) for c in COLOURS[fill]))
        s = rng.randint(size // 6, size // 3)
        x, y = rng.randint(2, size - s - 2), rng.randint(2, size - s - 2)
        _draw_shape(ImageDraw.Draw(img), shape, (x, y, x + s, y + s), COLOURS[rng.choice(["white", "black"])])
        a = "positive" if fill == "green" else "negative"
        q = rng.choice(
            ["Does this picture feel positive or negative?", "Is the mood of this colour positive or negative?"]
        )
        task = "binary"
        why = f"The picture is mostly {fill}, and {fill} feels {a}, so the answer is {a}."
    elif kind == "options":
        if rng.random() < 0.5:
            q, a, options = "What colour is the shape?", colour, list(COLOURS)
        else:
            q, a, options = "What shape is it?", shape, list(SHAPES)
        why = f"The image shows a {colour} {shape}; {a} is one of the options, so the answer is {a}."
        # half of them answered in words (the options on one line), half by letter
        answer_in_words = rng.random() < 0.5
    elif kind == "mark":
        # Straight or swept: the words of a part the model has not seen on an aircraft, on a plain mark.
        swept = rng.random() < 0.5
        img = _mark_image(rng, size, colour, swept)
        a = "swept" if swept else "straight"
        words = ["straight", "swept"] if rng.random() < 0.5 else ["swept", "straight"]
        q, task = f"Is this mark {words[0]} or {words[1]}?", "binary"
        why = f"The arms of the mark {'point back' if swept else 'stand straight across'}, so it is {a}."
    elif kind == "pair":
        # Two facts in one answer of two words: the colour, then one of two words the question offers.
        # A mark's arms, straight across it or swept back: the words of the aircraft stand-in's
        # names, said of a mark that is not an aircraft (docs/data.md).
        # The thing is named by any of a few nouns, whatever it is, so that the two words offered are
        # what tells which second word to write, not the noun.
        thing, pick = rng.choice(THINGS), rng.random()
        if pick < 1 / 3:
            second, words = ("round" if shape == "circle" else "angular"), ["round", "angular"]
        elif pick < 2 / 3:
            second, words = rng.choice(["big", "small"]), ["big", "small"]
            img = _one_shape_image(rng, size, colour, shape, big=second)
        else:
            second, words = rng.choice(["straight", "swept"]), ["straight", "swept"]
            img = _mark_image(rng, size, colour, second == "swept")
        rng.shuffle(words)
        a = f"{colour} {second}"
        # a mark's arms may be asked about as its parts: "are its arms straight or swept?"
        part = rng.choice(MARK_PARTS) if words[0] in ("straight", "swept") and rng.random() < 0.5 else None
        ask = f"are its {part} {words[0]} or {words[1]}" if part else f"is it {words[0]} or {words[1]}"
        q = f"What colour is the {thing}, and {ask}?"
        if rng.random() < 0.5:
            q = f"Which {thing} is this: what colour is it, and {ask}?"
        said = f"its {part} are {second}" if part else f"it is {second}"
        why = f"The {thing} is {colour}, and {said}, so the answer is {a}."
    elif kind == "count_colour":
        # Counting the shapes of one named colour, among shapes of two colours.
        c1, c2 = rng.sample(["red", "blue", "green", "yellow"], 2)
        n1 = rng.randint(1, 3)
        n2 = rng.randint(0, 4 - n1)
        img = _colour_count_image(rng, size, {c1: n1, c2: n2})
        q = f"How many {c1} shapes are in the image?"
        a = NUMBER_WORDS[n1]
        why = f"I count the {c1} shapes one by one and find {n1}, so there are {n1} {c1} shapes."
    elif kind == "more":
        # The rule as text: the larger of two stated numbers of things, on a plain picture.
        img = Image.new("RGB", (size, size), _background(rng))
        thing = rng.choice(["apples", "boxes", "cars", "birds", "cups"])
        n1, n2 = rng.sample([1, 2, 3, 4], 2)
        c1, c2 = rng.sample(["red", "blue", "green", "yellow"], 2)
        a = c1 if n1 > n2 else c2
        x, y = rng.sample([c1, c2], 2)
        q = f"There are {n1} {c1} {thing} and {n2} {c2} {thing}. Which colour has more {thing}: {x} or {y}?"
        why = f"{max(n1, n2)} is more than {min(n1, n2)}, so there are more {a} {thing}."
    elif kind == "amount":
        # Which colour covers more of the picture: two areas of colour, one larger (a glance, not a count).
        c1, c2 = rng.sample(["red", "blue", "green", "yellow"], 2)
        img = Image.new("RGB", (size, size), _background(rng))
        d = ImageDraw.Draw(img)
        form = rng.random()
        if form < 1 / 3:  # two areas of colour, one of them larger
            cut = round(size * rng.uniform(0.6, 0.8))
            d.rectangle((0, 0, size, size), fill=COLOURS[c2])
            sides = [(0, 0, cut, size), (size - cut, 0, size, size), (0, 0, size, cut), (0, size - cut, size, size)]
            d.rectangle(rng.choice(sides), fill=COLOURS[c1])
        elif form < 2 / 3:  # one large blot of one colour, a small one of the other, anywhere
            for c, s in ((c1, rng.randint(size // 2, size - 6)), (c2, rng.randint(size // 6, size // 4))):
                x, y = rng.randint(2, size - s - 2), rng.randint(2, size - s - 2)
                d.ellipse((x, y, x + s, y + s), fill=COLOURS[c])
        else:  # a few shapes of each colour, those of one colour large, of the other small
            img = _amount_shapes_image(rng, size, c1, c2)
        x, y = rng.sample([c1, c2], 2)
        a = c1
        q = f"Which colour covers more of this picture: {x} or {y}?"
        why = f"{c1.capitalize()} covers most of the picture and {c2} less, so there is more {c1}."
    elif kind == "guess":
        words = [rng.choice(FILLER) for _ in range(rng.randint(3, 7))]
        q = " ".join(words).capitalize() + "?"
        k = rng.randint(2, 8)
        pool = set()
        while len(pool) < k:
            pool.add(rng.choice(FILLER) if rng.random() < 0.5 else f"{rng.choice(CODE_PARTS)}-{rng.randint(1, 99)}")
        choices = sorted(pool)
        rng.shuffle(choices)
        a, task = rng.choice(choices), "multiple_choice"
        why = "The image does not settle the question, so I compare the options and pick one."
    else:  # letter: multiple choice with lettered options
        k = rng.randint(2, 4)
        if rng.random() < 0.5:
            q, a, pool = "Which colour is the shape?", colour, [c for c in COLOURS if c != colour]
        else:
            q, a, pool = "Which shape is shown?", shape, [s for s in SHAPES if s != shape]
        choices = rng.sample(pool, min(k - 1, len(pool))) + [a]
        rng.shuffle(choices)
        task = "multiple_choice"
        why = f"The image shows a {colour} {shape}, and {a} is one of the choices, so I pick that choice."
    offered = OFFERED.search(q)
    if offered:  # the reasoning opens with what the question asks to choose between (docs/data.md, d16)
        why = f"The choice is {offered[1]} or {offered[2]}. {why}"
    return {
        "id": f"instruct-{index:06d}",
        "images": [img],
        "question": q,
        "solution": a,
        "choices": choices,
        "task": task,
        "rationale": why,
        "kind": kind,
        "options": options,
        "answer_with": "text" if answer_in_words else "letter",
    }


def option_classes(row) -> list[str] | None:
    """The option list shown in the prompt for ``options`` rows (None for the other kinds)."""
    return row.get("options")


def generate(
    split: str = "train", limit: int | None = None, seed: int = 0, image_size: int = 56, kinds=None
) -> list[dict]:
    """Rows of the instruction mix; ``split`` selects a disjoint seed stream; ``kinds`` (default
    :data:`KINDS`) is the cycle of row kinds."""
    n = limit if limit is not None else 2048
    kinds = tuple(kinds or KINDS)
    offset = {"train": 0, "val": 1, "test": 2}[split]
    rng = random.Random(seed * 1000 + offset * 7919 + 17)
    return [make_row(rng, i, image_size, kinds[i % len(kinds)]) for i in range(n)]


def corpus_texts() -> list[str]:
    """Words of this mix, for training the tiny tokenizer."""
    rng = random.Random(0)
    texts = []
    for i in range(200):
        r = make_row(rng, i, 28)
        texts += [r["question"], r["rationale"], r["solution"], " ".join(r["choices"])]
    texts += list(COLOURS) + list(SHAPES)
    return texts

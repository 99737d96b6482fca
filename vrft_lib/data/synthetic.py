"""Procedural look-alike benchmarks, drawn with PIL, for CPU runs with a tiny model.

Three stand-ins for the paper's benchmarks, ordered by difficulty:

* ``synthetic_banner`` (like Banner-Analysis, binary): the sentiment is carried by the banner's
  background colour (a bright positive palette vs a dark/red negative palette) and agrees with a large
  smiling or frowning face; text-like bars and a small logo are clutter.
* ``synthetic_aircraft`` (like FGVC-Aircraft, fine-grained classification): top views of aircraft that
  differ in fuselage colour, wing sweep, engine count and tail colour. The first classes differ in the
  large parts (fuselage colour, then wing sweep), so 8 classes are learnable by a tiny model; with 100
  classes the small parts (engines, tail) matter and the task is hard.
* ``synthetic_spatial`` (like SAT, multiple choice): two or three coloured shapes on a 3x3 grid; the
  question names objects by colour and shape and asks for a relation between them.

Every row is a pure function of ``(benchmark, seed, split, index)``: the same seed gives the same
image bytes, a longer split extends a shorter one, and the splits use disjoint random streams (plus
per-pixel noise) so no test image equals a train image. Images are drawn 4x supersampled and reduced
to ``image_size`` (default 56: a 2x2 grid of Qwen2.5-VL's 28-pixel merged patches), so the cues are
large, coarse and high-contrast.

>>> rows = generate_banner("train", 2, seed=0)
>>> sorted(r["solution"] for r in rows)
['negative', 'positive']
>>> aircraft_classes(4)
['AX-300', 'Vega 110', 'F/K-10', 'Orion 7-300']
"""

from __future__ import annotations

import io
import math

import numpy as np
from PIL import Image, ImageDraw

SPLIT_CODES = {"train": 0, "val": 1, "test": 2}
DEFAULT_NUM_SAMPLES = {"train": 2000, "val": 200, "test": 500}
DEFAULT_IMAGE_SIZE = 56
PATCH_MULTIPLE = 28  # Qwen2.5-VL: 14-pixel patches, merged 2x2
MAX_AIRCRAFT_CLASSES = 100
SUPERSAMPLE = 4  # draw at 4x (2x from 112 pixels up), reduce with a box filter: smooth edges

_BENCHMARK_CODES = {
    "synthetic_banner": 1,
    "synthetic_aircraft": 2,
    "synthetic_spatial": 3,
    "synthetic_count": 4,
}  # synthetic_count.py draws the last

BANNER_QUESTION = "What is the sentiment of this banner: positive or negative?"
AIRCRAFT_QUESTION = "Which aircraft variant is shown in this image?"
# Asked when the classes are named in words (``names="words"``): the class name is what the question asks.
AIRCRAFT_WORDS_QUESTION = "Which aircraft is this: what colour is it, and are its wings straight or swept?"


# ----------------------------------------------------------------------------------------------
# shared drawing helpers
# ----------------------------------------------------------------------------------------------


def row_rng(benchmark: str, seed: int, split: str, index: int) -> np.random.Generator:
    """The random stream of one row; the split code makes the splits' streams disjoint."""
    return np.random.default_rng([_BENCHMARK_CODES[benchmark], seed, SPLIT_CODES[split], 0, index])


def block_rng(benchmark: str, seed: int, split: str, block: int) -> np.random.Generator:
    """The random stream that balances labels inside one block of consecutive rows."""
    return np.random.default_rng([_BENCHMARK_CODES[benchmark], seed, SPLIT_CODES[split], 1, block])


def jitter_colour(rng: np.random.Generator, rgb, amount: int = 12) -> tuple[int, int, int]:
    return tuple(int(np.clip(c + rng.integers(-amount, amount + 1), 0, 255)) for c in rgb)


def _shade(rgb, factor: float) -> tuple[int, int, int]:
    return tuple(int(np.clip(round(c * factor), 0, 255)) for c in rgb)


class Canvas:
    """A square drawing surface in unit coordinates ((0, 0) top left, (1, 1) bottom right)."""

    def __init__(self, size: int, background):
        self.size = size
        self.factor = SUPERSAMPLE if size < 112 else 2
        self.px = size * self.factor
        self.image = Image.new("RGB", (self.px, self.px), tuple(background))
        self.draw = ImageDraw.Draw(self.image)

    def _p(self, x: float, y: float) -> tuple[float, float]:
        return (x * self.px, y * self.px)

    def width(self, w: float) -> int:
        return max(1, round(w * self.px))

    def polygon(self, points, fill) -> None:
        self.draw.polygon([self._p(x, y) for x, y in points], fill=tuple(fill))

    def ellipse(self, cx, cy, rx, ry, fill, outline=None, width: float = 0.0) -> None:
        box = [self._p(cx - rx, cy - ry), self._p(cx + rx, cy + ry)]
        self.draw.ellipse(box, fill=tuple(fill), outline=outline, width=self.width(width) if outline else 0)

    def rectangle(self, x0, y0, x1, y1, fill) -> None:
        self.draw.rectangle([self._p(x0, y0), self._p(x1, y1)], fill=tuple(fill))

    def arc(self, x0, y0, x1, y1, start, end, fill, width: float) -> None:
        self.draw.arc([self._p(x0, y0), self._p(x1, y1)], start, end, fill=tuple(fill), width=self.width(width))

    def to_png(self, rng: np.random.Generator, noise: int) -> bytes:
        """Reduce to the final size, add per-pixel noise, encode as PNG."""
        small = np.asarray(self.image.reduce(self.factor), dtype=np.int16)
        if noise:
            small = small + rng.integers(-noise, noise + 1, size=small.shape, dtype=np.int16)
        buffer = io.BytesIO()
        Image.fromarray(np.clip(small, 0, 255).astype(np.uint8), "RGB").save(buffer, "PNG", compress_level=1)
        return buffer.getvalue()


def background(rng: np.random.Generator) -> tuple[int, int, int]:
    """A dark, slightly tinted grey: every object colour stands out against it."""
    level = int(rng.integers(55, 100))
    return tuple(int(level + rng.integers(-10, 11)) for _ in range(3))


def make_row(benchmark, split, index, png, question, solution, choices, task, rationale) -> dict:
    return {
        "id": f"{benchmark}-{split}-{index:06d}",
        "images": [png],
        "question": question,
        "solution": solution,
        "choices": list(choices),
        "task": task,
        "rationale": rationale,
    }


def check_common(split: str, image_size: int) -> None:
    if split not in SPLIT_CODES:
        raise ValueError(f"unknown split {split!r}; valid splits: {', '.join(SPLIT_CODES)}")
    if image_size < PATCH_MULTIPLE or image_size % PATCH_MULTIPLE:
        raise ValueError(f"image_size must be a positive multiple of {PATCH_MULTIPLE}, got {image_size}")


# ----------------------------------------------------------------------------------------------
# synthetic_banner
# ----------------------------------------------------------------------------------------------

POSITIVE_BACKGROUNDS = {"green": (60, 175, 75), "light blue": (110, 185, 240), "yellow": (240, 205, 55)}
NEGATIVE_BACKGROUNDS = {"red": (195, 35, 35), "purple": (105, 35, 125), "dark grey": (55, 55, 60)}
_LOGO_COLOURS = [*POSITIVE_BACKGROUNDS.values(), *NEGATIVE_BACKGROUNDS.values(), (240, 240, 240)]


def banner_row(split: str, index: int, seed: int = 0, image_size: int = DEFAULT_IMAGE_SIZE) -> dict:
    """One ``synthetic_banner`` row. Labels alternate in random order inside blocks of two rows."""
    check_common(split, image_size)
    positive = bool(block_rng("synthetic_banner", seed, split, index // 2).permutation(2)[index % 2])
    rng = row_rng("synthetic_banner", seed, split, index)
    palette = POSITIVE_BACKGROUNDS if positive else NEGATIVE_BACKGROUNDS
    colour_name = list(palette)[int(rng.integers(len(palette)))]
    canvas = Canvas(image_size, jitter_colour(rng, palette[colour_name]))

    # The face: large, on a random side; its mouth agrees with the background.
    face_left = bool(rng.integers(2))
    r = rng.uniform(0.2, 0.24)
    cx = rng.uniform(0.24, 0.3) if face_left else rng.uniform(0.7, 0.76)
    cy = rng.uniform(0.42, 0.58)
    ink = (25, 25, 25)
    canvas.ellipse(cx, cy, r, r, fill=(245, 245, 238), outline=ink, width=0.03)
    for ex in (cx - 0.38 * r, cx + 0.38 * r):
        canvas.ellipse(ex, cy - 0.3 * r, 0.11 * r, 0.13 * r, fill=ink)
    if positive:
        canvas.arc(cx - 0.55 * r, cy - 0.45 * r, cx + 0.55 * r, cy + 0.6 * r, 20, 160, ink, 0.045)
    else:
        canvas.arc(cx - 0.55 * r, cy + 0.2 * r, cx + 0.55 * r, cy + 1.1 * r, 200, 340, ink, 0.045)

    # Clutter on the other side: text-like bars and a small logo of any colour.
    x_lo = 0.54 if face_left else 0.05
    n_bars = int(rng.integers(2, 5))
    for k in range(n_bars):
        y0 = 0.12 + k * (0.76 / n_bars) + rng.uniform(0.0, 0.05)
        x0 = x_lo + rng.uniform(0.0, 0.06)
        shade = (245, 245, 245) if rng.integers(2) else (20, 20, 20)
        canvas.rectangle(x0, y0, x0 + rng.uniform(0.22, 0.38), y0 + rng.uniform(0.045, 0.07), shade)
    logo = _LOGO_COLOURS[int(rng.integers(len(_LOGO_COLOURS)))]
    lx, ly, ls = x_lo + rng.uniform(0.0, 0.3), rng.choice([0.03, 0.85]), rng.uniform(0.07, 0.1)
    canvas.rectangle(lx, ly, lx + ls, ly + ls, logo)

    label = "positive" if positive else "negative"
    rationale = (
        f"The banner's background is {colour_name} and the face {'smiles' if positive else 'frowns'}, "
        f"which signals a {label} message."
    )
    png = canvas.to_png(rng, noise=8)
    return make_row("synthetic_banner", split, index, png, BANNER_QUESTION, label, [], "binary", rationale)


def generate_banner(split: str, num_rows: int, seed: int = 0, image_size: int = DEFAULT_IMAGE_SIZE) -> list[dict]:
    """Rows ``0 .. num_rows-1`` of ``synthetic_banner``; classes are exactly balanced per pair of rows."""
    return [banner_row(split, i, seed, image_size) for i in range(num_rows)]


# ----------------------------------------------------------------------------------------------
# synthetic_aircraft
# ----------------------------------------------------------------------------------------------

AIRCRAFT_COLOURS = {
    "red": (215, 45, 45),
    "blue": (55, 105, 240),
    "green": (50, 175, 70),
    "yellow": (240, 205, 40),
    "white": (240, 240, 240),
}
WING_TYPES = ("straight", "swept")
ENGINE_COUNTS = (2, 4)
_NUMBER_WORDS = {2: "two", 4: "four"}

# Ten families (fuselage colour x wing type), ten variants each (engines x tail colour), like
# FGVC-Aircraft's variants inside families. No name is a prefix of another.
_FAMILY_NAMES = (
    lambda v: f"AX-3{v}0",
    lambda v: f"Vega {v + 1}10",
    lambda v: f"F/K-1{v}",
    lambda v: f"Orion 7-{v + 3}00",
    lambda v: f"Kestrel {v + 1}A",
    lambda v: f"MD-{v + 8}0",
    lambda v: f"Halo C/{v + 2}",
    lambda v: f"Tern {v + 4}0-ER",
    lambda v: f"SB-{v + 1}/R",
    lambda v: f"Strato {v + 2}X",
)


def aircraft_attributes(class_index: int) -> dict:
    """The parts that define aircraft class ``class_index`` (0..99).

    The most visible attribute varies fastest, so the first classes differ in large parts.

    >>> aircraft_attributes(0)
    {'fuselage': 'red', 'wings': 'straight', 'engines': 2, 'tail': 'red'}
    >>> aircraft_attributes(7)
    {'fuselage': 'green', 'wings': 'swept', 'engines': 2, 'tail': 'red'}
    """
    if not 0 <= class_index < MAX_AIRCRAFT_CLASSES:
        raise ValueError(f"class index must be in [0, {MAX_AIRCRAFT_CLASSES}), got {class_index}")
    colours = list(AIRCRAFT_COLOURS)
    return {
        "fuselage": colours[class_index % 5],
        "wings": WING_TYPES[(class_index // 5) % 2],
        "engines": ENGINE_COUNTS[(class_index // 10) % 2],
        "tail": colours[(class_index // 20) % 5],
    }


def aircraft_classes(num_classes: int = 8) -> list[str]:
    """The class names of ``synthetic_aircraft`` in their fixed order (a prefix of the 100 names)."""
    if not 2 <= num_classes <= MAX_AIRCRAFT_CLASSES:
        raise ValueError(f"num_classes must be in [2, {MAX_AIRCRAFT_CLASSES}], got {num_classes}")
    return [_FAMILY_NAMES[k % 10](k // 10) for k in range(num_classes)]


MAX_WORD_CLASSES = 10  # the fuselage colour x wing type families: the classes a name of two words tells apart


def aircraft_word_classes(num_classes: int = 10) -> list[str]:
    """The class names in words ("<fuselage colour> <wing type>"), for up to 10 classes.

    Words the tiny model already writes (colours) joined with a word for the fine-grained part (the wings):
    a base that names colours is partly right before it has seen an aircraft.

    >>> aircraft_word_classes(6)
    ['red straight', 'blue straight', 'green straight', 'yellow straight', 'white straight', 'red swept']
    """
    if not 2 <= num_classes <= MAX_WORD_CLASSES:
        raise ValueError(f"num_classes must be in [2, {MAX_WORD_CLASSES}] for names in words, got {num_classes}")
    return [f"{a['fuselage']} {a['wings']}" for a in map(aircraft_attributes, range(num_classes))]


def _transform(points, cx, cy, scale, angle, mirror):
    c, s = math.cos(angle), math.sin(angle)
    out = []
    for x, y in points:
        x = -x if mirror else x
        out.append((cx + scale * (c * x - s * y), cy + scale * (s * x + c * y)))
    return out


def _ellipse_points(cx, cy, rx, ry, n=20):
    return [(cx + rx * math.cos(2 * math.pi * i / n), cy + ry * math.sin(2 * math.pi * i / n)) for i in range(n)]


def _draw_aircraft(canvas: Canvas, rng: np.random.Generator, attrs: dict) -> None:
    """A top view, nose along +x in the plane's own frame, then jittered in place, size and angle."""
    cx, cy = 0.5 + rng.uniform(-0.05, 0.05), 0.5 + rng.uniform(-0.05, 0.05)
    scale = rng.uniform(0.9, 1.05)
    angle = math.radians(rng.uniform(-12, 12))
    mirror = bool(rng.integers(2))

    def shape(points, colour):
        canvas.polygon(_transform(points, cx, cy, scale, angle, mirror), colour)

    body = jitter_colour(rng, AIRCRAFT_COLOURS[attrs["fuselage"]], 8)
    tail = jitter_colour(rng, AIRCRAFT_COLOURS[attrs["tail"]], 8)
    wing = _shade(body, 0.8)
    if attrs["wings"] == "straight":  # (root front, root back, tip back, tip front) x-positions
        root, tip = (0.09, -0.07), (0.05, -0.05)
    else:
        root, tip = (0.16, -0.02), (-0.14, -0.25)
    span = 0.43
    for side in (1, -1):
        shape([(root[0], 0.05 * side), (tip[0], span * side), (tip[1], span * side), (root[1], 0.05 * side)], wing)
    # Engines: dark pods hanging in front of the wing's leading edge.
    stations = (0.22,) if attrs["engines"] == 2 else (0.15, 0.3)
    for side in (1, -1):
        for station in stations:
            t = (station - 0.05) / (span - 0.05)
            lead = root[0] + t * (tip[0] - root[0])
            shape(_ellipse_points(lead + 0.01, station * side, 0.065, 0.032, 12), (25, 25, 30))
    shape(_ellipse_points(0.0, 0.0, 0.44, 0.07, 24), body)
    for side in (1, -1):  # tailplane and fin cap in the tail colour
        shape([(-0.29, 0.03 * side), (-0.36, 0.18 * side), (-0.43, 0.18 * side), (-0.41, 0.03 * side)], tail)
    shape(_ellipse_points(-0.37, 0.0, 0.075, 0.05, 12), tail)


def aircraft_row(
    split: str,
    index: int,
    seed: int = 0,
    image_size: int = DEFAULT_IMAGE_SIZE,
    num_classes: int = 8,
    names: str = "codes",
) -> dict:
    """One ``synthetic_aircraft`` row; classes appear in random order inside blocks of ``num_classes`` rows.
    ``names``: ``"codes"`` (made-up variant codes, :func:`aircraft_classes`) or ``"words"``
    (:func:`aircraft_word_classes`, asked with :data:`AIRCRAFT_WORDS_QUESTION`)."""
    check_common(split, image_size)
    words = names == "words"
    names = aircraft_word_classes(num_classes) if words else aircraft_classes(num_classes)
    order = block_rng("synthetic_aircraft", seed, split, index // num_classes).permutation(num_classes)
    class_index = int(order[index % num_classes])
    attrs = aircraft_attributes(class_index)
    rng = row_rng("synthetic_aircraft", seed, split, index)
    canvas = Canvas(image_size, background(rng))
    _draw_aircraft(canvas, rng, attrs)
    name = names[class_index]
    if words:
        question = AIRCRAFT_WORDS_QUESTION
        rationale = f"The aircraft is {attrs['fuselage']} and its wings are {attrs['wings']}, so it is the {name}."
    else:
        question = AIRCRAFT_QUESTION
        rationale = (
            f"The aircraft has a {attrs['fuselage']} fuselage with {attrs['wings']} wings, "
            f"{_NUMBER_WORDS[attrs['engines']]} engines and a {attrs['tail']} tail, which identifies it as the {name}."
        )
    png = canvas.to_png(rng, noise=10)
    return make_row("synthetic_aircraft", split, index, png, question, name, [], "classification", rationale)


def generate_aircraft(
    split: str,
    num_rows: int,
    seed: int = 0,
    image_size: int = DEFAULT_IMAGE_SIZE,
    num_classes: int = 8,
    names: str = "codes",
) -> list[dict]:
    """Rows ``0 .. num_rows-1`` of ``synthetic_aircraft`` (exactly balanced per block of ``num_classes``)."""
    return [aircraft_row(split, i, seed, image_size, num_classes, names) for i in range(num_rows)]


# ----------------------------------------------------------------------------------------------
# synthetic_spatial
# ----------------------------------------------------------------------------------------------

SPATIAL_COLOURS = {
    "red": (225, 45, 45),
    "blue": (60, 115, 255),
    "green": (45, 190, 70),
    "yellow": (245, 215, 40),
    "white": (245, 245, 245),
}
SPATIAL_SHAPES = ("circle", "square", "triangle")
_ROW_NAMES = ("top", "middle", "bottom")
_COL_NAMES = ("left", "center", "right")
_WHICH_QUESTIONS = {
    "left": "Which object is to the left of the {ref}?",
    "right": "Which object is to the right of the {ref}?",
    "above": "Which object is above the {ref}?",
    "below": "Which object is below the {ref}?",
}
_WHICH_PHRASES = {"left": "to the left of", "right": "to the right of", "above": "above", "below": "below"}
_EXTREME_QUESTIONS = {
    "leftmost": "Which object is farthest to the left?",
    "rightmost": "Which object is farthest to the right?",
    "highest": "Which object is the highest in the image?",
    "lowest": "Which object is the lowest in the image?",
}
_EXTREME_PHRASES = {
    "leftmost": "farthest to the left",
    "rightmost": "farthest to the right",
    "highest": "the highest",
    "lowest": "the lowest",
}


def _location(obj) -> str:
    row, col = obj["cell"]
    if (row, col) == (1, 1):
        return "center"
    if col == 1:
        return _ROW_NAMES[row]
    return f"{_ROW_NAMES[row]} {_COL_NAMES[col]}"


def _at(obj) -> str:
    return f"{obj['name']} is at the {_location(obj)}"


def _key(obj, relation: str) -> int:
    """A coordinate that grows in the direction of ``relation`` (grid cells, so no ties by jitter)."""
    row, col = obj["cell"]
    return {
        "left": -col,
        "leftmost": -col,
        "right": col,
        "rightmost": col,
        "above": -row,
        "highest": -row,
        "below": row,
        "lowest": row,
    }[relation]


def _spatial_question(rng, objects, absent, qtype):
    """Return (question, choices, solution, rationale) or None when the layout does not fit."""
    n = len(objects)
    if qtype in ("vertical", "horizontal"):
        axis = 0 if qtype == "vertical" else 1
        pairs = [(i, j) for i in range(n) for j in range(n) if objects[i]["cell"][axis] < objects[j]["cell"][axis]]
        if not pairs:
            return None
        first, second = pairs[int(rng.integers(len(pairs)))]  # first is above / left of second
        words = ("above", "below") if qtype == "vertical" else ("left", "right")
        answer = words[int(rng.integers(2))]
        a, b = (objects[first], objects[second]) if answer == words[0] else (objects[second], objects[first])
        if qtype == "vertical":
            question = f"Is the {a['name']} above or below the {b['name']}?"
            conclusion = f"the {a['name']} is {answer} the {b['name']}"
        else:
            question = f"Is the {a['name']} to the left or to the right of the {b['name']}?"
            conclusion = f"the {a['name']} is to the {answer} of the {b['name']}"
        rationale = f"The {_at(a)} and the {_at(b)}, so {conclusion}."
        return question, list(words), answer, rationale
    if qtype == "which":
        relation = list(_WHICH_QUESTIONS)[int(rng.integers(4))]
        ref = objects[int(rng.integers(n))]
        others = [o for o in objects if o is not ref]
        yes = [o for o in others if _key(o, relation) > _key(ref, relation)]
        no = [o for o in others if _key(o, relation) < _key(ref, relation)]
        if len(yes) != 1 or len(no) != n - 2:  # exactly one object on that side, the rest opposite
            return None
        answer = yes[0]
        options = [f"the {o['name']}" for o in others] + [f"the {absent}"]
        details = " and the ".join(_at(o) for o in others)
        rationale = (
            f"The {_at(ref)}; the {details}, so the {answer['name']} is {_WHICH_PHRASES[relation]} the {ref['name']}."
        )
        question = _WHICH_QUESTIONS[relation].format(ref=ref["name"])
    else:  # extreme
        relation = list(_EXTREME_QUESTIONS)[int(rng.integers(4))]
        ranked = sorted(objects, key=lambda o: _key(o, relation), reverse=True)
        if _key(ranked[0], relation) == _key(ranked[1], relation):
            return None
        answer = ranked[0]
        options = [f"the {o['name']}" for o in objects] + [f"the {absent}"]
        listing = ", the ".join(_at(o) for o in objects[:-1]) + f" and the {_at(objects[-1])}"
        rationale = f"The {listing}, so the {answer['name']} is {_EXTREME_PHRASES[relation]}."
        question = _EXTREME_QUESTIONS[relation]
    order = rng.permutation(len(options))  # uniform position of the right choice
    choices = [options[k] for k in order]
    return question, choices, f"the {answer['name']}", rationale


def spatial_row(
    split: str, index: int, seed: int = 0, image_size: int = DEFAULT_IMAGE_SIZE, num_objects: int = 3
) -> dict:
    """One ``synthetic_spatial`` row.

    With 3 objects the question types are: above/below and left/right of a named pair (2 choices),
    "which object is left of/right of/above/below X" (the two other objects plus one absent object:
    3 choices), and "which object is farthest left/right, highest, lowest" (the three objects plus one
    absent object: 4 choices). With 2 objects only the pair questions are asked.
    """
    check_common(split, image_size)
    if num_objects not in (2, 3):
        raise ValueError(f"num_objects must be 2 or 3, got {num_objects}")
    rng = row_rng("synthetic_spatial", seed, split, index)
    qtypes = ["vertical", "horizontal"] + (["which", "extreme"] if num_objects == 3 else [])
    qtype = qtypes[int(rng.integers(len(qtypes)))]
    colours = list(SPATIAL_COLOURS)
    for _ in range(200):
        picked = rng.permutation(len(colours))
        cells = rng.permutation(9)[:num_objects]
        objects = []
        for k in range(num_objects):
            shape = SPATIAL_SHAPES[int(rng.integers(3))]
            objects.append(
                {
                    "colour": colours[picked[k]],
                    "shape": shape,
                    "name": f"{colours[picked[k]]} {shape}",
                    "cell": (int(cells[k]) // 3, int(cells[k]) % 3),
                }
            )
        absent = f"{colours[picked[num_objects]]} {SPATIAL_SHAPES[int(rng.integers(3))]}"
        result = _spatial_question(rng, objects, absent, qtype)
        if result is not None:
            break
    else:  # pragma: no cover - every question type fits a random layout with high probability
        raise RuntimeError("could not place the objects")
    question, choices, solution, rationale = result

    canvas = Canvas(image_size, background(rng))
    radius = 0.115
    for obj in objects:
        row, col = obj["cell"]
        x = (col + 0.5) / 3 + rng.uniform(-0.04, 0.04)
        y = (row + 0.5) / 3 + rng.uniform(-0.04, 0.04)
        fill = jitter_colour(rng, SPATIAL_COLOURS[obj["colour"]], 10)
        if obj["shape"] == "circle":
            canvas.ellipse(x, y, radius, radius, fill)
        elif obj["shape"] == "square":
            h = radius * 0.88
            canvas.rectangle(x - h, y - h, x + h, y + h, fill)
        else:
            r = radius * 1.1
            canvas.polygon([(x, y - r), (x + r, y + radius * 0.85), (x - r, y + radius * 0.85)], fill)
    png = canvas.to_png(rng, noise=8)
    return make_row("synthetic_spatial", split, index, png, question, solution, choices, "multiple_choice", rationale)


def generate_spatial(
    split: str, num_rows: int, seed: int = 0, image_size: int = DEFAULT_IMAGE_SIZE, num_objects: int = 3
) -> list[dict]:
    """Rows ``0 .. num_rows-1`` of ``synthetic_spatial``."""
    return [spatial_row(split, i, seed, image_size, num_objects) for i in range(num_rows)]

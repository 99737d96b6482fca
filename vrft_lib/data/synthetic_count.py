"""The reasoning stand-in ``synthetic_count``: a rule over facts read one at a time (count the shapes of
each colour, compare the two numbers), drawn with the helpers of :mod:`vrft_lib.data.synthetic`.

>>> rows = generate_count("train", 2, seed=0)
>>> sorted(r["question"].startswith("Which colour has more shapes here") for r in rows)
[True, True]
"""

from __future__ import annotations

from .synthetic import DEFAULT_IMAGE_SIZE, Canvas, background, block_rng, check_common, jitter_colour, make_row, row_rng

COUNT_QUESTION = "Which colour has more shapes here: {a} or {b}?"


# Two colours, always the same two ("are there more red or blue shapes?"): what varies is how many of
# each there are and how large they are drawn, so the answer is a count and never a colour to read off.
COUNT_COLOURS = {
    "red": (225, 45, 45),
    "blue": (60, 115, 255),
}
# (more, fewer) shapes of the two colours: never a tie, 3 or 4 shapes in the 2x2 cells.
_COUNT_SPLITS = ((2, 1), (3, 1))
MISLEADING_SHARE = 1 / 3  # rows where the colour with more shapes covers less of the picture
_COUNT_WORDS = {1: "1", 2: "2", 3: "3"}


def count_row(
    split: str, index: int, seed: int = 0, image_size: int = DEFAULT_IMAGE_SIZE, misleading: float = MISLEADING_SHARE
) -> dict:
    """One ``synthetic_count`` row: "are there more A or B shapes?" over 3-4 shapes of two colours, one per
    cell of a 2x2 grid (each cell is one of Qwen2.5-VL's merged patches at 56 pixels).

    The answer follows a rule over facts read one at a time: count the shapes of each colour, then
    compare the two numbers. In a share ``misleading`` of the rows the shapes of the more frequent colour
    are drawn small and the other colour's shape large, so the amount of each colour (a glance) points
    to the wrong answer there; everywhere else a glance and a count agree. Answers alternate between
    the first and the second colour asked, in random order inside blocks of two rows.
    """
    check_common(split, image_size)
    if not (isinstance(misleading, int | float) and 0.0 <= misleading <= 1.0):
        raise ValueError(f"misleading must be a share in [0, 1], got {misleading!r}")
    first_wins = bool(block_rng("synthetic_count", seed, split, index // 2).permutation(2)[index % 2])
    rng = row_rng("synthetic_count", seed, split, index)
    colours = list(COUNT_COLOURS)
    a, b = (colours[k] for k in rng.permutation(len(colours))[:2])  # asked in this order
    more, fewer = _COUNT_SPLITS[int(rng.integers(len(_COUNT_SPLITS)))]
    winner, loser = (a, b) if first_wins else (b, a)
    trick = bool(rng.random() < misleading)
    objects = [(winner, "small" if trick else "any")] * more + [(loser, "large" if trick else "any")] * fewer
    cells = rng.permutation(4)[: len(objects)]
    canvas = Canvas(image_size, background(rng))
    for (colour, size), cell in zip(objects, cells):
        r = {"small": rng.uniform(0.07, 0.1), "large": rng.uniform(0.2, 0.23), "any": rng.uniform(0.15, 0.19)}[size]
        x = (int(cell) % 2 + 0.5) / 2 + rng.uniform(-0.04, 0.04)
        y = (int(cell) // 2 + 0.5) / 2 + rng.uniform(-0.04, 0.04)
        fill = jitter_colour(rng, COUNT_COLOURS[colour], 10)
        if rng.integers(2):  # circles and squares of about the same area for the same r
            canvas.ellipse(x, y, r, r, fill)
        else:
            canvas.rectangle(x - 0.88 * r, y - 0.88 * r, x + 0.88 * r, y + 0.88 * r, fill)
    counts = {winner: more, loser: fewer}
    rationale = (
        f"I count {_COUNT_WORDS[counts[a]]} {a} and {_COUNT_WORDS[counts[b]]} {b}. "
        f"{more} is more than {fewer}, so there are more {winner} shapes."
    )
    question = COUNT_QUESTION.format(a=a, b=b)
    png = canvas.to_png(rng, noise=8)
    return make_row("synthetic_count", split, index, png, question, winner, [], "binary", rationale)


def generate_count(
    split: str, num_rows: int, seed: int = 0, image_size: int = DEFAULT_IMAGE_SIZE, misleading: float = MISLEADING_SHARE
) -> list[dict]:
    """Rows ``0 .. num_rows-1`` of ``synthetic_count`` (the answer is the first colour asked in half of each pair)."""
    return [count_row(split, i, seed, image_size, misleading) for i in range(num_rows)]

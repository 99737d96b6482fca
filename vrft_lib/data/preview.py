"""A picture of the synthetic stand-ins: a grid with a row of samples per benchmark."""

from __future__ import annotations

import io

from PIL import Image

from . import synthetic
from .synthetic import DEFAULT_IMAGE_SIZE
from .synthetic_count import generate_count


def save_preview(
    path, per_benchmark: int = 8, image_size: int = DEFAULT_IMAGE_SIZE, zoom: int = 3, seed: int = 0
) -> None:
    """Save a PNG grid: one row of samples per synthetic benchmark, each magnified ``zoom`` times."""
    rows = [
        synthetic.generate_banner("train", per_benchmark, seed, image_size),
        synthetic.generate_aircraft("train", per_benchmark, seed, image_size),
        synthetic.generate_spatial("train", per_benchmark, seed, image_size),
        generate_count("train", per_benchmark, seed, image_size),
    ]
    cell = image_size * zoom + 4
    grid = Image.new("RGB", (cell * per_benchmark, cell * len(rows)), (255, 255, 255))
    for r, samples in enumerate(rows):
        for c, sample in enumerate(samples):
            img = Image.open(io.BytesIO(sample["images"][0])).resize((image_size * zoom,) * 2, Image.NEAREST)
            grid.paste(img, (c * cell + 2, r * cell + 2))
    grid.save(path)

"""Builders of small datasets in the exact on-disk layouts the real loaders read.

Each builder writes into a given folder (pytest's ``tmp_path``) and returns the root to pass to
``load_benchmark``. The module-level constants describe what was written, so tests can compare.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

# ---------------------------------------------------------------------------------------------
# images
# ---------------------------------------------------------------------------------------------

STRIP_COLOUR = (255, 0, 0)  # the FGVC copyright strip: pure red, so cropping is easy to detect
BODY_COLOUR = (0, 0, 255)


def image_bytes(colour=(120, 60, 30), size=(32, 24), fmt="PNG") -> bytes:
    """An encoded solid-colour image."""
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, fmt)
    return buffer.getvalue()


def write_image(path: Path, colour=(120, 60, 30), size=(32, 24)) -> Path:
    """Write an image; the format follows the extension (case-insensitive)."""
    fmt = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WEBP", ".bmp": "BMP"}[path.suffix.lower()]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(image_bytes(colour, size, fmt))
    return path


# ---------------------------------------------------------------------------------------------
# banner
# ---------------------------------------------------------------------------------------------

# split -> label -> file names (mixed, upper-case extensions on purpose)
BANNER_FOLDER_FILES = {
    "train": {
        "positive": ["p0.png", "p1.JPG", "p2.webp", "p3.jpeg"],
        "negative": ["n0.bmp", "n1.PNG", "n2.jpg"],
    },
    "test": {
        "positive": ["p0.png", "p1.png"],
        "negative": ["n0.png", "n1.png"],
    },
}


def make_banner_folder(tmp, files=BANNER_FOLDER_FILES) -> Path:
    """ROOT/<split>/<label>/<image>, plus non-image files that the loader must ignore."""
    root = Path(tmp) / "banners"
    for split, labels in files.items():
        for label, names in labels.items():
            colour = (40, 200, 60) if label == "positive" else (200, 40, 40)
            for name in names:
                write_image(root / split / label / name, colour)
        (root / split / "positive").mkdir(parents=True, exist_ok=True)
        (root / split / "positive" / "notes.txt").write_text("not an image")
        (root / split / "negative").mkdir(parents=True, exist_ok=True)
        (root / split / "negative" / ".DS_Store").write_bytes(b"\x00\x01")
    return root


# (image path as written in the manifest, label, split); "ABS:" marks an absolute path
BANNER_MANIFEST_ROWS = [
    ("images/a.png", "positive", "train"),
    ("images/b.jpg", "negative", "train"),
    ("images/c.png", "Positive", "train"),
    ("ABS:d.png", "negative", "train"),
    ("images/e.png", "positive", "test"),
    ("images/f.png", "negative", "test"),
]


def make_banner_manifest(tmp, fmt="csv", rows=BANNER_MANIFEST_ROWS) -> Path:
    """A manifest file (``manifest.csv`` or ``manifest.jsonl``) with fields image, label, split."""
    tmp = Path(tmp)
    folder = tmp / "manifest_data"
    elsewhere = tmp / "elsewhere"
    records = []
    for image, label, split in rows:
        if image.startswith("ABS:"):
            path = write_image(elsewhere / image[4:])
            image = str(path.resolve())
        else:
            write_image(folder / image, (40, 200, 60) if label.lower() == "positive" else (200, 40, 40))
        records.append({"image": image, "label": label, "split": split})
    if fmt == "csv":
        path = folder / "manifest.csv"
        lines = ["image,label,split"] + [f"{r['image']},{r['label']},{r['split']}" for r in records]
        path.write_text("\n".join(lines) + "\n")
    elif fmt == "jsonl":
        path = folder / "manifest.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in records))
    else:
        raise ValueError(f"fmt must be 'csv' or 'jsonl', got {fmt!r}")
    return path


# ---------------------------------------------------------------------------------------------
# FGVC-Aircraft (fgvc-aircraft-2013b)
# ---------------------------------------------------------------------------------------------

FGVC_VARIANTS = ["707-320", "Cessna 172", "F/A-18", "A340-300"]
FGVC_FAMILY = {"707-320": "Boeing 707", "Cessna 172": "Cessna 172", "F/A-18": "F/A-18", "A340-300": "A340"}
FGVC_MANUFACTURER = {"707-320": "Boeing", "Cessna 172": "Cessna", "F/A-18": "McDonnell Douglas", "A340-300": "Airbus"}
FGVC_SPLIT_IDS = {  # split -> [(image id, variant)]; ids keep their leading zeros
    "train": [("1025794", "707-320"), ("0034309", "Cessna 172"), ("0056978", "F/A-18"), ("1514522", "A340-300")],
    "val": [("0062454", "F/A-18"), ("2228361", "Cessna 172")],
    "test": [("0213987", "707-320"), ("1120534", "Cessna 172"), ("0467389", "F/A-18")],
}
FGVC_SPLIT_IDS["trainval"] = FGVC_SPLIT_IDS["train"] + FGVC_SPLIT_IDS["val"]
FGVC_IMAGE_SIZE = (48, 52)  # width, height; the bottom 20 rows are the copyright strip


def make_fgvc_root(tmp) -> Path:
    """``ROOT = tmp/fgvc-aircraft-2013b`` with ``data/images/<id>.jpg``, the label files of the three
    levels for train/val/trainval/test, and ``variants.txt``, ``families.txt``, ``manufacturers.txt``.
    Each image is blue with a 20-pixel red strip at the bottom."""
    root = Path(tmp) / "fgvc-aircraft-2013b"
    data = root / "data"
    (data / "images").mkdir(parents=True)
    width, height = FGVC_IMAGE_SIZE
    for pairs in FGVC_SPLIT_IDS.values():
        for image_id, _ in pairs:
            img = Image.new("RGB", (width, height), BODY_COLOUR)
            img.paste(STRIP_COLOUR, (0, height - 20, width, height))
            img.save(data / "images" / f"{image_id}.jpg", quality=95)
    (data / "variants.txt").write_text("\n".join(FGVC_VARIANTS) + "\n")
    (data / "families.txt").write_text("\n".join(dict.fromkeys(FGVC_FAMILY.values())) + "\n")
    (data / "manufacturers.txt").write_text("\n".join(dict.fromkeys(FGVC_MANUFACTURER.values())) + "\n")
    for split, pairs in FGVC_SPLIT_IDS.items():
        for level, mapping in (("variant", None), ("family", FGVC_FAMILY), ("manufacturer", FGVC_MANUFACTURER)):
            lines = [f"{i} {v if mapping is None else mapping[v]}" for i, v in pairs]
            (data / f"images_{level}_{split}.txt").write_text("\n".join(lines) + "\n")
    (data / "images_box.txt").write_text("".join(f"{i} 0 0 10 10\n" for i, _ in FGVC_SPLIT_IDS["trainval"]))
    return root


# ---------------------------------------------------------------------------------------------
# SAT (array/SAT)
# ---------------------------------------------------------------------------------------------

# split -> rows: (number of images, question, answers, question_type, correct answer)
SAT_ROWS = {
    "train": [
        (1, "Is the chair to the left or right of the table?", ["left", "right"], "obj_relation", "left"),
        (2, "Did the camera move left or right between the two frames?", ["left", "right"], "ego_movement", "right"),
        (1, "Which object is closer to the camera?", ["the lamp", "the sofa", "the rug"], "depth", "the sofa"),
        (2, "How did the box move?", ["forward", "backward", "left", "right"], "obj_movement", "backward"),
        (1, "Is the door facing the camera?", ["yes", "no"], "orientation", "no"),
        (1, "Where is the cup relative to the plate?", ["on", "under", "beside"], "obj_relation", "beside"),
        (
            2,
            "If I turn right, what will I see?",
            ["a window", "a wall", "a bed", "a desk"],
            "action_consequence",
            "a bed",
        ),
    ],
    "val": [
        (1, "Is the red box above the blue box?", ["yes", "no"], "obj_relation", "yes"),
        (
            2,
            "Which way did the person walk?",
            ["toward the door", "away from the door"],
            "obj_movement",
            "toward the door",
        ),
        (1, "Which object is the tallest?", ["the tree", "the car", "the man"], "size", "the tree"),
        (1, "Is the ball left of the cube?", ["yes", "no"], "obj_relation", "no"),
    ],
    "static": [
        (1, "Is the cat on the mat?", ["yes", "no"], "obj_relation", "yes"),
        (1, "Which is farther?", ["the hill", "the house"], "depth", "the house"),
    ],
    "test": [
        (1, "Is the lamp to the left of the bed?", ["yes", "no"], "obj_relation", "yes"),
        (2, "Did the camera rotate clockwise?", ["yes", "no"], "ego_movement", "no"),
        (1, "Which object is nearest?", ["the chair", "the desk", "the door"], "depth", "the door"),
    ],
}


def sat_table(rows, image_format="bytes") -> pa.Table:
    """An array/SAT-like table; ``image_format`` "bytes" (list<binary>) or "struct" (list of
    HF Image structs {bytes, path})."""
    images = []
    for r, (count, *_rest) in enumerate(rows):
        encoded = [image_bytes((20 * r % 256, 40 * k, 100), size=(24 + 8 * k, 20)) for k in range(count)]
        if image_format == "bytes":
            images.append(encoded)
        elif image_format == "struct":
            images.append([{"bytes": b, "path": f"img_{r}_{k}.png"} for k, b in enumerate(encoded)])
        else:
            raise ValueError(f"image_format must be 'bytes' or 'struct', got {image_format!r}")
    if image_format == "bytes":
        image_type = pa.list_(pa.binary())
    else:
        image_type = pa.list_(pa.struct([("bytes", pa.binary()), ("path", pa.string())]))
    return pa.table(
        {
            "image_bytes": pa.array(images, type=image_type),
            "question": [r[1] for r in rows],
            "answers": pa.array([r[2] for r in rows], type=pa.list_(pa.string())),
            "question_type": [r[3] for r in rows],
            "correct_answer": [r[4] for r in rows],
        }
    )


def make_sat_root(tmp, image_format="bytes", rows=SAT_ROWS) -> Path:
    """``ROOT/SAT_<split>.parquet`` for train, static, val, test (one row group each, as upstream)."""
    root = Path(tmp) / f"SAT_{image_format}"
    root.mkdir(parents=True)
    for split, split_rows in rows.items():
        pq.write_table(sat_table(split_rows, image_format), root / f"SAT_{split}.parquet")
    return root


def toy_row(colour: str) -> dict:
    """One row in the shared schema for a toy benchmark registered by a test (a synthetic banner image)."""
    from vrft_lib.data import synthetic

    return {
        "id": "toy-0",
        "images": [synthetic.banner_row("train", 0)["images"][0]],
        "question": f"Is it {colour}?",
        "solution": "yes",
        "choices": [],
        "task": "binary",
        "rationale": "",
    }

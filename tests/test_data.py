"""Benchmark registry, real-data loaders (on fixture copies of the real layouts) and synthetic sets."""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter

import datasets
import numpy as np
import pytest
from data_fixtures import (
    BANNER_FOLDER_FILES,
    BANNER_MANIFEST_ROWS,
    FGVC_FAMILY,
    FGVC_IMAGE_SIZE,
    FGVC_MANUFACTURER,
    FGVC_SPLIT_IDS,
    FGVC_VARIANTS,
    SAT_ROWS,
    make_banner_folder,
    make_banner_manifest,
    make_fgvc_root,
    make_sat_root,
    toy_row,
    write_image,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from vrft_lib import data
from vrft_lib.data import (
    BENCHMARKS,
    FEATURES,
    LoadedSplit,
    benchmark_info,
    benchmark_options,
    check_benchmark_files,
    list_benchmarks,
    load_benchmark,
    register_benchmark,
    registry,
    synthetic,
    synthetic_count,
)
from vrft_lib.data import sat as sat_module
from vrft_lib.errors import DataError
from vrft_lib.prompts import sft_target, user_text, with_class_choices
from vrft_lib.rewards import accuracy_reward

SYNTHETIC = ["synthetic_banner", "synthetic_aircraft", "synthetic_count", "synthetic_spatial"]


def digest(ds) -> list[str]:
    """Hashes of the stored (encoded) image bytes of every row."""
    raw = ds.cast_column("images", datasets.List(datasets.Image(decode=False)))
    return [hashlib.sha1(b"".join(img["bytes"] for img in row["images"])).hexdigest() for row in raw]


def check_schema(ds, task):
    assert ds.features == FEATURES
    assert ds.column_names == list(FEATURES)
    assert len(set(ds["id"])) == ds.num_rows
    for row in ds:
        assert row["task"] == task
        assert row["images"] and all(isinstance(img, Image.Image) for img in row["images"])
        assert row["question"].strip() and row["solution"].strip()
        assert "\nA." not in row["question"] and "<think>" not in row["question"]
        if task == "multiple_choice":
            assert 2 <= len(row["choices"]) <= 4 and row["solution"] in row["choices"]
        else:
            assert row["choices"] == []
    info = benchmark_info(ds)
    assert {"benchmark", "split", "task", "classes", "options"} <= set(info)
    assert info["task"] == task


# ---------------------------------------------------------------------------------------------
# registry and common behaviour
# ---------------------------------------------------------------------------------------------


def test_registry_lists_every_benchmark():
    assert list_benchmarks() == sorted(["banner", "fgvc_aircraft", "sat", *SYNTHETIC])
    assert benchmark_options("fgvc_aircraft") == {
        "level": "variant",
        "crop_copyright": True,
        "max_image_side": None,
        "on_bad_image": "error",
    }


def test_unknown_benchmark_suggests_the_closest_name():
    with pytest.raises(DataError, match=r"Unknown benchmark 'fgvc_aircaft' \(did you mean 'fgvc_aircraft'\?\)"):
        load_benchmark("fgvc_aircaft", "train")


def test_unknown_option_lists_the_valid_options():
    pattern = r"Unknown option 'num_clases'.*did you mean 'num_classes'.*image_size=56.*num_classes=8.*answer_with="
    with pytest.raises(DataError, match=pattern):
        load_benchmark("synthetic_aircraft", "train", limit=2, num_clases=5)


def test_unknown_split_lists_the_valid_splits():
    with pytest.raises(DataError, match=r"Unknown split 'dev'.*Valid splits: train, val, test"):
        load_benchmark("synthetic_banner", "dev")
    with pytest.raises(DataError, match=r"Valid splits: train, static, val, test"):
        load_benchmark("sat", "validation", root="/nonexistent")


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        ({"limit": 0}, "limit must be a positive integer"),
        ({"seed": -1}, "seed must be a non-negative integer"),
        ({"image_size": 50}, "multiple of 28"),
    ],
)
def test_bad_arguments_are_reported(kwargs, pattern):
    with pytest.raises(DataError, match=pattern):
        load_benchmark("synthetic_banner", "train", **kwargs)


def test_register_benchmark_adds_a_loader(monkeypatch):
    monkeypatch.setattr(registry, "BENCHMARKS", dict(BENCHMARKS))

    @register_benchmark("toy", splits=("train",))
    def load_toy(split, root, limit, seed, *, colour="red"):
        return LoadedSplit([toy_row(colour)], task="binary", classes=["yes", "no"])

    ds = load_benchmark("toy", "train", colour="blue")
    assert ds[0]["question"] == "Is it blue?"
    assert benchmark_info(ds)["options"] == {"colour": "blue"}
    assert "toy" in data.list_benchmarks()


def test_benchmark_info_needs_a_loaded_dataset():
    with pytest.raises(DataError, match="not made by vrft_lib.data.load_benchmark"):
        benchmark_info(datasets.Dataset.from_dict({"a": [1]}))


def test_every_benchmark_has_the_same_features_and_concatenates(tmp_path):
    parts = [
        load_benchmark("banner", "test", root=make_banner_folder(tmp_path)),
        load_benchmark("fgvc_aircraft", "val", root=make_fgvc_root(tmp_path)),
        load_benchmark("sat", "val", root=make_sat_root(tmp_path)),
        *(load_benchmark(name, "val", limit=3) for name in SYNTHETIC),
    ]
    assert all(p.features == FEATURES for p in parts)
    both = datasets.concatenate_datasets(parts)
    assert both.num_rows == sum(p.num_rows for p in parts)
    assert set(both["task"]) == {"binary", "classification", "multiple_choice"}


# ---------------------------------------------------------------------------------------------
# banner
# ---------------------------------------------------------------------------------------------


def test_banner_folder_layout(tmp_path):
    root = make_banner_folder(tmp_path)
    ds = load_benchmark("banner", "train", root=str(root))
    check_schema(ds, "binary")
    files = BANNER_FOLDER_FILES["train"]
    assert ds.num_rows == len(files["positive"]) + len(files["negative"])  # .txt / .DS_Store ignored
    assert Counter(ds["solution"]) == {"positive": 4, "negative": 3}
    assert ds[0]["question"] == "What is the sentiment of this banner: positive or negative?"
    assert "banner-train-positive/p1.JPG" in ds["id"]
    assert ds[0]["rationale"] == ""
    info = benchmark_info(ds)
    assert info["classes"] == ["positive", "negative"] and info["options"]["on_bad_image"] == "error"


def test_banner_limit_is_a_deterministic_seeded_subset(tmp_path):
    root = make_banner_folder(tmp_path)
    a = load_benchmark("banner", "train", root=root, limit=3, seed=1)
    b = load_benchmark("banner", "train", root=root, limit=3, seed=1)
    assert a.num_rows == 3 and a["id"] == b["id"]
    bigger = load_benchmark("banner", "train", root=root, limit=4, seed=1)
    assert set(a["id"]) <= set(bigger["id"])
    others = {tuple(load_benchmark("banner", "train", root=root, limit=3, seed=s)["id"]) for s in range(6)}
    assert len(others) > 1
    assert load_benchmark("banner", "train", root=root, limit=1000).num_rows == 7


def test_banner_max_image_side(tmp_path):
    ds = load_benchmark("banner", "test", root=make_banner_folder(tmp_path), max_image_side=28)
    assert max(ds[0]["images"][0].size) == 28


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_banner_manifest(tmp_path, fmt):
    manifest = make_banner_manifest(tmp_path, fmt)
    ds = load_benchmark("banner", "train", root=manifest)
    check_schema(ds, "binary")
    expected = [r[1].lower() for r in BANNER_MANIFEST_ROWS if r[2] == "train"]
    assert ds["solution"] == expected  # "Positive" normalised; absolute path read
    assert load_benchmark("banner", "test", root=manifest).num_rows == 2
    with pytest.raises(DataError, match=r"Unknown split 'val'.*Valid splits.*test, train"):
        load_benchmark("banner", "val", root=manifest)


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_banner_manifest_bad_label_names_file_and_line(tmp_path, fmt):
    rows = BANNER_MANIFEST_ROWS[:2] + [("images/z.png", "neutral", "train")]
    manifest = make_banner_manifest(tmp_path, fmt, rows=rows)
    line = 4 if fmt == "csv" else 3  # the CSV header is line 1
    with pytest.raises(DataError, match=rf"Line {line} of manifest '.*manifest\.{fmt}' has label 'neutral'"):
        load_benchmark("banner", "train", root=manifest)


def test_banner_manifest_missing_column(tmp_path):
    manifest = tmp_path / "m.csv"
    manifest.write_text("path,label,split\na.png,positive,train\n")
    with pytest.raises(DataError, match=r"m\.csv' lacks the column\(s\) image; found columns: path, label, split"):
        load_benchmark("banner", "train", root=manifest)


def test_banner_missing_root_explains_the_layout(tmp_path):
    with pytest.raises(DataError, match=r"needs root=.*ROOT/<split>/<label>/<image>"):
        load_benchmark("banner", "train")
    with pytest.raises(DataError, match=r"'.*nope' for benchmark 'banner' does not exist.*manifest"):
        load_benchmark("banner", "train", root=tmp_path / "nope")


def test_banner_unknown_split_and_label_folder(tmp_path):
    root = make_banner_folder(tmp_path)
    with pytest.raises(DataError, match=r"Unknown split 'tset'.*did you mean 'test'.*test, train"):
        load_benchmark("banner", "tset", root=root)
    with pytest.raises(DataError, match=r"looks like a split folder itself: pass its parent as root"):
        load_benchmark("banner", "train", root=root / "train")
    write_image(root / "train" / "neutral" / "x.png")
    with pytest.raises(DataError, match=r"Folder '.*train/neutral' is not a banner label"):
        load_benchmark("banner", "train", root=root)


def test_banner_empty_split(tmp_path):
    root = make_banner_folder(tmp_path)
    (root / "val" / "positive").mkdir(parents=True)
    pattern = rf"Split 'val' of benchmark 'banner' is empty \(root: {re.escape(str(root))}\)"
    with pytest.raises(DataError, match=pattern):
        load_benchmark("banner", "val", root=root)


def test_banner_corrupt_image_error_and_skip(tmp_path):
    root = make_banner_folder(tmp_path)
    (root / "test" / "negative" / "broken.jpg").write_bytes(b"\xff\xd8 this is not a jpeg")
    with pytest.raises(DataError, match=r"broken\.jpg: cannot be read as an image.*on_bad_image='skip'"):
        load_benchmark("banner", "test", root=root)
    with pytest.warns(UserWarning, match=r"skipped 1 missing or unreadable image"):
        ds = load_benchmark("banner", "test", root=root, on_bad_image="skip")
    assert ds.num_rows == 4
    with pytest.raises(DataError, match=r"on_bad_image='ignore'.*'error', 'skip'"):
        load_benchmark("banner", "test", root=root, on_bad_image="ignore")


def test_banner_manifest_missing_image(tmp_path):
    manifest = make_banner_manifest(tmp_path, "csv")
    (manifest.parent / "images" / "a.png").unlink()
    with pytest.raises(DataError, match=r"a\.png: file not found"):
        load_benchmark("banner", "train", root=manifest)


# ---------------------------------------------------------------------------------------------
# fgvc_aircraft
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def fgvc_root(tmp_path):
    return make_fgvc_root(tmp_path)


def test_fgvc_labels_with_spaces_and_slashes(fgvc_root):
    ds = load_benchmark("fgvc_aircraft", "trainval", root=fgvc_root)
    check_schema(ds, "classification")
    assert ds["id"] == [f"fgvc_aircraft-trainval-{i}" for i, _ in FGVC_SPLIT_IDS["trainval"]]
    assert ds["solution"] == [label for _, label in FGVC_SPLIT_IDS["trainval"]]
    assert ds[0]["question"] == "Which aircraft variant is shown in this image?"
    assert benchmark_info(ds)["classes"] == FGVC_VARIANTS


def test_fgvc_crops_the_copyright_strip(fgvc_root):
    width, height = FGVC_IMAGE_SIZE
    cropped = load_benchmark("fgvc_aircraft", "test", root=fgvc_root, limit=1)[0]["images"][0].convert("RGB")
    assert cropped.size == (width, height - 20)
    bottom = np.asarray(cropped)[-3:].reshape(-1, 3).mean(0)
    assert bottom[2] > 200 and bottom[0] < 60  # blue body, no red strip left
    kept = load_benchmark("fgvc_aircraft", "test", root=fgvc_root, limit=1, crop_copyright=False)[0]["images"][0]
    assert kept.size == (width, height) and np.asarray(kept.convert("RGB"))[-3:, :, 0].mean() > 200


def test_fgvc_data_folder_as_root_levels_and_resize(fgvc_root):
    fam = load_benchmark("fgvc_aircraft", "train", root=fgvc_root / "data", level="family", max_image_side=28)
    assert fam["solution"] == [FGVC_FAMILY[v] for _, v in FGVC_SPLIT_IDS["train"]]
    assert fam[0]["question"] == "Which aircraft family is shown in this image?"
    assert max(fam[0]["images"][0].size) == 28
    man = load_benchmark("fgvc_aircraft", "val", root=fgvc_root, level="manufacturer")
    assert man["solution"] == [FGVC_MANUFACTURER[v] for _, v in FGVC_SPLIT_IDS["val"]]
    assert "McDonnell Douglas" in benchmark_info(man)["classes"]


def test_fgvc_missing_label_file_is_named(fgvc_root):
    (fgvc_root / "data" / "images_variant_val.txt").unlink()
    with pytest.raises(DataError, match=r"label file '.*data/images_variant_val\.txt' is missing"):
        load_benchmark("fgvc_aircraft", "val", root=fgvc_root)
    (fgvc_root / "data" / "variants.txt").unlink()
    with pytest.raises(DataError, match=r"class list '.*data/variants\.txt' is missing"):
        load_benchmark("fgvc_aircraft", "train", root=fgvc_root)


def test_fgvc_label_outside_the_class_list(fgvc_root):
    path = fgvc_root / "data" / "images_variant_test.txt"
    path.write_text(path.read_text() + "0213987 F/A-19\n")
    pattern = r"Line 4 of '.*images_variant_test\.txt' has variant 'F/A-19'.*did you mean 'F/A-18'"
    with pytest.raises(DataError, match=pattern):
        load_benchmark("fgvc_aircraft", "test", root=fgvc_root)


def test_fgvc_missing_root_and_wrong_folder(tmp_path):
    with pytest.raises(DataError, match=r"needs root=.*data/images/<id>\.jpg"):
        load_benchmark("fgvc_aircraft", "test")
    with pytest.raises(DataError, match=r"not an FGVC-Aircraft folder"):
        load_benchmark("fgvc_aircraft", "test", root=tmp_path)


def test_fgvc_missing_image_error_and_skip(fgvc_root):
    (fgvc_root / "data" / "images" / "0034309.jpg").unlink()
    with pytest.raises(DataError, match=r"0034309\.jpg: file not found"):
        load_benchmark("fgvc_aircraft", "train", root=fgvc_root)
    with pytest.warns(UserWarning, match="skipped 1"):
        assert load_benchmark("fgvc_aircraft", "train", root=fgvc_root, on_bad_image="skip").num_rows == 3


def test_fgvc_empty_split(fgvc_root):
    (fgvc_root / "data" / "images_variant_val.txt").write_text("\n")
    with pytest.raises(DataError, match=r"Split 'val' of benchmark 'fgvc_aircraft' is empty"):
        load_benchmark("fgvc_aircraft", "val", root=fgvc_root)


# ---------------------------------------------------------------------------------------------
# sat
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("image_format", ["bytes", "struct"])
def test_sat_both_image_encodings(tmp_path, image_format):
    root = make_sat_root(tmp_path, image_format)
    ds = load_benchmark("sat", "train", root=root)
    check_schema(ds, "multiple_choice")
    rows = SAT_ROWS["train"]
    assert ds.num_rows == len(rows)
    assert [len(r["images"]) for r in ds] == [r[0] for r in rows]
    assert ds[1]["images"][1].size == (32, 20)
    assert ds["solution"] == [r[4] for r in rows]
    assert [sorted(c) for c in ds["choices"]] == [sorted(r[2]) for r in rows]
    assert ds["question"] == [r[1] for r in rows]
    assert ds[1]["id"] == "sat-train-000001-ego_movement"
    assert benchmark_info(ds)["classes"] is None


def test_sat_choice_shuffling_is_seeded(tmp_path):
    root = make_sat_root(tmp_path)
    a = load_benchmark("sat", "train", root=root, seed=3)["choices"]
    assert a == load_benchmark("sat", "train", root=root, seed=3)["choices"]
    assert any(load_benchmark("sat", "train", root=root, seed=s)["choices"] != a for s in range(4, 8))
    plain = load_benchmark("sat", "train", root=root, shuffle_choices=False)
    assert plain["choices"] == [r[2] for r in SAT_ROWS["train"]]


def test_sat_limit_reads_chosen_rows_in_small_batches(tmp_path, monkeypatch):
    root = make_sat_root(tmp_path, "struct")
    full = load_benchmark("sat", "train", root=root)
    monkeypatch.setattr(sat_module, "SAT_TEXT_BATCH_ROWS", 2)
    monkeypatch.setattr(sat_module, "SAT_IMAGE_BATCH_ROWS", 3)
    sub = load_benchmark("sat", "train", root=root, limit=3, seed=7)
    assert sub.num_rows == 3 and sub["id"] == load_benchmark("sat", "train", root=root, limit=3, seed=7)["id"]
    by_id = {r["id"]: r for r in full}
    for row in sub:
        same = by_id[row["id"]]
        assert [i.size for i in row["images"]] == [i.size for i in same["images"]]
        assert row["solution"] == same["solution"]


def test_sat_correct_answer_outside_answers_names_the_row(tmp_path):
    rows = dict(SAT_ROWS, val=SAT_ROWS["val"][:2] + [(1, "Which?", ["a", "b"], "x", "c")])
    root = make_sat_root(tmp_path, rows=rows)
    with pytest.raises(DataError, match=r"Row 2 of '.*SAT_val\.parquet' has correct_answer 'c'"):
        load_benchmark("sat", "val", root=root)


COLLIDING_VAL = SAT_ROWS["val"][:2] + [(1, "Which side?", ["left", "right", "Left."], "obj_relation", "Left.")]


def test_sat_colliding_choices_are_refused_by_default(tmp_path):
    assert benchmark_options("sat")["on_colliding_choices"] == "error"
    root = make_sat_root(tmp_path, rows=dict(SAT_ROWS, val=COLLIDING_VAL))
    message = (
        r"Row 2 of '.*SAT_val\.parquet' has choices that are the same answer after normalisation: \['left', 'Left\.'\]"
    )
    with pytest.raises(DataError, match=message + r".*on_colliding_choices: skip"):
        load_benchmark("sat", "val", root=root)
    with pytest.raises(DataError, match=message):
        check_benchmark_files("sat", "val", root=root)
    with pytest.raises(DataError, match=r"on_colliding_choices='drop'.*'error', 'skip'"):
        load_benchmark("sat", "val", root=root, on_colliding_choices="drop")


def test_sat_colliding_choices_skipped_with_a_count(tmp_path):
    root = make_sat_root(tmp_path, rows=dict(SAT_ROWS, val=COLLIDING_VAL))
    check_benchmark_files("sat", "val", root=root, on_colliding_choices="skip")
    with pytest.warns(
        UserWarning, match=r"skipped 1 row\(s\) of '.*SAT_val\.parquet'.*first: row 2 \['left', 'Left\.'\]"
    ):
        ds = load_benchmark("sat", "val", root=root, on_colliding_choices="skip")
    assert ds["id"] == ["sat-val-000000-obj_relation", "sat-val-000001-obj_movement"]
    assert benchmark_info(ds)["options"]["on_colliding_choices"] == "skip"


def test_sat_rows_without_collisions_load_and_their_targets_score(tmp_path):
    # choices that differ after normalisation load; the SFT target of every row gets accuracy 1
    rows = [(1, "Which side?", ["left", "right", "left side"], "obj_relation", "left side")]
    root = make_sat_root(tmp_path, rows=dict(SAT_ROWS, val=SAT_ROWS["val"] + rows))
    for row in load_benchmark("sat", "val", root=root):
        for mode in ("think", "no_think"):
            target = sft_target(row, mode)
            assert accuracy_reward([target], solution=[row["solution"]], choices=[row["choices"]], mode=mode) == [1.0]


def test_sat_missing_file_field_and_root(tmp_path):
    root = make_sat_root(tmp_path)
    (root / "SAT_static.parquet").unlink()
    with pytest.raises(DataError, match=r"SAT file '.*SAT_static\.parquet' is missing \(found: SAT_test"):
        load_benchmark("sat", "static", root=root)
    import pyarrow.parquet as pq

    table = pq.read_table(root / "SAT_val.parquet").drop_columns(["correct_answer"])
    pq.write_table(table, root / "SAT_val.parquet")
    with pytest.raises(DataError, match=r"lacks the field\(s\) correct_answer"):
        load_benchmark("sat", "val", root=root)
    with pytest.raises(DataError, match=r"needs root=.*SAT_<split>\.parquet"):
        load_benchmark("sat", "val")


def test_sat_corrupt_image_error_and_skip(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    root = make_sat_root(tmp_path)
    table = pq.read_table(root / "SAT_test.parquet")
    images = table.column("image_bytes").to_pylist()
    images[1][1] = b"garbage"
    table = table.set_column(0, "image_bytes", pa.array(images, type=pa.list_(pa.binary())))
    pq.write_table(table, root / "SAT_test.parquet")
    with pytest.raises(DataError, match=r"image 1 of row 1 of '.*SAT_test\.parquet': cannot be read"):
        load_benchmark("sat", "test", root=root)
    with pytest.warns(UserWarning, match="skipped 1"):
        ds = load_benchmark("sat", "test", root=root, on_bad_image="skip")
    assert ds["id"] == ["sat-test-000000-obj_relation", "sat-test-000002-depth"]


# ---------------------------------------------------------------------------------------------
# synthetic
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SYNTHETIC)
def test_synthetic_schema_and_determinism(name):
    a = load_benchmark(name, "train", limit=40, seed=5)
    tasks = {"synthetic_banner": "binary", "synthetic_aircraft": "classification", "synthetic_count": "binary"}
    check_schema(a, tasks.get(name, "multiple_choice"))
    assert digest(a) == digest(load_benchmark(name, "train", limit=40, seed=5))
    assert a["question"] == load_benchmark(name, "train", limit=40, seed=5)["question"]
    assert digest(a) != digest(load_benchmark(name, "train", limit=40, seed=6))
    assert digest(a)[:10] == digest(load_benchmark(name, "train", limit=10, seed=5))  # longer extends shorter
    assert all(r["rationale"] and r["solution"] in r["rationale"] for r in a)
    assert a[0]["images"][0].size == (56, 56)


@pytest.mark.parametrize("name", SYNTHETIC)
def test_synthetic_splits_are_disjoint(name):
    train = set(digest(load_benchmark(name, "train", limit=300)))
    test = set(digest(load_benchmark(name, "test", limit=300)))
    val = set(digest(load_benchmark(name, "val", limit=100)))
    assert len(train) == 300 and not train & test and not train & val and not val & test


def test_synthetic_sizes_and_image_size_option():
    assert load_benchmark("synthetic_banner", "val").num_rows == synthetic.DEFAULT_NUM_SAMPLES["val"]
    assert load_benchmark("synthetic_banner", "val", num_samples=7, limit=100).num_rows == 7
    ds = load_benchmark("synthetic_spatial", "test", limit=2, image_size=112, num_objects=2)
    assert ds[0]["images"][0].size == (112, 112)
    options = {"image_size": 112, "num_samples": None, "num_objects": 2, "answer_with": "letter"}
    assert benchmark_info(ds)["options"] == options
    assert load_benchmark("synthetic_banner", "train", root="/ignored/path", limit=1).num_rows == 1


def test_synthetic_banner_is_balanced():
    ds = load_benchmark("synthetic_banner", "train", limit=200)
    assert Counter(ds["solution"]) == {"positive": 100, "negative": 100}
    assert benchmark_info(ds)["classes"] == ["positive", "negative"]


def test_synthetic_aircraft_classes_and_balance():
    ds = load_benchmark("synthetic_aircraft", "train", limit=80)
    classes = benchmark_info(ds)["classes"]
    assert classes == synthetic.aircraft_classes(8) and Counter(ds["solution"]) == {c: 10 for c in classes}
    names = synthetic.aircraft_classes(100)
    assert len(set(names)) == 100 and names[:8] == classes
    assert not any(a != b and b.startswith(a) for a in names for b in names)  # no name is a prefix of another
    assert any(" " in n for n in names) and any("/" in n for n in names) and any("-" in n for n in names)
    attrs = {json.dumps(synthetic.aircraft_attributes(k), sort_keys=True) for k in range(100)}
    assert len(attrs) == 100  # every class has its own combination of parts
    many = load_benchmark("synthetic_aircraft", "test", limit=200, num_classes=100)
    assert Counter(many["solution"]) == {n: 2 for n in names}
    with pytest.raises(DataError, match=r"num_classes=101.*from 2 to 100"):
        load_benchmark("synthetic_aircraft", "test", limit=1, num_classes=101)


def test_synthetic_spatial_questions_and_balanced_answers():
    ds = load_benchmark("synthetic_spatial", "train", limit=600)
    positions = Counter()
    for row in ds:
        positions[(len(row["choices"]), row["choices"].index(row["solution"]))] += 1
        assert row["question"].endswith("?")
    assert {k for k, _ in positions} == {2, 3, 4}
    for k in (2, 3, 4):
        counts = [positions[(k, p)] for p in range(k)]
        assert min(counts) > 0.6 * (sum(counts) / k), counts
    two = load_benchmark("synthetic_spatial", "val", limit=50, num_objects=2)
    assert {len(c) for c in two["choices"]} == {2}
    with pytest.raises(DataError, match=r"num_objects=4.*2, 3"):
        load_benchmark("synthetic_spatial", "val", limit=1, num_objects=4)


def test_synthetic_thousand_rows_each():
    for name in SYNTHETIC:
        assert load_benchmark(name, "train", limit=1000).num_rows == 1000


def test_sat_reads_text_columns_first_then_images_in_batches(tmp_path, monkeypatch):
    """The 5 GiB single-row-group train file must never be read whole."""
    import pyarrow.parquet as pq

    calls = []

    class Spy(pq.ParquetFile):
        def __init__(self, *args, **kwargs):
            calls.append(("open", kwargs.get("buffer_size", 0) > 0, kwargs.get("pre_buffer", True)))
            super().__init__(*args, **kwargs)

        def iter_batches(self, *args, **kwargs):
            calls.append(("batches", tuple(kwargs["columns"])))
            return super().iter_batches(*args, **kwargs)

        def read(self, *args, **kwargs):  # pragma: no cover - the failure this test guards against
            raise AssertionError("the whole file was read")

    monkeypatch.setattr(pq, "ParquetFile", Spy)
    monkeypatch.setattr(pq, "read_table", Spy.read)
    load_benchmark("sat", "train", root=make_sat_root(tmp_path), limit=2)
    assert calls[0] == ("open", True, False)  # buffered page-by-page reads, no pre-buffering of the row group
    assert calls[1][0] == "batches" and "image_bytes" not in calls[1][1]
    assert calls[2] == ("batches", ("image_bytes",))


def _centre(image, colour_name):
    pixels = np.asarray(image.convert("RGB"), dtype=float)
    target = np.array(synthetic.SPATIAL_COLOURS[colour_name], dtype=float)
    ys, xs = np.nonzero(np.abs(pixels - target).max(axis=2) < 30)
    assert len(ys) > 10, colour_name
    return xs.mean(), ys.mean()


def test_synthetic_spatial_answers_match_the_pixels():
    pattern = re.compile(r"Is the (\w+) \w+ (above or below|to the left or to the right of) the (\w+) \w+\?")
    checked = 0
    for row in load_benchmark("synthetic_spatial", "test", limit=80):
        match = pattern.fullmatch(row["question"])
        if not match:
            continue
        (ax, ay), (bx, by) = _centre(row["images"][0], match[1]), _centre(row["images"][0], match[3])
        if match[2] == "above or below":
            assert row["solution"] == ("above" if ay < by else "below")
        else:
            assert row["solution"] == ("left" if ax < bx else "right")
        checked += 1
    assert checked > 20


def test_synthetic_banner_background_matches_the_label():
    ds = load_benchmark("synthetic_banner", "val", limit=40)
    for row in ds:
        background = np.median(np.asarray(row["images"][0].convert("RGB"), dtype=float).reshape(-1, 3), axis=0)
        palette = synthetic.POSITIVE_BACKGROUNDS if row["solution"] == "positive" else synthetic.NEGATIVE_BACKGROUNDS
        nearest = min(
            [*synthetic.POSITIVE_BACKGROUNDS.values(), *synthetic.NEGATIVE_BACKGROUNDS.values()],
            key=lambda c: np.abs(background - np.array(c)).sum(),
        )
        assert nearest in palette.values()


@given(n=st.integers(0, 300), limit=st.one_of(st.none(), st.integers(1, 400)), seed=st.integers(0, 2**32 - 1))
@settings(max_examples=60, deadline=None)
def test_choose_is_a_sorted_nested_subset(n, limit, seed):
    chosen = data.choose_rows(n, limit, seed)
    assert chosen == sorted(set(chosen)) and all(0 <= i < n for i in chosen)
    assert len(chosen) == (n if limit is None else min(n, limit))
    if limit is not None:
        assert set(chosen) <= set(data.choose_rows(n, limit + 1, seed))


def test_synthetic_aircraft_named_in_words_is_asked_open_ended_with_the_names_listed():
    ds = load_benchmark("synthetic_aircraft", "train", limit=100, num_classes=10, names="words", answer_with="text")
    classes = benchmark_info(ds)["classes"]
    assert classes == synthetic.aircraft_word_classes(10) and Counter(ds["solution"]) == {c: 10 for c in classes}
    assert {c.split()[0] for c in classes} == set(synthetic.AIRCRAFT_COLOURS)
    assert {c.split()[1] for c in classes} == set(synthetic.WING_TYPES)
    row = ds[0]
    text = user_text(row, "no_think", classes)
    assert row["question"] == synthetic.AIRCRAFT_WORDS_QUESTION and "Options: red straight, blue straight" in text
    assert (
        "A. " not in text
        and sft_target(with_class_choices(row, classes), "no_think") == f"<answer>{row['solution']}</answer>"
    )
    # the same images as the coded names: only the names differ
    coded = load_benchmark("synthetic_aircraft", "train", limit=10, num_classes=10)
    assert digest(coded) == digest(ds)[:10]
    with pytest.raises(DataError, match=r"num_classes=11.*from 2 to 10 with names: words"):
        load_benchmark("synthetic_aircraft", "train", limit=1, num_classes=11, names="words")
    with pytest.raises(DataError, match=r"names='wordz'"):
        load_benchmark("synthetic_aircraft", "train", limit=1, names="wordz")


def _colour_pixels(image, colour_name):
    pixels = np.asarray(image.convert("RGB"), dtype=float)
    return int(
        (np.abs(pixels - np.array(synthetic_count.COUNT_COLOURS[colour_name], dtype=float)).max(axis=2) < 40).sum()
    )


def test_synthetic_count_answer_is_the_count_and_a_glance_misleads_in_a_third_of_the_rows():
    pattern = re.compile(r"Which colour has more shapes here: (\w+) or (\w+)\?")
    ds = load_benchmark("synthetic_count", "test", limit=300)
    assert Counter(ds["solution"][k] == pattern.fullmatch(ds["question"][k])[1] for k in range(300)) == {
        True: 150,
        False: 150,
    }
    misled = 0
    for row in ds:
        a, b = pattern.fullmatch(row["question"]).groups()
        counts = dict(zip((a, b), map(int, re.match(r"I count (\d) \w+ and (\d) \w+\.", row["rationale"]).groups())))
        assert row["solution"] == max(counts, key=counts.get) and sorted(counts.values()) in ([1, 2], [1, 3])
        area = {c: _colour_pixels(row["images"][0], c) for c in (a, b)}
        misled += max(area, key=area.get) != row["solution"]
    assert 0.25 < misled / 300 < 0.42, misled  # the more frequent colour covers less of the picture
    honest = load_benchmark("synthetic_count", "test", limit=100, misleading=0.0)
    glance = [
        max((_colour_pixels(r["images"][0], c), c) for c in pattern.fullmatch(r["question"]).groups())[1]
        for r in honest
    ]
    assert glance == honest["solution"]
    with pytest.raises(DataError, match=r"misleading=1.5"):
        load_benchmark("synthetic_count", "test", limit=1, misleading=1.5)

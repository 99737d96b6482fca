"""Bad input gets a clear error before any work starts (fast: no model is loaded, nothing is trained).

Each test writes a small study (or run) with one thing wrong and checks that the error names the
study file, the field or path, and the bad value. What the library checks elsewhere has its own
tests (listed in the docstring of each section); these cover what ``vrft_lib.validate`` adds.
"""

from __future__ import annotations

import copy
import subprocess
import sys
import time

import pytest
import yaml
from data_fixtures import make_banner_folder, make_banner_manifest, make_fgvc_root, make_sat_root, toy_row

from vrft_lib.data import check_benchmark_files
from vrft_lib.errors import ConfigError, DataError, ModelError
from vrft_lib.plan.spec import check_study_fields, expand_study, load_study
from vrft_lib.study.preflight import run_dir_conflicts, validate_run, validate_study

BASE = {
    "name": "v",
    "synthetic": True,
    "seeds": [0],
    "model": "tiny",
    "benchmarks": {
        "synthetic_banner": {
            "label": "Banner",
            "task_kind": "binary",
            "data": {"name": "synthetic_banner", "train_limit": 16, "eval_limit": 8},
        },
    },
    "variants": ["training_free", "rft"],
    "rft": {
        "trainer": {
            "max_steps": 2,
            "num_generations": 4,
            "per_device_train_batch_size": 8,
            "gradient_accumulation_steps": 1,
            "max_completion_length": 16,
        }
    },
    "evaluation": {"modes": ["no_think", "think"], "max_new_tokens": 16, "batch_size": 8},
    "run_defaults": {"device": "cpu", "keep_checkpoints": 1, "save_steps": 2},
}


def study_file(tmp_path, patch=None, name="s.yaml", base=BASE):
    """Write BASE deep-merged with ``patch`` (None values delete a key) and return the path."""
    study = copy.deepcopy(base)

    def merge(dst, src):
        for k, v in src.items():
            if v is None:
                dst.pop(k, None)
            elif isinstance(v, dict) and isinstance(dst.get(k), dict):
                merge(dst[k], v)
            else:
                dst[k] = copy.deepcopy(v)

    merge(study, patch or {})
    path = tmp_path / name
    path.write_text(yaml.safe_dump(study, sort_keys=False))
    return path


def check(tmp_path, patch=None, out="out", **kw):
    """load_study + expand_study + validate_study on BASE with ``patch``."""
    path = study_file(tmp_path, patch)
    study = load_study(path)
    runs = expand_study(study, tmp_path / out)
    validate_study(study, runs, tmp_path / out, **kw)
    return path


def banner_study(root, **data):
    return {
        "benchmarks": {
            "synthetic_banner": None,
            "banner": {"label": "Banner", "task_kind": "binary", "data": {"name": "banner", "root": str(root), **data}},
        }
    }


def vrft(*args, timeout=300):
    return subprocess.run(
        [sys.executable, "-m", "vrft_lib.cli", *map(str, args)], capture_output=True, text=True, timeout=timeout
    )


def test_a_good_study_passes_quickly_and_writes_nothing(tmp_path):
    check(tmp_path)  # warm the imports
    t = time.perf_counter()
    study = load_study("params/smoke.yaml")
    validate_study(study, expand_study(study, tmp_path / "smoke"), tmp_path / "smoke")
    assert time.perf_counter() - t < 10
    assert not (tmp_path / "smoke").exists() and not (tmp_path / "out").exists()


# ---------------------------------------------------------------------------------------------
# unknown keys, wrong types, out-of-range values, unknown names
# (elsewhere: test_study.py::test_bad_study_files_name_the_key (study and benchmark keys, variants,
# seeds, reference), test_config.py::test_bad_run_configs_name_the_field (run keys, method, mode,
# benchmark, reward, seed type, keep_checkpoints), test_config.py::test_unknown_trainer_field_suggests,
# test_evaluate.py::test_bad_eval_configs, test_rewards.py::test_build_rewards_errors)
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "patch, key, suggestion, section",
    [
        (
            {"run_defaults": {"keep_checkpoint": 1}},
            "keep_checkpoint",
            "keep_checkpoints",
            "run_defaults.keep_checkpoint",
        ),
        (
            {"rft": {"trainer": {"num_generation": 4}}},
            "num_generation",
            "num_generations",
            "rft.trainer.num_generation",
        ),
        (
            {"benchmarks": {"synthetic_banner": {"data": {"eval_limt": 4}}}},
            "eval_limt",
            "eval_limit",
            "benchmarks.synthetic_banner.data.eval_limt",
        ),
        ({"evaluation": {"max_new_token": 4}}, "max_new_token", "max_new_tokens", "evaluation.max_new_token"),
    ],
)
def test_unknown_key_in_a_study_section_names_the_file_and_the_section(tmp_path, patch, key, suggestion, section):
    with pytest.raises(ConfigError) as e:
        check(tmp_path, patch)
    msg = str(e.value)
    assert str(tmp_path / "s.yaml") in msg and f"'{key}'" in msg and f"did you mean '{suggestion}'" in msg
    assert f"set in {section}" in msg, msg


@pytest.mark.parametrize(
    "raw, match",
    [
        ({"rft": 5}, r"s\.yaml: rft: expected a mapping, got 5"),
        ({"benchmarks": {"synthetic_banner": [1, 2]}}, r"benchmarks\.synthetic_banner: expected a mapping"),
        ({"synthetic": "yes"}, r"synthetic: expected true or false, got 'yes'"),
        ({"model": 7}, r"model: expected a string or a mapping, got 7"),
        ({"variants": "rft"}, r"variants: expected a list"),
        ({"benchmarks": {"b": {"length_reward": "yes"}}}, r"benchmarks\.b\.length_reward: expected true or false"),
        ({"train_mode": "thinking"}, r"train_mode: unknown mode 'thinking' \(did you mean 'think'\?\)"),
        (
            {"benchmarks": {"b": {"task_kind": "reasonning"}}},
            r"task_kind: unknown kind 'reasonning' \(did you mean 'reasoning'",
        ),
        ({"benchmarks": {"b": {"length_reward": True}}}, r"benchmarks\.b\.length_reward is true, but .* no top-level"),
    ],
)
def test_wrong_types_and_values_of_study_fields(raw, match):
    with pytest.raises(ConfigError, match=match):
        check_study_fields(raw, "s.yaml")


def test_load_study_checks_field_types_before_expanding(tmp_path):
    """Without the check, ``rft: 5`` is an AttributeError traceback in expand_study."""
    with pytest.raises(ConfigError, match=r"rft: expected a mapping, got 5"):
        load_study(study_file(tmp_path, {"rft": 5}))


@pytest.mark.parametrize(
    "patch, match",
    [
        (
            {"benchmarks": {"synthetic_banner": {"data": {"train_limit": "16"}}}},
            r"data\.train_limit: expected an integer, got '16'",
        ),
        ({"rft": {"trainer": {"max_steps": "80"}}}, r"trainer\.max_steps: expected an integer, got '80'"),
        ({"rft": {"trainer": {"learning_rate": "fast"}}}, r"trainer\.learning_rate: expected a number, got 'fast'"),
        ({"run_defaults": {"save_steps": 0}}, r"save_steps: must be at least 1, got 0"),
        ({"benchmarks": {"synthetic_banner": {"data": {"eval_limit": 0}}}}, r"eval_limit: must be a positive integer"),
        ({"rft": {"trainer": {"learning_rate": -1.0e-4}}}, r"trainer\.learning_rate: must be above 0"),
        ({"rft": {"trainer": {"max_steps": 0}}}, r"trainer\.max_steps: must be at least 1"),
        ({"rft": {"trainer": {"beta": -0.1}}}, r"trainer\.beta: must not be negative"),
        ({"evaluation": {"bootstrap": 0}}, r"bootstrap: no longer a setting"),
        ({"evaluation": {"do_sample": True, "temperature": 0}}, r"temperature: sampling needs a temperature above 0"),
        (
            {"rft": {"trainer": {"lr_scheduler_type": "cosin"}}},
            r"lr_scheduler_type: unknown value 'cosin' \(did you mean 'cosine'\?\)",
        ),
        ({"model": {"name_or_path": "tiny", "dtype": "bf16"}}, r"model\.dtype: unknown dtype 'bf16'"),
        (
            {"benchmarks": {"synthetic_banner": {"data": {"options": {"image_size": 50}}}}},
            r"image_size=50.*multiple of 28",
        ),
        (
            {"benchmarks": {"synthetic_banner": {"data": {"options": {"num_clases": 3}}}}},
            r"Unknown option 'num_clases'",
        ),
        (
            {"benchmarks": {"synthetic_banner": {"data": {"eval_split": "tset"}}}},
            r"Unknown split 'tset'.*did you mean 'test'",
        ),
    ],
)
def test_bad_run_values_name_the_study_the_run_and_the_field(tmp_path, patch, match):
    with pytest.raises((ConfigError, DataError), match=match) as e:
        check(tmp_path, patch)
    assert str(e.value).startswith(f"Study file '{tmp_path / 's.yaml'}', run synthetic_banner/")


def test_batch_not_divisible_by_num_generations_is_found_before_any_run(tmp_path):
    """(test_config.py::test_batch_arithmetic_is_checked checks the arithmetic itself.)"""
    with pytest.raises(ConfigError) as e:
        check(tmp_path, {"rft": {"trainer": {"per_device_train_batch_size": 6}}})
    msg = str(e.value)
    assert "run synthetic_banner/rft/seed0" in msg and "= 6) must be divisible by num_generations (4)" in msg


# ---------------------------------------------------------------------------------------------
# data: roots, annotation files, class lists, images, empty splits
# (the loaders' own errors: test_data.py::test_banner_missing_root_explains_the_layout,
# test_fgvc_missing_label_file_is_named, test_fgvc_label_outside_the_class_list,
# test_sat_missing_file_field_and_root, test_banner_empty_split, test_fgvc_empty_split,
# test_banner_manifest_bad_label_names_file_and_line; corrupt images, error vs skip with a count:
# test_banner_corrupt_image_error_and_skip, test_fgvc_missing_image_error_and_skip,
# test_sat_corrupt_image_error_and_skip)
# ---------------------------------------------------------------------------------------------


def test_missing_dataset_root(tmp_path):
    with pytest.raises(DataError) as e:
        check(tmp_path, banner_study(tmp_path / "no_such_banners"))
    msg = str(e.value)
    assert str(tmp_path / "s.yaml") in msg and "benchmarks.banner" in msg
    assert f"Root '{tmp_path / 'no_such_banners'}' for benchmark 'banner' does not exist" in msg
    assert "ROOT/<split>/<label>/<image>" in msg  # how to fix it: the expected layout
    with pytest.raises(DataError, match=r"benchmarks\.banner.*needs root="):
        check(tmp_path, {"benchmarks": {"synthetic_banner": None, "banner": {"data": {"name": "banner"}}}})


def test_missing_annotation_files(tmp_path):
    root = make_fgvc_root(tmp_path)
    (root / "data" / "images_variant_test.txt").unlink()
    fgvc = {
        "benchmarks": {
            "synthetic_banner": None,
            "fgvc": {"data": {"name": "fgvc_aircraft", "root": str(root), "train_split": "trainval"}},
        }
    }
    with pytest.raises(DataError) as e:
        check(tmp_path, fgvc)
    msg = str(e.value)
    assert "benchmarks.fgvc" in msg and "eval_split 'test'" in msg
    assert f"label file '{root / 'data' / 'images_variant_test.txt'}' is missing" in msg
    (root / "data" / "variants.txt").unlink()
    with pytest.raises(DataError, match=r"class list '.*data/variants\.txt' is missing"):
        check(tmp_path, fgvc)

    sat = make_sat_root(tmp_path)
    (sat / "SAT_test.parquet").unlink()
    with pytest.raises(DataError, match=r"SAT file '.*SAT_test\.parquet' is missing \(found: SAT_static"):
        check(tmp_path, {"benchmarks": {"synthetic_banner": None, "sat": {"data": {"name": "sat", "root": str(sat)}}}})


def test_label_outside_the_class_list(tmp_path):
    root = make_fgvc_root(tmp_path)
    labels = root / "data" / "images_variant_trainval.txt"
    labels.write_text(labels.read_text() + "0213987 F/A-19\n")
    patch = {
        "benchmarks": {
            "synthetic_banner": None,
            "fgvc": {"data": {"name": "fgvc_aircraft", "root": str(root), "train_split": "trainval"}},
        }
    }
    with pytest.raises(DataError) as e:
        check(tmp_path, patch)
    msg = str(e.value)
    assert "train_split 'trainval'" in msg and "Line 7 of" in msg and "images_variant_trainval.txt" in msg
    assert "variant 'F/A-19'" in msg and "did you mean 'F/A-18'" in msg

    manifest = make_banner_manifest(tmp_path, "csv")
    manifest.write_text(manifest.read_text() + "images/a.png,neutral,test\n")
    with pytest.raises(DataError, match=r"manifest\.csv' has label 'neutral'"):
        check(tmp_path, banner_study(manifest))


def test_relative_paths_are_checked_where_the_runs_start(tmp_path, monkeypatch):
    """The notebooks run in the notebooks' folder: a relative root that exists from here is not found there."""
    root = make_banner_folder(tmp_path)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as e:
        check(tmp_path, banner_study("banners"))
    msg = str(e.value)
    assert "data.root: the relative path 'banners' exists from the current folder" in msg
    assert f"Give the absolute path instead: '{root}'" in msg
    check(tmp_path, banner_study(root))


def test_sat_correct_answer_outside_the_answers(tmp_path):
    from data_fixtures import SAT_ROWS

    rows = dict(SAT_ROWS, test=SAT_ROWS["test"] + [(1, "Which?", ["a", "b"], "x", "c")])
    root = make_sat_root(tmp_path, rows=rows)
    with pytest.raises(DataError, match=r"Row 3 of '.*SAT_test\.parquet' has correct_answer 'c'"):
        check(tmp_path, {"benchmarks": {"synthetic_banner": None, "sat": {"data": {"name": "sat", "root": str(root)}}}})


def test_missing_image_files_are_found_without_decoding_images(tmp_path):
    manifest = make_banner_manifest(tmp_path, "jsonl")
    (manifest.parent / "images" / "e.png").unlink()
    with pytest.raises(DataError) as e:
        check(tmp_path, banner_study(manifest))
    msg = str(e.value)
    assert "eval_split 'test'" in msg and f"Image '{manifest.parent / 'images' / 'e.png'}'" in msg
    assert "on_bad_image: skip" in msg
    check(tmp_path, banner_study(manifest, options={"on_bad_image": "skip"}))  # skipping is allowed
    # A corrupt image is found when the data are loaded (the loader names it, or skips it with a
    # count): validation reads no image, so it lets the file through.
    root = make_banner_folder(tmp_path)
    (root / "test" / "negative" / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    check(tmp_path, banner_study(root))


def test_empty_split(tmp_path):
    root = make_banner_folder(tmp_path)
    (root / "val" / "positive").mkdir(parents=True)
    (root / "val" / "negative").mkdir(parents=True)
    with pytest.raises(DataError) as e:
        check(tmp_path, banner_study(root, eval_split="val"))
    msg = str(e.value)
    assert "benchmarks.banner" in msg and "eval_split 'val'" in msg
    assert f"Split 'val' of benchmark 'banner' is empty (root: {root})" in msg

    import pyarrow.parquet as pq

    sat = make_sat_root(tmp_path)
    table = pq.read_table(sat / "SAT_val.parquet")
    pq.write_table(table.slice(0, 0), sat / "SAT_val.parquet")
    with pytest.raises(DataError, match=r"Split 'val' of benchmark 'sat' is empty"):
        check_benchmark_files("sat", "val", root=sat)


def test_good_real_layouts_pass(tmp_path):
    check_benchmark_files("banner", "train", root=make_banner_folder(tmp_path), limit=3)
    check_benchmark_files("banner", "train", root=make_banner_manifest(tmp_path, "csv"))
    check_benchmark_files("fgvc_aircraft", "val", root=make_fgvc_root(tmp_path), level="family")
    check_benchmark_files("sat", "static", root=make_sat_root(tmp_path, "struct"))
    with pytest.raises(DataError, match=r"on_bad_image='ignore'"):
        check_benchmark_files("banner", "train", root=tmp_path / "banners", on_bad_image="ignore")


@pytest.fixture
def registry_copy(monkeypatch):
    """Benchmarks registered in a test stay in that test."""
    from vrft_lib.data import registry

    monkeypatch.setattr(registry, "BENCHMARKS", dict(registry.BENCHMARKS))


def sft_run(data):
    return {
        "name": "r",
        "method": "sft",
        "model": "tiny",
        "device": "cpu",
        "data": data,
        "trainer": {"max_steps": 2, "per_device_train_batch_size": 2, "gradient_accumulation_steps": 1},
    }


def test_a_benchmark_registered_with_a_file_check_gets_it_from_preflight(tmp_path, registry_copy):
    """The documented way to add a benchmark (docs/data.md): the loader with its file check beside it."""
    from vrft_lib.data import register_benchmark

    calls = []

    def check_toy_files(split, root, limit, seed, *, min_rows):
        calls.append((split, root, limit, seed, min_rows))
        labels = root / f"{split}.txt"
        if not labels.is_file():
            raise DataError(f"Toy label file '{labels}' is missing.")

    @register_benchmark(
        "toy_files", splits=("train", "test"), needs_root=True, check=check_toy_files, layout="ROOT/<split>.txt"
    )
    def load_toy_files(split, root, limit, seed, *, min_rows=1):  # pragma: no cover - preflight loads nothing
        raise AssertionError("preflight must not load the data")

    root = tmp_path / "toy"
    root.mkdir()
    (root / "train.txt").write_text("a yes\n")
    data = {"name": "toy_files", "root": str(root), "train_limit": 4, "options": {"min_rows": 2}}
    validate_run(sft_run(data))
    assert calls == [("train", root, 4, 0, 2)]  # the root as a path, the limit, the seed, every option
    with pytest.raises(
        DataError, match=r"eval 'e'\.data \(eval_split 'test', .*Toy label file '.*test\.txt' is missing"
    ):
        validate_run(sft_run(data), {"name": "e", "model": "tiny", "data": data, "device": "cpu"})
    assert [c[0] for c in calls] == ["train", "train", "test"]
    # The generic checks come first: the root, and with files=False nothing is read.
    with pytest.raises(
        DataError,
        match=r"Root '.*nowhere' for benchmark 'toy_files' does not exist\. "
        r"Expected ROOT/<split>\.txt\.",
    ):
        check_benchmark_files("toy_files", "train", root=tmp_path / "nowhere")
    check_benchmark_files("toy_files", "test", root=root, files=False)
    assert len(calls) == 3


def test_a_benchmark_registered_without_a_file_check_gets_the_generic_checks(tmp_path, registry_copy):
    from vrft_lib.data import LoadedSplit, register_benchmark

    loads = []

    @register_benchmark("toy_files", splits=("train", "test"), needs_root=True)
    def load_toy_files(split, root, limit, seed, *, colour="red"):  # pragma: no cover - preflight loads nothing
        raise AssertionError("preflight must not load data that need a root")

    @register_benchmark("toy_drawn", splits=("train", "test"))
    def load_toy_drawn(split, root, limit, seed, *, colour="red"):
        loads.append((split, limit, seed, colour))
        if colour not in ("red", "blue"):
            raise DataError(f"Option colour={colour!r} of benchmark 'toy_drawn' is invalid.")
        return LoadedSplit([toy_row(colour)], task="binary", classes=["yes", "no"])

    for name in ("toy_files", "toy_drawn"):
        with pytest.raises(DataError, match=rf"Unknown option 'colur' for benchmark '{name}' \(did you mean 'colour'"):
            check_benchmark_files(name, "train", root=tmp_path, colur="blue")
        with pytest.raises(DataError, match=rf"Unknown split 'tset' for benchmark '{name}' \(did you mean 'test'"):
            check_benchmark_files(name, "tset", root=tmp_path)
        with pytest.raises(DataError, match=r"seed must be a non-negative integer, got -1"):
            check_benchmark_files(name, "train", root=tmp_path, seed=-1)
    with pytest.raises(DataError, match=r"Benchmark 'toy_files' needs root=: the path of its data\.$"):
        check_benchmark_files("toy_files", "train")
    with pytest.raises(
        DataError,
        match=r"run 'r'\.data \(train_split 'train', .*Root '.*nowhere' for benchmark "
        r"'toy_files' does not exist",
    ):
        validate_run(sft_run({"name": "toy_files", "root": str(tmp_path / "nowhere")}))
    validate_run(sft_run({"name": "toy_files", "root": str(tmp_path)}))
    assert not loads
    # A benchmark that needs no root is drawn: one row, which checks the option values.
    validate_run(sft_run({"name": "toy_drawn", "train_limit": 8, "options": {"colour": "blue"}}))
    assert loads == [("train", 1, 0, "blue")]
    with pytest.raises(DataError, match=r"run 'r'\.data .*colour='green' of benchmark 'toy_drawn' is invalid"):
        validate_run(sft_run({"name": "toy_drawn", "options": {"colour": "green"}}))


def test_validate_run_checks_a_single_run(tmp_path):
    cfg = {
        "name": "r",
        "method": "sft",
        "model": "tiny",
        "device": "cpu",
        "data": {"name": "fgvc_aircraft", "root": str(tmp_path / "fgvc")},
        "trainer": {"max_steps": 2, "per_device_train_batch_size": 2, "gradient_accumulation_steps": 1},
    }
    with pytest.raises(DataError, match=r"run 'r'\.data \(train_split 'train', .*fgvc.*does not exist"):
        validate_run(cfg)
    cfg["data"]["root"] = str(make_fgvc_root(tmp_path))
    validate_run(cfg, {"model": "tiny", "data": cfg["data"], "device": "cpu"})


# ---------------------------------------------------------------------------------------------
# models and the machine
# (elsewhere: test_models.py::test_hub_id_offline_error_names_the_fix, test_bad_local_paths,
# test_config.py::test_cpu_switches_off_gpu_only_settings, test_evaluate.py::test_vllm_needs_a_gpu)
# ---------------------------------------------------------------------------------------------


def test_hub_id_with_no_local_copy_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError) as e:
        check(tmp_path, {"model": "Qwen/Qwen2.5-VL-7B-Instruct-not-cached"})
    msg = str(e.value)
    assert str(tmp_path / "s.yaml") in msg and "Qwen/Qwen2.5-VL-7B-Instruct-not-cached" in msg
    assert "HF_HUB_OFFLINE" in msg and "local path" in msg


def test_hub_id_with_no_local_copy_and_no_network(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens there
    with pytest.raises(ModelError) as e:
        check(tmp_path, {"model": "Qwen/Qwen2.5-VL-7B-Instruct-not-cached"})
    msg = str(e.value)
    assert "Qwen/Qwen2.5-VL-7B-Instruct-not-cached" in msg and "cannot be reached" in msg and "local path" in msg


def test_missing_local_model_folder(tmp_path):
    with pytest.raises(ModelError, match=r"Study file .*: run .*model: Model folder '.*' has no config\.json"):
        check(tmp_path, {"model": str(tmp_path)})


@pytest.mark.parametrize(
    "patch, match",
    [
        ({"rft": {"trainer": {"bf16": True}}}, r"run synthetic_banner/rft/seed0 .*trainer\.bf16: needs a GPU"),
        ({"run_defaults": {"use_vllm": True}}, r"use_vllm: vLLM needs a GPU"),
        ({"evaluation": {"backend": "vllm"}}, r"backend: vLLM needs a GPU"),
        (
            {"model": {"name_or_path": "tiny", "attn_implementation": "flash_attention_2"}},
            r"attn_implementation: 'flash_attention_2' needs a GPU",
        ),
    ],
)
def test_gpu_only_options_on_a_cpu_run(tmp_path, patch, match):
    with pytest.raises(ConfigError, match=match) as e:
        check(tmp_path, patch)
    assert str(tmp_path / "s.yaml") in str(e.value)


def test_cuda_device_on_a_machine_without_gpu(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(ConfigError, match=r"device: 'cuda' asks for a GPU, and this machine has none"):
        check(tmp_path, {"run_defaults": {"device": "cuda"}})


def test_missing_notebooks_and_unwritable_output(tmp_path, monkeypatch):
    monkeypatch.setenv("VRFT_NOTEBOOKS", str(tmp_path / "nowhere"))
    with pytest.raises(ConfigError, match=r"Notebook '.*nowhere/\w+\.ipynb' is missing.*VRFT_NOTEBOOKS"):
        check(tmp_path)
    monkeypatch.delenv("VRFT_NOTEBOOKS")
    (tmp_path / "afile").write_text("x")
    with pytest.raises(ConfigError, match=r"afile' is a file, not a folder"):
        check(tmp_path, out="afile/out")


# ---------------------------------------------------------------------------------------------
# the output folder
# (elsewhere, slow: test_study.py::test_a_different_study_in_the_same_folder_is_refused)
# ---------------------------------------------------------------------------------------------


def test_output_folder_of_a_different_study(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    other = load_study(study_file(tmp_path, {"seeds": [1]}, name="other.yaml"))
    (out / "study.yaml").write_text(yaml.safe_dump({k: v for k, v in other.items() if not k.startswith("_")}))
    with pytest.raises(ConfigError) as e:
        check(tmp_path)
    msg = str(e.value)
    assert f"Output folder '{out}' holds a different study" in msg and "seeds" in msg and "--out" in msg
    check(tmp_path, force=True)  # --force replaces its runs


def test_unfinished_run_of_a_different_config_in_the_output_folder(tmp_path):
    path = study_file(tmp_path)
    study = load_study(path)
    runs = expand_study(study, tmp_path / "out")
    rft = next(r for r in runs if r.variant == "rft")
    from vrft_lib.notebook import prepare

    cfg, _ = prepare(rft.parameters["run"], rft.parameters["evaluation"], rft.run_dir)
    old = cfg.to_dict()
    old["trainer"] = {**old["trainer"], "max_steps": 99}
    (tmp_path / "out" / "runs" / "synthetic_banner" / "rft" / "seed0" / "train").mkdir(parents=True)
    (tmp_path / "out" / "runs" / "synthetic_banner" / "rft" / "seed0" / "train" / "config.yaml").write_text(
        yaml.safe_dump(old)
    )
    assert [(r.run_id, d) for r, d in run_dir_conflicts(runs)] == [("synthetic_banner/rft/seed0", ["trainer"])]
    with pytest.raises(
        ConfigError,
        match=r"holds unfinished runs of a different config: "
        r"synthetic_banner/rft/seed0 .*differs in: trainer.*Pass --force",
    ):
        validate_study(study, runs, tmp_path / "out")
    validate_study(study, runs, tmp_path / "out", force=True)  # --force replaces them, finished or not


# ---------------------------------------------------------------------------------------------
# the command line: exit code 2, one paragraph, no traceback unless --debug
# (elsewhere: test_study.py::test_bad_study_files_name_the_key, with --dry-run)
# ---------------------------------------------------------------------------------------------


def test_cli_bad_study_exits_2_without_traceback_unless_debug(tmp_path):
    bad = study_file(tmp_path, {"run_defaults": {"keep_checkpoint": 1}})
    out = tmp_path / "out"
    proc = vrft("study", bad, "--out", out)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr and proc.stderr.startswith("error: ")
    assert "keep_checkpoint" in proc.stderr and str(bad) in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1  # one paragraph
    assert not out.exists()  # nothing started
    proc = vrft("--debug", "study", bad, "--out", out)
    assert proc.returncode != 0 and "Traceback" in proc.stderr and "ConfigError" in proc.stderr


def test_cli_checks_the_data_before_any_run(tmp_path):
    bad = study_file(tmp_path, banner_study(tmp_path / "no_such_banners"))
    proc = vrft("study", bad, "--out", tmp_path / "out")
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr and "no_such_banners' for benchmark 'banner' does not exist" in proc.stderr
    assert not (tmp_path / "out").exists()  # nothing started
    # A dry run checks the configs only: it is for a login node, with no GPU and no data.
    proc = vrft("study", bad, "--out", tmp_path / "out", "--dry-run")
    assert proc.returncode == 0, proc.stderr[-2000:]


# ---------------------------------------------------------------------------------------------
# rewards and answer parsing on adversarial text
# (the property test over unicode, huge one-fragment outputs and random tag soups:
# test_rewards.py::test_property_never_raises_and_stays_in_range; odd types:
# test_rewards.py::test_accuracy_never_raises_on_odd_inputs)
# ---------------------------------------------------------------------------------------------

N = 100_000
ADVERSARIAL = [
    "<think>" * (N // 7) + "x",  # only openings
    "<answer>" + "a" * N + "</answer>",  # one huge answer
    "<think>" + "why " * (N // 4) + "</think><answer>B</answer>",  # a huge think, then a valid answer
    "<answer>" * 5000 + "B" + "</answer>" * 5000,  # deeply nested
    "</answer><answer>" * 6000,  # interleaved, unbalanced
    ("<think><answer></think></answer>" * 3000)[:N],  # crossed tags
    "\U0001f642\u0301" * (N // 2),  # astral characters and combining marks
    "<answer>" + "Ｂ\u200b\x00" * 3000 + "</answer>",  # full-width, zero-width, NUL
    "<think>" + "<" * N,  # a long run of '<'
    "A. " * (N // 3),  # many letter-like prefixes
]


@pytest.mark.parametrize("text", ADVERSARIAL, ids=range(len(ADVERSARIAL)))
def test_rewards_and_parsing_on_huge_nested_and_unbalanced_text(text):
    from vrft_lib.answers import extract_answer, extract_think, normalize_answer
    from vrft_lib.rewards import accuracy_reward, format_reward, normalized_length_reward

    t = time.perf_counter()
    for mode in ("think", "no_think"):
        answer = extract_answer(text, mode)
        assert answer is None or isinstance(answer, str)
        for completion in (text, [{"role": "assistant", "content": text}]):
            for choices in ([], ["the chair", "the table", "the lamp"]):
                (acc,) = accuracy_reward([completion], solution=["the table"], choices=[choices], mode=mode)
                assert acc in (0.0, 1.0)
            (fmt,) = format_reward([completion], mode=mode)
            assert fmt in (0.0, 1.0)
    think = extract_think(text)
    assert think is None or isinstance(think, str)
    assert isinstance(normalize_answer(text), str)
    for unit in ("tokens", "words", "chars"):
        for scope in ("response", "think"):
            reward = normalized_length_reward(target_length=16, unit=unit, scope=scope, tokenizer=str.split)
            (value,) = reward([text])
            assert 0.0 < value < 1.0  # in range (and not NaN)
    assert time.perf_counter() - t < 10, "parsing must stay linear on long outputs"


# ----------------------------------------------------------------------------------------------
# One validation for every entry point: papermill's -f (PyYAML reads 5e-5 as a string), a dict,
# a notebook's parameters, vrft train and evaluate() all go through the same checks.
# ----------------------------------------------------------------------------------------------

PAPERMILL_PARAMS = """
run:
  name: r
  method: grpo
  model: tiny
  data: {name: synthetic_banner, train_limit: 8}
  trainer: {learning_rate: 5e-5, max_steps: 2, num_generations: 4, per_device_train_batch_size: 4,
            gradient_accumulation_steps: 1, max_completion_length: 1e1}
evaluation: {temperature: 7e-1, eval_limit: 4}
"""


def test_numbers_spelt_as_strings_by_pyyaml_are_numbers_on_every_path(tmp_path):
    from vrft_lib.config import load_run_config
    from vrft_lib.evaluate import load_eval_config
    from vrft_lib.notebook import prepare
    from vrft_lib.trainer_args import resolve_trainer_args

    params = yaml.safe_load(PAPERMILL_PARAMS)  # what papermill -f hands to the notebook
    assert params["run"]["trainer"]["learning_rate"] == "5e-5"
    cfg, ev = prepare(params["run"], {"temperature": params["evaluation"]["temperature"]}, tmp_path)
    assert cfg.trainer["learning_rate"] == 5e-5 and cfg.trainer["max_completion_length"] == 10
    assert isinstance(cfg.trainer["max_completion_length"], int)
    assert ev.temperature == 0.7
    args = resolve_trainer_args(load_run_config(params["run"]), device="cpu")
    assert args["learning_rate"] == 5e-5
    path = tmp_path / "run.yaml"  # a run YAML read by the kit's own loader gives the same config
    path.write_text(yaml.safe_dump(params["run"]))
    assert load_run_config(path).trainer == cfg.trainer
    assert load_eval_config({"model": "tiny", "temperature": "7e-1"}).temperature == 0.7


@pytest.mark.parametrize(
    "trainer, match",
    [
        ({"learning_rate": "fast"}, r"run config\.trainer\.learning_rate: expected a number, got 'fast'"),
        ({"max_steps": "2.5"}, r"run config\.trainer\.max_steps: expected an integer, got '2.5'"),
        ({"lerning_rate": "5e-5"}, r"unknown GRPOConfig field 'lerning_rate' \(did you mean 'learning_rate'\?\)"),
    ],
)
def test_bad_trainer_strings_are_refused_before_anything_is_written(tmp_path, trainer, match):
    from vrft_lib.train import train

    run = {"name": "r", "method": "grpo", "model": "tiny", "trainer": trainer, "output_dir": str(tmp_path / "r")}
    with pytest.raises(ConfigError, match=match):
        train(run)
    assert not (tmp_path / "r").exists()


def test_resolve_trainer_args_checks_types_of_a_config_built_in_code():
    from vrft_lib.config import RunConfig
    from vrft_lib.trainer_args import resolve_trainer_args

    cfg = RunConfig(name="r", method="sft", trainer={"learning_rate": [1e-5]})  # no loader in between
    with pytest.raises(ConfigError, match=r"run 'r'\.trainer\.learning_rate: expected a number, got \[1e-05\]"):
        resolve_trainer_args(cfg, device="cpu")
    cfg.trainer = {"learning_rate": "2e-5"}
    assert resolve_trainer_args(cfg, device="cpu")["learning_rate"] == 2e-5


def test_eval_config_refuses_a_bad_number_naming_the_field():
    from vrft_lib.evaluate import load_eval_config

    with pytest.raises(ConfigError, match=r"eval config\.temperature: expected a number, got 'warm'"):
        load_eval_config({"model": "tiny", "temperature": "warm"})


def test_only_the_known_deprecation_is_silenced():
    import warnings

    from vrft_lib.train import quiet_known_deprecations

    msg = "`is_gradient_checkpointing` is deprecated and will be removed in v6."
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        quiet_known_deprecations()
        warnings.warn_explicit(msg, FutureWarning, "modeling_utils.py", 1, module="transformers.modeling_utils")
        warnings.warn_explicit(msg, FutureWarning, "other.py", 1, module="somewhere.else")
        warnings.warn_explicit("another deprecation", FutureWarning, "m.py", 1, module="transformers.modeling_utils")
    assert [(str(w.message), w.filename) for w in seen] == [(msg, "other.py"), ("another deprecation", "m.py")]

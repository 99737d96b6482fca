"""Inputs the kit cannot use, through the command line: each is one message naming the file, field or
variable, exit status 2, no traceback, and nothing written outside --out (a decoy folder beside it is
checksummed before and after). Nothing here loads a model or trains."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from data_fixtures import SAT_ROWS, make_sat_root, sat_table

from vrft_lib import cli
from vrft_lib.config import check_machine, load_run_config
from vrft_lib.errors import ConfigError, DataError
from vrft_lib.files import InputError, input_error
from vrft_lib.values import MAX_YAML_DEPTH, load_yaml

BASE = {
    "name": "h",
    "model": "tiny",
    "benchmarks": {"synthetic_banner": {"data": {"name": "synthetic_banner", "eval_limit": 4}}},
    "variants": ["training_free"],
}
LONG = "x" * 300  # a folder name longer than any file system allows (255 bytes)


def tree(folder: Path, skip: Path | None = None) -> dict:
    """Every file and folder under ``folder`` (``skip`` aside) with its checksum: what a command changed."""
    seen = {}
    for p in sorted(folder.rglob("*")):
        if skip is not None and (p == skip or skip in p.parents):
            continue
        seen[str(p.relative_to(folder))] = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
    return seen


@pytest.fixture
def place(tmp_path, monkeypatch):
    """A working folder with a decoy folder and its own cache; the command runs from it."""
    decoy = tmp_path / "decoy"
    (decoy / "sub").mkdir(parents=True)
    (decoy / "keep.txt").write_text("do not touch\n")
    (decoy / "sub" / "data.bin").write_bytes(bytes(range(256)))
    (tmp_path / "a_file").write_text("a file, not a folder\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VRFT_CACHE", str(tmp_path / "cache"))
    for var in ("VRFT_MAX_IMAGE_PIXELS", "VRFT_MAX_PROCESSES"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


def refused(place, capsys, argv, *expected, out="out"):
    """Run ``vrft ARGV`` in-process: exit 2, a message holding every ``expected`` text, no traceback,
    and nothing changed under the working folder outside ``out``."""
    before = tree(place, skip=place / out)
    code = cli.main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("error: ") and "Traceback" not in err, err
    for text in expected:
        assert text in err, f"{text!r} not in {err!r}"
    assert tree(place, skip=place / out) == before
    return err


def study_file(place, text: str | bytes, name="s.yaml") -> str:
    path = place / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return str(path)


# ----------------------------------------------------------------------------------------------
# the study file
# ----------------------------------------------------------------------------------------------


def test_a_study_file_that_is_not_utf8(place, capsys):
    path = study_file(place, yaml.safe_dump(BASE).encode() + b"description: caf\xe9\n")
    refused(
        place,
        capsys,
        ["study", path, "--out", "out", "--dry-run"],
        f"Study file '{path}' is not UTF-8 text: byte 0xe9 at line",
        "Save the file as UTF-8",
    )


@pytest.mark.parametrize("depth", [MAX_YAML_DEPTH + 5, 600])
def test_yaml_nested_deep(place, capsys, depth):
    path = study_file(place, yaml.safe_dump(BASE) + "run_defaults: {peft: {note: " + "[" * depth + "]" * depth + "}}\n")
    refused(place, capsys, ["study", path, "--out", "out", "--dry-run"], f"Study file '{path}'", "nested more than 50")


def test_nesting_through_aliases_counts_what_they_expand_to():
    levels = 30  # each anchor nests 30 levels; the second holds the first: 60 once expanded
    text = f"a: &a {'[' * levels}1{']' * levels}\nb: {'[' * levels}*a{']' * levels}\n"
    with pytest.raises(yaml.YAMLError, match="nested more than 50"):
        load_yaml(text)
    assert load_yaml("a: &a [[1]]\nb: [*a, *a]") == {"a": [[1]], "b": [[[1]], [[1]]]}


@pytest.mark.parametrize("where", ["seeds: [{n}]", "run_defaults: {{trainer: {{max_steps: {n}}}}}"])
def test_an_integer_of_thousands_of_digits(place, capsys, where):
    path = study_file(place, yaml.safe_dump(BASE) + where.format(n="9" * 5000) + "\n")
    refused(
        place,
        capsys,
        ["study", path, "--out", "out", "--dry-run"],
        f"Study file '{path}'",
        "an integer of 5,000 digits is refused",
    )


@pytest.mark.parametrize(
    "section, value, shown",
    [("rft", ".inf", ".inf"), ("rft", ".nan", ".nan"), ("sft", "-.inf", "-.inf"), ("rft", "1e999", ".inf")],
)
def test_learning_rate_must_be_finite(place, capsys, section, value, shown):
    study = {**BASE, "variants": [section]}
    path = study_file(place, yaml.safe_dump(study) + f"{section}: {{trainer: {{learning_rate: {value}}}}}\n")
    refused(
        place,
        capsys,
        ["study", path, "--out", "out", "--dry-run"],
        f"{section}.trainer.learning_rate: {shown} is not a finite number",
    )


def test_non_finite_numbers_are_refused_in_every_config():
    with pytest.raises(ConfigError, match=r"run config.replay: \.nan is not a finite number"):
        load_run_config({"method": "sft", "replay": float("nan")})
    with pytest.raises(ConfigError, match=r"run config.peft.lora_dropout: \.inf"):
        load_run_config({"method": "sft", "peft": {"lora_dropout": float("inf")}})
    with pytest.raises(ConfigError, match=r"run config.rewards\[0\].weight: \.inf"):
        load_run_config({"method": "grpo", "rewards": [{"name": "accuracy", "weight": float("inf")}]})


@pytest.mark.parametrize(
    "pixels, expected",
    [
        ("min_pixels: 1e30", "model.min_pixels: expected an integer, got 1e+30"),
        ("min_pixels: '1e30'", "model.min_pixels: 1e+30 pixels is above 50,000,000"),
        ("min_pixels: " + "1" + "0" * 30, "model.min_pixels: 1e+30 pixels is above 50,000,000"),
        ("max_pixels: 0", "model.max_pixels: must be a whole, positive number of pixels, got 0"),
        ("max_pixels: 3136.5", "model.max_pixels: expected an integer, got 3136.5"),
        ("{min_pixels: 5000, max_pixels: 4000}", "min_pixels (5,000) is above max_pixels (4,000)"),
    ],
)
def test_pixel_bounds_the_image_processor_can_compute(place, capsys, pixels, expected):
    fields = pixels.strip("{}")
    path = study_file(
        place, yaml.safe_dump({**BASE, "model": "M"}).replace("model: M", f"model: {{name_or_path: tiny, {fields}}}")
    )
    refused(place, capsys, ["study", path, "--out", "out", "--dry-run"], f"Study file '{path}'", expected)


# ----------------------------------------------------------------------------------------------
# paths
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dry_run", [True, False])
def test_an_out_folder_name_longer_than_the_file_system_allows(place, capsys, dry_run):
    path = study_file(place, yaml.safe_dump(BASE))
    out = f"decoy/{LONG}"
    err = refused(
        place,
        capsys,
        ["study", path, "--out", out] + (["--dry-run"] if dry_run else []),
        "Cannot use the path '",
        "a name in it is longer than the file system allows: one of 300 bytes",
        "(File name too long)",
        out="decoy/nothing",  # the decoy, where --out would be, is checked whole
    )
    assert "xxxxxxxxxxxxxxxxxxxxxxxx...(300 characters)" in err and LONG not in err


def test_a_data_root_longer_than_the_file_system_allows(place, capsys):
    study = {**BASE, "benchmarks": {"sat": {"data": {"name": "sat", "root": f"/tmp/{LONG}", "eval_limit": 2}}}}
    path = study_file(place, yaml.safe_dump(study))
    refused(place, capsys, ["study", path, "--out", "out"], "Cannot use the path '/tmp/xxxx", "longer than the file")
    refused(place, capsys, ["data", "sat", "--root", f"/tmp/{LONG}"], "Cannot use the path '/tmp/xxxx")


def test_the_cache_under_a_regular_file(place, capsys, monkeypatch):
    monkeypatch.setenv("VRFT_CACHE", str(place / "a_file" / "cache"))
    expected = f"VRFT_CACHE is '{place / 'a_file' / 'cache'}', but '{place / 'a_file'}' is a file, not a folder"
    refused(place, capsys, ["tiny-base"], expected)
    refused(place, capsys, ["study", study_file(place, yaml.safe_dump(BASE)), "--out", "out"], expected)


# ----------------------------------------------------------------------------------------------
# environment variables and the machine
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["lots", "1e8", "-5", "9" * 200])
def test_a_non_numeric_max_image_pixels(place, capsys, monkeypatch, value):
    monkeypatch.setenv("VRFT_MAX_IMAGE_PIXELS", value)
    expected = "The environment variable VRFT_MAX_IMAGE_PIXELS is '"
    refused(place, capsys, ["data", "synthetic_banner", "--limit", "2"], expected, "expected a whole number")
    path = study_file(place, yaml.safe_dump(BASE))
    refused(place, capsys, ["study", path, "--out", "out", "--dry-run"], expected)


def test_num_processes_above_the_machine(place, capsys):
    study = {**BASE, "variants": ["rft"], "run_defaults": {"num_processes": 10_000}}
    path = study_file(place, yaml.safe_dump(study))
    refused(
        place,
        capsys,
        ["study", path, "--out", "out"],
        "num_processes: 10000 processes, one per",
        "VRFT_MAX_PROCESSES=10000",
    )
    assert not (place / "out").exists()
    assert cli.main(["study", path, "--out", "out", "--dry-run"]) == 0  # a login node plans for another machine


def test_num_processes_override_for_processes_that_span_machines(monkeypatch):
    cfg = load_run_config({"name": "r", "method": "sft", "device": "cpu", "num_processes": 10_000})
    with pytest.raises(ConfigError, match="this machine has"):
        check_machine(cfg)
    monkeypatch.setenv("VRFT_MAX_PROCESSES", "10000")
    check_machine(cfg)
    monkeypatch.setenv("VRFT_MAX_PROCESSES", "many")
    with pytest.raises(ConfigError, match="The environment variable VRFT_MAX_PROCESSES is 'many'"):
        check_machine(cfg)
    check_machine(cfg, device="cpu")  # the device given: checked for another machine, no count


def test_num_processes_on_gpus_counts_the_gpus(monkeypatch):
    import torch

    from vrft_lib.config import load_eval_config

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    cfg = load_run_config({"name": "r", "method": "sft", "device": "cuda", "num_processes": 8})
    with pytest.raises(ConfigError, match="8 processes, one per GPU, and this machine has 1 GPU. Lower"):
        check_machine(cfg)
    check_machine(load_run_config({"name": "r", "method": "sft", "device": "cuda", "num_processes": 1}))
    # an evaluation on GPUs is not refused: it uses one process per visible GPU
    check_machine(load_eval_config({"device": "cuda", "num_processes": 8}))


# ----------------------------------------------------------------------------------------------
# data
# ----------------------------------------------------------------------------------------------


def test_sat_answers_nested_very_deep(place, capsys):
    root = make_sat_root(place / "sat")
    table = sat_table(SAT_ROWS["val"])
    deep = "[" * 100_000 + '"yes"' + "]" * 100_000
    answers = pa.array([deep] + ['["yes", "no"]'] * (len(table) - 1), type=pa.string())
    pq.write_table(
        table.set_column(table.schema.get_field_index("answers"), "answers", answers), root / "SAT_val.parquet"
    )
    expected = f"Row 0 of '{root / 'SAT_val.parquet'}' has answers '[[[["
    err = refused(place, capsys, ["data", "sat", "--root", str(root), "--split", "val"], expected, "choice strings")
    assert len(err) < 1000
    study = {**BASE, "benchmarks": {"sat": {"data": {"name": "sat", "root": str(root), "eval_split": "val"}}}}
    refused(place, capsys, ["study", study_file(place, yaml.safe_dump(study)), "--out", "out"], expected)


def test_sat_answers_holding_lists_are_not_choices():
    from vrft_lib.data.sat import sat_answers

    with pytest.raises(DataError, match="expected a non-empty list of choice strings"):
        sat_answers('[["left"], "right"]', 3, Path("SAT_val.parquet"))
    assert sat_answers('["left", 2]', 0, Path("SAT_val.parquet")) == ["left", "2"]


@pytest.mark.parametrize(
    "value, expected",
    [("[" * 600, "nested more than 50"), ("9" * 5000, "an integer of 5,000 digits"), (".inf", "not a finite")],
)
def test_data_options_are_checked_like_configs(place, capsys, value, expected):
    refused(place, capsys, ["data", "synthetic_banner", "--limit", "2", "--option", f"x={value}"], "--option", expected)


# ----------------------------------------------------------------------------------------------
# the guard at the command line's edge
# ----------------------------------------------------------------------------------------------


def _command_raising(monkeypatch, exc):
    def command(ns):
        raise exc

    monkeypatch.setattr(cli, "_cmd_data", command)


@pytest.mark.parametrize(
    "exc, expected",
    [
        (RecursionError("maximum recursion depth exceeded"), "nested too deeply to be read"),
        (ValueError("Exceeds the limit (4300 digits) for integer string conversion"), "more than 4300 digits"),
        (UnicodeDecodeError("utf-8", b"caf\xe9", 3, 4, "invalid continuation byte"), "byte 0xe9 at position 3"),
        (OSError(36, "File name too long", "/o/" + LONG), "Cannot use the path '/o/xxxx"),
        (NotADirectoryError(20, "Not a directory", "/o/f.txt/x"), "a part of it that should be a folder is a file"),
        (IsADirectoryError(21, "Is a directory", "/o/d"), "it is a folder where a file is expected"),
    ],
)
def test_the_guard_turns_an_unreadable_input_into_a_message(place, capsys, monkeypatch, exc, expected):
    _command_raising(monkeypatch, exc)
    err = refused(place, capsys, ["data", "x", "--root", "/data/r"], expected)
    if not isinstance(exc, OSError):
        assert "This command's inputs: --root '/data/r'" in err
    with pytest.raises(InputError) as raised:  # --debug: the traceback, the input's error chained to it
        cli.main(["--debug", "data", "x"])
    assert raised.value.__cause__ is exc


@pytest.mark.parametrize(
    "exc",
    [ValueError("a bug"), TypeError("a bug"), RuntimeError("a bug"), KeyError("a bug"), FileNotFoundError(2, "x")],
)
def test_the_guard_leaves_a_real_bug_its_traceback(place, monkeypatch, exc):
    _command_raising(monkeypatch, exc)
    with pytest.raises(type(exc)):
        cli.main(["data", "x"])
    assert input_error(exc) is None


@pytest.mark.parametrize("case", ["not UTF-8", "--out too long"])
def test_through_the_real_entry_point(place, case):
    """The installed command's path: a subprocess, its stderr one message and exit status 2."""
    if case == "not UTF-8":
        argv = ["study", study_file(place, yaml.safe_dump(BASE).encode() + b"description: caf\xe9\n"), "--dry-run"]
    else:
        argv = ["study", study_file(place, yaml.safe_dump(BASE)), "--out", LONG]
    before = tree(place)
    proc = subprocess.run(
        [sys.executable, "-m", "vrft_lib.cli", *argv],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=place,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
    )
    assert proc.returncode == 2 and proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert tree(place) == before

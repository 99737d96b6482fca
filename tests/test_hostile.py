"""Hostile or mistaken study files: parameters stay data, folders stay under --out, seeds are sane."""

import os
import subprocess
import sys
import time

import pytest
import yaml

from vrft_lib.config import load_yaml
from vrft_lib.errors import ConfigError
from vrft_lib.plan.spec import load_study

BASE = {
    "name": "h",
    "model": "tiny",
    "benchmarks": {"synthetic_banner": {"data": {"name": "synthetic_banner", "eval_limit": 4}}},
    "variants": ["training_free"],
}


def _study(tmp_path, text: str):
    path = tmp_path / "s.yaml"
    path.write_text(text)
    return path


def _dry_run(path, cwd):
    return subprocess.run(
        [sys.executable, "-m", "vrft_lib.cli", "study", str(path), "--out", "out", "--dry-run"],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )


def test_a_binary_value_cannot_reach_a_notebook(tmp_path):
    # the injection: bytes in a free-form mapping, written unescaped into the parameters cell
    text = yaml.safe_dump(BASE) + 'run_defaults: {peft: {note: !!binary "Ij09MSAgIyA="}}\n'
    with pytest.raises(ConfigError, match=r"tag 'tag:yaml.org,2002:binary' is not allowed"):
        load_study(_study(tmp_path, text))
    proc = _dry_run(tmp_path / "s.yaml", tmp_path)
    assert proc.returncode == 2 and "not allowed" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("tag", ["!!set {a: null}", "!!timestamp 2024-01-01", "!!omap [{a: 1}]"])
def test_non_json_tags_are_refused(tag):
    with pytest.raises(yaml.YAMLError, match="not allowed"):
        load_yaml(f"x: {tag}")


def test_unquoted_dates_stay_strings():
    assert load_yaml("created: 2024-01-01\nlr: 1e-4") == {"created": "2024-01-01", "lr": 0.0001}


def test_an_alias_bomb_is_refused_at_once(tmp_path):
    # about 1 kB: 10**12 leaves once expanded, nested anchors inside a free-form mapping
    nested = ["    a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    nested += [f"    a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 12)]
    text = yaml.safe_dump(BASE) + "run_defaults:\n  peft:\n" + "\n".join(nested) + "\n"
    t = time.perf_counter()
    with pytest.raises(ConfigError, match="more than 100 aliases"):
        load_study(_study(tmp_path, text))
    assert time.perf_counter() - t < 5


@pytest.mark.parametrize(
    "field, value",
    [
        ("benchmarks", {"../../escape": {"data": {"name": "synthetic_banner"}}}),
        ("benchmarks", {"/tmp/abs": {"data": {"name": "synthetic_banner"}}}),
        ("name", "../outside"),
        ("name", ".hidden"),
    ],
)
def test_names_that_would_leave_the_output_folder_are_refused(tmp_path, field, value):
    path = _study(tmp_path, yaml.safe_dump({**BASE, field: value}))
    with pytest.raises(ConfigError, match="is not a folder name the kit accepts"):
        load_study(path)
    proc = _dry_run(path, tmp_path)
    assert proc.returncode == 2 and "folder name" in proc.stderr
    assert sorted(os.listdir(tmp_path)) == ["s.yaml"]  # nothing written anywhere


@pytest.mark.parametrize(
    "seeds, match",
    [([0, 0], r"0 given twice"), ([2**32], r"outside \[0, 2\*\*32\)"), ([-1], r"outside \[0, 2\*\*32\)")],
)
def test_bad_seeds_are_refused_up_front(tmp_path, seeds, match):
    with pytest.raises(ConfigError, match=match):
        load_study(_study(tmp_path, yaml.safe_dump({**BASE, "seeds": seeds})))


def test_a_nested_alias_bomb_under_the_alias_bound_is_refused_by_its_expanded_size(tmp_path):
    # the classic 9 levels: 90 aliases (under the bound of 100) that stand for 10**9 values
    nested = ['    a0: &a0 ["lol"]']
    nested += [f"    a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
    text = yaml.safe_dump(BASE) + "run_defaults:\n  peft:\n" + "\n".join(nested) + "\n"
    path = _study(tmp_path, text)
    t = time.perf_counter()
    with pytest.raises(ConfigError, match=r"expands to more than 100,000 values") as err:
        load_study(path)
    assert time.perf_counter() - t < 1 and str(path) in str(err.value)
    proc = _dry_run(path, tmp_path)
    assert proc.returncode == 2 and "expands to more than" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()

"""Files the kit writes get the mode a plain ``open()`` gives under the current umask, weights included."""

from __future__ import annotations

import contextlib
import os
import stat

import pytest

from vrft_lib.files import atomic_path, dump_yaml, file_mode, plain_modes, write_json, write_text
from vrft_lib.locks import folder_lock


@contextlib.contextmanager
def umask(mask):
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("mask,expected", [(0o022, 0o644), (0o027, 0o640), (0o002, 0o664)])
def test_the_atomic_writer_gives_what_open_gives(tmp_path, mask, expected):
    with umask(mask):  # set after the kit was imported: the mode follows the umask of the moment
        assert file_mode() == expected
        write_json({"a": 1}, tmp_path / "x.json")
        dump_yaml({"a": 1}, tmp_path / "x.yaml")
        write_text("t", tmp_path / "x.txt")
        with atomic_path(tmp_path / "x.csv") as tmp:
            tmp.write_text("a\n1\n")
        with open(tmp_path / "plain.txt", "w") as f:
            f.write("x")
    for name in ("x.json", "x.yaml", "x.txt", "x.csv", "plain.txt"):
        assert mode(tmp_path / name) == expected, name


def test_saved_weights_get_the_same_mode(tmp_path):
    torch = pytest.importorskip("torch")
    from safetensors.torch import save_file

    model = tmp_path / "model"
    model.mkdir()
    with umask(0o022):
        save_file({"w": torch.zeros(2)}, str(model / "model.safetensors"))  # safetensors writes it 0600
        write_json({"x": 1}, model / "config.json")
        plain_modes(model)  # what training and the tiny base do after saving a model
    assert mode(model / "model.safetensors") == 0o644 and mode(model / "config.json") == 0o644


def test_the_lock_file_follows_the_umask(tmp_path):
    with umask(0o022), folder_lock(tmp_path / ".lock"):
        assert mode(tmp_path / ".lock") == 0o644


def test_trainer_checkpoints_get_the_same_mode(tmp_path):
    torch = pytest.importorskip("torch")
    from types import SimpleNamespace

    from safetensors.torch import save_file

    from vrft_lib.train import checkpoint_modes_callback

    ckpt = tmp_path / "trainer" / "checkpoint-4"
    ckpt.mkdir(parents=True)
    with umask(0o027):
        save_file({"w": torch.zeros(2)}, str(ckpt / "model.safetensors"))  # 0600, as the Trainer leaves it
        torch.save({"step": 4}, ckpt / "optimizer.pt")
        os.chmod(ckpt / "optimizer.pt", 0o600)
        args, state = SimpleNamespace(output_dir=str(tmp_path / "trainer")), SimpleNamespace(global_step=4)
        state.is_world_process_zero = True
        checkpoint_modes_callback().on_save(args, state, None)  # what the Trainer calls after each save
    assert mode(ckpt / "model.safetensors") == 0o640 and mode(ckpt / "optimizer.pt") == 0o640


@pytest.mark.slow
def test_a_training_runs_checkpoints_follow_the_umask(tmp_path, tiny_random):
    from vrft_lib.train import train

    cfg = {
        "name": "m",
        "method": "sft",
        "model": str(tiny_random),
        "output_dir": str(tmp_path / "run"),
        "data": {"name": "synthetic_banner", "train_limit": 8},
        "save_steps": 1,
        "keep_checkpoints_when_done": True,
        "trainer": {"max_steps": 2, "per_device_train_batch_size": 4, "gradient_accumulation_steps": 1},
    }
    with umask(0o022):
        run = train(cfg)
    files = [p for p in (run / "trainer").rglob("*") if p.is_file()] + list((run / "model").iterdir())
    assert any(p.name == "model.safetensors" and "checkpoint-" in str(p) for p in files)
    assert {str(p.relative_to(run)): mode(p) for p in files if mode(p) != 0o644} == {}

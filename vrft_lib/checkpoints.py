"""Trainer checkpoints: whether one is whole, the newest whole one to resume from, and freeing them
once a run is finished. File checks only: nothing here loads a tensor."""

from __future__ import annotations

import contextlib
import json
import re
import zipfile
from pathlib import Path

from .files import read_json, read_text, remove_tree, write_text


def _safetensors_problem(path: Path) -> str | None:
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            return f"{path.name} is truncated ({size} bytes)"
        n = int.from_bytes(head, "little")
        if n > size - 8:
            return f"{path.name} is truncated (its header needs {n} bytes, the file holds {size})"
        try:
            header = json.loads(f.read(n))
        except ValueError:
            return f"{path.name} has an unreadable header"
    ends = [v["data_offsets"][1] for k, v in header.items() if k != "__metadata__" and isinstance(v, dict)]
    if ends and 8 + n + max(ends) > size:
        return f"{path.name} is truncated (its tensors need {8 + n + max(ends)} bytes, the file holds {size})"
    return None


def _zip_problem(path: Path) -> str | None:
    try:
        with zipfile.ZipFile(path) as z:
            size = path.stat().st_size
            if any(i.header_offset + i.compress_size > size for i in z.infolist()):
                return f"{path.name} is truncated"
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return f"{path.name} is truncated or not a torch file"
    return None


def checkpoint_problem(folder) -> str | None:
    """Why the Trainer checkpoint ``folder`` cannot be resumed from, or None when it looks whole.

    File checks only (no tensor is loaded): ``trainer_state.json`` exists and holds a ``global_step``
    (the Trainer writes it last); every other JSON file parses; every ``.safetensors`` file holds the
    bytes its header promises; every torch file (``.pt``, ``.pth``, ``.bin``) is a complete zip archive.
    """
    folder = Path(folder)
    state = folder / "trainer_state.json"
    if not state.is_file():
        return "no trainer_state.json (the save was interrupted)"
    data = read_json(state)
    if not isinstance(data, dict) or "global_step" not in data:
        return "trainer_state.json is not a complete trainer state"
    for path in sorted(folder.rglob("*")):
        if not path.is_file():
            continue
        try:
            if path.suffix == ".json" and path != state and read_json(path) is None:
                return f"{path.name} is not valid JSON"
            if path.suffix == ".safetensors":
                problem = _safetensors_problem(path)
            elif path.suffix in (".pt", ".pth", ".bin"):
                problem = _zip_problem(path)
            else:
                problem = None
        except OSError as e:
            problem = f"{path.name} cannot be read ({e.strerror})"
        if problem:
            return problem
    return None


def last_complete_checkpoint(trainer_dir, report=None) -> str | None:
    """The newest ``checkpoint-N`` folder that was written to the end and is whole, or None.

    The Trainer writes a checkpoint's files one after the other and ``trainer_state.json`` last, so a
    run killed while saving leaves a folder without it; a full disk or a copy cut short leaves a
    truncated file. Resuming from such a folder fails on every later attempt, so it is passed over
    for the one before (:func:`checkpoint_problem` says why); ``report`` (e.g.
    ``print``) gets one line per damaged folder passed over.
    """
    found = []
    for path in Path(trainer_dir).glob("checkpoint-*"):
        match = re.fullmatch(r"checkpoint-(\d+)", path.name)
        if match and path.is_dir():
            found.append((int(match.group(1)), path))
    for _, path in sorted(found, reverse=True):
        problem = checkpoint_problem(path)
        if problem is None:
            return str(path)
        if report is not None:
            report(f"[vrft] skipping damaged checkpoint {path}: {problem}")
    return None


def _checkpoint_step(path: Path) -> int:
    tail = path.name.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else -1


def drop_checkpoints(train_dir) -> int:
    """Free a finished run's disk: delete ``trainer/checkpoint-*`` (weights that ``model/`` holds too, the
    optimizer and scheduler states, RNG states) after copying the last complete checkpoint's
    ``trainer_state.json`` (the Trainer's log history) to ``train_dir``. Returns the bytes freed. Only for
    a run whose DONE is written: an unfinished run resumes from these checkpoints."""
    train_dir = Path(train_dir)
    trainer_dir = train_dir / "trainer"
    # the newest readable log history; the weights are in model/ already, so a checkpoint whose
    # weights are damaged still gives its trainer_state.json
    for ckpt in sorted(trainer_dir.glob("checkpoint-*"), key=_checkpoint_step, reverse=True):
        state = read_json(ckpt / "trainer_state.json")
        if isinstance(state, dict) and "global_step" in state:
            with contextlib.suppress(OSError):
                write_text(read_text(ckpt / "trainer_state.json"), train_dir / "trainer_state.json")
                break
    freed = 0
    for ckpt in sorted(trainer_dir.glob("checkpoint-*")):
        freed += sum(f.stat().st_size for f in ckpt.rglob("*") if f.is_file())
        with contextlib.suppress(OSError):
            remove_tree(ckpt)
    return freed

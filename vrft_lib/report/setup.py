"""How each run was trained and scored, read from its own files: the training set-up (batch in the
paper's units, SFT targets, what was frozen, what it cost) and the strict beside the lenient accuracy."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml

from ..config import load_run_config
from ..errors import VrftError
from ..files import read_json, read_text
from ..trainer_args import batch_summary
from ..vocab import PROMPT_MODES
from .collect import UNREADABLE
from .compute import compute_text

TARGETS = {"no_think": "answer only (<answer>LABEL</answer>)", "think": "reasoning + answer (<think>...<answer>)"}


def _run_config(train_dir: Path) -> dict | None:
    try:
        cfg = yaml.safe_load(read_text(train_dir / "config.yaml"))
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        return None
    return cfg if isinstance(cfg, dict) else None


def training_setup(collected: dict) -> pd.DataFrame:
    """One row per trained run: method, training prompt mode (for SFT: its targets), frozen parts, the
    batch in the paper's units (prompts or examples per optimizer step, steps, seen), from the run's
    ``train/config.yaml``, ``train/trainer_args.json`` and ``train/provenance.json``, and what it cost
    (``compute``: from its ``train/compute.json`` and ``eval/compute.json``; see report/compute.py); not
    of a run whose files cannot be read."""
    rows = []
    for r in collected["runs"]:
        if r["status"] == UNREADABLE:
            continue
        train_dir = Path(r["path"]) / "train"
        raw, args = _run_config(train_dir), read_json(train_dir / "trainer_args.json")
        if not raw or not isinstance(args, dict):
            continue
        nproc = (read_json(train_dir / "provenance.json") or {}).get("num_processes") or raw.get("num_processes")
        try:
            cfg = load_run_config(raw)
            batch = batch_summary(cfg, args, nproc)
        except (VrftError, KeyError, TypeError):
            continue
        frozen = [p for p, on in (("vision tower", cfg.freeze_vision), ("projector", cfg.freeze_projector)) if on]
        per_step = (
            f"{batch['prompts_per_step']} prompts ({batch['completions_per_step']} completions)"
            if cfg.method == "grpo"
            else f"{batch['examples_per_step']} examples"
        )
        rows.append(
            {
                "benchmark": r["label"],
                "variant": r["variant"],
                "seed": r["seed"],
                "method": cfg.method,
                "trained on": TARGETS[cfg.train_mode] if cfg.method == "sft" else f"{cfg.train_mode} prompts",
                "frozen": ", ".join(frozen) or ("LoRA adapters only" if cfg.peft else "nothing"),
                "processes": nproc,
                "per optimizer step": per_step,
                "steps": batch["steps"],
                "seen": batch.get("prompts_seen") or batch.get("examples_seen"),
                "compute": compute_text(r),
            }
        )
    return pd.DataFrame(rows)


def strict_and_lenient(collected: dict) -> pd.DataFrame:
    """Accuracy (%) by the kit's strict rule beside the lenient substring rule that Visual-RFT and CLS-RL
    publish with (docs/rewards.md), per benchmark, variant and mode, averaged over finished seeds."""
    rows = []
    for r in collected["runs"]:
        modes = (r.get("metrics") or {}).get("modes") or {}
        for mode in PROMPT_MODES:
            m = modes.get(mode)
            if r["status"] != "finished" or not isinstance(m, dict):
                continue
            rows.append(
                {
                    "benchmark": r["label"],
                    "variant": r["variant"],
                    "mode": mode,
                    "strict %": 100 * float(m["accuracy"]),
                    "lenient %": 100 * float(m["lenient_accuracy"]) if m.get("lenient_accuracy") is not None else None,
                }
            )
    if not rows:
        return pd.DataFrame(columns=["benchmark", "variant", "mode", "strict %", "lenient %"])
    df = pd.DataFrame(rows).groupby(["benchmark", "variant", "mode"], sort=False, as_index=False).mean()
    return df.round(1)

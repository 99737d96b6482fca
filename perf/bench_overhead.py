"""Kit overhead: seconds per GRPO step through ``vrft_lib`` against a bare TRL script.

Both get the identical GRPOConfig (the kit's resolved arguments), the same tiny instruct base, the
same training data (built once and saved), the same reward functions and the same seed, each in a
fresh process, alternated kit/bare then bare/kit so drift of the machine cancels. The figure is the
median of ``trainer.train`` seconds per optimizer step; the whole process time (imports, set-up,
the kit's run folder files) is reported beside it. The two runs must log the same losses, step by
step, or the comparison is refused. Target: the kit within 5 % of bare TRL.

    python -m perf.bench_overhead [--steps 20] [--pairs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from perf.common import ROOT, median, print_table, verdict, write_result

TARGET = 0.05


def run_config(steps: int) -> dict:
    """The benchmarked GRPO run: the embedded study's RFT settings on the banner stand-in."""
    return {
        "name": "bench-grpo",
        "method": "grpo",
        "model": "tiny",
        "seed": 0,
        "train_mode": "think",
        "data": {"name": "synthetic_banner", "train_limit": 256, "classes_in_prompt": True},
        "rewards": [{"name": "accuracy"}, {"name": "format"}],
        "trainer": {
            "max_steps": steps,
            "num_generations": 8,
            "per_device_train_batch_size": 16,
            "gradient_accumulation_steps": 1,
            "max_completion_length": 64,
            "learning_rate": 5e-4,
        },
        "save_steps": 50,
        "keep_checkpoints": 1,
    }


def _env():
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def prepare(work: Path, steps: int) -> dict:
    """Write the kit's run config and, for the bare script, the same arguments, rewards and data."""
    from vrft_lib.config import load_run_config
    from vrft_lib.files import dump_yaml
    from vrft_lib.tiny import ensure_tiny_base
    from vrft_lib.train import model_init_kwargs, train_dataset_for
    from vrft_lib.trainer_args import resolve_trainer_args

    cfg = load_run_config(run_config(steps))
    dump_yaml(cfg.to_dict(), work / "run.yaml")
    args = resolve_trainer_args(cfg)
    args["model_init_kwargs"] = model_init_kwargs(cfg)  # what vrft_lib.train.build_trainer adds
    (work / "args.json").write_text(json.dumps(args))
    (work / "rewards.json").write_text(json.dumps({"rewards": cfg.rewards, "mode": cfg.train_mode}))
    train_dataset_for(cfg).save_to_disk(str(work / "data"))
    return {"model": ensure_tiny_base(), "config": cfg.to_dict(), "trainer_args": args}


def run_kit(work: Path, k: int) -> dict:
    out = work / f"kit{k}"
    t = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "vrft_lib.train", str(work / "run.yaml"), "--output-dir", str(out)],
        check=True,
        env=_env(),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wall = time.perf_counter() - t
    done = json.loads((out / "DONE").read_text())
    import pandas as pd

    steps = pd.read_csv(out / "steps.csv")
    losses = {int(s): float(v) for s, v in zip(steps["step"], steps["loss"])}
    shutil.rmtree(out, ignore_errors=True)
    return {"train_seconds": done["train_seconds"], "steps": done["steps"], "process_seconds": wall, "losses": losses}


def run_bare(work: Path, model: str, k: int) -> dict:
    out = work / f"bare{k}"
    t = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "perf.bare_trl_grpo",
            "--args",
            str(work / "args.json"),
            "--rewards",
            str(work / "rewards.json"),
            "--data",
            str(work / "data"),
            "--model",
            model,
            "--out",
            str(out),
        ],
        check=True,
        env=_env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - t
    line = next(x for x in proc.stdout.splitlines() if x.startswith("BARE_RESULT "))
    res = json.loads(line[len("BARE_RESULT ") :])
    res["losses"] = {int(k): float(v) for k, v in res["losses"].items()}
    res["process_seconds"] = wall
    shutil.rmtree(out, ignore_errors=True)
    return res


def measure(steps: int = 20, pairs: int = 3, work: Path | None = None) -> dict:
    work = Path(work or tempfile.mkdtemp(prefix="vrft-bench-overhead-"))
    work.mkdir(parents=True, exist_ok=True)
    info = prepare(work, steps)
    kit, bare = [], []
    for k in range(pairs):
        order = ("kit", "bare") if k % 2 == 0 else ("bare", "kit")
        for who in order:
            r = run_kit(work, k) if who == "kit" else run_bare(work, info["model"], k)
            (kit if who == "kit" else bare).append(r)
            print(
                f"[bench] pair {k + 1}/{pairs} {who:4s}: {r['train_seconds'] / r['steps']:.3f} s/step, "
                f"process {r['process_seconds']:.1f} s",
                flush=True,
            )
    ref = bare[0]["losses"]
    max_diff = max(abs(r["losses"][s] - ref[s]) for r in kit + bare for s in ref)
    if any(set(r["losses"]) != set(ref) for r in kit + bare) or max_diff > 1e-4:
        raise SystemExit(
            f"kit and bare TRL runs did not do the same work (loss difference {max_diff:.2e}); "
            "the comparison would be meaningless."
        )
    kit_step = median([r["train_seconds"] / r["steps"] for r in kit])
    bare_step = median([r["train_seconds"] / r["steps"] for r in bare])
    kit_proc = median([r["process_seconds"] for r in kit])
    bare_proc = median([r["process_seconds"] for r in bare])
    shutil.rmtree(work, ignore_errors=True)
    return {
        "steps": steps,
        "pairs": pairs,
        "completions_per_step": info["trainer_args"]["per_device_train_batch_size"],
        "kit_seconds_per_step": round(kit_step, 4),
        "bare_seconds_per_step": round(bare_step, 4),
        "overhead_fraction": round(kit_step / bare_step - 1, 4),
        "kit_process_seconds": round(kit_proc, 2),
        "bare_process_seconds": round(bare_proc, 2),
        "process_overhead_fraction": round(kit_proc / bare_proc - 1, 4),
        "same_losses_max_abs_diff": max_diff,
        "kit_runs": [{k: v for k, v in r.items() if k != "losses"} for r in kit],
        "bare_runs": [{k: v for k, v in r.items() if k != "losses"} for r in bare],
        "target_overhead_fraction": TARGET,
        "verdict": verdict(kit_step / bare_step - 1, TARGET, higher_is_better=False),
        "trainer_args": info["trainer_args"],
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m perf.bench_overhead", description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=20, help="optimizer steps per run (default 20)")
    ap.add_argument("--pairs", type=int, default=3, help="kit/bare pairs, alternated (default 3)")
    ap.add_argument("--out-dir", default=None, help="where the JSON goes (default outputs/bench)")
    ns = ap.parse_args(argv)
    r = measure(ns.steps, ns.pairs)
    path = write_result("overhead", r, ns.out_dir)
    print_table(
        [
            ["GRPO step, kit (vrft_lib.train)", f"{r['kit_seconds_per_step']:.3f} s", ""],
            ["GRPO step, bare TRL", f"{r['bare_seconds_per_step']:.3f} s", ""],
            [
                "kit overhead per step",
                f"{100 * r['overhead_fraction']:+.1f} %",
                f"<= {100 * TARGET:.0f} %: {r['verdict']}",
            ],
            [
                "whole process, kit / bare",
                f"{r['kit_process_seconds']:.1f} s / {r['bare_process_seconds']:.1f} s",
                f"{100 * r['process_overhead_fraction']:+.1f} %",
            ],
        ],
        ["figure", "measured", "target"],
    )
    print(f"\n[bench] {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

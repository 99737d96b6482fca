"""A short GPU check of the kit (about 2-4 minutes on one GPU): the tiny study's training and
evaluation on the GPU in bf16, with a table of step times and throughput.

    python scripts/gpu_check.py [--out DIR] [--steps 30]

Installs nothing. It builds the tiny instruct base (in $VRFT_CACHE), trains GRPO and SFT for a few
steps on ``synthetic_banner`` with ``device: cuda`` (bf16, activation checkpointing as the kit sets
them on GPUs), evaluates the result in both prompt modes with HF generate, and, when vLLM is
installed, with vLLM too. The figures go to ``DIR/gpu_check.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default="outputs/gpu_check")
    p.add_argument("--steps", type=int, default=30)
    ns = p.parse_args(argv)
    import torch

    if not torch.cuda.is_available():
        print("error: no CUDA device is visible; this check is for GPU nodes.", file=sys.stderr)
        return 2
    from vrft_lib.evaluate import evaluate
    from vrft_lib.tiny import ensure_tiny_base
    from vrft_lib.train import train

    out = Path(ns.out)
    out.mkdir(parents=True, exist_ok=True)
    rows, t0 = [], time.perf_counter()
    t = time.perf_counter()
    base = ensure_tiny_base()
    rows.append({"stage": "tiny instruct base (build or cache)", "seconds": round(time.perf_counter() - t, 1)})
    data = {"name": "synthetic_banner", "train_limit": 1000, "eval_limit": 200, "classes_in_prompt": True}
    runs = {
        "grpo": {
            "trainer": {
                "max_steps": ns.steps,
                "num_generations": 8,
                "per_device_train_batch_size": 16,
                "gradient_accumulation_steps": 1,
                "max_completion_length": 64,
                "learning_rate": 5e-4,
            }
        },
        "sft": {
            "trainer": {
                "max_steps": ns.steps,
                "per_device_train_batch_size": 16,
                "gradient_accumulation_steps": 1,
                "learning_rate": 5e-4,
            }
        },
    }
    models = {"training-free": base}
    for method, extra in runs.items():
        t = time.perf_counter()
        run_dir = train(
            {
                "name": f"gpu-{method}",
                "method": method,
                "model": base,
                "data": data,
                "device": "cuda",
                "output_dir": str(out / method),
                "save_steps": 1000,
                **extra,
            }
        )
        done = json.loads((run_dir / "DONE").read_text())
        args = json.loads((run_dir / "trainer_args.json").read_text())
        rows.append(
            {
                "stage": f"{method} train ({done['steps']} steps, bf16={args.get('bf16')})",
                "seconds": round(time.perf_counter() - t, 1),
                "s/step": done["mean_step_seconds"],
            }
        )
        models[method] = str(run_dir / "model")
    backends = ["hf"]
    try:
        import vllm  # noqa: F401

        backends.append("vllm")
    except ImportError:
        rows.append({"stage": "vllm", "note": "not installed: skipped"})
    for name, model in models.items():
        for backend in backends:
            t = time.perf_counter()
            m = evaluate(
                {
                    "name": f"{name}-{backend}",
                    "model": model,
                    "data": data,
                    "device": "cuda",
                    "backend": backend,
                    "max_new_tokens": 96,
                    "batch_size": 64,
                    "progress": False,
                    "output_dir": str(out / f"eval-{name}-{backend}"),
                }
            )
            rows.append(
                {
                    "stage": f"eval {name} ({backend}, 2 x 200 samples)",
                    "seconds": round(time.perf_counter() - t, 1),
                    "samples/s": m["samples_per_second"],
                    "acc no_think": round(m["modes"]["no_think"]["accuracy"], 3),
                    "acc think": round(m["modes"]["think"]["accuracy"], 3),
                }
            )
    report = {
        "device": torch.cuda.get_device_name(0),
        "torch": torch.__version__,
        "total_seconds": round(time.perf_counter() - t0, 1),
        "rows": rows,
    }
    (out / "gpu_check.json").write_text(json.dumps(report, indent=2))
    print(f"device: {report['device']}  torch {report['torch']}  total {report['total_seconds']} s")
    keys = ["stage", "seconds", "s/step", "samples/s", "acc no_think", "acc think", "note"]
    for r in rows:
        print(" | ".join(f"{k}={r[k]}" for k in keys if k in r))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sys.exit(main())

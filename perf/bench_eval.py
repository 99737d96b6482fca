"""Evaluation throughput: batched generation against one request at a time, same outputs.

On the tiny instruct base, the embedded study's evaluation settings (both prompt modes in one pass,
greedy, up to 128 new tokens), over the three synthetic benchmarks: samples per second of
``vrft_lib.evaluate``'s batched generator against the same generator given one request at a time.
The responses must be the same (their agreement is reported, and the speed-up is refused below 99 %).
Target: at least 4x on a 2-core CPU. (vLLM against HF generate is measured on a GPU by
``scripts/gpu_check.py``.)

Then data-parallel evaluation: the same evaluation (``synthetic_aircraft``, both modes) in one
process and in two processes under ``accelerate launch`` (``vrft_lib.launch``), samples per second
of generation each (the two-process figure counts the wait for the slower process; best of three
alternating runs) and the wall time with the processes' start; the predictions must be identical.
Written to ``eval_processes.json``.

    python -m perf.bench_eval [--rows 24] [--batch-size 50] [--process-rows 24]
"""

from __future__ import annotations

import argparse
import sys
import time

from perf.common import print_table, verdict, write_result

TARGET = 4.0
BENCHMARKS = {"synthetic_banner": {}, "synthetic_aircraft": {"num_classes": 8}, "synthetic_spatial": {}}


def requests_for(rows: int, seed: int = 0):
    from vrft_lib.data import benchmark_info, load_benchmark
    from vrft_lib.evaluate import build_requests

    reqs = []
    for name, opts in BENCHMARKS.items():
        ds = load_benchmark(name, "test", limit=rows, seed=seed, **opts)
        classes = benchmark_info(ds).get("classes") if name != "synthetic_spatial" else None
        reqs += build_requests(ds, ["no_think", "think"], classes=classes)
    from vrft_lib.evaluate import generation_order

    return [reqs[i] for i in generation_order(reqs)]  # as vrft_lib.evaluate batches them


def _generate(generator, reqs, batch_size):
    outs, t = [], time.perf_counter()
    for start in range(0, len(reqs), batch_size):
        outs += generator(reqs[start : start + batch_size])
    return outs, time.perf_counter() - t


def measure(rows: int = 24, batch_size: int = 50, max_new_tokens: int = 128) -> dict:
    import torch

    from vrft_lib.evaluate import EvalConfig, HFGenerator, generation_settings
    from vrft_lib.models import load_model_and_processor
    from vrft_lib.tiny import ensure_tiny_base

    torch.manual_seed(0)
    model, processor = load_model_and_processor(ensure_tiny_base())
    settings = generation_settings(EvalConfig(max_new_tokens=max_new_tokens), processor.tokenizer)
    generator = HFGenerator(model, processor, settings)
    reqs = requests_for(rows)
    _generate(generator, reqs[:4], 4)  # warm-up (first-call allocations)
    batched, t_batched = _generate(generator, reqs, batch_size)
    single, t_single = _generate(generator, reqs, 1)
    same = sum(a[0] == b[0] for a, b in zip(batched, single)) / len(reqs)
    speedup = t_single / t_batched
    return {
        "requests": len(reqs),
        "rows_per_benchmark": rows,
        "benchmarks": list(BENCHMARKS),
        "batch_size": batch_size,
        "max_new_tokens": max_new_tokens,
        "mean_response_tokens": round(sum(n for _, n in batched) / len(batched), 1),
        "batched_samples_per_second": round(len(reqs) / t_batched, 2),
        "single_samples_per_second": round(len(reqs) / t_single, 2),
        "speedup": round(speedup, 2),
        "same_outputs_fraction": round(same, 4),
        "torch_threads": torch.get_num_threads(),
        "target_speedup": TARGET,
        "verdict": verdict(speedup, TARGET, higher_is_better=True) if same >= 0.99 else "outputs differ",
    }


def measure_processes(
    rows: int = 24, batch_size: int = 16, max_new_tokens: int = 64, processes=(1, 2), repeats: int = 3
) -> dict:
    """Samples per second of one evaluation in 1 and in N processes (CPU), and whether they agree.

    Each count runs ``repeats`` times, alternating (1, 2, 1, 2, ...); the best run of each counts (a
    shared machine's other work only ever slows a run down), every run is kept under ``all``."""
    import tempfile
    from pathlib import Path

    import torch

    from vrft_lib.evaluate import evaluate
    from vrft_lib.launch import launch_evaluation
    from vrft_lib.tiny import ensure_tiny_base

    base = ensure_tiny_base()
    out: dict = {"rows": rows, "modes": 2, "batch_size": batch_size, "max_new_tokens": max_new_tokens}
    out.update(repeats=repeats, runs={}, all={str(n): [] for n in processes})
    out["torch_threads_one_process"] = torch.get_num_threads()  # each of N launched processes: 1 (torchrun)
    preds = set()
    with tempfile.TemporaryDirectory() as tmp:
        warm = {"model": base, "data": {"name": "synthetic_aircraft", "eval_limit": 2}, "max_new_tokens": 8}
        evaluate(dict(warm, device="cpu", progress=False, output_dir=str(Path(tmp) / "warm-up")))
        for k in range(repeats):
            for n in processes:
                folder = Path(tmp) / f"{n}p-{k}"
                cfg = {
                    "name": f"bench-{n}p",
                    "model": base,
                    "data": {"name": "synthetic_aircraft", "eval_limit": rows, "classes_in_prompt": True},
                    "max_new_tokens": max_new_tokens,
                    "batch_size": batch_size,
                    "device": "cpu",
                    "progress": False,
                    "output_dir": str(folder),
                }
                t = time.perf_counter()
                if n == 1:
                    m = evaluate(cfg)
                else:
                    with open(Path(tmp) / f"log{n}-{k}.txt", "w") as log:
                        m = launch_evaluation(cfg, n, stream=log)
                wall = time.perf_counter() - t
                preds.add((folder / "predictions.jsonl").read_text())
                out["all"][str(n)].append(
                    {
                        "num_processes": m["num_processes"],
                        "samples": sum(v["n"] for v in m["modes"].values()),
                        "samples_per_second": m["samples_per_second"],
                        "generation_seconds": m["generation_seconds"],
                        "wall_seconds": round(wall, 2),
                    }
                )
    for n, runs in out["all"].items():
        out["runs"][n] = max(runs, key=lambda r: r["samples_per_second"] or 0)
    out["identical_predictions"] = len(preds) == 1
    sps = [out["runs"][str(n)]["samples_per_second"] for n in processes]
    out["speedup"] = round(sps[-1] / sps[0], 2) if sps[0] else None
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m perf.bench_eval", description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=24, help="test rows per benchmark (x2 prompt modes)")
    ap.add_argument("--batch-size", type=int, default=50, help="the batched run's batch size (the study's)")
    ap.add_argument("--process-rows", type=int, default=24, help="rows of the 1- vs 2-process evaluation")
    ap.add_argument("--only-processes", action="store_true", help="measure only the 1- vs 2-process evaluation")
    ap.add_argument("--out-dir", default=None)
    ns = ap.parse_args(argv)
    p = measure_processes(ns.process_rows)
    ppath = write_result("eval_processes", p, ns.out_dir)
    print_table(
        [
            [f"{n} process(es)", f"{v['samples_per_second']:.1f} samples/s", f"{v['wall_seconds']:.1f} s wall"]
            for n, v in p["runs"].items()
        ]
        + [["identical predictions", str(p["identical_predictions"]), ""]],
        ["evaluation", "generation", "with start-up"],
    )
    print(f"\n[bench] {ppath}")
    if ns.only_processes:
        return 0 if p["identical_predictions"] else 1
    r = measure(ns.rows, ns.batch_size)
    path = write_result("eval", r, ns.out_dir)
    print_table(
        [
            [f"batched (batch {r['batch_size']})", f"{r['batched_samples_per_second']:.1f} samples/s", ""],
            ["one at a time", f"{r['single_samples_per_second']:.1f} samples/s", ""],
            ["speed-up", f"{r['speedup']:.1f}x", f">= {TARGET:.0f}x: {r['verdict']}"],
            ["same responses", f"{100 * r['same_outputs_fraction']:.1f} %", ""],
        ],
        ["figure", "measured", "target"],
    )
    print(f"\n[bench] {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

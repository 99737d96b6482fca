"""A short GPU check of the kit: the tiny study on the GPU (default), or the 7B profile's memory and
step time on a random-weight Qwen2.5-VL-7B (``--arch 7b``), with no download.

    python scripts/gpu_check.py [--out DIR] [--steps 30]                  # the tiny study, 2-4 minutes
    python scripts/gpu_check.py --arch 7b [--out DIR] [--steps 2]          # the 7B profile, bf16, one GPU
    python scripts/gpu_check.py --arch 7b-mini --device cpu --steps 1 \\
        --max-completion-length 8 --accumulation 1                       # the same path, scaled down (CPU)

Installs nothing. The default check builds the tiny instruct base (in $VRFT_CACHE), trains GRPO and
SFT for a few steps on ``synthetic_banner`` with ``device: cuda`` (bf16, activation checkpointing as
the kit sets them on GPUs), evaluates the result in both prompt modes with HF generate, and, when
vLLM is installed, with vLLM too. The figures go to ``DIR/gpu_check.json``.

``--arch 7b`` builds a Qwen2.5-VL with the published Qwen2.5-VL-7B-Instruct configuration (text: 28
layers, hidden 3,584, 28 heads, 4 key-value heads, MLP 18,944, vocabulary 152,064; vision: 32 blocks
of width 1,280; 8.3 B parameters) and random weights, with the tiny base's tokenizer and processor
(no weights or files are downloaded). It then runs, in bf16 and with ``params/paper_single_gpu.yaml``'s
settings (LoRA r 64, 8 rollouts, KL 0.04, 32 prompts = 256 completions per step, completions of up to
``--max-completion-length`` = 1,024 tokens: random weights generate to the cap, the worst case):
``--steps`` GRPO steps, ``--steps`` SFT steps and one evaluation of two batches of 16 in both prompt
modes, on synthetic images of ``--image-size`` pixels (840: 900 visual tokens, an FGVC-Aircraft
image). ``DIR/gpu_check_<arch>.json`` gets, per stage, the peak GPU memory, the mean step time, the
generated tokens per second and the share of a step spent generating. The 7B figures on one
80 GB GPU are what docs/paper.md section 5 estimates; this measures them.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Qwen/Qwen2.5-VL-7B-Instruct's config.json (the published values; rope_theta 1e6, mrope [16, 24, 24]).
QWEN25VL_7B = dict(
    hidden_size=3584,
    intermediate_size=18944,
    num_hidden_layers=28,
    num_attention_heads=28,
    num_key_value_heads=4,
    vocab_size=152064,
    max_position_embeddings=128000,
    rms_norm_eps=1e-6,
    rope_theta=1000000.0,
    mrope_section=[16, 24, 24],
    tie_word_embeddings=False,
    vision=dict(
        depth=32,
        hidden_size=1280,
        intermediate_size=3420,
        num_heads=16,
        out_hidden_size=3584,
        patch_size=14,
        spatial_merge_size=2,
        temporal_patch_size=2,
        window_size=112,
        fullatt_block_indexes=[7, 15, 23, 31],
        tokens_per_second=2,
    ),
)
# The same shape scaled down for a CPU: grouped-query attention, windowed and full vision attention,
# untied embeddings, and a vocabulary larger than the tiny tokenizer's (as the 7B's), so that
# generated ids the tokenizer does not know are exercised.
QWEN25VL_7B_MINI = dict(
    QWEN25VL_7B,
    vocab_size=4096,
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=2,
    num_attention_heads=2,
    num_key_value_heads=1,
    mrope_section=[4, 6, 6],
    vision=dict(
        QWEN25VL_7B["vision"],
        depth=2,
        hidden_size=32,
        intermediate_size=64,
        num_heads=2,
        out_hidden_size=64,
        fullatt_block_indexes=[1],
    ),
)
ARCHS = {"7b": QWEN25VL_7B, "7b-mini": QWEN25VL_7B_MINI}


def qwen25vl_config(arch: dict, token_ids: dict):
    """A ``Qwen2_5_VLConfig`` of ``arch`` whose special tokens are the tokenizer's (``token_ids``)."""
    from transformers import Qwen2_5_VLConfig

    a = arch
    text = {k: a[k] for k in ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads")}
    text.update(
        num_key_value_heads=a["num_key_value_heads"],
        vocab_size=a["vocab_size"],
        max_position_embeddings=a["max_position_embeddings"],
        rms_norm_eps=a["rms_norm_eps"],
        rope_parameters={"rope_type": "default", "rope_theta": a["rope_theta"], "mrope_section": a["mrope_section"]},
        bos_token_id=token_ids["<|endoftext|>"],
        eos_token_id=token_ids["<|im_end|>"],
        pad_token_id=token_ids["<|endoftext|>"],
        tie_word_embeddings=a["tie_word_embeddings"],
    )
    return Qwen2_5_VLConfig(
        text_config=text,
        vision_config=dict(a["vision"]),
        image_token_id=token_ids["<|image_pad|>"],
        video_token_id=token_ids["<|video_pad|>"],
        vision_start_token_id=token_ids["<|vision_start|>"],
        vision_end_token_id=token_ids["<|vision_end|>"],
        tie_word_embeddings=a["tie_word_embeddings"],
    )


def build_random_model(path: Path, arch: dict, like: str, device: str, seed: int = 0) -> dict:
    """Save a random-weight Qwen2.5-VL of ``arch`` in bf16 to ``path``, with the tokenizer, processor and
    chat template of the checkpoint folder ``like``. Returns the parameter count and the seconds taken."""
    import torch
    from transformers import GenerationConfig, Qwen2_5_VLForConditionalGeneration

    from vrft_lib.models import load_processor

    t = time.perf_counter()
    path.mkdir(parents=True, exist_ok=True)
    for f in Path(like).iterdir():  # tokenizer, processor, chat template: the small files
        if f.is_file() and f.suffix != ".safetensors" and f.name not in ("config.json", "generation_config.json"):
            shutil.copy(f, path / f.name)
    tok = load_processor(like).tokenizer
    names = ("<|endoftext|>", "<|im_end|>", "<|image_pad|>", "<|video_pad|>", "<|vision_start|>", "<|vision_end|>")
    ids = {n: tok.convert_tokens_to_ids(n) for n in names}
    config = qwen25vl_config(arch, ids)
    torch.manual_seed(seed)
    with torch.device(device):
        model = Qwen2_5_VLForConditionalGeneration._from_config(config, dtype=torch.bfloat16)
    model.generation_config = GenerationConfig(
        eos_token_id=[ids["<|im_end|>"], ids["<|endoftext|>"]], pad_token_id=ids["<|endoftext|>"], do_sample=False
    )
    n = sum(p.numel() for p in model.parameters())
    model.save_pretrained(path)
    del model
    if device == "cuda":
        torch.cuda.empty_cache()
    return {"parameters": n, "seconds": round(time.perf_counter() - t, 1)}


class GenerationTimer:
    """Wall time and new tokens of every ``generate`` call of the Qwen2.5-VL class while it is on."""

    def __init__(self, pad_token_id: int, cuda: bool):
        from transformers import Qwen2_5_VLForConditionalGeneration

        self.cls, self.pad, self.cuda = Qwen2_5_VLForConditionalGeneration, pad_token_id, cuda
        self.seconds, self.tokens, self.calls = 0.0, 0, 0
        self.original = self.cls.generate
        timer = self

        def timed(model, *args, **kwargs):
            timer.sync()
            t = time.perf_counter()
            out = timer.original(model, *args, **kwargs)
            timer.sync()
            timer.seconds += time.perf_counter() - t
            ids = out if hasattr(out, "shape") else out.sequences
            prompt = kwargs.get("input_ids", args[0] if args else None)
            new = ids[:, prompt.shape[1] :] if prompt is not None else ids
            timer.tokens += int((new != timer.pad).sum())
            timer.calls += 1
            return out

        self.cls.generate = timed

    def sync(self):
        if self.cuda:
            import torch

            torch.cuda.synchronize()

    def reset(self):
        self.seconds, self.tokens, self.calls = 0.0, 0, 0

    def close(self):
        self.cls.generate = self.original


def peak_memory_gb(device: str) -> float | None:
    import torch

    return round(torch.cuda.max_memory_allocated() / 2**30, 2) if device == "cuda" else None


def reset_peak(device: str) -> None:
    import torch

    if device == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def profile_runs(ns) -> dict:
    """The GRPO and SFT run configs of params/paper_single_gpu.yaml's FGVC-Aircraft runs, with the
    check's model, data, steps and device."""
    from vrft_lib.plan.spec import expand_study, load_study

    runs = {r.run_id: r for r in expand_study(load_study(ROOT / "params" / "paper_single_gpu.yaml"), ns.out)}
    data = {"name": "synthetic_aircraft", "train_limit": 64, "eval_limit": 16, "classes_in_prompt": True}
    data["options"] = {"image_size": ns.image_size, "num_classes": 8}
    dtype = "bfloat16" if ns.device == "cuda" else "float32"  # bf16 matmuls are slow on a CPU
    out = {}
    for method, rid in (("grpo", "fgvc_aircraft/rft/seed0"), ("sft", "fgvc_aircraft/sft/seed0")):
        run = dict(runs[rid].parameters["run"])
        model = run["model"] if isinstance(run["model"], dict) else {"name_or_path": run["model"]}
        trainer = dict(run.get("trainer") or {}, max_steps=ns.steps)
        if method == "grpo":
            trainer["max_completion_length"] = ns.max_completion_length
        if ns.accumulation:
            trainer["gradient_accumulation_steps"] = ns.accumulation
            if trainer.get("steps_per_generation"):  # a divisor of the accumulation steps (on-policy)
                trainer["steps_per_generation"] = math.gcd(trainer["steps_per_generation"], ns.accumulation)
        if ns.device == "cpu":
            trainer.pop("bf16", None)
        run.update(
            name=f"gpu-check-{method}",
            trainer=trainer,
            data=data,
            device=ns.device,
            num_processes=1,
            save_steps=10**6,
            keep_checkpoints=1,
            model=dict(model, max_pixels=ns.image_size**2, dtype=dtype),
        )
        out[method] = run
    return out


def arch_check(ns) -> int:
    """``--arch 7b`` (or ``7b-mini``): memory, step time, tokens/s and generation share of the profile."""
    import torch

    from vrft_lib.evaluate import evaluate
    from vrft_lib.tiny import ensure_tiny_base
    from vrft_lib.train import train

    if ns.device == "cuda" and not torch.cuda.is_available():
        print("error: no CUDA device is visible; use --device cpu with --arch 7b-mini.", file=sys.stderr)
        return 2
    out = Path(ns.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    model_dir = out / f"random-{ns.arch}"
    built = build_random_model(model_dir, ARCHS[ns.arch], ensure_tiny_base(), ns.device)
    rows = [{"stage": f"build random {ns.arch} ({built['parameters'] / 1e9:.2f} B parameters)", **built}]
    runs = profile_runs(ns)
    from vrft_lib.models import load_processor

    timer = GenerationTimer(load_processor(str(model_dir)).tokenizer.pad_token_id, ns.device == "cuda")
    try:
        for method, run in runs.items():
            run["model"]["name_or_path"] = str(model_dir)
            run["output_dir"] = str(out / f"{ns.arch}-{method}")
            shutil.rmtree(run["output_dir"], ignore_errors=True)
            reset_peak(ns.device)
            timer.reset()
            t = time.perf_counter()
            run_dir = train(run)
            done = json.loads((run_dir / "DONE").read_text())
            args = json.loads((run_dir / "trainer_args.json").read_text())
            step_s = done["mean_step_seconds"]
            per_step = args["per_device_train_batch_size"] * args["gradient_accumulation_steps"]
            row = {
                "stage": f"{method} ({done['steps']} steps, bf16={args.get('bf16')})",
                "seconds": round(time.perf_counter() - t, 1),
                "train_seconds": done["train_seconds"],
                "step_seconds": step_s,
                "peak_gpu_memory_gb": peak_memory_gb(ns.device),
                "per_step": per_step,
            }
            if method == "grpo":
                row["max_completion_length"] = args["max_completion_length"]
                row["generated_tokens"] = timer.tokens
                row["generation_seconds"] = round(timer.seconds, 2)
                steps_s = (step_s or 0) * done["steps"]  # the steps' time: generation is a part of it
                row["generation_share"] = round(timer.seconds / steps_s, 3) if steps_s else None
                row["generated_tokens_per_second"] = round(timer.tokens / timer.seconds, 1) if timer.seconds else None
            rows.append(row)
        reset_peak(ns.device)
        timer.reset()
        shutil.rmtree(out / f"{ns.arch}-eval", ignore_errors=True)
        t = time.perf_counter()
        m = evaluate(
            {
                "name": f"gpu-check-{ns.arch}-eval",
                "model": dict(runs["grpo"]["model"]),
                "data": runs["grpo"]["data"],
                "device": ns.device,
                "max_new_tokens": ns.max_completion_length,
                "batch_size": 16,
                "progress": False,
                "num_processes": 1,
                "output_dir": str(out / f"{ns.arch}-eval"),
            }
        )
        rows.append(
            {
                "stage": f"eval (HF generate, {m['modes']['no_think']['n']} rows x 2 modes, batch 16)",
                "seconds": round(time.perf_counter() - t, 1),
                "peak_gpu_memory_gb": peak_memory_gb(ns.device),
                "samples_per_second": m["samples_per_second"],
                "generated_tokens": timer.tokens,
                "generated_tokens_per_second": round(timer.tokens / timer.seconds, 1) if timer.seconds else None,
            }
        )
    finally:
        timer.close()
    import resource

    report = {
        "arch": ns.arch,
        "device": torch.cuda.get_device_name(0) if ns.device == "cuda" else "cpu",
        "torch": torch.__version__,
        "image_size": ns.image_size,
        "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
        "total_seconds": round(time.perf_counter() - t0, 1),
        "rows": rows,
    }
    (out / f"gpu_check_{ns.arch}.json").write_text(json.dumps(report, indent=2))
    if not ns.keep_model:
        shutil.rmtree(model_dir, ignore_errors=True)
    print(f"{ns.arch} on {report['device']}  torch {report['torch']}  total {report['total_seconds']} s")
    for r in rows:
        print(" | ".join(f"{k}={v}" for k, v in r.items()))
    return 0


def tiny_check(ns) -> int:
    """The default check: the tiny study's training and evaluation on the GPU."""
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


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default="outputs/gpu_check")
    p.add_argument("--arch", choices=["tiny", *ARCHS], default="tiny", help="tiny: the tiny study (default)")
    p.add_argument("--steps", type=int, default=None, help="training steps (tiny: 30; 7b: 2)")
    p.add_argument("--device", choices=["cuda", "cpu"], default="cuda", help="--arch 7b-mini may run on cpu")
    p.add_argument("--max-completion-length", type=int, default=1024, help="GRPO completions and eval answers")
    p.add_argument(
        "--accumulation",
        type=int,
        default=None,
        help="override the profile's accumulation steps (and keep its generation chunk a divisor of them)",
    )
    p.add_argument("--image-size", type=int, default=840, help="synthetic image side (multiple of 28)")
    p.add_argument("--keep-model", action="store_true", help="keep the random model's folder")
    ns = p.parse_args(argv)
    if ns.arch == "tiny":
        ns.steps = ns.steps or 30
        return tiny_check(ns)
    ns.steps = ns.steps or 2
    if ns.arch == "7b" and ns.device != "cuda":
        p.error("--arch 7b needs --device cuda (a CPU cannot hold a 7B GRPO step); use --arch 7b-mini")
    return arch_check(ns)


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sys.exit(main())

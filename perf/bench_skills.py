"""Skill curves of the tiny model: which generic skills a random tiny Qwen2.5-VL learns, and when.

Trains a random tiny model (``--arch`` overrides :data:`vrft_lib.tiny.model.TINY_ARCH`) with the tiny
base's own SFT settings on rows of chosen kinds, and every ``--every`` steps scores greedy answers on
held-out rows of each kind, in both prompt modes. Kinds are those of the instruction mix
(:data:`vrft_lib.tiny.instruct_mix.KINDS`) and three probes that the mix does not hold:

- ``repeat``: "Repeat these words: w1 ... wn", 3-6 words of the tokenizer's vocabulary; every
  completion token is a copy (an induction circuit);
- ``lookup``: "Which option is w?" over 2-6 lettered words; the answer is the letter of ``w`` (the
  in-context lookup every lettered question needs);
- ``lookups``: the same with 2-4 words asked at once, answered by their letters in order.

Writes ``outputs/bench/skills.json`` (per point: step, seconds, accuracy per kind and mode) and
``outputs/bench/skills.html``. ``--stages`` trains on several kinds in turn (``repeat:1000;repeat,lookups:800``).
docs/data.md ("What the tiny model can and cannot learn") reports what these curves measured.

    python -m perf.bench_skills --stages letter:1600                    # ~6 min on 2 cores
    python -m perf.bench_skills --stages 'repeat:1000;repeat,lookup,letter:800' --eval letter,lookup,repeat
    python -m perf.bench_skills --stages lookup:1200 --arch '{"hidden_size": 256, "num_attention_heads": 8}'
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from PIL import Image

from perf.common import BENCH_DIR, print_table, write_result
from vrft_lib import prompts
from vrft_lib.answers import LETTERS
from vrft_lib.tiny import instruct_mix
from vrft_lib.vocab import PROMPT_MODES

PROBES = ("repeat", "lookup", "lookups")
# Kinds the mix's row maker still draws but the base's mix no longer holds: lettered multiple choice.
RETIRED = ("letter",)
# The embedded study's stand-ins, asked as params/smoke.yaml asks them (its data options).
STAND_INS = ("synthetic_banner", "synthetic_aircraft", "synthetic_count")
STUDY_FILE = Path(__file__).resolve().parent.parent / "params" / "smoke.yaml"
_WORDS = sorted(set(instruct_mix.COLOURS) | set(instruct_mix.SHAPES) | set(instruct_mix.FILLER))


def probe_row(rng: random.Random, index: int, kind: str, size: int = 56) -> dict:
    """One row of a probe kind, in the benchmark schema (a plain grey image: the answer is in the text)."""
    img = Image.new("RGB", (size, size), (140, 140, 140))
    row = {"id": f"skill-{index:06d}", "images": [img], "choices": [], "task": "classification", "kind": kind}
    if kind == "repeat":
        words = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(3, 6)))
        return {**row, "question": f"Repeat these words: {words}", "solution": words, "rationale": "I copy the words."}
    options = rng.sample(_WORDS, rng.randint(2, 6) if kind == "lookup" else rng.randint(3, 8))
    if kind == "lookup":
        a = rng.choice(options)
        q, why = f"Which option is {a}?", f"The option {a} is listed, so I pick it."
        return {**row, "question": q, "solution": a, "choices": options, "task": "multiple_choice", "rationale": why}
    asked = rng.sample(range(len(options)), rng.randint(2, min(4, len(options))))
    listed = "\n".join(prompts.CHOICE_LINE.format(letter=LETTERS[k], text=w) for k, w in enumerate(options))
    q = f"{listed}\nGive the letters of: " + ", ".join(options[k] for k in asked)
    letters = " ".join(LETTERS[k] for k in asked)
    return {**row, "question": q, "solution": letters, "rationale": "I find each word among the options."}


def stand_in_rows(name: str, n: int, seed: int, split: str) -> list[dict]:
    """``n`` rows of a stand-in with the data options of the embedded study (``params/smoke.yaml``),
    in the mix's schema (PIL images, ``kind`` the stand-in's name, ``options`` its listed classes)."""
    from vrft_lib.data import benchmark_info, load_benchmark
    from vrft_lib.values import load_yaml

    benchmarks = load_yaml(STUDY_FILE.read_text())["benchmarks"]
    data = next((dict(b["data"]) for b in benchmarks.values() if b["data"]["name"] == name), {"name": name})
    listed = data.pop("classes_in_prompt", False)
    options = data.pop("options", {})
    for key in ("name", "train_limit", "eval_limit", "root"):
        data.pop(key, None)
    ds = load_benchmark(name, "train" if split == "train" else "test", limit=n, seed=seed, **options, **data)
    classes = benchmark_info(ds)["classes"] if listed else None
    return [{**row, "kind": name, "options": classes} for row in ds]  # images decoded to PIL by the dataset


def rows_of(kinds, n: int, seed: int, split: str) -> list[dict]:
    """``n`` rows cycling through ``kinds`` (mix kinds, probes and stand-ins), disjoint streams per split."""
    stand = [k for k in kinds if k in STAND_INS]
    if stand:  # as many rows of each stand-in as of each other kind
        per = -(-n // len(kinds))
        others = [k for k in kinds if k not in STAND_INS]
        rest = rows_of(others, n - per * len(stand), seed, split) if others else []
        return rest + [r for k in stand for r in stand_in_rows(k, per, seed, split)]
    mix = [k for k in kinds if k not in PROBES]
    unknown = [k for k in mix if k not in instruct_mix.KINDS + RETIRED]
    if unknown:
        raise SystemExit(
            f"unknown kind {unknown[0]!r}; use "
            f"{', '.join(sorted(set(instruct_mix.KINDS + RETIRED)) + list(PROBES) + list(STAND_INS))}"
        )
    rng = random.Random(seed * 1000 + {"train": 0, "val": 1}[split] * 7919 + 29)
    rows = []
    for i in range(n):
        kind = kinds[i % len(kinds)]
        if kind in PROBES:
            rows.append(probe_row(rng, i, kind))
        else:
            rows.append(instruct_mix.make_row(rng, i, 56, kind))
    return rows


def _generator(model, processor, **decoding):
    """The evaluation's generator with ``decoding`` (do_sample, temperature, max_new_tokens), the model in
    eval mode."""
    from types import SimpleNamespace

    from vrft_lib.evaluate import HFGenerator, generation_settings

    model.eval()
    return HFGenerator(model, processor, generation_settings(SimpleNamespace(seed=0, **decoding), processor.tokenizer))


def _answered(generate, rows, mode: str) -> tuple[list[str], list[float]]:
    """``generate``'s responses to ``rows`` in ``mode``, asked as the evaluation asks them, and their
    accuracy rewards."""
    from vrft_lib.rewards import accuracy_reward

    shown = [prompts.with_class_choices(r, instruct_mix.option_classes(r)) for r in rows]
    requests = [{"row": r, "messages": prompts.build_messages(r, mode, instruct_mix.option_classes(r))} for r in shown]
    texts = [text for text, _ in generate(requests)]
    rewards = accuracy_reward(
        [[{"role": "assistant", "content": a}] for a in texts],
        solution=[r["solution"] for r in shown],
        choices=[r["choices"] for r in shown],
        mode=[mode] * len(shown),
    )
    return texts, rewards


def _scored(generate, rows, mode: str) -> list[float]:
    """The accuracy rewards of ``generate``'s answers to ``rows`` in ``mode``."""
    return _answered(generate, rows, mode)[1]


def _back_to_training(model, processor) -> None:
    processor.tokenizer.padding_side = "right"  # as SFT pads
    model.train()


def score(model, processor, rows) -> dict:
    """Greedy accuracy per ``kind:mode`` on ``rows``, decoded as the evaluation decodes."""
    generate = _generator(model, processor, do_sample=False, temperature=0.0, max_new_tokens=48)
    acc = defaultdict(list)
    for mode in PROMPT_MODES:
        for k in range(0, len(rows), 64):
            batch = rows[k : k + 64]
            for r, x in zip(batch, _scored(generate, batch, mode)):
                acc[f"{r['kind']}:{mode}"].append(x)
    _back_to_training(model, processor)
    return {k: round(sum(v) / len(v), 3) for k, v in sorted(acc.items())}


def mixed_groups(model, processor, rows, group: int = 8) -> dict:
    """Per stand-in, the share of GRPO groups (``group`` samples of one prompt at temperature 1, in the
    training mode, think) whose accuracy rewards are not all equal: the groups GRPO learns from."""
    generate = _generator(model, processor, do_sample=True, temperature=1.0, max_new_tokens=64)
    out = defaultdict(list)
    for r in rows:
        out[r["kind"]].append(len(set(_scored(generate, [r] * group, "think"))) > 1)
    _back_to_training(model, processor)
    return {f"{k}:mixed_groups": round(sum(v) / len(v), 3) for k, v in sorted(out.items())}


def measure(stages, eval_kinds, every=200, eval_rows=192, arch=None, seed=0, work=None, groups=0) -> dict:
    """Train a random tiny model on ``stages`` (a list of (kinds, steps)) and score it every ``every`` steps."""
    from transformers import TrainerCallback
    from transformers.trainer_utils import set_seed
    from trl import SFTTrainer

    from vrft_lib.models import load_model_and_processor
    from vrft_lib.tiny.base import RECIPE, cpu_sft_args, mix_sft_dataset
    from vrft_lib.tiny.model import build_tiny_model

    work = Path(work or tempfile.mkdtemp(prefix="vrft-skills-"))
    build_tiny_model(work / "random", seed=seed, arch=arch)
    set_seed(seed)
    model, processor = load_model_and_processor(str(work / "random"))
    held_out = rows_of(eval_kinds, eval_rows, seed, "val")
    points, t0, done = [], time.perf_counter(), 0

    class Score(TrainerCallback):
        def on_step_end(self, args, state, control, model=None, **kwargs):
            if state.global_step % every == 0 or state.global_step == args.max_steps:
                points.append({"step": done + state.global_step, "seconds": round(time.perf_counter() - t0, 1)})
                points[-1].update(score(model, processor, held_out))
                print(f"[bench_skills] {points[-1]}", flush=True)

    points.append({"step": 0, "seconds": 0.0, **score(model, processor, held_out)})
    for k, (kinds, steps) in enumerate(stages):
        if groups and k == len(stages) - 1 and k > 0:  # before the last stage: GRPO's starting point
            points[-1].update(mixed_groups(model, processor, rows_of(STAND_INS, groups, seed, "val")))
            print(f"[bench_skills] {points[-1]}", flush=True)
        args = cpu_sft_args(work / "sft", seed, disable_tqdm=True, **{**RECIPE["sft"], "max_steps": steps})
        data = mix_sft_dataset(rows_of(kinds, max(1024, steps * 8), seed + k, "train"), seed + k)
        trainer = SFTTrainer(
            model=model, args=args, train_dataset=data, processing_class=processor, callbacks=[Score()]
        )
        trainer.train()
        model, done = trainer.model, done + steps
        trainer.save_model(str(work / f"stage{k}"))  # to look at its answers: vrft_lib.models.load_model_and_processor
        processor.save_pretrained(str(work / f"stage{k}"))
    n_params = sum(p.numel() for p in model.parameters())
    return {
        "stages": [[list(k), s] for k, s in stages],
        "arch": arch or {},
        "parameters": n_params,
        "models": [str(work / f"stage{k}") for k in range(len(stages))],
        "points": points,
    }


def figure(result: dict):
    """Accuracy per kind and mode against step."""
    import plotly.graph_objects as go

    fig = go.Figure()
    keys = [k for k in result["points"][-1] if ":" in k]
    for key in keys:
        pts = [p for p in result["points"] if key in p]
        fig.add_scatter(x=[p["step"] for p in pts], y=[100 * p[key] for p in pts], name=key, mode="lines+markers")
    fig.update_layout(
        title=f"Skills of a random tiny model ({result['parameters'] / 1e6:.1f} M parameters): {result['stages']}",
        xaxis_title="optimizer step",
        yaxis_title="accuracy (%), greedy, held-out rows",
        yaxis_range=[0, 100],
        height=420,
        width=760,
    )
    return fig


def parse_stages(text: str) -> list[tuple[tuple[str, ...], int]]:
    stages = []
    for part in text.split(";"):
        kinds, _, steps = part.partition(":")
        if not steps.isdigit():
            raise SystemExit(f"stage {part!r}: write KIND[,KIND...]:STEPS, e.g. repeat:1000")
        stages.append((tuple(kinds.split(",")), int(steps)))
    return stages


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stages", default="letter:1600", help="KINDS:STEPS;KINDS:STEPS (default letter:1600)")
    ap.add_argument("--eval", default=None, help="comma-separated kinds to score (default: the kinds trained)")
    ap.add_argument("--every", type=int, default=200, help="score every N optimizer steps")
    ap.add_argument("--eval-rows", type=int, default=192, help="held-out rows per point, over the scored kinds")
    ap.add_argument("--arch", default="{}", help="JSON overrides of the tiny architecture")
    ap.add_argument(
        "--groups",
        type=int,
        default=0,
        help="before the last stage, sample 8 answers at temperature 1 for N prompts of each stand-in and "
        "report the share of groups with mixed rewards",
    )
    ap.add_argument("--out", default=str(BENCH_DIR), help="folder for skills.json and skills.html")
    a = ap.parse_args(argv)
    stages = parse_stages(a.stages)
    eval_kinds = tuple(a.eval.split(",")) if a.eval else tuple(dict.fromkeys(k for ks, _ in stages for k in ks))
    result = measure(stages, eval_kinds, a.every, a.eval_rows, json.loads(a.arch) or None, groups=a.groups)
    path = write_result("skills", result, Path(a.out))
    figure(result).write_html(Path(a.out) / "skills.html", include_plotlyjs=True)
    first, last = result["points"][0], result["points"][-1]
    keys = [k for k in last if ":" in k]
    print_table([[k, f"{100 * first[k]:.1f}", f"{100 * last[k]:.1f}"] for k in keys], ["kind:mode", "step 0", "last"])
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

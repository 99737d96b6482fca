"""A bare TRL GRPO script: what a researcher would write with TRL alone.

It takes the exact GRPOConfig arguments, the model folder and the training data the kit would use,
and calls ``GRPOTrainer`` directly: no run config, no run folder, no resume logic, no step table, no
completion files, no provenance. The reward functions are the kit's (they are the science, and the
same functions keep the two runs step-for-step identical). Used by ``perf.bench_overhead``.

    python -m perf.bare_trl_grpo --args ARGS.json --data DATASET_DIR --model MODEL_DIR --out DIR
"""

from __future__ import annotations

import argparse
import json
import sys
import time


def main(argv=None) -> int:
    t_start = time.perf_counter()
    ap = argparse.ArgumentParser()
    ap.add_argument("--args", required=True, help="GRPOConfig keyword arguments (JSON)")
    ap.add_argument("--rewards", required=True, help="reward specs and prompt mode (JSON)")
    ap.add_argument("--data", required=True, help="training data saved with Dataset.save_to_disk")
    ap.add_argument("--model", required=True, help="model folder")
    ap.add_argument("--out", required=True, help="output folder")
    ns = ap.parse_args(argv)

    import trl.trainer.grpo_trainer as grpo_module
    from datasets import load_from_disk
    from transformers.trainer_utils import set_seed
    from trl import GRPOConfig, GRPOTrainer

    from vrft_lib.models import load_processor
    from vrft_lib.rewards import build_rewards

    args = json.loads(open(ns.args).read())
    spec = json.loads(open(ns.rewards).read())
    args["output_dir"] = ns.out
    set_seed(args["seed"])
    grpo_module.print_prompt_completions_sample = lambda *a, **k: None  # no console table, as in the kit
    processor = load_processor(ns.model)
    funcs, weights = build_rewards(spec["rewards"], mode=spec["mode"], tokenizer=processor.tokenizer)
    args["reward_weights"] = weights
    trainer = GRPOTrainer(
        model=ns.model,
        reward_funcs=funcs,
        args=GRPOConfig(**args),
        train_dataset=load_from_disk(ns.data),
        processing_class=processor,
    )
    t0 = time.perf_counter()
    trainer.train()
    train_seconds = time.perf_counter() - t0
    trainer.save_model(ns.out + "/model")
    losses = {int(h["step"]): h.get("loss") for h in trainer.state.log_history if "loss" in h}
    print(
        "BARE_RESULT "
        + json.dumps(
            {
                "train_seconds": train_seconds,
                "steps": trainer.state.global_step,
                "losses": losses,
                "process_seconds": time.perf_counter() - t_start,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The ``vrft`` command line. ``vrft --help`` lists the sub-commands."""

from __future__ import annotations

import argparse
import json
import os
import sys


def _cmd_tiny_base(ns) -> int:
    from .tiny_base import ensure_tiny_base

    print(ensure_tiny_base(force=ns.force))
    return 0


def _cmd_train(ns) -> int:
    from .train import train

    run_dir = train(ns.config, **({"output_dir": ns.output_dir} if ns.output_dir else {}))
    print(run_dir)
    return 0


def _cmd_evaluate(ns) -> int:
    from .evaluate import evaluate

    metrics = evaluate(ns.config, **({"output_dir": ns.output_dir} if ns.output_dir else {}))
    for mode, m in metrics["modes"].items():
        lo, hi = m["accuracy_ci95"]
        print(f"{mode:9s} accuracy {m['accuracy']:.3f} [{lo:.3f}, {hi:.3f}]  n={m['n']}  "
              f"format {m['format_rate']:.2f}  mean length {m['mean_response_tokens']:.1f} tokens")
    return 0


def _cmd_data(ns) -> int:
    from .data import benchmark_info, list_benchmarks, load_benchmark

    if not ns.name:
        print("\n".join(list_benchmarks()))
        return 0
    options = {}
    for kv in ns.option or []:
        if "=" not in kv:
            from .errors import ConfigError

            raise ConfigError(f"--option '{kv}': expected KEY=VALUE, e.g. --option num_classes=8.")
        k, v = kv.split("=", 1)
        import yaml

        options[k] = yaml.safe_load(v)
    ds = load_benchmark(ns.name, ns.split, root=ns.root, limit=ns.limit, seed=ns.seed, **options)
    info = benchmark_info(ds)
    classes = info.get("classes")
    print(f"{ns.name}/{ns.split}: {len(ds)} rows, task {info.get('task')}"
          + (f", {len(classes)} classes" if classes else ""))
    for row in ds.select(range(min(ns.show, len(ds)))).remove_columns("images"):
        print(json.dumps(row, ensure_ascii=False))
    return 0


def _cmd_study(ns) -> int:
    from .study import run_study_cli

    return run_study_cli(ns)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="vrft",
        description="Reinforcement (GRPO) vs supervised fine-tuning of multimodal LLMs on visual tasks: "
                    "train, evaluate, and run whole studies into a narrative report.",
    )
    p.add_argument("--debug", action="store_true", help="show full tracebacks for errors")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    s = sub.add_parser("study", help="run a study (params/*.yaml) into its report")
    s.add_argument("params", help="study YAML, e.g. params/smoke.yaml")
    s.add_argument("--out", help="output folder (default: outputs/<study name>)")
    s.add_argument("--only", help="run only the runs whose name matches this glob pattern")
    s.add_argument("--force", action="store_true", help="recompute runs that already finished")
    s.add_argument("--dry-run", action="store_true", help="print the plan; load no model")
    s.add_argument("--json", action="store_true", help="with --dry-run: machine-readable plan")
    s.add_argument("--fail-fast", action="store_true", help="stop at the first failed run")
    s.add_argument("--report-only", action="store_true", help="only re-render the report from finished runs")
    s.add_argument("--no-report", action="store_true", help="run the runs but do not render the report "
                   "(what each cluster job does; the report job renders it)")
    s.add_argument("--submit", choices=["slurm"], help="submit one cluster job per unfinished run, then the "
                   "report job, and return (with --dry-run: print the jobs only)")
    s.add_argument("--partition", help="with --submit: the Slurm partition of every job (default: the study's "
                   "slurm.partition)")
    s.add_argument("--time", help="with --submit: the time limit of each run job, minutes or [D-]HH:MM:SS "
                   "(default: the study's slurm.train.time / slurm.evaluate.time)")
    s.add_argument("--status", action="store_true", help="show where each run stands: done, its Slurm job's "
                   "state, or not submitted")
    s.set_defaults(func=_cmd_study)

    s = sub.add_parser("train", help="train one GRPO or SFT run from a run YAML")
    s.add_argument("config")
    s.add_argument("--output-dir")
    s.set_defaults(func=_cmd_train)

    s = sub.add_parser("evaluate", help="evaluate one model from an eval YAML")
    s.add_argument("config")
    s.add_argument("--output-dir")
    s.set_defaults(func=_cmd_evaluate)

    s = sub.add_parser("data", help="list benchmarks, or show a few rows of one")
    s.add_argument("name", nargs="?")
    s.add_argument("--split", default="train")
    s.add_argument("--root")
    s.add_argument("--limit", type=int, default=8)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--show", type=int, default=3)
    s.add_argument("--option", action="append", help="loader option KEY=VALUE (repeatable)")
    s.set_defaults(func=_cmd_data)

    s = sub.add_parser("tiny-base", help="build (once) the tiny instruct base and print its path")
    s.add_argument("--force", action="store_true", help="rebuild even when cached")
    s.set_defaults(func=_cmd_tiny_base)
    return p


def main(argv=None) -> int:
    parser = build_parser()
    ns = parser.parse_args(argv)
    if not getattr(ns, "func", None):
        parser.print_help()
        return 0
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from .errors import VrftError

    try:
        return int(ns.func(ns) or 0)
    except VrftError as e:
        if ns.debug:
            raise
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

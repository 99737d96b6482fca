"""The ``vrft`` command line. ``vrft --help`` lists the sub-commands."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import yaml

from .errors import ConfigError, VrftError, exit_code
from .files import fault_error, input_error, shown_path

# Each sub-command imports what it needs when it runs, so that `vrft --help`, `vrft data` and
# `vrft study --dry-run` never pay for torch and TRL, which only training and evaluation load.


def _cmd_tiny_base(ns) -> int:
    from .tiny import ensure_tiny_base
    from .tiny.resolve import check_cache_root

    check_cache_root()
    if ns.seed is None:
        print(ensure_tiny_base(force=ns.force))
        return 0
    from .tiny.base import RECIPE
    from .tiny.resolve import tiny_recipe
    from .vocab import TINY_MODEL, TINY_SEED_MAX

    if not 0 <= ns.seed <= TINY_SEED_MAX:
        raise ConfigError(
            f"--seed {ns.seed}: a build seed is a whole number from 0 to {TINY_SEED_MAX} (the default base's "
            f"is {RECIPE['seed']})."
        )
    # Another draw of the same recipe (initialisation, the mix's rows, their order), cached under a key
    # of its own; a study runs on it with `model: tiny:<seed>` (or the printed path).
    print(ensure_tiny_base(tiny_recipe(f"{TINY_MODEL}:{ns.seed}"), force=ns.force))
    return 0


def _cmd_train(ns) -> int:
    from .train import train

    print(train(ns.config, **({"output_dir": ns.output_dir} if ns.output_dir else {})))
    return 0


def _cmd_evaluate(ns) -> int:
    from .evaluate import evaluate

    metrics = evaluate(ns.config, **({"output_dir": ns.output_dir} if ns.output_dir else {}))
    for mode, m in metrics["modes"].items():
        lo, hi = m["accuracy_ci95"]
        print(
            f"{mode:9s} accuracy {m['accuracy']:.3f} [{lo:.3f}, {hi:.3f}]  n={m['n']}  "
            f"format {m['format_rate']:.2f}  mean length {m['mean_response_tokens']:.1f} tokens"
        )
    return 0


def _cmd_data(ns) -> int:
    from .config import load_yaml
    from .data import benchmark_info, list_benchmarks, load_benchmark
    from .values import check_finite

    if not ns.name:
        print("\n".join(list_benchmarks()))
        return 0
    options = {}
    for kv in ns.option or []:
        if "=" not in kv:
            raise ConfigError(f"--option '{kv}': expected KEY=VALUE, e.g. --option num_classes=8.")
        k, v = kv.split("=", 1)
        try:
            options[k] = load_yaml(v)
        except yaml.YAMLError as e:
            raise ConfigError(f"--option '{shown_path(kv)}': the value is not valid YAML: {e}") from None
        check_finite(options[k], f"--option {k}")
    ds = load_benchmark(ns.name, ns.split, root=ns.root, limit=ns.limit, seed=ns.seed, **options)
    info = benchmark_info(ds)
    classes = info.get("classes")
    size = (
        f"{len(ds)} rows"
        if ns.limit is None
        else f"{len(ds)} rows loaded (--limit {ns.limit}; without it, the split's size)"
    )
    print(f"{ns.name}/{ns.split}: {size}, task {info.get('task')}" + (f", {len(classes)} classes" if classes else ""))
    for row in ds.select(range(min(ns.show, len(ds)))).remove_columns("images"):
        print(json.dumps(row, ensure_ascii=False))
    return 0


def selected_runs(study: dict, runs: list, only: str | None) -> list:
    """The runs ``--only`` names; an ``--only`` that matches none is an error listing the run ids."""
    from .plan.spec import select_runs

    chosen = select_runs(runs, only)
    if only and not chosen:
        ids = [r.run_id for r in runs]
        shown = ", ".join(ids[:20]) + (f", ... ({len(ids)} in all)" if len(ids) > 20 else "")
        raise ConfigError(
            f"--only '{only}' matches no run of study '{study['name']}' (a run id, or a glob such as "
            f"'{ids[0].split('/')[0]}/*' if ids else 'BENCHMARK/*'). The runs: {shown or 'none'}."
        )
    return chosen


def _cmd_study(ns) -> int:
    from .plan.spec import default_out, expand_study, load_study, resolve_plan, tiny_builds, variants_record
    from .tiny.resolve import tiny_build_state
    from .vocab import TINY_MODEL

    if ns.json and not (ns.dry_run or ns.status):
        raise ConfigError("--json prints the plan of --dry-run or the table of --status; add one of them.")
    if ns.status:
        from .study.slurm import format_status, study_status

        study = load_study(ns.params)
        rows = study_status(ns.out or default_out(study))
        print(json.dumps(rows, indent=2, default=str) if ns.json else format_status(rows))
        return 0
    if ns.submit:
        from .study.slurm import submit_study

        submit_study(
            ns.params,
            out=ns.out,
            only=ns.only,
            partition=ns.partition,
            time=ns.time,
            dry_run=ns.dry_run,
            force=ns.force,
            as_json=ns.json,
        )
        return 0
    if ns.dry_run:
        from .study.preflight import validate_study

        study = load_study(ns.params)
        out = Path(ns.out or default_out(study)).resolve()
        runs = selected_runs(study, expand_study(study, out), ns.only)
        # configs and the output folder only: a dry run is for a login node, with no GPU and no data
        validate_study(study, runs, out, force=ns.force, check_environment=False)
        plan = resolve_plan(runs)
        todo = [r for r, p in zip(runs, plan) if p["status"] != "done"]  # as the study builds: for runs to run
        builds = [tiny_build_state(name) for name in tiny_builds(todo)]
        if ns.json:
            record = {"study": study["name"], "out": str(out), "runs": plan, "variants": variants_record(study)}
            print(json.dumps({**record, "tiny_builds": builds}, indent=2, default=str))
        else:
            print(f"study '{study['name']}' -> {out}: {len(plan)} runs")
            for b in builds:
                state = "cached" if b["cached"] else "built first (about 5-6 min on 2 cores)"
                name = "" if b["name"] == TINY_MODEL else f" {b['name']}"
                print(f"  tiny base{name}: {state}, {shown_path(b['path'])}")
            for line in variant_lines(variants_record(study)):
                print(line)
            for p in plan:
                steps = batch_text(p["batch"])
                print(f"  [{p['status']:7s}] {p['run_id']:42s} {p['notebook']:20s} {steps}")
                if p.get("missing"):
                    print(f"            finished, but '{p['missing']}' is missing: it runs again")
        return 0
    from .study.runner import run_study

    run_study(
        ns.params,
        out=ns.out,
        only=ns.only,
        force=ns.force,
        fail_fast=ns.fail_fast,
        report_only=ns.report_only,
        no_report=ns.no_report,
    )
    return 0


def variant_lines(variants: dict) -> list[str]:
    """The variants a study defines itself (or changes), one line each, for the text plan.

    >>> variant_lines({"rft": {"defined_by": "kit"}, "rft_nt": {"defined_by": "study", "method": "grpo",
    ...                "base": "rft", "label": "RFT w/o think", "train_mode": "no_think"}})
    ["  variant rft_nt ('RFT w/o think'): grpo, base rft, train_mode: no_think"]
    """
    lines = []
    for name, d in variants.items():
        if d.get("defined_by") != "study":
            continue
        skip = ("name", "label", "method", "notebook", "base", "defined_by")
        changes = ", ".join(
            f"{k}: {json.dumps(v)}" if not isinstance(v, str) else f"{k}: {v}" for k, v in d.items() if k not in skip
        )
        head = f"  variant {name} ({d['label']!r}): {d['method']}" + (f", base {d['base']}" if d.get("base") else "")
        lines.append(head + (f", {changes}" if changes else ""))
    return lines


def batch_text(batch: dict | None) -> str:
    """One line of what a run trains on, in the paper's units.

    >>> batch_text({"prompts_per_step": 32, "completions_per_step": 256, "steps": 300, "prompts_seen": 9600})
    '300 steps x 32 prompts (256 completions) = 9600 prompts'
    >>> batch_text({"prompts_per_step": 32, "completions_per_step": 256, "completions_per_generate_call": 32,
    ...             "generate_calls_per_step": 8, "steps": 300, "prompts_seen": 9600})
    '300 steps x 32 prompts (256 completions; per process 8 generate calls of 32) = 9600 prompts'
    >>> batch_text({"examples_per_step": 32, "steps": 300, "examples_seen": 9600, "epochs": 1.44})
    '300 steps x 32 examples = 9600 examples, 1.44 epochs'
    """
    if not batch:
        return "no training"
    if "prompts_per_step" in batch:
        chunks = (
            f"; per process {batch['generate_calls_per_step']} generate call"
            f"{'s' if batch['generate_calls_per_step'] != 1 else ''} of {batch['completions_per_generate_call']}"
            if "generate_calls_per_step" in batch
            else ""
        )
        text = (
            f"{batch['steps']} steps x {batch['prompts_per_step']} prompts ({batch['completions_per_step']} "
            f"completions{chunks}) = {batch['prompts_seen']} prompts"
        )
    else:
        text = f"{batch['steps']} steps x {batch['examples_per_step']} examples = {batch['examples_seen']} examples"
    return text + (f", {batch['epochs']} epochs" if batch.get("epochs") is not None else "")


def _cmd_report(ns) -> int:
    from .files import writing_under
    from .locks import LOCK_FILE, folder_lock
    from .report.render import render_report
    from .runfolder import check_owned, claim_study_folder
    from .study.preflight import check_no_links

    out = Path(ns.study_dir).resolve()
    if not (out / "study.yaml").is_file():
        raise ConfigError(
            f"'{out}' is not a study folder (it has no study.yaml). Give the --out folder of a "
            "`vrft study` run, e.g. `vrft report outputs/smoke`."
        )
    check_owned(out, command="vrft report")
    check_no_links(out, [])  # nothing the report writes is a link, before its notebook runs
    # the study's own lock: no study, cluster job or other report writes the folder meanwhile
    with writing_under(out), folder_lock(out / LOCK_FILE, what=f"the study folder '{out}'"):
        claim_study_folder(out)
        print(render_report(out))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="vrft",
        description="Reinforcement (GRPO) vs supervised fine-tuning of multimodal LLMs on visual tasks: "
        "train, evaluate, and run whole studies into a narrative report.",
    )
    p.add_argument("--debug", action="store_true", help="show full tracebacks for errors")
    p.add_argument("--version", action="version", version=version_text())
    # --debug after the sub-command too (`vrft study x.yaml --debug`); SUPPRESS keeps the top-level value
    debug = argparse.ArgumentParser(add_help=False)
    debug.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show full tracebacks")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    s = sub.add_parser("study", help="run a study (params/*.yaml) into its report", parents=[debug])
    s.add_argument("params", help="study YAML, e.g. params/smoke.yaml")
    s.add_argument("--out", help="output folder (default: outputs/<study name>)")
    s.add_argument("--only", help="run only the runs whose name matches this glob pattern")
    s.add_argument(
        "--force",
        action="store_true",
        help="recompute runs that already finished; also write into an --out folder that is not a study "
        "folder of the kit (by default the kit writes only into a new or empty folder or one it made)",
    )
    s.add_argument("--dry-run", action="store_true", help="print the plan; load no model")
    s.add_argument("--json", action="store_true", help="with --dry-run or --status: print JSON")
    s.add_argument("--fail-fast", action="store_true", help="stop at the first failed run")
    s.add_argument("--report-only", action="store_true", help="only re-render the report from finished runs")
    s.add_argument(
        "--no-report",
        action="store_true",
        help="run the runs but do not render the report (what each cluster job does; the report job renders it)",
    )
    s.add_argument(
        "--submit",
        choices=["slurm"],
        help="submit one cluster job per unfinished run, then the "
        "report job, and return (with --dry-run: print the jobs only)",
    )
    s.add_argument(
        "--partition", help="with --submit: the Slurm partition of every job (default: the study's slurm.partition)"
    )
    s.add_argument(
        "--time",
        help="with --submit: the time limit of each run job, minutes or [D-]HH:MM:SS "
        "(default: the study's slurm.train.time / slurm.evaluate.time)",
    )
    s.add_argument(
        "--status",
        action="store_true",
        help="show where each run stands: done, its Slurm job's state, or not submitted",
    )
    s.set_defaults(func=_cmd_study)

    s = sub.add_parser(
        "report", help="render a study folder's report (report.html, table1.csv, metrics.json)", parents=[debug]
    )
    s.add_argument("study_dir", help="a folder written by `vrft study`, e.g. outputs/smoke")
    s.set_defaults(func=_cmd_report)

    s = sub.add_parser("train", help="train one GRPO or SFT run from a run YAML", parents=[debug])
    s.add_argument("config", help="run config YAML (method, model, data, rewards, trainer; see the README)")
    s.add_argument("--output-dir", help="the run's folder (default: the config's output_dir, else outputs/runs/NAME)")
    s.set_defaults(func=_cmd_train)

    s = sub.add_parser("evaluate", help="evaluate one model from an eval YAML", parents=[debug])
    s.add_argument("config", help="eval config YAML (model, data, modes, max_new_tokens, batch_size, ...)")
    s.add_argument(
        "--output-dir", help="where predictions.jsonl and metrics.json go (default: the config's output_dir)"
    )
    s.set_defaults(func=_cmd_evaluate)

    s = sub.add_parser("data", help="list benchmarks, or show the size and a few rows of one", parents=[debug])
    s.add_argument("name", nargs="?", help="a benchmark (without it: list them)")
    s.add_argument("--split", default="train", help="the split to load (default: train)")
    s.add_argument("--root", help="where the real benchmark's files are (synthetic ones need none)")
    s.add_argument("--limit", type=int, help="load at most this many rows (default: the whole split)")
    s.add_argument("--seed", type=int, default=0, help="seed of the subset and the synthetic images (default 0)")
    s.add_argument("--show", type=int, default=3, help="rows to print (default 3)")
    s.add_argument("--option", action="append", help="loader option KEY=VALUE (repeatable)")
    s.set_defaults(func=_cmd_data)

    s = sub.add_parser("tiny-base", help="build (once) the tiny instruct base and print its path", parents=[debug])
    s.add_argument("--force", action="store_true", help="rebuild even when cached")
    s.add_argument(
        "--seed",
        type=int,
        help="build the same recipe with another seed (another draw of the base) and print its path; "
        "a study or run names it `model: tiny:<seed>`, and `model: tiny:seed` puts each study seed on its own "
        "build (default: the recipe's seed, that of the default base)",
    )
    s.set_defaults(func=_cmd_tiny_base)
    return p


def version_text() -> str:
    """``vrft --version``: the kit's version and those of the packages it runs on (read without importing them)."""
    from . import __version__

    parts = []
    for name in ("torch", "transformers", "trl"):
        try:
            parts.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            parts.append(f"{name} not installed")
    return f"vrft {__version__} (Python {sys.version.split()[0]}; {', '.join(parts)})"


def main(argv=None) -> int:
    parser = build_parser()
    ns = parser.parse_args(argv)
    if not getattr(ns, "func", None):
        parser.print_help()
        return 0
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    return exit_code(lambda: guarded(ns.func, ns, debug=ns.debug), debug=ns.debug)


def _on_sigterm(signum, frame):
    raise KeyboardInterrupt("SIGTERM")


# the command-line arguments that name an input, as a message names them
INPUT_ARGUMENTS = {
    "params": "the study file",
    "out": "--out",
    "study_dir": "the study folder",
    "config": "the config",
    "output_dir": "--output-dir",
    "root": "--root",
}


def command_inputs(ns) -> str:
    """The files and folders a sub-command's arguments name, for a message about an input."""
    named = [(label, getattr(ns, key, None)) for key, label in INPUT_ARGUMENTS.items()]
    return ", ".join(f"{label} '{shown_path(value)}'" for label, value in named if isinstance(value, str))


def guarded(func, ns, debug: bool = False) -> int:
    """Run a sub-command with SIGTERM handled like Ctrl-C (what a cluster's time limit or ``kill``
    sends), a fault of the machine (a full disk, a permission error) as one paragraph naming the
    path (:func:`vrft_lib.files.fault_error`), and an input the kit cannot read (a path the file system
    refuses, text that is not UTF-8, values nested too deep, an integer too long) as one paragraph naming
    it, or the command's inputs (:func:`vrft_lib.files.input_error`). With ``debug``, ``exit_code`` shows
    the traceback too. Any other exception keeps its traceback: it is a bug, not an input."""
    try:
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread: leave the signals alone
        previous = None
    try:
        return func(ns)
    except KeyboardInterrupt as e:
        how = "SIGTERM" if str(e) == "SIGTERM" else "Ctrl-C"
        print(
            f"interrupted ({how}): finished runs are kept and temporary files removed; run the same command "
            "again to go on (an interrupted training run resumes from its last checkpoint).",
            file=sys.stderr,
        )
        return 130
    except (OSError, UnicodeDecodeError, RecursionError, ValueError) as e:
        # the machine refused a write, or an input cannot be read (a path the file system refuses, text that
        # is not UTF-8, values nested too deep, an integer too long): a message; anything else, a traceback
        error = None if isinstance(e, VrftError) else fault_error(e) or input_error(e, command_inputs(ns))
        if error is None:
            raise
        raise error from e
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())

"""A study file: load and check it, expand it into runs, select runs, resolve each run's settings.

A study (``params/*.yaml``) names the benchmarks, the variants and how to train and evaluate them.
For each benchmark and seed it expands into runs, one per variant: by default the paper's
``training_free``, ``sft``, ``rft`` and, where the benchmark sets ``length_reward: true``,
``rft_length`` (RFT plus the Normalized Length Reward); a study may define variants of its own
(:mod:`vrft_lib.plan.variants`). Each run executes the notebook of its variant's method
(:data:`vrft_lib.vocab.NOTEBOOK_OF_METHOD`) into its run folder (:func:`vrft_lib.runfolder.run_path`).
Nothing here loads a model or executes a notebook: the runner (:mod:`vrft_lib.study.runner`), the Slurm
hand-off and the report all expand a study here.
"""

from __future__ import annotations

import copy
import fnmatch
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from ..config import check_keys, check_plain, check_value, deep_merge, load_yaml
from ..data.synthetic import DEFAULT_NUM_SAMPLES
from ..errors import ConfigError, did_you_mean
from ..files import refuse_links, regular_file_problem
from ..notebook import prepare
from ..reference import REFERENCES
from ..runfolder import check_folder_name, config_diff, is_done, missing_run_outputs, run_id, run_path
from ..trainer_args import batch_summary, resolve_trainer_args
from ..values import read_config_text
from ..vocab import PROMPT_MODES, TASK_KINDS, TINY_MODEL, TINY_PER_SEED, VARIANTS, is_tiny_name, tiny_build_seed
from .claims import check_study_claims
from .variants import (
    apply_overrides,
    length_reward_entry,
    resolve_variants,
    runs_on,
    study_variants,
    variant_definition,
)

STUDY_KEYS = (
    "name",
    "description",
    "synthetic",
    "seeds",
    "model",
    "train_mode",
    "benchmarks",
    "variants",
    "rft",
    "sft",
    "length_reward",
    "evaluation",
    "run_defaults",
    "reference",
    "slurm",
    "claims",
)
# keys the runs do not depend on: a study folder whose study.yaml differs only in them is the same study
REPORT_ONLY_KEYS = ("claims",)
BENCHMARK_KEYS = ("label", "task_kind", "data", "length_reward", "rft", "sft", "evaluation", "run_defaults")
PACKAGE_DIR = Path(__file__).resolve().parent.parent

# The types of a study's own fields (checked by vrft_lib.config.check_value, before defaults are filled in).
STUDY_FIELD_TYPES = {
    "name": str,
    "description": str | None,
    "synthetic": bool,
    "model": str | dict,
    "train_mode": str,
    "benchmarks": dict,
    "variants": list | dict,
    "rft": dict | None,
    "sft": dict | None,
    "length_reward": dict | None,
    "evaluation": dict | None,
    "run_defaults": dict | None,
    "reference": str | dict | None,
    "slurm": dict | None,
    "seeds": list,
    "claims": list | None,
}
BENCHMARK_FIELD_TYPES = {
    "label": str,
    "task_kind": str,
    "data": str | dict,
    "length_reward": bool | None,
    "rft": dict | None,
    "sft": dict | None,
    "evaluation": dict | None,
    "run_defaults": dict | None,
}


def check_study_fields(study: dict, source=None) -> None:
    """Check the types and values of a study's own fields (a raw or a loaded study dict).

    Meant for :func:`vrft_lib.study.load_study`, before it fills in defaults: a wrong type there
    (``rft: 5``, a benchmark given as a list) would otherwise surface as a traceback.

    >>> check_study_fields({"benchmarks": {"b": {"task_kind": "reasonning"}}}, "s.yaml")
    Traceback (most recent call last):
    ...
    vrft_lib.errors.ConfigError: s.yaml: benchmarks.b.task_kind: unknown kind 'reasonning' (did you mean 'reas...
    """
    src = str(source or study.get("_source") or f"study '{study.get('name', '?')}'")
    for key, allowed in STUDY_FIELD_TYPES.items():
        if key in study:
            check_value(study[key], allowed, f"{src}: {key}")
    if isinstance(study.get("variants"), list):
        for v in study["variants"]:
            check_value(v, str, f"{src}: variants")
    if isinstance(study.get("train_mode"), str):
        mode = study["train_mode"]
        if mode not in PROMPT_MODES:
            raise ConfigError(
                f"{src}: train_mode: unknown mode '{mode}'{did_you_mean(mode, PROMPT_MODES)}; "
                f"use {' or '.join(PROMPT_MODES)}."
            )
    if isinstance(study.get("model"), dict) and not study["model"].get("name_or_path"):
        raise ConfigError(
            f"{src}: model: a mapping must name the model in 'name_or_path' "
            "(e.g. {name_or_path: Qwen/Qwen2.5-VL-7B-Instruct, dtype: bfloat16})."
        )
    name = model_name(study.get("model"))
    if is_tiny_name(name) and name != TINY_PER_SEED:
        tiny_build_seed(name, where=f"{src}: model")
    rft = study.get("rft") or {}
    if "rewards" in rft and (not isinstance(rft["rewards"], list) or not rft["rewards"]):
        raise ConfigError(
            f"{src}: rft.rewards: expected a non-empty list like [{{name: accuracy}}, {{name: format}}], got "
            f"{rft['rewards']!r} (GRPO learns from its rewards; remove the key for the paper's two)."
        )
    check_modes(study.get("evaluation"), f"{src}: evaluation")
    for key, spec in (study.get("benchmarks") or {}).items():
        where = f"{src}: benchmarks.{key}"
        check_value(spec, dict | None, where)
        for name, allowed in BENCHMARK_FIELD_TYPES.items():
            if spec and name in spec:
                check_value(spec[name], allowed, f"{where}.{name}")
        check_modes((spec or {}).get("evaluation"), f"{where}.evaluation")
        kind = (spec or {}).get("task_kind")
        if kind is not None and kind not in TASK_KINDS:
            raise ConfigError(
                f"{where}.task_kind: unknown kind '{kind}'{did_you_mean(kind, TASK_KINDS)}; "
                f"use one of {', '.join(TASK_KINDS)} (the report's findings group by it)."
            )
        variants = study.get("variants") or ["rft_length"]
        if (spec or {}).get("length_reward") and "rft_length" in variants and not study.get("length_reward"):
            raise ConfigError(
                f"{where}.length_reward is true, but the study has no top-level 'length_reward' "
                "entry (e.g. {name: length, target_length: 64, scope: think}). Add one, or set "
                f"benchmarks.{key}.length_reward: false."
            )


def check_modes(evaluation, where: str) -> None:
    """An ``evaluation`` section's ``modes``: a non-empty list, each mode once (a study's own message;
    the eval config checks each mode's name).

    >>> check_modes({"modes": []}, "s.yaml: evaluation")
    Traceback (most recent call last):
    ...
    vrft_lib.errors.ConfigError: s.yaml: evaluation.modes: the list is empty, so no model would be evaluated; ...
    """
    modes = (evaluation or {}).get("modes") if isinstance(evaluation, dict) else None
    if modes is None:
        return
    check_value(modes, list, f"{where}.modes")
    if not modes:
        raise ConfigError(
            f"{where}.modes: the list is empty, so no model would be evaluated; give one or both of "
            f"{', '.join(PROMPT_MODES)}, or remove 'modes' for both."
        )
    twice = sorted({m for m in modes if isinstance(m, str) and modes.count(m) > 1})
    if twice:
        raise ConfigError(f"{where}.modes: '{twice[0]}' is listed twice; list each prompt mode once.")


def variant_names(study: dict) -> list[str]:
    """The names of a study's variants (what a claim's cells and the run folders name): its
    ``variants`` list, or every variant of the kit when it gives none. The one place that reads them
    for a claim.

    >>> variant_names({"variants": ["sft", "rft"]}), len(variant_names({}))
    (['sft', 'rft'], 4)
    """
    variants = study.get("variants") or VARIANTS
    return [str(v) for v in (variants.keys() if isinstance(variants, dict) else variants)]


def kit_dir(name: str) -> Path:
    """A folder the kit ships (``notebooks`` or ``params``): inside the installed package, or beside it in a
    checkout."""
    shipped = PACKAGE_DIR / name
    return shipped if shipped.is_dir() else PACKAGE_DIR.parent / name


def notebooks_dir() -> Path:
    """The kit's notebooks: ``$VRFT_NOTEBOOKS`` when set, else those shipped inside the package."""
    env = os.environ.get("VRFT_NOTEBOOKS")
    if env:
        return Path(env)
    return kit_dir("notebooks")


@dataclass
class PlannedRun:
    run_id: str  # "<benchmark>/<variant>/seed<k>"
    benchmark: str
    variant: str
    seed: int
    notebook: str
    run_dir: str
    parameters: dict = field(default_factory=dict)
    status: str = "pending"  # pending | done | failed
    # the variant's resolved definition (vrft_lib.plan.variants), written into the run folder; a plan
    # lists each definition once, beside its runs (see :func:`variants_record`), not in every run
    definition: dict = field(default_factory=dict, repr=False)

    def to_dict(self):
        return {k: v for k, v in asdict(self).items() if k != "definition"}


def find_study_file(path) -> Path:
    """The study file ``path`` names: the file itself, else one of the kit's own studies, so that
    ``params/smoke.yaml`` (or ``smoke``) works from any folder once the kit is installed.

    >>> find_study_file("smoke").name
    'smoke.yaml'
    """
    p = Path(path).expanduser()
    if p.is_file():
        return p
    if p.exists() and not p.is_dir():  # a FIFO or a device: never read (a folder may name a shipped study)
        raise ConfigError(
            f"Study file '{p}' {regular_file_problem(p)}: a study file is a YAML file. Give a study YAML such as "
            "params/smoke.yaml."
        )
    shipped = kit_dir("params")
    for candidate in (shipped.parent / p, shipped / p.name, shipped / f"{p.name}.yaml"):
        if not p.is_absolute() and candidate.is_file():
            return candidate
    own = ", ".join(sorted(f.stem for f in shipped.glob("*.yaml"))) or "none found"
    raise ConfigError(
        f"Study file '{p}' does not exist. Give a study YAML such as params/smoke.yaml, or the "
        f"name of one of the kit's own studies ({own})."
    )


def load_study(path) -> dict:
    """Read and check a study YAML (unknown keys, benchmarks, variants, seeds)."""
    p = find_study_file(path)
    try:
        study = load_yaml(read_config_text(p, "Study file")) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"Study file '{p}' is not valid YAML: {e}") from None
    if not isinstance(study, dict):
        raise ConfigError(f"Study file '{p}': expected a mapping of keys at the top level.")
    check_keys(study, STUDY_KEYS, str(p))
    for key, value in study.items():  # data only, finite numbers: every value reaches a notebook's parameters
        check_plain(value, f"{p}: {key}")
    check_study_fields(study, p)  # types of the study's own fields, before they are used
    study.setdefault("name", p.stem)
    check_folder_name(study["name"], f"{p}: name")
    study.setdefault("seeds", [0])
    study.setdefault("variants", list(VARIANTS))
    study.setdefault("train_mode", "think")
    study.setdefault("synthetic", False)
    seeds = study["seeds"]
    if (
        not isinstance(seeds, list)
        or not seeds
        or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds)
    ):
        raise ConfigError(f"{p}: seeds must be a non-empty list of integers, got {seeds!r}.")
    bad = [x for x in seeds if not 0 <= x < 2**32]
    if bad:
        raise ConfigError(f"{p}: seeds: {bad[0]} is outside [0, 2**32), the range the random generators take.")
    if len(set(seeds)) < len(seeds):
        twice = sorted({x for x in seeds if seeds.count(x) > 1})
        raise ConfigError(f"{p}: seeds: {', '.join(map(str, twice))} given twice; each seed is one run folder.")
    benchmarks = study.get("benchmarks")
    if not isinstance(benchmarks, dict) or not benchmarks:
        raise ConfigError(f"{p}: 'benchmarks' must map benchmark keys to their settings (at least one).")
    for key, b in benchmarks.items():
        check_folder_name(key, f"{p}: benchmarks.{key}")
        b = benchmarks[key] = dict(b or {})
        check_keys(b, BENCHMARK_KEYS, f"{p}: benchmarks.{key}")
        b.setdefault("label", key)
        b.setdefault("data", {"name": key})
        if isinstance(b["data"], str):
            b["data"] = {"name": b["data"]}
        b["data"].setdefault("name", key)
    study["_variants"] = resolve_variants(study["variants"], str(p), benchmarks=list(benchmarks))
    own = study["variants"] if isinstance(study["variants"], dict) else {}
    for name, d in study["_variants"].items():
        if own.get(name) and not any(runs_on(d, key, b) for key, b in benchmarks.items()):
            raise ConfigError(
                f"{p}: variants.{name}: it runs on no benchmark: it adds the length reward, which runs only where a "
                "benchmark sets length_reward: true, and none does. Set it on a benchmark, or name the "
                f"benchmarks: variants.{name}.benchmarks: [...]."
            )
    ref = study.get("reference")
    if isinstance(ref, str):
        if ref not in REFERENCES:
            raise ConfigError(
                f"{p}: reference: unknown reference '{ref}'{did_you_mean(ref, REFERENCES)}; "
                f"use one of {', '.join(REFERENCES)} or a mapping {{source, table1}}."
            )
        study["reference"] = copy.deepcopy(REFERENCES[ref])
    # the study's own claims: their cells, benchmarks, sign and quantifier (docs/report.md)
    check_study_claims(study, str(p), variant_names(study), [(k, v) for k, v, _ in expected_runs(study)])
    study["_source"] = str(p.resolve())
    return study


def select_runs(runs: list, only: str | None) -> list:
    """The runs ``--only`` names: the run whose id is exactly ``only``, else the ids matching it as a glob
    (or containing it). Exact first, so ``sat/rft/seed1`` is not also ``sat/rft/seed10``."""
    if not only:
        return list(runs)
    exact = [r for r in runs if r.run_id == only]
    return exact or [r for r in runs if fnmatch.fnmatch(r.run_id, only) or fnmatch.fnmatch(r.run_id, f"*{only}*")]


def study_path(study: dict, value: str, where: str) -> str:
    """An absolute path for a relative path written in a study: from the working directory, else the
    study file's folder, else the kit's root. Notebooks run in notebooks/, so relative paths must not
    reach them."""
    p = Path(value).expanduser()
    if p.is_absolute():
        return str(p)
    bases = [Path.cwd()]
    if study.get("_source"):
        bases.append(Path(study["_source"]).parent)
    bases.append(kit_dir("params").parent)
    for base in bases:
        if (base / p).exists():
            return str((base / p).resolve())
    raise ConfigError(
        f"study '{study['name']}': {where}: file '{value}' not found (looked in "
        f"{', '.join(str(b) for b in bases)}). Use one of params/accelerate/*.yaml or an absolute path."
    )


def model_name(model) -> str | None:
    """The name of a study's or run's ``model:``, given as a name or as a mapping with ``name_or_path``."""
    return model.get("name_or_path") if isinstance(model, dict) else model


def tiny_builds(runs) -> list[str]:
    """The builds of the tiny base that ``runs`` name (``tiny``, ``tiny:<k>``), once each, in run order."""
    names = (model_name(r.parameters["run"].get("model")) for r in runs)
    return list(dict.fromkeys(n for n in names if is_tiny_name(n)))


def model_for_seed(model, seed: int):
    """A run's ``model:`` from its study's: ``tiny:seed`` becomes the build of the run's own seed.

    >>> model_for_seed("tiny:seed", 2), model_for_seed({"name_or_path": "tiny:seed"}, 0), model_for_seed("tiny", 2)
    ('tiny:2', {'name_or_path': 'tiny:0'}, 'tiny')
    """
    model = copy.deepcopy(model)
    if model_name(model) != TINY_PER_SEED:
        return model
    if isinstance(model, dict):
        return {**model, "name_or_path": f"{TINY_MODEL}:{seed}"}
    return f"{TINY_MODEL}:{seed}"


def run_config_dict(study: dict, key: str, variant: str, seed: int) -> dict:
    """The run config (a dict) of one run of the study: the study's and the benchmark's settings for the
    variant's method, then the variant's own (:func:`~vrft_lib.plan.variants.apply_overrides`)."""
    b = study["benchmarks"][key]
    d = variant_definition(study, variant)
    method = d["method"]
    run = deep_merge(study.get("run_defaults") or {}, b.get("run_defaults") or {})
    run.update(
        name=f"{key}-{variant}-seed{seed}",
        method=method,
        seed=seed,
        train_mode=study["train_mode"],
        model=model_for_seed(study.get("model", TINY_MODEL), seed),
        data=copy.deepcopy(b["data"]),
    )
    if method == "grpo":
        rft = deep_merge(study.get("rft") or {}, b.get("rft") or {})
        run.update({k: v for k, v in rft.items() if k != "rewards"})
        rewards = d.get("rewards") or rft.get("rewards")
        if rewards is None:  # an empty list stays, and is refused with the run config
            rewards = [{"name": "accuracy"}, {"name": "format"}]
        run["rewards"] = copy.deepcopy(rewards)
        if d.get("length_reward"):
            where = f"study '{study['name']}', benchmark '{key}'"
            run["rewards"].append(length_reward_entry(study, d, where))
    elif method == "sft":
        run.update(deep_merge(study.get("sft") or {}, b.get("sft") or {}))
    apply_overrides(run, d)
    if run.get("accelerate_config"):
        run["accelerate_config"] = study_path(study, run["accelerate_config"], "accelerate_config")
    return run


def expected_runs(study: dict) -> list[tuple[str, str, int]]:
    """``(benchmark, variant, seed)`` of every run a loaded study (or its saved ``study.yaml``) expands
    into, in execution order (benchmark, seed, variant): each variant where it runs
    (:func:`~vrft_lib.plan.variants.runs_on`: ``rft_length`` only where the benchmark sets
    ``length_reward: true``). Reads nothing and loads nothing, so the report can use it on any study folder.

    >>> expected_runs({"benchmarks": {"sat": {"length_reward": True}, "banner": {}}, "seeds": [0],
    ...                "variants": ["rft", "rft_length"]})
    [('sat', 'rft', 0), ('sat', 'rft_length', 0), ('banner', 'rft', 0)]
    """
    variants = study_variants(study)
    out = []
    for key, b in (study.get("benchmarks") or {}).items():
        for seed in study.get("seeds") or [0]:
            for variant, d in variants.items():
                if runs_on(d, key, b):
                    out.append((key, variant, seed))
    return out


def variants_record(study: dict) -> dict[str, dict]:
    """The resolved definition of each of the study's variants, by name: what ``--dry-run --json``
    lists beside the runs, and what each run folder records of its variant (``variant.yaml``)."""
    return copy.deepcopy(study_variants(study))


def expand_study(study: dict, out_dir) -> list[PlannedRun]:
    """Every run of the study (:func:`expected_runs`), with its notebook, run folder and parameters."""
    out = Path(out_dir).resolve()
    variants = study_variants(study)
    runs = []
    for key, variant, seed in expected_runs(study):
        b = study["benchmarks"][key]
        run_dir = run_path(out, key, variant, seed)
        if not run_dir.resolve().is_relative_to(out):  # checked by name already; never write outside
            refuse_links(run_dir, root=out)  # a link on the way leads elsewhere: name it
            raise ConfigError(f"study '{study.get('name')}': run folder '{run_dir}' is not under '{out}'.")
        evaluation = deep_merge(study.get("evaluation") or {}, b.get("evaluation") or {})
        params = {
            "run": run_config_dict(study, key, variant, seed),
            "evaluation": evaluation,
            "output_dir": str(run_dir),
        }
        d = variants[variant]
        runs.append(
            PlannedRun(
                run_id(key, variant, seed),
                key,
                variant,
                seed,
                d["notebook"],
                str(run_dir),
                params,
                definition=copy.deepcopy(d),
            )
        )
    return runs


def resolve_plan(runs: list[PlannedRun], num_processes_override=None) -> list[dict]:
    """Validate every run up front (no model is loaded) and resolve its TRL trainer arguments."""
    plan = []
    for r in runs:
        cfg, ev = prepare(r.parameters["run"], r.parameters["evaluation"], r.run_dir)
        entry = r.to_dict()
        entry["trainer_args"] = (
            resolve_trainer_args(cfg, num_processes=num_processes_override) if cfg.method != "none" else None
        )
        entry["batch"] = (
            batch_summary(cfg, entry["trainer_args"], num_processes_override, train_split_size(cfg))
            if entry["trainer_args"]
            else None
        )
        entry["eval"] = {
            "modes": ev.modes,
            "max_new_tokens": ev.max_new_tokens,
            "batch_size": ev.batch_size,
            "backend": ev.backend,
            "split": ev.data.eval_split,
            "limit": ev.data.eval_limit,
        }
        # as the runner decides: a finished run whose outputs were lost since runs again
        lost = missing_run_outputs(r.run_dir, cfg.method != "none")
        entry["status"] = "rerun" if lost else "done" if is_done(r.run_dir) else "pending"
        if lost:
            entry["missing"] = str(lost[0])
        plan.append(entry)
    return plan


def train_split_size(cfg) -> int | None:
    """The number of training rows a run reads, when it is known without reading data: its
    ``train_limit`` (an upper bound for real data), else a synthetic split's size."""
    d = cfg.data
    synthetic_size = None
    if d.name.startswith("synthetic_"):
        synthetic_size = d.options.get("num_samples") or DEFAULT_NUM_SAMPLES.get(d.train_split)
    if d.train_limit and synthetic_size:
        return min(d.train_limit, synthetic_size)
    return d.train_limit or synthetic_size


def check_same_study(study: dict, out: Path) -> None:
    """Refuse an output folder whose ``study.yaml`` holds a different study (its claims aside: they
    change only the report, which is rendered again)."""
    diff = config_diff(
        Path(out) / "study.yaml", {k: v for k, v in study.items() if not k.startswith("_")}, ignore=REPORT_ONLY_KEYS
    )
    if diff:
        raise ConfigError(
            f"Output folder '{out}' holds a different study (study.yaml differs in: {', '.join(diff)}). "
            "Use another --out, or delete that folder (or pass --force to replace its runs)."
        )


def default_out(study: dict) -> Path:
    """Where a study writes when no ``--out`` is given: ``outputs/<study name>``."""
    return Path("outputs") / study["name"]

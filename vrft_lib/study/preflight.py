"""Check a study, or one run, before any work starts.

A study is hours of GPU time, so everything that can be checked cheaply is checked up front, in the
process that runs ``vrft study``, before the first notebook starts: the run and eval configs (types,
ranges, the TRL trainer fields, batch arithmetic), the data each run will read (dataset roots,
annotation files, splits, class lists: file checks only, no image is decoded), the models (a hub id
with no network and no local copy), what this machine allows (GPU-only options on a CPU) and the
output folder (whether the kit owns it, a symbolic link where the study writes, a different study,
unfinished runs of a different config, write permission). Each
problem is a :class:`~vrft_lib.errors.VrftError` whose one-paragraph message names the study file,
the run, the field or path, what is wrong and how to fix it. Nothing here loads a model, and the
checks are deterministic apart from a connection attempt to the hub for a hub id that is neither
cached nor marked offline.

::

    from vrft_lib.study.preflight import validate_study
    from vrft_lib.plan.spec import expand_study, load_study

    study = load_study("params/smoke.yaml")
    validate_study(study, expand_study(study, "outputs/smoke"), "outputs/smoke")

What needs the images themselves (a corrupt file) is found when the data are loaded: the loaders'
``on_bad_image`` option chooses between stopping with the file's name and skipping with a count.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import socket
from pathlib import Path
from urllib.parse import urlparse

import yaml

from ..config import (
    EvalConfig,
    RunConfig,
    check_machine,
    check_report_to,
    detect_device,
    load_eval_config,
    load_run_config,
)
from ..data import check_benchmark_files
from ..errors import ConfigError, DataError, ModelError, VrftError, did_you_mean
from ..files import read_text, refuse_links
from ..models import is_hub_id, locate_model
from ..notebook import prepare
from ..plan.spec import check_same_study, check_study_fields, notebooks_dir
from ..runfolder import STUDY_FILE, STUDY_NAMES, check_owned, config_diff
from ..tiny.resolve import check_cache_root
from ..trainer_args import resolve_trainer_args
from ..vocab import is_tiny_name, tiny_build_seed

HUB_PROBE_SECONDS = 3.0  # connection attempt to the hub for a hub id that is not cached

# ----------------------------------------------------------------------------------------------
# the study
# ----------------------------------------------------------------------------------------------


def validate_study(study: dict, runs: list, out_dir, *, force: bool = False, check_environment: bool = True) -> None:
    """Check everything the runs of a study need, before any of them starts.

    Args:
        study: a study dict from :func:`vrft_lib.study.load_study`.
        runs: the runs to check (:func:`vrft_lib.study.expand_study`, maybe filtered by ``--only``).
        out_dir: the study's output folder.
        force: the runs will be recomputed (``--force``): finished run folders are replaced, so a
            different study in ``out_dir`` is not an error, nor a folder the kit does not own
            (:func:`vrft_lib.runfolder.check_owned`).
        check_environment: also check what depends on this machine: the dataset files, the models
            (a local copy or hub access), that a GPU asked for exists, the notebooks and kernel, write
            permission. ``False`` checks only the configs and the output folder, which is what
            ``--dry-run`` needs on a login node with no GPU and no data. GPU-only options are always
            checked against the device a run resolves to here.

    Raises:
        ConfigError, DataError, ModelError: the first problem found, named in one paragraph.
    """
    src = study.get("_source") or f"study '{study.get('name', '?')}'"
    out = Path(out_dir).resolve()
    check_study_fields(study, src)
    cache: dict = {}
    for run in runs:
        try:
            cfg, ev = prepare(run.parameters["run"], run.parameters["evaluation"], run.run_dir)
            validate_run(cfg, ev, check_environment=check_environment, _cache=cache, _cwd=notebooks_dir())
        except VrftError as e:
            raise _in_study(e, study, src, run) from None
    if check_environment:
        _check_notebooks(runs, src)
        _check_writable(out)
    check_owned(out, force=force)
    check_no_links(out, runs)
    check_study_file(out)
    if not force:
        check_same_study(study, out)
    conflicts = [] if force else run_dir_conflicts(runs)  # --force replaces them, finished or not
    if conflicts:
        listing = "; ".join(
            f"{r.run_id} in '{Path(r.run_dir) / 'train'}' (differs in: {', '.join(d)})" for r, d in conflicts
        )
        raise ConfigError(
            f"Output folder '{out}' holds unfinished runs of a different config: {listing}. They would "
            "be refused when they resume. Pass --force to start them over (or delete those run folders), or "
            "use another --out."
        )


def check_no_links(out: Path, runs: list) -> None:
    """Refuse a symbolic link where the study will write: a name the study writes at the top of ``out``
    (:data:`vrft_lib.runfolder.STUDY_NAMES`), the folders on the way to each run folder, or anything
    in a run folder of ``runs``. ``out`` itself may be a link (it was resolved)."""
    for path in [Path(out) / name for name in STUDY_NAMES]:
        refuse_links(path, root=out)
    for run in runs:
        refuse_links(run.run_dir, root=out, inside=True)


def check_study_file(out: Path) -> None:
    """Refuse an output folder whose ``study.yaml`` cannot be read (garbled), naming the file."""
    path = Path(out) / STUDY_FILE
    if not os.path.lexists(path):
        return
    try:
        data = yaml.safe_load(read_text(path))
    except (yaml.YAMLError, UnicodeDecodeError, OSError) as e:
        problem = " ".join(str(e).split())
    else:
        if isinstance(data, dict):
            return
        problem = f"it holds a {type(data).__name__}, not the mapping the kit writes"
    raise ConfigError(
        f"'{path}' is garbled and cannot be read ({problem[:300]}). It is the record of the study this "
        "folder holds: restore it, or delete it to let this study write its own (the runs are kept), or "
        "use another --out."
    )


def _in_study(e: VrftError, study: dict, src: str, run) -> VrftError:
    """The same error, prefixed with the study file and the run (and where an unknown key was set)."""
    msg = str(e)
    origin = ""
    m = re.search(r"unknown (?:key|\w+ field) '([^']+)'", msg)
    if m:
        found = _find_key(study, run.benchmark, m.group(1), run.variant)
        if found:
            origin = f"; set in {', '.join(found)}"
    prefix = f"Study file '{src}', run {run.run_id} (benchmarks.{run.benchmark}, variant {run.variant}{origin}): "
    try:
        return type(e)(prefix + msg)
    except TypeError:  # an error class with another constructor
        return ConfigError(prefix + msg)


def _find_key(study: dict, benchmark: str, key: str, variant: str | None = None) -> list[str]:
    """Dotted paths of the study sections (feeding a run) that set ``key``."""
    sections = [(name, study.get(name)) for name in ("run_defaults", "rft", "sft", "evaluation", "length_reward")]
    spec = (study.get("benchmarks") or {}).get(benchmark) or {}
    sections += [
        (f"benchmarks.{benchmark}.{name}", spec.get(name))
        for name in ("data", "run_defaults", "rft", "sft", "evaluation")
    ]
    own = study.get("variants") if isinstance(study.get("variants"), dict) else {}
    if variant and isinstance(own.get(variant), dict):
        sections.append((f"variants.{variant}", own[variant]))
    found = []

    def walk(node, path, depth):
        if not isinstance(node, dict) or depth > 3:
            return
        for k, v in node.items():
            if k == key:
                found.append(f"{path}.{k}")
            walk(v, f"{path}.{k}", depth + 1)

    for name, node in sections:
        walk(node, name, 0)
    return found


def run_dir_conflicts(runs: list) -> list[tuple]:
    """``(run, differing keys)`` for each run whose folder already holds a training run of another config.

    The same comparison (:func:`vrft_lib.runfolder.config_diff`) as :func:`vrft_lib.train.train` makes,
    which would refuse such a run when it starts (after the runs before it have spent their time).
    """
    conflicts = []
    for run in runs:
        saved = Path(run.run_dir) / "train" / "config.yaml"
        if not saved.exists():
            continue
        cfg, _ = prepare(run.parameters["run"], run.parameters["evaluation"], run.run_dir)
        diff = config_diff(saved, cfg.to_dict())
        if diff:
            conflicts.append((run, diff))
    return conflicts


def _check_notebooks(runs: list, src: str) -> None:
    folder = notebooks_dir()
    for name in sorted({r.notebook for r in runs} | {"report.ipynb"}):
        if not (folder / name).is_file():
            raise ConfigError(
                f"Notebook '{folder / name}' is missing: the runs of '{src}' execute the kit's notebooks. "
                "Install the kit from a checkout (`pip install -e .`), or set VRFT_NOTEBOOKS to the folder "
                "that holds training_free.ipynb, sft.ipynb, rft.ipynb and report.ipynb."
            )
    try:
        from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
    except ImportError:  # pragma: no cover - papermill depends on jupyter_client
        return
    try:
        KernelSpecManager().get_kernel_spec("python3")
    except NoSuchKernel:
        raise ConfigError(
            "No Jupyter kernel named 'python3' is installed, and the study executes its notebooks with it. "
            "Install one for this environment: `python -m ipykernel install --sys-prefix --name python3`."
        ) from None


def _check_writable(out: Path) -> None:
    existing = out
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if existing.exists() and not existing.is_dir():
        raise ConfigError(f"Output folder '{out}': '{existing}' is a file, not a folder. Choose another --out.")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(
            f"Output folder '{out}' cannot be created or written ('{existing}' is not writable). "
            "Choose another --out, or fix the folder's permissions."
        )


# ----------------------------------------------------------------------------------------------
# one run
# ----------------------------------------------------------------------------------------------


def validate_run(
    cfg, evaluation=None, *, check_environment: bool = True, _cache: dict | None = None, _cwd=None
) -> None:
    """Check one run (and its evaluation) before it starts: trainer arguments, data, model, machine.

    Args:
        cfg: a run config (YAML path, dict or :class:`~vrft_lib.config.RunConfig`).
        evaluation: its eval config (dict or :class:`~vrft_lib.evaluate.EvalConfig`), if any.
        check_environment: also check what depends on this machine: dataset files, the model (a
            local copy or hub access), a GPU asked for by ``device: cuda``, report_to integrations.

    >>> validate_run({"name": "r", "method": "sft", "model": "tiny", "data": {"name": "synthetic_banner"},
    ...               "save_steps": 0})
    Traceback (most recent call last):
    ...
    vrft_lib.errors.ConfigError: run config.save_steps: must be at least 1, got 0.
    """
    cfg = cfg if isinstance(cfg, RunConfig) else load_run_config(cfg)
    ev = evaluation if evaluation is None or isinstance(evaluation, EvalConfig) else load_eval_config(evaluation)
    cache = {} if _cache is None else _cache
    where = f"run '{cfg.name}'"
    check_machine(cfg, None if check_environment else detect_device(cfg.device))
    if cfg.method != "none":
        resolve_trainer_args(cfg)  # TRL fields, ranges, batch arithmetic
        acc = cfg.accelerate_config
        if check_environment and acc and cfg.num_processes > 1 and not (Path(_cwd or ".") / acc).is_file():
            raise ConfigError(
                f"{where}.accelerate_config: file '{acc}' does not exist (relative paths are read from "
                f"'{Path(_cwd or '.').resolve()}', where the run starts). Use one of "
                "params/accelerate/*.yaml or your own accelerate config."
            )
        if cfg.peft:
            _check_peft(cfg.peft, f"{where}.peft")
        if check_environment:
            check_report_to(cfg.report_to, where)
    # The notebooks show samples of the training split, also for a training-free run.
    _check_data(
        cfg.data, "train_split", cfg.seed, cfg.data.train_limit, f"{where}.data", cache, check_environment, _cwd
    )
    if check_environment:
        _check_model_cached(cfg.model.name_or_path, f"{where}.model", cache, _cwd)
    if ev is not None:
        check_machine(ev, None if check_environment else detect_device(ev.device))
        where = f"eval '{ev.name}'"
        _check_data(ev.data, "eval_split", ev.seed, ev.data.eval_limit, f"{where}.data", cache, check_environment, _cwd)


def _run_path(value, cwd, where: str) -> str:
    """The path a run will open for ``value``: relative paths are read from the run's working folder.

    A study's runs start in the notebooks' folder (papermill's working directory), so a relative path
    that exists from here may not exist there; that is an error with the absolute path to use instead.
    """
    text = os.path.expanduser(str(value))
    if cwd is None or os.path.isabs(text):
        return text
    there = Path(cwd) / text
    if not there.exists() and Path(text).exists():
        raise ConfigError(
            f"{where}: the relative path '{value}' exists from the current folder, but the runs start "
            f"in '{Path(cwd).resolve()}' (the notebooks' folder), where it does not. Give the absolute "
            f"path instead: '{Path(text).resolve()}'."
        )
    return str(there)


def _check_model_cached(name: str, where: str, cache: dict, cwd=None) -> None:
    """A model that is neither ``tiny`` nor loadable here (no local copy, no hub access) is an error."""

    if ("model", name) in cache:
        return
    if is_tiny_name(name):
        tiny_build_seed(name, where)  # tiny or tiny:<k>, or a message now
        check_cache_root()  # the tiny base is built into $VRFT_CACHE: a folder, or a message now
        cache[("model", name)] = True
        return

    if (
        cwd is not None
        and not os.path.isabs(os.path.expanduser(name))
        and (Path(name).exists() or (Path(cwd) / name).exists())
    ):
        name = _run_path(name, cwd, where)  # a local folder, as the run will see it
    try:
        locate_model(name)
        if is_hub_id(name):
            from huggingface_hub import try_to_load_from_cache

            if not isinstance(try_to_load_from_cache(name, "config.json"), str):
                _probe_hub(name)
    except ModelError as e:
        raise ModelError(f"{where}: {e}") from None
    cache[("model", name)] = True


def _probe_hub(name: str) -> None:
    endpoint = os.environ.get("HF_ENDPOINT") or "https://huggingface.co"
    url = urlparse(endpoint)
    host, port = url.hostname or "huggingface.co", url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=HUB_PROBE_SECONDS):
            pass
    except OSError as exc:
        raise ModelError(
            f"Model '{name}' is a hub id that is not in the local Hugging Face cache, and the hub "
            f"({endpoint}) cannot be reached from this machine ({type(exc).__name__}: {exc}). Download it once "
            f"on a machine with network (`huggingface-cli download {name} --local-dir /path/to/model`) and "
            "set the model to that local path."
        ) from None


def _check_peft(peft: dict, where: str) -> None:
    try:
        from peft import LoraConfig
    except ImportError:
        raise ConfigError(
            f"{where}: LoRA needs the 'peft' package, which is not installed. "
            "Install it (`pip install peft`) or remove 'peft' from the run config."
        ) from None
    valid = [f.name for f in dataclasses.fields(LoraConfig)]
    for key in peft:
        if key not in valid:
            raise ConfigError(f"{where}: unknown LoraConfig field '{key}'{did_you_mean(key, valid)}.")


# ----------------------------------------------------------------------------------------------
# data: the files a run will read, checked without decoding images
# ----------------------------------------------------------------------------------------------


def _check_data(
    spec, split_field: str, seed: int, limit, where: str, cache: dict, files: bool = True, cwd=None
) -> None:
    split = getattr(spec, split_field)
    key = (
        "data",
        spec.name,
        str(spec.root),
        split,
        json.dumps(spec.options, sort_keys=True, default=str),
        limit,
        seed,
        files,
    )
    if key in cache:
        return
    try:
        root = _run_path(spec.root, cwd, f"{where}.root") if files and spec.root not in (None, "") else spec.root
        check_benchmark_files(spec.name, split, root=root, limit=limit, seed=seed, files=files, **spec.options)
    except DataError as e:
        raise DataError(f"{where} ({split_field} '{split}', root {spec.root!r}): {e}") from None
    cache[key] = True

"""Run training or evaluation in child processes under ``accelerate launch`` and stream their log.

One process trains (evaluates) in the calling process (a notebook kernel, a script). More than one
(``num_processes > 1`` in the run or eval config) launches::

    accelerate launch [--config_file CFG] --num_processes N ... --multi_gpu -m vrft_lib.train RUN.yaml
    accelerate launch --num_processes N ... --multi_gpu -m vrft_lib.evaluate EVAL.yaml

and prints the children's output line by line as it comes, so a notebook cell shows the live log.

On a machine without GPUs, ``accelerate launch --num_processes 2`` alone (or with ``--cpu``) starts
ONE process and says nothing. The kit always passes ``--multi_gpu`` (accelerate's torchrun
launcher) for more than one process, with ``ACCELERATE_USE_CPU=true`` on a CPU (the processes join a
gloo group), and ``VRFT_NUM_PROCESSES=N``, which the children check (:mod:`vrft_lib.parallel`).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from .config import RunConfig, detect_device, load_run_config
from .errors import ConfigError, VrftError
from .evaluate import EvalConfig, evaluate, load_eval_config
from .files import dump_yaml, make_dirs, read_json
from .parallel import EVAL_PROCESSES_ENV, EXPECTED_PROCESSES_ENV
from .runfolder import is_done
from .train import train


class LaunchError(VrftError, RuntimeError):
    """A launched training or evaluation process failed."""


def accelerate_command(cfg: RunConfig, run_yaml: str | os.PathLike) -> list[str]:
    """The ``accelerate launch`` command line for a run (no GPU needed to build it).

    >>> cfg = load_run_config({"name": "x", "method": "sft", "num_processes": 2, "device": "cpu"})
    >>> " ".join(accelerate_command(cfg, "run.yaml")[3:])
    '--num_processes 2 --num_machines 1 --mixed_precision no --dynamo_backend no --multi_gpu -m vrft_lib.train run.yaml'

    ``--multi_gpu`` is accelerate's torchrun launcher; on a CPU machine the processes join a gloo
    group (the run config's ``device: cpu``), which is how the tests run two CPU processes. On a CPU
    it is passed with an accelerate config file too (whose DeepSpeed or other launcher needs GPUs).
    """
    if cfg.accelerate_config:
        path = Path(cfg.accelerate_config)
        if not path.exists():
            raise ConfigError(
                f"run '{cfg.name}'.accelerate_config: file '{path}' does not exist. Use one of "
                "params/accelerate/*.yaml or your own accelerate config."
            )
    cpu = cfg.device == "cpu"
    return launch_argv(cfg.num_processes, "vrft_lib.train", run_yaml, config_file=cfg.accelerate_config, cpu=cpu)


def launch_argv(num_processes: int, module: str, config_yaml, config_file=None, cpu: bool = False) -> list[str]:
    """``python -m accelerate.commands.launch ... -m MODULE CONFIG_YAML`` for ``num_processes``.

    >>> " ".join(launch_argv(2, "vrft_lib.evaluate", "e.yaml", cpu=True)[5:])
    '--num_machines 1 --mixed_precision no --dynamo_backend no --multi_gpu -m vrft_lib.evaluate e.yaml'
    """
    cmd = [sys.executable, "-m", "accelerate.commands.launch"]
    if config_file:
        cmd += ["--config_file", str(config_file)]
    cmd += ["--num_processes", str(num_processes)]
    if not config_file:
        cmd += ["--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
    if num_processes > 1 and (not config_file or cpu):
        cmd += ["--multi_gpu"]
    return cmd + ["-m", module, str(config_yaml)]


def child_env(device: str, num_processes: int) -> dict:
    """The launched processes' environment: unbuffered output, the CPU switch, the process count to
    check, and this checkout first on the path (a child imports the same vrft_lib as its parent)."""
    env = dict(os.environ, PYTHONUNBUFFERED="1", **{EXPECTED_PROCESSES_ENV: str(num_processes)})
    if device == "cpu":
        env["ACCELERATE_USE_CPU"] = "true"
    root = Path(__file__).resolve().parent.parent
    if root.name not in ("site-packages", "dist-packages"):
        env["PYTHONPATH"] = os.pathsep.join([str(root)] + [p for p in [env.get("PYTHONPATH")] if p])
    return env


def stream_command(cmd: list[str], env: dict, stream, what: str) -> None:
    """Run ``cmd``, printing its output line by line to ``stream``; raise :class:`LaunchError` on failure."""
    print("[vrft] " + " ".join(cmd), file=stream, flush=True)
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, bufsize=1) as proc:
        tail: list[str] = []
        clues: list[str] = []
        for line in proc.stdout:
            print(line, end="", file=stream, flush=True)
            tail = (tail + [line])[-30:]
            if len(clues) < 10 and CLUE.search(line):
                clues.append(line)
        code = proc.wait()
    if code != 0:
        raise LaunchError(failure_message(what, code, tail, clues))


# Lines of a child's output that say why it failed; torchrun's own summary (the last lines) names only
# the signal, and the cause (a C++ abort's message, a Python error) is often printed long before it.
CLUE = re.compile(r"terminate called|what\(\)|Traceback|Error\b|Exception\b|Aborted|Fatal|Killed")


def failure_message(what: str, code: int, tail: list[str], clues: list[str]) -> str:
    """The error for a failed launch: the first lines that looked like causes, then the last lines.

    >>> print(failure_message("run 'g'", 1, ["b\\n"], ["terminate called ...\\n", "b\\n"]))
    run 'g' failed in accelerate launch (exit code 1); the first lines that look like causes:
    terminate called ...
    its last lines:
    b
    <BLANKLINE>
    """
    earlier = [line for line in clues if line not in tail]
    head = f"{what} failed in accelerate launch (exit code {code}); "
    if earlier:
        head += "the first lines that look like causes:\n" + "".join(earlier)
    return head + "its last lines:\n" + "".join(tail)


def launch_training(config, stream=None, **overrides) -> Path:
    """Train a run in ``num_processes`` processes with accelerate; return its train folder.

    The resolved run config is written to ``<train_dir>/launch.yaml`` and handed to the child.
    """
    cfg = load_run_config(config, **overrides)
    train_dir = make_dirs(cfg.train_dir)
    run_yaml = train_dir / "launch.yaml"
    dump_yaml(cfg.to_dict(), run_yaml)
    cmd = accelerate_command(cfg, run_yaml)
    env = child_env(detect_device(cfg.device), cfg.num_processes)
    stream_command(cmd, env, stream or sys.stdout, f"training run '{cfg.name}'")
    return train_dir


def eval_processes(cfg: EvalConfig, default: int = 1) -> int:
    """How many processes evaluate: the eval config's ``num_processes``, else the job's GPUs (a Slurm
    job sets ``VRFT_EVAL_PROCESSES``), else ``default`` (the run's); on GPUs at most one per visible GPU.
    """
    job = os.environ.get(EVAL_PROCESSES_ENV, "")
    n = cfg.num_processes or (int(job) if job.isdigit() else 0) or default or 1
    if n > 1 and detect_device(cfg.device) == "cuda":
        import torch

        visible = torch.cuda.device_count()
        if 0 < visible < n:
            print(f"[vrft] eval '{cfg.name}': {visible} GPU(s) visible, evaluating in {visible} process(es)")
            n = visible
    return n


def launch_evaluation(config, num_processes: int, stream=None, **overrides) -> dict:
    """Evaluate in ``num_processes`` processes with accelerate; return the metrics.

    The resolved eval config goes to ``<eval_dir>/launch.yaml``; the children share the batches and
    the main one writes the eval folder, as one process would (:mod:`vrft_lib.evaluate`).
    """
    cfg = load_eval_config(config, **overrides)
    out = cfg.eval_dir
    if is_done(out):
        return evaluate(cfg)  # a finished evaluation: its metrics, read in this process
    make_dirs(out)
    eval_yaml = out / "launch.yaml"
    dump_yaml(cfg.to_dict(), eval_yaml)  # the children count themselves (vrft_lib.parallel)
    device = detect_device(cfg.device)
    cmd = launch_argv(num_processes, "vrft_lib.evaluate", eval_yaml, cpu=device == "cpu")
    stream_command(cmd, child_env(device, num_processes), stream or sys.stdout, f"evaluation '{cfg.name}'")
    return read_json(out / "metrics.json")


def evaluate_run(config, default_processes: int = 1, stream=None, **overrides) -> dict:
    """Evaluate in this process, or under accelerate when more than one process is asked for (the
    eval config's ``num_processes``, else ``default_processes``: the run's)."""
    cfg = load_eval_config(config, **overrides)
    n = eval_processes(cfg, default_processes)
    if n > 1:
        return launch_evaluation(cfg, n, stream=stream)
    return evaluate(cfg)


def train_run(config, **overrides) -> Path:
    """Train in this process, or under accelerate when the run asks for several processes."""
    cfg = load_run_config(config, **overrides)
    if cfg.num_processes > 1:
        return launch_training(cfg)
    return train(cfg)

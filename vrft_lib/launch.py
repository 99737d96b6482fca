"""Run training in a child process under ``accelerate launch`` and stream its log.

One process trains in the calling process (a notebook kernel, a script). More than one process
(``num_processes > 1`` in the run config) launches::

    accelerate launch [--config_file CFG] --num_processes N [--cpu] -m vrft_lib.train RUN.yaml

and prints the child's output line by line as it comes, so a notebook cell shows the live log.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .config import RunConfig, detect_device, load_run_config
from .errors import ConfigError, VrftError
from .runfolder import dump_yaml
from .train import train


class LaunchError(VrftError, RuntimeError):
    """A launched training process failed."""


def accelerate_command(cfg: RunConfig, run_yaml: str | os.PathLike) -> list[str]:
    """The ``accelerate launch`` command line for a run (no GPU needed to build it).

    >>> cfg = load_run_config({"name": "x", "method": "sft", "num_processes": 2, "device": "cpu"})
    >>> " ".join(accelerate_command(cfg, "run.yaml")[3:])
    '--num_processes 2 --num_machines 1 --mixed_precision no --dynamo_backend no --multi_gpu -m vrft_lib.train run.yaml'

    ``--multi_gpu`` is accelerate's torchrun launcher; on a CPU machine the processes join a gloo
    group (the run config's ``device: cpu``), which is how the tests run two CPU processes.
    """
    cmd = [sys.executable, "-m", "accelerate.commands.launch"]
    if cfg.accelerate_config:
        path = Path(cfg.accelerate_config)
        if not path.exists():
            raise ConfigError(
                f"run '{cfg.name}'.accelerate_config: file '{path}' does not exist. Use one of "
                "params/accelerate/*.yaml or your own accelerate config."
            )
        cmd += ["--config_file", str(path)]
    cmd += ["--num_processes", str(cfg.num_processes)]
    if not cfg.accelerate_config:
        cmd += ["--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
        if cfg.num_processes > 1:
            cmd += ["--multi_gpu"]
    cmd += ["-m", "vrft_lib.train", str(run_yaml)]
    return cmd


def launch_training(config, stream=None, **overrides) -> Path:
    """Train a run in ``num_processes`` processes with accelerate; return its train folder.

    The resolved run config is written to ``<train_dir>/launch.yaml`` and handed to the child.
    """
    cfg = load_run_config(config, **overrides)
    train_dir = cfg.train_dir
    train_dir.mkdir(parents=True, exist_ok=True)
    run_yaml = train_dir / "launch.yaml"
    dump_yaml(cfg.to_dict(), run_yaml)
    cmd = accelerate_command(cfg, run_yaml)
    stream = stream or sys.stdout
    print("[vrft] " + " ".join(cmd), file=stream, flush=True)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    if detect_device(cfg.device) == "cpu":
        env["ACCELERATE_USE_CPU"] = "true"
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, bufsize=1) as proc:
        tail: list[str] = []
        for line in proc.stdout:
            print(line, end="", file=stream, flush=True)
            tail = (tail + [line])[-30:]
        code = proc.wait()
    if code != 0:
        raise LaunchError(
            f"training run '{cfg.name}' failed in accelerate launch (exit code {code}); "
            f"its last lines:\n{''.join(tail)}"
        )
    return train_dir


def train_run(config, **overrides) -> Path:
    """Train in this process, or under accelerate when the run asks for several processes."""
    cfg = load_run_config(config, **overrides)
    if cfg.num_processes > 1:
        return launch_training(cfg)
    return train(cfg)

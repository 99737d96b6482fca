"""Work shared by the processes of an ``accelerate launch``: which part each process does, and the
main process gathering the results back in order.

An evaluation launched as ``accelerate launch --multi_gpu --num_processes N -m vrft_lib.evaluate``
(on a CPU with ``ACCELERATE_USE_CPU=true``: a gloo group) deals its generation batches out like
cards: batch ``k`` of the one-process order goes to process ``k mod N``. Each batch keeps exactly the
requests, hence the padding, it has in one process, so greedy decoding gives the same responses in
any number of processes. The main process gathers every process's results with accelerate's
``gather_object`` and puts them back in request order.

Outside a launch (no ``WORLD_SIZE`` above 1 in the environment) everything here is the one-process
case and imports nothing heavy.
"""

from __future__ import annotations

import os
import sys

from .errors import VrftError

EXPECTED_PROCESSES_ENV = "VRFT_NUM_PROCESSES"  # set by vrft_lib.launch: how many processes it asked for
EVAL_PROCESSES_ENV = "VRFT_EVAL_PROCESSES"  # set in a Slurm job: how many processes its evaluation uses


class WorldSizeError(VrftError, RuntimeError):
    """A launch started a different number of processes than it asked for."""


SIZE_VARS = ("WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE")  # torchrun, MPI


def leave_process_group() -> None:
    """Destroy this process's process group, if it joined one, before the interpreter shuts down.

    A process of a launch that exits with its gloo group still alive can abort (SIGABRT) while the
    interpreter is torn down: gloo's worker threads release tensors that need the GIL. PyTorch's own
    shutdown advice is to call ``destroy_process_group()`` at the end of every process's main; the
    launched entry points (``vrft_lib.train``, ``vrft_lib.evaluate``) do, whatever their outcome.
    A process that never imported ``torch.distributed`` joined nothing, and nothing is imported.
    """
    dist = sys.modules.get("torch.distributed")
    if dist is not None and dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def launched_world_size() -> int:
    """The number of processes of the launch this process belongs to (1 outside a launch)."""
    for var in SIZE_VARS:
        value = os.environ.get(var, "")
        if value.isdigit():
            return max(1, int(value))
    return 1


class Processes:
    """This process's place among the launch's processes: ``index``, ``count``, ``is_main``, ``device``.

    ``Processes(device="cpu")`` outside a launch is one process on ``device``; inside one it wraps
    accelerate's ``PartialState`` (which joins the process group: gloo on a CPU, NCCL on GPUs).

    >>> p = Processes("cpu"); (p.index, p.count, p.is_main, p.device)
    (0, 1, True, 'cpu')
    >>> p.run_batches(lambda b: [(q.upper(), 1) for q in b], ["a", "b", "c"], [2, 0, 1], 2, lambda q, t, n: t)
    [(2, 'C'), (0, 'A'), (1, 'B')]
    """

    def __init__(self, device: str = "cpu"):
        self.state = None
        self.index, self.count, self.device = 0, 1, device
        if launched_world_size() > 1:
            from accelerate import PartialState

            self.state = PartialState(cpu=device == "cpu")
            self.index, self.count = self.state.process_index, self.state.num_processes
            self.device = str(self.state.device)
        check_world_size(self.count)

    @property
    def is_main(self) -> bool:
        return self.index == 0

    def run_batches(self, generate, requests, order, batch_size, score, groups=None, progress=None) -> list:
        """``(request index, score(request, text, n_tokens))`` for this process's batches of ``order``.

        ``generate(list of requests)`` returns ``(text, n_tokens)`` per request. The batches are one
        process's (``batch_size`` consecutive requests of ``order``) dealt out to the processes, or
        to ``groups`` groups of processes (process ``index * groups // count``'s group), so a batch
        holds the same requests and padding whatever the number of processes."""
        groups = groups or self.count
        batches = deal_batches(order, batch_size, groups, self.index * groups // self.count)
        if progress is not None:
            progress.reset(total=sum(len(b) for b in batches))
        mine = []
        for idx in batches:
            outs = generate([requests[i] for i in idx])
            mine += [(i, score(requests[i], text, n)) for i, (text, n) in zip(idx, outs)]
            if progress is not None:
                progress.update(len(idx))
        if progress is not None:
            progress.close()
        return mine

    def gather(self, items: list) -> list:
        """Every process's ``items`` concatenated, on the main process (``[]`` elsewhere)."""
        if self.state is None:
            return list(items)
        from accelerate.utils import gather_object

        everything = gather_object(list(items))
        return everything if self.is_main else []

    def broadcast(self, obj):
        """The main process's ``obj``, on every process."""
        if self.state is None:
            return obj
        from accelerate.utils import broadcast_object_list

        return broadcast_object_list([obj], from_process=0)[0]

    def wait(self) -> None:
        """A barrier: returns when every process has reached it."""
        if self.state is not None:
            self.state.wait_for_everyone()


def deal_batches(order: list, batch_size: int, count: int, index: int) -> list[list]:
    """Batches of ``batch_size`` consecutive items of ``order``; batch ``k`` belongs to ``k mod count``.

    >>> deal_batches(list(range(10)), 3, 2, 0), deal_batches(list(range(10)), 3, 2, 1)
    ([[0, 1, 2], [6, 7, 8]], [[3, 4, 5], [9]])
    """
    if batch_size < 1 or count < 1 or not 0 <= index < count:
        raise ValueError(f"batch_size {batch_size}, count {count}, index {index}")
    all_batches = [order[s : s + batch_size] for s in range(0, len(order), batch_size)]
    return all_batches[index::count]


def vllm_engine_args(tensor_parallel_size: int, num_processes: int) -> dict:
    """vLLM's parallel arguments for ``num_processes`` launched processes (1: not launched): one engine
    per group of ``tensor_parallel_size`` processes, joined to the launch (vLLM's ``external_launcher``,
    as TRL's colocate mode), or in one process an engine over ``tensor_parallel_size`` GPUs.

    >>> vllm_engine_args(2, 1)
    {'tensor_parallel_size': 2}
    >>> vllm_engine_args(2, 8)
    {'tensor_parallel_size': 2, 'distributed_executor_backend': 'external_launcher'}
    """
    args = {"tensor_parallel_size": int(tensor_parallel_size)}
    if num_processes > 1:
        args["distributed_executor_backend"] = "external_launcher"
    return args


def check_world_size(count: int) -> None:
    """Fail when the launch asked for a different number of processes than started.

    ``accelerate launch --num_processes 2`` without ``--multi_gpu`` on a machine without GPUs starts
    ONE process and says nothing; :mod:`vrft_lib.launch` sets ``VRFT_NUM_PROCESSES`` so that this
    mistake stops the run instead of silently halving its work.

    >>> check_world_size(1)
    """
    env = os.environ
    if (
        count == 1
        and env.get("MASTER_ADDR")  # accelerate's plain launcher was asked for more than one process ...
        and env.get("ACCELERATE_MIXED_PRECISION")  # (set by every accelerate launch)
        and not any(env.get(v) for v in SIZE_VARS)  # ... and started this one alone, outside MPI
    ):
        raise WorldSizeError(
            "`accelerate launch --num_processes N` started ONE process: on a machine without GPUs it runs "
            "several only with --multi_gpu (its torchrun launcher; with ACCELERATE_USE_CPU=true the "
            "processes join a gloo group). Add --multi_gpu, or use vrft_lib.launch, which passes it."
        )
    wanted = env.get(EXPECTED_PROCESSES_ENV)
    if wanted and wanted.isdigit() and int(wanted) != count:
        raise WorldSizeError(
            f"the launch asked for {wanted} processes but {count} started. On a machine without GPUs, "
            "`accelerate launch` runs several processes only with --multi_gpu (its torchrun launcher) and "
            "ACCELERATE_USE_CPU=true; vrft_lib.launch passes both."
        )

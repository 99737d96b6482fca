"""How the kit starts the notebook kernels that papermill drives (a run's notebook, the report),
and where their connection files live (:func:`private_kernel_dir`).

Over TCP, ipykernel warns at every start that the connection is not encrypted (it carries code and
outputs in plain text on the loopback interface). ``VRFT_KERNEL_TRANSPORT=ipc`` makes the kit's kernels
talk to their manager over IPC instead (Unix domain sockets named ``kernel-ipc-N`` in the working
folder), so the warning does not apply. TCP stays the default: kernels started side by side in one
folder share those socket names, and in the test suite such kernels did not answer within papermill's
60 s start timeout.
On Windows, which has no IPC transport, TCP is always used.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

from traitlets import CaselessStrEnum

from .files import open_append


def kernel_manager_class(log_path=None):
    """The kernel manager class given to papermill (``kernel_manager_class=``): IPC where asked for.

    With ``log_path``, the kernel process's own output (its start-up warnings, such as the one about
    TCP, and anything written below Python's streams) is appended to that file instead of the console;
    what the notebook's cells print still goes into the notebook. The log is not opened through a link
    (:func:`vrft_lib.files.open_append`).
    """
    from jupyter_client.manager import AsyncKernelManager

    base = AsyncKernelManager
    if os.name != "nt" and os.environ.get("VRFT_KERNEL_TRANSPORT", "tcp") == "ipc":

        class IpcKernelManager(AsyncKernelManager):
            transport = CaselessStrEnum(["tcp", "ipc"], default_value="ipc", config=True)

        base = IpcKernelManager
    if log_path is None:
        return base

    class LoggedKernelManager(base):
        async def _async_launch_kernel(self, kernel_cmd, **kw):
            with open_append(log_path) as log:  # the kernel keeps its own copy of the descriptor
                kw.setdefault("stdout", log)
                kw.setdefault("stderr", log)
                await super()._async_launch_kernel(kernel_cmd, **kw)

    return LoggedKernelManager


KERNELS_PREFIX = "vrft-kernels-"


@contextlib.contextmanager
def private_kernel_dir():
    """Keep the kernel connection files (they hold the kernels' HMAC keys) of the notebooks run in the
    block in a new private folder, deleted after it, also when the block is interrupted.

    jupyter_client writes a connection file with ``tempfile.mkstemp`` (or into
    ``JUPYTER_RUNTIME_DIR``): both point at the folder for the block. A folder that a killed process
    (SIGKILL) left behind is deleted by the next one.
    """
    base = tempfile.gettempdir()
    for stale in Path(base).glob(f"{KERNELS_PREFIX}*-*"):
        pid = stale.name[len(KERNELS_PREFIX) :].split("-")[0]
        if pid.isdigit() and not _alive(int(pid)) and stale.stat().st_uid == os.getuid():
            shutil.rmtree(stale, ignore_errors=True)
    folder = tempfile.mkdtemp(prefix=f"{KERNELS_PREFIX}{os.getpid()}-", dir=base)
    before_env, before_dir = os.environ.get("JUPYTER_RUNTIME_DIR"), tempfile.tempdir
    os.environ["JUPYTER_RUNTIME_DIR"] = folder
    tempfile.tempdir = folder
    try:
        yield Path(folder)
    finally:
        tempfile.tempdir = before_dir
        if before_env is None:
            os.environ.pop("JUPYTER_RUNTIME_DIR", None)
        else:
            os.environ["JUPYTER_RUNTIME_DIR"] = before_env
        shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True

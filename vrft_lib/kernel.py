"""How the kit starts the notebook kernels that papermill drives (a run's notebook, the report).

Over TCP, ipykernel warns at every start that the connection is not encrypted (it carries code and
outputs in plain text on the loopback interface). ``VRFT_KERNEL_TRANSPORT=ipc`` makes the kit's kernels
talk to their manager over IPC instead (Unix domain sockets named ``kernel-ipc-N`` in the working
folder), so the warning does not apply. TCP stays the default: kernels started side by side in one
folder share those socket names, and in the test suite such kernels did not answer within papermill's
60 s start timeout.
On Windows, which has no IPC transport, TCP is always used.
"""

from __future__ import annotations

import os

from traitlets import CaselessStrEnum


def kernel_manager_class():
    """The kernel manager class given to papermill (``kernel_manager_class=``): IPC where available."""
    from jupyter_client.manager import AsyncKernelManager

    if os.name == "nt" or os.environ.get("VRFT_KERNEL_TRANSPORT", "tcp") != "ipc":
        return AsyncKernelManager

    class IpcKernelManager(AsyncKernelManager):
        transport = CaselessStrEnum(["tcp", "ipc"], default_value="ipc", config=True)

    return IpcKernelManager

"""How the kit starts the notebook kernels that papermill drives (a run's notebook, the report).

Over TCP, ipykernel warns at every start that the connection is not encrypted (it carries code and
outputs in plain text on the loopback interface). The kernels the kit starts talk to their manager
over IPC instead (Unix domain sockets under Jupyter's runtime folder, readable by the user only), so
the warning does not apply and is not printed. On Windows, which has no IPC transport, TCP stays.
"""

from __future__ import annotations

import os

from traitlets import CaselessStrEnum


def kernel_manager_class():
    """The kernel manager class given to papermill (``kernel_manager_class=``): IPC where available."""
    from jupyter_client.manager import AsyncKernelManager

    if os.name == "nt":
        return AsyncKernelManager

    class IpcKernelManager(AsyncKernelManager):
        transport = CaselessStrEnum(["tcp", "ipc"], default_value="ipc", config=True)

    return IpcKernelManager

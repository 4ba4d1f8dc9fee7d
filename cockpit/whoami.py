"""Who this process acts as: its user and the host's short name, spelled one way for the journal, the locks and
every face."""

from __future__ import annotations

import getpass
import os
import socket
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cockpit.core.events import Actor


def whoami(role: str) -> Actor:
    """This process's user and host (`vm`, not `vm.example.com`), acting as `role`: one spelling, so
    `cockpit kill` journals the same `alice@bastion` the captain's screen and the locks show."""
    from cockpit.core.events import Actor

    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # a uid with no passwd entry and no $USER (a container)
        user = str(os.getuid())
    return Actor(user=user, host=socket.gethostname().split(".")[0], role=role)

"""Kernel limits of the Docker host that a class of systemd containers runs into.

Every PC's systemd, journald, dbus, firewalld and dovecot hold inotify instances, all counted against
root on the host: about 7 per PC, while Linux allows 128 per user by default, so a class of more than
about 15 PCs fails to boot (systemd exits, the container restarts). labsim raises the limit when it
runs as root on the Docker host, and says so; otherwise it stops before creating anything and gives
the command that fixes it.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import EngineError

INOTIFY_INSTANCES = Path("/proc/sys/fs/inotify/max_user_instances")
PER_PC = 8
RESERVE = 64


def _local_engine() -> bool:
    host = os.environ.get("DOCKER_HOST", "")
    return host == "" or host.startswith("unix://")


def ensure_inotify_instances(total_pcs: int) -> str | None:
    """Make sure ``total_pcs`` PCs can boot; returns what was changed (for the user), or None."""
    if not _local_engine() or not INOTIFY_INSTANCES.exists():
        return None
    current = int(INOTIFY_INSTANCES.read_text().strip())
    needed = PER_PC * total_pcs + RESERVE
    if current >= needed:
        return None
    wanted = max(needed, 1024)
    if os.geteuid() == 0:
        try:
            INOTIFY_INSTANCES.write_text(f"{wanted}\n")
            return f"raised fs.inotify.max_user_instances from {current} to {wanted} ({total_pcs} PCs need about {needed})"
        except OSError:
            pass
    raise EngineError(
        f"{total_pcs} PCs need about {needed} inotify instances, the host allows {current} "
        f"(fs.inotify.max_user_instances); raise it: sudo sysctl -w fs.inotify.max_user_instances={wanted}"
    )

"""Kernel limits of the Docker host that a class of systemd containers runs into.

- inotify instances: every PC's systemd, journald, dbus, firewalld and dovecot hold some, all counted
  against root on the host (about 7 per PC; Linux allows 128 per user by default), so more than about
  15 PCs fail to boot (systemd exits, the container restarts).
- the ARP (neighbour) table: its size limit is shared by every network namespace of the host, and each
  PC that talks to each classmate holds an entry for it: about N² entries, past the default 1024 at
  about 30 PCs, after which connections between PCs time out ("neighbor table overflow").

labsim raises these limits when it runs as root on the Docker host, and says so; otherwise it stops
before creating anything and gives the command that fixes it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .errors import EngineError

PROC_SYS = Path("/proc/sys")


@dataclass(frozen=True)
class Limit:
    name: str  # sysctl name
    needed: int
    floor: int  # when raising, raise at least to this

    @property
    def path(self) -> Path:
        return PROC_SYS / self.name.replace(".", "/")


def limits_for(total_pcs: int) -> list[Limit]:
    """The host limits ``total_pcs`` PCs (over all labs) need."""
    hosts = total_pcs + 2
    neighbours = hosts * hosts + 256
    return [
        Limit("fs.inotify.max_user_instances", 8 * total_pcs + 64, 1024),
        Limit("net.ipv4.neigh.default.gc_thresh2", neighbours, 4096),
        Limit("net.ipv4.neigh.default.gc_thresh3", 2 * neighbours, 8192),
    ]


def _local_engine() -> bool:
    host = os.environ.get("DOCKER_HOST", "")
    return host == "" or host.startswith("unix://")


def ensure_host_limits(total_pcs: int) -> list[str]:
    """Make sure ``total_pcs`` PCs can boot and reach each other; returns what was changed, for the user."""
    if not _local_engine():
        return []
    changed: list[str] = []
    for limit in limits_for(total_pcs):
        if not limit.path.exists():
            continue
        current = int(limit.path.read_text().split()[0])
        if current >= limit.needed:
            continue
        wanted = max(limit.needed, limit.floor)
        if os.geteuid() == 0:
            try:
                limit.path.write_text(f"{wanted}\n")
                changed.append(f"raised {limit.name} from {current} to {wanted} for {total_pcs} PCs")
                continue
            except OSError:
                pass
        raise EngineError(
            f"{total_pcs} PCs need {limit.name} >= {limit.needed}, the host has {current}; "
            f"raise it: sudo sysctl -w {limit.name}={wanted}"
        )
    return changed

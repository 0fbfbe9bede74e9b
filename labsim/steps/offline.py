"""`stage: configured` without a round trip per command: the configuration steps (2, 3 and 5)
applied to a PC's files after it is created and before it first boots (step 6, the students' mutt
configuration, is written by the PC itself at first boot, once their accounts exist: see `first_boot_files`).

The same step data and the same line edits as `labsim apply`, on the same stock files; the
firewall part writes what `firewall-cmd --permanent` writes (the zone file, from the stock zone),
which firewalld then also loads as its runtime configuration at boot; `systemctl enable` is the
symlink systemctl makes. When the PC boots, Postfix, Dovecot and firewalld start in the state the
report's commands leave them in, so nothing needs restarting. `labsim check` verifies it all.
"""

from __future__ import annotations

import os
import threading
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..engine import LabEngine
from ..hosts import pop_server, smtp_server
from ..profiles import DistroProfile
from .catalog import muttrc, steps_for
from .edits import apply_edit

OFFLINE_STEPS = (2, 3, 5)
ABSENT = ".absent"  # beside a kept path: the image has no such file


def add_to_zone(zone_xml: str, services: list[str], ports: list[tuple[str, str]]) -> str:
    """The zone file after `firewall-cmd --permanent --add-service/--add-port` (idempotent)."""
    root = ET.fromstring(zone_xml)
    have_services = {e.get("name") for e in root.findall("service")}
    have_ports = {(e.get("port"), e.get("protocol")) for e in root.findall("port")}
    anchor = len([e for e in root if e.tag in ("short", "description", "service")])
    for service in services:
        if service not in have_services:
            element = ET.Element("service", {"name": service})
            root.insert(anchor, element)
            anchor += 1
    for port, protocol in ports:
        if (port, protocol) not in have_ports:
            root.insert(anchor, ET.Element("port", {"port": port, "protocol": protocol}))
            anchor += 1
    ET.indent(root, "  ")
    # As firewalld writes it: <service name="smtp"/>, no space before the slash.
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode").replace(" />", "/>") + "\n"


def _firewall_change(args: tuple[str, ...]) -> tuple[list[str], list[tuple[str, str]]]:
    services: list[str] = []
    ports: list[tuple[str, str]] = []
    items = list(args)
    i = 0
    while i < len(items):
        arg = items[i]
        if arg == "--add-service":
            services.append(items[i + 1])
            i += 2
            continue
        if arg.startswith("--add-service="):
            services.append(arg.split("=", 1)[1])
        elif arg.startswith("--add-port="):
            port, _, protocol = arg.split("=", 1)[1].partition("/")
            ports.append((port, protocol))
        i += 1
    return services, ports


class StockFiles:
    """The stock files of one image, read from the first PC created from it and reused for the others
    (every PC of a lab starts from the same image, so their stock files are the same). Concurrent
    readers of a path wait for the first read instead of each reading it (each read is an archive
    operation, a process of the engine). With a ``keep`` directory (the image's entry in labsim's
    cache, see cache.py) a file read once is read from there by every later `up` of that image."""

    def __init__(self, engine: LabEngine, keep: Path | None = None) -> None:
        self.engine = engine
        self.keep = keep
        self._cache: dict[str, bytes | None] = {}
        self._lock = threading.Lock()

    def read(self, container: str, path: str) -> bytes | None:
        with self._lock:
            if path not in self._cache:
                known, data = self._kept(path)
                if not known:
                    data = self.engine.get_file(container, path)
                    self._keep(path, data)
                self._cache[path] = data
            return self._cache[path]

    def _kept(self, path: str) -> tuple[bool, bytes | None]:
        """(True, data) for a kept file, (True, None) for one the image is known not to have."""
        if self.keep is None:
            return False, None
        target = self.keep / path.lstrip("/")
        try:
            return True, target.read_bytes()
        except OSError:
            return target.with_name(target.name + ABSENT).exists(), None

    def _keep(self, path: str, data: bytes | None) -> None:
        """Store what was read from the image; a cache that cannot be written is only a slower `up`."""
        if self.keep is None:
            return
        target = self.keep / path.lstrip("/")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            if data is None:
                target.with_name(target.name + ABSENT).touch()
                return
            tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, target)
        except OSError:
            pass


@dataclass
class PreparedFiles:
    """What `stage: configured` puts into a PC before its first boot, in one archive operation."""

    files: dict[str, tuple[bytes, int]] = field(default_factory=dict)  # path -> (data, mode)
    symlinks: dict[str, str] = field(default_factory=dict)  # path -> target


def configured_files(
    container: str, profile: DistroProfile, context: dict[str, str], read: Callable[[str, str], bytes | None],
) -> PreparedFiles:
    """Steps 2, 3 and 5 as files: the edited stock files, the firewalld zone, `systemctl enable`'s link.
    ``read(container, path)`` gives a stock file of the PC's image (a :class:`StockFiles` shares the reads)."""
    steps = steps_for(profile)
    prepared = PreparedFiles()
    services: list[str] = []
    ports: list[tuple[str, str]] = []
    edits_by_path: dict[str, list] = {}
    for number in OFFLINE_STEPS:
        step = steps[number]
        s, p = _firewall_change(step.firewall)
        services += s
        ports += p
        for edit in step.edits:
            edits_by_path.setdefault(edit.path, []).append(edit.render(context))
    for path, edits in edits_by_path.items():
        raw = read(container, path)
        if raw is None:
            raise FileNotFoundError(f"{container}: {path} is missing from the configured image")
        text = raw.decode()
        for edit in edits:
            text, _ = apply_edit(text, edit)
        prepared.files[path] = (text.encode(), 0o644)
    zone = read(container, profile.paths["firewalld_zone"]) or read(container, profile.paths["firewalld_zone_stock"])
    if zone is None:
        raise FileNotFoundError(f"{container}: firewalld's public zone is missing")
    prepared.files[profile.paths["firewalld_zone"]] = (add_to_zone(zone.decode(), services, ports).encode(), 0o644)
    for verb, unit in steps[5].systemctl:
        if verb == "enable":
            prepared.symlinks[f"/etc/systemd/system/multi-user.target.wants/{unit}"] = f"{profile.paths['unit_dir']}/{unit}"
    return prepared


def first_boot_files(users: list[str], fqdn: str, subdomain: str, domain: str) -> dict[str, str]:
    """Step 6 for `labsim-init`: each student's ~/.muttrc (path -> content), put in place once at first
    boot, owned by the student (whose account only exists then); a file the student already has is kept."""
    smtp_name, pop_name = smtp_server(subdomain, domain), pop_server(subdomain, domain)
    return {f"/home/{user}/.muttrc": muttrc(user, fqdn, smtp_name, pop_name) for user in users}

"""A lab's private state on the host: the students' passwords. One file per lab, mode 0600."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .topology import LabPlan

_ALPHABET = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def state_dir() -> Path:
    """$LABSIM_STATE_DIR, else $XDG_STATE_HOME/labsim, else ~/.local/state/labsim."""
    if os.environ.get("LABSIM_STATE_DIR"):
        return Path(os.environ["LABSIM_STATE_DIR"])
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "labsim"


def state_path(lab: str) -> Path:
    return state_dir() / f"{lab}.json"


def generate_password(length: int = 12) -> str:
    """A random password a student can type (no look-alike characters)."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def load_passwords(lab: str) -> dict[str, dict[str, str]]:
    """host -> user -> password, as kept for the lab (empty when none)."""
    path = state_path(lab)
    try:
        return json.loads(path.read_text()).get("passwords", {})
    except FileNotFoundError:
        return {}


def save_passwords(lab: str, passwords: dict[str, dict[str, str]]) -> Path:
    """Write the lab's passwords, readable by the owner only."""
    path = state_path(lab)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"lab": lab, "passwords": passwords}, f, indent=1, sort_keys=True)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path


def remove_state(lab: str) -> None:
    state_path(lab).unlink(missing_ok=True)


def resolve_passwords(plan: "LabPlan") -> dict[str, dict[str, str]]:
    """Passwords for every user of the plan: the topology's, else the kept ones, else new random ones."""
    kept = load_passwords(plan.name)
    result: dict[str, dict[str, str]] = {}
    for pc in plan.pcs:
        result[pc.name] = {}
        for user in pc.users:
            result[pc.name][user.name] = user.password or kept.get(pc.name, {}).get(user.name) or generate_password()
    return result

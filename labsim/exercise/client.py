"""Run the in-PC agent (agent.py) in a lab container and read its JSON answer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..engine import LabEngine
from ..errors import LabsimError
from ..hosts import LabHost

_AGENT = (Path(__file__).with_name("agent.py")).read_text()


def run_client(engine: LabEngine, host: LabHost, user: str | None, args: dict[str, Any]) -> dict[str, Any]:
    """Run one agent operation on ``host`` as ``user`` (root when None)."""
    env = {"HOME": f"/home/{user}", "USER": user} if user else None
    result = engine.exec(host.container, ["python3", "-c", _AGENT, json.dumps(args)], user=user, env=env)
    try:
        return json.loads(result.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        raise LabsimError(
            f"{host.name}: the mail client did not run ({(result.stderr or result.stdout).strip()[-200:] or 'no output'})"
        ) from None

"""`labsim exercise dig HOST`: step 1 from a PC, plus the classmates' names."""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import labels
from ..engine import LabEngine
from ..hosts import LabHost, lab_hosts
from .client import run_client


@dataclass
class DigReport:
    host: str
    ok: bool
    answers: list[dict] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def dig_exercise(engine: LabEngine, host: LabHost) -> DigReport:
    """The report's three queries, then pcM.sM, smtp.sM and pop.sM of every classmate, from ``host``."""
    names = host.lab_names
    for peer in lab_hosts(engine, host.lab):
        if peer.role == labels.ROLE_PC and peer.name != host.name:
            names += [peer.fqdn, peer.smtp_name, peer.pop_name]
    result = run_client(engine, host, None, {"op": "dig", "queries": [[n + ".", "A"] for n in names]})
    answers = result["answers"]
    failed = [a["name"] for a in answers if not a["answer"]]
    return DigReport(host.name, not failed, answers, failed)

"""Waiting for hosts to be ready: by asking systemd (which waits for its own boot) and the services, no fixed sleeps."""

from __future__ import annotations

from dataclasses import dataclass

from .engine import LabEngine
from .errors import LabsimError


@dataclass(frozen=True)
class Readiness:
    host: str
    ready: bool
    facts: dict[str, str]
    detail: str = ""


def parse_facts(line: str) -> dict[str, str]:
    """`state=running postfix=active` -> dict."""
    facts = {}
    for item in line.split():
        key, _, value = item.partition("=")
        facts[key] = value
    return facts


def wait_pc(
    engine: LabEngine, container: str, host: str, need_pop3: bool, names: list[str] | None = None, timeout: int = 180,
) -> Readiness:
    """Block until the PC has booted (systemd running) and Postfix (and Dovecot when needed) answer, and
    ``names`` resolve through the lab's DNS on the PC (step 1); all in one exec."""
    names = [n.rstrip(".") + "." for n in names or []]
    result = engine.exec(container, ["/usr/local/sbin/labsim-ready", str(timeout), *names])
    facts = parse_facts(result.stdout.strip())
    problems = []
    if facts.get("state") != "running":
        failed = engine.exec(container, ["systemctl", "--failed", "--no-legend", "--plain"]).stdout.split()
        units = [u for u in failed if u.endswith((".service", ".socket", ".mount"))]
        problems.append(f"systemd is {facts.get('state') or 'not answering'}" + (f" (failed: {', '.join(units)})" if units else ""))
    if facts.get("postfix") != "active" or facts.get("smtp") != "answering":
        problems.append("postfix is not answering on port 25")
    if facts.get("firewalld") != "active":
        problems.append("firewalld is not active")
    if need_pop3 and facts.get("pop3") != "answering":
        problems.append("dovecot is not answering on port 110")
    if names and facts.get("dns") != "ok":
        missing = (facts.get("dns") or "").removeprefix("missing:") or ", ".join(names)
        problems.append(f"`dig {missing.split(',')[0]}` gives no answer on the PC; the lab's DNS lacks it or does not answer")
    detail = "; ".join(problems)
    return Readiness(host, not problems, facts, detail)


def wait_dns(engine: LabEngine, container: str, host: str, domain: str, timeout: int = 60) -> Readiness:
    """Block until named answers for the domain's SOA on the DNS host itself."""
    script = (
        f'end=$((SECONDS+{timeout})); while [ $SECONDS -lt $end ]; do '
        f'dig +short +time=1 +tries=1 @127.0.0.1 {domain}. SOA | grep -q . && exit 0; sleep 0.1; done; exit 1'
    )
    result = engine.exec(container, ["bash", "-c", script])
    if result.ok:
        return Readiness(host, True, {"named": "answering"})
    return Readiness(host, False, {"named": "not answering"}, "named does not answer; see `docker logs " + container + "`")


def require_ready(results: list[Readiness]) -> None:
    """Raise with every host that is not ready, in one line."""
    bad = [r for r in results if not r.ready]
    if bad:
        shown = "; ".join(f"{r.host}: {r.detail}" for r in bad[:5])
        more = f" (and {len(bad) - 5} more)" if len(bad) > 5 else ""
        raise LabsimError(f"hosts did not become ready: {shown}{more}")


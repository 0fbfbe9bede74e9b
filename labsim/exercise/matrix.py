"""`labsim exercise matrix`: every ordered pair of PCs exchanges a message; each is verified by POP3."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

from ..engine import LabEngine
from ..hosts import LabHost
from .client import run_client
from .send import _message


@dataclass
class MatrixReport:
    pcs: list[str]
    sent: int = 0
    delivered: int = 0
    lost: int = 0
    seconds: float = 0.0
    per_second: float = 0.0
    pairs: dict[str, dict[str, bool]] = field(default_factory=dict)  # src -> dst -> delivered
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.sent > 0 and self.lost == 0 and self.delivered == self.sent


def matrix_exercise(engine: LabEngine, pcs: list[LabHost], password_of, timeout: float = 120.0, workers: int = 16) -> MatrixReport:
    """Submit one message for every ordered pair (one SMTP session per sender), then collect by POP3 per receiver."""
    from ..parallel import parallel

    report = MatrixReport([p.name for p in pcs])
    started = time.monotonic()
    run = uuid.uuid4().hex[:10]
    expected: dict[str, list[str]] = {p.name: [] for p in pcs}
    pair_of: dict[str, tuple[str, str]] = {}
    batches: dict[str, list[dict]] = {}
    for src in pcs:
        user = src.users[0]
        batch = []
        for dst in pcs:
            if dst.name == src.name:
                continue
            mid = f"<labsim.matrix.{run}.{src.name}.{dst.name}@{src.fqdn}>"
            text = _message(src.address_of(user), dst.address_of(dst.users[0]), f"matrix {src.name} -> {dst.name}",
                            f"matrix run {run}", mid, None)
            batch.append({"id": mid, "mail_from": src.address_of(user), "rcpt_to": dst.address_of(dst.users[0]), "message": text})
            expected[dst.name].append(mid)
            pair_of[mid] = (src.name, dst.name)
        batches[src.name] = batch
        report.pairs[src.name] = {d.name: False for d in pcs if d.name != src.name}
    report.sent = len(pair_of)

    def submit(src: LabHost) -> dict:
        return run_client(engine, src, src.users[0], {
            "op": "smtp_batch", "server": src.smtp_name, "helo": src.fqdn, "messages": batches[src.name],
        })

    for src, result in zip(pcs, parallel(pcs, submit, workers)):
        if not result.get("ok"):
            report.errors.append(f"{src.name}: submission: {result.get('error') or result.get('refused', [])[:1]}")

    def collect(dst: LabHost) -> dict:
        user = dst.users[0]
        return run_client(engine, dst, user, {
            "op": "pop3_collect", "server": dst.pop_name, "user": user, "password": password_of(dst.name, user),
            "message_ids": expected[dst.name], "timeout": timeout,
        })

    for dst, result in zip(pcs, parallel(pcs, collect, workers)):
        for mid in result.get("found", []):
            src_name, dst_name = pair_of[mid]
            report.pairs[src_name][dst_name] = True
        if result.get("error") and not result.get("ok"):
            report.errors.append(f"{dst.name}: POP3: {result['error']}")
    report.delivered = sum(v for row in report.pairs.values() for v in row.values())
    report.lost = report.sent - report.delivered
    report.seconds = time.monotonic() - started
    report.per_second = report.delivered / report.seconds if report.seconds else 0.0
    return report

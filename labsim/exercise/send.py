"""`labsim exercise send`: the report's step 7 made visible, hop by hop, verified both ways."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from email.utils import format_datetime
from datetime import datetime, timezone

from ..engine import LabEngine
from ..errors import LabsimError
from ..hosts import LabHost
from .client import run_client


@dataclass
class Hop:
    """One hop of the exchange: what was done, on which host, what was said, how long it took."""

    name: str
    host: str
    ok: bool
    seconds: float
    lines: list[str] = field(default_factory=list)
    data: dict = field(default_factory=dict)


@dataclass
class SendReport:
    src: str
    dst: str
    ok: bool = False
    seconds: float = 0.0
    message_id: str = ""
    reply_message_id: str = ""
    hops: list[Hop] = field(default_factory=list)
    failure: str = ""
    fix: str = ""
    submit_to_maildir: float | None = None


class ExchangeFailed(Exception):
    def __init__(self, failure: str, fix: str = "") -> None:
        super().__init__(failure)
        self.failure = failure
        self.fix = fix


def _message(src_addr: str, dst_addr: str, subject: str, body: str, message_id: str, in_reply_to: str | None) -> str:
    headers = [
        f"From: {src_addr}",
        f"To: {dst_addr}",
        f"Subject: {subject}",
        f"Date: {format_datetime(datetime.now(timezone.utc))}",
        f"Message-ID: {message_id}",
    ]
    if in_reply_to:
        headers += [f"In-Reply-To: {in_reply_to}", f"References: {in_reply_to}"]
    headers += ["MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8"]
    return "\n".join(headers) + "\n\n" + body + "\n"


def _dns_hop(src: LabHost, dst: LabHost, result: dict) -> Hop:
    """What the sender's resolver said: its own SMTP server's name, then MX and A of the recipient's host."""
    lines = []
    answers = result["answers"]
    for a in answers:
        shown = "; ".join(a["answer"]) if a["answer"] else f"(no {a['type']} record, {a['status']})"
        lines.append(f"dig {a['name']} {a['type']}: {shown}")
    hop = Hop("dns", src.name, True, sum(a["seconds"] for a in answers), lines, {"answers": answers})
    if not answers[1]["answer"]:
        lines.append(f"no MX for {dst.fqdn}: Postfix falls back to its A record")
    if not answers[0]["answer"]:
        hop.ok = False
        hop.data["failure"] = ExchangeFailed(f"{src.smtp_name} does not resolve from {src.name} ({answers[0]['status']})",
                                             "check the lab's DNS: labsim status; labsim exercise dig " + src.name)
    elif not answers[1]["answer"] and not answers[2]["answer"]:
        hop.ok = False
        hop.data["failure"] = ExchangeFailed(f"{dst.fqdn} does not resolve from {src.name} ({answers[2]['status']})",
                                             "check the lab's DNS zone (labsim exercise dig " + src.name + ")")
    return hop


def _smtp_fix(host: LabHost, result: dict) -> ExchangeFailed:
    kind, error = result.get("kind"), result.get("error", "")
    if kind == "refused":
        return ExchangeFailed(f"{host.smtp_name}:25 refused: postfix on {host.name} does not listen on its address",
                              f"on {host.name}: inet_interfaces = all in main.cf, then systemctl restart postfix.service (step 3)")
    if kind == "no_route":
        return ExchangeFailed(f"{host.smtp_name}:25 rejected by {host.name}'s firewall",
                              f"on {host.name}: firewall-cmd --add-service smtp (step 2)")
    if kind == "resolve":
        return ExchangeFailed(f"{host.smtp_name} does not resolve", "check the lab's DNS (labsim exercise dig " + host.name + ")")
    if kind == "rejected":
        return ExchangeFailed(f"{host.name}'s postfix refused `{result.get('command', '')}`: {error}",
                              f"on {host.name}: mynetworks = <lab subnet>, 127.0.0.0/8 in main.cf (step 3)")
    return ExchangeFailed(f"SMTP to {host.smtp_name} failed: {error}", f"see `labsim exec {host.name} -- journalctl -u postfix`")


def _relay_fix(src: LabHost, dst: LabHost, status: str, lines: list[str]) -> ExchangeFailed:
    last = lines[-1] if lines else ""
    reason = last.split("status=", 1)[-1] if "status=" in last else "no delivery attempt logged"
    if "Connection refused" in last:
        return ExchangeFailed(
            f"deferred: {dst.name}:25 connection refused (postfix on {dst.name} is stopped or listens on localhost only); "
            f"the message waits in {src.name}'s queue",
            f"on {dst.name}: systemctl start postfix.service, and inet_interfaces = all in main.cf (step 3); "
            f"then `labsim exercise flush {src.name}`")
    if "No route to host" in last:
        return ExchangeFailed(f"deferred: {dst.name}:25 refused by {dst.name}'s firewall",
                              f"run firewall-cmd --add-service smtp on {dst.name} (step 2)")
    if "not found" in last or "Host or domain name" in last:
        return ExchangeFailed(f"deferred: {dst.fqdn} does not resolve from {src.name}", "check the lab's DNS server (labsim status)")
    if status == "bounced":
        return ExchangeFailed(f"bounced by {dst.name}: {reason}",
                              f"on {dst.name}: mydestination must include $myhostname (step 3) and the user must exist")
    if status == "timeout":
        return ExchangeFailed(f"no delivery from {src.name} to {dst.name} within the timeout (queued)",
                              f"look at `labsim exec {src.name} -- mailq`")
    return ExchangeFailed(f"{status}: {reason}", f"look at `labsim exec {src.name} -- mailq`")


def _pop_fix(host: LabHost, user: str, result: dict) -> ExchangeFailed:
    kind, error = result.get("kind"), result.get("error", "")
    if kind == "refused":
        return ExchangeFailed(f"{host.pop_name}:110 refused: dovecot on {host.name} is not running",
                              f"on {host.name}: systemctl start dovecot.service (step 5)")
    if kind == "no_route":
        return ExchangeFailed(f"{host.pop_name}:110 rejected by {host.name}'s firewall",
                              f"on {host.name}: firewall-cmd --add-port=110/tcp (step 5)")
    if kind == "resolve":
        return ExchangeFailed(f"{host.pop_name} does not resolve", "check the lab's DNS zone (labsim exercise dig " + host.name + ")")
    if kind == "login":
        if "plaintext" in error.lower() or "ssl" in error.lower() or "tls" in error.lower():
            return ExchangeFailed(f"{user} POP3 login refused: {error}",
                                  f"check disable_plaintext_auth = no and ssl = no on {host.name} (step 5)")
        return ExchangeFailed(f"{user} POP3 login refused: {error}",
                              "check the password in `labsim status --users` and disable_plaintext_auth (step 5)")
    if kind == "missing":
        return ExchangeFailed(f"delivered, but {user}'s mailbox on {host.name} does not show it by POP3",
                              f"on {host.name}: mail_location = maildir:~/Maildir (step 5) and home_mailbox = Maildir/ (step 3)")
    return ExchangeFailed(f"POP3 on {host.pop_name} failed: {error}", f"see `labsim exec {host.name} -- journalctl -u dovecot`")


@dataclass
class _Leg:
    """One message of the exchange: who sends it to whom, and the message itself."""

    src: LabHost
    src_user: str
    dst: LabHost
    dst_user: str
    password: str  # the recipient's, for POP3
    subject: str
    body: str
    message_id: str
    text: str
    since: str

    @property
    def src_addr(self) -> str:
        return self.src.address_of(self.src_user)

    @property
    def dst_addr(self) -> str:
        return self.dst.address_of(self.dst_user)


def _leg(src: LabHost, src_user: str, dst: LabHost, dst_user: str, password: str, subject: str, body: str,
         in_reply_to: str | None) -> _Leg:
    message_id = f"<labsim.{uuid.uuid4().hex[:16]}@{src.fqdn}>"
    text = _message(src.address_of(src_user), dst.address_of(dst_user), subject, body, message_id, in_reply_to)
    since = datetime.now().strftime("%Y-%m-%d %H:%M:%S")
    return _Leg(src, src_user, dst, dst_user, password, subject, body, message_id, text, since)


def _submit_args(leg: _Leg, timeout: float) -> dict:
    """The sender's side, one agent process: dig, the SMTP submission as the student, Postfix's relay."""
    return {
        "op": "submit", "user": leg.src_user,
        "queries": [[leg.src.smtp_name + ".", "A"], [leg.dst.fqdn + ".", "MX"], [leg.dst.fqdn + ".", "A"]],
        "smtp": {"server": leg.src.smtp_name, "helo": leg.src.fqdn, "mail_from": leg.src_addr, "rcpt_to": leg.dst_addr,
                 "message": leg.text, "timeout": min(timeout, 10)},
        "follow": {"rcpt": leg.dst_addr, "timeout": timeout, "since": leg.since},
    }


def _receive_args(leg: _Leg, timeout: float) -> dict:
    """The recipient's side, one agent process: wait in the journal for the Message-ID, then POP3."""
    return {
        "op": "receive", "user": leg.dst_user,
        "follow": {"message_id": leg.message_id, "rcpt": leg.dst_addr, "timeout": timeout, "since": leg.since},
        "pop3": {"server": leg.dst.pop_name, "user": leg.dst_user, "password": leg.password, "message_id": leg.message_id,
                 "wait": 5, "timeout": min(timeout, 10)},
    }


def _stop_waiting(engine: LabEngine, host: LabHost, message_id: str) -> None:
    """Stop an agent on ``host`` that waits for ``message_id`` (nothing will arrive); best effort: the
    container may be stopped, which may be what failed."""
    try:
        engine.exec(host.container, ["pkill", "-f", message_id.strip("<>").split("@")[0]])
    except LabsimError:
        pass


def _one_way(engine: LabEngine, report: SendReport, leg: _Leg, timeout: float) -> None:
    """leg.src sends to leg.dst, verified by POP3 on dst: both sides at once, one process each."""
    report.message_id = leg.message_id
    with ThreadPoolExecutor(max_workers=1) as pool:
        receiving = pool.submit(run_client, engine, leg.dst, None, _receive_args(leg, timeout))
        try:
            _record_submit(report, leg, run_client(engine, leg.src, None, _submit_args(leg, timeout)))
        except BaseException:
            _stop_waiting(engine, leg.dst, leg.message_id)
            receiving.exception()
            raise
        _record_receive(report, leg, receiving.result())


def _there_and_back(engine: LabEngine, report: SendReport, out: _Leg, back: _Leg, timeout: float) -> None:
    """The message and its reply with three agent processes started at once: the sender submits; the
    recipient waits for the message, reads it by POP3 and only then submits the reply; the sender
    waits for the reply. Each process reports its hops; they are checked in the order they happened."""
    report.message_id, report.reply_message_id = out.message_id, back.message_id
    recipient_args = dict(_receive_args(out, timeout), then=_submit_args(back, timeout))
    with ThreadPoolExecutor(max_workers=2) as pool:
        recipient = pool.submit(run_client, engine, out.dst, None, recipient_args)
        sender_waits = pool.submit(run_client, engine, back.dst, None, _receive_args(back, 2 * timeout))
        try:
            try:
                _record_submit(report, out, run_client(engine, out.src, None, _submit_args(out, timeout)))
            except BaseException:
                _stop_waiting(engine, out.dst, out.message_id)
                raise
            side = recipient.result()
            _record_receive(report, out, side)
            if "then" not in side:
                raise ExchangeFailed(f"{out.dst.name} read the message but did not reply", "run the exercise again")
            _record_submit(report, back, side["then"])
            _record_receive(report, back, sender_waits.result())
        except BaseException:
            _stop_waiting(engine, back.dst, back.message_id)
            for future in (recipient, sender_waits):
                future.exception()
            raise


def _record_submit(report: SendReport, leg: _Leg, side: dict) -> None:
    """The sender's hops (dns, smtp, relay) from its agent's answer; the first failed one raises."""
    src, dst = leg.src, leg.dst
    dns_hop = _dns_hop(src, dst, side["dig"])
    report.hops.append(dns_hop)
    if not dns_hop.ok:
        raise dns_hop.data.pop("failure")
    submit = side["smtp"]
    hop = Hop("smtp", src.name, submit["ok"], submit["timings"].get("total", 0.0),
              [f"{'C:' if d == 'C' else 'S:'} {line}" for d, line, _ in submit["dialogue"]], submit)
    hop.lines.insert(0, f"{leg.src_user}@{src.name} -> {src.smtp_name} ({submit.get('address', '?')}):25")
    report.hops.append(hop)
    if not submit["ok"]:
        raise _smtp_fix(src, submit)
    relay = side["follow"]
    report.hops.append(Hop("relay", src.name, relay["ok"], _log_span(relay["lines"]), relay["lines"], relay))
    if not relay["ok"]:
        raise _relay_fix(src, dst, relay["status"], relay["lines"])


def _record_receive(report: SendReport, leg: _Leg, side: dict) -> None:
    """The recipient's hops (delivery, pop3) from its agent's answer, and the message as it arrived."""
    dst, dst_user = leg.dst, leg.dst_user
    relay = next(h for h in reversed(report.hops) if h.name == "relay" and h.host == leg.src.name).data
    delivery = side["follow"]
    dst_qid = delivery.get("qid") or ""
    report.hops.append(Hop("delivery", dst.name, delivery["ok"], _log_span(delivery["lines"]), delivery["lines"], delivery))
    if not delivery["ok"]:
        raise ExchangeFailed(f"{dst.name} accepted the message (queue id {dst_qid}) but did not deliver it: {delivery['status']}",
                             f"on {dst.name}: home_mailbox = Maildir/ (step 3); look at journalctl -u postfix")
    delivered_at = _log_time(delivery["lines"][-1]) if delivery["lines"] else None
    submitted_at = _log_time(relay["lines"][0]) if relay["lines"] else None
    if report.submit_to_maildir is None and delivered_at is not None and submitted_at is not None:
        report.submit_to_maildir = max(0.0, delivered_at - submitted_at)
    pop = side["pop3"]
    pop_lines = [f"{dst_user}@{dst.name} -> {dst.pop_name} ({pop.get('address', '?')}):110"]
    pop_lines += [f"{'C:' if d == 'C' else 'S:'} {line}" for d, line, _ in pop["dialogue"]]
    if pop["ok"]:
        pop_lines.append(
            "note: POP3 without TLS carries USER/PASS and the message in clear text: anyone who can capture this "
            "connection (tcpdump -A port 110) reads the password; POP3S (995) is the encrypted form"
        )
    report.hops.append(Hop("pop3", dst.name, pop["ok"], pop["timings"].get("total", 0.0), pop_lines, pop))
    if not pop["ok"]:
        raise _pop_fix(dst, dst_user, pop)
    _verify(pop["message"], leg.message_id, leg.src_addr, leg.dst_addr, leg.subject, leg.body)


def _log_span(lines: list[str]) -> float:
    """Seconds between the first and the last of some journal lines (the hop's own time, from Postfix's log)."""
    times = [t for t in (_log_time(line) for line in lines) if t is not None]
    return round(max(times) - min(times), 4) if len(times) > 1 else 0.0


def _log_time(line: str) -> float | None:
    """Seconds since the epoch of a journal line in short-iso-precise format."""
    try:
        return datetime.fromisoformat(line.split()[0]).timestamp()
    except (ValueError, IndexError):
        return None


def _verify(message: str, message_id: str, src_addr: str, dst_addr: str, subject: str, body: str) -> None:
    from email import message_from_string

    msg = message_from_string(message)
    problems = []
    if message_id not in (msg.get("Message-ID") or ""):
        problems.append("Message-ID")
    if src_addr not in (msg.get("From") or ""):
        problems.append("From")
    if dst_addr not in (msg.get("To") or ""):
        problems.append("To")
    if (msg.get("Subject") or "") != subject:
        problems.append("Subject")
    if body.strip() not in (msg.get_payload() or ""):
        problems.append("body")
    if problems:
        raise ExchangeFailed(f"the message arrived altered: {', '.join(problems)} differ", "compare with `labsim exec ... cat ~/Maildir/new/*`")


def send_exercise(
    engine: LabEngine, src: LabHost, src_user: str, dst: LabHost, dst_user: str, password_of, reply: bool = True,
    timeout: float = 30.0,
) -> SendReport:
    """The report's exchange: src -> dst verified by POP3 on dst, then (unless no reply) dst -> src."""
    report = SendReport(src=src.address_of(src_user), dst=dst.address_of(dst_user))
    started = time.monotonic()
    try:
        subject = f"step 7: hello from {src_user}"
        body = f"Hello {dst_user}, this is {src_user} on {src.fqdn}. (labsim exercise)"
        out = _leg(src, src_user, dst, dst_user, password_of(dst.name, dst_user), subject, body, None)
        if reply:
            back = _leg(dst, dst_user, src, src_user, password_of(src.name, src_user), "Re: " + subject,
                        f"Hello {src_user}, got your message. {dst_user} on {dst.fqdn}.", out.message_id)
            _there_and_back(engine, report, out, back, timeout)
        else:
            _one_way(engine, report, out, timeout)
        report.ok = True
    except ExchangeFailed as failure:
        report.failure, report.fix = failure.failure, failure.fix
    report.seconds = time.monotonic() - started
    return report


def exchange_with_neighbour(engine: LabEngine, host: LabHost, password_of) -> str:
    """Step 7 for `labsim apply`: exchange a message with the next PC of the lab."""
    from .. import labels
    from ..errors import CheckFailed
    from ..hosts import lab_hosts
    from ..state import load_passwords

    pcs = [h for h in lab_hosts(engine, host.lab) if h.role == labels.ROLE_PC]
    if len(pcs) < 2:
        raise CheckFailed(f"{host.name}: step 7 needs a classmate; the lab has one PC")
    index = next(i for i, p in enumerate(pcs) if p.name == host.name)
    peer = pcs[(index + 1) % len(pcs)]
    if password_of is None:
        kept = load_passwords(host.lab)
        password_of = lambda h, u: kept.get(h, {}).get(u, "")  # noqa: E731
    report = send_exercise(engine, host, host.users[0], peer, peer.users[0], password_of)
    if not report.ok:
        raise CheckFailed(f"{host.name}: step 7 exchange with {peer.name} failed: {report.failure}; fix: {report.fix}")
    return f"exchanged mail with {peer.name} ({report.seconds:.2f} s)"

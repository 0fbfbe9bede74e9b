"""CLI of the exercises: `labsim exercise send|dig|matrix|flush` (parse, call, render)."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from typing import List, Optional

import typer
from rich.console import Console

from . import labels
from .engine import default_engine
from .errors import CheckFailed, UserInputError
from .hosts import find_host, lab_hosts, parse_user_at_host, select_lab
from .state import load_passwords

console = Console(width=None if sys.stdout.isatty() else 200, highlight=False)
exercise_app = typer.Typer(help="Mail exchange exercises: what really crosses the network.", no_args_is_help=True)
LabOption = typer.Option(None, "--lab", "-l", help="the lab (default: the only one up)")


def _lab(lab: str | None):
    engine = default_engine()
    engine.ping()
    return engine, select_lab(engine, lab)


def _password_of(lab: str):
    kept = load_passwords(lab)
    return lambda host, user: kept.get(host, {}).get(user, "")


@exercise_app.command()
def send(
    src: str = typer.Argument(..., help="sender: pc5 (its first user) or user5@pc5"),
    dst: str = typer.Argument(..., help="recipient: pc6 or user6@pc6"),
    no_reply: bool = typer.Option(False, "--no-reply", help="one way only"),
    as_json: bool = typer.Option(False, "--json", help="machine-readable transcript"),
    timeout: float = typer.Option(30.0, "--timeout", min=1, help="seconds to wait for each hop"),
    lab: Optional[str] = LabOption,
) -> None:
    """Send a message from SRC to DST through both Postfixes, fetch it by POP3, and reply (the report's step 7)."""
    from .exercise.send import send_exercise

    engine, name = _lab(lab)
    hosts = lab_hosts(engine, name)
    src_host, src_user = parse_user_at_host(engine, name, src, hosts)
    dst_host, dst_user = parse_user_at_host(engine, name, dst, hosts)
    if (src_host.name, src_user) == (dst_host.name, dst_user):
        raise UserInputError(f"send {src} {dst}: sender and recipient are the same mailbox; name a classmate, e.g. pc6")
    report = send_exercise(engine, src_host, src_user, dst_host, dst_user, _password_of(name), reply=not no_reply, timeout=timeout)
    if as_json:
        print(json.dumps(asdict(report), indent=2))
    else:
        for hop in report.hops:
            mark = "[green]✓[/]" if hop.ok else "[red]✗[/]"
            console.rule(f"{mark} {hop.name} on {hop.host} ({hop.seconds:.3f} s)", align="left")
            for line in hop.lines:
                style = "cyan" if line.startswith("C:") else ("" if line.startswith("S:") else "dim")
                console.print(f"[{style}]{line}[/]" if style else line, markup=True, soft_wrap=True)
        if report.ok:
            console.print(
                f"[bold green]verified[/]: {report.src} -> {report.dst}" + ("" if no_reply else " and the reply back")
                + f" in {report.seconds:.2f} s (submission to Maildir {report.submit_to_maildir or 0:.2f} s)"
            )
    if not report.ok:
        raise CheckFailed(f"{report.failure}; fix: {report.fix}")


@exercise_app.command()
def dig(
    host: str = typer.Argument(..., help="the PC to ask from, e.g. pc5"),
    as_json: bool = typer.Option(False, "--json"),
    lab: Optional[str] = LabOption,
) -> None:
    """Step 1 from HOST: the report's three names and the classmates' names, as dig answers them."""
    from .exercise.dig import dig_exercise

    engine, name = _lab(lab)
    target = find_host(engine, name, host)
    report = dig_exercise(engine, target)
    if as_json:
        print(json.dumps(asdict(report), indent=2))
    else:
        for a in report.answers:
            console.print(f"$ dig {a['name']}   ({a['status']})")
            for line in a["answer"] or [";; no answer"]:
                console.print(f"  {line}")
        console.print(f"{'[green]pass[/]' if report.ok else '[red]fail[/]'}: {len(report.answers) - len(report.failed)}/{len(report.answers)} names resolve from {target.name}")
    if not report.ok:
        raise CheckFailed(f"{len(report.failed)} name(s) do not resolve from {target.name}: {', '.join(report.failed[:5])}")


@exercise_app.command()
def matrix(
    pcs: Optional[str] = typer.Option(None, "--pcs", help="comma-separated PCs (default: all)"),
    as_json: bool = typer.Option(False, "--json"),
    timeout: float = typer.Option(120.0, "--timeout", min=1, help="seconds to wait for delivery"),
    lab: Optional[str] = LabOption,
) -> None:
    """Every ordered pair of PCs exchanges a message; each is checked by POP3."""
    from .exercise.matrix import matrix_exercise

    engine, name = _lab(lab)
    if pcs:
        targets = [find_host(engine, name, p.strip()) for p in pcs.split(",") if p.strip()]
    else:
        targets = [h for h in lab_hosts(engine, name) if h.role == labels.ROLE_PC]
    if len({t.name for t in targets}) < 2:
        raise UserInputError("the matrix needs at least two different PCs (--pcs pc1,pc2,...)")
    report = matrix_exercise(engine, targets, _password_of(name), timeout=timeout)
    if as_json:
        print(json.dumps(asdict(report), indent=2))
    else:
        if len(targets) <= 20:
            from rich.table import Table

            table = Table(title="delivered (row: sender, column: recipient)")
            table.add_column("")
            for t in targets:
                table.add_column(t.name, justify="center")
            for src in targets:
                row = report.pairs[src.name]
                table.add_row(src.name, *["·" if d.name == src.name else ("[green]✓[/]" if row[d.name] else "[red]✗[/]") for d in targets])
            console.print(table)
        for error in report.errors[:10]:
            console.print(f"[red]{error}[/]")
    summary = (f"{report.delivered}/{report.sent} delivered, {report.lost} lost in {report.seconds:.1f} s "
               f"({report.per_second:.1f} messages/s)")
    if not as_json:
        console.print(summary)
    if not report.ok:
        raise CheckFailed(summary)


@exercise_app.command()
def flush(
    hosts: List[str] = typer.Argument(None, help="PCs whose mail queue to flush (default: all)"),
    lab: Optional[str] = LabOption,
) -> None:
    """Retry deferred mail now (postqueue -f), e.g. after a classmate's PC came back."""
    engine, name = _lab(lab)
    targets = [find_host(engine, name, h) for h in hosts] if hosts else [h for h in lab_hosts(engine, name) if h.role == labels.ROLE_PC]
    for t in targets:
        queued = engine.exec(t.container, ["sh", "-c", "postqueue -j | wc -l"]).stdout.strip()
        result = engine.exec(t.container, ["postqueue", "-f"])
        if not result.ok:
            raise CheckFailed(f"{t.name}: postqueue -f failed: {result.stderr.strip()}")
        console.print(f"{t.name}: flushed: {queued} message(s) were queued, delivery retried now (see `labsim exec {t.name} -- mailq`)")

"""CLI of the lab's steps: `labsim apply` and `labsim check` (parse, call, render)."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from typing import List, Optional

import typer
from rich.console import Console

from .engine import default_engine
from .errors import CheckFailed, UserInputError
from .hosts import LabHost, find_host, lab_hosts, select_lab
from .state import load_passwords
from .steps.catalog import STEP_TITLES, parse_steps

console = Console(width=None if sys.stdout.isatty() else 200)


def _targets(hosts: list[str], all_: bool, lab: str | None) -> tuple[object, str, list[LabHost]]:
    engine = default_engine()
    engine.ping()
    name = select_lab(engine, lab)
    if all_ and hosts:
        raise UserInputError("give host names or --all, not both")
    if all_:
        targets = [h for h in lab_hosts(engine, name) if h.role == "pc"]
    elif hosts:
        targets = [find_host(engine, name, h) for h in hosts]
        for t in targets:
            if t.role != "pc":
                raise UserInputError(f"'{t.name}' is the lab's DNS server; the steps are done on PCs")
    else:
        raise UserInputError("name the PCs (e.g. `pc5 pc6`) or give --all")
    return engine, name, targets


def register(app: typer.Typer) -> None:
    """Add `apply` and `check` to the main app."""

    @app.command()
    def apply(
        hosts: List[str] = typer.Argument(None, help="PCs to apply to, e.g. pc5 pc6"),
        all_: bool = typer.Option(False, "--all", help="every PC of the lab"),
        step: Optional[int] = typer.Option(None, "--step", help="one step, 1-7"),
        steps: Optional[str] = typer.Option(None, "--steps", help="a range of steps, e.g. 1-7"),
        lab: Optional[str] = typer.Option(None, "--lab", "-l", help="the lab (default: the only one up)"),
    ) -> None:
        """Perform steps exactly as the report did (vi edits, firewall-cmd, systemctl); a done step changes nothing."""
        from .steps.apply import apply_steps

        numbers = parse_steps(step, steps)
        engine, name, targets = _targets(hosts or [], all_, lab)
        passwords = load_passwords(name)
        outcomes = apply_steps(engine, targets, numbers, password_of=lambda h, u: passwords.get(h, {}).get(u, ""))
        for outcome in outcomes:
            for s in outcome.steps:
                what = "; ".join(s.actions) if s.actions else "already done"
                mark = "[yellow]changed[/]" if s.changed else "[green]unchanged[/]"
                console.print(f"{outcome.host} step {s.step} ({STEP_TITLES[s.step]}): {mark}  {what}", highlight=False)

    @app.command()
    def check(
        hosts: List[str] = typer.Argument(None, help="PCs to check, e.g. pc5"),
        all_: bool = typer.Option(False, "--all", help="every PC of the lab (a class table)"),
        step: Optional[int] = typer.Option(None, "--step", help="only this step"),
        steps: Optional[str] = typer.Option(None, "--steps", help="a range of steps, e.g. 1-5"),
        as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
        lab: Optional[str] = typer.Option(None, "--lab", "-l", help="the lab (default: the only one up)"),
    ) -> None:
        """Grade steps on PCs by what is true on them; each failure says what is wrong and how to fix it."""
        from .steps.check import check_hosts

        numbers = parse_steps(step, steps)
        engine, name, targets = _targets(hosts or [], all_, lab)
        passwords = load_passwords(name)
        grades = check_hosts(engine, targets, numbers, password_of=lambda h, u: passwords.get(h, {}).get(u, ""))
        failed = sum(1 for g in grades for r in g.results if not r.ok)
        if as_json:
            print(json.dumps({"lab": name, "steps": list(numbers), "hosts": [asdict(g) for g in grades],
                              "passed": failed == 0}, indent=2))
        elif all_ or len(targets) > 3:
            from rich.table import Table

            table = Table(title=f"lab {name}: steps {numbers[0]}-{numbers[-1]}")
            table.add_column("PC")
            for n in numbers:
                table.add_column(f"{n} {STEP_TITLES[n]}", justify="center")
            for g in grades:
                table.add_row(g.host, *["[green]✓[/]" if g.step_ok(n) else "[red]✗[/]" for n in numbers])
            console.print(table)
            for g in grades:
                for r in g.results:
                    if not r.ok:
                        console.print(f"  {g.host} step {r.step}: {r.message}; fix: {r.fix}", highlight=False)
        else:
            for g in grades:
                for r in g.results:
                    mark = "[green]✓[/]" if r.ok else "[red]✗[/]"
                    line = f"{mark} {g.host} step {r.step} {r.name}: {r.message}"
                    if not r.ok and r.fix:
                        line += f"  → {r.fix}"
                    console.print(line, highlight=False)
        if failed:
            raise CheckFailed(f"{failed} check(s) failed on {sum(1 for g in grades if not g.ok)} PC(s)")

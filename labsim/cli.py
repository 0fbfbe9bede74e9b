"""The `labsim` command: parses, calls the library, renders. Nothing here knows Docker."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console

from .engine import LabEngine, default_engine
from .errors import LabsimError, UserInputError
from .hosts import find_host, select_lab
from .parallel import DEFAULT_WORKERS
from .progress import Progress
from .resources import default_topology

# The library's heavier modules (pydantic models, zone building) are imported by the commands that use
# them, so that `labsim exec` and `labsim exercise` start fast.

app = typer.Typer(
    help="labsim: the mail lab of a networking class as containers (one virtual PC per student, a BIND server).",
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
)
console = Console(width=None if sys.stdout.isatty() else 200)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 200)

LabOption = typer.Option(None, "--lab", "-l", help="the lab to act on (default: the only lab that is up)")


def _engine() -> LabEngine:
    engine = default_engine()
    engine.ping()
    return engine


class _ProgressView:
    """Renders library progress events as rich progress bars (one per phase) on stderr."""

    def __init__(self, quiet: bool = False) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress as RichProgress, TextColumn, TimeElapsedColumn

        self.quiet = quiet
        self.bar = RichProgress(
            TextColumn("{task.description:<10}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            TextColumn("{task.fields[last]}"), console=err_console, transient=False, disable=quiet,
        )
        self.tasks: dict[str, int] = {}

    def __enter__(self) -> "_ProgressView":
        self.bar.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.bar.__exit__(*exc)

    def __call__(self, event: Progress) -> None:
        if self.quiet:
            return
        if event.total:
            if event.phase not in self.tasks:
                self.tasks[event.phase] = self.bar.add_task(event.phase, total=event.total, last="")
            self.bar.update(self.tasks[event.phase], completed=event.done, last=f"{event.subject}: {event.message}"[:60])
        elif event.phase == "build":
            if event.message.startswith("Step "):
                self.bar.console.print(f"[dim]{event.subject}[/dim] {event.message[:100]}")
            elif event.message == "building":
                self.bar.console.print(f"building {event.subject} ...")
        else:
            self.bar.console.print(f"[bold]{event.phase}[/bold]: {event.subject} - {event.message}")


@app.command()
def up(
    topology: Optional[Path] = typer.Argument(None, help="topology file (default: the shipped 40-PC class)"),
    stage: Optional[str] = typer.Option(None, "--stage", help="initial | configured (overrides the topology)"),
    workers: int = typer.Option(DEFAULT_WORKERS, "--workers", min=1, max=64, help="containers created at once"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress display"),
) -> None:
    """Build what is missing, start the lab, return when every host is ready."""
    from . import lab as lab_ops
    from .topology import load_plan

    if stage is not None and stage not in ("initial", "configured"):
        raise UserInputError(f"--stage {stage}: unknown stage; use initial or configured")
    plan = load_plan(topology or default_topology())
    engine = _engine()
    try:
        with _ProgressView(quiet) as view:
            result = lab_ops.up(engine, plan, stage=stage, progress=view, workers=workers)
    except KeyboardInterrupt:
        raise LabsimError(
            f"interrupted: what this run of `up` created for lab {plan.name} was removed; run `labsim up` again", 130
        ) from None
    parts = [f"{len(result.created)} created"]
    if result.recreated:
        parts.append(f"{len(result.recreated)} recreated")
    if result.unchanged:
        parts.append(f"{len(result.unchanged)} unchanged")
    if result.removed:
        parts.append(f"{len(result.removed)} removed")
    console.print(
        f"lab [bold]{result.lab}[/bold] is up ({', '.join(parts)}; distro {result.distro}, stage {result.stage}) "
        f"in {result.seconds:.1f} s. Passwords: `labsim status --users`."
    )


@app.command()
def down(
    lab: Optional[str] = typer.Argument(None, help="the lab to remove (default: the only lab that is up)"),
    purge: bool = typer.Option(False, "--purge", help="also remove the lab's volumes (homes, mail queues) and passwords"),
) -> None:
    """Remove the lab's containers and network (found by label); --purge also its volumes."""
    from . import lab as lab_ops

    engine = _engine()
    result = lab_ops.down(engine, lab, purge=purge)
    extra = f", {len(result.volumes)} volumes" if purge else " (volumes kept; --purge removes them)"
    console.print(f"lab {result.lab} removed: {len(result.containers)} containers, network{extra} in {result.seconds:.1f} s")


@app.command()
def status(
    lab: Optional[str] = LabOption,
    as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
    users: bool = typer.Option(False, "--users", help="also show each PC's users and passwords"),
) -> None:
    """Table of the lab's hosts: FQDN, address, role, state, services."""
    from . import lab as lab_ops

    result = lab_ops.status(_engine(), lab, with_users=users)
    if as_json:
        print(json.dumps(asdict(result), indent=2))
        return
    from rich.table import Table

    table = Table(title=f"lab {result.lab}: {result.domain} on {result.subnet} ({result.distro}, {result.stage})")
    for column in ("host", "FQDN", "address", "role", "state", "services"):
        table.add_column(column)
    if users:
        table.add_column("users (password)")
    for h in result.hosts:
        svc = " ".join(f"{k}:{'[green]' if v in ('active', 'answering') else '[red]'}{v}[/]" for k, v in h.services.items())
        row = [h.name, h.fqdn, h.address, h.role, h.state, svc]
        if users:
            row.append(", ".join(f"{u['name']} ({u.get('password', '')})" for u in h.users))
        table.add_row(*row)
    console.print(table)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def exec(  # noqa: A001 - the command is called exec
    host: str = typer.Argument(..., help="host name, e.g. pc5"),
    command: List[str] = typer.Argument(..., help="the command and its arguments (after --)"),
    user: Optional[str] = typer.Option(None, "--user", "-u", help="run as this user instead of root"),
    lab: Optional[str] = LabOption,
) -> None:
    """Run a command on a host; its output streams through and its exit code is passed on."""
    engine = _engine()
    target = find_host(engine, select_lab(engine, lab), host)
    env = {"HOME": f"/home/{user}", "USER": user, "LOGNAME": user} if user else None
    workdir = f"/home/{user}" if user else None

    def show(out: bytes | None, err: bytes | None) -> None:
        if out:
            sys.stdout.buffer.write(out)
            sys.stdout.flush()
        if err:
            sys.stderr.buffer.write(err)
            sys.stderr.flush()

    code = engine.exec_stream(target.container, list(command), user=user, env=env, workdir=workdir, on_output=show)
    raise typer.Exit(code)


@app.command()
def shell(
    host: str = typer.Argument(..., help="host name, e.g. pc5"),
    user: Optional[str] = typer.Option(None, "--user", "-u", help="log in as this student instead of root"),
    lab: Optional[str] = LabOption,
) -> None:
    """An interactive login shell on a PC, as root or as a student."""
    engine = _engine()
    target = find_host(engine, select_lab(engine, lab), host)
    if user and user not in target.users:
        raise UserInputError(f"{target.name} has no user '{user}' (users: {', '.join(target.users) or 'none'})")
    env = {"TERM": os.environ.get("TERM", "xterm")}
    if user:
        env.update(HOME=f"/home/{user}", USER=user, LOGNAME=user)
    argv = engine.interactive_command(target.container, ["bash", "-l"], user, f"/home/{user}" if user else "/root", env)
    os.execv(argv[0], argv)


@app.command()
def build(
    distro: str = typer.Option("auto", "--distro", help="auto | centos | debian"),
    stage: Optional[str] = typer.Option(None, "--stage", help="build only this stage's PC image"),
    force: bool = typer.Option(False, "--force", help="rebuild every step, without the build cache, even when up to date"),
) -> None:
    """Build the images ahead of time (base, DNS, PC per stage)."""
    from .images import choose_distro, ensure_images

    if distro not in ("auto", "centos", "debian"):
        raise UserInputError(f"--distro {distro}: unknown distro; use auto, centos or debian")
    engine = _engine()
    choice = choose_distro(engine, distro)
    stages = (stage,) if stage else ("initial", "configured")
    with _ProgressView() as view:
        view(Progress("distro", choice.profile.name, choice.reason))
        results = ensure_images(engine, choice.profile, stages, force=force, progress=view)
    from rich.table import Table

    table = Table(title=f"images ({choice.profile.name})")
    table.add_column("image")
    table.add_column("built now")
    table.add_column("size", justify="right")
    for r in results:
        table.add_row(r.tag, "yes" if r.built else "up to date", f"{r.size / 2**20:.0f} MiB")
    console.print(table)


@app.command()
def schema() -> None:
    """Print the JSON Schema of the topology format (for editors)."""
    from .topology import json_schema

    print(json.dumps(json_schema(), indent=2))


def _register_subcommands() -> None:
    from .cli_steps import register as register_steps

    register_steps(app)
    try:
        from .cli_exercise import exercise_app
    except ImportError:  # pragma: no cover - during development
        return
    app.add_typer(exercise_app, name="exercise")


def main() -> None:
    """Entry point: run the app, turning LabsimError into a one-line message and its exit code."""
    _register_subcommands()
    try:
        code = app(standalone_mode=False)  # click returns typer.Exit's code here instead of raising
        sys.exit(code if isinstance(code, int) else 0)
    except LabsimError as err:
        err_console.print(f"[bold red]error:[/bold red] {err}", highlight=False, soft_wrap=True)
        sys.exit(err.exit_code)
    except typer.Exit as exit_:
        sys.exit(exit_.exit_code)
    except KeyboardInterrupt:
        err_console.print("interrupted; what this command created was removed (run `labsim up` again to continue)")
        sys.exit(130)
    except Exception as err:  # click's usage errors (typer may vendor click, so match by shape)
        show, code = getattr(err, "show", None), getattr(err, "exit_code", None)
        if callable(show) and isinstance(code, int):
            show()
            sys.exit(code)
        if type(err).__name__ == "Abort":
            sys.exit(130)
        raise

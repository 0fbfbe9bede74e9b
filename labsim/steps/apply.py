"""`labsim apply`: perform steps on PCs exactly as the report did (vi edits, firewall-cmd, systemctl)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..engine import ExecResult, LabEngine
from ..errors import CheckFailed
from ..hosts import LabHost
from ..profiles import get_profile
from ..progress import Progress, ProgressFn, no_progress
from .catalog import Step, muttrc, steps_for


@dataclass
class StepOutcome:
    step: int
    changed: bool
    actions: list[str] = field(default_factory=list)


@dataclass
class HostOutcome:
    host: str
    steps: list[StepOutcome] = field(default_factory=list)


def lab_context(host: LabHost) -> dict[str, str]:
    """Values the edits take from the lab: this PC's FQDN, the lab's subnet."""
    return {"fqdn": host.fqdn, "subnet": host.subnet}


def _checked(engine: LabEngine, host: LabHost, argv: list[str], what: str) -> ExecResult:
    """Run a command on the PC; a failure raises with the command's last line of output."""
    result = engine.exec(host.container, argv)
    if not result.ok:
        detail = (result.stderr or result.stdout).strip().splitlines()[-1:] or [f"exit {result.exit_code}"]
        raise CheckFailed(f"{host.name}: {what} failed: {detail[0]}")
    return result


def _run(engine: LabEngine, host: LabHost, argv: list[str], what: str) -> str:
    return _checked(engine, host, argv, what).stdout


def _firewall(engine: LabEngine, host: LabHost, args: tuple[str, ...]) -> tuple[list[str], bool]:
    """The report's two calls, runtime then --permanent; changed unless firewall-cmd says ALREADY_ENABLED twice."""
    calls = [["firewall-cmd", *args], ["firewall-cmd", "--permanent", *args]]
    changed = False
    for argv in calls:
        result = _checked(engine, host, argv, " ".join(argv))
        changed = changed or "ALREADY_ENABLED" not in (result.stdout + result.stderr)
    return [" ".join(argv) for argv in calls], changed


def _edit_files(engine: LabEngine, host: LabHost, step: Step, context: dict[str, str]) -> list[str]:
    from .edits import apply_edit

    changed_files: list[str] = []
    by_path: dict[str, list] = {}
    for edit in step.edits:
        by_path.setdefault(edit.path, []).append(edit.render(context))
    for path, edits in by_path.items():
        raw = engine.get_file(host.container, path)
        if raw is None:
            raise CheckFailed(f"{host.name}: {path} does not exist (is the package of step {step.number - 1} installed?)")
        text = raw.decode()
        for edit in edits:
            text, _ = apply_edit(text, edit)
        if text != raw.decode():
            engine.put_files(host.container, {path: (text.encode(), 0o644)})
            changed_files.append(path)
    return changed_files


def apply_step(engine: LabEngine, host: LabHost, step_no: int, password_of=None) -> StepOutcome:
    """Do one step on one PC; a step already done changes nothing."""
    profile = get_profile(host.distro)
    step = steps_for(profile)[step_no]
    context = lab_context(host)
    outcome = StepOutcome(step_no, False)
    if step_no == 1:
        names = host.lab_names
        script = "; ".join(f'echo "{n}. $(dig +short {n}. | head -1)"' for n in names)
        answers = dict(line.split(" ", 1) if " " in line else (line, "") for line in _run(engine, host, ["sh", "-c", script], "dig").splitlines())
        for name in names:
            answer = answers.get(name + ".", "").strip()
            if not answer:
                raise CheckFailed(f"{host.name}: `dig {name}.` gives no answer; the lab's zone lacks it")
            outcome.actions.append(f"dig {name}. -> {answer}")
        return outcome
    if step_no == 2:
        calls, outcome.changed = _firewall(engine, host, step.firewall)
        outcome.actions += calls if outcome.changed else []
        return outcome
    if step_no == 3:
        changed = _edit_files(engine, host, step, context)
        active = engine.exec(host.container, ["systemctl", "is-active", "-q", "postfix"]).ok
        if changed or not active:
            _run(engine, host, ["systemctl", "restart", "postfix.service"], "systemctl restart postfix.service")
            outcome.actions += [f"edited {p}" for p in changed] + ["systemctl restart postfix.service"]
            outcome.changed = True
        return outcome
    if step_no == 4:
        query = [*profile.package_query, profile.dovecot_packages[-1]]
        installed = engine.exec(host.container, query)
        if installed.ok and "not-installed" not in installed.stdout and installed.stdout.strip() not in ("", "config-files"):
            return outcome
        _run(engine, host, list(profile.install_dovecot), " ".join(profile.install_dovecot))
        outcome.actions.append(" ".join(profile.install_dovecot))
        outcome.changed = True
        return outcome
    if step_no == 5:
        changed = _edit_files(engine, host, step, context)
        outcome.actions += [f"edited {p}" for p in changed]
        calls, fw_changed = _firewall(engine, host, step.firewall)
        outcome.actions += calls if fw_changed else []
        active = engine.exec(host.container, ["systemctl", "is-active", "-q", "dovecot"]).ok
        enabled = engine.exec(host.container, ["systemctl", "is-enabled", "-q", "dovecot"]).ok
        if changed and active:
            _run(engine, host, ["systemctl", "restart", "dovecot.service"], "systemctl restart dovecot.service")
            outcome.actions.append("systemctl restart dovecot.service")
        elif not active:
            _run(engine, host, ["systemctl", "start", "dovecot.service"], "systemctl start dovecot.service")
            outcome.actions.append("systemctl start dovecot.service")
        if not enabled:
            _run(engine, host, ["systemctl", "enable", "dovecot.service"], "systemctl enable dovecot.service")
            outcome.actions.append("systemctl enable dovecot.service")
        outcome.changed = bool(changed) or fw_changed or not active or not enabled
        return outcome
    if step_no == 6:
        for user in host.users:
            path = f"/home/{user}/.muttrc"
            wanted = muttrc(user, host.fqdn, host.smtp_name, host.pop_name).encode()
            if engine.get_file(host.container, path) == wanted:
                continue
            uid, gid = _run(engine, host, ["stat", "-c", "%u %g", f"/home/{user}"], f"stat /home/{user}").split()
            engine.put_files(host.container, {path: (wanted, 0o600)}, owner=(int(uid), int(gid)))
            outcome.actions.append(f"wrote {path}")
            outcome.changed = True
        return outcome
    if step_no == 7:
        from ..exercise.send import exchange_with_neighbour

        report = exchange_with_neighbour(engine, host, password_of)
        outcome.actions.append(report)
        outcome.changed = True
        return outcome
    raise ValueError(step_no)


def apply_steps(
    engine: LabEngine, hosts: list[LabHost], steps: tuple[int, ...], password_of=None,
    progress: ProgressFn = no_progress, workers: int = 8,
) -> list[HostOutcome]:
    """Apply ``steps`` in order on each host (hosts in parallel)."""
    from ..parallel import parallel

    done = [0]

    def one(host: LabHost) -> HostOutcome:
        outcome = HostOutcome(host.name)
        for number in steps:
            outcome.steps.append(apply_step(engine, host, number, password_of))
        done[0] += 1
        progress(Progress("apply", host.name, f"steps {steps[0]}-{steps[-1]}", done[0], len(hosts)))
        return outcome

    return parallel(hosts, one, workers)

"""`labsim check`: grade each step on each PC by what is true on the PC, with a hint that fixes it."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field

from ..engine import LabEngine
from ..hosts import LabHost
from ..profiles import get_profile
from .apply import lab_context
from .catalog import MUTT_SETTINGS, muttrc, steps_for
from .edits import edit_state


@dataclass
class CheckResult:
    step: int
    name: str
    ok: bool
    message: str
    fix: str = ""


@dataclass
class HostGrade:
    host: str
    results: list[CheckResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)

    def step_ok(self, step: int) -> bool:
        return all(r.ok for r in self.results if r.step == step)


def _facts_script(host: LabHost, names: list[str]) -> str:
    """One shell script that gathers everything the checks need (one exec per PC)."""
    q = shlex.quote
    lines = ["exec 2>/dev/null", "echo @@dig"]
    for name in names:
        lines.append(f"echo {q(name)} $(dig +short +time=2 +tries=1 {q(name + '.')} A | tr '\\n' ' ')")
    lines += [
        "echo @@fw_runtime", "firewall-cmd --list-all",
        "echo @@fw_permanent", "firewall-cmd --permanent --list-all",
        "echo @@postconf", "postconf myhostname myorigin inet_interfaces mydestination mynetworks home_mailbox",
        "echo @@listen", "ss -Hltn",
        "echo @@active", "for u in postfix dovecot firewalld; do echo $u $(systemctl is-active $u) $(systemctl is-enabled $u); done",
        "echo @@doveconf", "command -v doveconf >/dev/null && doveconf mail_location disable_plaintext_auth ssl",
        "echo @@ages",
        "now=$(date +%s)",
        "for pair in postfix:/var/spool/postfix/pid/master.pid dovecot:/run/dovecot/master.pid; do "
        "n=${pair%%:*}; f=${pair#*:}; [ -f \"$f\" ] && echo $n $(ps -o etimes= -p $(head -1 \"$f\" | tr -d ' ')); done",
        "for f in /etc/postfix/main.cf /etc/dovecot/conf.d/10-mail.conf /etc/dovecot/conf.d/10-auth.conf /etc/dovecot/conf.d/10-ssl.conf; do "
        "[ -f $f ] && echo $f $((now - $(stat -c %Y $f))); done",
        "echo @@end",
    ]
    return "\n".join(lines)


def _sections(text: str) -> dict[str, list[str]]:
    sections: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        if line.startswith("@@"):
            current = line[2:].strip()
            sections[current] = []
        elif current is not None and line.strip():
            sections[current].append(line.rstrip())
    return sections


def _kv(lines: list[str]) -> dict[str, str]:
    result = {}
    for line in lines:
        key, sep, value = line.partition("=")
        if sep:
            result[key.strip()] = value.strip()
    return result


def _firewall(lines: list[str]) -> tuple[set[str], set[str]]:
    services: set[str] = set()
    ports: set[str] = set()
    for line in lines:
        key, _, value = line.strip().partition(":")
        if key == "services":
            services = set(value.split())
        elif key == "ports":
            ports = set(value.split())
    return services, ports


def _norm(value: str) -> str:
    return " ".join(value.replace(",", ", ").split()).replace(" ,", ",")


class _Grader:
    def __init__(self, host: LabHost, steps: tuple[int, ...]) -> None:
        self.grade = HostGrade(host.name)
        self.steps = steps

    def add(self, step: int, name: str, ok: bool, message: str, fix: str = "") -> None:
        if step in self.steps:
            self.grade.results.append(CheckResult(step, name, ok, message, "" if ok else fix))


def _probe_port(engine: LabEngine, peer: LabHost, address: str, port: int) -> str:
    """From ``peer``: "open", "refused" (no listener), "filtered" (firewall REJECT) or "timeout"."""
    script = (
        f"out=$(timeout 4 bash -c '</dev/tcp/{address}/{port}' 2>&1); rc=$?; "
        "if [ $rc -eq 0 ]; then echo open; elif [ $rc -eq 124 ]; then echo timeout; "
        "else case \"$out\" in *refused*) echo refused;; *'No route'*|*unreachable*|*prohibited*) echo filtered;; *) echo \"error $out\";; esac; fi"
    )
    return engine.exec(peer.container, ["bash", "-c", script]).stdout.strip()


def _pop3_login(engine: LabEngine, host: LabHost, user: str, password: str) -> tuple[bool, str]:
    from ..exercise.client import run_client

    result = run_client(engine, host, user, {"op": "pop3", "server": host.pop_name, "user": user, "password": password,
                                             "message_id": None})
    if result.get("ok"):
        return True, f"POP3 login as {user} at {host.pop_name}:110 works ({result.get('count', 0)} messages)"
    return False, result.get("error", "POP3 login failed")


def check_host(engine: LabEngine, host: LabHost, peer: LabHost | None, steps: tuple[int, ...], password_of) -> HostGrade:
    """Grade ``steps`` on one PC. ``peer`` is a classmate's PC used for the checks across the network."""
    profile = get_profile(host.distro)
    catalog = steps_for(profile)
    context = lab_context(host)
    g = _Grader(host, steps)
    names = host.lab_names
    facts = _sections(engine.exec(host.container, ["bash", "-c", _facts_script(host, names)]).stdout)

    # 1. the report's three names resolve through the lab's DNS
    answers = {line.split()[0]: line.split()[1:] for line in facts.get("dig", [])}
    for name in names:
        got = answers.get(name, [])
        g.add(1, f"dig {name}.", bool(got), f"{name}. -> {got[0]}" if got else f"{name}. does not resolve",
              f"the lab's DNS lacks {name}; check `labsim exec {host.name} -- dig {name}.` and the topology's records")

    rt_services, rt_ports = _firewall(facts.get("fw_runtime", []))
    pm_services, pm_ports = _firewall(facts.get("fw_permanent", []))
    # 2. smtp allowed at runtime and permanently; port 25 reachable from a classmate
    g.add(2, "smtp allowed (runtime)", "smtp" in rt_services or "25/tcp" in rt_ports,
          "firewalld lets smtp in now" if "smtp" in rt_services or "25/tcp" in rt_ports else "smtp is not allowed in the runtime firewall",
          f"on {host.name}: firewall-cmd --add-service smtp")
    g.add(2, "smtp allowed (permanent)", "smtp" in pm_services or "25/tcp" in pm_ports,
          "smtp is in the permanent configuration" if "smtp" in pm_services or "25/tcp" in pm_ports else "smtp is not in the permanent firewall configuration (lost at reboot)",
          f"on {host.name}: firewall-cmd --permanent --add-service smtp")
    if 2 in steps or 3 in steps:
        state = _probe_port(engine, peer, host.address, 25) if peer else "open"
        if peer is not None:
            g.add(2, f"port 25 from {peer.name}", state in ("open", "refused"),
                  f"{peer.name} -> {host.name}:25 passes the firewall ({state})" if state in ("open", "refused")
                  else f"{peer.name} -> {host.name}:25 {state} by {host.name}'s firewall",
                  f"on {host.name}: firewall-cmd --add-service smtp (step 2)")

    # 3. main.cf settings in effect, postfix active and listening on all interfaces
    postconf = _kv(facts.get("postconf", []))
    main_cf = (engine.get_file(host.container, profile.paths["main_cf"]) or b"").decode()
    step3 = catalog[3]
    for key, template in step3.settings.items():
        wanted = template.format(**context)
        have = postconf.get(key, "")
        effective = _norm(have) == _norm(wanted)
        states = [edit_state(main_cf, e.render(context)) for e in step3.edits if e.key == key]
        undone = [st for st in states if not st.done]
        ok = effective and not undone
        fix = ""
        if not ok:
            fix = undone[0].fix if undone else f"set `{key} = {wanted}` in {profile.paths['main_cf']}"
            fix += "; then systemctl restart postfix.service"
        if ok:
            message = f"{key} = {have}"
        elif effective:
            message = f"{key} is `{have}` by default, but main.cf lacks the report's edit: {undone[0].problem}"
        else:
            message = f"{key} is `{have}`, the lab needs `{wanted}`"
        g.add(3, f"postconf {key}", ok, message, fix)
    active = {line.split()[0]: line.split()[1:] for line in facts.get("active", []) if line.split()}
    postfix_active = (active.get("postfix") or ["?"])[0] == "active"
    g.add(3, "postfix active", postfix_active, "postfix is active" if postfix_active else "postfix is not running",
          "systemctl restart postfix.service; see journalctl -u postfix for errors")
    local_addresses = [line.split()[3] for line in facts.get("listen", []) if len(line.split()) > 3]
    on_all = any(addr in ("0.0.0.0:25", "*:25", "[::]:25") for addr in local_addresses)
    g.add(3, "postfix listens on all interfaces", on_all, "port 25 open on all interfaces" if on_all
          else "postfix listens on localhost only", "inet_interfaces = all in main.cf (step 3), then systemctl restart postfix.service")
    ages = {line.split()[0]: int(line.split()[1]) for line in facts.get("ages", []) if len(line.split()) == 2 and line.split()[1].isdigit()}
    if "postfix" in ages and profile.paths["main_cf"] in ages and ages[profile.paths["main_cf"]] < ages["postfix"]:
        g.add(3, "postfix restarted after the edit", False, "main.cf changed after postfix started: the running postfix does not use it yet",
              "systemctl restart postfix.service")

    # 4. dovecot installed
    installed = bool(facts.get("doveconf")) or engine.exec(host.container, ["sh", "-c", "command -v doveconf"]).ok
    g.add(4, "dovecot installed", installed, "dovecot is installed" if installed else "dovecot is not installed",
          " ".join(profile.install_dovecot) + (" (or: yum install dovecot)" if profile.name == "debian" else ""))

    # 5. dovecot settings, port 110, service, POP3 login
    if 5 in steps:
        doveconf = _kv(facts.get("doveconf", []))
        for key, wanted in catalog[5].settings.items():
            have = doveconf.get(key, "(dovecot not installed)" if not installed else "")
            ok = have == wanted
            fix = ""
            if not ok:
                edit = next(e for e in catalog[5].edits if e.key == key)
                content = (engine.get_file(host.container, edit.path) or b"").decode()
                state = edit_state(content, edit)
                fix = (state.fix if not state.done else f"set `{key} = {wanted}` in {edit.path}") + "; then systemctl restart dovecot.service"
            g.add(5, f"doveconf {key}", ok, f"{key} = {have}" if ok else f"{key} is `{have}`, the lab needs `{wanted}`", fix)
        g.add(5, "110/tcp open (runtime)", "110/tcp" in rt_ports or "pop3" in rt_services,
              "port 110 open now" if "110/tcp" in rt_ports else "port 110 closed", f"on {host.name}: firewall-cmd --add-port=110/tcp")
        g.add(5, "110/tcp open (permanent)", "110/tcp" in pm_ports or "pop3" in pm_services,
              "port 110 in the permanent configuration" if "110/tcp" in pm_ports else "port 110 not in the permanent configuration",
              f"on {host.name}: firewall-cmd --permanent --add-port=110/tcp")
        dv = active.get("dovecot", ["inactive", "disabled"])
        g.add(5, "dovecot active", dv[0] == "active", f"dovecot is {dv[0]}", "systemctl start dovecot.service")
        enabled = len(dv) > 1 and dv[1] == "enabled"
        g.add(5, "dovecot enabled", enabled, "dovecot starts at boot" if enabled else "dovecot does not start at boot",
              "systemctl enable dovecot.service")
        user = host.users[0] if host.users else ""
        if dv[0] == "active" and user:
            ok, message = _pop3_login(engine, host, user, password_of(host.name, user))
            g.add(5, f"POP3 login {user}", ok, message, "check disable_plaintext_auth = no and ssl = no (step 5), and the password in `labsim status --users`")
        elif user:
            g.add(5, f"POP3 login {user}", False, "dovecot is not running", "systemctl start dovecot.service")

    # 6. the user's mailer configured with the report's identity and servers
    if 6 in steps:
        for user in host.users:
            raw = engine.get_file(host.container, f"/home/{user}/.muttrc")
            wanted_cfg = _mutt_values(muttrc(user, host.fqdn, host.smtp_name, host.pop_name))
            have_cfg = _mutt_values(raw.decode() if raw else "")
            missing = [k for k in MUTT_SETTINGS if have_cfg.get(k) != wanted_cfg[k]]
            g.add(6, f"mailer of {user}", not missing,
                  f"~{user}/.muttrc: from {wanted_cfg['from']}, SMTP {host.smtp_name}, POP {host.pop_name}" if not missing
                  else ("no ~/.muttrc" if raw is None else f"~{user}/.muttrc: wrong or missing {', '.join(missing)}"),
                  _mutt_fix(missing, wanted_cfg, user, host.name))

    # 7. a message reaches a classmate and the reply comes back
    if 7 in steps:
        if peer is None:
            g.add(7, "exchange", False, "no classmate to exchange with", "add a second PC to the topology")
        else:
            from ..exercise.send import send_exercise

            report = send_exercise(engine, host, host.users[0], peer, peer.users[0], password_of, reply=True)
            g.add(7, f"exchange with {peer.name}", report.ok,
                  f"{host.name} -> {peer.name} delivered and the reply came back ({report.seconds:.2f} s)" if report.ok
                  else report.failure, report.fix)
    return g.grade


def _mutt_fix(missing: list[str], wanted: dict[str, str], user: str, host: str) -> str:
    settings = ", ".join(f'set {k} = "{wanted[k]}"' for k in missing)
    return f"{settings} in /home/{user}/.muttrc (or: labsim apply {host} --step 6)"


def _mutt_values(text: str) -> dict[str, str]:
    values = {}
    for line in text.splitlines():
        parts = line.strip().split(None, 1)
        if len(parts) == 2 and parts[0] == "set":
            key, _, value = parts[1].partition("=")
            values[key.strip()] = value.strip().strip('"').strip("'")
    return values


def check_hosts(engine: LabEngine, hosts: list[LabHost], steps: tuple[int, ...], password_of, workers: int = 8) -> list[HostGrade]:
    """Grade every host; each uses the next PC of the lab as its classmate."""
    from .. import labels
    from ..hosts import lab_hosts
    from ..parallel import parallel

    if not hosts:
        return []
    pcs = [h for h in lab_hosts(engine, hosts[0].lab) if h.role == labels.ROLE_PC]

    def peer_of(host: LabHost) -> LabHost | None:
        others = [p for p in pcs if p.name != host.name]
        if not others:
            return None
        index = next((i for i, p in enumerate(pcs) if p.name == host.name), 0)
        return pcs[(index + 1) % len(pcs)] if pcs[(index + 1) % len(pcs)].name != host.name else others[0]

    return parallel(hosts, lambda h: check_host(engine, h, peer_of(h), steps, password_of), workers)


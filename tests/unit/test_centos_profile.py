"""The image profiles under images/, checked by reading the files (no Docker).

The CentOS images cannot be built on the development machine (no registry), so these tests are
what stands between a typo in images/centos/ and a failed `labsim build --distro centos` elsewhere.
Where a fact is shared with the Debian profile, both profiles are checked the same way.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
IMAGES = ROOT / "images"
if str(ROOT) not in sys.path:  # a checkout without `pip install -e .`
    sys.path.insert(0, str(ROOT))

from labsim.profiles import PROFILES  # noqa: E402

PC_STAGES = ["installed", "repo", "initial", "configured"]
PC_PARENTS = {"installed": "${BASE}", "repo": "installed", "initial": "installed", "configured": "initial"}
DISTROS = ["centos", "debian"]
ALL_DOCKERFILES = sorted(IMAGES.glob("**/Dockerfile"))
# What a student looks for in main.cf in step 3 (lab-reference section 2).
STEP3_LINES = [
    "#myhostname = virtual.domain.tld",
    "#myorigin = $mydomain",
    "#inet_interfaces = all",
    "inet_interfaces = localhost",
    "mydestination = $myhostname, localhost.$mydomain, localhost",
    "#mydestination = $myhostname, localhost.$mydomain, localhost, $mydomain",
    "#home_mailbox = Maildir/",
]


SKIPPED = {"!", "exec", "sudo", "do", "then", "else", "elif", "if", "while", "until", "{"}


# --- a small Dockerfile reader ------------------------------------------------------------------


@dataclass
class Instruction:
    keyword: str
    args: str
    line: int


@dataclass
class Stage:
    name: str
    parent: str
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]


@dataclass
class Dockerfile:
    path: Path
    global_args: dict[str, str]
    stages: list[Stage]

    @property
    def context(self) -> Path:
        return self.path.parent

    def stage(self, name: str) -> Stage:
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise AssertionError(f"{self.path}: no stage {name!r}")


def read_instructions(path: Path) -> list[Instruction]:
    """Instructions with continuation lines joined; comment lines dropped, also inside a continuation."""
    out: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if not pending:
            start = number
        if raw.rstrip().endswith("\\"):
            pending.append(raw.rstrip()[:-1])
            continue
        pending.append(raw)
        text = "".join(pending).strip()  # as Docker does: backslash-newline is removed
        pending = []
        keyword, _, args = text.partition(" ")
        out.append(Instruction(keyword.upper(), args.strip(), start))
    assert not pending, f"{path}: the last instruction ends in a backslash"
    return out


def parse_dockerfile(path: Path) -> Dockerfile:
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for ins in read_instructions(path):
        if ins.keyword == "FROM":
            words = ins.args.split()
            words = [w for w in words if not w.startswith("--")]  # --platform=...
            name = words[2] if len(words) == 3 and words[1].lower() == "as" else str(len(stages))
            stages.append(Stage(name, words[0]))
        elif not stages:
            assert ins.keyword == "ARG", f"{path}:{ins.line}: {ins.keyword} before the first FROM"
            key, _, value = ins.args.partition("=")
            global_args[key] = value
        else:
            stages[-1].instructions.append(ins)
    return Dockerfile(path, global_args, stages)


def shell_commands(script: str) -> list[list[str]]:
    """Simple commands of a shell script, as word lists (quotes removed); `!` and redirections kept."""
    lexer = shlex.shlex(script.replace("\\\n", ""), posix=True, punctuation_chars=";&|()<>\n")
    lexer.whitespace = " \t\r"
    lexer.whitespace_split = True
    lexer.commenters = "#"
    commands: list[list[str]] = []
    current: list[str] = []
    for token in lexer:
        operator = token and all(c in ";&|()<>\n" for c in token)
        if operator and not (token[0] in "<>" or token == "&>"):  # a separator, not a redirection
            if current:
                commands.append(current)
            current = []
        else:
            current.append(token)
    if current:
        commands.append(current)
    return commands


def program(command: list[str]) -> tuple[str, list[str]]:
    """The program a simple command runs (basename) and its arguments; skips `!`, `exec`, `do`..., VAR=value."""
    words = list(command)
    while words and (words[0] in SKIPPED or re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", words[0])):
        words.pop(0)
    if not words:
        return "", []
    return os.path.basename(words[0]), words[1:]


def run_commands(stage: Stage) -> list[list[str]]:
    return [cmd for ins in stage.all("RUN") for cmd in shell_commands(ins.args)]


def exec_form(ins: Instruction) -> list[str]:
    value = json.loads(ins.args)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), ins.args
    return value


def copy_parts(ins: Instruction) -> tuple[dict[str, str], list[str], str]:
    """Flags, sources and destination of a COPY or ADD (shell or JSON form)."""
    if ins.args.startswith("["):
        words = exec_form(ins)
        flags: dict[str, str] = {}
    else:
        words = shlex.split(ins.args)
        flags = {}
        while words and words[0].startswith("--"):
            key, _, value = words.pop(0)[2:].partition("=")
            flags[key] = value
    assert len(words) >= 2, f"{ins.keyword} needs a source and a destination: {ins.args}"
    return flags, words[:-1], words[-1]


def installs_package(command: list[str], package: str) -> bool:
    """True when the command would install ``package`` for real (a dry run does not count)."""
    prog, args = program(command)
    named = any(package in a for a in args if not a.startswith("-"))
    if not named:
        return False
    if prog in {"dnf", "dnf-3", "yum", "microdnf", "dnf5"}:
        verbs = {"install", "in", "localinstall", "reinstall", "groupinstall"}
        if not verbs & set(args):
            return False
        dry = {"--downloadonly", "--assumeno"}
        return not (dry & set(args) or any("tsflags=test" in a for a in args))
    if prog == "rpm":
        install = any(re.fullmatch(r"-[a-zA-Z]*[iUF][a-zA-Z]*", a) or a in {"--install", "--upgrade", "--freshen"} for a in args)
        return install and "--test" not in args
    if prog in {"apt-get", "apt", "aptitude"}:
        return "install" in args and not {"-s", "--simulate", "--dry-run", "--download-only", "-d"} & set(args)
    if prog == "dpkg":
        return any(a in {"-i", "--install"} for a in args)
    return False


def pc(distro: str) -> Dockerfile:
    return parse_dockerfile(IMAGES / distro / "pc" / "Dockerfile")


def dns(distro: str) -> Dockerfile:
    return parse_dockerfile(IMAGES / distro / "dns" / "Dockerfile")


# --- both profiles --------------------------------------------------------------------------------


def test_every_profile_has_its_image_contexts() -> None:
    for profile in PROFILES.values():
        for role in ("pc", "dns"):
            assert (IMAGES / profile.context(role) / "Dockerfile").is_file(), (profile.name, role)


@pytest.mark.parametrize("distro", DISTROS)
def test_pc_stages(distro: str) -> None:
    df = pc(distro)
    assert [s.name for s in df.stages] == PC_STAGES
    assert {s.name: s.parent for s in df.stages} == PC_PARENTS
    initial = df.stage("initial")
    assert [exec_form(i) for i in initial.all("CMD")] == [["/sbin/init"]]
    assert [i.args for i in initial.all("STOPSIGNAL")] == ["SIGRTMIN+3"]
    # "configured" must stay "initial" plus step 4: no CMD/ENTRYPOINT/STOPSIGNAL of its own.
    assert {i.keyword for i in df.stage("configured").instructions} <= {"RUN", "ENV", "LABEL"}


@pytest.mark.parametrize("distro", DISTROS)
@pytest.mark.parametrize("role", ["pc", "dns"])
def test_base_image_is_the_profiles(distro: str, role: str) -> None:
    df = pc(distro) if role == "pc" else dns(distro)
    assert df.global_args.get("BASE") == PROFILES[distro].base_image
    assert df.stages[0].parent == "${BASE}"


@pytest.mark.parametrize("dockerfile", ALL_DOCKERFILES, ids=lambda p: str(p.relative_to(IMAGES)))
def test_copy_sources_exist(dockerfile: Path) -> None:
    df = parse_dockerfile(dockerfile)
    context = df.context.resolve()
    seen_stages: list[str] = []
    copies = 0
    for stage in df.stages:
        for ins in stage.instructions:
            if ins.keyword not in {"COPY", "ADD"}:
                continue
            flags, sources, _ = copy_parts(ins)
            if "from" in flags:
                assert flags["from"] in seen_stages, f"line {ins.line}: --from={flags['from']} is not an earlier stage"
                continue
            for source in sources:
                assert not re.match(r"^[a-z]+://", source), f"line {ins.line}: remote source {source}"
                matches = list(context.glob(source.rstrip("/"))) if any(c in source for c in "*?[") else [context / source]
                assert matches and all(m.exists() for m in matches), f"line {ins.line}: {source} is not in {context}"
                for m in matches:
                    assert m.resolve().is_relative_to(context), f"line {ins.line}: {source} leaves the build context"
                copies += 1
        seen_stages.append(stage.name)
    if dockerfile.parent.name == "pc":
        assert copies >= 3  # stock/, bin/, units/


@pytest.mark.parametrize("distro", DISTROS)
def test_scripts_run_at_build_come_from_the_context(distro: str) -> None:
    """A RUN of /usr/local/lib/labsim/stock/x.sh needs stock/x.sh, copied there and executable."""
    df = pc(distro)
    copied: dict[str, Path] = {}
    checked = 0
    for stage in df.stages:
        for ins in stage.instructions:
            if ins.keyword == "COPY":
                flags, sources, dest = copy_parts(ins)
                if "from" not in flags and len(sources) == 1 and sources[0].endswith("/"):
                    copied[dest.rstrip("/") + "/"] = df.context / sources[0]
            elif ins.keyword == "RUN":
                for cmd in shell_commands(ins.args):
                    for word in cmd:
                        for dest, src_dir in copied.items():
                            if word.startswith(dest):
                                src = src_dir / word[len(dest):]
                                assert src.is_file(), f"line {ins.line}: runs {word}, but {src} does not exist"
                                assert os.access(src, os.X_OK), f"{src} is not executable"
                                checked += 1
    assert checked >= 1  # make-stock.sh at least


@pytest.mark.parametrize("distro", DISTROS)
def test_bin_scripts_are_executable_and_parse(distro: str) -> None:
    scripts = sorted((IMAGES / distro / "pc" / "bin").iterdir())
    assert {"labsim-init", "labsim-ready"} <= {p.name for p in scripts}
    for script in scripts:
        assert os.access(script, os.X_OK), f"{script} is not executable"
        first = script.read_text().splitlines()[0]
        assert first.startswith("#!/"), f"{script} has no #! line"
        interpreter = first[2:].split()[0]
        if interpreter.endswith("python3"):
            compile(script.read_text(), str(script), "exec")
        else:
            assert os.path.basename(interpreter) in {"sh", "bash"}, first
            subprocess.run([os.path.basename(interpreter), "-n", str(script)], check=True)


@pytest.mark.parametrize("distro", DISTROS)
def test_make_stock_parses_and_enables_the_units(distro: str) -> None:
    script = IMAGES / distro / "pc" / "stock" / "make-stock.sh"
    subprocess.run(["sh", "-n", str(script)], check=True)
    enabled = {
        unit
        for cmd in shell_commands(script.read_text())
        if program(cmd)[0] == "systemctl" and program(cmd)[1][:1] == ["enable"]
        for unit in program(cmd)[1][1:]
    }
    assert {"labsim-init.service", "postfix.service", "firewalld.service"} <= enabled
    assert (IMAGES / distro / "pc" / "units" / "labsim-init.service").is_file()


@pytest.mark.parametrize("distro", DISTROS)
def test_labsim_init_unit_runs_the_copied_script(distro: str) -> None:
    unit = (IMAGES / distro / "pc" / "units" / "labsim-init.service").read_text()
    exec_start = re.search(r"^ExecStart=(\S+)", unit, re.M).group(1)
    copies = [copy_parts(i) for s in pc(distro).stages for i in s.all("COPY")]
    assert ({}, ["bin/"], "/usr/local/sbin/") in copies
    assert exec_start.startswith("/usr/local/sbin/")
    assert (IMAGES / distro / "pc" / "bin" / exec_start.rsplit("/", 1)[1]).is_file()


@pytest.mark.parametrize("distro", DISTROS)
def test_dns_cmd_checks_the_config_then_runs_named(distro: str) -> None:
    profile = PROFILES[distro]
    (cmd,) = [i for s in dns(distro).stages for i in s.all("CMD")]
    argv = exec_form(cmd)
    assert argv[:2] == ["/bin/sh", "-c"] and len(argv) == 3
    tokens = shlex.shlex(argv[2], posix=True, punctuation_chars=";&|")
    tokens.whitespace_split = True
    words = list(tokens)
    commands = shell_commands(argv[2])
    progs = [program(c)[0] for c in commands]
    check = commands[progs.index("named-checkconf")]
    assert program(check)[1] == ["-z", profile.named_conf]
    run = commands[progs.index("named")]
    assert run[0] == "exec", "named must replace the shell, so that it gets SIGTERM"
    args = program(run)[1]
    assert "-g" in args
    assert args[args.index("-u") + 1] == profile.named_user
    assert args[args.index("-c") + 1] == profile.named_conf
    # named starts only if named-checkconf succeeded.
    between = words[words.index("named-checkconf") : words.index("exec")]
    assert "&&" in between and not {";", "||", "&", "|"} & set(between)


# --- CentOS only ----------------------------------------------------------------------------------


def test_centos_never_installs_dovecot_before_configured() -> None:
    df = pc("centos")
    for stage in df.stages:
        commands = run_commands(stage)
        installs = [c for c in commands if installs_package(c, "dovecot")]
        if stage.name == "configured":
            assert installs, "configured must install dovecot (step 4 at build time)"
            assert any(program(c)[0] == "yum" for c in installs), "step 4 as the report types it: yum install"
        else:
            assert not installs, f"stage {stage.name} installs dovecot: {installs}"
    # ...nor does a script that a RUN calls.
    for script in (IMAGES / "centos" / "pc" / "stock").glob("*.sh"):
        assert not [c for c in shell_commands(script.read_text()) if installs_package(c, "dovecot")], script
    # The repo stage is where dovecot is fetched, with its missing dependencies.
    downloads = [program(c)[1] for c in run_commands(df.stage("repo")) if program(c)[0] == "dnf"]
    assert any(a[:1] == ["download"] and "--resolve" in a and "dovecot" in a for a in downloads)
    assert any(program(c)[0] == "createrepo_c" for c in run_commands(df.stage("repo")))


def test_installs_package_tells_dry_runs_apart() -> None:
    assert installs_package(["yum", "install", "-y", "dovecot"], "dovecot")
    assert installs_package(["dnf", "-y", "install", "postfix", "dovecot"], "dovecot")
    assert installs_package(["rpm", "-Uvh", "/repo/dovecot-2.3.16.rpm"], "dovecot")
    assert not installs_package(["dnf", "-y", "install", "--downloadonly", "dovecot"], "dovecot")
    assert not installs_package(["dnf", "download", "--resolve", "dovecot"], "dovecot")
    assert not installs_package(["!", "rpm", "-q", "dovecot"], "dovecot")
    assert not installs_package(["dnf", "-y", "install", "postfix"], "dovecot")


def test_centos_initial_disables_other_repos() -> None:
    df = pc("centos")
    initial = df.stage("initial")
    (copy,) = [copy_parts(i) for i in initial.all("COPY")]
    flags, sources, repo_dir = copy
    assert flags == {"from": "repo"} and sources == ["/repo"]
    commands = run_commands(initial)

    def index(predicate, what: str) -> int:
        found = [n for n, c in enumerate(commands) if predicate(c)]
        assert found, f"initial stage lacks: {what}"
        return found[0]

    removed = index(
        lambda c: program(c)[0] == "rm" and any(re.fullmatch(r"/etc/yum\.repos\.d/\*(\.repo)?", a) for a in program(c)[1]),
        "rm of /etc/yum.repos.d/*.repo",
    )
    written = index(lambda c: "/etc/yum.repos.d/labsim-lab.repo" in c and ">" in c, "the write of labsim-lab.repo")
    cached = index(lambda c: program(c)[0] in {"dnf", "yum"} and "makecache" in c, "dnf makecache")
    assert removed < written < cached, "remove the distribution's repos, then write the lab's, then cache it"
    repo_file = commands[written]
    assert f"baseurl=file://{repo_dir.rstrip('/')}" in repo_file
    assert "gpgcheck=0" in repo_file and "enabled=1" in repo_file
    # Nothing re-enables a network repository later on.
    for stage in df.stages[df.stages.index(initial) :]:
        for cmd in run_commands(stage):
            prog, args = program(cmd)
            assert not any(a.startswith(("--enablerepo", "--repofrompath")) for a in args), cmd
            assert not (prog in {"dnf", "yum"} and "config-manager" in args), cmd
    for stage in df.stages[df.stages.index(initial) + 1 :]:
        assert not [c for c in run_commands(stage) if any("/etc/yum.repos.d/" in a for a in c)], stage.name


def test_centos_installed_stage_packages() -> None:
    commands = run_commands(pc("centos").stage("installed"))
    (install,) = [program(c)[1] for c in commands if program(c)[0] == "dnf" and "install" in program(c)[1]]
    packages = {a for a in install if not a.startswith("-") and a != "install"}
    wanted = {"systemd", "firewalld", "postfix", "bind-utils", "vim-minimal", "python3", "passwd", "shadow-utils"}
    assert wanted <= packages
    assert not {p for p in packages if p.startswith("dovecot")}


def test_centos_make_stock_checks_but_keeps_main_cf() -> None:
    script = IMAGES / "centos" / "pc" / "stock" / "make-stock.sh"
    text = script.read_text()
    for line in STEP3_LINES:
        assert f"'{line}'" in text, f"make-stock.sh does not check for: {line}"
    assert "'^#mynetworks = '" in text
    cf = re.search(r"^cf=(\S+)$", text, re.M).group(1)
    assert cf == PROFILES["centos"].paths["main_cf"]
    for cmd in shell_commands(text.replace("${cf}", cf).replace("$cf", cf)):
        prog, args = program(cmd)
        if prog in {"cp", "mv", "install", "ln"} and args:
            assert args[-1] != cf, f"overwrites main.cf: {cmd}"
        if prog == "sed" and any(a.startswith("-i") for a in args):
            assert cf not in args, f"edits main.cf: {cmd}"
        if prog == "postconf":
            assert not {"-e", "-X", "-#"} & set(args), f"edits main.cf: {cmd}"
        for op in (">", ">>"):
            if op in cmd:
                assert cmd[cmd.index(op) + 1] != cf, f"writes main.cf: {cmd}"
    assert PROFILES["centos"].paths["stock_dir"] + "/etc/postfix" in text


def test_centos_has_no_yum_shim_and_shares_the_neutral_scripts() -> None:
    """labsim-init, labsim-ready and the unit are distro-neutral: a fix to one profile's copy
    belongs in the other's too (this fails until both are the same again)."""
    centos, debian = IMAGES / "centos" / "pc", IMAGES / "debian" / "pc"
    assert not (centos / "bin" / "yum").exists(), "CentOS has a real yum"
    for rel in ("bin/labsim-init", "bin/labsim-ready", "units/labsim-init.service"):
        assert (centos / rel).read_bytes() == (debian / rel).read_bytes(), f"{rel} differs between profiles"

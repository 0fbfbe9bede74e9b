"""Integration fixtures: real Docker, real containers. Each lab gets its own name and subnet and is purged after."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from labsim import lab as lab_ops
from labsim.engine import default_engine
from labsim.errors import EngineError
from labsim.hosts import find_host, lab_hosts
from labsim.state import load_passwords
from labsim.topology import parse_plan


@pytest.fixture(scope="session", autouse=True)
def state_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("labsim-state")
    os.environ["LABSIM_STATE_DIR"] = str(path)
    os.environ["LABSIM_NO_PULL"] = "1"  # tests talk to no registry (traffic rules)
    return path


@pytest.fixture(scope="session")
def engine():
    try:
        eng = default_engine()
        eng.ping()
    except EngineError as err:
        pytest.fail(f"integration tests need a running Docker engine: {err}")
    return eng


def labsim(*args: str, check: bool = False, timeout: float = 900) -> subprocess.CompletedProcess:
    """Run the real command line, as a user would."""
    result = subprocess.run([sys.executable, "-m", "labsim", *args], capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"labsim {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


class RunningLab:
    """A lab brought up for a test module, with helpers a test reads like a user's commands."""

    def __init__(self, engine, plan, topology: Path):
        self.engine = engine
        self.plan = plan
        self.name = plan.name
        self.topology = topology

    def host(self, name: str):
        return find_host(self.engine, self.name, name)

    def hosts(self):
        return lab_hosts(self.engine, self.name)

    def exec(self, host: str, *cmd: str, user: str | None = None):
        return self.engine.exec(self.host(host).container, list(cmd), user=user)

    def password(self, host: str, user: str) -> str:
        return load_passwords(self.name)[host][user]

    def password_of(self, host: str, user: str) -> str:
        return load_passwords(self.name).get(host, {}).get(user, "")

    def cli(self, *args: str, check: bool = False):
        """`labsim COMMAND --lab NAME ARGS...` (the option goes before any `--`)."""
        split = 2 if args[0] == "exercise" else 1
        return labsim(*args[:split], "--lab", self.name, *args[split:], check=check)


def bring_up(engine, tmp_path_factory, text: str) -> RunningLab:
    path = tmp_path_factory.mktemp("topo") / "lab.yml"
    path.write_text(text)
    plan = parse_plan(text, str(path))
    lab_ops.up(engine, plan)
    return RunningLab(engine, plan, path)


def purge(engine, name: str) -> None:
    if name in {c.labels.get("labsim.lab") for c in engine.containers(["labsim.lab"])} | {
        n.labels.get("labsim.lab") for n in engine.networks(["labsim.lab"])
    }:
        lab_ops.down(engine, name, purge=True)


CONFIGURED = """\
name: it-conf
domain: t3.metro-cit.ac.jp
subnet: 10.213.1.0/24
distro: debian
stage: configured
dns:
  records:
    smtp: 10.213.1.10
pcs:
  - range: 5-7
  - name: pc12
    users: [saito, user12]
"""

INITIAL = """\
name: it-init
domain: t3.metro-cit.ac.jp
subnet: 10.213.2.0/24
distro: debian
stage: initial
dns:
  records:
    smtp: 10.213.2.10
pcs:
  - range: 5-7
"""


@pytest.fixture(scope="session")
def configured_lab(engine, tmp_path_factory):
    """Four configured PCs (pc5, pc6, pc7, and pc12 whose first user is saito) and the DNS server."""
    purge(engine, "it-conf")
    lab = bring_up(engine, tmp_path_factory, CONFIGURED)
    yield lab
    purge(engine, "it-conf")


@pytest.fixture(scope="session")
def initial_lab(engine, tmp_path_factory):
    """Three PCs as freshly installed (stage initial)."""
    purge(engine, "it-init")
    lab = bring_up(engine, tmp_path_factory, INITIAL)
    yield lab
    purge(engine, "it-init")

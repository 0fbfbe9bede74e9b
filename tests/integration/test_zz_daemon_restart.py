"""Issue 6: the Docker daemon restarts under a running lab; `status` tells the truth and `up` brings it back.

Restarting dockerd stops and restarts every container on the machine, so this module runs only when asked
(LABSIM_IT_RESTART_DOCKERD=1), alone, and only when no other test lab's containers are on the engine:

    LABSIM_IT_RESTART_DOCKERD=1 python -m pytest -q tests/integration/test_zz_daemon_restart.py

The daemon is stopped by its own pid (from its pid file) and started again with the same command line,
detached, its output appended to /tmp/dockerd.log; it is started again in a finally block whatever happens.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from labsim.engine import default_engine

from .conftest import RunningLab, bring_up, labsim
from .test_faults import purge_all, topology

NAME = "it-fault-restart"
PIDFILE = Path("/var/run/docker.pid")

pytestmark = pytest.mark.skipif(
    os.environ.get("LABSIM_IT_RESTART_DOCKERD") != "1",
    reason="restarts the Docker daemon under every container of the machine; set LABSIM_IT_RESTART_DOCKERD=1 to run",
)


def docker_answers(timeout: float) -> bool:
    """`docker info` answers within ``timeout`` seconds (polled)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode == 0:
                return True
        except subprocess.TimeoutExpired:
            pass
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def start_dockerd(argv: list[str]) -> None:
    """Start the daemon detached (its own session, output to /tmp/dockerd.log), as `dockerd > log 2>&1 &`."""
    with open("/tmp/dockerd.log", "ab") as log:
        subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def foreign_test_containers() -> list[str]:
    """Containers of other test labs (labsim-it-*) that a daemon restart would disturb."""
    out = subprocess.run(["docker", "ps", "-a", "--format", "{{.Names}}"], capture_output=True, text=True, check=True).stdout
    return [n for n in out.split() if n.startswith("labsim-it-") and not n.startswith(f"labsim-{NAME}-")]


@pytest.fixture(scope="module")
def restart_lab(engine, tmp_path_factory):
    others = foreign_test_containers()
    if others:
        pytest.skip(f"other test labs are running ({', '.join(others[:5])}); restarting dockerd would disturb them")
    purge_all(engine, NAME)
    lab = bring_up(engine, tmp_path_factory, topology(NAME, 53))
    yield lab
    purge_all(default_engine(), NAME)  # a new client: the daemon was restarted under the old one


def test_daemon_restart_status_tells_the_truth_and_up_brings_the_lab_back(restart_lab):
    assert json.loads(labsim("status", "--json", "--lab", NAME, check=True).stdout)["hosts"]
    pid = int(PIDFILE.read_text().strip())
    argv = [a.decode() for a in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") if a]
    assert argv and Path(argv[0]).name == "dockerd", argv
    try:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 180  # dockerd stops every container before it exits
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not alive(pid), "dockerd did not exit within 180 s of SIGTERM"
        start_dockerd(argv)
        assert docker_answers(180), "dockerd did not answer again; see /tmp/dockerd.log"

        engine = default_engine()
        lab = RunningLab(engine, restart_lab.plan, restart_lab.topology)
        # `labsim status` says what the engine says, host by host (read the engine before and after,
        # so a container changing state meanwhile does not make the comparison meaningless)
        for _ in range(20):
            before = {h.name: engine.api.inspect_container(h.container)["State"]["Status"] for h in lab.hosts()}
            status = json.loads(labsim("status", "--json", "--lab", NAME, check=True).stdout)
            after = {h.name: engine.api.inspect_container(h.container)["State"]["Status"] for h in lab.hosts()}
            if before == after:
                break
            time.sleep(0.5)
        assert before == after, (before, after)
        shown = {h["name"]: h["state"] for h in status["hosts"]}
        assert shown == after and set(shown) == {"ns", "pc1", "pc2"}
        for host in status["hosts"]:
            if host["state"] != "running":
                assert host["services"] == {}, host

        # `labsim up` of the same topology brings the lab back, and mail crosses again, both ways
        up = labsim("up", str(lab.topology), "--quiet")
        assert up.returncode == 0, up.stderr
        status = json.loads(labsim("status", "--json", "--lab", NAME, check=True).stdout)
        assert {h["name"]: h["state"] for h in status["hosts"]} == {"ns": "running", "pc1": "running", "pc2": "running"}
        for host in status["hosts"]:
            assert set(host["services"].values()) <= {"active", "answering"}, host
        send = labsim("exercise", "send", "--lab", NAME, "pc1", "pc2")
        assert send.returncode == 0, send.stderr
        assert "verified" in send.stdout
    finally:
        if not docker_answers(5):
            if not PIDFILE.exists() or not alive(int(PIDFILE.read_text().strip() or 0)):
                start_dockerd(argv)
            assert docker_answers(180), "dockerd could not be restarted; see /tmp/dockerd.log"

"""Host limits a class of systemd PCs needs: raised when root, else a one-line fix."""

import pytest

from labsim import hostlimits
from labsim.errors import EngineError

DEFAULTS = {
    "fs/inotify/max_user_instances": "128",
    "net/ipv4/neigh/default/gc_thresh2": "512",
    "net/ipv4/neigh/default/gc_thresh3": "1024",
}


@pytest.fixture
def proc_sys(tmp_path, monkeypatch):
    for rel, value in DEFAULTS.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(value + "\n")
    monkeypatch.setattr(hostlimits, "PROC_SYS", tmp_path)
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    return tmp_path


def test_small_class_needs_nothing(proc_sys):
    assert hostlimits.ensure_host_limits(5) == []
    assert (proc_sys / "fs/inotify/max_user_instances").read_text() == "128\n"


def test_class_of_40_raises_inotify_and_arp_limits_as_root(proc_sys, monkeypatch):
    monkeypatch.setattr(hostlimits.os, "geteuid", lambda: 0)
    changes = hostlimits.ensure_host_limits(40)
    assert any("fs.inotify.max_user_instances from 128 to 1024" in c for c in changes)
    assert int((proc_sys / "net/ipv4/neigh/default/gc_thresh3").read_text()) >= 2 * (42 * 42)
    assert hostlimits.ensure_host_limits(40) == []  # idempotent


def test_not_root_gets_the_command_that_fixes_it(proc_sys, monkeypatch):
    monkeypatch.setattr(hostlimits.os, "geteuid", lambda: 1000)
    with pytest.raises(EngineError, match=r"sudo sysctl -w fs.inotify.max_user_instances=1024"):
        hostlimits.ensure_host_limits(40)


def test_remote_engine_is_left_alone(proc_sys, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "tcp://10.0.0.1:2376")
    assert hostlimits.ensure_host_limits(400) == []

"""The inotify limit a class of systemd PCs needs: raised when root, else a one-line fix."""

import pytest

from labsim import hostlimits
from labsim.errors import EngineError


@pytest.fixture
def limit_file(tmp_path, monkeypatch):
    path = tmp_path / "max_user_instances"
    path.write_text("128\n")
    monkeypatch.setattr(hostlimits, "INOTIFY_INSTANCES", path)
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    return path


def test_small_class_needs_nothing(limit_file):
    assert hostlimits.ensure_inotify_instances(5) is None
    assert limit_file.read_text() == "128\n"


def test_class_of_40_raises_the_limit_as_root(limit_file, monkeypatch):
    monkeypatch.setattr(hostlimits.os, "geteuid", lambda: 0)
    message = hostlimits.ensure_inotify_instances(40)
    assert "from 128 to 1024" in message
    assert limit_file.read_text() == "1024\n"


def test_not_root_gets_the_command_that_fixes_it(limit_file, monkeypatch):
    monkeypatch.setattr(hostlimits.os, "geteuid", lambda: 1000)
    with pytest.raises(EngineError, match=r"sudo sysctl -w fs.inotify.max_user_instances=1024"):
        hostlimits.ensure_inotify_instances(40)


def test_remote_engine_is_left_alone(limit_file, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "tcp://10.0.0.1:2376")
    assert hostlimits.ensure_inotify_instances(400) is None

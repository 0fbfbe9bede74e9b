"""Issue 6 (isolation part): no route out, authoritative-only DNS, private passwords."""

import os
import stat

from labsim.state import state_path


def test_no_route_out_of_the_lab(configured_lab):
    routes = configured_lab.exec("pc5", "ip", "-4", "route").stdout
    assert "default" not in routes and "10.213.1.0/24" in routes
    # nothing leaves: the kernel refuses at once, no packet is sent
    probe = configured_lab.exec("pc5", "bash", "-c", "timeout 3 bash -c '</dev/tcp/192.0.2.1/80' 2>&1; true").stdout
    assert "unreachable" in probe.lower()


def test_bind_refuses_recursion(configured_lab):
    answer = configured_lab.exec("pc5", "dig", "@10.213.1.53", "example.com.", "A").stdout
    assert "status: REFUSED" in answer
    assert " ra" not in answer.split("flags:")[1].split(";")[0]


def test_state_file_is_private(configured_lab):
    path = state_path("it-conf")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600

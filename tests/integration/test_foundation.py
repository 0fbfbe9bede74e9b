"""Issue 2: a topology file becomes a running virtual class; status, exec, down, convergence, rollback."""

import json

import pytest

from labsim import labels
from labsim import lab as lab_ops
from labsim.errors import LabsimError
from labsim.topology import parse_plan

from .conftest import CONFIGURED, labsim, purge


def test_status_shows_every_host_running_with_its_services(configured_lab):
    result = configured_lab.cli("status", "--json", check=True)
    status = json.loads(result.stdout)
    rows = {h["name"]: h for h in status["hosts"]}
    assert set(rows) == {"ns", "pc5", "pc6", "pc7", "pc12"}
    assert rows["ns"]["services"] == {"named": "answering"}
    assert rows["pc5"]["fqdn"] == "pc5.s5.t3.metro-cit.ac.jp" and rows["pc5"]["address"] == "10.213.1.105"
    for name in ("pc5", "pc6", "pc7", "pc12"):
        assert rows[name]["state"] == "running"
        assert rows[name]["services"] == {"firewalld": "active", "postfix": "active", "dovecot": "active"}
    assert status["distro"] == "debian" and status["stage"] == "configured"


def test_status_users_shows_generated_passwords(configured_lab):
    status = json.loads(configured_lab.cli("status", "--json", "--users", check=True).stdout)
    pc12 = next(h for h in status["hosts"] if h["name"] == "pc12")
    assert [u["name"] for u in pc12["users"]] == ["saito", "user12"]
    assert all(len(u["password"]) >= 12 for u in pc12["users"])
    assert pc12["users"][0]["address"] == "saito@pc12.s12.t3.metro-cit.ac.jp"


def test_dig_forward_and_reverse_from_the_labs_zone(configured_lab):
    forward = configured_lab.cli("exec", "pc5", "--", "dig", "+short", "pop.s6.t3.metro-cit.ac.jp.", check=True)
    assert forward.stdout.strip() == "10.213.1.106"
    reverse = configured_lab.cli("exec", "pc5", "--", "dig", "+short", "-x", "10.213.1.106", check=True)
    assert reverse.stdout.strip() == "pc6.s6.t3.metro-cit.ac.jp."
    school = configured_lab.cli("exec", "pc5", "--", "dig", "+short", "smtp.t3.metro-cit.ac.jp.", check=True)
    assert school.stdout.strip() == "10.213.1.10"


def test_exec_passes_the_exit_code_and_arguments_verbatim(configured_lab):
    assert configured_lab.cli("exec", "pc5", "--", "sh", "-c", "exit 7").returncode == 7
    echoed = configured_lab.cli("exec", "pc5", "--", "echo", "$(id)", ";", "ls", "`whoami`", check=True)
    assert echoed.stdout.strip() == "$(id) ; ls `whoami`"
    unknown = configured_lab.cli("exec", "pc99", "--", "true")
    assert unknown.returncode == 2 and "no host 'pc99'" in unknown.stderr


def test_pc_is_a_centos_style_pc(configured_lab):
    assert configured_lab.exec("pc5", "hostname").stdout.strip() == "pc5.s5.t3.metro-cit.ac.jp"
    assert configured_lab.exec("pc5", "cat", "/proc/1/comm").stdout.strip() == "systemd"
    assert configured_lab.exec("pc5", "systemctl", "is-system-running").stdout.strip() == "running"
    resolv = configured_lab.exec("pc5", "cat", "/etc/resolv.conf").stdout
    assert "nameserver 10.213.1.53" in resolv
    home = configured_lab.exec("pc12", "stat", "-c", "%U %a", "/home/saito").stdout.split()
    assert home[0] == "saito"
    for tool in ("dig", "vi", "tcpdump", "firewall-cmd", "mutt", "yum"):
        assert configured_lab.exec("pc5", "sh", "-c", f"command -v {tool}").ok, tool


def test_postfix_is_one_unit_whose_main_process_is_master_as_on_centos(configured_lab):
    pid = configured_lab.exec("pc5", "systemctl", "show", "-p", "MainPID", "--value", "postfix").stdout.strip()
    assert pid not in ("", "0") and configured_lab.exec("pc5", "cat", f"/proc/{pid}/comm").stdout.strip() == "master"
    assert "daemon started" in configured_lab.exec("pc5", "journalctl", "-u", "postfix", "--no-pager").stdout
    # The first start skipped Postfix's integrity check once (quick-start); the mark is gone, later starts check.
    assert not configured_lab.exec("pc5", "test", "-e", "/var/spool/postfix/quick-start").ok
    assert configured_lab.exec("pc5", "postfix", "check").ok


def test_first_boot_wrote_the_muttrc_and_forgot_passwords_and_a_reboot_keeps_the_students_edit(configured_lab):
    muttrc = "/home/saito/.muttrc"
    assert configured_lab.exec("pc12", "stat", "-c", "%U %a", muttrc).stdout.split() == ["saito", "600"]
    assert 'set from = "saito@pc12.s12.t3.metro-cit.ac.jp"' in configured_lab.exec("pc12", "cat", muttrc).stdout
    # The first-boot files (the students' passwords among them) are gone once used.
    assert not configured_lab.exec("pc12", "test", "-e", "/etc/labsim/first-boot").ok
    assert configured_lab.exec("pc12", "cat", "/etc/resolv.conf").stdout.startswith("search s12.t3.metro-cit.ac.jp")
    shadow = configured_lab.exec("pc12", "getent", "shadow", "saito").stdout
    assert shadow.split(":")[1].startswith("$6$")  # SHA-512, as chpasswd would have stored it
    configured_lab.exec("pc12", "sh", "-c", f"echo '# edited by saito' >> {muttrc}")
    pc12 = configured_lab.host("pc12")
    configured_lab.engine.api.restart(pc12.container, timeout=10)
    from labsim.readiness import wait_pc

    assert wait_pc(configured_lab.engine, pc12.container, "pc12", need_pop3=True, names=pc12.lab_names).ready
    assert configured_lab.exec("pc12", "tail", "-1", muttrc).stdout.strip() == "# edited by saito"


def test_named_checkzone_accepts_the_generated_zones(configured_lab):
    ns = configured_lab.host("ns")
    for origin, filename in [("t3.metro-cit.ac.jp", "db.t3.metro-cit.ac.jp"), ("1.213.10.in-addr.arpa", "db.1.213.10.in-addr.arpa")]:
        result = configured_lab.engine.exec(ns.container, ["named-checkzone", origin, f"/etc/bind/labsim/{filename}"])
        assert result.ok and result.stdout.strip().endswith("OK"), result.stdout


def test_containers_are_labelled_unprivileged_and_isolated(configured_lab):
    api = configured_lab.engine.api
    for host in configured_lab.hosts():
        info = api.inspect_container(host.container)
        cfg = info["Config"]["Labels"]
        assert cfg[labels.LAB] == "it-conf" and cfg[labels.HOST] == host.name and cfg[labels.ROLE] in ("pc", "dns")
        assert info["HostConfig"]["Privileged"] is False
        assert not info["HostConfig"].get("PortBindings")
        if host.role == "pc":
            assert sorted(info["HostConfig"]["CapAdd"]) == ["CAP_NET_ADMIN", "CAP_SYS_ADMIN"] or sorted(
                info["HostConfig"]["CapAdd"]) == ["NET_ADMIN", "SYS_ADMIN"]
    network = api.inspect_network("labsim-it-conf")
    assert network["Internal"] is True and network["Labels"][labels.LAB] == "it-conf"
    routes = configured_lab.exec("pc5", "ip", "route").stdout
    assert "default" not in routes  # no route out of the lab


def test_configured_pcs_pass_every_configuration_check_and_apply_changes_nothing(configured_lab):
    check = configured_lab.cli("check", "--all", "--steps", "1-6")
    assert check.returncode == 0, check.stdout + check.stderr
    assert "✗" not in check.stdout
    before = configured_lab.exec("pc6", "sh", "-c", "md5sum /etc/postfix/main.cf /etc/dovecot/conf.d/*.conf /etc/firewalld/zones/*.xml").stdout
    out = configured_lab.cli("apply", "pc6", "--steps", "2-6", check=True).stdout
    assert out.count(": unchanged") == 5, out
    after = configured_lab.exec("pc6", "sh", "-c", "md5sum /etc/postfix/main.cf /etc/dovecot/conf.d/*.conf /etc/firewalld/zones/*.xml").stdout
    assert before == after


def test_up_again_converges_without_duplicates(engine, configured_lab):
    plan = parse_plan(CONFIGURED, "lab.yml")
    result = lab_ops.up(engine, plan)
    assert result.created == [] and result.recreated == []
    assert result.images_built == []  # nothing changed: nothing rebuilt
    assert sorted(result.unchanged) == ["ns", "pc12", "pc5", "pc6", "pc7"]
    assert len(engine.containers(labels.lab_filter("it-conf"))) == 5


LIFECYCLE = """\
name: it-life
domain: t3.metro-cit.ac.jp
subnet: 10.213.3.0/24
distro: debian
stage: initial
pcs:
  - range: 1-2
"""


def _objects(engine, lab):
    return (
        engine.containers(labels.lab_filter(lab)),
        engine.networks(labels.lab_filter(lab)),
        engine.volumes(labels.lab_filter(lab)),
    )


def test_lifecycle_converge_down_keeps_volumes_purge_removes_all(engine, tmp_path):
    purge(engine, "it-life")
    topo = tmp_path / "life.yml"
    topo.write_text(LIFECYCLE)
    labsim("up", str(topo), "--quiet", check=True)
    # a changed host is recreated, the others stay
    topo.write_text(LIFECYCLE.replace("  - range: 1-2\n", "  - name: pc1\n  - name: pc2\n    users: [user2, guest]\n"))
    plan = parse_plan(topo.read_text(), str(topo))
    result = lab_ops.up(engine, plan)
    assert result.recreated == ["pc2"] and sorted(result.unchanged) == ["ns", "pc1"]
    # mail in a home survives down / up
    engine.exec("labsim-it-life-pc1", ["sh", "-c", "echo kept > /home/user1/note && chown user1 /home/user1/note"])
    labsim("down", "it-life", check=True)
    containers, networks, volumes = _objects(engine, "it-life")
    assert not containers and not networks and len(volumes) == 4
    labsim("up", str(topo), "--quiet", check=True)
    assert engine.exec("labsim-it-life-pc1", ["cat", "/home/user1/note"]).stdout.strip() == "kept"
    labsim("down", "it-life", "--purge", check=True)
    assert _objects(engine, "it-life") == ([], [], [])


def test_failed_up_removes_what_it_created(engine, monkeypatch):
    purge(engine, "it-fail")
    plan = parse_plan(LIFECYCLE.replace("it-life", "it-fail").replace("10.213.3.", "10.213.4."), "fail.yml")
    real_start = engine.start
    calls = []

    def failing_start(name):
        calls.append(name)
        if len(calls) == 2:
            raise LabsimError(f"cannot start container {name}: injected failure")
        return real_start(name)

    monkeypatch.setattr(engine, "start", failing_start)
    with pytest.raises(LabsimError, match="injected failure"):
        lab_ops.up(engine, plan, workers=1)
    assert _objects(engine, "it-fail") == ([], [], [])


def test_overlapping_subnet_is_refused_before_anything_is_created(engine, configured_lab, tmp_path):
    topo = tmp_path / "overlap.yml"
    topo.write_text(LIFECYCLE.replace("it-life", "it-overlap").replace("10.213.3.0/24", "10.213.1.0/24"))
    result = labsim("up", str(topo), "--quiet")
    assert result.returncode == 2
    assert "overlaps Docker network 'labsim-it-conf'" in result.stderr and "overlap.yml:3:" in result.stderr
    assert _objects(engine, "it-overlap") == ([], [], [])


def test_two_labs_side_by_side(configured_lab, initial_lab):
    both = labsim("status", "--json")
    assert both.returncode == 2 and "several labs are up" in both.stderr
    assert json.loads(initial_lab.cli("status", "--json", check=True).stdout)["stage"] == "initial"
    assert json.loads(configured_lab.cli("status", "--json", check=True).stdout)["stage"] == "configured"


def test_shell_gives_a_students_login_on_a_terminal(configured_lab):
    import subprocess
    import sys

    command = f"{sys.executable} -m labsim shell pc12 --user saito --lab it-conf"
    result = subprocess.run(["script", "-qec", command, "/dev/null"], input="whoami; pwd; exit\n",
                            capture_output=True, text=True, timeout=60)
    out = result.stdout.replace("\r", "")
    assert "\nsaito\n/home/saito\n" in out, out
    refused = configured_lab.cli("shell", "pc12", "--user", "user5")
    assert refused.returncode == 2 and "pc12 has no user 'user5'" in refused.stderr


def test_unavailable_base_image_is_one_line_and_creates_nothing(engine, tmp_path):
    topo = tmp_path / "centos.yml"
    topo.write_text(LIFECYCLE.replace("it-life", "it-centos").replace("10.213.3.", "10.213.6.").replace("distro: debian", "distro: centos"))
    result = labsim("up", str(topo), "--quiet")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "base image quay.io/centos/centos:stream9 is not present" in result.stderr and "distro: debian" in result.stderr
    assert _objects(engine, "it-centos") == ([], [], [])


def test_auto_distro_falls_back_to_debian_and_says_why(engine):
    from labsim.images import choose_distro

    choice = choose_distro(engine, "auto")
    assert choice.profile.name == "debian" and "CentOS base image" in choice.reason


def test_unknown_hosts_in_send(configured_lab):
    result = configured_lab.cli("exercise", "send", "pc5", "pc99")
    assert result.returncode == 2 and "no host 'pc99'" in result.stderr and "Traceback" not in result.stderr
    result = configured_lab.cli("exercise", "send", "user9@pc5", "pc6")
    assert result.returncode == 2 and "pc5 has no user 'user9'" in result.stderr

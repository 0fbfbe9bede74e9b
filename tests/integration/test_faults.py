"""Issue 6 (reliability part): no mail is lost and no lab is left broken when something fails.

Real containers, no mocks. Each scenario breaks one thing the way it breaks in a classroom (a
classmate's Postfix stopped, a classmate's PC switched off, the DNS server down, the lab taken down
and brought up again, Ctrl-C during `labsim up`) and then checks what a user would check: the
sender's queue (`postqueue -j`), the recipient's Maildir (each message there exactly once), the
command's exit code and message, and what is left on the engine (by the lab's label).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter

import pytest

from labsim import labels
from labsim.readiness import wait_dns, wait_pc
from labsim.state import remove_state

from .conftest import bring_up, labsim, purge

DOMAIN = "t3.metro-cit.ac.jp"
BATCH = 20  # messages per scenario


def topology(name: str, third: int, pcs: str = "1-2") -> str:
    """A configured Debian lab on 10.213.<third>.0/24 (only 10.213.50-59 are used by this module)."""
    assert 50 <= third <= 59
    return (
        f"name: {name}\n"
        f"domain: {DOMAIN}\n"
        f"subnet: 10.213.{third}.0/24\n"
        "distro: debian\n"
        "stage: configured\n"
        "dns:\n"
        "  records:\n"
        f"    smtp: 10.213.{third}.10\n"
        "pcs:\n"
        f"  - range: {pcs}\n"
    )


def leftovers(engine, name: str) -> dict[str, list[str]]:
    """Every Docker object carrying the lab's label."""
    flt = labels.lab_filter(name)
    return {
        "containers": sorted(c.name for c in engine.containers(flt)),
        "networks": sorted(n.name for n in engine.networks(flt)),
        "volumes": sorted(engine.volumes(flt)),
    }


def purge_all(engine, name: str) -> None:
    """`down --purge`, plus volumes that outlived their containers (down without --purge)."""
    purge(engine, name)
    for volume in engine.volumes(labels.lab_filter(name)):
        engine.remove_volume(volume)
    remove_state(name)


# ---------------------------------------------------------------------------------------- helpers


def addr(user: str, n: int) -> str:
    return f"{user}@pc{n}.s{n}.{DOMAIN}"


def poll(lab, host: str, condition: str, timeout: int = 120) -> bool:
    """Wait inside the PC (bounded loop, no fixed sleep) until the shell condition holds."""
    script = f"end=$((SECONDS+{timeout})); until {condition}; do [ $SECONDS -ge $end ] && exit 1; sleep 0.2; done"
    return lab.exec(host, "bash", "-c", script).ok


def queue(lab, host: str) -> list[dict]:
    """The PC's mail queue as `postqueue -j` shows it, one dict per message."""
    out = lab.exec(host, "postqueue", "-j").stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def wait_queue_empty(lab, host: str, timeout: int = 180) -> bool:
    return poll(lab, host, '[ -z "$(postqueue -j)" ]', timeout)


def wait_deferred(lab, host: str, count: int, timeout: int = 180) -> bool:
    """Until at least ``count`` messages sit in the deferred queue (delivery tried and postponed)."""
    return poll(lab, host, f'[ "$(postqueue -j | grep -c \'"queue_name": "deferred"\')" -ge {count} ]', timeout)


def submit(lab, src: int, dst: int, tag: str, numbers: list[int]) -> list[str]:
    """userSRC on pcSRC submits one message per number with /usr/sbin/sendmail, as a student would; each
    has its own Subject and Message-ID. Returns the Message-IDs."""
    fqdn = f"pc{src}.s{src}.{DOMAIN}"
    rcpt = addr(f"user{dst}", dst)
    nums = " ".join(f"{i:02d}" for i in numbers)
    script = (
        f"for i in {nums}; do "
        f'printf "From: {addr(f"user{src}", src)}\\nTo: {rcpt}\\nSubject: {tag} n$i\\nMessage-ID: <{tag}.$i@{fqdn}>\\n\\n'
        f'message $i of {tag}\\n" | /usr/sbin/sendmail -i {rcpt} || exit 1; done'
    )
    result = lab.cli("exec", f"pc{src}", "--user", f"user{src}", "--", "sh", "-c", script)
    assert result.returncode == 0, result.stderr
    return [f"<{tag}.{i:02d}@{fqdn}>" for i in numbers]


def maildir_ids(lab, host: str, user: str) -> Counter:
    """Message-ID of every message file in the user's Maildir (new and cur), read from its header only."""
    script = (
        f"for f in /home/{user}/Maildir/new/* /home/{user}/Maildir/cur/*; do [ -f \"$f\" ] || continue; "
        "sed -n '/^$/q; s/^[Mm][Ee][Ss][Ss][Aa][Gg][Ee]-[Ii][Dd]: *//p' \"$f\"; done"
    )
    return Counter(line.strip() for line in lab.exec(host, "sh", "-c", script).stdout.splitlines() if line.strip())


def maildir_files(lab, host: str, user: str) -> int:
    out = lab.exec(host, "sh", "-c", f"ls /home/{user}/Maildir/new /home/{user}/Maildir/cur 2>/dev/null | grep -c '^[0-9]'").stdout
    return int(out.strip() or 0)


def assert_each_once(lab, host: str, user: str, ids: list[str]) -> None:
    seen = maildir_ids(lab, host, user)
    wrong = {i: seen.get(i, 0) for i in ids if seen.get(i, 0) != 1}
    assert not wrong, f"messages not in {user}'s Maildir on {host} exactly once (id: copies): {wrong}"


def send_json(lab, *args: str) -> tuple[int, dict, str]:
    result = lab.cli("exercise", "send", *args, "--json")
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        raise AssertionError(f"`labsim exercise send {' '.join(args)}` gave no report ({result.returncode}): "
                             f"{result.stdout}{result.stderr}") from None
    return result.returncode, report, result.stderr


def queued_message_id(report: dict) -> str:
    """The Message-ID of the message a failed `exercise send` left queued, from the relay hop's log lines
    (the report's message_id is only filled in when the exchange is verified)."""
    relay = next(h for h in report["hops"] if h["name"] == "relay")
    found = [line.split("message-id=", 1)[1].split()[0] for line in relay["lines"] if "message-id=" in line]
    assert len(found) == 1, relay["lines"]
    return found[0]


def flush_and_drain(lab, host: str = "pc1", timeout: int = 180) -> None:
    """`labsim exercise flush HOST`, then wait (in the PC) until its queue is empty."""
    result = lab.cli("exercise", "flush", host, check=True)
    assert f"{host}: flushed" in result.stdout
    assert wait_queue_empty(lab, host, timeout), f"{host}'s queue did not drain after the flush: {queue(lab, host)}"


def precondition_empty_queue(lab, host: str = "pc1") -> None:
    """Start from an empty queue so that what is queued afterwards is this test's mail."""
    if queue(lab, host):
        lab.cli("exercise", "flush", host)
    assert wait_queue_empty(lab, host, 120), queue(lab, host)


def ensure_running(lab, host: str) -> None:
    """Bring a host the test stopped back (used in finally blocks)."""
    info = lab.host(host)
    if info.state != "running":
        lab.engine.api.start(info.container)
    if info.role == labels.ROLE_DNS:
        wait_dns(lab.engine, info.container, host, DOMAIN)
    else:
        lab.exec(host, "systemctl", "start", "postfix")
        wait_pc(lab.engine, info.container, host, need_pop3=True)


# ---------------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def fault_lab(engine, tmp_path_factory):
    """pc1, pc2 and the DNS server, configured (steps 1-6), for the outage scenarios."""
    purge_all(engine, "it-fault")
    lab = bring_up(engine, tmp_path_factory, topology("it-fault", 50))
    yield lab
    purge_all(engine, "it-fault")


@pytest.fixture(scope="module")
def keep_lab(engine, tmp_path_factory):
    """A lab that is taken down (without --purge) and brought up again."""
    purge_all(engine, "it-fault-keep")
    lab = bring_up(engine, tmp_path_factory, topology("it-fault-keep", 51))
    yield lab
    purge_all(engine, "it-fault-keep")


@pytest.fixture(scope="module")
def interrupted_topology(engine, tmp_path_factory):
    """The topology file of a lab whose `up` gets Ctrl-C (3 PCs, so creation takes a moment)."""
    name = "it-fault-intr"
    path = tmp_path_factory.mktemp("topo-intr") / "lab.yml"
    path.write_text(topology(name, 52, "1-3"))
    purge_all(engine, name)
    yield name, path
    purge_all(engine, name)


# ---------------------------------------------------------------------------------------- 1-3: outages


def test_postfix_stopped_on_recipient_then_all_delivered_once(fault_lab):
    lab = fault_lab
    tag = f"pfstop-{uuid.uuid4().hex[:8]}"
    precondition_empty_queue(lab)
    before = maildir_files(lab, "pc2", "user2")
    assert lab.exec("pc2", "systemctl", "stop", "postfix").ok
    try:
        # the student's exchange stops at the relay and says why, in the lab's terms
        code, report, err = send_json(lab, "pc1", "pc2", "--no-reply", "--timeout", "5")
        assert code == 1, report
        assert [h["name"] for h in report["hops"]] == ["dns", "smtp", "relay"]
        for text in (report["failure"], err):
            assert "deferred" in text and "connection refused" in text.lower(), text
        assert "labsim exercise flush pc1" in report["fix"]
        ids = [queued_message_id(report)] + submit(lab, 1, 2, tag, list(range(2, BATCH + 1)))

        # all 20 wait in pc1's queue: deferred, for user2@pc2, because pc2 refused the connection
        assert wait_deferred(lab, "pc1", BATCH), queue(lab, "pc1")
        queued = queue(lab, "pc1")
        assert len(queued) == BATCH
        assert all(q["queue_name"] == "deferred" for q in queued)
        for q in queued:
            (rcpt,) = q["recipients"]
            assert rcpt["address"] == addr("user2", 2)
            assert "Connection refused" in rcpt["delay_reason"], rcpt
        mailq = lab.cli("exec", "pc1", "--", "mailq", check=True).stdout
        assert f"in {BATCH} Requests" in mailq
        assert maildir_files(lab, "pc2", "user2") == before
    finally:
        lab.exec("pc2", "systemctl", "start", "postfix")

    flush_and_drain(lab)
    assert_each_once(lab, "pc2", "user2", ids)
    assert maildir_files(lab, "pc2", "user2") == before + BATCH


def test_recipient_pc_switched_off_then_all_delivered_once(fault_lab):
    lab = fault_lab
    tag = f"pcoff-{uuid.uuid4().hex[:8]}"
    precondition_empty_queue(lab)
    before = maildir_files(lab, "pc2", "user2")
    pc2 = lab.host("pc2")
    lab.engine.api.stop(pc2.container, timeout=30)
    try:
        assert lab.host("pc2").state == "exited"
        # `labsim status` tells the truth about pc2
        status = json.loads(lab.cli("status", "--json", check=True).stdout)
        assert {h["name"]: (h["state"], h["services"]) for h in status["hosts"]}["pc2"] == ("exited", {})
        ids = submit(lab, 1, 2, tag, list(range(1, BATCH + 1)))

        # every attempt to reach the switched-off PC times out and is deferred (Postfix waits 30 s per connect)
        assert wait_deferred(lab, "pc1", BATCH, timeout=240), queue(lab, "pc1")
        queued = queue(lab, "pc1")
        assert len(queued) == BATCH and all(q["queue_name"] == "deferred" for q in queued)
        assert all(q["recipients"][0]["address"] == addr("user2", 2) for q in queued)
    finally:
        lab.engine.api.start(pc2.container)
        ready = wait_pc(lab.engine, pc2.container, "pc2", need_pop3=True)
    assert ready.ready, ready.detail

    flush_and_drain(lab)
    assert_each_once(lab, "pc2", "user2", ids)
    assert maildir_files(lab, "pc2", "user2") == before + BATCH


def test_send_to_a_switched_off_pc_says_the_message_is_queued(fault_lab):
    lab = fault_lab
    precondition_empty_queue(lab)
    pc2 = lab.host("pc2")
    lab.engine.api.stop(pc2.container, timeout=30)
    try:
        code, report, err = send_json(lab, "pc1", "pc2", "--no-reply", "--timeout", "5")
        assert code == 1, report
        assert [h["name"] for h in report["hops"]] == ["dns", "smtp", "relay"]
        assert "queued" in report["failure"] or "deferred" in report["failure"], report["failure"]
        assert report["failure"] in err
    finally:
        lab.engine.api.start(pc2.container)
        wait_pc(lab.engine, pc2.container, "pc2", need_pop3=True)
        lab.cli("exercise", "flush", "pc1")
        wait_queue_empty(lab, "pc1")


def test_dns_server_down_defers_not_bounces_then_delivered_once(fault_lab):
    lab = fault_lab
    tag = f"dnsoff-{uuid.uuid4().hex[:8]}"
    precondition_empty_queue(lab)
    before = maildir_files(lab, "pc2", "user2")
    bounces_before = maildir_files(lab, "pc1", "user1")
    ns = lab.host("ns")
    lab.engine.api.stop(ns.container, timeout=10)
    try:
        ids = submit(lab, 1, 2, tag, list(range(1, BATCH + 1)))
        assert wait_deferred(lab, "pc1", BATCH, timeout=240), queue(lab, "pc1")
        queued = queue(lab, "pc1")
        assert len(queued) == BATCH and all(q["queue_name"] == "deferred" for q in queued)
        for q in queued:
            reason = q["recipients"][0]["delay_reason"]
            assert "Host or domain name not found" in reason and "try again" in reason, reason
        # the log says deferred (a temporary failure), never bounced
        qids = {q["queue_id"] for q in queued}
        log = lab.exec("pc1", "journalctl", "--no-pager", "-o", "cat").stdout
        ours = [line for line in log.splitlines() if line.split(":", 1)[0] in qids]
        assert {line.split(":", 1)[0] for line in ours if "status=deferred" in line} == qids
        assert not [line for line in ours if "status=bounced" in line or "non-delivery notification" in line]
    finally:
        lab.engine.api.start(ns.container)
        ready = wait_dns(lab.engine, ns.container, "ns", DOMAIN)
    assert ready.ready, ready.detail

    flush_and_drain(lab)
    assert_each_once(lab, "pc2", "user2", ids)
    assert maildir_files(lab, "pc2", "user2") == before + BATCH
    # no bounce came back to the sender
    assert maildir_files(lab, "pc1", "user1") == bounces_before
    # and the lab works as before: the full exchange, both ways
    code, report, _ = send_json(lab, "pc1", "pc2")
    assert code == 0, report["failure"]


# ---------------------------------------------------------------------------------------- 4: down / up


def test_down_then_up_keeps_mailboxes_and_queued_mail(keep_lab):
    lab = keep_lab
    tag = f"keep-{uuid.uuid4().hex[:8]}"
    # a message already delivered to pc2, and a file of the student's own
    code, report, _ = send_json(lab, "pc1", "pc2", "--no-reply")
    assert code == 0, report["failure"]
    delivered = report["message_id"]
    assert lab.exec("pc2", "sh", "-c", "echo 'my notes' > /home/user2/notes.txt && chown user2: /home/user2/notes.txt").ok
    # mail queued on pc1 because pc2's Postfix is stopped
    precondition_empty_queue(lab)
    assert lab.exec("pc2", "systemctl", "stop", "postfix").ok
    queued_ids = submit(lab, 1, 2, tag, list(range(1, 6)))
    assert wait_deferred(lab, "pc1", 5), queue(lab, "pc1")
    queue_ids = {q["queue_id"] for q in queue(lab, "pc1")}
    assert len(queue_ids) == 5

    down = labsim("down", lab.name)
    assert down.returncode == 0, down.stderr
    assert "volumes kept" in down.stdout
    left = leftovers(lab.engine, lab.name)
    assert left["containers"] == [] and left["networks"] == []
    assert left["volumes"] == sorted(f"labsim-{lab.name}-pc{n}-{kind}" for n in (1, 2) for kind in ("home", "spool"))

    up = labsim("up", str(lab.topology), "--quiet")
    assert up.returncode == 0, up.stderr
    assert f"lab {lab.name} is up (3 created" in up.stdout
    status = json.loads(lab.cli("status", "--json", check=True).stdout)
    assert {h["name"]: h["state"] for h in status["hosts"]} == {"ns": "running", "pc1": "running", "pc2": "running"}

    # the Maildir and the home survived; the queued mail is still queued (same queue files)
    assert_each_once(lab, "pc2", "user2", [delivered])
    assert lab.exec("pc2", "cat", "/home/user2/notes.txt").stdout == "my notes\n"
    assert {q["queue_id"] for q in queue(lab, "pc1")} == queue_ids
    # the recreated PCs are configured again (steps re-applied), so the queue now drains to pc2
    flush_and_drain(lab)
    assert_each_once(lab, "pc2", "user2", [delivered] + queued_ids)
    code, report, _ = send_json(lab, "pc1", "pc2")
    assert code == 0, report["failure"]


def test_purge_after_down_removes_the_kept_volumes(keep_lab):
    lab = keep_lab
    down = labsim("down", lab.name)
    assert down.returncode == 0, down.stderr
    assert leftovers(lab.engine, lab.name)["volumes"]  # kept, as documented
    purged = labsim("down", lab.name, "--purge")
    left = leftovers(lab.engine, lab.name)
    assert purged.returncode == 0, purged.stderr
    assert left == {"containers": [], "networks": [], "volumes": []}, left


# ---------------------------------------------------------------------------------------- 5: Ctrl-C


def interrupt_up(engine, name: str, path) -> tuple[subprocess.CompletedProcess, dict[str, list[str]], dict[str, list[str]]]:
    """`labsim up` with Ctrl-C (SIGINT) while its containers are being created.

    Returns the finished process, what existed when the signal was sent and what is left after."""
    proc = subprocess.Popen([sys.executable, "-m", "labsim", "up", str(path), "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 900  # building images the first time takes minutes
        while not engine.containers(labels.lab_filter(name)):
            if proc.poll() is not None or time.monotonic() > deadline:
                out, err = proc.communicate()
                pytest.fail(f"`labsim up` ended ({proc.returncode}) before creating a container:\n{out}\n{err}")
            time.sleep(0.05)
        at_signal = leftovers(engine, name)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=600)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err), at_signal, leftovers(engine, name)


def test_interrupted_up_leaves_nothing_and_up_again_works(engine, interrupted_topology):
    name, path = interrupted_topology
    done, at_signal, after = interrupt_up(engine, name, path)
    assert at_signal["containers"], "the signal was sent while containers were being created"
    assert done.returncode != 0, done.stdout
    assert "Traceback" not in done.stderr, done.stderr

    # the user runs `labsim down`: it removes what is left, or says there is nothing
    down = labsim("down", name)
    assert "Traceback" not in down.stderr, down.stderr
    assert down.returncode == 0 or (down.returncode == 2 and f"no lab named '{name}'" in down.stderr), down.stderr
    if any(leftovers(engine, name).values()):
        purged = labsim("down", name, "--purge")
        assert "Traceback" not in purged.stderr, purged.stderr
    assert leftovers(engine, name) == {"containers": [], "networks": [], "volumes": []}, (after, down.stdout)

    up = labsim("up", str(path), "--quiet")
    assert up.returncode == 0, up.stderr
    status = json.loads(labsim("status", "--json", "--lab", name, check=True).stdout)
    assert [(h["name"], h["state"]) for h in status["hosts"]] == [
        ("ns", "running"), ("pc1", "running"), ("pc2", "running"), ("pc3", "running")]
    for host in status["hosts"]:
        assert set(host["services"].values()) <= {"active", "answering"}, host
    send = labsim("exercise", "send", "--lab", name, "pc1", "pc3", "--no-reply")
    assert send.returncode == 0, send.stderr
    # and the interrupted run had already removed what it created, as the README promises
    assert after == {"containers": [], "networks": [], "volumes": []}, after


def test_interrupted_up_says_so_in_one_line(engine, interrupted_topology):
    name, path = interrupted_topology
    purge_all(engine, name)
    done, _, _ = interrupt_up(engine, name, path)
    purge_all(engine, name)
    assert done.returncode == 130
    assert "interrupted" in done.stderr, repr(done.stderr)

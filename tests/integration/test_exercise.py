"""Issue 4: mail really crosses from one PC's Postfix to another's and comes back by POP3."""

import json

from labsim.exercise.send import send_exercise


def _send(lab, *args):
    result = lab.cli("exercise", "send", *args, "--json")
    return result.returncode, json.loads(result.stdout), result.stderr


def test_send_and_reply_verified_both_ways(configured_lab):
    code, report, _ = _send(configured_lab, "pc5", "pc6")
    assert code == 0 and report["ok"] is True
    hops = [(h["name"], h["host"]) for h in report["hops"]]
    assert hops == [("dns", "pc5"), ("smtp", "pc5"), ("relay", "pc5"), ("delivery", "pc6"), ("pop3", "pc6"),
                    ("dns", "pc6"), ("smtp", "pc6"), ("relay", "pc6"), ("delivery", "pc5"), ("pop3", "pc5")]
    relay = next(h for h in report["hops"] if h["name"] == "relay")
    assert any("relay=pc6.s6.t3.metro-cit.ac.jp[10.213.1.106]:25" in line and "status=sent" in line for line in relay["lines"])
    delivery = next(h for h in report["hops"] if h["name"] == "delivery")
    assert any("delivered to maildir" in line for line in delivery["lines"])
    pop = next(h for h in report["hops"] if h["name"] == "pop3")
    assert "C: PASS ********" in pop["lines"] and not any(configured_lab.password("pc6", "user6") in l for l in pop["lines"])
    assert any("clear text" in line for line in pop["lines"])
    dns = report["hops"][0]["lines"]
    assert any("MX" in line and "no MX record" in line for line in dns)
    # the message is really in user6's Maildir, and the reply in user5's
    assert report["message_id"].strip("<>") in configured_lab.exec("pc6", "sh", "-c", "cat /home/user6/Maildir/*/*").stdout
    reply = configured_lab.exec("pc5", "sh", "-c", "grep -l 'In-Reply-To: " + report["message_id"] + "' /home/user5/Maildir/*/*")
    assert reply.ok


def test_transcript_for_a_student(configured_lab):
    result = configured_lab.cli("exercise", "send", "pc6", "pc7", "--no-reply", check=True)
    out = result.stdout
    for expected in ("C: EHLO pc6.s6.t3.metro-cit.ac.jp", "S: 220 pc6.s6.t3.metro-cit.ac.jp ESMTP Postfix",
                     "C: RCPT TO:<user7@pc7.s7.t3.metro-cit.ac.jp>", "queued as", "C: USER user7", "C: PASS ********",
                     "verified"):
        assert expected in out, expected


def test_a_user_other_than_userN(configured_lab):
    code, report, err = _send(configured_lab, "saito@pc12", "user5@pc5")
    assert code == 0, (report.get("failure"), err)
    assert report["src"] == "saito@pc12.s12.t3.metro-cit.ac.jp"
    code, report, err = _send(configured_lab, "pc5", "user12@pc12", "--no-reply")
    assert code == 0, (report.get("failure"), err)


def test_matrix_on_four_pcs(configured_lab):
    result = configured_lab.cli("exercise", "matrix", "--json")
    report = json.loads(result.stdout)
    assert result.returncode == 0, report["errors"]
    assert report["sent"] == 12 and report["delivered"] == 12 and report["lost"] == 0
    text = configured_lab.cli("exercise", "matrix", "--pcs", "pc5,pc6", check=True).stdout
    assert "2/2 delivered, 0 lost" in text


def test_exercise_dig(configured_lab):
    result = configured_lab.cli("exercise", "dig", "pc5", check=True)
    assert "pop.s5.t3.metro-cit.ac.jp. 300 IN A 10.213.1.105" in result.stdout
    assert "pc12.s12.t3.metro-cit.ac.jp. 300 IN A 10.213.1.112" in result.stdout
    assert "pass" in result.stdout


def test_same_mailbox_is_refused(configured_lab):
    result = configured_lab.cli("exercise", "send", "pc5", "pc5")
    assert result.returncode == 2 and "same mailbox" in result.stderr


def test_firewall_closed_stops_at_the_relay_and_says_where(configured_lab):
    configured_lab.exec("pc6", "firewall-cmd", "--remove-service", "smtp")
    try:
        code, report, err = _send(configured_lab, "pc5", "pc6", "--no-reply", "--timeout", "10")
        assert code == 1
        assert report["failure"] == "deferred: pc6:25 refused by pc6's firewall"
        assert report["fix"] == "run firewall-cmd --add-service smtp on pc6 (step 2)"
        assert "pc6:25 refused by pc6's firewall" in err
        assert [h["name"] for h in report["hops"]] == ["dns", "smtp", "relay"]
    finally:
        configured_lab.exec("pc6", "firewall-cmd", "--add-service", "smtp")
    # the deferred message is not lost: a flush delivers it
    configured_lab.cli("exercise", "flush", "pc5", check=True)
    queued = configured_lab.exec("pc5", "sh", "-c", "for i in $(seq 50); do [ -z \"$(postqueue -j)\" ] && exit 0; sleep 0.2; done; exit 1")
    assert queued.ok


def test_dovecot_stopped(configured_lab):
    configured_lab.exec("pc7", "systemctl", "stop", "dovecot")
    try:
        code, report, _ = _send(configured_lab, "pc5", "pc7", "--no-reply")
        assert code == 1
        assert report["failure"] == "pop.s7.t3.metro-cit.ac.jp:110 refused: dovecot on pc7 is not running"
        assert "systemctl start dovecot.service (step 5)" in report["fix"]
    finally:
        configured_lab.exec("pc7", "systemctl", "start", "dovecot")


def test_dns_record_missing(configured_lab):
    ns = configured_lab.host("ns")
    zone_path = "/etc/bind/labsim/db.t3.metro-cit.ac.jp"
    original = configured_lab.engine.get_file(ns.container, zone_path)
    broken = b"\n".join(line for line in original.splitlines() if not line.startswith(b"pop.s6 ")) + b"\n"
    configured_lab.engine.put_files(ns.container, {zone_path: (broken, 0o644)})
    configured_lab.engine.api.restart(ns.container, timeout=2)
    try:
        _wait_dns(configured_lab)
        code, report, _ = _send(configured_lab, "pc5", "pc6", "--no-reply")
        assert code == 1
        assert report["failure"] == "pop.s6.t3.metro-cit.ac.jp does not resolve"
    finally:
        configured_lab.engine.put_files(ns.container, {zone_path: (original, 0o644)})
        configured_lab.engine.api.restart(ns.container, timeout=2)
        _wait_dns(configured_lab)


def _wait_dns(lab):
    from labsim.readiness import wait_dns

    ns = lab.host("ns")
    assert wait_dns(lab.engine, ns.container, "ns", "t3.metro-cit.ac.jp").ready


def test_wrong_password(configured_lab):
    src, dst = configured_lab.host("pc5"), configured_lab.host("pc6")
    report = send_exercise(configured_lab.engine, src, "user5", dst, "user6", lambda h, u: "not-the-password", reply=False)
    assert not report.ok
    assert report.failure.startswith("user6 POP3 login refused")
    assert "labsim status --users" in report.fix


def test_the_step6_mailer_sends_through_smtp_sN(configured_lab):
    sent = configured_lab.exec("pc7", "sh", "-c",
                               "echo 'written in mutt' | mutt -s 'mutt on pc7' user5@pc5.s5.t3.metro-cit.ac.jp 2>&1; echo rc=$?",
                               user="user7")
    assert "rc=0" in sent.stdout and "failed" not in sent.stdout, sent.stdout
    arrived = configured_lab.exec("pc5", "sh", "-c", "for i in $(seq 50); do grep -l 'Subject: mutt on pc7' "
                                  "/home/user5/Maildir/new/* 2>/dev/null && exit 0; sleep 0.1; done; exit 1")
    assert arrived.ok
    headers = configured_lab.exec("pc5", "sh", "-c", f"grep -E '^(From|Received):' {arrived.stdout.split()[0]}").stdout
    assert "user7@pc7.s7.t3.metro-cit.ac.jp" in headers and "from pc7.s7.t3.metro-cit.ac.jp" in headers

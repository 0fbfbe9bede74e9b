"""The step edits on the real stock main.cf: the report's lines and nothing else, idempotent, hand-edit safe."""

import difflib
from pathlib import Path

from labsim.profiles import get_profile
from labsim.steps.catalog import muttrc, parse_steps, steps_for
from labsim.steps.edits import apply_edit, edit_state

STOCK = (Path(__file__).parent / "fixtures" / "main.cf.debian-stock").read_text()
CONTEXT = {"fqdn": "pc5.s5.t3.metro-cit.ac.jp", "subnet": "192.168.0.0/24"}
REPORT_LINES = {
    "+myhostname = pc5.s5.t3.metro-cit.ac.jp",
    "-#myorigin = $mydomain", "+myorigin = $mydomain",
    "-#inet_interfaces = all", "+inet_interfaces = all",
    "-inet_interfaces = localhost", "+#inet_interfaces = localhost",
    "-mydestination = $myhostname, localhost.$mydomain, localhost",
    "+#mydestination = $myhostname, localhost.$mydomain, localhost",
    "-#mydestination = $myhostname, localhost.$mydomain, localhost, $mydomain",
    "+mydestination = $myhostname, localhost.$mydomain, localhost, $mydomain",
    "-#mynetworks = 168.100.3.0/28, 127.0.0.0/8", "+mynetworks = 192.168.0.0/24, 127.0.0.0/8",
    "-#home_mailbox = Maildir/", "+home_mailbox = Maildir/",
}


def _edits():
    return [e.render(CONTEXT) for e in steps_for(get_profile("debian"))[3].edits]


def _apply_all(text):
    for edit in _edits():
        text, _ = apply_edit(text, edit)
    return text


def _changed_lines(before, after):
    return {
        line for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    }


def test_step3_diff_against_stock_shows_only_the_reports_lines():
    after = _apply_all(STOCK)
    assert _changed_lines(STOCK, after) == REPORT_LINES
    lines = after.splitlines()
    # added below the anchor, as the report says
    assert lines[lines.index("#myhostname = virtual.domain.tld") + 1] == "myhostname = pc5.s5.t3.metro-cit.ac.jp"


def test_every_edit_is_pending_on_stock_and_done_after():
    after = _apply_all(STOCK)
    for edit in _edits():
        assert edit_state(after, edit).done, edit
    pending = [e for e in _edits() if not edit_state(STOCK, e).done]
    assert len(pending) == len(_edits())


def test_applying_twice_changes_nothing():
    once = _apply_all(STOCK)
    for edit in _edits():
        again, changed = apply_edit(once, edit)
        assert not changed and again == once


def test_hand_edits_then_apply_leave_each_line_once():
    by_hand = STOCK.replace("#myhostname = virtual.domain.tld\n", "#myhostname = virtual.domain.tld\nmyhostname=pc5.s5.t3.metro-cit.ac.jp\n")
    by_hand = by_hand.replace("#home_mailbox = Maildir/", "home_mailbox = Maildir/")
    by_hand = by_hand.replace("inet_interfaces = localhost\n", "inet_interfaces = all\n")  # a shortcut, not the report's way
    after = _apply_all(by_hand)
    active = [line for line in after.splitlines() if line and not line.startswith("#")]
    for key in ("myhostname", "home_mailbox", "inet_interfaces", "mydestination", "mynetworks", "myorigin"):
        assert sum(1 for line in active if line.replace(" ", "").startswith(key + "=")) == 1, key


def test_a_wrong_value_is_changed_in_place_not_duplicated():
    text = _apply_all(STOCK).replace("mynetworks = 192.168.0.0/24, 127.0.0.0/8", "mynetworks = 10.0.0.0/8")
    edit = next(e for e in _edits() if e.key == "mynetworks")
    state = edit_state(text, edit)
    assert not state.done and "mynetworks = 10.0.0.0/8" in state.problem and "line" in state.fix
    fixed, changed = apply_edit(text, edit)
    assert changed and fixed.count("\nmynetworks =") == 1 and "mynetworks = 192.168.0.0/24, 127.0.0.0/8" in fixed


def test_dovecot_edits_follow_the_report():
    steps = steps_for(get_profile("debian"))[5]
    mail = "#mail_location = \n#mail_location = maildir:~/Maildir\n"
    ssl = "ssl = required\nssl_cert = </etc/dovecot/private/dovecot.pem\n"
    auth = "#disable_plaintext_auth = yes\n"
    files = {e.path: t for e, t in zip(steps.edits, (mail, auth, ssl))}
    for edit in steps.edits:
        after, changed = apply_edit(files[edit.path], edit)
        assert changed and edit.value in after.splitlines()
    assert apply_edit(mail, steps.edits[0])[0].splitlines()[:2] == ["#mail_location = ", "mail_location = maildir:~/Maildir"]
    assert steps.firewall == ("--add-port=110/tcp",)
    assert steps.systemctl == (("start", "dovecot.service"), ("enable", "dovecot.service"))


def test_profiles_share_the_report_steps():
    debian, centos = steps_for(get_profile("debian")), steps_for(get_profile("centos"))
    assert [e.value for e in debian[3].edits] == [e.value for e in centos[3].edits]
    assert get_profile("centos").install_dovecot == ("yum", "install", "-y", "dovecot")


def test_parse_steps_and_mailer():
    assert parse_steps(None, None) == (1, 2, 3, 4, 5, 6, 7)
    assert parse_steps(3, None) == (3,)
    assert parse_steps(None, "2-4") == (2, 3, 4)
    rc = muttrc("user5", "pc5.s5.t3.metro-cit.ac.jp", "smtp.s5.t3.metro-cit.ac.jp", "pop.s5.t3.metro-cit.ac.jp")
    assert 'set from = "user5@pc5.s5.t3.metro-cit.ac.jp"' in rc
    assert 'smtp_url = "smtp://smtp.s5.t3.metro-cit.ac.jp:25/"' in rc
    assert 'spoolfile = "pop://user5@pop.s5.t3.metro-cit.ac.jp:110/"' in rc

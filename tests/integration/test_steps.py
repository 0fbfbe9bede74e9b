"""Issue 3: PCs start like a fresh CentOS; apply does each step as the report did; check grades with hints."""

import difflib
import json

STOCK = "/usr/share/labsim/stock/etc/postfix/main.cf"


def _grades(lab, *args):
    result = lab.cli("check", *args, "--json")
    return result.returncode, json.loads(result.stdout)


def _failed(grades, host):
    return {(r["step"], r["name"]): r for g in grades["hosts"] if g["host"] == host for r in g["results"] if not r["ok"]}


def test_initial_pc_is_as_installed(initial_lab):
    assert initial_lab.exec("pc5", "cmp", "/etc/postfix/main.cf", STOCK).ok
    assert not initial_lab.exec("pc5", "sh", "-c", "command -v doveconf").ok  # Dovecot not installed
    assert initial_lab.exec("pc5", "postconf", "-h", "inet_interfaces").stdout.strip() == "localhost"
    zone = initial_lab.exec("pc5", "firewall-cmd", "--list-services").stdout.split()
    assert sorted(zone) == ["dhcpv6-client", "ssh"]
    main_cf = initial_lab.exec("pc5", "cat", "/etc/postfix/main.cf").stdout.splitlines()
    for line in ("#myhostname = virtual.domain.tld", "#myorigin = $mydomain", "#inet_interfaces = all",
                 "inet_interfaces = localhost", "mydestination = $myhostname, localhost.$mydomain, localhost",
                 "#mydestination = $myhostname, localhost.$mydomain, localhost, $mydomain", "#home_mailbox = Maildir/"):
        assert line in main_cf, line
    assert any(line.startswith("#mynetworks = ") for line in main_cf)


def test_checks_fail_on_an_initial_pc_with_the_right_hints(initial_lab):
    code, grades = _grades(initial_lab, "pc5", "--steps", "1-7")
    assert code == 1 and grades["passed"] is False
    failed = _failed(grades, "pc5")
    steps_failed = {step for step, _ in failed}
    assert steps_failed == {2, 3, 4, 5, 6, 7}
    assert failed[(2, "smtp allowed (runtime)")]["fix"] == "on pc5: firewall-cmd --add-service smtp"
    port = failed[(2, "port 25 from pc6")]
    assert "filtered by pc5's firewall" in port["message"]
    assert "#inet_interfaces = all" in failed[(3, "postconf inet_interfaces")]["fix"]
    assert "dovecot-pop3d" in failed[(4, "dovecot installed")]["fix"]
    assert failed[(5, "110/tcp open (runtime)")]["fix"] == "on pc5: firewall-cmd --add-port=110/tcp"
    assert "refused" in failed[(7, "exchange with pc6")]["message"]


def test_port_25_is_refused_from_another_pc_on_an_initial_pc(initial_lab):
    probe = initial_lab.exec("pc6", "bash", "-c", "timeout 4 bash -c '</dev/tcp/10.213.2.107/25' 2>&1; echo rc=$?")
    assert "No route to host" in probe.stdout and "rc=0" not in probe.stdout


def test_apply_all_steps_then_every_check_passes(initial_lab):
    initial_lab.cli("apply", "pc5", "pc6", "--steps", "1-6", check=True)
    initial_lab.cli("check", "pc5", "pc6", "--steps", "1-6", check=True)
    initial_lab.cli("apply", "pc5", "--step", "7", check=True)
    code, grades = _grades(initial_lab, "pc5", "--steps", "1-7")  # pc5's classmate for step 7 is pc6
    assert code == 0 and grades["passed"] is True, _failed(grades, "pc5")


def test_main_cf_diff_against_stock_shows_only_the_reports_lines(initial_lab):
    initial_lab.cli("apply", "pc5", "--step", "3", check=True)
    stock = initial_lab.exec("pc5", "cat", STOCK).stdout.splitlines()
    now = initial_lab.exec("pc5", "cat", "/etc/postfix/main.cf").stdout.splitlines()
    changed = {line for line in difflib.unified_diff(stock, now, lineterm="", n=0)
               if line[:1] in "+-" and not line.startswith(("+++", "---"))}
    assert changed == {
        "+myhostname = pc5.s5.t3.metro-cit.ac.jp",
        "-#myorigin = $mydomain", "+myorigin = $mydomain",
        "-#inet_interfaces = all", "+inet_interfaces = all",
        "-inet_interfaces = localhost", "+#inet_interfaces = localhost",
        "-mydestination = $myhostname, localhost.$mydomain, localhost",
        "+#mydestination = $myhostname, localhost.$mydomain, localhost",
        "-#mydestination = $myhostname, localhost.$mydomain, localhost, $mydomain",
        "+mydestination = $myhostname, localhost.$mydomain, localhost, $mydomain",
        "-#mynetworks = 168.100.3.0/28, 127.0.0.0/8", "+mynetworks = 10.213.2.0/24, 127.0.0.0/8",
        "-#home_mailbox = Maildir/", "+home_mailbox = Maildir/",
    }


def test_applying_twice_changes_nothing(initial_lab):
    before = initial_lab.exec("pc5", "sh", "-c", "md5sum /etc/postfix/main.cf /etc/dovecot/conf.d/*.conf /home/*/.muttrc").stdout
    out = initial_lab.cli("apply", "pc5", "--steps", "2-6", check=True).stdout
    assert out.count("unchanged") == 5 and "changed  " not in out.replace("unchanged", "")
    after = initial_lab.exec("pc5", "sh", "-c", "md5sum /etc/postfix/main.cf /etc/dovecot/conf.d/*.conf /home/*/.muttrc").stdout
    assert before == after
    fw = initial_lab.exec("pc5", "firewall-cmd", "--permanent", "--list-all").stdout
    assert fw.count("smtp") == 1


def test_the_reports_own_commands_pass_check(initial_lab):
    """pc7 is configured by hand, with the report's commands (sed in place of vi)."""
    cf = "/etc/postfix/main.cf"
    commands = [
        "dig smtp.s7.t3.metro-cit.ac.jp. && dig smtp.t3.metro-cit.ac.jp. && dig pop.s7.t3.metro-cit.ac.jp.",
        "firewall-cmd --add-service smtp && firewall-cmd --add-service smtp --permanent",
        f"sed -i 's|^#myhostname = virtual.domain.tld$|&\\nmyhostname = pc7.s7.t3.metro-cit.ac.jp|' {cf}",
        f"sed -i 's|^#myorigin = \\$mydomain|myorigin = $mydomain|' {cf}",
        f"sed -i 's|^#inet_interfaces = all|inet_interfaces = all|; s|^inet_interfaces = localhost|#&|' {cf}",
        f"sed -i 's|^mydestination = \\$myhostname, localhost.\\$mydomain, localhost$|#&|' {cf}",
        f"sed -i 's|^#\\(mydestination = \\$myhostname, localhost.\\$mydomain, localhost, \\$mydomain\\)$|\\1|' {cf}",
        f"sed -i '0,/^#mynetworks = .*/s||mynetworks = 10.213.2.0/24, 127.0.0.0/8|' {cf}",
        f"sed -i 's|^#home_mailbox = Maildir/|home_mailbox = Maildir/|' {cf}",
        "systemctl restart postfix.service",
        "yes | yum install dovecot",
        "sed -i 's|^#mail_location = $|&\\nmail_location = maildir:~/Maildir|' /etc/dovecot/conf.d/10-mail.conf",
        "sed -i 's|^#disable_plaintext_auth = yes|disable_plaintext_auth = no|' /etc/dovecot/conf.d/10-auth.conf",
        "sed -i 's|^ssl = required|ssl = no|' /etc/dovecot/conf.d/10-ssl.conf",
        "firewall-cmd --add-port=110/tcp && firewall-cmd --add-port=110/tcp --permanent",
        "systemctl start dovecot.service && systemctl enable dovecot.service",
    ]
    for command in commands:
        result = initial_lab.cli("exec", "pc7", "--", "bash", "-c", command)
        assert result.returncode == 0, (command, result.stdout[-500:], result.stderr[-500:])
    code, grades = _grades(initial_lab, "pc7", "--steps", "1-5")
    assert code == 0, _failed(grades, "pc7")
    # step 6 by hand is the mailer's configuration; apply does it, and then pc7 passes all seven
    initial_lab.cli("apply", "pc7", "--step", "6", check=True)
    initial_lab.cli("check", "pc7", "--steps", "6-7", check=True)


def test_hand_edits_then_apply_leave_each_line_once(initial_lab):
    cf = "/etc/postfix/main.cf"
    initial_lab.exec("pc6", "sed", "-i", "s/^myhostname = .*/myhostname=pc6.s6.t3.metro-cit.ac.jp/", cf)
    initial_lab.exec("pc6", "sh", "-c", f"echo 'home_mailbox = Maildir/' >> {cf}")
    initial_lab.cli("apply", "pc6", "--step", "3", check=True)
    active = [line for line in initial_lab.exec("pc6", "cat", cf).stdout.splitlines() if line and not line.startswith("#")]
    for key in ("myhostname", "myorigin", "inet_interfaces", "mydestination", "mynetworks"):
        assert sum(1 for line in active if line.replace(" ", "").startswith(key + "=")) == 1, key
    assert initial_lab.exec("pc6", "postconf", "-h", "home_mailbox").stdout.strip() == "Maildir/"


def test_check_all_prints_a_class_table(initial_lab):
    result = initial_lab.cli("check", "--all", "--steps", "1-6")
    assert "PC" in result.stdout and "pc5" in result.stdout and "✓" in result.stdout

"""What `up` puts into a configured PC before its first boot: one archive, the report's steps 2, 3, 5 as
files, step 6 as first-boot files; and how readiness reports a lab name that does not resolve."""

import io
import tarfile
from pathlib import Path

from labsim.containers import pc_spec
from labsim.engine import ExecResult
from labsim.engine.docker_engine import _tar
from labsim.profiles import get_profile
from labsim.readiness import wait_pc
from labsim.steps.offline import StockFiles, configured_files
from labsim.topology import parse_plan

MAIN_CF = (Path(__file__).parent / "fixtures" / "main.cf.debian-stock").read_text()
STOCK = {
    "/etc/postfix/main.cf": MAIN_CF,
    "/etc/dovecot/conf.d/10-mail.conf": "#mail_location = \n",
    "/etc/dovecot/conf.d/10-auth.conf": "#disable_plaintext_auth = yes\n",
    "/etc/dovecot/conf.d/10-ssl.conf": "ssl = required\n",
    "/usr/lib/firewalld/zones/public.xml": (
        '<?xml version="1.0" encoding="utf-8"?>\n<zone>\n  <short>Public</short>\n'
        '  <service name="ssh"/>\n  <service name="dhcpv6-client"/>\n</zone>\n'
    ),
}
TOPOLOGY = """\
name: unit
domain: t3.metro-cit.ac.jp
subnet: 192.168.10.0/24
stage: configured
pcs:
  - name: pc12
    users: [saito]
"""


def _read(reads):
    def read(container, path):
        reads.append(path)
        text = STOCK.get(path)
        return text.encode() if text is not None else None
    return read


def test_configured_files_are_the_reports_steps_2_3_5():
    prepared = configured_files("c", get_profile("debian"), {"fqdn": "pc5.s5.t3.metro-cit.ac.jp", "subnet": "192.168.10.0/24"}, _read([]))
    main_cf = prepared.files["/etc/postfix/main.cf"][0].decode()
    assert "\nmyhostname = pc5.s5.t3.metro-cit.ac.jp\n" in main_cf
    assert "\nmynetworks = 192.168.10.0/24, 127.0.0.0/8\n" in main_cf
    assert "\nhome_mailbox = Maildir/\n" in main_cf
    assert b"mail_location = maildir:~/Maildir" in prepared.files["/etc/dovecot/conf.d/10-mail.conf"][0]
    assert prepared.files["/etc/dovecot/conf.d/10-ssl.conf"][0] == b"ssl = no\n"
    zone = prepared.files["/etc/firewalld/zones/public.xml"][0].decode()
    assert '<service name="smtp"/>' in zone and '<port port="110" protocol="tcp"/>' in zone and '<service name="ssh"/>' in zone
    assert prepared.symlinks == {
        "/etc/systemd/system/multi-user.target.wants/dovecot.service": "/lib/systemd/system/dovecot.service"
    }


def test_stock_files_are_read_once_for_a_whole_class():
    reads = []

    class Engine:
        get_file = staticmethod(_read(reads))

    stock = StockFiles(Engine())
    for n in range(40):
        configured_files(f"pc{n}", get_profile("debian"), {"fqdn": f"pc{n}.x", "subnet": "192.168.10.0/24"}, stock.read)
    assert sorted(reads) == sorted(set(reads)), "a stock file was read more than once"



def test_stock_files_kept_under_the_image_id_spare_the_next_up_its_reads(tmp_path):
    reads = []

    class Engine:
        get_file = staticmethod(_read(reads))

    first = StockFiles(Engine(), tmp_path / "img1")
    configured_files("pc1", get_profile("debian"), {"fqdn": "pc1.x", "subnet": "192.168.10.0/24"}, first.read)
    assert reads and (tmp_path / "img1" / "etc/postfix/main.cf").is_file()
    reads.clear()
    second = StockFiles(Engine(), tmp_path / "img1")
    again = configured_files("pc2", get_profile("debian"), {"fqdn": "pc2.x", "subnet": "192.168.10.0/24"}, second.read)
    assert reads == [], "the second `up` read the image again although its stock files were kept"
    assert b"myhostname = pc2.x" in again.files["/etc/postfix/main.cf"][0]
    StockFiles(Engine(), tmp_path / "img2").read("pc3", "/etc/postfix/main.cf")
    assert reads == ["/etc/postfix/main.cf"], "another image must not use this image's files"

def test_one_archive_without_directory_entries_keeps_existing_directories():
    data = _tar({"/etc/labsim/first-boot/users": (b"saito:pw\n", 0o600), "/home/saito/.muttrc": (b"x", 0o600)}, (0, 0),
                {"/etc/systemd/system/multi-user.target.wants/dovecot.service": "/lib/systemd/system/dovecot.service"})
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert set(members) == {"etc/labsim/first-boot/users", "home/saito/.muttrc", "etc/systemd/system/multi-user.target.wants/dovecot.service"}
    assert not any(m.isdir() for m in members.values())
    assert members["etc/labsim/first-boot/users"].mode == 0o600
    link = members["etc/systemd/system/multi-user.target.wants/dovecot.service"]
    assert link.issym() and link.linkname == "/lib/systemd/system/dovecot.service"


def _pc_files(stage):
    plan = parse_plan(TOPOLOGY.replace("configured", stage), "unit.yml")
    spec = pc_spec(plan, plan.pc("pc12"), get_profile("debian"), stage, {"saito": "pw-saito"}, False, "hash")
    return {path: data.decode() for path, (data, _mode) in spec.files.items()}, spec.files


def test_a_pc_gets_its_resolver_mail_name_and_accounts_for_its_first_boot():
    files, raw = _pc_files("initial")
    assert files["/etc/labsim/resolv.conf"] == (
        "search s12.t3.metro-cit.ac.jp t3.metro-cit.ac.jp\nnameserver 192.168.10.53\noptions timeout:2 attempts:2\n"
    )
    assert files["/etc/mailname"] == "pc12.s12.t3.metro-cit.ac.jp\n"
    assert files["/etc/labsim/first-boot/users"] == "saito:pw-saito\n"  # the format chpasswd reads
    assert raw["/etc/labsim/first-boot/users"][1] == 0o600


def test_a_configured_pc_gets_its_students_muttrc_at_first_boot():
    files, raw = _pc_files("configured")
    muttrc = files["/etc/labsim/first-boot/files/home/saito/.muttrc"]
    assert raw["/etc/labsim/first-boot/files/home/saito/.muttrc"][1] == 0o600
    assert 'set smtp_url = "smtp://smtp.s12.t3.metro-cit.ac.jp:25/"' in muttrc
    assert 'set from = "saito@pc12.s12.t3.metro-cit.ac.jp"' in muttrc


def test_an_initial_pc_gets_no_muttrc():
    files, _ = _pc_files("initial")
    assert not [p for p in files if p.startswith("/etc/labsim/first-boot/files/")]


class _ReadyEngine:
    def __init__(self, line):
        self.line = line
        self.argv = None

    def exec(self, container, argv, **_):
        self.argv = argv
        return ExecResult(0, self.line + "\n")


def test_readiness_asks_the_lab_names_in_the_same_exec_and_names_the_missing_one():
    ok = _ReadyEngine("state=running firewalld=active postfix=active dovecot=active smtp=answering pop3=answering dns=ok")
    names = ["smtp.s5.t3.metro-cit.ac.jp", "smtp.t3.metro-cit.ac.jp", "pop.s5.t3.metro-cit.ac.jp"]
    assert wait_pc(ok, "c", "pc5", need_pop3=True, names=names).ready
    assert ok.argv[2:] == [n + "." for n in names]
    bad = _ReadyEngine("state=running firewalld=active postfix=active dovecot=active smtp=answering pop3=answering "
                       "dns=missing:pop.s5.t3.metro-cit.ac.jp.")
    result = wait_pc(bad, "c", "pc5", need_pop3=True, names=names)
    assert not result.ready and "`dig pop.s5.t3.metro-cit.ac.jp.` gives no answer" in result.detail

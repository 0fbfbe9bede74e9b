"""Zone data, named.conf and the password state file."""

import os
import stat

import dns.zone

from labsim import state
from labsim.topology import parse_plan
from labsim.zone import named_conf, reverse_origins, zone_files

PLAN = parse_plan(
    "name: t3mail\ndomain: t3.metro-cit.ac.jp\ndns: {records: {smtp: 192.168.0.10}}\npcs:\n  - range: 5-6\n", "t.yml"
)


def _zones():
    return {f.origin: dns.zone.from_text(f.text, origin=f.origin + ".", relativize=False) for f in zone_files(PLAN)}


def test_forward_zone_has_the_reports_names():
    zone = _zones()["t3.metro-cit.ac.jp"]
    for name, address in [("pc5.s5", "192.168.0.105"), ("smtp.s5", "192.168.0.105"), ("pop.s6", "192.168.0.106"),
                          ("smtp", "192.168.0.10"), ("ns", "192.168.0.53")]:
        rdata = zone.find_rdataset(f"{name}.t3.metro-cit.ac.jp.", "A")
        assert [r.address for r in rdata] == [address]
    assert zone.find_rdataset("t3.metro-cit.ac.jp.", "NS")
    soa = zone.find_rdataset("t3.metro-cit.ac.jp.", "SOA")
    assert str(list(soa)[0].mname) == "ns.t3.metro-cit.ac.jp."


def test_reverse_zone_maps_addresses_to_fqdns():
    zone = _zones()["0.168.192.in-addr.arpa"]
    ptr = zone.find_rdataset("106.0.168.192.in-addr.arpa.", "PTR")
    assert [str(r.target) for r in ptr] == ["pc6.s6.t3.metro-cit.ac.jp."]
    assert reverse_origins("10.0.0.0/23") == ["0.0.10.in-addr.arpa.", "1.0.10.in-addr.arpa."]


def test_named_conf_is_authoritative_only():
    conf = named_conf(PLAN, "/etc/bind/labsim", zone_files(PLAN))
    assert "recursion no;" in conf and "allow-recursion { none; };" in conf
    assert "forwarders" not in conf
    assert 'zone "t3.metro-cit.ac.jp"' in conf and 'zone "0.168.192.in-addr.arpa"' in conf


def test_passwords_are_random_kept_and_private(tmp_path, monkeypatch):
    monkeypatch.setenv("LABSIM_STATE_DIR", str(tmp_path))
    first = state.resolve_passwords(PLAN)
    assert first["pc5"]["user5"] != first["pc6"]["user6"]
    assert len(first["pc5"]["user5"]) >= 12
    path = state.save_passwords(PLAN.name, first)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert state.resolve_passwords(PLAN) == first  # kept across `up` runs
    state.remove_state(PLAN.name)
    assert not path.exists()

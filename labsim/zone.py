"""The lab's DNS data: forward and reverse zones (built and checked with dnspython) and named.conf."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.zone

from .topology import LabPlan

TTL = 300


@dataclass(frozen=True)
class ZoneFile:
    """One zone: its origin and the text of its master file."""

    origin: str
    filename: str
    text: str


def _new_zone(origin: str, plan: LabPlan) -> dns.zone.Zone:
    zone = dns.zone.Zone(dns.name.from_text(origin))
    ns_fqdn = plan.dns.fqdn + "."
    soa = f"{ns_fqdn} hostmaster.{plan.domain}. 1 3600 600 86400 {TTL}"
    _add(zone, "@", "SOA", soa)
    _add(zone, "@", "NS", ns_fqdn)
    return zone


def _add(zone: dns.zone.Zone, name: str, rdtype: str, value: str) -> None:
    rdataset = zone.find_rdataset(name, rdtype, create=True)
    rdataset.update_ttl(TTL)
    rdataset.add(dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.from_text(rdtype), value, origin=zone.origin))


def forward_zone(plan: LabPlan) -> dns.zone.Zone:
    """The domain: ns, every PC as pcN.sN with smtp.sN and pop.sN, and the topology's extra records."""
    zone = _new_zone(plan.domain + ".", plan)
    _add(zone, plan.dns.name, "A", plan.dns.address)
    for pc in plan.pcs:
        for label in (pc.name, "smtp", "pop"):
            _add(zone, f"{label}.{pc.subdomain}", "A", pc.address)
    for name, address in plan.records.items():
        _add(zone, name, "A", address)
    zone.check_origin()
    return zone


def reverse_origins(subnet: str) -> list[str]:
    """The in-addr.arpa zones (one per /24) that cover ``subnet``."""
    net = ipaddress.IPv4Network(subnet)
    blocks = [net] if net.prefixlen >= 24 else list(net.subnets(new_prefix=24))
    origins = []
    for block in blocks:
        octets = str(block.network_address).split(".")[:3]
        origins.append(".".join(reversed(octets)) + ".in-addr.arpa.")
    return sorted(set(origins))


def reverse_zones(plan: LabPlan) -> dict[str, dns.zone.Zone]:
    """PTR records of the subnet: every PC (its FQDN) and the DNS server."""
    zones = {origin: _new_zone(origin, plan) for origin in reverse_origins(plan.subnet)}
    for host in plan.hosts:
        ip = ipaddress.IPv4Address(host.address)
        octets = str(ip).split(".")
        origin = ".".join(reversed(octets[:3])) + ".in-addr.arpa."
        _add(zones[origin], octets[3], "PTR", host.fqdn + ".")
    for zone in zones.values():
        zone.check_origin()
    return zones


def zone_files(plan: LabPlan) -> list[ZoneFile]:
    """Every zone of the lab as master-file text."""
    zones = {plan.domain + ".": forward_zone(plan), **reverse_zones(plan)}
    files = []
    for origin, zone in zones.items():
        text = zone.to_text(relativize=True, want_origin=True)
        files.append(ZoneFile(origin=origin.rstrip("."), filename="db." + origin.rstrip("."), text=text))
    return files


def named_conf(plan: LabPlan, zone_dir: str, files: list[ZoneFile]) -> str:
    """An authoritative-only named.conf: no recursion, no forwarders, no transfers."""
    zones = "".join(
        f'zone "{f.origin}" {{\n    type primary;\n    file "{zone_dir}/{f.filename}";\n}};\n\n' for f in files
    )
    return (
        "// Written by labsim for the lab '" + plan.name + "': authoritative only.\n"
        "options {\n"
        '    directory "/var/cache/bind";\n'
        "    listen-on { any; };\n"
        "    listen-on-v6 { none; };\n"
        "    recursion no;\n"
        "    allow-recursion { none; };\n"
        "    allow-query { any; };\n"
        "    allow-transfer { none; };\n"
        "    dnssec-validation no;\n"
        "    notify no;\n"
        "};\n\n" + zones
    )

"""A lab as it runs: its hosts, found by label (never by re-reading the topology)."""

from __future__ import annotations

from dataclasses import dataclass, field

from . import labels
from .engine import ContainerInfo, LabEngine
from .errors import UserInputError


def smtp_server(subdomain: str, domain: str) -> str:
    """A PC's SMTP server name in the lab's zone (smtp.sN.<domain>)."""
    return f"smtp.{subdomain}.{domain}"


def pop_server(subdomain: str, domain: str) -> str:
    """A PC's POP server name in the lab's zone (pop.sN.<domain>)."""
    return f"pop.{subdomain}.{domain}"


@dataclass(frozen=True)
class LabHost:
    """One host of a running lab, read from its container's labels."""

    name: str
    role: str
    fqdn: str
    address: str
    container: str
    state: str
    lab: str
    domain: str
    distro: str
    stage: str
    subdomain: str = ""
    subnet: str = ""
    users: tuple[str, ...] = field(default_factory=tuple)

    @classmethod
    def from_container(cls, info: ContainerInfo) -> "LabHost":
        lbl = info.labels
        users = tuple(u for u in lbl.get(labels.USERS, "").split(",") if u)
        return cls(
            name=lbl.get(labels.HOST, info.name), role=lbl.get(labels.ROLE, ""), fqdn=lbl.get(labels.FQDN, ""),
            address=lbl.get(labels.ADDRESS, ""), container=info.name, state=info.state, lab=lbl.get(labels.LAB, ""),
            domain=lbl.get(labels.DOMAIN, ""), distro=lbl.get(labels.DISTRO, ""), stage=lbl.get(labels.STAGE, ""),
            subdomain=lbl.get(labels.SUBDOMAIN, ""), subnet=lbl.get(labels.SUBNET, ""), users=users,
        )

    @property
    def smtp_name(self) -> str:
        return smtp_server(self.subdomain, self.domain)

    @property
    def pop_name(self) -> str:
        return pop_server(self.subdomain, self.domain)

    @property
    def lab_names(self) -> list[str]:
        """The names step 1 looks up: this PC's SMTP and POP servers, and the school's SMTP server."""
        return [self.smtp_name, f"smtp.{self.domain}", self.pop_name]

    def address_of(self, user: str) -> str:
        """The mail address of one of this PC's users."""
        return f"{user}@{self.fqdn}"


def list_labs(engine: LabEngine) -> list[str]:
    """Names of the labs that have containers or a network on this engine."""
    names = {c.labels.get(labels.LAB, "") for c in engine.containers(labels.lab_filter())}
    names |= {n.labels.get(labels.LAB, "") for n in engine.networks(labels.lab_filter())}
    return sorted(n for n in names if n)


def select_lab(engine: LabEngine, lab: str | None) -> str:
    """The lab a command acts on: the one named, or the only one up."""
    labs = list_labs(engine)
    if lab:
        if lab not in labs:
            known = f"labs up: {', '.join(labs)}" if labs else "no lab is up"
            raise UserInputError(f"no lab named '{lab}' ({known}); check the name with `labsim status`")
        return lab
    if not labs:
        raise UserInputError("no lab is up; start one with `labsim up [TOPOLOGY]`")
    if len(labs) > 1:
        raise UserInputError(f"several labs are up ({', '.join(labs)}); choose one with --lab NAME")
    return labs[0]


def lab_hosts(engine: LabEngine, lab: str) -> list[LabHost]:
    """Every host of the lab, DNS first, then PCs in natural order (pc2 before pc10)."""
    hosts = [LabHost.from_container(c) for c in engine.containers(labels.lab_filter(lab))]
    return sorted(hosts, key=lambda h: (h.role != labels.ROLE_DNS, _natural(h.name)))


def _natural(name: str) -> tuple:
    import re

    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name))


def find_host(engine: LabEngine, lab: str, name: str, hosts: list[LabHost] | None = None) -> LabHost:
    """A host by name (pc5), FQDN, or container name; a clear error naming the known ones otherwise.
    ``hosts`` saves a lookup when the caller already listed the lab's hosts."""
    hosts = hosts if hosts is not None else lab_hosts(engine, lab)
    for host in hosts:
        if name in (host.name, host.fqdn, host.container):
            return host
    known = ", ".join(h.name for h in hosts[:8]) + (" ..." if len(hosts) > 8 else "")
    raise UserInputError(f"no host '{name}' in lab '{lab}' (hosts: {known}); check the name with `labsim status`")


def parse_user_at_host(engine: LabEngine, lab: str, text: str, hosts: list[LabHost] | None = None) -> tuple[LabHost, str]:
    """`pc5` (that PC's first user) or `user5@pc5` -> (host, user)."""
    user, _, host_name = text.rpartition("@")
    host = find_host(engine, lab, host_name, hosts)
    if host.role != labels.ROLE_PC:
        raise UserInputError(f"'{host_name}' is the lab's DNS server, not a PC; name a PC such as pc5")
    if not user:
        if not host.users:
            raise UserInputError(f"{host.name} has no users")
        return host, host.users[0]
    if user not in host.users:
        raise UserInputError(f"{host.name} has no user '{user}' (users: {', '.join(host.users)})")
    return host, user

"""The topology file: schema (pydantic, also published as JSON Schema) and expansion into a plan."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import UserInputError
from .yamlpos import LocatedDocument, load_located, parse_located

LAB_NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$")
HOST_LABEL_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
USER_NAME_RE = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
RESERVED_USERS = {
    "root", "daemon", "bin", "sys", "sync", "games", "man", "lp", "mail", "news", "uucp", "proxy",
    "www-data", "backup", "list", "irc", "gnats", "nobody", "postfix", "dovecot", "dovenull", "bind",
    "named", "messagebus", "systemd-network", "systemd-resolve", "systemd-timesync", "_apt", "adm",
    "shutdown", "halt", "operator", "ftp", "polkitd", "sshd", "tcpdump",
}
MAX_RANGE = 250


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class UserEntry(_Strict):
    """A student account on a PC."""

    name: str = Field(description="Linux user name, e.g. user5")
    password: str | None = Field(default=None, description="login password; generated at random when absent")


class PcEntry(_Strict):
    """One student PC, or a `range:` of them with all defaults."""

    name: str | None = Field(default=None, description="host name, e.g. pc5")
    range: str | None = Field(default=None, description="shorthand for pcA..pcB with defaults, e.g. '1-40'")
    subdomain: str | None = Field(default=None, description='default: "s" + the digits of the name')
    address: ipaddress.IPv4Address | None = Field(default=None, description="default: .100 + the digits of the name")
    users: list[UserEntry] | None = Field(default=None, description="default: [user<digits>]")

    @field_validator("users", mode="before")
    @classmethod
    def _names_to_entries(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"name": v} if isinstance(v, str) else v for v in value]
        return value

    @field_validator("range", mode="before")
    @classmethod
    def _range_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) else value

    @model_validator(mode="after")
    def _name_or_range(self) -> "PcEntry":
        if (self.name is None) == (self.range is None):
            raise ValueError("give either `name:` (one PC) or `range:` (several PCs), not both and not neither")
        if self.range is not None and any(v is not None for v in (self.subdomain, self.address, self.users)):
            raise ValueError("`range:` takes no subdomain, address or users; list those PCs one by one")
        return self


class DnsEntry(_Strict):
    """The lab's BIND server."""

    name: str = Field(default="ns", description="host name of the DNS server")
    address: ipaddress.IPv4Address | None = Field(default=None, description="default: .53 of the subnet")
    records: dict[str, ipaddress.IPv4Address] = Field(
        default_factory=dict,
        description="extra A records inside the domain, e.g. {smtp: 192.168.0.10}; smtp defaults to the DNS server's address",
    )


class Topology(_Strict):
    """A class: its domain, its network, and one PC per student."""

    name: str = Field(description="lab name: lowercase letters, digits and '-'")
    domain: str = Field(description="the school's DNS domain, e.g. t3.metro-cit.ac.jp")
    subnet: ipaddress.IPv4Network = Field(default=ipaddress.IPv4Network("192.168.0.0/24"))
    distro: Literal["auto", "centos", "debian"] = "auto"
    stage: Literal["initial", "configured"] = "configured"
    dns: DnsEntry = Field(default_factory=DnsEntry)
    pcs: list[PcEntry] = Field(min_length=1, description="the student PCs")


# ---------------------------------------------------------------- the expanded plan


class UserPlan(BaseModel):
    name: str
    password: str | None = None


class HostPlan(BaseModel):
    """A host of the lab with every default filled in."""

    name: str
    role: Literal["pc", "dns"]
    fqdn: str
    address: str
    subdomain: str | None = None
    users: list[UserPlan] = []


class LabPlan(BaseModel):
    """What `labsim up` builds: the topology with every default filled in."""

    name: str
    domain: str
    subnet: str
    gateway: str
    distro: Literal["auto", "centos", "debian"]
    stage: Literal["initial", "configured"]
    dns: HostPlan
    records: dict[str, str]
    pcs: list[HostPlan]
    source: str = ""
    subnet_where: str = ""  # "file:line" of `subnet:`, for errors found later (e.g. overlap)

    @property
    def hosts(self) -> list[HostPlan]:
        return [self.dns, *self.pcs]

    def pc(self, name: str) -> HostPlan:
        for pc in self.pcs:
            if pc.name == name:
                return pc
        raise KeyError(name)


_PYDANTIC_FIXES = {
    "extra_forbidden": "remove it or check its spelling",
    "missing": "add it",
    "literal_error": "use one of the values named",
    "ip_v4_address": "write a dotted IPv4 address such as 192.168.0.105",
    "ip_v4_network": "write a network such as 192.168.0.0/24 (host bits zero)",
    "string_type": "write it as text",
    "list_type": "write it as a YAML list (lines starting with '- ')",
    "dict_type": "write it as a YAML mapping (key: value lines)",
    "model_type": "write it as a YAML mapping (key: value lines)",
    "too_short": "list at least one PC",
}


def _field_name(loc: tuple) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts) or "(top level)"


def _pydantic_error(doc: LocatedDocument, err: ValidationError) -> UserInputError:
    first = err.errors()[0]
    loc = tuple(first["loc"])
    kind = first["type"]
    field = _field_name(loc)
    if kind == "extra_forbidden":
        parent = loc[:-1]
        allowed = _allowed_keys(parent)
        message = f"unknown key '{loc[-1]}'" + (f" (allowed here: {', '.join(allowed)})" if allowed else "")
    elif kind == "missing":
        message = f"required key '{loc[-1]}' is missing"
        loc = loc[:-1]
    else:
        message = f"{field}: {first['msg']}"
        if kind == "value_error":
            message = f"{field}: {str(first['msg']).removeprefix('Value error, ')}"
    fix = _PYDANTIC_FIXES.get(kind)
    return UserInputError(f"{doc.where(loc)}: {message}" + (f"; {fix}" if fix else ""))


def _allowed_keys(parent: tuple) -> list[str]:
    model: type[BaseModel] = Topology
    for item in parent:
        if isinstance(item, int):
            continue
        field = model.model_fields.get(str(item))
        if field is None:
            return []
        annotation = field.annotation
        candidates = [annotation, *getattr(annotation, "__args__", ())]
        for cand in candidates:
            for sub in (cand, *getattr(cand, "__args__", ())):
                if isinstance(sub, type) and issubclass(sub, BaseModel):
                    model = sub
                    break
    return list(model.model_fields)


def _digits(name: str) -> str | None:
    match = re.search(r"(\d+)$", name)
    return match.group(1) if match else None


def _expand(doc: LocatedDocument, topo: Topology) -> LabPlan:
    """Fill in defaults and check everything that pydantic's schema cannot express."""
    where = doc.where

    def fail(path: tuple, message: str) -> UserInputError:
        return UserInputError(f"{where(path)}: {message}")

    if not LAB_NAME_RE.match(topo.name):
        raise fail(("name",), f"lab name '{topo.name}' is not valid; use lowercase letters, digits and '-' (at most 32), e.g. t3mail")
    domain = topo.domain.rstrip(".").lower()
    labels = domain.split(".")
    if len(labels) < 2 or len(domain) > 200 or not all(HOST_LABEL_RE.match(lbl) for lbl in labels):
        raise fail(("domain",), f"domain '{topo.domain}' is not a valid DNS domain; write it like t3.metro-cit.ac.jp")
    subnet = topo.subnet
    if subnet.prefixlen > 29:
        raise fail(("subnet",), f"subnet {subnet} is too small for a lab; use a /24 such as 192.168.0.0/24")
    hosts = list(subnet.hosts())
    gateway = hosts[0]

    def check_address(path: tuple, addr: ipaddress.IPv4Address, what: str) -> None:
        if addr not in subnet:
            raise fail(path, f"{what} address {addr} is outside the subnet {subnet}; pick an address inside it")
        if addr in (subnet.network_address, subnet.broadcast_address):
            raise fail(path, f"{what} address {addr} is the subnet's network or broadcast address; pick another")
        if addr == gateway:
            raise fail(path, f"{what} address {addr} is the network's gateway (reserved by Docker); pick another")

    dns_addr = topo.dns.address or (subnet.network_address + 53)
    if topo.dns.address is None and dns_addr not in subnet:
        raise fail(("subnet",), f"subnet {subnet} has no .53 for the DNS server; give dns.address")
    check_address(("dns", "address"), dns_addr, "the DNS server's")
    if not HOST_LABEL_RE.match(topo.dns.name):
        raise fail(("dns", "name"), f"'{topo.dns.name}' is not a valid host name; use lowercase letters, digits and '-'")
    records: dict[str, str] = {}
    for key, addr in topo.dns.records.items():
        rel = key.rstrip(".").lower()
        if rel.endswith("." + domain):
            rel = rel[: -len(domain) - 1]
        if not rel or not all(HOST_LABEL_RE.match(lbl) for lbl in rel.split(".")):
            raise fail(("dns", "records", key), f"record name '{key}' is not a valid name inside {domain}; write it like smtp")
        records[rel] = str(addr)

    # Step 1 of the report looks up the school's mail name smtp.<domain>; without a record for it, it
    # names the lab's own server.
    records.setdefault("smtp", str(dns_addr))
    pcs: list[HostPlan] = []
    names: dict[str, tuple] = {topo.dns.name: ("dns", "name")}
    addrs: dict[str, tuple] = {str(dns_addr): ("dns", "address")}
    for index, entry in enumerate(topo.pcs):
        path = ("pcs", index)
        if entry.range is not None:
            match = re.fullmatch(r"\s*(\d+)\s*-\s*(\d+)\s*", entry.range)
            if not match:
                raise fail(path + ("range",), f"range '{entry.range}' is not valid; write it like 1-40")
            lo, hi = int(match.group(1)), int(match.group(2))
            if lo > hi or lo < 0:
                raise fail(path + ("range",), f"range '{entry.range}' is empty; write the lower number first, e.g. 1-40")
            if hi - lo + 1 > MAX_RANGE:
                raise fail(path + ("range",), f"range '{entry.range}' asks for {hi - lo + 1} PCs; labsim runs at most {MAX_RANGE} PCs per lab")
            generated = [PcEntry(name=f"pc{n}") for n in range(lo, hi + 1)]
        else:
            generated = [entry]
        for pc in generated:
            name = pc.name or ""
            field = path + ("name",) if entry.range is None else path + ("range",)
            if not HOST_LABEL_RE.match(name):
                raise fail(field, f"PC name '{name}' is not a valid host name; use lowercase letters, digits and '-', e.g. pc5")
            if name in names:
                raise fail(field, f"duplicate host name '{name}' (also at line {doc.line_of(names[name])}); give each PC its own name")
            names[name] = field
            digits = _digits(name)
            subdomain = pc.subdomain or (f"s{int(digits)}" if digits else None)
            if subdomain is None:
                raise fail(field, f"PC name '{name}' has no digits to derive its subdomain; add `subdomain:` and `address:`")
            if not HOST_LABEL_RE.match(subdomain):
                raise fail(path + ("subdomain",), f"subdomain '{subdomain}' is not a valid DNS label; write it like s5")
            if pc.address is not None:
                address = pc.address
                addr_path = path + ("address",)
            else:
                if digits is None:
                    raise fail(field, f"PC name '{name}' has no digits to derive its address; add `address:`")
                address = subnet.network_address + 100 + int(digits)
                addr_path = field
                if address not in subnet or address == subnet.broadcast_address:
                    raise fail(field, f"{name}'s default address (.100 + {int(digits)}) does not fit in the subnet {subnet}; give `address:` or a larger subnet")
            check_address(addr_path, address, f"{name}'s")
            if str(address) in addrs:
                other = addrs[str(address)]
                raise fail(addr_path, f"address {address} of {name} is already used (line {doc.line_of(other)}); give each host its own address")
            addrs[str(address)] = addr_path
            users_in = pc.users if pc.users is not None else [UserEntry(name=f"user{int(digits)}" if digits else "student")]
            users: list[UserPlan] = []
            seen_users: set[str] = set()
            for u_index, user in enumerate(users_in):
                u_path = path + ("users", u_index)
                if not USER_NAME_RE.match(user.name):
                    raise fail(u_path, f"user name '{user.name}' is not a valid Linux user name; use lowercase letters, digits, '_' and '-', starting with a letter")
                if user.name in RESERVED_USERS:
                    raise fail(u_path, f"user name '{user.name}' is a system account; give the student another name, e.g. user5")
                if user.name in seen_users:
                    raise fail(u_path, f"user '{user.name}' is listed twice on {name}; remove one")
                seen_users.add(user.name)
                if user.password is not None and (
                    not user.password or any(c in user.password for c in "\n\r\0:") or len(user.password) > 128
                ):
                    raise fail(u_path + ("password",), "password must be 1-128 characters with no newline, NUL or ':'; change it")
                users.append(UserPlan(name=user.name, password=user.password))
            if not users:
                raise fail(path + ("users",), f"{name} has no users; list at least one, e.g. [user5]")
            pcs.append(
                HostPlan(
                    name=name, role="pc", fqdn=f"{name}.{subdomain}.{domain}", address=str(address),
                    subdomain=subdomain, users=users,
                )
            )
    if len(pcs) > MAX_RANGE:
        raise fail(("pcs",), f"the topology has {len(pcs)} PCs; labsim runs at most {MAX_RANGE} PCs per lab")
    dns = HostPlan(name=topo.dns.name, role="dns", fqdn=f"{topo.dns.name}.{domain}", address=str(dns_addr))
    return LabPlan(
        name=topo.name, domain=domain, subnet=str(subnet), gateway=str(gateway), distro=topo.distro,
        stage=topo.stage, dns=dns, records=records, pcs=pcs, source=doc.source, subnet_where=where(("subnet",)),
    )


def plan_from_document(doc: LocatedDocument) -> LabPlan:
    """Validate a parsed document and expand it into a plan."""
    if not isinstance(doc.data, dict):
        raise UserInputError(f"{doc.where(())}: a topology is a YAML mapping (name:, domain:, pcs:, ...); this file holds a {type(doc.data).__name__}")
    try:
        topo = Topology.model_validate(doc.data)
    except ValidationError as err:
        raise _pydantic_error(doc, err) from None
    return _expand(doc, topo)


def load_plan(path: str | Path) -> LabPlan:
    """Read a topology file and return its plan; any problem raises UserInputError naming file and line."""
    return plan_from_document(load_located(Path(path)))


def parse_plan(text: str, source: str = "<topology>") -> LabPlan:
    """Like load_plan, from text (tests, the embedded default)."""
    return plan_from_document(parse_located(text, source))


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the topology format, for editors."""
    schema = Topology.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "labsim topology"
    return schema

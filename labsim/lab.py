"""Bringing a lab up, taking it down, and reporting its status (after docker-compose's project logic)."""

from __future__ import annotations

import ipaddress
import threading
import time
from dataclasses import dataclass, field

from . import labels
from .cache import stock_cache
from .containers import dns_spec, network_name, pc_spec
from .engine import ContainerInfo, ContainerSpec, LabEngine
from .errors import EngineError, UserInputError
from .hostlimits import ensure_host_limits
from .hosts import LabHost, lab_hosts, select_lab
from .images import DistroChoice, choose_distro, ensure_images
from .parallel import DEFAULT_WORKERS, parallel
from .progress import Progress, ProgressFn, no_progress
from .readiness import Readiness, require_ready, wait_dns, wait_pc
from .state import load_passwords, remove_state, resolve_passwords, save_passwords, state_path
from .steps.offline import StockFiles, configured_files
from .topology import LabPlan

@dataclass
class UpResult:
    lab: str
    distro: str
    distro_reason: str
    stage: str
    created: list[str] = field(default_factory=list)
    recreated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    images_built: list[str] = field(default_factory=list)
    seconds: float = 0.0
    state_file: str = ""


@dataclass
class DownResult:
    lab: str
    containers: list[str]
    network: bool
    volumes: list[str]
    seconds: float


def check_subnet_free(engine: LabEngine, plan: LabPlan) -> None:
    """The lab's subnet must not overlap another Docker network (its own network is fine)."""
    ours = ipaddress.IPv4Network(plan.subnet)
    taken: list[tuple[str, ipaddress.IPv4Network]] = []
    for net in engine.networks():
        if net.labels.get(labels.LAB) == plan.name:
            continue
        for subnet in net.subnets:
            try:
                other = ipaddress.ip_network(subnet, strict=False)
            except ValueError:
                continue
            if other.version == 4:
                taken.append((net.name, other))
    for name, other in taken:
        if ours.overlaps(other):
            raise UserInputError(
                f"{plan.subnet_where or plan.source}: subnet {plan.subnet} overlaps Docker network "
                f"'{name}' ({other}); choose another subnet, e.g. {_free_subnet(ours.prefixlen, [t for _, t in taken])}"
            )


def _free_subnet(prefixlen: int, taken: list[ipaddress.IPv4Network]) -> str:
    """A private subnet of the same size that no Docker network uses (for the error's fix)."""
    for second in range(0, 256):
        for third in range(0, 256, 1 << max(0, 24 - prefixlen)):
            candidate = ipaddress.IPv4Network(f"192.168.{third}.0/{max(prefixlen, 16)}") if second == 0 else \
                ipaddress.IPv4Network(f"10.{second}.{third}.0/{max(prefixlen, 16)}", strict=False)
            if not any(candidate.overlaps(t) for t in taken):
                return str(candidate)
    return "another private range"


class _Rollback:
    """What this run of `up` created, so a failure can remove exactly that."""

    def __init__(self, engine: LabEngine) -> None:
        self.engine = engine
        self.containers: list[str] = []
        self.volumes: list[str] = []
        self.network: str | None = None

    def undo(self) -> None:
        for name in self.containers:
            self.engine.remove_container(name)
        for name in self.volumes:
            try:
                self.engine.remove_volume(name)
            except Exception:  # noqa: BLE001 - best effort, the original error matters more
                pass
        if self.network:
            self.engine.remove_network(self.network)


def up(
    engine: LabEngine, plan: LabPlan, stage: str | None = None, progress: ProgressFn = no_progress,
    workers: int = DEFAULT_WORKERS,
) -> UpResult:
    """Build what is missing, create or converge every host, return when all are ready.

    A configured PC gets steps 2, 3 and 5 as files before it boots (steps/offline.py), step 4 from its
    image and step 6 from its first boot; readiness then checks step 1 (the lab's names resolve on the PC)."""
    started = time.monotonic()
    engine.ping()
    stage = stage or plan.stage
    choice: DistroChoice = choose_distro(engine, plan.distro)
    profile = choice.profile
    progress(Progress("distro", profile.name, choice.reason))
    check_subnet_free(engine, plan)
    others = [c for c in engine.containers(labels.lab_filter(None, role=labels.ROLE_PC)) if c.labels.get(labels.LAB) != plan.name]
    for change in ensure_host_limits(len(others) + len(plan.pcs)):
        progress(Progress("host", "kernel", change))
    images = ensure_images(engine, profile, (stage,), progress=progress)
    image_hash = {r.tag: r.build_hash for r in images}
    result = UpResult(plan.name, profile.name, choice.reason, stage, images_built=[r.tag for r in images if r.built])

    passwords = resolve_passwords(plan)
    new_state = not state_path(plan.name).exists()
    result.state_file = str(save_passwords(plan.name, passwords))
    cgroup_v2 = engine.cgroup_version() >= 2
    specs: list[ContainerSpec] = [dns_spec(plan, profile, stage, image_hash[profile.image("dns")])]
    specs += [
        pc_spec(plan, pc, profile, stage, passwords[pc.name], cgroup_v2, image_hash[profile.image("pc", stage)])
        for pc in plan.pcs
    ]
    wanted = {s.name: s for s in specs}
    rollback = _Rollback(engine)
    try:
        net = network_name(plan.name)
        existing_net = [n for n in engine.networks(labels.lab_filter(plan.name)) if n.name == net]
        if existing_net and plan.subnet not in existing_net[0].subnets:
            # The subnet changed: every address changes, so the lab is rebuilt (volumes are kept).
            for info in engine.containers(labels.lab_filter(plan.name)):
                engine.remove_container(info.name)
            engine.remove_network(net)
            existing_net = []
        if not existing_net:
            engine.create_network(
                net, plan.subnet, plan.gateway,
                {labels.LAB: plan.name, labels.ROLE: labels.ROLE_NETWORK, labels.SUBNET: plan.subnet, labels.DOMAIN: plan.domain},
            )
            rollback.network = net

        current = {c.name: c for c in engine.containers(labels.lab_filter(plan.name))}
        to_create: list[ContainerSpec] = []
        for name, info in current.items():
            spec = wanted.get(name)
            if spec is None:
                engine.remove_container(name)
                result.removed.append(info.labels.get(labels.HOST, name))
            elif info.labels.get(labels.CONFIG_HASH) != spec.labels[labels.CONFIG_HASH]:
                engine.remove_container(name)
                result.recreated.append(spec.labels[labels.HOST])
                to_create.append(spec)
            else:
                if info.state != "running":
                    engine.start(name)
                result.unchanged.append(spec.labels[labels.HOST])
        to_create += [s for n, s in wanted.items() if n not in current]
        total = len(to_create)
        done = [0]
        # One image per stage: its stock files are read once, then kept in labsim's cache under the image's ID.
        pc_image_id = next(r.image_id for r in images if r.tag == profile.image("pc", stage))
        stock = StockFiles(engine, stock_cache(pc_image_id) if stage == "configured" else None)

        kept_volumes = set(engine.volumes(labels.lab_filter(plan.name)))  # the students' homes and queues

        def create(spec: ContainerSpec) -> None:
            for volume in spec.volumes:
                vol_labels = {labels.LAB: plan.name, labels.HOST: spec.labels[labels.HOST], labels.ROLE: labels.ROLE_VOLUME,
                              labels.VOLUME_PATH: spec.volumes[volume]}
                if volume not in kept_volumes and engine.create_volume(volume, vol_labels):
                    rollback.volumes.append(volume)
            engine.create_container(spec)
            rollback.containers.append(spec.name)
            files, symlinks = dict(spec.files), {}
            if stage == "configured" and spec.labels[labels.ROLE] == labels.ROLE_PC:
                prepared = configured_files(spec.name, profile, {"fqdn": spec.hostname, "subnet": plan.subnet}, stock.read)
                files.update(prepared.files)
                symlinks = prepared.symlinks
            if files or symlinks:
                engine.put_files(spec.name, files, symlinks=symlinks)  # one archive operation per host
            engine.start(spec.name)
            done[0] += 1
            progress(Progress("create", spec.labels[labels.HOST], "started", done[0], total))

        ready_done = [0]
        dns_answers = threading.Event()  # the PCs' readiness includes their lookups (step 1)
        dns_state: list[Readiness] = []

        def ready(spec: ContainerSpec) -> Readiness:
            host = LabHost.from_container(ContainerInfo(spec.name, "", spec.labels, "running", spec.image))
            if host.role == labels.ROLE_DNS:
                res = wait_dns(engine, spec.name, host.name, plan.domain)
            else:
                dns_answers.wait()
                if not dns_state[0].ready:
                    return Readiness(host.name, False, {}, "not checked: the lab's DNS server is not ready")
                res = wait_pc(engine, spec.name, host.name, need_pop3=stage == "configured", names=host.lab_names)
            ready_done[0] += 1
            progress(Progress("ready", host.name, "ready" if res.ready else res.detail, ready_done[0], len(specs)))
            return res

        def bring_up(spec: ContainerSpec) -> Readiness:
            is_dns = spec.labels[labels.ROLE] == labels.ROLE_DNS
            try:
                if spec.name in creating:
                    create(spec)
                res = ready(spec)
            except BaseException:
                if is_dns:
                    dns_state.append(Readiness(spec.labels[labels.HOST], False, {}, "not created"))
                    dns_answers.set()
                raise
            if is_dns:
                dns_state.append(res)
                dns_answers.set()
            return res

        # One pipeline per host (create, start, wait until ready), at most `workers` at once: 40 boots at
        # once on 2 cores cost more CPU in all than 8 at a time (each boot's processes get preempted and lose
        # their caches), so the class is ready sooner. The DNS server goes first; the PCs boot meanwhile
        # and wait for it only to check their lookups.
        creating = {s.name for s in to_create}
        dns_first = sorted(specs, key=lambda s: s.labels[labels.ROLE] != labels.ROLE_DNS)
        results = parallel(dns_first, bring_up, workers)
        for spec in to_create:
            if spec.labels[labels.HOST] not in result.recreated:
                result.created.append(spec.labels[labels.HOST])
        require_ready(results)
    except BaseException:
        rollback.undo()
        if new_state and rollback.network:  # nothing of this lab existed before this run
            remove_state(plan.name)
        raise
    result.seconds = time.monotonic() - started
    return result


def down(engine: LabEngine, lab: str | None, purge: bool = False, progress: ProgressFn = no_progress,
         workers: int = 16) -> DownResult:
    """Remove the lab's containers and network, found by label; with ``purge`` also its volumes and state."""
    started = time.monotonic()
    engine.ping()
    if purge and lab and (engine.volumes(labels.lab_filter(lab)) or state_path(lab).exists()):
        name = lab  # already down, volumes kept: --purge still finds the lab by its labelled volumes
    else:
        name = select_lab(engine, lab)
    containers = [c.name for c in engine.containers(labels.lab_filter(name))]
    done = [0]

    # Stop them all at once and wait until each has stopped (which releases its network endpoint), then
    # remove them in parallel too. Removing *running* containers concurrently is what left the Docker
    # engine (20.10) counting endpoints that no longer exist; stopped ones remove cleanly.
    parallel(containers, engine.kill, workers)

    def remove(container: str) -> None:
        engine.remove_container(container)
        done[0] += 1
        progress(Progress("remove", container, "removed", done[0], len(containers)))

    parallel(containers, remove, workers)
    nets = engine.networks(labels.lab_filter(name))
    network_error: EngineError | None = None
    for net in nets:
        try:
            engine.remove_network(net.name)
        except EngineError as err:  # the rest of `down` still happens; the error is reported at the end
            network_error = err
    volumes: list[str] = []
    if purge:
        volumes = engine.volumes(labels.lab_filter(name))
        parallel(volumes, engine.remove_volume, workers)
        remove_state(name)
    if network_error is not None:
        raise network_error
    return DownResult(name, containers, bool(nets), volumes, time.monotonic() - started)


@dataclass
class HostStatus:
    name: str
    role: str
    fqdn: str
    address: str
    state: str
    services: dict[str, str]
    users: list[dict[str, str]]


@dataclass
class LabStatus:
    lab: str
    domain: str
    subnet: str
    distro: str
    stage: str
    network: str
    hosts: list[HostStatus]


PC_SERVICES = ("firewalld", "postfix", "dovecot")


def _services(engine: LabEngine, host: LabHost) -> dict[str, str]:
    if host.state != "running":
        return {}
    if host.role == labels.ROLE_DNS:
        res = engine.exec(host.container, ["dig", "+short", "+time=1", "+tries=1", "@127.0.0.1", host.domain + ".", "SOA"])
        return {"named": "answering" if res.ok and res.stdout.strip() else "not answering"}
    res = engine.exec(host.container, ["systemctl", "is-active", *PC_SERVICES])
    states = res.stdout.split()
    return dict(zip(PC_SERVICES, states + ["unknown"] * (len(PC_SERVICES) - len(states))))


def status(engine: LabEngine, lab: str | None, with_users: bool = False, workers: int = 16) -> LabStatus:
    """What is true now: each host's container state and services, from labels and the containers themselves."""
    engine.ping()
    name = select_lab(engine, lab)
    hosts = lab_hosts(engine, name)
    nets = engine.networks(labels.lab_filter(name))
    passwords = load_passwords(name) if with_users else {}
    services = parallel(hosts, lambda h: _services(engine, h), workers)
    rows = []
    for host, svc in zip(hosts, services):
        users = []
        if host.role == labels.ROLE_PC:
            for user in host.users:
                entry = {"name": user, "address": host.address_of(user)}
                if with_users:
                    entry["password"] = passwords.get(host.name, {}).get(user, "")
                users.append(entry)
        rows.append(HostStatus(host.name, host.role, host.fqdn, host.address, host.state, svc, users))
    first = hosts[0] if hosts else None
    return LabStatus(
        lab=name, domain=first.domain if first else "", subnet=nets[0].subnets[0] if nets and nets[0].subnets else "",
        distro=first.distro if first else "", stage=first.stage if first else "",
        network=nets[0].name if nets else "", hosts=rows,
    )

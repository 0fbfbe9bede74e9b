"""The container specifications of a lab's hosts (what `up` creates), and their config hashes."""

from __future__ import annotations

import hashlib
import json

from . import labels
from .engine import ContainerSpec
from .profiles import DistroProfile
from .steps.offline import first_boot_files
from .topology import HostPlan, LabPlan
from .zone import named_conf, zone_files


def network_name(lab: str) -> str:
    return f"labsim-{lab}"


def container_name(lab: str, host: str) -> str:
    return f"labsim-{lab}-{host}"


def volume_names(lab: str, host: str) -> dict[str, str]:
    """Named volumes of a PC: the students' homes and the mail queue survive `down` (not `--purge`)."""
    return {f"labsim-{lab}-{host}-home": "/home", f"labsim-{lab}-{host}-spool": "/var/spool/postfix"}


def _host_labels(plan: LabPlan, host: HostPlan, profile: DistroProfile, stage: str) -> dict[str, str]:
    return {
        labels.LAB: plan.name,
        labels.HOST: host.name,
        labels.ROLE: host.role,
        labels.FQDN: host.fqdn,
        labels.ADDRESS: host.address,
        labels.SUBDOMAIN: host.subdomain or "",
        labels.USERS: ",".join(u.name for u in host.users),
        labels.DOMAIN: plan.domain,
        labels.SUBNET: plan.subnet,
        labels.DISTRO: profile.name,
        labels.STAGE: stage,
    }


def _with_hash(spec: ContainerSpec, image_hash: str) -> ContainerSpec:
    material = {
        "image": spec.image, "image_hash": image_hash, "hostname": spec.hostname, "address": spec.ipv4_address,
        "labels": spec.labels, "files": {k: hashlib.sha256(v[0]).hexdigest() for k, v in sorted(spec.files.items())},
        "caps": spec.cap_add, "volumes": spec.volumes, "dns": spec.dns, "command": spec.command,
    }
    spec.labels[labels.CONFIG_HASH] = hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()[:16]
    return spec


def pc_spec(
    plan: LabPlan, pc: HostPlan, profile: DistroProfile, stage: str, passwords: dict[str, str], cgroup_v2: bool,
    image_hash: str,
) -> ContainerSpec:
    """A PC: systemd as PID 1 without --privileged; SYS_ADMIN for systemd's mounts, NET_ADMIN for firewalld."""
    volumes = volume_names(plan.name, pc.name)
    first_boot = profile.paths["first_boot"]
    resolver = f"search {pc.subdomain}.{plan.domain} {plan.domain}\nnameserver {plan.dns.address}\noptions timeout:2 attempts:2\n"
    files = {
        profile.paths["resolver"]: (resolver.encode(), 0o644),
        "/etc/mailname": (f"{pc.fqdn}\n".encode(), 0o644),
        # What labsim-init uses once, at first boot, then removes (see images/*/pc/bin/labsim-init).
        f"{first_boot}/users": ("".join(f"{u.name}:{passwords[u.name]}\n" for u in pc.users).encode(), 0o600),
    }
    if stage == "configured":
        for path, text in first_boot_files([u.name for u in pc.users], pc.fqdn, pc.subdomain or "", plan.domain).items():
            files[f"{first_boot}/files{path}"] = (text.encode(), 0o600)
    spec = ContainerSpec(
        name=container_name(plan.name, pc.name),
        image=profile.image("pc", stage),
        hostname=pc.fqdn,
        labels=_host_labels(plan, pc, profile, stage),
        network=network_name(plan.name),
        ipv4_address=pc.address,
        tmpfs={"/run": "rw,mode=755", "/run/lock": "rw,mode=1777", "/tmp": "rw,mode=1777"},
        cap_add=["SYS_ADMIN", "NET_ADMIN"],
        volumes=volumes,
        # New volumes start empty (the engine's copy of the image's files costs a process per volume):
        # the image's /home is empty anyway, and labsim-init fills a new mail queue with Postfix's directories.
        empty_volumes=list(volumes),
        binds={"/sys/fs/cgroup": "/sys/fs/cgroup:rw" if cgroup_v2 else "/sys/fs/cgroup:ro"},
        sysctls={"net.ipv6.conf.all.disable_ipv6": "0", "net.ipv6.conf.lo.disable_ipv6": "0"},
        dns=[plan.dns.address],
        cgroupns_host=cgroup_v2,
        stop_signal="SIGRTMIN+3",
        files=files,
    )
    return _with_hash(spec, image_hash)


def dns_spec(plan: LabPlan, profile: DistroProfile, stage: str, image_hash: str) -> ContainerSpec:
    """The BIND server: named in the foreground, authoritative only, zones written in before start."""
    files = zone_files(plan)
    payload = {profile.named_conf: (named_conf(plan, profile.zone_dir, files).encode(), 0o644)}
    for f in files:
        payload[f"{profile.zone_dir}/{f.filename}"] = (f.text.encode(), 0o644)
    spec = ContainerSpec(
        name=container_name(plan.name, plan.dns.name),
        image=profile.image("dns"),
        hostname=plan.dns.fqdn,
        labels=_host_labels(plan, plan.dns, profile, stage),
        network=network_name(plan.name),
        ipv4_address=plan.dns.address,
        cap_drop=["NET_RAW", "MKNOD", "AUDIT_WRITE"],
        files=payload,
    )
    return _with_hash(spec, image_hash)

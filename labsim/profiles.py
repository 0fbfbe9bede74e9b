"""Everything that differs between the distro profiles, in one place: images, packages, services, paths."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class DistroProfile:
    """One distribution the lab's PCs and DNS server can run."""

    name: str
    description: str
    base_image: str  # the image the Dockerfiles start FROM
    base_pullable: bool  # True: comes from a registry; False: made locally (debootstrap)
    image_prefix: str  # labsim/<role>-<distro>
    install_dovecot: tuple[str, ...]  # step 4, as the student types it
    dovecot_packages: tuple[str, ...]
    package_query: tuple[str, ...]  # + package name: exit 0 when installed
    named_user: str
    named_conf: str
    zone_dir: str
    firewalld_default_services: tuple[str, ...]
    paths: dict[str, str] = field(default_factory=dict)
    services: dict[str, str] = field(default_factory=dict)

    def image(self, role: str, tag: str = "latest") -> str:
        """Image name for a role ("pc" or "dns")."""
        return f"{self.image_prefix}/{role}-{self.name}:{tag}"

    def context(self, role: str) -> str:
        """Build context of a role's image, relative to images/."""
        return f"{self.name}/{role}"


_COMMON_PATHS = {
    "main_cf": "/etc/postfix/main.cf",
    "master_cf": "/etc/postfix/master.cf",
    "dovecot_mail": "/etc/dovecot/conf.d/10-mail.conf",
    "dovecot_auth": "/etc/dovecot/conf.d/10-auth.conf",
    "dovecot_ssl": "/etc/dovecot/conf.d/10-ssl.conf",
    "stock_dir": "/usr/share/labsim/stock",
    "resolver": "/etc/labsim/resolv.conf",
    "first_boot": "/etc/labsim/first-boot",
    "firewalld_zone_stock": "/usr/lib/firewalld/zones/public.xml",
    "firewalld_zone": "/etc/firewalld/zones/public.xml",
}
_COMMON_SERVICES = {"postfix": "postfix", "dovecot": "dovecot", "firewalld": "firewalld", "named": "named"}

DEBIAN = DistroProfile(
    name="debian",
    description="Debian 12 (bookworm), made to look like a CentOS PC where the student looks",
    base_image="labsim/debian-base:bookworm",
    base_pullable=False,
    image_prefix="labsim",
    install_dovecot=("apt-get", "install", "-y", "dovecot-core", "dovecot-pop3d", "dovecot-imapd"),
    dovecot_packages=("dovecot-core", "dovecot-pop3d"),
    package_query=("dpkg-query", "-W", "-f=${db:Status-Status}\\n"),
    named_user="bind",
    named_conf="/etc/bind/named.conf",
    zone_dir="/etc/bind/labsim",
    firewalld_default_services=("dhcpv6-client", "ssh"),
    paths=dict(_COMMON_PATHS, unit_dir="/lib/systemd/system"),
    services=dict(_COMMON_SERVICES),
)

CENTOS = DistroProfile(
    name="centos",
    description="CentOS Stream 9, the distribution of the report",
    base_image="quay.io/centos/centos:stream9",
    base_pullable=True,
    image_prefix="labsim",
    install_dovecot=("yum", "install", "-y", "dovecot"),
    dovecot_packages=("dovecot",),
    package_query=("rpm", "-q"),
    named_user="named",
    named_conf="/etc/named.conf",
    zone_dir="/var/named/labsim",
    firewalld_default_services=("cockpit", "dhcpv6-client", "ssh"),
    paths=dict(_COMMON_PATHS, unit_dir="/usr/lib/systemd/system"),
    services=dict(_COMMON_SERVICES),
)

PROFILES: dict[str, DistroProfile] = {p.name: p for p in (CENTOS, DEBIAN)}


def get_profile(name: str) -> DistroProfile:
    """The profile called ``name`` ("centos" or "debian")."""
    return PROFILES[name]

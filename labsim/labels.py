"""Label keys put on every Docker object of a lab; every lookup goes by these."""

PREFIX = "labsim."
LAB = PREFIX + "lab"
HOST = PREFIX + "host"
ROLE = PREFIX + "role"
FQDN = PREFIX + "fqdn"
ADDRESS = PREFIX + "address"
SUBDOMAIN = PREFIX + "subdomain"
USERS = PREFIX + "users"
DOMAIN = PREFIX + "domain"
SUBNET = PREFIX + "subnet"
DISTRO = PREFIX + "distro"
STAGE = PREFIX + "stage"
CONFIG_HASH = PREFIX + "config-hash"
BUILD_HASH = PREFIX + "build-hash"
VOLUME_PATH = PREFIX + "path"

ROLE_PC = "pc"
ROLE_DNS = "dns"
ROLE_NETWORK = "network"
ROLE_VOLUME = "volume"


def lab_filter(lab: str | None = None, **extra: str) -> list[str]:
    """Docker label filters selecting labsim objects (of one lab when given)."""
    filters = [f"{LAB}={lab}" if lab else LAB]
    filters += [f"{PREFIX}{key}={value}" for key, value in extra.items()]
    return filters

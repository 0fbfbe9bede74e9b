"""Where the files shipped with labsim live: images/ and topologies/, in the wheel or in a checkout."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _data_root() -> Path:
    installed = _PACKAGE / "data"
    if (installed / "images").is_dir():
        return installed
    return _PACKAGE.parent  # a source checkout (editable install, tests)


def images_dir() -> Path:
    """The images/ tree (Dockerfiles per distro profile)."""
    return _data_root() / "images"


def topologies_dir() -> Path:
    """The shipped topologies."""
    return _data_root() / "topologies"


def default_topology() -> Path:
    """The 40-PC class used by `labsim up` with no file."""
    return topologies_dir() / "class.yml"

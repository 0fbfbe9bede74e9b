"""Images of a lab: the base (debootstrap + import when no registry answers), the PC and DNS images."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from . import labels
from .engine import LabEngine
from .errors import EngineError, UserInputError
from .profiles import PROFILES, DistroProfile, get_profile
from .progress import Progress, ProgressFn, no_progress
from .resources import images_dir

DEBIAN_MIRROR = os.environ.get("LABSIM_DEBIAN_MIRROR", "http://deb.debian.org/debian")
PC_STAGES = ("initial", "configured")


@dataclass(frozen=True)
class ImageResult:
    tag: str
    built: bool  # False: the image was already there with the same build hash
    size: int
    build_hash: str  # of its sources and base (the image's labsim build-hash label)
    image_id: str


@dataclass(frozen=True)
class DistroChoice:
    profile: DistroProfile
    reason: str


def choose_distro(engine: LabEngine, requested: str) -> DistroChoice:
    """Resolve ``auto``: CentOS when its base image is present or can be pulled, else Debian."""
    if requested in PROFILES:
        return DistroChoice(get_profile(requested), f"distro {requested} asked for")
    centos = get_profile("centos")
    if engine.image(centos.base_image) is not None:
        return DistroChoice(centos, f"CentOS base image {centos.base_image} is present")
    if os.environ.get("LABSIM_NO_PULL") != "1" and engine.pull(centos.base_image):
        return DistroChoice(centos, f"pulled the CentOS base image {centos.base_image}")
    return DistroChoice(
        get_profile("debian"),
        f"CentOS base image {centos.base_image} is neither present nor pullable (no registry); using the Debian profile",
    )


def context_hash(context: Path, extra: str = "") -> str:
    """A hash of every file of a build context (names, modes, contents) plus ``extra``."""
    digest = hashlib.sha256(extra.encode())
    for path in sorted(p for p in context.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(context)).encode())
        digest.update(str(path.stat().st_mode & 0o777).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def ensure_base(engine: LabEngine, profile: DistroProfile, progress: ProgressFn = no_progress) -> None:
    """Make sure the profile's base image exists: pull it, or for Debian make it with debootstrap."""
    if engine.image(profile.base_image) is not None:
        return
    if profile.base_pullable:
        if os.environ.get("LABSIM_NO_PULL") == "1":
            raise EngineError(
                f"base image {profile.base_image} is not present and pulling is off (LABSIM_NO_PULL=1); "
                f"use `distro: debian` (built offline) or load the image with `docker load`"
            )
        progress(Progress("base", profile.base_image, "pulling"))
        if not engine.pull(profile.base_image):
            raise EngineError(
                f"base image {profile.base_image} is not present and no registry answers; "
                f"use `distro: debian` (built offline) or load the image with `docker load`"
            )
        return
    make_debian_base(engine, profile.base_image, progress)


def make_debian_base(engine: LabEngine, tag: str, progress: ProgressFn = no_progress) -> None:
    """debootstrap a minimal Debian 12 and import it as ``tag``."""
    if shutil.which("debootstrap") is None:
        raise EngineError(
            f"base image {tag} is missing and debootstrap is not installed; install it (`apt-get install debootstrap`) "
            "or load the image with `docker load`"
        )
    if os.geteuid() != 0:
        raise EngineError(f"base image {tag} is missing and making it with debootstrap needs root; run `sudo labsim build` once")
    with tempfile.TemporaryDirectory(prefix="labsim-rootfs-") as root:
        progress(Progress("base", tag, f"debootstrap bookworm from {DEBIAN_MIRROR}"))
        proc = subprocess.run(
            ["debootstrap", "--variant=minbase", "bookworm", root, DEBIAN_MIRROR],
            capture_output=True, text=True,
        )
        if proc.returncode != 0:
            last = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
            raise EngineError(f"debootstrap of Debian 12 failed: {last[0]}; check that {DEBIAN_MIRROR} is reachable")
        progress(Progress("base", tag, "importing into Docker"))
        tar = subprocess.Popen(["tar", "-C", root, "-c", "."], stdout=subprocess.PIPE)
        assert tar.stdout is not None
        engine.import_image(iter(lambda: tar.stdout.read(1 << 20), b""), tag)
        tar.wait()


def _build(
    engine: LabEngine, profile: DistroProfile, role: str, target: str | None, tag: str, force: bool,
    progress: ProgressFn,
) -> ImageResult:
    context = images_dir() / profile.context(role)
    if not context.is_dir():
        raise EngineError(f"image sources for {profile.name}/{role} are missing at {context}; reinstall labsim")
    base = engine.image(profile.base_image)  # a new base (debootstrapped or pulled again) means a rebuild
    wanted = context_hash(context, f"{profile.base_image}{base.id if base else ''}{target}")
    current = engine.image(tag)
    if not force and current is not None and current.labels.get(labels.BUILD_HASH) == wanted:
        return ImageResult(tag, False, current.size, wanted, current.id)
    progress(Progress("build", tag, "building"))
    engine.build_image(
        str(context), tag, target, {"BASE": profile.base_image}, {labels.BUILD_HASH: wanted},
        on_line=lambda line: progress(Progress("build", tag, line)), no_cache=force,
    )
    built = engine.image(tag)
    if built is None:
        raise EngineError(f"the engine built {tag} but does not list it; run `labsim build` again")
    return ImageResult(tag, True, built.size, wanted, built.id)


def ensure_images(
    engine: LabEngine, profile: DistroProfile, stages: tuple[str, ...] = PC_STAGES, force: bool = False,
    progress: ProgressFn = no_progress,
) -> list[ImageResult]:
    """Build what is missing or out of date: the base, the DNS image, the PC image per stage."""
    for stage in stages:
        if stage not in PC_STAGES:
            raise UserInputError(f"unknown stage '{stage}'; use one of: {', '.join(PC_STAGES)}")
    ensure_base(engine, profile, progress)
    results = [_build(engine, profile, "dns", None, profile.image("dns"), force, progress)]
    for stage in stages:
        results.append(_build(engine, profile, "pc", stage, profile.image("pc", stage), force, progress))
    return results

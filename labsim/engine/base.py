"""The engine interface (after Kathará's manager/engine split): another engine can be added later."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Callable, Iterator


@dataclass(frozen=True)
class ExecResult:
    """What a command run in a container gave back."""

    exit_code: int
    stdout: str
    stderr: str = ""

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


@dataclass(frozen=True)
class ImageInfo:
    """A local image, from one inspection: its content-addressed ID (``sha256:...``), labels and size."""

    id: str
    labels: dict[str, str]
    size: int


@dataclass
class ContainerSpec:
    """Everything needed to create one lab container."""

    name: str
    image: str
    hostname: str
    labels: dict[str, str]
    network: str
    ipv4_address: str
    command: list[str] | None = None
    tmpfs: dict[str, str] = field(default_factory=dict)
    cap_add: list[str] = field(default_factory=list)
    cap_drop: list[str] = field(default_factory=list)
    volumes: dict[str, str] = field(default_factory=dict)  # volume name -> path in container
    empty_volumes: list[str] = field(default_factory=list)  # volumes that start empty, not as a copy of the image's files
    binds: dict[str, str] = field(default_factory=dict)  # host path -> "path:mode"
    sysctls: dict[str, str] = field(default_factory=dict)
    dns: list[str] = field(default_factory=list)
    cgroupns_host: bool = False
    stop_signal: str | None = None
    files: dict[str, tuple[bytes, int]] = field(default_factory=dict)  # `up` writes them before start: path -> (data, mode)


@dataclass(frozen=True)
class ContainerInfo:
    """A lab container as the engine sees it now."""

    name: str
    id: str
    labels: dict[str, str]
    state: str  # running, exited, created, restarting, ...
    image: str
    started_at: str = ""


@dataclass(frozen=True)
class NetworkInfo:
    name: str
    id: str
    subnets: tuple[str, ...]
    labels: dict[str, str]
    internal: bool = False


class LabEngine(ABC):
    """What labsim needs from a container engine."""

    # --- engine
    @abstractmethod
    def ping(self) -> None:
        """Raise EngineError with a fix when the engine does not answer."""

    @abstractmethod
    def cgroup_version(self) -> int: ...

    # --- images
    @abstractmethod
    def image(self, ref: str) -> ImageInfo | None:
        """A local image, or None when it is not present."""

    @abstractmethod
    def pull(self, ref: str) -> bool:
        """Try to pull; False when no registry answers."""

    @abstractmethod
    def build_image(
        self, context: str, tag: str, target: str | None, buildargs: dict[str, str], labels: dict[str, str],
        on_line: Callable[[str], None] | None = None, no_cache: bool = False,
    ) -> None:
        """Build ``tag`` from ``context``; ``no_cache`` rebuilds every step (fresh packages)."""

    @abstractmethod
    def import_image(self, tar_stream: Iterator[bytes] | bytes, tag: str) -> None: ...

    # --- networks
    @abstractmethod
    def networks(self, label_filters: list[str] | None = None) -> list[NetworkInfo]: ...

    @abstractmethod
    def create_network(self, name: str, subnet: str, gateway: str, labels: dict[str, str]) -> None: ...

    @abstractmethod
    def remove_network(self, name: str) -> None: ...

    # --- volumes
    @abstractmethod
    def volumes(self, label_filters: list[str]) -> list[str]: ...

    @abstractmethod
    def create_volume(self, name: str, labels: dict[str, str]) -> bool:
        """Create a volume the caller's listing of these labels did not show; True when it is new (False:
        a volume of that name, without these labels, was there already and is left as it is)."""

    @abstractmethod
    def remove_volume(self, name: str) -> None: ...

    # --- containers
    @abstractmethod
    def containers(self, label_filters: list[str]) -> list[ContainerInfo]: ...

    @abstractmethod
    def create_container(self, spec: ContainerSpec) -> str: ...

    @abstractmethod
    def start(self, name: str) -> None: ...

    @abstractmethod
    def stop(self, name: str, timeout: int = 10) -> None: ...

    @abstractmethod
    def kill(self, name: str) -> None:
        """Stop a container at once and return when it has stopped (no-op when it is not running)."""

    @abstractmethod
    def remove_container(self, name: str) -> None: ...

    @abstractmethod
    def put_files(
        self, name: str, files: dict[str, tuple[bytes, int]], owner: tuple[int, int] = (0, 0),
        symlinks: dict[str, str] | None = None,
    ) -> None:
        """Write files (path -> (data, mode)) and symbolic links (path -> target), all in one operation."""

    @abstractmethod
    def get_file(self, name: str, path: str) -> bytes | None:
        """A file's content, or None when it does not exist."""

    @abstractmethod
    def exec(
        self, name: str, cmd: list[str], user: str | None = None, env: dict[str, str] | None = None,
        workdir: str | None = None,
    ) -> ExecResult: ...

    @abstractmethod
    def exec_stream(
        self, name: str, cmd: list[str], user: str | None = None, env: dict[str, str] | None = None,
        workdir: str | None = None, on_output: Callable[[bytes | None, bytes | None], None] | None = None,
    ) -> int:
        """Run a command, hand its output over as it comes, return its exit code."""

    @abstractmethod
    def memory_usage(self, name: str) -> int | None:
        """Bytes of memory the container uses now (cgroup), or None."""

    @abstractmethod
    def interactive_command(self, name: str, cmd: list[str], user: str | None, workdir: str | None, env: dict[str, str]) -> list[str]:
        """An argv that gives the user a terminal in the container (run by the CLI)."""

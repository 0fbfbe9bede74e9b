"""The Docker implementation of :class:`LabEngine`, on the Docker SDK for Python."""

from __future__ import annotations

import io
import shutil
import tarfile
import time
from pathlib import PurePosixPath
from typing import Iterator

import docker
import docker.errors
from docker.types import IPAMConfig, IPAMPool

from ..errors import EngineError
from .base import ContainerInfo, ContainerSpec, ExecResult, ImageInfo, LabEngine, NetworkInfo


class DockerEngine(LabEngine):
    """Talks to the local Docker engine (DOCKER_HOST and friends are honoured)."""

    def __init__(self) -> None:
        try:
            self.client = docker.from_env(max_pool_size=64, timeout=300)
        except docker.errors.DockerException as err:
            raise EngineError(
                f"Docker is not running or not reachable ({_short(err)}); start it (`systemctl start docker` "
                "or `dockerd &` as root) and check `docker info`"
            ) from None
        self.api = self.client.api

    # ------------------------------------------------------------------ engine
    def ping(self) -> None:
        try:
            self.client.ping()
        except Exception as err:  # noqa: BLE001 - any failure here means the same thing to the user
            raise EngineError(
                f"Docker is not running or not reachable ({_short(err)}); start it (`systemctl start docker` "
                "or `dockerd &` as root) and check `docker info`"
            ) from None

    def cgroup_version(self) -> int:
        return int(self.client.info().get("CgroupVersion", "1") or 1)

    # ------------------------------------------------------------------ images
    def image(self, ref: str) -> ImageInfo | None:
        try:
            attrs = self.api.inspect_image(ref)
        except docker.errors.ImageNotFound:
            return None
        return ImageInfo(str(attrs["Id"]), dict((attrs.get("Config") or {}).get("Labels") or {}), int(attrs.get("Size", 0)))

    def pull(self, ref: str) -> bool:
        try:
            self.client.images.pull(ref)
            return True
        except docker.errors.APIError:
            return False

    def build_image(self, context, tag, target, buildargs, labels, on_line=None, no_cache=False) -> None:
        stream = self.api.build(
            path=context, tag=tag, target=target, buildargs=buildargs, labels=labels, rm=True,
            forcerm=True, decode=True, nocache=no_cache,
        )
        tail: list[str] = []
        for chunk in stream:
            if "error" in chunk:
                detail = chunk.get("error", "").strip()
                raise EngineError(f"building {tag} from {context} failed: {detail} (last output: {' | '.join(tail[-3:])})")
            line = chunk.get("stream", "").rstrip()
            if line:
                tail.append(line)
                if on_line:
                    on_line(line)

    def import_image(self, tar_stream: Iterator[bytes] | bytes, tag: str) -> None:
        repo, _, version = tag.partition(":")
        self.api.import_image_from_data(tar_stream, repository=repo, tag=version or "latest")

    # ------------------------------------------------------------------ networks
    def networks(self, label_filters=None) -> list[NetworkInfo]:
        filters = {"label": label_filters} if label_filters else None
        result = []
        for net in self.api.networks(filters=filters):
            configs = (net.get("IPAM") or {}).get("Config") or []
            subnets = tuple(c["Subnet"] for c in configs if c.get("Subnet"))
            result.append(
                NetworkInfo(net["Name"], net["Id"], subnets, dict(net.get("Labels") or {}), bool(net.get("Internal")))
            )
        return result

    def create_network(self, name: str, subnet: str, gateway: str, labels: dict[str, str]) -> None:
        ipam = IPAMConfig(pool_configs=[IPAMPool(subnet=subnet, gateway=gateway)])
        try:
            self.client.networks.create(
                name, driver="bridge", internal=True, ipam=ipam, labels=labels, check_duplicate=True,
                options={"com.docker.network.bridge.enable_ip_masquerade": "false"},
            )
        except docker.errors.APIError as err:
            raise EngineError(f"cannot create network {name} with subnet {subnet}: {_short(err)}") from None

    def remove_network(self, name: str) -> None:
        """Remove a network; endpoints of just-removed containers may linger a moment, then are forced off."""
        for attempt in range(40):
            try:
                self.api.remove_network(name)
                return
            except docker.errors.NotFound:
                return
            except docker.errors.APIError as err:
                if "active endpoints" not in str(err) or attempt == 39:
                    raise EngineError(
                        f"cannot remove network {name}: {_short(err)}; the engine still counts endpoints of removed "
                        "containers (a Docker engine bug): restart it (systemctl restart docker) and run the command again"
                    ) from None
                if attempt >= 10:
                    for endpoint in (self.api.inspect_network(name).get("Containers") or {}):
                        try:
                            self.api.disconnect_container_from_network(endpoint, name, force=True)
                        except docker.errors.APIError:
                            pass
                time.sleep(0.1)

    # ------------------------------------------------------------------ volumes
    def volumes(self, label_filters: list[str]) -> list[str]:
        return [v["Name"] for v in (self.api.volumes(filters={"label": label_filters}).get("Volumes") or [])]

    def create_volume(self, name: str, labels: dict[str, str]) -> bool:
        # Creating a volume whose name exists returns that volume unchanged: it is new only if it
        # carries our labels (any earlier one with our labels was in the caller's list).
        created = self.api.create_volume(name, labels=labels)
        return (created.get("Labels") or {}) == labels

    def remove_volume(self, name: str) -> None:
        for attempt in range(20):
            try:
                self.client.volumes.get(name).remove(force=True)
                return
            except docker.errors.NotFound:
                return
            except docker.errors.APIError:
                if attempt == 19:
                    raise
                time.sleep(0.25)  # the container holding it is still being removed

    # ------------------------------------------------------------------ containers
    def containers(self, label_filters: list[str]) -> list[ContainerInfo]:
        result = []
        for c in self.api.containers(all=True, filters={"label": label_filters}):
            name = (c.get("Names") or ["/?"])[0].lstrip("/")
            result.append(ContainerInfo(name, c["Id"], dict(c.get("Labels") or {}), c.get("State", ""), c.get("Image", "")))
        return result

    def create_container(self, spec: ContainerSpec) -> str:
        mounts = [f"{vol}:{path}:{'rw,nocopy' if vol in spec.empty_volumes else 'rw'}" for vol, path in spec.volumes.items()]
        mounts += [f"{src}:{dst}" for src, dst in spec.binds.items()]
        host_config = self.api.create_host_config(
            binds=mounts,
            tmpfs=spec.tmpfs or None,
            cap_add=spec.cap_add or None,
            cap_drop=spec.cap_drop or None,
            sysctls=spec.sysctls or None,
            dns=spec.dns or None,
            restart_policy={"Name": "unless-stopped"},
            privileged=False,
            cgroupns="host" if spec.cgroupns_host else None,
            security_opt=["apparmor=unconfined"] if _apparmor() else None,
        )
        networking = self.api.create_networking_config(
            {spec.network: self.api.create_endpoint_config(ipv4_address=spec.ipv4_address)}
        )
        try:
            created = self.api.create_container(
                spec.image, command=spec.command, hostname=spec.hostname, labels=spec.labels, name=spec.name,
                host_config=host_config, networking_config=networking, stop_signal=spec.stop_signal,
                detach=True, tty=False,
            )
        except docker.errors.APIError as err:
            raise EngineError(f"cannot create container {spec.name}: {_short(err)}") from None
        return created["Id"]

    def start(self, name: str) -> None:
        try:
            self.api.start(name)
        except docker.errors.APIError as err:
            raise EngineError(f"cannot start container {name}: {_short(err)}") from None

    def stop(self, name: str, timeout: int = 10) -> None:
        self.api.stop(name, timeout=timeout)

    def kill(self, name: str) -> None:
        """Stop at once; returns when the container has stopped (its network endpoint is released then)."""
        try:
            self.api.kill(name)
        except docker.errors.APIError:
            return  # not running, or gone
        try:
            self.api.wait(name, timeout=30, condition="not-running")
        except Exception:  # noqa: BLE001 - gone already, or slow: removal (force) copes with both
            pass

    def remove_container(self, name: str) -> None:
        try:
            self.api.remove_container(name, force=True, v=False)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as err:
            if "already in progress" not in str(err):
                raise

    def put_files(
        self, name: str, files: dict[str, tuple[bytes, int]], owner: tuple[int, int] = (0, 0),
        symlinks: dict[str, str] | None = None,
    ) -> None:
        """Write files (and symbolic links) in one archive operation: each one costs the engine a process.
        Missing parent directories are created (root, 0755); existing ones keep their owner and mode."""
        try:
            self.api.put_archive(name, "/", _tar(files, owner, symlinks or {}))
        except docker.errors.NotFound:
            raise EngineError(f"container {name} does not exist; run `labsim up` first") from None
        except docker.errors.APIError as err:
            raise EngineError(f"cannot write files into {name}: {_short(err)}") from None

    def get_file(self, name: str, path: str) -> bytes | None:
        try:
            stream, _ = self.api.get_archive(name, path)
        except docker.errors.NotFound:
            return None
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
            member = tar.next()
            while member is not None and not member.isfile():
                if member.issym():
                    target = member.linkname
                    if not target.startswith("/"):
                        target = str(PurePosixPath(path).parent / target)
                    return self.get_file(name, target)
                member = tar.next()
            if member is None:
                return None
            handle = tar.extractfile(member)
            return handle.read() if handle else None

    def exec(self, name, cmd, user=None, env=None, workdir=None) -> ExecResult:
        try:
            created = self.api.exec_create(name, cmd, user=user or "", environment=env, workdir=workdir)
            out, err = self.api.exec_start(created["Id"], demux=True)
            code = self._exit_code(created["Id"])
        except docker.errors.NotFound:
            raise EngineError(f"container {name} does not exist; run `labsim up` first") from None
        except docker.errors.APIError as error:
            raise EngineError(f"cannot run {cmd[0]} in {name}: {_short(error)}") from None
        return ExecResult(
            code if code is not None else -1,
            (out or b"").decode("utf-8", "replace"),
            (err or b"").decode("utf-8", "replace"),
        )

    def exec_stream(self, name, cmd, user=None, env=None, workdir=None, on_output=None) -> int:
        try:
            created = self.api.exec_create(name, cmd, user=user or "", environment=env, workdir=workdir)
            for out, err in self.api.exec_start(created["Id"], stream=True, demux=True):
                if on_output:
                    on_output(out, err)
            return self._exit_code(created["Id"])
        except docker.errors.APIError as error:
            raise EngineError(f"cannot run {cmd[0]} in {name}: {_short(error)}") from None

    def _exit_code(self, exec_id: str) -> int:
        """The exit code of a finished exec (the engine may report it a moment after the output ends)."""
        for _ in range(200):
            info = self.api.exec_inspect(exec_id)
            if not info.get("Running") and info.get("ExitCode") is not None:
                return int(info["ExitCode"])
            time.sleep(0.01)
        return -1

    def memory_usage(self, name: str) -> int | None:
        try:
            stats = self.api.stats(name, stream=False)
        except docker.errors.APIError:
            return None
        mem = stats.get("memory_stats") or {}
        usage = mem.get("usage")
        if usage is None:
            return None
        inner = mem.get("stats") or {}
        cache = inner.get("total_inactive_file", inner.get("inactive_file", 0))
        return int(usage) - int(cache)

    def interactive_command(self, name, cmd, user, workdir, env) -> list[str]:
        docker_cli = shutil.which("docker")
        if docker_cli is None:
            raise EngineError("`labsim shell` needs the docker command-line client; install it (apt-get install docker.io)")
        argv = [docker_cli, "exec", "-it"]
        if user:
            argv += ["-u", user]
        if workdir:
            argv += ["-w", workdir]
        for key, value in env.items():
            argv += ["-e", f"{key}={value}"]
        return argv + [name, *cmd]


def _tar(entries: dict[str, tuple[bytes, int]], owner: tuple[int, int], symlinks: dict[str, str]) -> bytes:
    """A tar archive to unpack at /: ``entries`` (absolute path -> (data, mode)) and ``symlinks`` (path -> target),
    without directory entries, so that existing directories are left as they are."""
    buf = io.BytesIO()
    now = int(time.time())
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for path, (data, mode) in entries.items():
            info = tarfile.TarInfo(path.lstrip("/"))
            info.size, info.mode, info.mtime = len(data), mode, now
            info.uid, info.gid = owner
            tar.addfile(info, io.BytesIO(data))
        for path, target in symlinks.items():
            info = tarfile.TarInfo(path.lstrip("/"))
            info.type, info.linkname, info.mtime = tarfile.SYMTYPE, target, now
            tar.addfile(info)
    return buf.getvalue()


def _apparmor() -> bool:
    try:
        with open("/sys/module/apparmor/parameters/enabled") as f:
            return f.read().strip() == "Y"
    except OSError:
        return False


def _short(err: Exception) -> str:
    text = getattr(err, "explanation", None) or str(err)
    return " ".join(str(text).split())[:300]

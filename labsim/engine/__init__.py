"""Container engines behind labsim. The lab logic talks only to :class:`LabEngine`."""

from .base import ContainerInfo, ContainerSpec, ExecResult, ImageInfo, LabEngine, NetworkInfo


def default_engine() -> LabEngine:
    """The engine labsim uses: the local Docker engine."""
    from .docker_engine import DockerEngine

    return DockerEngine()


__all__ = ["ContainerInfo", "ContainerSpec", "ExecResult", "ImageInfo", "LabEngine", "NetworkInfo", "default_engine"]

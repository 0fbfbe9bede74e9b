"""`labsim down --purge` finishes its work even when the engine refuses to remove the network."""

from types import SimpleNamespace
from unittest.mock import MagicMock

import pytest

from labsim import labels
from labsim.engine import ContainerInfo
from labsim.errors import EngineError
from labsim.lab import down
from labsim.state import state_path


def test_a_network_the_engine_cannot_remove_still_leaves_volumes_and_state_purged(tmp_path, monkeypatch):
    monkeypatch.setenv("LABSIM_STATE_DIR", str(tmp_path))
    state_path("x").write_text("{}")
    engine = MagicMock()
    engine.containers.return_value = [ContainerInfo("labsim-x-pc1", "id", {labels.LAB: "x"}, "exited", "img")]
    engine.networks.return_value = [SimpleNamespace(name="labsim-x", subnets=["10.9.9.0/24"], labels={labels.LAB: "x"})]
    engine.volumes.return_value = ["labsim-x-pc1-home", "labsim-x-pc1-spool"]
    engine.remove_network.side_effect = EngineError("cannot remove network labsim-x: it has active endpoints; restart the engine")
    with pytest.raises(EngineError, match="active endpoints"):
        down(engine, "x", purge=True)
    engine.remove_container.assert_called_once_with("labsim-x-pc1")
    assert sorted(c.args[0] for c in engine.remove_volume.call_args_list) == ["labsim-x-pc1-home", "labsim-x-pc1-spool"]
    assert not state_path("x").exists()

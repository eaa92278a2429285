"""Fixtures of the simulator tests: one shared simulation with every incident kind."""

from __future__ import annotations

import pytest
from simhelpers import SimOutput, incident_config, read_output

from qos_ml.simulate import simulate


@pytest.fixture(scope="session")
def sim(tmp_path_factory: pytest.TempPathFactory) -> SimOutput:
    """One simulation with every incident kind, shared by the format tests."""
    config = incident_config()
    root = tmp_path_factory.mktemp("sim")
    simulate(config, root)
    return read_output(root, config)

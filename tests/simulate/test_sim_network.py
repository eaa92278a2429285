"""Stalls come from the network: slower traces stall more."""

from __future__ import annotations

from pathlib import Path

import pytest
from simhelpers import read_output, shared_data

from qos_ml.simulate import SimulationConfig, Trace, load_traces, simulate


def _quiet(**values: object) -> SimulationConfig:
    """A run where only the network decides: no failures, pauses or seeks."""
    return SimulationConfig.create(
        sessions=20, seed=21, mean_watch_s=90, live_share=0.0, seeks_per_hour=0,
        pauses_per_hour=0, start_failure_rate=0, playback_failures_per_hour=0,
        startup_patience_s=1000, stall_patience_s=1000, completion_share=0, **values,
    )  # fmt: skip


def _rebuffering(
    tmp: Path, config: SimulationConfig, traces: object = None
) -> tuple[int, float]:
    simulate(config, tmp, traces)  # type: ignore[arg-type]
    sessions = read_output(tmp, config).sessions
    stalls = sum(t["rebuffer_count"] for t in sessions)
    stalled = sum(t["rebuffer_ms"] for t in sessions)
    played = sum(t["play_ms"] for t in sessions)
    return stalls, stalled / (stalled + played)


def test_generator_slower_network_stalls_more(tmp_path: Path) -> None:
    fast = _rebuffering(tmp_path / "fast", _quiet())
    slow = _rebuffering(tmp_path / "slow", _quiet(throughput_scale=0.3))
    assert slow[0] > fast[0]
    assert slow[1] > 2 * fast[1]


@pytest.mark.shared_data
def test_real_3g_traces_stall_more_when_slower(tmp_path: Path) -> None:
    norway = load_traces(shared_data("traces/norway_hsdpa"))
    assert {t.profile for t in norway} == {"cellular"}
    # Every viewer draws from these traces, whatever its connection type.
    traces = [Trace(t.name, t.times_s, t.mbps, "fixed") for t in norway]
    as_recorded = _rebuffering(tmp_path / "3g", _quiet(), traces)
    slower = _rebuffering(tmp_path / "3g-slow", _quiet(throughput_scale=0.35), traces)
    assert slower[0] > as_recorded[0] + 10
    assert slower[1] > 2 * as_recorded[1]

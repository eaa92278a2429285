"""Replay into a landing folder: paced, atomic, and it stops."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from simhelpers import SimOutput

from qos_ml import ConfigError
from qos_ml.simulate import replay


def _landed(landing: Path, kind: str) -> list[str]:
    lines: list[str] = []
    for path in sorted((landing / kind).glob("replay-*")):
        lines += path.read_text().splitlines()
    return lines


def test_replay_by_speedup_emits_everything_in_order(
    sim: SimOutput, tmp_path: Path
) -> None:
    summary = replay(sim.root, tmp_path, speedup=1e6, tick_s=0.05, max_duration_s=60)
    assert summary.stopped_by == "end_of_data"
    events = _landed(tmp_path, "player_events")
    assert len(events) == len(sim.events)
    stamps = [json.loads(line)["TimeStamp"] for line in events]
    assert stamps == sorted(stamps)
    assert len(_landed(tmp_path, "cloudfront_realtime")) == len(sim.realtime)
    standard = sorted(p.name for p in (tmp_path / "cloudfront_standard").glob("*.gz"))
    assert standard == sorted(
        p.name for p in (sim.root / "cloudfront_standard").glob("*.gz")
    )
    assert not list(tmp_path.rglob(".*inprogress"))


def test_replay_by_rate_stops_at_max_duration(sim: SimOutput, tmp_path: Path) -> None:
    summary = replay(sim.root, tmp_path, rate=100, tick_s=0.1, max_duration_s=0.5)
    assert summary.stopped_by == "max_duration"
    events = _landed(tmp_path, "player_events")
    # 10 events per tick, about five ticks
    assert 10 <= len(events) <= 80
    assert summary.wall_s < 5


def test_replay_stops_on_the_stop_event(sim: SimOutput, tmp_path: Path) -> None:
    stop = threading.Event()
    timer = threading.Timer(0.3, stop.set)
    timer.start()
    summary = replay(sim.root, tmp_path, speedup=1.0, tick_s=0.05, stop=stop)
    timer.cancel()
    assert summary.stopped_by == "stop_event"
    assert summary.wall_s < 5


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "exactly one of rate or speedup"),
        ({"rate": 5, "speedup": 2}, "exactly one of rate or speedup"),
        ({"rate": -1}, r"'rate'.*-1.*a positive number"),
        ({"speedup": 2, "max_duration_s": 0}, r"'max_duration_s'.*a positive number"),
    ],
)
def test_replay_pace_is_validated(
    sim: SimOutput, tmp_path: Path, kwargs: dict, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        replay(sim.root, tmp_path, **kwargs)


def test_replay_needs_a_simulation_folder(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"an output folder of qos_ml\.simulate"):
        replay(tmp_path, tmp_path / "landing", speedup=10)

"""Helpers of the simulator tests: read a simulation's files with plain Python."""

from __future__ import annotations

import gzip
import importlib.util
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qos_ml._formats import CLOUDFRONT_REALTIME_FIELDS
from qos_ml.simulate import (
    CorruptedAsset,
    DeviceFailure,
    EdgeDegradation,
    IspCongestion,
    OriginOutage,
    SimulationConfig,
)
from qos_ml.simulate._world import World


def shared_data(relative: str) -> Path:
    """``tests/conftest.py``'s ``shared_data``: the path, or a skip when absent."""
    root_conftest = Path(__file__).resolve().parents[1] / "conftest.py"
    spec = importlib.util.spec_from_file_location("_qos_tests_root", root_conftest)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.shared_data(relative)


@dataclass
class SimOutput:
    """A simulation's files parsed into dictionaries."""

    root: Path
    config: SimulationConfig
    events: list[dict[str, Any]] = field(default_factory=list)
    standard: list[dict[str, str]] = field(default_factory=list)
    realtime: list[dict[str, str]] = field(default_factory=list)
    sessions: list[dict[str, Any]] = field(default_factory=list)
    incidents: list[dict[str, Any]] = field(default_factory=list)


def read_output(root: Path, config: SimulationConfig) -> SimOutput:
    out = SimOutput(root, config)
    for path in sorted((root / "player_events").glob("part-*.jsonl")):
        out.events += [json.loads(line) for line in path.read_text().splitlines()]
    for path in sorted((root / "cloudfront_standard").glob("*.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            lines = handle.read().splitlines()
        assert lines[0] == "#Version: 1.0"
        names = lines[1].removeprefix("#Fields: ").split(" ")
        out.standard += [
            dict(zip(names, line.split("\t"), strict=True)) for line in lines[2:]
        ]
    for path in sorted((root / "cloudfront_realtime").glob("part-*.log")):
        for line in path.read_text().splitlines():
            values = line.split("\t")
            out.realtime.append(
                dict(zip(CLOUDFRONT_REALTIME_FIELDS, values, strict=True))
            )
    truth = root / "ground_truth"
    out.sessions = [
        json.loads(x) for x in (truth / "sessions.jsonl").read_text().splitlines()
    ]
    out.incidents = [
        json.loads(x) for x in (truth / "incidents.jsonl").read_text().splitlines()
    ]
    return out


def incident_config(**overrides: Any) -> SimulationConfig:
    """60 sessions under one incident of each kind, with broad scopes."""
    base = SimulationConfig.create(sessions=60, seed=11, mean_watch_s=240, **overrides)
    span = base.span_s()
    popular = tuple(v.video_id for v in World(base).vod[:3])
    incidents = [
        EdgeDegradation(
            id="edge-1", start_s=0.2 * span, end_s=0.5 * span,
            edge_locations=("IAD89-C1", "JFK50-C1", "EWR52-C4", "FRA53"),
            error_rate=0.3,
        ),
        IspCongestion(
            id="isp-1", start_s=0.3 * span, end_s=0.7 * span, asns=(7922, 3320)
        ),
        CorruptedAsset(id="asset-1", start_s=0.0, end_s=0.6 * span, video_ids=popular),
        DeviceFailure(
            id="device-1", start_s=0.2 * span, end_s=0.8 * span,
            device_models=("Windows PC Chrome",), failures_per_hour=60,
        ),
        OriginOutage(id="origin-1", start_s=0.75 * span, end_s=0.85 * span),
    ]  # fmt: skip
    return SimulationConfig.create(
        sessions=60, seed=11, mean_watch_s=240, incidents=incidents, **overrides
    )


__all__ = [
    "SimOutput",
    "incident_config",
    "read_output",
    "shared_data",
]

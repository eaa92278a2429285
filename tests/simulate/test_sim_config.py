"""Configuration and incident validation: errors name the field and the value."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import qos_ml.simulate
from qos_ml import ConfigError
from qos_ml.simulate import (
    EdgeDegradation,
    IspCongestion,
    SimulationConfig,
    default_incidents,
    load_incidents,
    simulate,
)


def test_all_is_sorted_and_exported() -> None:
    names = qos_ml.simulate.__all__
    assert names == sorted(names, key=lambda n: (not n.isupper(), n))
    for name in names:
        assert hasattr(qos_ml.simulate, name)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"sessions": 0}, r"'sessions'.*0.*greater than or equal to 1"),
        ({}, r"exactly one of sessions or duration_s"),
        ({"sessions": 5, "duration_s": 60}, r"exactly one of sessions or duration_s"),
        (
            {"sessions": 5, "ladder_kbps": (800, 400)},
            r"'ladder_kbps'.*strictly ascending",
        ),
        ({"sessions": 5, "ladder_kbps": (20, 400)}, r"'ladder_kbps'.*at least 50 kbps"),
        ({"sessions": 5, "live_share": 1.5}, r"'live_share'.*1\.5"),
        ({"sessions": 5, "colour": "red"}, r"'colour'.*one of .*catalog_size"),
        ({"sessions": 5, "distribution_id": "bad id"}, r"'distribution_id'.*'bad id'"),
        (
            {"sessions": 5, "start": "2026-01-05T18:00:00"},
            r"'start'.*timezone-aware",
        ),
        (
            {"sessions": 5, "startup_buffer_s": 40, "max_buffer_s": 30},
            r"startup_buffer_s at most max_buffer_s",
        ),
        ({"sessions": 5, "workers": 0}, r"'workers'.*0.*greater than or equal to 1"),
    ],
)
def test_invalid_values_are_named(values: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        SimulationConfig.create(**values)


def test_incident_window_and_ids_are_checked() -> None:
    with pytest.raises(ValueError, match=r"end_s .* must be after start_s"):
        IspCongestion(id="x", start_s=10, end_s=5, asns=(3320,))
    twice = [
        IspCongestion(id="same", start_s=0, end_s=5, asns=(3320,)),
        IspCongestion(id="same", start_s=5, end_s=9, asns=(3320,)),
    ]
    with pytest.raises(ConfigError, match="incident ids that are unique"):
        SimulationConfig.create(sessions=3, incidents=twice)


def test_incident_scope_must_exist_in_the_world(tmp_path: Path) -> None:
    edge = EdgeDegradation(id="e", start_s=0, end_s=9, edge_locations=("XXX1",))
    config = SimulationConfig.create(sessions=2, incidents=[edge])
    with pytest.raises(ConfigError, match=r"incidents\.0\.edge_locations.*XXX1.*FRA53"):
        simulate(config, tmp_path)
    asn = IspCongestion(id="i", start_s=0, end_s=9, asns=(1,))
    with pytest.raises(ConfigError, match=r"incidents\.0\.asns.*\[1\]"):
        simulate(SimulationConfig.create(sessions=2, incidents=[asn]), tmp_path)


def test_load_incidents_from_yaml_and_json(tmp_path: Path) -> None:
    yaml_file = tmp_path / "incidents.yaml"
    yaml_file.write_text(
        "incidents:\n"
        "  - kind: origin_outage\n    id: o1\n    start_s: 10\n    end_s: 20\n"
        "  - kind: device_failure\n    id: d1\n    start_s: 0\n    end_s: 60\n"
        "    device_models: [Roku Ultra]\n"
    )
    loaded = load_incidents(yaml_file)
    assert [i.kind for i in loaded] == ["origin_outage", "device_failure"]
    json_file = tmp_path / "incidents.json"
    json_file.write_text(json.dumps([i.model_dump(mode="json") for i in loaded]))
    assert load_incidents(json_file) == loaded
    config = SimulationConfig.create(sessions=3, incidents=load_incidents(json_file))
    assert config.incidents[1].scope() == {
        "device_models": ["Roku Ultra"], "failures_per_hour": 20.0,
    }  # fmt: skip


def test_load_incidents_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="an existing YAML or JSON file"):
        load_incidents(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("- kind: meteor_strike\n  id: m\n  start_s: 0\n  end_s: 1\n")
    with pytest.raises(ConfigError, match=r"incidents\.0.*meteor_strike"):
        load_incidents(bad)
    bad.write_text("- kind: isp_congestion\n  id: c\n  start_s: 0\n  end_s: 1\n")
    with pytest.raises(ConfigError, match=r"incidents\.0\.isp_congestion\.asns"):
        load_incidents(bad)
    bad.write_text("just a string\n")
    with pytest.raises(ConfigError, match="a list of incidents"):
        load_incidents(bad)
    bad.write_text("[unclosed\n")
    with pytest.raises(ConfigError, match="valid YAML/JSON"):
        load_incidents(bad)


def test_default_incidents_cover_every_kind_inside_the_window() -> None:
    config = SimulationConfig.create(sessions=100, seed=4)
    incidents = default_incidents(config)
    assert {i.kind for i in incidents} == {
        "edge_degradation", "isp_congestion", "device_failure", "corrupted_asset",
        "origin_outage",
    }  # fmt: skip
    assert all(0 <= i.start_s < i.end_s <= config.span_s() for i in incidents)
    SimulationConfig.create(sessions=100, seed=4, incidents=incidents)

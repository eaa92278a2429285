"""The emitted files have the real formats and agree with each other."""

from __future__ import annotations

import gzip
import re
import time
from collections import defaultdict
from pathlib import Path

import pytest
from simhelpers import SimOutput, read_output

from qos_ml._formats import (
    CLOUDFRONT_REALTIME_FIELDS,
    CLOUDFRONT_STANDARD_FIELDS,
    CLOUDFRONT_STANDARD_FIELDS_26,
    PLAYER_EVENT_COMMON,
    PLAYER_EVENT_FIELDS,
)
from qos_ml.simulate import SimulationConfig, simulate
from qos_ml.simulate._cdnlog import CmcdEncoder, _date_time, cmcd_query

REQUEST_ID = re.compile(r"^[A-Za-z0-9_-]{54}==$")


def test_standard_files_have_header_and_33_fields(sim: SimOutput) -> None:
    files = sorted((sim.root / "cloudfront_standard").glob("*.gz"))
    assert files
    name = re.compile(r"^E3QSIMQOSML7XZ\.\d{4}-\d{2}-\d{2}-\d{2}\.[0-9a-f]{8}\.gz$")
    for path in files:
        assert name.match(path.name), path.name
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            lines = handle.read().splitlines()
        assert lines[0] == "#Version: 1.0"
        assert lines[1] == "#Fields: " + " ".join(CLOUDFRONT_STANDARD_FIELDS)
        assert {len(line.split("\t")) for line in lines[2:]} == {33}


def test_realtime_lines_have_every_default_field(sim: SimOutput) -> None:
    for path in (sim.root / "cloudfront_realtime").glob("part-*.log"):
        for line in path.read_text().splitlines():
            assert len(line.split("\t")) == len(CLOUDFRONT_REALTIME_FIELDS)
    first = sim.realtime[0]
    assert re.match(r"^\d{10}\.\d{3}$", first["timestamp"])
    assert first["c-ip-version"] in ("IPv4", "IPv6")


def test_both_layouts_log_the_same_requests(sim: SimOutput) -> None:
    standard = {r["x-edge-request-id"]: r for r in sim.standard}
    realtime = {r["x-edge-request-id"]: r for r in sim.realtime}
    assert standard.keys() == realtime.keys()
    assert len(standard) == len(sim.standard)  # request ids are unique
    for rid, line in list(standard.items())[:500]:
        assert REQUEST_ID.match(rid)
        other = realtime[rid]
        assert line["sc-status"] == other["sc-status"]
        assert line["x-edge-location"] == other["x-edge-location"]
        assert line["cs-uri-query"] == other["cs-uri-query"]


def test_range_requests_answer_206_with_consistent_ranges(sim: SimOutput) -> None:
    ranged = [r for r in sim.standard if r["sc-status"] == "206"]
    assert ranged
    for line in ranged:
        start, end = int(line["sc-range-start"]), int(line["sc-range-end"])
        assert end - start + 1 == int(line["sc-content-len"])
        assert line["cs-uri-stem"].endswith("/media.mp4")
    plain = [r for r in sim.standard if r["sc-status"] == "200"]
    assert all(r["sc-range-start"] == "-" for r in plain)


def test_user_agent_and_cmcd_are_url_encoded(sim: SimOutput) -> None:
    line = sim.standard[0]
    assert " " not in line["cs(User-Agent)"]
    assert "%20" in line["cs(User-Agent)"]
    query = line["cs-uri-query"]
    assert query.startswith("CMCD=")
    assert "%2Csid%3D%22" in query
    media = [r for r in sim.realtime if r["cmcd-object-type"] in ("v", "av")]
    assert media
    assert all(r["cmcd-encoded-bitrate"].isdigit() for r in media)
    assert {r["cmcd-stream-type"] for r in sim.realtime} <= {"v", "l"}


def test_fast_cmcd_encoder_matches_the_generic_one() -> None:
    encoder = CmcdEncoder(cid="vod-Ab1", sid="1f0e-aa", sf="d", st="v", tb=5800)
    query, fields = encoder.encode(ot="v", bl=4200, br=3000, d=4000, mtp=2500, su=True)
    expected = cmcd_query(
        {"bl": 4200, "br": 3000, "cid": "vod-Ab1", "d": 4000, "mtp": 2500, "ot": "v",
         "sf": "d", "sid": "1f0e-aa", "st": "v", "su": True, "tb": 5800, "v": 1}
    )  # fmt: skip
    assert query == expected
    assert fields[:2] == ("3000", "4200")  # br, bl: the real-time field order
    with pytest.raises(ValueError, match="URL-safe"):
        CmcdEncoder(cid="a b", sid="x", sf="d", st="v", tb=1)


def test_player_events_use_the_sdk_schema(sim: SimOutput) -> None:
    extra = {"session_id", "user_agent", "fatal"}
    for event in sim.events:
        kind = event["MetricType"]
        assert set(PLAYER_EVENT_COMMON) <= event.keys()
        allowed = set(PLAYER_EVENT_COMMON) | set(PLAYER_EVENT_FIELDS[kind]) | extra
        assert event.keys() <= allowed, (kind, event.keys() - allowed)
        assert set(PLAYER_EVENT_FIELDS[kind]) <= event.keys(), kind
    kinds = {e["MetricType"] for e in sim.events}
    assert {"PLAY", "FIRSTFRAME", "BUFFER", "STREAM", "STEP", "STOP", "ERROR"} <= kinds
    stamps = [e["TimeStamp"] for e in sim.events]
    assert stamps == sorted(stamps)  # written in time order


def test_cdn_tracking_id_joins_a_request_of_the_same_session(sim: SimOutput) -> None:
    sid_of = {r["x-edge-request-id"]: r["cmcd-session-id"] for r in sim.realtime}
    tracked = [e for e in sim.events if e.get("cdn_tracking_id")]
    assert len(tracked) > 0.8 * len(sim.events)
    for event in tracked:
        assert sid_of[event["cdn_tracking_id"]] == event["session_id"]


def test_ground_truth_agrees_with_the_events(sim: SimOutput) -> None:
    by_session: dict[str, list[dict]] = defaultdict(list)
    for event in sim.events:
        by_session[event["session_id"]].append(event)
    assert len(sim.sessions) == 60
    for truth in sim.sessions:
        events = by_session[truth["session_id"]]
        kinds = [e["MetricType"] for e in events]
        freezes = [
            e["time_millisecond"]
            for e in events
            if e["MetricType"] == "BUFFER" and e["buffer_type"] == "ScreenFreezedBuffer"
        ]
        assert sum(freezes) == sum(s["duration_ms"] for s in truth["stalls"])
        assert len(freezes) == len(truth["stalls"])
        fatal = [e for e in events if e["MetricType"] == "ERROR" and e["fatal"]]
        started = "FIRSTFRAME" in kinds
        if truth["outcome"] == "completed":
            assert started
            assert not fatal
            assert kinds[-1] == "STOP"
        elif truth["outcome"] == "abandoned_before_start":
            assert not started
            assert not fatal
            assert "STOP" in kinds
        elif truth["outcome"] == "start_failure":
            assert not started
            assert len(fatal) == 1
        else:
            assert truth["outcome"] == "playback_failure"
            assert started
            assert len(fatal) == 1
        if started:
            first = next(e for e in events if e["MetricType"] == "FIRSTFRAME")
            assert first["time_millisecond"] == truth["startup_time_ms"]
        streams = sum(1 for k in kinds if k == "STREAM")
        assert abs(streams - truth["play_ms"] / 1000) <= 2 + 0.02 * streams
    outcomes = {t["outcome"] for t in sim.sessions}
    assert {"completed", "start_failure"} <= outcomes


def test_seek_stalls_are_marked(tmp_path) -> None:
    config = SimulationConfig.create(
        sessions=8, seed=5, live_share=0, seeks_per_hour=120, mean_watch_s=200
    )
    simulate(config, tmp_path)
    out = read_output(tmp_path, config)
    seeks = [e for e in out.events if e["MetricType"] == "SEEK"]
    marked = [s for t in out.sessions for s in t["stalls"] if s["seek_induced"]]
    assert seeks
    assert len(marked) >= len(seeks) - 2
    total = sum(t["seek_rebuffer_ms"] for t in out.sessions)
    assert total == sum(s["duration_ms"] for s in marked)


def test_legacy_layout_has_26_fields_and_double_encoded_agents(tmp_path) -> None:
    config = SimulationConfig.create(sessions=3, seed=2, legacy_layout=True)
    simulate(config, tmp_path)
    path = next((tmp_path / "cloudfront_standard").glob("*.gz"))
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    assert lines[1] == "#Fields: " + " ".join(CLOUDFRONT_STANDARD_FIELDS_26)
    assert {len(line.split("\t")) for line in lines[2:]} == {26}
    assert "%2520" in lines[2].split("\t")[10]


@pytest.mark.parametrize(
    "epoch_s",
    [0.0, 59.999, 86_399.5, 86_400.0, 1_767_636_000.25, 1_767_722_399.9, -1.0],
)
def test_log_date_time_matches_strftime(epoch_s: float) -> None:
    expected = time.strftime("%Y-%m-%d\t%H:%M:%S", time.gmtime(int(epoch_s)))
    assert _date_time(epoch_s) == expected


def test_standard_logs_roll_by_hour_and_by_size(tmp_path: Path) -> None:
    from qos_ml.simulate._output import OutputWriter

    writer = OutputWriter(
        tmp_path, distribution="E3QSIMQOSML7XZ", rows=100, legacy=False, seed=1
    )
    hour = 1_767_639_600_000  # 2026-01-05 19:00 UTC, in ms
    stamps = [hour - 50_000 + 997 * n for n in range(260)]  # 18:59:10 to 19:03:29
    requests = [(ts, f"std-{n}", f"rt-{n}") for n, ts in enumerate(stamps)]
    writer.add([], requests[:130], {"session_id": "a"}, stamps[0])
    writer.add([], requests[130:], {"session_id": "b"}, stamps[130])
    writer.close()

    files = sorted((tmp_path / "cloudfront_standard").glob("*.gz"))
    per_hour: dict[str, list[int]] = defaultdict(list)
    written = []
    for path in files:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            lines = handle.read().splitlines()[2:]
        assert 0 < len(lines) <= 100
        per_hour[path.name.split(".")[1]].append(len(lines))
        written += [int(line.removeprefix("std-")) for line in lines]
    before = sum(ts < hour for ts in stamps)  # 51 lines in the 18:00 hour
    assert sorted(written) == list(range(260))
    assert per_hour["2026-01-05-18"] == [before]
    assert sorted(per_hour["2026-01-05-19"]) == sorted([100, 100, 260 - before - 200])

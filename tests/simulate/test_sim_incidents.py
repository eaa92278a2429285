"""Incidents show up where and when they were injected, and nowhere else."""

from __future__ import annotations

from simhelpers import SimOutput


def _offset_s(sim: SimOutput, line: dict[str, str]) -> float:
    return float(line["timestamp"]) - sim.config.start.timestamp()


def _window(sim: SimOutput, incident_id: str) -> tuple[float, float]:
    incident = next(i for i in sim.config.incidents if i.id == incident_id)
    return incident.start_s, incident.end_s


def _record(sim: SimOutput, incident_id: str) -> dict:
    return next(r for r in sim.incidents if r["incident_id"] == incident_id)


def test_every_incident_touched_something(sim: SimOutput) -> None:
    assert [r["incident_id"] for r in sim.incidents] == [
        "edge-1", "isp-1", "asset-1", "device-1", "origin-1",
    ]  # fmt: skip
    for record in sim.incidents:
        assert record["sessions"], record["incident_id"]
        assert record["end_ms"] > record["start_ms"]
    assert _record(sim, "asset-1")["failed_sessions"]


def test_edge_degradation_stays_on_its_edges_and_window(sim: SimOutput) -> None:
    start, end = _window(sim, "edge-1")
    edges = {"IAD89-C1", "JFK50-C1", "EWR52-C4", "FRA53"}
    by_id = {r["x-edge-request-id"]: r for r in sim.realtime}
    touched = _record(sim, "edge-1")["request_ids"]
    assert touched
    for rid in touched:
        line = by_id[rid]
        assert line["x-edge-location"] in edges
        # the request started inside the window (it may end a little after)
        began = _offset_s(sim, line) - float(line["time-taken"])
        assert start - 0.01 <= began < end

    def error_share(inside: bool, at_edges: bool) -> float:
        lines = [
            r for r in sim.realtime
            if (r["x-edge-location"] in edges) == at_edges
            and (start <= _offset_s(sim, r) < end) == inside
            and r["sc-status"] != "000"
        ]  # fmt: skip
        errors = [r for r in lines if r["sc-status"] in ("502", "503", "504")]
        return len(errors) / max(len(lines), 1)

    assert error_share(inside=True, at_edges=True) > 0.15
    assert error_share(inside=False, at_edges=True) < 0.02
    assert error_share(inside=True, at_edges=False) < 0.02


def test_isp_congestion_only_slows_its_networks(sim: SimOutput) -> None:
    start, end = _window(sim, "isp-1")
    by_id = {r["x-edge-request-id"]: r for r in sim.realtime}
    touched = _record(sim, "isp-1")["request_ids"]
    assert touched
    assert {by_id[rid]["asn"] for rid in touched} <= {"7922", "3320"}
    for rid in touched:
        line = by_id[rid]
        began = _offset_s(sim, line) - float(line["time-taken"])
        assert began < end
        assert _offset_s(sim, line) > start


def test_corrupted_asset_fails_starts_only_for_its_titles(sim: SimOutput) -> None:
    incident = next(i for i in sim.config.incidents if i.id == "asset-1")
    start_ms = sim.config.start.timestamp() * 1000
    failures = [t for t in sim.sessions if t["failure_cause"] == "corrupted_asset"]
    assert failures
    for truth in failures:
        assert truth["outcome"] == "start_failure"
        assert truth["video_id"] in incident.video_ids
        assert truth["failure_incident"] == "asset-1"
        assert (
            incident.start_s * 1000
            <= truth["end_ms"] - start_ms
            < incident.end_s * 1000
        )
    # The same titles start fine once the incident is over.
    later = [
        t for t in sim.sessions
        if t["video_id"] in incident.video_ids
        and t["start_ms"] - start_ms > incident.end_s * 1000
    ]  # fmt: skip
    assert all(t["failure_cause"] != "corrupted_asset" for t in later)


def test_device_failures_hit_only_the_device_model(sim: SimOutput) -> None:
    start, end = _window(sim, "device-1")
    origin = sim.config.start.timestamp() * 1000
    failed = [t for t in sim.sessions if t["failure_cause"] == "device_failure"]
    assert failed
    for truth in failed:
        assert truth["device_model"] == "Windows PC Chrome"
        assert start * 1000 <= truth["end_ms"] - origin <= end * 1000 + 1
    record = _record(sim, "device-1")
    assert {t["session_id"] for t in failed} == set(record["failed_sessions"])
    models = {t["session_id"]: t["device_model"] for t in sim.sessions}
    assert {models[s] for s in record["sessions"]} == {"Windows PC Chrome"}


def test_origin_outage_turns_misses_into_errors_inside_its_window(
    sim: SimOutput,
) -> None:
    start, end = _window(sim, "origin-1")
    origin_errors = [
        r for r in sim.realtime if r["x-edge-detailed-result-type"].startswith("Origin")
    ]
    assert origin_errors
    for line in origin_errors:
        began = _offset_s(sim, line) - float(line["time-taken"])
        assert start - 0.01 <= began < end
        assert line["sc-status"] in ("502", "504")
    hits_inside = [
        r for r in sim.realtime
        if r["x-edge-result-type"] == "Hit" and start <= _offset_s(sim, r) < end
    ]  # fmt: skip
    assert hits_inside  # hits are still served during the outage


def test_session_ground_truth_lists_its_incidents(sim: SimOutput) -> None:
    listed = {
        (incident_id, t["session_id"])
        for t in sim.sessions
        for incident_id in t["incident_ids"]
    }
    recorded = {
        (r["incident_id"], session) for r in sim.incidents for session in r["sessions"]
    }
    assert listed == recorded

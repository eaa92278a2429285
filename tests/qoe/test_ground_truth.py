"""Views computed from the simulator's events agree with its ground truth.

The simulator plays sessions over generated throughput traces and records what
really happened (stalls, their causes and lengths, start-up, failures); the
events go through ingestion into silver and through :func:`compute_views`.

Tolerances: event times and stall lengths are whole milliseconds (1 ms per
stall); the player sends no event when a pause ends, so a pause is taken to end
at the next STREAM event, at most 1 s late (1 s of play time per pause, plus
1 s for the STREAM cadence); the average bitrate is sampled once per played
second (5 %).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

OUTCOMES = {  # ground-truth outcome -> the view flag that must be set
    "completed": None,
    "abandoned_before_start": "exit_before_video_start",
    "start_failure": "video_start_failure",
    "playback_failure": "playback_failure",
}


def _seek_stalls_at_rounding_limit(events_dir: Path) -> int:
    """BUFFER events whose start (time less length) is 1 ms before their SEEK.

    The player rounds the seek time, the stall's end and its length to whole
    milliseconds separately; these stalls are seek-induced all the same.
    """
    files = sorted(events_dir.glob("*.jsonl"))
    assert files, f"no JSON-lines files in {events_dir}"
    events = [json.loads(line) for f in files for line in f.read_text().splitlines()]
    seeks = {
        (e["session_id"], e["TimeStamp"]) for e in events if e["MetricType"] == "SEEK"
    }
    return sum(
        (e["session_id"], e["TimeStamp"] - e["time_millisecond"] + 1) in seeks
        for e in events
        if e["MetricType"] == "BUFFER" and e.get("buffer_type") != "FirstBuffer"
    )


# Ingestion into silver alone takes over a minute on a shared 2-core machine.
@pytest.mark.slow
def test_views_agree_with_simulator_ground_truth(own_catalog, tmp_path):
    from qos_ml.ingest import ingest_batch
    from qos_ml.qoe import compute_views
    from qos_ml.simulate import SimulationConfig, simulate

    # 15 sessions, seed 5: completions, exits before start, playback failures,
    # connection and seek-induced stalls, pauses, and seek stalls at the 1 ms
    # rounding limit (checked below, so a change of the simulator cannot make
    # this test lose them silently).
    config = SimulationConfig.create(
        sessions=15, seed=5, mean_watch_s=180, seeks_per_hour=60, pauses_per_hour=30,
        throughput_scale=0.35, start_failure_rate=0.05, playback_failures_per_hour=3,
    )  # fmt: skip
    simulate(config, tmp_path / "sim")
    events_dir = tmp_path / "sim" / "player_events"
    assert _seek_stalls_at_rounding_limit(events_dir) > 0
    ingest_batch(str(events_dir), "player_events", own_catalog)
    truth = {
        s["session_id"]: s
        for s in map(
            json.loads,
            (tmp_path / "sim/ground_truth/sessions.jsonl").read_text().splitlines(),
        )
    }
    # Pauses last up to ~20 minutes here: a gap longer than any pause.
    events = own_catalog.read("silver.player_events")
    views = compute_views(events, session_gap="1 hour").collect()

    by_session = {v["session_id"]: v for v in views}
    assert len(views) == len(by_session) == len(truth)
    assert set(by_session) == set(truth)
    outcomes = {t["outcome"] for t in truth.values()}
    assert outcomes >= {"completed", "playback_failure"}, outcomes
    assert sum(t["rebuffer_count"] for t in truth.values()) > 5
    assert any(s["seek_induced"] for t in truth.values() for s in t["stalls"])
    assert any(t["pauses"] for t in truth.values())

    for sid, t in truth.items():
        v = by_session[sid]
        where = f"session {sid} ({t['outcome']}, {t['exit_reason']})"
        assert v["attempts"] == 1, where
        flags = ("exit_before_video_start", "video_start_failure", "playback_failure")
        expected_flag = OUTCOMES[t["outcome"]]
        assert {f for f in flags if v[f]} == ({expected_flag} - {None}), where
        if t["startup_time_ms"] is None:
            assert v["plays"] == 0, where
            continue
        assert v["plays"] == 1, where
        assert v["video_startup_time_s"] == pytest.approx(
            t["startup_time_ms"] / 1000, abs=0.001
        ), where
        seek_stalls = [s for s in t["stalls"] if s["seek_induced"]]
        assert v["connection_rebuffer_count"] == t["rebuffer_count"], where
        assert v["rebuffer_count"] == len(t["stalls"]), where
        assert v["connection_rebuffer_duration_s"] == pytest.approx(
            t["rebuffer_ms"] / 1000, abs=0.001 * (1 + len(t["stalls"]))
        ), where
        assert v["rebuffer_duration_s"] - v["connection_rebuffer_duration_s"] == (
            pytest.approx(
                t["seek_rebuffer_ms"] / 1000, abs=0.001 * (1 + len(seek_stalls))
            )
        ), where
        assert v["play_time_s"] == pytest.approx(
            t["play_ms"] / 1000, abs=1.0 + len(t["pauses"])
        ), where
        assert (v["bitrate_switches"], v["bitrate_downshifts"]) == (
            t["bitrate_switches"],
            t["downshifts"],
        ), where
        if t["avg_bitrate_kbps"] and v["average_bitrate_kbps"]:
            assert v["average_bitrate_kbps"] == pytest.approx(
                t["avg_bitrate_kbps"], rel=0.05
            ), where

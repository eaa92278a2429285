"""Hand-computed views: every edge case of the issue, in one Spark job."""

from __future__ import annotations

import pytest
from qoe_events import at, cdn_requests, event, player_events
from qoe_scenarios import (
    EXPECTED,
    EXPECTED_SEEK_ROUNDING,
    all_events,
    normal_with_startup_stall,
    seek_stalls_at_rounding_limits,
)

from qos_ml import ConfigError, SchemaMismatchError
from qos_ml.qoe import (
    attach_cdn_figures,
    compute_views,
    sessionize,
    views_from_sessions,
)

CDN_ROWS = [
    # Joined through the player's cdn_tracking_id.
    {"request_id": "r1", "request_time": at(1.9), "cdn": "cloudfront",
     "edge_location": "FRA53", "viewer_country": "DE", "viewer_asn": 3320,
     "status": 200, "bytes_sent": 100_000, "time_taken_s": 0.2, "ttfb_s": 0.05,
     "result_type": "Hit", "cmcd_bs": False, "cmcd_sid": "s-start"},
    {"request_id": "r2", "request_time": at(3.0), "cdn": "cloudfront",
     "edge_location": "FRA50", "status": 200, "bytes_sent": 200_000,
     "time_taken_s": 0.5, "ttfb_s": 0.15, "result_type": "Miss", "cmcd_bs": True},
    # Joined through the CMCD session id only.
    {"request_id": "r3", "request_time": at(8.0), "status": 404, "bytes_sent": 1000,
     "time_taken_s": 0.1, "ttfb_s": 0.1, "result_type": "RefreshHit",
     "cmcd_bs": False, "cmcd_sid": "s-start"},
    # Same session id, an hour later: not part of the view.
    {"request_id": "r4", "request_time": at(3600.0), "status": 200,
     "bytes_sent": 1000, "time_taken_s": 0.1, "ttfb_s": 0.1, "result_type": "Hit",
     "cmcd_sid": "s-start"},
]  # fmt: skip


@pytest.fixture(scope="module")
def gold_rows(spark):
    events = player_events(spark, all_events())
    views = events.transform(compute_views).transform(
        attach_cdn_figures, cdn_requests(spark, CDN_ROWS)
    )
    return {(r["user_id_hash"], r["view_seq"]): r.asDict() for r in views.collect()}


def test_one_row_per_view(gold_rows):
    assert sorted(gold_rows) == sorted(EXPECTED)


@pytest.mark.parametrize("key", sorted(EXPECTED))
def test_hand_computed_metrics(gold_rows, key):
    row = gold_rows[key]
    for column, expected in EXPECTED[key].items():
        if isinstance(expected, float):
            assert row[column] == pytest.approx(expected), column
        else:
            assert row[column] == expected, column


def test_seek_window_limits_are_exact_to_the_millisecond(spark):
    events = player_events(spark, seek_stalls_at_rounding_limits())
    (row,) = compute_views(events).collect()
    for column, expected in EXPECTED_SEEK_ROUNDING.items():
        if isinstance(expected, float):
            assert row[column] == pytest.approx(expected, abs=1e-6), column
        else:
            assert row[column] == expected, column


def test_cdn_figures_of_a_view(gold_rows):
    row = gold_rows[("u_start", 0)]
    assert row["cdn_requests"] == 3  # r1, r2 by tracking id; r3 by session id
    assert row["cdn_cache_hits"] == 2  # Hit and RefreshHit
    assert row["cache_hit_ratio"] == pytest.approx(2 / 3)
    assert row["ttfb_mean_s"] == pytest.approx(0.1)
    assert row["ttfb_p95_s"] == pytest.approx(0.15)
    assert row["latency_mean_s"] == pytest.approx(0.8 / 3)
    assert row["throughput_kbps"] == pytest.approx(301_000 * 8 / 1000 / 0.8)
    assert row["status_4xx_share"] == pytest.approx(1 / 3)
    assert row["status_5xx_share"] == 0.0
    assert row["cmcd_requests"] == 3
    assert row["cmcd_bs_share"] == pytest.approx(1 / 3)
    # Dimensions of the earliest request that has them.
    assert (row["edge_location"], row["viewer_country"], row["viewer_asn"]) == (
        "FRA53",
        "DE",
        3320,
    )
    assert row["cdn"] == "cloudfront"
    other = gold_rows[("u_seek", 0)]
    assert other["cdn_requests"] == 0
    assert other["ttfb_mean_s"] is None


def test_view_ids_are_stable_and_distinct(gold_rows):
    ids = [r["view_id"] for r in gold_rows.values()]
    assert len(set(ids)) == len(ids)
    assert all(len(i) == 32 for i in ids)


def test_events_without_time_or_viewer_are_left_out(spark):
    rows = normal_with_startup_stall()
    orphan = event("STREAM", 5, None)  # neither viewer nor session id
    untimed = {**event("STREAM", 6, "u_start", session="s-start"), "event_time": None}
    views = compute_views(player_events(spark, [*rows, orphan, untimed])).collect()
    assert [(r["user_id_hash"], r["event_count"]) for r in views] == [("u_start", 16)]


def test_bad_parameters_name_the_value(spark):
    events = player_events(spark, normal_with_startup_stall())
    with pytest.raises(ConfigError, match=r"session_gap.*'ten minutes'"):
        sessionize(events, session_gap="ten minutes")
    with pytest.raises(ConfigError, match=r"seek_window_s.*-1"):
        views_from_sessions(sessionize(events), seek_window_s=-1)
    with pytest.raises(
        SchemaMismatchError, match=r"sessionize needs columns \['event_time'"
    ):
        sessionize(events.drop("event_time"))
    with pytest.raises(SchemaMismatchError, match=r"cdn_requests columns \['status'\]"):
        attach_cdn_figures(
            compute_views(events), cdn_requests(spark, []).drop("status")
        )

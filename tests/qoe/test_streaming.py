"""Streaming gold: the same rows as batch, and late events counted and reported."""

from __future__ import annotations

import pytest
from pyspark.sql import functions as F
from qoe_events import at, cdn_requests, event, player_events
from qoe_scenarios import all_events
from test_views import CDN_ROWS

from qos_ml import ConfigError
from qos_ml.qoe import gold_views, start_gold_stream

GAP, WATERMARK = "1 minute", "10 seconds"
QUERIES = ("views", "late_events", "active_users")


def _run(catalog):
    stream = start_gold_stream(
        catalog, session_gap=GAP, watermark=WATERMARK, include=QUERIES
    )
    stream.await_termination()
    return stream


def _rows(df):
    """Gold rows by view id, the flush viewer's left out."""
    rows = df.where(F.col("user_id_hash") != "u_flush").collect()
    return {r["view_id"]: r.asDict() for r in rows}


@pytest.mark.slow
def test_stream_equals_batch_and_reports_late_events(spark, own_catalog):
    events = all_events()
    # Far in the future: moves the watermark past every session's end.
    flush = event("STREAM", 3600, "u_flush")
    # Events of 12:00:03..05 arrive late, with the second append, after events
    # up to 12:00:12.5: 7.5 to 9.5 s behind the largest event time seen, yet
    # within the 10 s watermark, so they must count as if on time.
    held = [e for e in events if at(3) <= e["event_time"] < at(5)]
    first = [e for e in events if e["event_time"] < at(13) and e not in held]
    second = [*held, *(e for e in events if e["event_time"] >= at(13)), flush]
    assert len(held) >= 10
    assert len(first) + len(second) == len(events) + 1
    own_catalog.write(cdn_requests(spark, CDN_ROWS), "silver.cdn_requests")

    # Two appends, two runs: sessions span micro-batches and a restart.
    own_catalog.write(player_events(spark, first), "silver.player_events")
    _run(own_catalog)
    # What the first run saw: every held event is behind it, none by 10 s.
    seen = own_catalog.read("gold.late_events").agg(F.max("max_event_time")).first()
    assert seen[0] == at(12.5)
    assert all(at(12.5 - 10) < e["event_time"] < at(12.5 - 7) for e in held)
    own_catalog.write(player_events(spark, second), "silver.player_events")
    stream = _run(own_catalog)
    # The batch that read them ran with that watermark and found nothing late.
    second_batches = (
        own_catalog.read("gold.late_events")
        .where(F.col("watermark") == F.lit(at(12.5 - 10)))
        .collect()
    )
    assert second_batches, "no micro-batch ran with the first run's watermark"
    assert sum(r["input_rows"] for r in second_batches) == len(second)
    assert sum(r["late_rows"] for r in second_batches) == 0
    if own_catalog.read("gold.views").count() == 0:  # sessions close in a no-data batch
        stream = _run(own_catalog)

    batch = gold_views(
        own_catalog.read("silver.player_events"),
        own_catalog.read("silver.cdn_requests"),
        session_gap=GAP,
    )
    streamed = own_catalog.conform(own_catalog.read("gold.views"), "gold.views")
    expected = own_catalog.conform(batch, "gold.views")
    got, want = _rows(streamed), _rows(expected)
    assert sorted(got) == sorted(want)
    # CDN figures sum joined requests in whatever order the join yields them:
    # floats agree to rounding, everything else exactly.
    differences = [
        (want[view]["user_id_hash"], column, got[view][column], value)
        for view in want
        for column, value in want[view].items()
        if got[view][column]
        != (pytest.approx(value, rel=1e-12) if isinstance(value, float) else value)
    ]
    assert differences == []
    assert len(got) == 9
    assert stream.late_data_report().counted_late == 0

    # An event an hour behind the watermark: dropped, counted and reported.
    late = event("STREAM", 5, "u_late", session="s-late")
    own_catalog.write(player_events(spark, [late]), "silver.player_events")
    stream = _run(own_catalog)
    report = stream.late_data_report()
    assert report.counted_late == 1
    # Spark counts the rows its stateful operator was given, not input events:
    # one late event here is 3 rows of the session-window aggregation and 2 of
    # the sliding windows (one per window) in Spark 4.2. Our counter above is
    # the exact count of late events.
    assert report.dropped_by_watermark["views"] >= 1
    assert report.dropped_by_watermark["active_users"] >= 1
    assert report.any_late
    assert own_catalog.read("gold.views").where("user_id_hash = 'u_late'").count() == 0
    late_rows = own_catalog.read("gold.late_events").agg(F.sum("late_rows")).first()
    assert late_rows[0] == 1


def test_unknown_query_name_lists_known(own_catalog):
    with pytest.raises(ConfigError, match=r"include.*'viewz'.*active_users"):
        start_gold_stream(own_catalog, include=("viewz",))

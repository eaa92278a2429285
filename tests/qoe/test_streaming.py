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
    # Split by time so that no event of the second append is behind the watermark.
    first = [e for e in events if e["event_time"] < at(6)]
    second = [*(e for e in events if e["event_time"] >= at(6)), flush]
    own_catalog.write(cdn_requests(spark, CDN_ROWS), "silver.cdn_requests")

    # Two appends, two runs: sessions span micro-batches and a restart.
    own_catalog.write(player_events(spark, first), "silver.player_events")
    _run(own_catalog)
    own_catalog.write(player_events(spark, second), "silver.player_events")
    stream = _run(own_catalog)
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
    assert report.dropped_by_watermark["views"] == 1
    assert report.dropped_by_watermark["active_users"] == 1
    assert report.any_late
    assert own_catalog.read("gold.views").where("user_id_hash = 'u_late'").count() == 0
    late_rows = own_catalog.read("gold.late_events").agg(F.sum("late_rows")).first()
    assert late_rows[0] == 1


def test_unknown_query_name_lists_known(own_catalog):
    with pytest.raises(ConfigError, match=r"include.*'viewz'.*active_users"):
        start_gold_stream(own_catalog, include=("viewz",))

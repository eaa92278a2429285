"""``build_gold`` and the real-time aggregates on hand-computed input."""

from __future__ import annotations

import pytest
from pyspark.sql import functions as F
from qoe_events import at, cdn_requests, player_events
from qoe_scenarios import all_events
from test_views import CDN_ROWS

from qos_ml import ConfigError
from qos_ml.qoe import active_users, build_gold, qoe_by_dimension, recent_views


@pytest.fixture(scope="module")
def built(spark, module_catalog):
    module_catalog.write(player_events(spark, all_events()), "silver.player_events")
    module_catalog.write(cdn_requests(spark, CDN_ROWS), "silver.cdn_requests")
    return module_catalog, build_gold(module_catalog)


def test_build_gold_writes_every_table(built):
    catalog, counts = built
    assert counts == {
        "player_events": len(all_events()),
        "unsessionisable_events": 0,
        "gold.views": 9,
        "gold.active_users": 2,
        "gold.recent_views": 4,
        "gold.total_views": 1,
        # video_id has one value; the others a known one (u_start) and "unknown".
        "gold.qoe_by_dimension_minute": 11,
    }

    # Active users: five viewers stream between 12:00:02 and 12:00:13, which
    # fall in two 2-minute windows sliding every minute.
    active = catalog.read("gold.active_users").orderBy("window_start").collect()
    assert [(r["window_start"], r["active_users"]) for r in active] == [
        (at(-60), 5),
        (at(0), 5),
    ]
    # Recent views: eight viewers press play within 12:00:00..12:00:07, inside
    # four 2-minute windows sliding every 30 s.
    recent = catalog.read("gold.recent_views").orderBy("window_start").collect()
    assert [(r["window_start"], r["recent_viewers"]) for r in recent] == [
        (at(-90), 8),
        (at(-60), 8),
        (at(-30), 8),
        (at(0), 8),
    ]
    # Total views: every PLAY (a resume too, as in the original), 8 viewers.
    (total,) = catalog.read("gold.total_views").collect()
    assert (total["video_id"], total["total_views"], total["viewers"]) == ("v1", 10, 8)


def test_qoe_by_dimension_minute(built):
    catalog, _ = built
    rows = {
        (r["dimension"], r["dimension_value"]): r.asDict()
        for r in catalog.read("gold.qoe_by_dimension_minute").collect()
    }
    video = rows[("video_id", "v1")]
    assert (video["window_start"], video["window_end"]) == (at(0), at(60))
    assert (video["views"], video["attempts"], video["plays"]) == (9, 9, 7)
    assert video["video_start_failure_rate"] == pytest.approx(1 / 9)
    assert video["exit_before_video_start_rate"] == pytest.approx(1 / 9)
    assert video["playback_failure_rate"] == pytest.approx(1 / 7)
    # Startup times of the plays: 0.5, 1, 1, 1, 1, 1.25, 2.
    assert video["video_startup_time_median_s"] == 1.0
    assert video["video_startup_time_p95_s"] == 2.0
    rebuffer = 2.0 + 1.8 + 3.0 + 2.5
    play = 10.0 + 8.2 + 6.0 + 4.5 + 2.75 + 2.0 + 2.5
    assert video["rebuffering_ratio"] == pytest.approx(rebuffer / (play + rebuffer))
    assert video["connection_induced_rebuffering_ratio"] == pytest.approx(
        (rebuffer - 0.8) / (play + rebuffer - 0.8)
    )
    assert video["error_rate"] == pytest.approx(2 / 9)
    assert video["cache_hit_ratio"] == pytest.approx(2 / 3)
    assert video["ttfb_p95_s"] == pytest.approx(0.1)
    assert video["cmcd_starvation_share"] == 1.0

    assert rows[("edge_location", "FRA53")]["views"] == 1
    assert rows[("edge_location", "unknown")]["views"] == 8
    assert rows[("edge_location", "unknown")]["cache_hit_ratio"] is None
    assert {d for d, _ in rows} == {
        "edge_location", "viewer_asn", "viewer_country", "device_type", "video_id",
        "cdn",
    }  # fmt: skip


def test_window_parameters_are_checked(spark):
    events = player_events(spark, all_events())
    with pytest.raises(ConfigError, match=r"'slide'.*'1 min'"):
        active_users(events, slide="1 min")
    with pytest.raises(ConfigError, match=r"'watermark'.*'soon'"):
        recent_views(events, watermark="soon")
    with pytest.raises(ConfigError, match=r"'window'.*'1m'"):
        qoe_by_dimension(
            events.withColumn("view_start", F.col("event_time")), window="1m"
        )

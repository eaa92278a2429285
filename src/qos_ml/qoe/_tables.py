"""Declarations of the gold tables the QoE layer writes.

Importing this module declares them in the global catalog. The rules engine,
the anomaly detector and the dashboard read these tables, so their column names
are a contract: add nullable columns, never rename.
"""

from __future__ import annotations

from pyspark.sql.types import (
    BooleanType,
    DateType,
    DoubleType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from qos_ml._catalog import TableSpec, declare_table

__all__ = [
    "GOLD_ACTIVE_USERS",
    "GOLD_LATE_EVENTS",
    "GOLD_QOE_BY_DIMENSION_MINUTE",
    "GOLD_RECENT_VIEWS",
    "GOLD_TOTAL_VIEWS",
    "GOLD_VIEWS",
    "QOE_DIMENSIONS",
]

#: View dimensions that ``gold.qoe_by_dimension_minute`` is broken down by.
QOE_DIMENSIONS = (
    "edge_location",
    "viewer_asn",
    "viewer_country",
    "device_type",
    "video_id",
    "cdn",
)


def _schema(*spec: tuple[str, object]) -> StructType:
    return StructType([StructField(n, t, True) for n, t in spec])


GOLD_VIEWS = declare_table(
    TableSpec(
        key="gold.views",
        description=(
            "One row per view (play attempt): start-up, failures, stalls, bitrate, "
            "watch time, completion, vendor scores, CDN figures and dimensions."
        ),
        schema=_schema(
            ("view_id", StringType()),
            ("view_start", TimestampType()),
            ("view_end", TimestampType()),
            ("view_date", DateType()),
            ("user_id_hash", StringType()),
            ("session_id", StringType()),
            ("video_id", StringType()),
            # Position of the view in its activity session (a replay is 1).
            ("view_seq", IntegerType()),
            ("playlist_type", StringType()),
            ("event_count", IntegerType()),
            ("attempts", IntegerType()),
            ("plays", IntegerType()),
            ("video_startup_time_s", DoubleType()),
            ("video_start_failure", BooleanType()),
            ("exit_before_video_start", BooleanType()),
            ("playback_failure", BooleanType()),
            ("failure_error", StringType()),
            ("error_count", IntegerType()),
            ("rebuffer_count", IntegerType()),
            ("rebuffer_duration_s", DoubleType()),
            ("connection_rebuffer_count", IntegerType()),
            ("connection_rebuffer_duration_s", DoubleType()),
            ("seek_count", IntegerType()),
            ("pause_count", IntegerType()),
            ("paused_s", DoubleType()),
            ("play_time_s", DoubleType()),
            ("watch_time_s", DoubleType()),
            ("rebuffering_ratio", DoubleType()),
            ("connection_induced_rebuffering_ratio", DoubleType()),
            ("average_bitrate_kbps", DoubleType()),
            ("bitrate_switches", IntegerType()),
            ("bitrate_downshifts", IntegerType()),
            ("max_playhead_s", DoubleType()),
            ("media_duration_s", DoubleType()),
            ("completion", DoubleType()),
            ("startup_score", DoubleType()),
            ("smoothness_score", DoubleType()),
            ("playback_success_score", DoubleType()),
            ("device_type", StringType()),
            ("os_family", StringType()),
            ("browser_family", StringType()),
            ("connection_type", StringType()),
            ("package", StringType()),
            ("viewer_country", StringType()),
            ("viewer_asn", LongType()),
            ("edge_location", StringType()),
            ("cdn", StringType()),
            ("cdn_requests", LongType()),
            ("cdn_cache_hits", LongType()),
            ("ttfb_mean_s", DoubleType()),
            ("ttfb_p95_s", DoubleType()),
            ("latency_mean_s", DoubleType()),
            ("throughput_kbps", DoubleType()),
            ("cache_hit_ratio", DoubleType()),
            ("status_4xx_share", DoubleType()),
            ("status_5xx_share", DoubleType()),
            ("status_000_share", DoubleType()),
            ("cmcd_requests", LongType()),
            ("cmcd_bs_share", DoubleType()),
        ),
        partition_by=("view_date",),
        primary_key=("view_id",),
    )
)

GOLD_ACTIVE_USERS = declare_table(
    TableSpec(
        key="gold.active_users",
        description=(
            "Distinct viewers with STREAM events per 2-minute window sliding every "
            "minute (approximate distinct count, 1 % relative error)."
        ),
        schema=_schema(
            ("window_start", TimestampType()),
            ("window_end", TimestampType()),
            ("active_users", LongType()),
        ),
        primary_key=("window_start",),
    )
)

GOLD_RECENT_VIEWS = declare_table(
    TableSpec(
        key="gold.recent_views",
        description=(
            "Distinct viewers with PLAY events per video in a 2-minute window "
            "sliding every 30 s."
        ),
        schema=_schema(
            ("window_start", TimestampType()),
            ("window_end", TimestampType()),
            ("video_id", StringType()),
            ("recent_viewers", LongType()),
        ),
        primary_key=("window_start", "video_id"),
    )
)

GOLD_TOTAL_VIEWS = declare_table(
    TableSpec(
        key="gold.total_views",
        description="Running totals per video: PLAY requests and distinct viewers.",
        schema=_schema(
            ("video_id", StringType()),
            ("total_views", LongType()),
            ("viewers", LongType()),
            ("last_play_time", TimestampType()),
        ),
        primary_key=("video_id",),
    )
)

GOLD_QOE_BY_DIMENSION_MINUTE = declare_table(
    TableSpec(
        key="gold.qoe_by_dimension_minute",
        description=(
            "QoE per minute of view start and per value of each dimension (edge "
            "location, ASN, country, device, video, CDN): the input of the rules "
            "engine and the anomaly detector."
        ),
        schema=_schema(
            ("window_start", TimestampType()),
            ("window_end", TimestampType()),
            ("dimension", StringType()),
            ("dimension_value", StringType()),
            ("views", LongType()),
            ("attempts", LongType()),
            ("plays", LongType()),
            ("video_start_failure_rate", DoubleType()),
            ("exit_before_video_start_rate", DoubleType()),
            ("playback_failure_rate", DoubleType()),
            ("video_startup_time_median_s", DoubleType()),
            ("video_startup_time_p95_s", DoubleType()),
            ("rebuffering_ratio", DoubleType()),
            ("connection_induced_rebuffering_ratio", DoubleType()),
            ("error_rate", DoubleType()),
            ("ttfb_p95_s", DoubleType()),
            ("cache_hit_ratio", DoubleType()),
            ("cmcd_starvation_share", DoubleType()),
        ),
        primary_key=("window_start", "dimension", "dimension_value"),
    )
)

GOLD_LATE_EVENTS = declare_table(
    TableSpec(
        key="gold.late_events",
        description=(
            "Per micro-batch of the gold stream: input rows, rows later than the "
            "watermark, rows that cannot be sessionised, and the watermark used."
        ),
        schema=_schema(
            ("query_name", StringType()),
            ("batch_id", LongType()),
            ("recorded_at", TimestampType()),
            ("watermark", TimestampType()),
            ("max_event_time", TimestampType()),
            ("input_rows", LongType()),
            ("late_rows", LongType()),
            ("unsessionisable_rows", LongType()),
        ),
        primary_key=("query_name", "batch_id"),
    )
)

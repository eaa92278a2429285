"""Declarations of the built-in tables; importing this module declares them.

This is the contract between layers: ingestion writes the silver tables
declared here, the QoE layer reads them and writes gold, and so on. A schema
change is one diff in this file. Layers that own a table may declare it in
their own module as long as they do it through :func:`declare_table` and the
module is imported below, so that ``declared_tables()`` lists every table.

Privacy: no column after bronze holds a raw IP address or a raw user id.
``*_hash`` columns are keyed hashes (HMAC-SHA256 with the configured secret);
``client_ip_prefix`` is the network part only (IPv4 /24, IPv6 /48).
"""

from __future__ import annotations

from pyspark.sql.types import (
    ArrayType,
    BooleanType,
    DataType,
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

__all__ = ["INGEST_METADATA", "SILVER_CDN_REQUESTS", "SILVER_PLAYER_EVENTS"]


def _fields(*spec: tuple[str, DataType]) -> list[StructField]:
    return [StructField(name, dtype, True) for name, dtype in spec]


#: Columns every bronze, quarantine and silver row carries about its arrival.
INGEST_METADATA = _fields(
    ("source_file", StringType()),
    ("line_number", LongType()),
    ("ingested_at", TimestampType()),
)

#: Names of quality flags a silver row may carry in ``quality_flags``: a value
#: outside its sanity bounds was set to null and its flag added.
QUALITY_FLAGS = (
    "duration_out_of_range",
    "timestamp_out_of_range",
    "bitrate_out_of_range",
    "playhead_out_of_range",
    "time_taken_out_of_range",
    "cmcd_invalid",
    "status_000",
    "rtt_out_of_range",
)

SILVER_PLAYER_EVENTS = declare_table(
    TableSpec(
        key="silver.player_events",
        description=(
            "Player SDK events, one row per event, typed, deduplicated, user ids "
            "pseudonymised; case of ids and messages kept."
        ),
        schema=StructType(
            _fields(
                # sha2 of the raw event text: replays of the same event collapse.
                ("event_id", StringType()),
                ("event_type", StringType()),  # PLAY, FIRSTFRAME, SEEK, BUFFER, ...
                ("event_time", TimestampType()),
                ("event_date", DateType()),
                ("user_id_hash", StringType()),
                # Player or CMCD session id where the SDK sends one (random GUID).
                ("session_id", StringType()),
                ("video_id", StringType()),
                ("playlist_type", StringType()),  # live | vod
                ("playhead_s", DoubleType()),  # `at`
                ("duration_s", DoubleType()),  # media duration
                ("rtt_ms", DoubleType()),
                ("connection_type", StringType()),
                ("package", StringType()),  # HLS | DASH
                ("resolution", StringType()),
                ("fps", DoubleType()),
                ("avg_bitrate_kbps", DoubleType()),
                # time_millisecond: startup time (FIRSTFRAME), stall length
                # (BUFFER), seek time (SEEK).
                ("time_ms", DoubleType()),
                ("buffer_type", StringType()),  # FirstBuffer | ScreenFreezedBuffer
                ("seek_from_s", DoubleType()),
                ("seek_to_s", DoubleType()),
                ("bitrate_from_kbps", DoubleType()),
                ("bitrate_to_kbps", DoubleType()),
                ("direction", StringType()),  # UP | DOWN
                ("error_message", StringType()),
                ("error_fatal", BooleanType()),
                ("cdn_tracking_id", StringType()),  # CloudFront x-edge-request-id
                ("device_type", StringType()),
                ("os_family", StringType()),
                ("browser_family", StringType()),
                ("quality_flags", ArrayType(StringType())),
            )
            + INGEST_METADATA
        ),
        partition_by=("event_date",),
        primary_key=("event_id",),
    )
)

SILVER_CDN_REQUESTS = declare_table(
    TableSpec(
        key="silver.cdn_requests",
        description=(
            "CDN requests from every source (CloudFront standard and real-time, "
            "plugins), typed, deduplicated, enriched, client addresses anonymised."
        ),
        schema=StructType(
            _fields(
                ("request_id", StringType()),  # x-edge-request-id or the source's own
                ("request_time", TimestampType()),
                ("request_date", DateType()),
                ("cdn", StringType()),  # cloudfront | akamai | fastly | ...
                ("source_format", StringType()),  # e.g. cloudfront_standard
                ("edge_location", StringType()),  # FRA53, EWR52-C4
                ("edge_airport", StringType()),  # IATA code: FRA, EWR
                ("edge_city", StringType()),
                ("edge_country", StringType()),  # ISO 3166-1 alpha-2
                ("edge_latitude", DoubleType()),
                ("edge_longitude", DoubleType()),
                ("client_ip_prefix", StringType()),  # 203.0.113.0/24, 2001:db8:1::/48
                ("client_ip_hash", StringType()),
                ("ip_version", IntegerType()),
                ("viewer_country", StringType()),  # c-country where the log has it
                ("viewer_asn", LongType()),  # asn where the log has it
                ("method", StringType()),
                ("host", StringType()),
                ("uri_stem", StringType()),
                ("status", IntegerType()),  # 0 for status 000 (viewer closed)
                ("bytes_sent", LongType()),
                ("bytes_received", LongType()),
                ("time_taken_s", DoubleType()),
                ("ttfb_s", DoubleType()),
                ("result_type", StringType()),  # Hit, RefreshHit, Miss, Error, ...
                ("response_result_type", StringType()),
                ("detailed_result_type", StringType()),
                ("protocol", StringType()),
                ("protocol_version", StringType()),
                ("content_type", StringType()),
                ("range_start", LongType()),
                ("range_end", LongType()),
                ("device_type", StringType()),  # desktop, mobile, tablet, tv, bot
                ("os_family", StringType()),
                ("browser_family", StringType()),
                ("is_bot", BooleanType()),
                # CMCD (CTA-5004) keys, typed.
                ("cmcd_sid", StringType()),
                ("cmcd_cid", StringType()),
                ("cmcd_br_kbps", IntegerType()),
                ("cmcd_bl_ms", IntegerType()),
                ("cmcd_bs", BooleanType()),
                ("cmcd_d_ms", IntegerType()),
                ("cmcd_dl_ms", IntegerType()),
                ("cmcd_mtp_kbps", IntegerType()),
                ("cmcd_ot", StringType()),
                ("cmcd_pr", DoubleType()),
                ("cmcd_sf", StringType()),
                ("cmcd_st", StringType()),
                ("cmcd_su", BooleanType()),
                ("cmcd_tb_kbps", IntegerType()),
                ("cmcd_v", IntegerType()),
                ("quality_flags", ArrayType(StringType())),
            )
            + INGEST_METADATA
        ),
        partition_by=("request_date",),
        primary_key=("request_id",),
    )
)

# Tables owned by layers are declared in their own modules; the catalog imports
# them by name (qos_ml._catalog.BUILTIN_TABLE_MODULES).

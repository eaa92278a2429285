"""Declarations of the bronze and quarantine tables the ingestion layer owns.

Bronze keeps what arrived: the raw line, where and when it arrived, and every
field typed (values as the source wrote them, ``-`` read as null, no decoding).
Fields a file declares that the format catalogue does not know are kept as
strings in ``extra_fields``, so that a new CloudFront field or player field is
never lost. The quarantine holds every line that could not be parsed, with the
reason.
"""

from __future__ import annotations

from pyspark.sql.types import (
    BooleanType,
    DoubleType,
    LongType,
    MapType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from qos_ml._catalog import TableSpec, declare_table
from qos_ml._formats import CLOUDFRONT_REALTIME_FIELDS, CLOUDFRONT_STANDARD_FIELDS
from qos_ml.ingest._fields import FIELD_KINDS, KIND_TYPES, column_name

__all__ = [
    "BRONZE_AKAMAI_DS2",
    "BRONZE_CLOUDFRONT_REALTIME",
    "BRONZE_CLOUDFRONT_STANDARD",
    "BRONZE_PLAYER_EVENTS",
    "QUARANTINE_INGEST",
    "arrival_fields",
]


def arrival_fields() -> list[StructField]:
    """Columns of every bronze row about its arrival, then the raw text."""
    return [
        StructField("source_file", StringType(), True),
        StructField("line_number", LongType(), True),
        StructField("ingested_at", TimestampType(), True),
        StructField("raw", StringType(), True),
    ]


def _delimited_schema(fields: tuple[str, ...], time_column: str) -> StructType:
    typed = [
        StructField(column_name(f), KIND_TYPES[FIELD_KINDS.get(f, "string")], True)
        for f in fields
    ]
    return StructType(
        [
            *arrival_fields(),
            StructField(time_column, TimestampType(), True),
            *typed,
            StructField("extra_fields", MapType(StringType(), StringType()), True),
        ]
    )


_EXTRA = StructField("extra_fields", MapType(StringType(), StringType()), True)

BRONZE_CLOUDFRONT_STANDARD = declare_table(
    TableSpec(
        key="bronze.cloudfront_standard",
        description=(
            "CloudFront standard access log lines as delivered, one row per line, "
            "fields typed by each file's #Fields header."
        ),
        schema=_delimited_schema(CLOUDFRONT_STANDARD_FIELDS, "request_time"),
    )
)

BRONZE_CLOUDFRONT_REALTIME = declare_table(
    TableSpec(
        key="bronze.cloudfront_realtime",
        description=(
            "CloudFront real-time log lines as delivered, fields typed by the "
            "real-time log configuration's field list."
        ),
        # The epoch ``timestamp`` field itself is the typed request time.
        schema=StructType(
            [
                f
                for f in _delimited_schema(CLOUDFRONT_REALTIME_FIELDS, "request_time")
                if f.name != "timestamp"
            ]
        ),
    )
)

BRONZE_PLAYER_EVENTS = declare_table(
    TableSpec(
        key="bronze.player_events",
        description=(
            "Player SDK events as delivered (raw JSON kept, case intact), fields "
            "typed; unknown keys kept in extra_fields."
        ),
        schema=StructType(
            [
                *arrival_fields(),
                StructField("event_type", StringType(), True),
                StructField("event_time", TimestampType(), True),
                StructField("user_id", StringType(), True),
                StructField("video_id", StringType(), True),
                StructField("playlist_type", StringType(), True),
                StructField("session_id", StringType(), True),
                StructField("user_agent", StringType(), True),
                StructField("at", DoubleType(), True),
                StructField("duration", DoubleType(), True),
                StructField("rtt", DoubleType(), True),
                StructField("connection_type", StringType(), True),
                StructField("package", StringType(), True),
                StructField("resolution", StringType(), True),
                StructField("fps", DoubleType(), True),
                StructField("avg_bitrate", DoubleType(), True),
                StructField("time_millisecond", DoubleType(), True),
                StructField("buffer_type", StringType(), True),
                StructField("seek_from", DoubleType(), True),
                StructField("seek_to", DoubleType(), True),
                StructField("bitrate_from", DoubleType(), True),
                StructField("bitrate_to", DoubleType(), True),
                StructField("direction", StringType(), True),
                StructField("message", StringType(), True),
                StructField("fatal", BooleanType(), True),
                StructField("cdn_tracking_id", StringType(), True),
                _EXTRA,
            ]
        ),
    )
)

BRONZE_AKAMAI_DS2 = declare_table(
    TableSpec(
        key="bronze.akamai_ds2",
        description=(
            "Akamai DataStream 2 records as delivered (JSON, every value a "
            "string), the fields the silver contract needs typed."
        ),
        schema=StructType(
            [
                *arrival_fields(),
                StructField("request_time", TimestampType(), True),
                StructField("req_id", StringType(), True),
                StructField("cli_ip", StringType(), True),
                StructField("status_code", LongType(), True),
                StructField("bytes", LongType(), True),
                StructField("req_method", StringType(), True),
                StructField("req_host", StringType(), True),
                StructField("req_path", StringType(), True),
                StructField("query_str", StringType(), True),
                StructField("user_agent", StringType(), True),
                StructField("proto", StringType(), True),
                StructField("rsp_content_type", StringType(), True),
                StructField("range", StringType(), True),
                StructField("country", StringType(), True),
                StructField("cache_status", StringType(), True),
                StructField("turn_around_time_ms", DoubleType(), True),
                StructField("transfer_time_ms", DoubleType(), True),
                _EXTRA,
            ]
        ),
    )
)

QUARANTINE_INGEST = declare_table(
    TableSpec(
        key="quarantine.ingest",
        description=(
            "Every input line or event that could not be parsed, with its raw "
            "text and the reason; replayable after a parser fix."
        ),
        schema=StructType(
            [
                StructField("source", StringType(), True),
                StructField("source_file", StringType(), True),
                StructField("line_number", LongType(), True),
                StructField("raw", StringType(), True),
                StructField("reason", StringType(), True),
                StructField("ingested_at", TimestampType(), True),
            ]
        ),
    )
)

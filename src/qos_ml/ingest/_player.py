"""Player SDK events: JSON lines, one event per line, every event type typed.

Each line is read once as a JSON object of strings (``from_json`` into a map,
which keeps the case of keys and values), then every known field is typed with
``try_cast``. A line that is no JSON object, lacks a required field, has an
unknown ``MetricType`` or a value of the wrong type is quarantined with the
reason; keys the SDK schema does not know are kept in ``extra_fields``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from pyspark.sql import Column
from pyspark.sql import functions as F

from qos_ml._formats import PLAYER_EVENT_COMMON, PLAYER_EVENT_TYPES
from qos_ml.ingest._delimited import EPOCH_MAX_S, EPOCH_MIN_S
from qos_ml.ingest._lines import split_lines
from qos_ml.ingest._registry import Source, register_source

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

__all__ = ["PLAYER_FIELD_KINDS", "PlayerEventsSource"]

#: Kind of every player event field (``TimeStamp`` is epoch milliseconds).
PLAYER_FIELD_KINDS: dict[str, str] = {
    "MetricType": "string",
    "user_id": "string",
    "video_id": "string",
    "playlist_type": "string",
    "TimeStamp": "double",
    "session_id": "string",
    "user_agent": "string",
    "fatal": "boolean",
    "at": "double",
    "duration": "double",
    "rtt": "double",
    "connection_type": "string",
    "package": "string",
    "resolution": "string",
    "fps": "double",
    "avg_bitrate": "double",
    "time_millisecond": "double",
    "buffer_type": "string",
    "seek_from": "double",
    "seek_to": "double",
    "bitrate_from": "double",
    "bitrate_to": "double",
    "direction": "string",
    "message": "string",
    "cdn_tracking_id": "string",
}
_REQUIRED = PLAYER_EVENT_COMMON
_WORDS = {"double": "a number", "boolean": "true or false"}
_KNOWN = set(PLAYER_FIELD_KINDS)


@register_source
class PlayerEventsSource(Source):
    """Player SDK events as JSON lines (files, or Kafka values)."""

    name: ClassVar[str] = "player_events"
    bronze_table: ClassVar[str] = "bronze.player_events"
    silver_table: ClassVar[str] = "silver.player_events"

    def parse(self, files: DataFrame) -> DataFrame:
        """Parse JSON-lines files into typed bronze rows (see :class:`Source`)."""
        lines = split_lines(files)
        return self.parse_lines(lines)

    def parse_lines(self, lines: DataFrame) -> DataFrame:
        """Parse ``source_file``, ``line_number``, ``kind``, ``line`` rows.

        Lines that come from elsewhere than files can go through here (the
        jobs read Kafka records as files, see :func:`read_kafka`).
        """
        fields = F.from_json(F.col("line"), "map<string,string>")
        valid_json = F.try_parse_json(F.col("line")).isNotNull() & fields.isNotNull()
        df = lines.withColumn("_m", F.when(valid_json, fields))

        typed: dict[str, Column] = {}
        errors: list[Column] = []
        for name, kind in PLAYER_FIELD_KINDS.items():
            raw = F.col("_m").getItem(name)
            value = raw if kind == "string" else raw.try_cast(kind)
            typed[name] = value
            if kind != "string":
                errors.append(
                    F.when(
                        raw.isNotNull() & value.isNull(),
                        F.concat(
                            F.lit(f"field {name} has value '"),
                            F.substring(raw, 1, 80),
                            F.lit(f"'; expected {_WORDS[kind]}"),
                        ),
                    )
                )
        # Missing required fields first, in the SDK schema's order.
        errors = [
            *(
                F.when(typed[n].isNull(), F.lit(f"required field {n} is missing"))
                for n in _REQUIRED
            ),
            *errors,
        ]
        # Milliseconds outside years 1-9999 overflow a timestamp: the line is
        # quarantined with its value instead of failing the job.
        millis = typed["TimeStamp"]
        in_range = millis.between(EPOCH_MIN_S * 1000, EPOCH_MAX_S * 1000 + 999)
        errors.append(
            F.when(
                millis.isNotNull() & ~in_range,
                F.concat(
                    F.lit("field TimeStamp has value '"),
                    F.substring(F.col("_m").getItem("TimeStamp"), 1, 80),
                    F.lit("'; expected epoch milliseconds within years 1-9999"),
                ),
            )
        )
        event_type = typed["MetricType"]
        errors.append(
            F.when(
                event_type.isNotNull() & ~event_type.isin(*PLAYER_EVENT_TYPES),
                F.concat(
                    F.lit("field MetricType has value '"),
                    F.substring(event_type, 1, 40),
                    F.lit(f"'; allowed: {', '.join(PLAYER_EVENT_TYPES)}"),
                ),
            )
        )
        # Blank lines are no input rows and need no reason.
        reason = (
            F.when(F.col("kind") != "data", F.lit(None))
            .when(F.col("_m").isNull(), F.lit("not a JSON object"))
            .otherwise(F.nullif(F.concat_ws("; ", F.array(*errors)), F.lit("")))
        )

        extra = F.map_filter("_m", lambda k, _: ~k.isin(*sorted(_KNOWN)))
        return df.select(
            "source_file",
            "line_number",
            "kind",
            F.col("line").alias("raw"),
            event_type.alias("event_type"),
            F.when(in_range, F.timestamp_millis(millis.cast("long"))).alias(
                "event_time"
            ),
            *(
                typed[n].alias(n)
                for n in PLAYER_FIELD_KINDS
                if n not in ("MetricType", "TimeStamp")
            ),
            extra.alias("extra_fields"),
            reason.alias("_reason"),
        )

    def to_silver(self, bronze: DataFrame) -> DataFrame:
        """Map bronze events to intermediate silver rows."""
        col = F.col
        return bronze.select(
            # The same event text replayed is the same event.
            F.sha2("raw", 256).alias("event_id"),
            "event_type",
            "event_time",
            "user_id",
            "user_agent",
            "session_id",
            "video_id",
            "playlist_type",
            col("at").alias("playhead_s"),
            col("duration").alias("duration_s"),
            col("rtt").alias("rtt_ms"),
            "connection_type",
            "package",
            "resolution",
            "fps",
            col("avg_bitrate").alias("avg_bitrate_kbps"),
            col("time_millisecond").alias("time_ms"),
            "buffer_type",
            col("seek_from").alias("seek_from_s"),
            col("seek_to").alias("seek_to_s"),
            col("bitrate_from").alias("bitrate_from_kbps"),
            col("bitrate_to").alias("bitrate_to_kbps"),
            "direction",
            col("message").alias("error_message"),
            col("fatal").alias("error_fatal"),
            "cdn_tracking_id",
            "source_file",
            "line_number",
            "ingested_at",
        )

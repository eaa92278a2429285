"""Declarations of the alert tables: the alerts themselves and their deliveries.

The alert record is the payload every sink receives, so its schema is declared
here, in the lowest layer that needs it; the rules engine writes it.
"""

from __future__ import annotations

from pyspark.sql.types import (
    DoubleType,
    IntegerType,
    LongType,
    MapType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from qos_ml._catalog import TableSpec, declare_table

__all__ = ["ALERTS", "ALERT_DELIVERIES", "ALERT_STATUSES", "SEVERITIES"]

#: Severities in increasing order of urgency.
SEVERITIES = ("info", "warning", "critical")
#: ``open`` while the incident lasts; ``resolved`` once its cooldown has passed.
ALERT_STATUSES = ("open", "resolved")


def _schema(*spec: tuple[str, object]) -> StructType:
    return StructType([StructField(n, t, True) for n, t in spec])


ALERTS = declare_table(
    TableSpec(
        key="alerts.alerts",
        description=(
            "One row per incident of a rule or model and scope: deterministic id, "
            "severity, window, observed value, threshold, explanation, first and "
            "last seen, status."
        ),
        schema=_schema(
            # sha2(rule | scope_key | incident start): replays do not duplicate.
            ("alert_id", StringType()),
            ("rule", StringType()),
            ("source", StringType()),  # rule | model
            ("severity", StringType()),
            ("target", StringType()),  # aggregate | view | cdn_request | event | score
            ("scope", MapType(StringType(), StringType())),
            ("scope_key", StringType()),  # "dimension=edge_location,..."
            ("window_start", TimestampType()),  # the latest window that fired
            ("window_end", TimestampType()),
            ("observed", DoubleType()),
            ("threshold", DoubleType()),
            ("baseline", DoubleType()),
            ("support", LongType()),
            ("model_version", StringType()),
            ("explanation", StringType()),
            ("first_seen", TimestampType()),  # event time: incident start
            ("last_seen", TimestampType()),  # event time: end of its latest window
            ("status", StringType()),
            ("windows_fired", LongType()),
            ("created_at", TimestampType()),  # processing time
            ("updated_at", TimestampType()),
        ),
        primary_key=("alert_id",),
    )
)

ALERT_DELIVERIES = declare_table(
    TableSpec(
        key="alerts.deliveries",
        description=(
            "One row per alert and sink: delivered or failed, attempts, last "
            "error; a delivered row stops a restarted stream notifying twice."
        ),
        schema=_schema(
            ("alert_id", StringType()),
            ("sink", StringType()),
            ("status", StringType()),  # delivered | failed
            ("attempts", IntegerType()),
            ("last_error", StringType()),
            ("first_attempt_at", TimestampType()),
            ("last_attempt_at", TimestampType()),
            ("delivered_at", TimestampType()),
        ),
        primary_key=("alert_id", "sink"),
    )
)

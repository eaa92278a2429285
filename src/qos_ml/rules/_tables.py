"""Declaration of the rules engine's state table (baselines across restarts)."""

from __future__ import annotations

from pyspark.sql.types import (
    DoubleType,
    LongType,
    MapType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from qos_ml._catalog import TableSpec, declare_table

__all__ = ["RULE_STATE"]

RULE_STATE = declare_table(
    TableSpec(
        key="alerts.rule_state",
        description=(
            "Recent measurements of baseline rules per scope and window, so a "
            "restarted alert stream keeps its baselines; pruned to what they need."
        ),
        schema=StructType(
            [
                StructField("rule", StringType(), True),
                StructField("scope_key", StringType(), True),
                StructField("scope", MapType(StringType(), StringType()), True),
                StructField("window_start", TimestampType(), True),
                StructField("window_end", TimestampType(), True),
                StructField("observed", DoubleType(), True),
                StructField("support", LongType(), True),
                StructField("updated_at", TimestampType(), True),
            ]
        ),
        primary_key=("rule", "scope_key", "window_start"),
    )
)

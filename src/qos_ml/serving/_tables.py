"""Declaration of the scores table: one row per scored feature row and model.

Its key columns follow the rules engine's ``score`` target (``session_id``,
``window_start``), so the model score rules read it as it is: ``session_id``
is the feature row's ``session_key`` (the player's session id, or the
pseudonymised user and video when the player sent none) and ``window_start``
its observation time.
"""

from __future__ import annotations

from pyspark.sql.types import (
    BooleanType,
    DoubleType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from qos_ml._catalog import TableSpec, declare_table

__all__ = ["SCORES"]

SCORES = declare_table(
    TableSpec(
        key="ml.scores",
        description=(
            "Model scores of live feature rows: session, observation time, model "
            "name and version, score, decision at the model's operating threshold, "
            "and whether the model could be loaded."
        ),
        schema=StructType(
            [
                StructField("session_id", StringType(), False),
                StructField("window_start", TimestampType(), False),
                StructField("video_id", StringType(), True),
                StructField("edge_location", StringType(), True),
                StructField("viewer_asn", LongType(), True),
                StructField("model_name", StringType(), False),
                StructField("model_version", StringType(), True),
                StructField("model_status", StringType(), False),
                StructField("score", DoubleType(), True),
                StructField("decision", BooleanType(), True),
                StructField("scored_at", TimestampType(), True),
            ]
        ),
        partition_by=(),
        primary_key=("session_id", "window_start", "model_name"),
    )
)

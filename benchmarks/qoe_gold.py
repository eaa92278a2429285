"""Throughput of the view computation (sessionise + metrics) on generated events.

Prints events per second of ``compute_views`` and its cost relative to a
baseline measured in the same process: the same shuffle (group the events by
viewer and count them) without the metrics.

    .venv/bin/python benchmarks/qoe_gold.py [views] [seconds_per_view]
"""

from __future__ import annotations

import sys
import tempfile
import time

from pyspark.sql import functions as F

from qos_ml import QosConfig, get_spark
from qos_ml._tables import SILVER_PLAYER_EVENTS
from qos_ml.qoe import compute_views


def generated_events(spark, views: int, seconds: int):
    """Per view: PLAY, FIRSTFRAME, one STREAM per second, a stall every 60 s, STOP."""
    base = spark.range(views).select(
        F.col("id").alias("view"),
        F.concat(F.lit("user-"), F.col("id").cast("string")).alias("user_id_hash"),
        (F.lit(1_764_590_400) + F.col("id") * 7).alias("t0"),
    )
    steps = base.select(
        "*", F.explode(F.sequence(F.lit(-2), F.lit(seconds + 1))).alias("i")
    )
    kind = (
        F.when(F.col("i") == -2, "PLAY")
        .when(F.col("i") == -1, "FIRSTFRAME")
        .when(F.col("i") == seconds + 1, "STOP")
        .when((F.col("i") % 60) == 30, "BUFFER")
        .otherwise("STREAM")
    )
    rows = steps.select(
        F.sha2(F.concat_ws("|", "view", "i"), 256).alias("event_id"),
        kind.alias("event_type"),
        F.timestamp_seconds(F.col("t0") + F.col("i") + 2).alias("event_time"),
        "user_id_hash",
        F.lit("video-1").alias("video_id"),
        F.lit("vod").alias("playlist_type"),
        F.col("i").cast("double").alias("playhead_s"),
        F.lit(3600.0).alias("duration_s"),
        F.when(kind == "BUFFER", 900.0)
        .when(kind == "FIRSTFRAME", 1200.0)
        .alias("time_ms"),
        F.when(kind == "BUFFER", "ScreenFreezedBuffer").alias("buffer_type"),
        F.when(kind == "STREAM", 2500.0).alias("avg_bitrate_kbps"),
    )
    columns = [
        F.col(f.name).cast(f.dataType).alias(f.name)
        if f.name in rows.columns
        else F.lit(None).cast(f.dataType).alias(f.name)
        for f in SILVER_PLAYER_EVENTS.schema
    ]
    return rows.select(*columns)


def timed(label: str, action) -> float:
    started = time.perf_counter()
    result = action()
    elapsed = time.perf_counter() - started
    print(f"{label:<34} {elapsed:8.2f} s   ({result})")
    return elapsed


def main() -> None:
    views = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    seconds = int(sys.argv[2]) if len(sys.argv) > 2 else 120
    config = QosConfig.load(
        use_file=False, lakehouse_root=tempfile.mkdtemp(), shuffle_partitions=4
    )
    spark = get_spark(config, extra_conf={"spark.ui.enabled": "false"})
    events = generated_events(spark, views, seconds).cache()
    n = events.count()
    print(f"{n:,} events in {views:,} views of {seconds} s")

    baseline = timed(
        "baseline: group by viewer, count",
        lambda: events.groupBy("user_id_hash").count().count(),
    )
    timed(
        "compute_views (first: plans, codegen)", lambda: compute_views(events).count()
    )
    measured = timed(
        "compute_views (second)",
        lambda: compute_views(events).agg(F.sum("rebuffer_count")).first()[0],
    )
    print(f"events per second: {n / measured:,.0f}")
    print(f"cost relative to the baseline shuffle: {measured / baseline:.1f}x")
    spark.stop()


if __name__ == "__main__":
    main()

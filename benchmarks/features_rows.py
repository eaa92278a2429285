"""Feature rows per second, batch and streaming, on generated silver data.

Generates sessions with ``tests/features/silver_rows.py``, computes the
``buffering`` and ``failure`` sets in batch (:func:`feature_rows`) and through
the stream (:func:`start_feature_stream` over Delta sources, three micro-batches
plus the final flush), and prints rows per second. The baseline measured in the
same process is a plain scan of the silver events (``count``), so the ratios say
what the point-in-time joins cost over reading the input.

Usage: ``.venv/bin/python benchmarks/features_rows.py [--sessions 60]``
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from pyspark.sql import functions as F  # noqa: E402

from features.silver_rows import T0, silver_frames, silver_rows  # noqa: E402
from qos_ml import QosConfig, TableCatalog, get_spark  # noqa: E402
from qos_ml.features import BUFFERING, FAILURE, feature_rows, start_feature_stream  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=60)
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="qos-features-bench-"))
    config = QosConfig.load(
        use_file=False,
        use_env=False,
        lakehouse_root=root,
        secret="benchmark-secret-0123456789",
        shuffle_partitions=2,
        spark_conf={"spark.ui.enabled": "false"},
    )
    spark = get_spark(config)
    catalog = TableCatalog(config, spark)
    player, cdn = silver_frames(spark, silver_rows(args.sessions, start_spread_s=3.0))
    player, cdn = player.localCheckpoint(), cdn.localCheckpoint()
    events = player.count() + cdn.count()
    print(f"{args.sessions} sessions, {events} silver rows")

    started = time.perf_counter()
    for _ in range(3):
        player.select(F.max("event_time")).first()
        cdn.select(F.max("request_time")).first()
    scan_s = (time.perf_counter() - started) / 3
    print(f"baseline: scan of the silver rows {events / scan_s:,.0f} rows/s")

    # Delta sources in three arrivals for the stream.
    last = player.agg(F.max("event_time")).first()[0]
    span = (last - T0).total_seconds()
    bounds = [T0 + timedelta(seconds=span * k / 3) for k in (1, 2)]
    paths = {"player": root / "in_player", "cdn": root / "in_cdn"}
    low = None
    for high in [*bounds, None]:
        for df, column, path in (
            (player, "event_time", paths["player"]),
            (cdn, "request_time", paths["cdn"]),
        ):
            part = df
            if low is not None:
                part = part.where(F.col(column) > F.lit(low))
            if high is not None:
                part = part.where(F.col(column) <= F.lit(high))
            part.coalesce(1).write.format("delta").mode("append").save(str(path))
        low = high

    for feature_set in (BUFFERING, FAILURE):
        started = time.perf_counter()
        rows = feature_rows(player, cdn, feature_set).localCheckpoint().count()
        batch_s = time.perf_counter() - started

        counted: list[int] = []

        def stream_of(path: Path):
            return (
                spark.readStream.format("delta")
                .option("maxFilesPerTrigger", 1)
                .load(str(path))
            )

        started = time.perf_counter()
        stream = start_feature_stream(
            catalog,
            feature_set,
            output=lambda df, _batch, out=counted: out.append(df.count()),
            query_name=f"bench_{feature_set.name}",
            player_stream=stream_of(paths["player"]),
            cdn_stream=stream_of(paths["cdn"]),
        )
        stream.await_termination()
        stream.flush()
        stream_s = time.perf_counter() - started
        streamed = sum(counted)
        print(
            f"{feature_set.name:>9}: batch {rows} rows in {batch_s:.1f} s = "
            f"{rows / batch_s:,.1f} rows/s (input rows at {scan_s / batch_s:.4f} of "
            f"the scan rate); stream {streamed} rows in "
            f"{stream_s:.1f} s = {streamed / stream_s:,.1f} rows/s "
            f"({stream.batches} micro-batches + flush; stream/batch rate "
            f"{(streamed / stream_s) / (rows / batch_s):.2f})"
        )
    spark.stop()


if __name__ == "__main__":
    main()

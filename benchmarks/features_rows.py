"""Feature rows per second, batch and streaming, on generated silver data.

Generates sessions with ``tests/features/silver_rows.py``, computes the
``buffering`` and ``failure`` sets in batch (:func:`feature_rows`) and through
the stream (:func:`start_feature_stream` over Delta sources, three micro-batches
plus the final flush), and prints rows per second. The baseline measured in the
same process is a plain scan of the silver events (``count``), so the ratios say
what the point-in-time joins cost over reading the input.

``--silver DIR`` reads ``DIR/player_events`` and ``DIR/cdn_requests`` (Delta,
e.g. a demo lakehouse's ``silver``) instead. ``--reference`` also computes each
set's labelled rows with the plain range joins (the engine before #6's
optimisation), in the same process on the same input, checks that the values
are equal and prints both times. ``--training`` times :func:`build_training_set`
of each set; ``--no-stream`` skips the stream.

Usage: ``.venv/bin/python benchmarks/features_rows.py [--sessions 60]
[--silver DIR] [--reference] [--training] [--no-stream]``
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

import pandas as pd  # noqa: E402
from pyspark.sql import functions as F  # noqa: E402

from features.silver_rows import T0, silver_frames, silver_rows  # noqa: E402
from qos_ml import QosConfig, TableCatalog, get_spark  # noqa: E402
from qos_ml.features import (  # noqa: E402
    BUFFERING,
    FAILURE,
    FEATURE_SETS,
    attach_labels,
    build_training_set,
    feature_rows,
    observation_points,
    prepare_cdn_requests,
    prepare_player_events,
    start_feature_stream,
)
from qos_ml.features._compute import _compute_features  # noqa: E402


def _labelled(
    player, cdn, feature_set, *, optimised: bool
) -> tuple[pd.DataFrame, float]:
    """What build_training_set computes (rows and label), and its seconds."""
    started = time.perf_counter()
    cdn_prepared = prepare_cdn_requests(cdn).localCheckpoint()
    player_prepared = prepare_player_events(player, cdn_prepared).localCheckpoint()
    points = observation_points(player_prepared).localCheckpoint()
    rows = _compute_features(
        points,
        player_prepared,
        cdn_prepared,
        feature_set,
        lookback_s=4 * 3600.0,
        optimised=optimised,
    )
    label = FEATURE_SETS.label(feature_set.default_label)
    rows = attach_labels(rows, player_prepared, [label]).localCheckpoint()
    rows.count()
    seconds = time.perf_counter() - started
    frame = rows.drop("_obs_t").toPandas()
    return frame.sort_values(["session_key", "obs_time"]).reset_index(
        drop=True
    ), seconds


def _differences(fast: pd.DataFrame, reference: pd.DataFrame) -> list[str]:
    if len(fast) != len(reference) or list(fast.columns) != list(reference.columns):
        return [f"shape {fast.shape} != {reference.shape}"]
    bad = []
    for column in fast.columns:
        a, b = fast[column], reference[column]
        if pd.api.types.is_float_dtype(a) or pd.api.types.is_float_dtype(b):
            a, b = a.astype(float), b.astype(float)
            same = ((a - b).abs() <= 1e-12 * b.abs()) | (a.isna() & b.isna())
        else:
            same = (a == b) | (a.isna() & b.isna())
        if not same.all():
            bad.append(f"{column} ({int((~same).sum())} rows)")
    return bad


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=60)
    parser.add_argument("--silver", type=Path, default=None)
    parser.add_argument("--reference", action="store_true")
    parser.add_argument("--training", action="store_true")
    parser.add_argument("--no-stream", action="store_true")
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
    if args.silver is None:
        player, cdn = silver_frames(
            spark, silver_rows(args.sessions, start_spread_s=3.0)
        )
        what = f"{args.sessions} generated sessions"
    else:
        player = spark.read.format("delta").load(str(args.silver / "player_events"))
        cdn = spark.read.format("delta").load(str(args.silver / "cdn_requests"))
        what = f"silver tables of {args.silver}"
    player, cdn = player.localCheckpoint(), cdn.localCheckpoint()
    events = player.count() + cdn.count()
    print(f"{what}: {events} silver rows", flush=True)

    if args.reference:
        for feature_set in (BUFFERING, FAILURE):
            reference, reference_s = _labelled(
                player, cdn, feature_set, optimised=False
            )
            fast, fast_s = _labelled(player, cdn, feature_set, optimised=True)
            bad = _differences(fast, reference)
            print(
                f"{feature_set.name:>9}: labelled rows ({len(fast)}) reference "
                f"range joins {reference_s:.1f} s, optimised {fast_s:.1f} s "
                f"({reference_s / fast_s:.1f}x); values "
                f"{'equal' if not bad else 'DIFFER: ' + ', '.join(bad)}",
                flush=True,
            )
    if args.training:
        catalog.write(player, "silver.player_events", mode="overwrite")
        catalog.write(cdn, "silver.cdn_requests", mode="overwrite")
        for feature_set in (BUFFERING, FAILURE):
            started = time.perf_counter()
            built = build_training_set(catalog, feature_set)
            print(
                f"{feature_set.name:>9}: build_training_set {built.rows_written} rows "
                f"in {time.perf_counter() - started:.1f} s",
                flush=True,
            )
    if args.no_stream:
        spark.stop()
        return

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

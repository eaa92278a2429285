"""Point in time, leakage, training sets and stream/batch parity, on real Spark."""

from __future__ import annotations

import json
import math
from datetime import timedelta

import pandas as pd
import pytest
from pyspark.sql import functions as F

from features.parity import ALL_BUILTIN, ROW_KEYS, assert_same
from features.parity import frame as _frame
from features.silver_rows import T0, silver_frames
from qos_ml.features import (
    FEATURE_SETS,
    build_training_set,
    feature_rows,
    start_feature_stream,
)

# Minutes of Spark work per test on 2 cores (TODO(#6): shrink).
pytestmark = pytest.mark.slow

LABELS = (FEATURE_SETS.label("stall", 20.0), FEATURE_SETS.label("failure", None))
CUT = T0 + timedelta(seconds=40)


@pytest.fixture(scope="module")
def silver(spark):
    return silver_frames(spark)


@pytest.fixture(scope="module")
def full_rows(silver):
    player, cdn = silver
    return _frame(feature_rows(player, cdn, ALL_BUILTIN, labels=LABELS))


@pytest.fixture(scope="module")
def cut_rows(silver):
    """The same sessions with every event after CUT removed."""
    player, cdn = silver
    cut = F.lit(CUT).cast("timestamp")
    return _frame(
        feature_rows(
            player.where(F.col("event_time") <= cut),
            cdn.where(F.col("request_time") <= cut),
            ALL_BUILTIN,
            labels=LABELS,
        )
    )


def test_features_never_read_events_after_the_row_time(full_rows, cut_rows) -> None:
    before = full_rows[full_rows.obs_time <= CUT].reset_index(drop=True)
    assert (before.obs_time == CUT).any()  # the boundary itself is covered
    kept = cut_rows[cut_rows.obs_time <= CUT].reset_index(drop=True)
    assert_same(before, kept, ["session_key", "obs_time", *ALL_BUILTIN.names])
    # The data exercises the features: not a comparison of nulls.
    assert before.stalls_so_far.max() > 0
    assert before.edge_stall_rate_5m.notna().any()
    assert before.buffer_level_s.notna().all()


@pytest.mark.parametrize("label", LABELS, ids=lambda label: label.name)
def test_label_reads_only_after_the_row_time(full_rows, cut_rows, label) -> None:
    column = label.column
    positives = full_rows[full_rows[column] & (full_rows.obs_time <= CUT)]
    assert len(positives) > 0, "the data must hold positives before the cut"
    # With nothing after the cut, no row at the cut can see its outcome...
    at_cut = cut_rows[cut_rows.obs_time == CUT]
    assert len(at_cut) > 0
    assert not at_cut[column].any()
    # ...while the features of those rows stay what they were.
    full_at_cut = full_rows[full_rows.obs_time == CUT].reset_index(drop=True)
    assert_same(full_at_cut, at_cut.reset_index(drop=True), ALL_BUILTIN.names)
    if label.kind == "stall":
        assert (positives[f"{column}_lead_s"] > 0).all()
        assert (positives[f"{column}_lead_s"] <= label.horizon_s).all()


def test_build_training_set_records_version_and_sampling(catalog, silver) -> None:
    player, cdn = silver
    catalog.write(player, "silver.player_events", mode="overwrite")
    catalog.write(cdn, "silver.cdn_requests", mode="overwrite")

    built = build_training_set(catalog, "buffering", horizon_s=20.0)
    sampled = build_training_set(
        catalog, "buffering", horizon_s=20.0, negatives_per_positive=1.0
    )
    assert sampled.table_version == built.table_version + 1
    assert catalog.version(sampled.table_key) == sampled.table_version
    assert sampled.positives == built.positives > 0
    assert sampled.rows_written < built.rows_written == built.rows_total

    rows = sampled.read(catalog).toPandas()
    assert rows.label.sum() == sampled.positives
    assert set(rows.sample_weight) == {1.0, 1.0 / sampled.negative_fraction}
    assert len(built.read(catalog).toPandas()) == built.rows_total  # time travel

    log = catalog.read("features.training_sets").toPandas()
    entry = log[log.training_set_id == sampled.training_set_id].iloc[0]
    assert entry.table_version == sampled.table_version
    assert entry.negatives_per_positive == 1.0
    assert json.loads(entry.source_versions)["silver.player_events"] >= 0
    commit = (
        catalog.history(sampled.table_key)
        .where(F.col("version") == sampled.table_version)
        .first()
    )
    assert json.loads(commit["userMetadata"])["negative_fraction"] == pytest.approx(
        sampled.negative_fraction
    )


# The simulator's output through the live path: test_feature_sim_parity.py.
def test_stream_and_batch_give_the_same_rows(spark, catalog, tmp_path, silver) -> None:
    player, cdn = silver
    # Three arrivals, in event-time order, so that the stream runs three batches.
    bounds = [T0 + timedelta(seconds=s) for s in (25, 50)]
    player_path, cdn_path = tmp_path / "player", tmp_path / "cdn"
    low = None
    for high in [*bounds, None]:
        for df, column, path in (
            (player, "event_time", player_path),
            (cdn, "request_time", cdn_path),
        ):
            part = df
            if low is not None:
                part = part.where(F.col(column) > F.lit(low).cast("timestamp"))
            if high is not None:
                part = part.where(F.col(column) <= F.lit(high).cast("timestamp"))
            part.coalesce(1).write.format("delta").mode("append").save(str(path))
        low = high

    def read_stream(path):
        return (
            spark.readStream.format("delta")
            .option("maxFilesPerTrigger", 1)
            .load(str(path))
        )

    received = []
    stream = start_feature_stream(
        catalog,
        ALL_BUILTIN,
        output=lambda rows, batch_id: received.append(rows.toPandas()),
        lateness_s=5.0,
        query_name="test_feature_parity",
        player_stream=read_stream(player_path),
        cdn_stream=read_stream(cdn_path),
    )
    stream.await_termination(600)
    emitted_before_flush = sum(len(r) for r in received)
    stream.flush()
    assert math.isinf(stream.watermark)
    assert 0 < emitted_before_flush < sum(len(r) for r in received)

    streamed = (
        pd.concat(received)
        .sort_values(["session_key", "obs_time"])
        .reset_index(drop=True)
    )
    batch = _frame(feature_rows(player, cdn, ALL_BUILTIN))
    assert_same(batch, streamed, [*ROW_KEYS, *ALL_BUILTIN.names])

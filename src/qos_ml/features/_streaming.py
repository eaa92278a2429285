"""Feature rows from the live stream, computed by the same engine as training.

The stream does not re-implement any feature. Each micro-batch of silver
player events and CDN requests is appended to a bounded history (a Delta table
beside the query's checkpoint); the event-time watermark (latest event time
seen less ``lateness_s``) then says which observation points are complete, and
exactly those points are computed by :func:`compute_features` over the
history, the function the batch path runs. A point is emitted once, when the
watermark passes its time, so an event up to ``lateness_s`` late still counts;
history older than every window any future point can need is pruned.

Choice, and why: Spark's stateful operators (stream-stream joins, windowed
aggregations) would need a second implementation of every feature and differ
from the batch join at window edges; recomputing over a bounded look-back
gives identical values by construction.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.streaming import StreamingQuery

from qos_ml._catalog import TableCatalog
from qos_ml._errors import ConfigError
from qos_ml._tables import SILVER_CDN_REQUESTS, SILVER_PLAYER_EVENTS
from qos_ml.features._builtin import FEATURE_SETS
from qos_ml.features._compute import (
    DEFAULT_LOOKBACK_S,
    compute_features,
    observation_points,
    prepare_cdn_requests,
    prepare_player_events,
    required_history_s,
)
from qos_ml.features._definitions import FeatureSet, ObservationPolicy
from qos_ml.features._tables import feature_table_spec

__all__ = [
    "FeatureStream",
    "start_feature_stream",
]

logger = logging.getLogger(__name__)

_PLAYER = "silver.player_events"
_CDN = "silver.cdn_requests"
#: Stall lengths are bounded by silver's sanity checks; a stall's seek may
#: precede its BUFFER event by this much.
_STALL_MARGIN_S = 900.0
#: Prune the history every this many micro-batches (reads filter it anyway).
_PRUNE_EVERY = 5

RowSink = Callable[[DataFrame, int], None]


@dataclass
class FeatureStream:
    """A running feature stream: its query, history and where rows go.

    Use :func:`start_feature_stream` to create one.
    """

    catalog: TableCatalog
    feature_set: FeatureSet
    policy: ObservationPolicy
    lateness_s: float
    lookback_s: float
    query_name: str
    output: str | RowSink
    query: StreamingQuery | None = None
    batches: int = 0
    rows_emitted: int = 0
    _history_s: float = field(init=False, default=0.0)

    def __post_init__(self) -> None:
        self._history_s = required_history_s(self.feature_set, self.lookback_s) + (
            _STALL_MARGIN_S + float(self.policy.every_s or 0.0)
        )

    # -- locations -----------------------------------------------------------------

    @property
    def _root(self) -> Path:
        return Path(self.catalog.checkpoint(self.query_name))

    @property
    def history_path(self) -> str:
        """Delta folder of the bounded event history."""
        return str(self._root / "history")

    @property
    def _progress_file(self) -> Path:
        return self._root / "feature_progress.json"

    def _progress(self) -> tuple[int, float | None]:
        if not self._progress_file.exists():
            return -1, None
        state = json.loads(self._progress_file.read_text())
        return int(state["batch_id"]), state["watermark"]

    def _save_progress(self, batch_id: int, watermark: float | None) -> None:
        self._progress_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._progress_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"batch_id": batch_id, "watermark": watermark}))
        tmp.replace(self._progress_file)  # atomic: a crash leaves old or new

    @property
    def watermark(self) -> float | None:
        """Event time (epoch seconds) up to which rows have been emitted."""
        return self._progress()[1]

    # -- the micro-batch -----------------------------------------------------------

    def process_batch(self, batch: DataFrame, batch_id: int) -> None:
        """Handle one micro-batch of the enveloped silver stream (``foreachBatch``)."""
        started = time.perf_counter()
        last_batch, previous = self._progress()
        if batch_id <= last_batch:
            logger.info(
                "Feature stream %s: batch %d done already", self.query_name, batch_id
            )
            return
        stats = batch.agg(
            F.max("_env_t").alias("latest"),
            F.count(F.lit(1)).alias("events"),
            F.count_if(F.col("_env_t") <= F.lit(previous)).alias("late")
            if previous is not None
            else F.lit(0).alias("late"),
        ).first()
        if stats["events"]:
            (
                batch.write.format("delta")
                .mode("append")
                .option("txnAppId", f"{self.query_name}-history")
                .option("txnVersion", batch_id)
                .save(self.history_path)
            )
        if stats["late"]:
            logger.warning(
                "Feature stream %s: %d events arrived after their rows were emitted "
                "(older than the watermark); raise lateness_s (now %g s) to count them",
                self.query_name,
                stats["late"],
                self.lateness_s,
            )
        watermark = previous
        if stats["latest"] is not None:
            candidate = float(stats["latest"]) - self.lateness_s
            watermark = candidate if previous is None else max(previous, candidate)
        emitted = 0
        if watermark is not None and watermark != previous:
            emitted = self._emit(previous, watermark, batch_id)
        self.batches += 1
        if watermark is not None and self.batches % _PRUNE_EVERY == 0:
            self._prune(watermark)
        self._save_progress(batch_id, watermark)
        logger.info(
            "Feature stream %s: batch %d, %d events, %d rows up to %s in %.1f s",
            self.query_name,
            batch_id,
            stats["events"],
            emitted,
            watermark,
            time.perf_counter() - started,
        )

    def _history(self, after: float | None) -> tuple[DataFrame, DataFrame]:
        spark = self.catalog.spark
        history = spark.read.format("delta").load(self.history_path)
        if after is not None:
            history = history.where(F.col("_env_t") > F.lit(after - self._history_s))
        player = history.where(F.col("_source") == "player").select(
            *SILVER_PLAYER_EVENTS.schema.fieldNames()
        )
        cdn = history.where(F.col("_source") == "cdn").select(
            *SILVER_CDN_REQUESTS.schema.fieldNames()
        )
        return player, cdn

    def _emit(self, after: float | None, until: float | None, batch_id: int) -> int:
        from delta.tables import DeltaTable

        if not DeltaTable.isDeltaTable(self.catalog.spark, self.history_path):
            return 0  # nothing has arrived yet
        player, cdn = self._history(after)
        cdn_prepared = prepare_cdn_requests(cdn).localCheckpoint()
        player_prepared = prepare_player_events(player, cdn_prepared).localCheckpoint()
        points = observation_points(
            player_prepared, self.policy, after_s=after, until_s=until
        ).localCheckpoint()
        rows = compute_features(
            points,
            player_prepared,
            cdn_prepared,
            self.feature_set,
            lookback_s=self.lookback_s,
        ).drop("_obs_t")
        rows = rows.localCheckpoint()
        count = int(rows.count())
        if count:
            self._write(rows, batch_id)
        self.rows_emitted += count
        return count

    def _write(self, rows: DataFrame, batch_id: int) -> None:
        if callable(self.output):
            self.output(rows, batch_id)
            return
        self.catalog.write(rows, self.output, txn=(f"{self.query_name}-rows", batch_id))

    def _prune(self, watermark: float) -> None:
        from delta.tables import DeltaTable

        horizon = watermark - self._history_s
        DeltaTable.forPath(self.catalog.spark, self.history_path).delete(
            F.col("_env_t") <= F.lit(horizon)
        )

    # -- control -------------------------------------------------------------------

    def await_termination(self, timeout_s: float | None = None) -> None:
        """Wait for the query (an ``availableNow`` query ends by itself)."""
        if self.query is not None:
            self.query.awaitTermination(timeout_s)
            exc = self.query.exception()
            if exc is not None:
                raise exc

    def flush(self) -> int:
        """Emit every point not emitted yet, as if the watermark were infinite.

        For the end of a replay (and tests): afterwards no earlier point is
        emitted again. Returns the number of rows emitted.
        """
        last_batch, previous = self._progress()
        batch_id = last_batch + 1
        emitted = self._emit(previous, None, batch_id)
        self._save_progress(
            batch_id, math.inf if emitted or previous is None else previous
        )
        return emitted

    def stop(self) -> None:
        """Stop the query."""
        if self.query is not None:
            self.query.stop()


def _envelope(player: DataFrame, cdn: DataFrame) -> DataFrame:
    """Both silver streams as one, with the source and event time of each row."""
    p = player.select(
        *SILVER_PLAYER_EVENTS.schema.fieldNames(),
        F.lit("player").alias("_source"),
        (F.unix_micros("event_time") / F.lit(1_000_000.0)).alias("_env_t"),
    )
    c = cdn.select(
        *SILVER_CDN_REQUESTS.schema.fieldNames(),
        F.lit("cdn").alias("_source"),
        (F.unix_micros("request_time") / F.lit(1_000_000.0)).alias("_env_t"),
    )
    return p.unionByName(c, allowMissingColumns=True).where(F.col("_env_t").isNotNull())


def start_feature_stream(
    catalog: TableCatalog,
    feature_set: FeatureSet | str,
    *,
    output: str | RowSink | None = None,
    policy: ObservationPolicy | None = None,
    lateness_s: float = 30.0,
    lookback_s: float = DEFAULT_LOOKBACK_S,
    query_name: str | None = None,
    trigger: Mapping[str, Any] | None = None,
    player_stream: DataFrame | None = None,
    cdn_stream: DataFrame | None = None,
    source_options: Mapping[str, str] | None = None,
) -> FeatureStream:
    """Compute a feature set's rows from the live silver tables, for serving.

    Parameters
    ----------
    catalog : TableCatalog
    feature_set : FeatureSet or str
    output : str or callable, optional
        A declared table key to append rows to (default:
        ``features.<set>_rows``), or a function ``(rows, batch_id)`` called with
        each micro-batch's new rows (a scorer, say).
    policy : ObservationPolicy, optional
        Must be the training set's policy for its rows to match.
    lateness_s : float, default 30
        How late an event may arrive and still count: a point at ``t`` is
        emitted when an event later than ``t + lateness_s`` has been seen.
    lookback_s : float, default 4 h
        As in :func:`compute_features`.
    query_name : str, optional
        Default ``features_<set>``; names the checkpoint and the history.
    trigger : mapping, optional
        ``DataStreamWriter.trigger`` keywords; default ``availableNow=True``.
    player_stream, cdn_stream : DataFrame, optional
        Streaming DataFrames with the silver columns; default: the silver
        Delta tables read as streams.
    source_options : mapping, optional
        Options of the default Delta stream readers (``maxFilesPerTrigger``).

    Returns
    -------
    FeatureStream

    Raises
    ------
    ConfigError
        When ``lateness_s`` is negative.
    """
    if not isinstance(lateness_s, int | float) or lateness_s < 0:
        raise ConfigError(
            "lateness_s", lateness_s, "seconds >= 0", "start_feature_stream"
        )
    feature_set = FEATURE_SETS.get(feature_set)
    if output is None:
        output = feature_table_spec(feature_set, "rows").key
    name = query_name or f"features_{feature_set.name}"
    stream = FeatureStream(
        catalog=catalog,
        feature_set=feature_set,
        policy=policy or ObservationPolicy(),
        lateness_s=float(lateness_s),
        lookback_s=float(lookback_s),
        query_name=name,
        output=output,
    )
    options = dict(source_options or {})
    player = (
        player_stream
        if player_stream is not None
        else catalog.read_stream(_PLAYER, **options)
    )
    cdn = cdn_stream if cdn_stream is not None else catalog.read_stream(_CDN, **options)
    stream.query = (
        _envelope(player, cdn)
        .writeStream.foreachBatch(stream.process_batch)
        .queryName(name)
        .option("checkpointLocation", str(Path(catalog.checkpoint(name)) / "query"))
        .trigger(**(trigger or {"availableNow": True}))
        .start()
    )
    logger.info("Started feature stream %s for %s", name, feature_set.name)
    return stream

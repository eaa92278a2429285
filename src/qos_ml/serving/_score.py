"""Scoring feature rows with registered models, in batch and in streaming.

* :func:`score_batch`: a DataFrame (batch or streaming) in, the same with
  ``score``, ``decision``, ``model_name``, ``model_version`` and
  ``model_status`` out; the model is resolved once, when it is called.
* :func:`start_scoring_stream`: a ``foreachBatch`` query that resolves each
  model's alias at every micro-batch, so moving ``champion`` changes the version
  in the output without a restart; scores go to ``ml.scores`` and/or a callback.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from qos_ml._config import QosConfig
from qos_ml._errors import ConfigError, SchemaMismatchError
from qos_ml.serving._model import ModelHandle, ResolvedModel
from qos_ml.serving._tables import SCORES

if TYPE_CHECKING:
    from pyspark.sql import DataFrame
    from pyspark.sql.streaming import StreamingQuery

    from qos_ml._catalog import TableCatalog

__all__ = [
    "SCORE_COLUMNS",
    "Scorer",
    "ScoringStream",
    "score_batch",
    "score_rows",
    "start_scoring_stream",
]

logger = logging.getLogger(__name__)

#: Columns :func:`score_batch` adds.
SCORE_COLUMNS = ("score", "decision", "model_name", "model_version", "model_status")
#: Feature-row columns a score row is keyed by.
_KEYS = ("session_key", "obs_time")

ModelRef = str | ModelHandle
ScoreCallback = Callable[["DataFrame", int], None]


class Scorer:
    """Several models scoring the same feature rows; one row per row and model.

    Parameters
    ----------
    models : sequence of str or ModelHandle
        References (see :func:`~qos_ml.serving.parse_model_reference`).
    config : QosConfig, optional
        Names task references.
    strict : bool, default False
        Raise :class:`~qos_ml.ModelLoadError` when a model cannot be used.
    """

    def __init__(
        self,
        models: Sequence[ModelRef],
        *,
        config: QosConfig | None = None,
        strict: bool = False,
    ) -> None:
        if isinstance(models, str | ModelHandle) or not models:
            raise ConfigError(
                "models", models, "a non-empty list of model references", "Scorer"
            )
        self.handles = [
            m if isinstance(m, ModelHandle) else ModelHandle(m, config=config)
            for m in models
        ]
        for handle in self.handles:
            handle.strict = handle.strict or strict

    def refresh(self, spark: Any) -> list[ResolvedModel]:
        """Resolve every model now (one registry call each); reload the changed."""
        return [h.refresh(spark) for h in self.handles]

    def check_columns(self, df: DataFrame) -> None:
        """Fail, naming them, when ``df`` lacks columns an available model needs.

        Raises
        ------
        SchemaMismatchError
        """
        problems = []
        for handle in self.handles:
            missing = handle.current.missing_columns(df.columns)
            if missing:
                problems.append(
                    f"model {handle.name} version {handle.current.version} needs "
                    f"{missing}"
                )
        if problems:
            raise SchemaMismatchError(
                "the input lacks columns the models' signatures need: "
                + "; ".join(problems)
                + f". The input has {df.columns}"
            )

    def score(self, df: DataFrame) -> DataFrame:
        """Score ``df`` with each model's current version; stack the results."""
        scored = [h.score(df) for h in self.handles]
        result = scored[0]
        for frame in scored[1:]:
            result = result.unionByName(frame)
        return result

    def close(self) -> None:
        """Remove the models' downloaded files."""
        for handle in self.handles:
            handle.close()


def score_batch(
    df: DataFrame,
    model: ModelRef = "buffering",
    *,
    config: QosConfig | None = None,
    strict: bool = False,
) -> DataFrame:
    """Score feature rows with a registered model.

    The model's alias is resolved now, once; the returned DataFrame (batch or
    streaming) keeps that version. Numeric inputs are cast to the signature's
    types natively, so integer columns score as doubles; nulls pass through.

    Parameters
    ----------
    df : DataFrame
        Rows with the model signature's input columns (extra columns are kept).
    model : str or ModelHandle, default "buffering"
        ``models:/<name>@<alias>``, ``models:/<name>/<version>`` or a task
        name (its champion).
    config : QosConfig, optional
    strict : bool, default False
        Raise instead of returning null scores when the model is unavailable.

    Returns
    -------
    DataFrame
        ``df`` with :data:`SCORE_COLUMNS` added: ``score`` (double),
        ``decision`` (boolean, at the model's operating threshold),
        ``model_name``, ``model_version``, ``model_status`` (``"ok"`` or
        ``"unavailable: <reason>"``).

    Raises
    ------
    SchemaMismatchError
        When ``df`` lacks signature columns (named), before any query runs.
    ModelLoadError
        In strict mode, when the model cannot be resolved or loaded.
    """
    scorer = Scorer([model], config=config, strict=strict)
    scorer.refresh(df.sparkSession)
    scorer.check_columns(df)
    return scorer.score(df)


def score_rows(scored: DataFrame) -> DataFrame:
    """Turn scored feature rows into rows of ``ml.scores``.

    ``session_key`` becomes ``session_id`` and ``obs_time`` becomes
    ``window_start``: the columns the rules engine's ``score`` target reads.

    Raises
    ------
    SchemaMismatchError
        When the rows lack ``session_key`` or ``obs_time``.
    """
    from pyspark.sql import functions as F

    missing = [c for c in (*_KEYS, *SCORE_COLUMNS) if c not in scored.columns]
    if missing:
        raise SchemaMismatchError(
            f"scored rows lack columns {missing} needed for ml.scores; they have "
            f"{scored.columns}"
        )
    renamed = {"session_key": "session_id", "obs_time": "window_start"}
    columns = []
    for spec in SCORES.schema:
        source = next((k for k, v in renamed.items() if v == spec.name), spec.name)
        if spec.name == "scored_at":
            value = F.current_timestamp()
        elif source in scored.columns:
            value = F.col(source)
        else:
            value = F.lit(None)
        columns.append(value.cast(spec.dataType).alias(spec.name))
    return scored.select(*columns)


@dataclass
class ScoringStream:
    """A running scoring stream; use :func:`start_scoring_stream` to create one.

    Attributes
    ----------
    batches, rows_scored : int
        Non-empty micro-batches handled and score rows produced.
    versions : dict of str to list of str
        Model name to the versions that scored, in order of first use.
    """

    scorer: Scorer
    catalog: TableCatalog
    table: str | None
    on_batch: ScoreCallback | None
    query_name: str
    query: StreamingQuery | None = None
    batches: int = 0
    rows_scored: int = 0
    versions: dict[str, list[str]] = field(default_factory=dict)

    def process_batch(self, batch: DataFrame, batch_id: int) -> None:
        """Score one micro-batch of feature rows (``foreachBatch``)."""
        if batch.isEmpty():
            return
        started = time.perf_counter()
        resolved = self.scorer.refresh(batch.sparkSession)
        # Materialised once: the table and the callback must not each run the UDF.
        rows = score_rows(self.scorer.score(batch)).localCheckpoint()
        count = rows.count()
        if self.table is not None:
            self._write(rows, batch_id)
        if self.on_batch is not None:
            self.on_batch(rows, batch_id)
        self.batches += 1
        self.rows_scored += count
        for model in resolved:
            seen = self.versions.setdefault(model.name, [])
            if model.version is not None and model.version not in seen:
                seen.append(model.version)
        logger.info(
            "Scoring %s: batch %d, %d score rows (%s) in %.1f s",
            self.query_name,
            batch_id,
            count,
            ", ".join(f"{m.name} v{m.version} {m.status}" for m in resolved),
            time.perf_counter() - started,
        )

    def _write(self, rows: DataFrame, batch_id: int) -> None:
        # A replayed micro-batch is skipped by Delta, not written twice.
        self.catalog.write(
            rows, str(self.table), txn=(f"{self.query_name}-scores", batch_id)
        )

    def await_termination(self, timeout_s: float | None = None) -> None:
        """Wait for the query; raise its error if it failed."""
        if self.query is not None:
            self.query.awaitTermination(timeout_s)
            error = self.query.exception()
            if error is not None:
                raise error

    def stop(self) -> None:
        """Stop the query and remove the downloaded models."""
        if self.query is not None:
            self.query.stop()
        self.scorer.close()


def start_scoring_stream(
    features: DataFrame,
    models: Sequence[ModelRef],
    catalog: TableCatalog,
    *,
    table: str | None = SCORES.key,
    on_batch: ScoreCallback | None = None,
    query_name: str = "scoring",
    trigger: Mapping[str, Any] | None = None,
    strict: bool = False,
) -> ScoringStream:
    """Score a stream of feature rows with registered models, per micro-batch.

    At every non-empty micro-batch each model's alias is resolved on the driver
    (one registry call); a version is loaded and its Spark UDF built only when
    the alias moved, so the stream picks up a new champion between two
    micro-batches without a restart and every row records its version.

    Parameters
    ----------
    features : DataFrame
        A streaming DataFrame of feature rows (``session_key``, ``obs_time``
        and the models' inputs), e.g. ``catalog.read_stream(
        "features.buffering_rows")``.
    models : sequence of str or ModelHandle
        Model references; each row is scored by every model.
    catalog : TableCatalog
        Where ``table`` and the checkpoint live; its configuration names task
        references.
    table : str or None, default "ml.scores"
        Declared table the score rows are appended to (``None``: not written).
    on_batch : callable, optional
        Called as ``on_batch(score_rows, batch_id)`` after the table write,
        e.g. to evaluate alert rules.
    query_name : str, default "scoring"
        Names the query and its checkpoint.
    trigger : mapping, optional
        ``DataStreamWriter.trigger`` keywords; default
        ``processingTime="30 seconds"``.
    strict : bool, default False
        Fail the stream when a model cannot be loaded (default: score nulls,
        ``model_status`` says why, the stream goes on).

    Returns
    -------
    ScoringStream

    Raises
    ------
    ConfigError
        When neither ``table`` nor ``on_batch`` is given.
    SchemaMismatchError
        When the stream lacks a column a model's signature needs (named),
        before the query starts.
    ModelLoadError
        In strict mode, when a model cannot be resolved or loaded at start.
    """
    if table is None and on_batch is None:
        raise ConfigError(
            "table", None, "a declared table key, or an on_batch callback", query_name
        )
    missing = [c for c in _KEYS if c not in features.columns]
    if missing:
        raise SchemaMismatchError(
            f"scoring stream {query_name}: the feature rows lack key columns "
            f"{missing}; they have {features.columns}"
        )
    scorer = Scorer(models, config=catalog.config, strict=strict)
    scorer.refresh(features.sparkSession)
    scorer.check_columns(features)
    stream = ScoringStream(
        scorer=scorer,
        catalog=catalog,
        table=table,
        on_batch=on_batch,
        query_name=query_name,
    )
    if table is not None:
        catalog.create(table)
    # TODO(#8): under Spark Connect foreachBatch runs in a server-side Python
    # process; the handles' state (current version, UDF) is untested there.
    stream.query = (
        features.writeStream.foreachBatch(stream.process_batch)
        .queryName(query_name)
        .option("checkpointLocation", catalog.checkpoint(query_name))
        .trigger(**(trigger or {"processingTime": "30 seconds"}))
        .start()
    )
    logger.info(
        "Started scoring stream %s with %s",
        query_name,
        ", ".join(f"{h.name} v{h.current.version}" for h in scorer.handles),
    )
    return stream

"""The alert stream: rules evaluated on each micro-batch through ``foreachBatch``.

Cooldowns live in the alerts table (open incidents) and baselines in the
state table, both Delta, so a stream restarted from its checkpoint keeps them
and a replayed micro-batch writes the same alert ids.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from qos_ml._errors import ConfigError
from qos_ml.rules._engine import AlertEngine
from qos_ml.rules._rule import TARGETS

if TYPE_CHECKING:
    from pyspark.sql import DataFrame
    from pyspark.sql.streaming import StreamingQuery

__all__ = ["start_alert_stream"]

logger = logging.getLogger(__name__)


def start_alert_stream(
    stream: DataFrame,
    target: str,
    engine: AlertEngine,
    *,
    query_name: str,
    trigger: Mapping[str, Any] | None = None,
) -> StreamingQuery:
    """Start a streaming query that evaluates the engine's rules of one target.

    Parameters
    ----------
    stream : DataFrame
        A streaming DataFrame of the target (e.g. ``catalog.read_stream(
        "gold.qoe_by_dimension_minute")``).
    target : str
        One of :data:`~qos_ml.rules.TARGETS`.
    engine : AlertEngine
        Rules, catalog and sinks.
    query_name : str
        Name of the query; its checkpoint is ``<checkpoints>/<query_name>``.
    trigger : mapping, optional
        Keyword arguments of ``DataStreamWriter.trigger`` (default:
        ``processingTime="30 seconds"``).

    Returns
    -------
    StreamingQuery

    Raises
    ------
    ConfigError
        For an unknown target or one no rule of the engine looks at.
    SchemaMismatchError
        When the stream lacks a column a rule needs (checked before start).
    """
    if target not in TARGETS:
        raise ConfigError("target", target, f"one of {', '.join(TARGETS)}")
    rules = engine.rules_for([target])
    if not rules:
        raise ConfigError(
            "target",
            target,
            "a target some rule of the engine looks at: "
            + ", ".join(sorted({r.target for r in engine.rules})),
        )
    for rule in rules:  # fail when the query starts, not in a worker
        rule.check_input(stream)

    def _batch(batch: DataFrame, batch_id: int) -> None:
        engine.process({target: batch}, batch_id=batch_id)

    logger.info("Starting alert stream %s with %d rule(s)", query_name, len(rules))
    return (
        stream.writeStream.foreachBatch(_batch)
        .queryName(query_name)
        .option("checkpointLocation", engine.catalog.checkpoint(query_name))
        .trigger(**(trigger or {"processingTime": "30 seconds"}))
        .start()
    )

"""The Delta sink: upsert (or append) records into a declared Delta table."""

from __future__ import annotations

import json
import logging
import time
from typing import TYPE_CHECKING, Any, ClassVar, Literal, cast

from pydantic import Field

from qos_ml._errors import ConfigError
from qos_ml.sinks._base import Message, Sink, SinkSettings, register_sink

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from qos_ml._catalog import TableCatalog

__all__ = ["DeltaSink", "upsert"]

logger = logging.getLogger(__name__)


class _DeltaSettings(SinkSettings):
    table: str = Field(default="alerts.alerts", description="A declared table key.")
    mode: Literal["merge", "append"] = "merge"
    key: tuple[str, ...] = Field(
        default=(), description="Merge key; default: the table's primary key."
    )


def upsert(
    catalog: TableCatalog,
    df: DataFrame,
    table: str,
    key: tuple[str, ...],
    *,
    create: bool = True,
) -> int:
    """MERGE rows into a declared Delta table on ``key``; return the source rows.

    Matched rows are replaced, new ones inserted; several source rows with the
    same key keep one (Delta refuses ambiguous matches).

    Raises
    ------
    SchemaMismatchError
        When ``df`` lacks a declared column of the table.
    """
    from pyspark.sql import functions as F

    started = time.perf_counter()
    if create:  # callers that checked the table once pass False
        catalog.create(table)
    source = catalog.conform(df, table).dropDuplicates(list(key))
    count = source.count()
    if count == 0:
        return 0
    condition = " AND ".join(f"t.`{c}` <=> s.`{c}`" for c in key)
    (
        catalog.delta_table(table)
        .alias("t")
        .merge(source.alias("s"), F.expr(condition))
        .whenMatchedUpdateAll()
        .whenNotMatchedInsertAll()
        .execute()
    )
    logger.info(
        "Merged %d row(s) into %s in %.1f s",
        count,
        table,
        time.perf_counter() - started,
    )
    return count


@register_sink
class DeltaSink(Sink):
    """Write records to a declared Delta table, idempotently by its key.

    The alerts table is always written through this sink; :func:`publish`
    uses it to land application updates beside the other tables.

    Parameters
    ----------
    table : str, default "alerts.alerts"
        Declared table key (see :func:`qos_ml.declared_tables`).
    mode : {"merge", "append"}, default "merge"
        ``merge`` upserts on ``key`` (replays change nothing); ``append`` adds.
    key : tuple of str, optional
        Merge key; default: the table's declared primary key.
    catalog : TableCatalog, optional
        Default: a catalog of the default configuration.
    """

    name = "delta"
    Settings: ClassVar[type[SinkSettings]] = _DeltaSettings

    def __init__(self, catalog: TableCatalog | None = None, **settings: Any) -> None:
        super().__init__(**settings)
        self._catalog = catalog

    @property
    def catalog(self) -> TableCatalog:
        """The table catalog written to."""
        if self._catalog is None:
            from qos_ml._catalog import TableCatalog

            self._catalog = TableCatalog()
        return self._catalog

    def _key(self) -> tuple[str, ...]:
        settings = cast(_DeltaSettings, self.settings)
        spec = self.catalog.spec(settings.table)
        key = settings.key or spec.primary_key
        missing = [c for c in key if c not in spec]
        if settings.mode == "merge" and (not key or missing):
            raise ConfigError(
                "sinks.delta.key",
                key,
                f"columns of {settings.table} ({', '.join(spec.schema.fieldNames())})",
            )
        return key

    def write_frame(self, df: DataFrame) -> int:
        """Write a DataFrame (batch) to the table; return its row count."""
        settings = cast(_DeltaSettings, self.settings)
        if settings.mode == "append":
            count = df.count()
            self.catalog.write(df, settings.table, mode="append")
            return count
        return upsert(self.catalog, df, settings.table, self._key())

    def to_frame(self, message: Message) -> DataFrame:
        """Turn a message's JSON records into rows typed as the table declares."""
        from pyspark.sql import functions as F

        settings = cast(_DeltaSettings, self.settings)
        schema = self.catalog.spec(settings.table).schema
        lines = [(json.dumps(r, default=str),) for r in message.records]
        raw = self.catalog.spark.createDataFrame(lines, "value string")
        return raw.select(F.from_json("value", schema).alias("r")).select("r.*")

    def send(self, message: Message) -> None:
        """Write the message's records to the table."""
        self.write_frame(self.to_frame(message))

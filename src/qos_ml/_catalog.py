"""The table catalog: every bronze, silver and gold table declared in one place.

A :class:`TableSpec` names a table by a logical key (``"silver.cdn_requests"``),
gives its Spark schema, partitioning and key columns. The built-in tables are
declared in :mod:`qos_ml._tables`; users may declare their own with
:func:`declare_table`. A :class:`TableCatalog` maps those keys to physical Delta
tables for one :class:`~qos_ml.QosConfig`: folders under the lakehouse root in
path mode, three-part names in metastore mode (Unity Catalog).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qos_ml._config import QosConfig
from qos_ml._errors import SchemaMismatchError, TableNotFoundError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.streaming import StreamingQuery
    from pyspark.sql.types import StructType

__all__ = ["LAYERS", "TableCatalog", "TableSpec", "declare_table", "declared_tables"]

logger = logging.getLogger(__name__)

LAYERS = ("bronze", "quarantine", "silver", "gold", "features", "ml", "alerts")


@dataclass(frozen=True)
class TableSpec:
    """Declaration of one Delta table.

    Parameters
    ----------
    key : str
        Logical name ``"<layer>.<name>"``, e.g. ``"silver.player_events"``.
    schema : pyspark.sql.types.StructType
        Columns and types every writer must provide.
    description : str
        One sentence a person reads in ``qos-ml tables``.
    partition_by : tuple of str, optional
        Partition columns.
    primary_key : tuple of str, optional
        Columns that identify a row; writers deduplicate on them.
    """

    key: str
    schema: StructType
    description: str
    partition_by: tuple[str, ...] = ()
    primary_key: tuple[str, ...] = ()
    properties: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        layer, _, name = self.key.partition(".")
        if layer not in LAYERS or not name.isidentifier():
            raise ValueError(
                f"table key {self.key!r} must be '<layer>.<name>' with layer in "
                f"{LAYERS} and name a Python identifier"
            )
        missing = [c for c in (*self.partition_by, *self.primary_key) if c not in self]
        if missing:
            raise ValueError(
                f"table {self.key}: columns {missing} are not in its schema"
            )

    def __contains__(self, column: object) -> bool:
        return column in self.schema.fieldNames()

    @property
    def layer(self) -> str:
        """Medallion layer: bronze, quarantine, silver, gold, features, ml, alerts."""
        return self.key.partition(".")[0]

    @property
    def name(self) -> str:
        """Table name within its layer."""
        return self.key.partition(".")[2]


_DECLARED: dict[str, TableSpec] = {}


def declare_table(spec: TableSpec, *, replace: bool = False) -> TableSpec:
    """Declare a table in the global catalog and return it.

    Parameters
    ----------
    spec : TableSpec
    replace : bool, default False
        Allow replacing an existing declaration with the same key.

    Raises
    ------
    ValueError
        When the key is declared already and ``replace`` is false.
    """
    if spec.key in _DECLARED and not replace and _DECLARED[spec.key] != spec:
        raise ValueError(f"table {spec.key!r} is declared already")
    _DECLARED[spec.key] = spec
    return spec


#: Modules whose import declares the built-in tables, in data-flow order. The
#: catalog loads them by name, like plugins, so the core imports no layer.
BUILTIN_TABLE_MODULES = (
    "qos_ml._tables",
    "qos_ml.ingest._tables",
    "qos_ml.qoe._tables",
    "qos_ml.features._tables",
    "qos_ml.serving._tables",
    "qos_ml.sinks._tables",
    "qos_ml.rules._tables",
)


def declared_tables() -> dict[str, TableSpec]:
    """Return every declared table by key (built-ins and the user's)."""
    import importlib

    for module in BUILTIN_TABLE_MODULES:
        importlib.import_module(module)
    return dict(sorted(_DECLARED.items()))


class TableCatalog:
    """Physical Delta tables behind the declared table keys, for one configuration.

    Parameters
    ----------
    config : QosConfig, optional
        Default: :meth:`QosConfig.load`.
    spark : SparkSession, optional
        Default: :func:`qos_ml.get_spark` on first use.
    tables : mapping of str to TableSpec, optional
        Declarations to use instead of :func:`declared_tables`.
    """

    def __init__(
        self,
        config: QosConfig | None = None,
        spark: SparkSession | None = None,
        tables: Mapping[str, TableSpec] | None = None,
    ) -> None:
        self.config = config or QosConfig.load()
        self._spark = spark
        self._tables = dict(tables) if tables is not None else None

    # -- lookup ---------------------------------------------------------------

    @property
    def spark(self) -> SparkSession:
        """The session used for every read and write (built on first use)."""
        if self._spark is None:
            from qos_ml._spark import get_spark

            self._spark = get_spark(self.config)
        return self._spark

    @property
    def tables(self) -> dict[str, TableSpec]:
        """Declared tables by key."""
        return self._tables if self._tables is not None else declared_tables()

    def spec(self, key: str) -> TableSpec:
        """Return the declaration of a table.

        Raises
        ------
        TableNotFoundError
            Listing the declared keys.
        """
        try:
            return self.tables[key]
        except KeyError:
            known = ", ".join(self.tables) or "none"
            raise TableNotFoundError(
                f"table {key!r} is not declared; declared tables: {known}"
            ) from None

    def physical_name(self, key: str) -> str:
        """Table name in storage: the override, else ``<layer>_<name>``."""
        spec = self.spec(key)
        return self.config.table_names.get(key, f"{spec.layer}_{spec.name}")

    def path(self, key: str) -> Path | None:
        """Folder of the table in path mode, ``None`` in metastore mode."""
        if self.config.storage_mode == "metastore":
            return None
        spec = self.spec(key)
        name = self.config.table_names.get(key, spec.name)
        return self.config.lakehouse_root / spec.layer / name

    def qualified_name(self, key: str) -> str:
        """Name usable in SQL: ``catalog.database.table`` or ``delta.`<path>```."""
        path = self.path(key)
        if path is None:
            schema = f"{self.config.catalog}.{self.config.database}"
            return f"{schema}.{self.physical_name(key)}"
        return f"delta.`{path}`"

    def checkpoint(self, query_name: str) -> str:
        """Checkpoint location of a named streaming query."""
        return str(self.config.checkpoints / query_name)

    # -- lifecycle ------------------------------------------------------------

    def exists(self, key: str) -> bool:
        """Tell whether the Delta table exists in storage."""
        from delta.tables import DeltaTable

        path = self.path(key)
        if path is None:
            return bool(self.spark.catalog.tableExists(self.qualified_name(key)))
        return (path / "_delta_log").is_dir() and DeltaTable.isDeltaTable(
            self.spark, str(path)
        )

    def create(self, key: str) -> None:
        """Create the table if it does not exist; check its columns if it does.

        Raises
        ------
        SchemaMismatchError
            When the existing table lacks declared columns or has other types.
        """
        spec = self.spec(key)
        if self.exists(key):
            self._check_existing(spec)
            return
        from delta.tables import DeltaTable

        builder = DeltaTable.createIfNotExists(self.spark).addColumns(spec.schema)
        path = self.path(key)
        builder = (
            builder.location(str(path))
            if path is not None
            else builder.tableName(self.qualified_name(key))
        )
        if spec.partition_by:
            builder = builder.partitionedBy(*spec.partition_by)
        for prop, value in spec.properties.items():
            builder = builder.property(prop, value)
        builder.comment(spec.description).execute()
        logger.info("Created Delta table %s at %s", key, self.qualified_name(key))

    def create_all(self, layers: Iterable[str] | None = None) -> list[str]:
        """Create every declared table (of the given layers); return their keys."""
        wanted = set(layers) if layers is not None else set(LAYERS)
        keys = [k for k, s in self.tables.items() if s.layer in wanted]
        for key in keys:
            self.create(key)
        return keys

    def _check_existing(self, spec: TableSpec) -> None:
        actual = {f.name: f.dataType for f in self.read(spec.key).schema}
        missing = [f.name for f in spec.schema if f.name not in actual]
        changed = [
            f"{f.name} ({actual[f.name].simpleString()} in storage, "
            f"{f.dataType.simpleString()} declared)"
            for f in spec.schema
            if f.name in actual and actual[f.name] != f.dataType
        ]
        if missing or changed:
            raise SchemaMismatchError(
                f"table {spec.key} at {self.qualified_name(spec.key)} does not match "
                f"its declaration: missing columns {missing}, changed types {changed}. "
                "Migrate it (ALTER TABLE ... ADD COLUMNS, or rewrite it with "
                "overwriteSchema) or point the configuration at a new location."
            )

    # -- reading and writing --------------------------------------------------

    def _reader(self) -> Any:
        return self.spark.read.format("delta")

    def _location(self, key: str) -> str:
        return str(self.path(key))

    def read(
        self, key: str, *, version: int | None = None, timestamp: str | None = None
    ) -> DataFrame:
        """Read a table, optionally as of a version or timestamp (time travel)."""
        reader = self._reader()
        if version is not None:
            reader = reader.option("versionAsOf", version)
        if timestamp is not None:
            reader = reader.option("timestampAsOf", timestamp)
        if self.path(key) is not None:
            return reader.load(self._location(key))
        if version is None and timestamp is None:
            return self.spark.table(self.qualified_name(key))
        return reader.table(self.qualified_name(key))

    def read_stream(self, key: str, **options: str) -> DataFrame:
        """Read a table as a stream of its appends."""
        reader = self.spark.readStream.format("delta").options(**options)
        if self.path(key) is not None:
            return reader.load(self._location(key))
        return reader.table(self.qualified_name(key))

    def conform(self, df: DataFrame, key: str) -> DataFrame:
        """Select and cast a DataFrame's columns to the declared schema.

        Raises
        ------
        SchemaMismatchError
            Naming the table and the declared columns the DataFrame lacks.
        """
        from pyspark.sql import functions as F

        spec = self.spec(key)
        missing = [f.name for f in spec.schema if f.name not in df.columns]
        if missing:
            raise SchemaMismatchError(
                f"cannot write to table {key}: the DataFrame lacks declared columns "
                f"{missing}; it has {df.columns}"
            )
        return df.select(
            *(F.col(f.name).cast(f.dataType).alias(f.name) for f in spec.schema)
        )

    def write(
        self,
        df: DataFrame,
        key: str,
        mode: str = "append",
        *,
        txn: tuple[str, int] | None = None,
    ) -> None:
        """Write a batch DataFrame to a declared table (created on demand).

        ``txn`` is a Delta idempotent-write (application id, version): a
        replayed streaming micro-batch with the same pair is skipped by Delta,
        not written twice.
        """
        self.create(key)
        started = time.perf_counter()
        writer = self.conform(df, key).write.format("delta").mode(mode)
        if txn is not None:
            writer = writer.option("txnAppId", txn[0]).option("txnVersion", txn[1])
        if self.path(key) is not None:
            writer.save(self._location(key))
        else:
            writer.saveAsTable(self.qualified_name(key))
        logger.info(
            "Wrote %s (mode %s) in %.1f s", key, mode, time.perf_counter() - started
        )

    def write_stream(
        self,
        df: DataFrame,
        key: str,
        query_name: str,
        *,
        trigger: Mapping[str, Any] | None = None,
    ) -> StreamingQuery:
        """Append a streaming DataFrame to a declared table with a checkpoint.

        Parameters
        ----------
        df : DataFrame
            A streaming DataFrame with the declared columns.
        key : str
            Declared table key.
        query_name : str
            Name of the query; its checkpoint is ``<checkpoints>/<query_name>``.
        trigger : mapping, optional
            Keyword arguments of ``DataStreamWriter.trigger`` (default:
            ``availableNow=True``).
        """
        self.create(key)
        writer = (
            self.conform(df, key)
            .writeStream.format("delta")
            .outputMode("append")
            .queryName(query_name)
            .option("checkpointLocation", self.checkpoint(query_name))
            .trigger(**(trigger or {"availableNow": True}))
        )
        if self.path(key) is not None:
            return writer.start(self._location(key))
        return writer.toTable(self.qualified_name(key))

    def version(self, key: str) -> int:
        """Return the latest Delta version of a table."""
        return int(self.history(key, limit=1).first()["version"])

    def history(self, key: str, limit: int | None = None) -> DataFrame:
        """Return the Delta history of a table, newest first."""
        table = self.delta_table(key)
        return table.history(limit) if limit else table.history()

    def delta_table(self, key: str) -> Any:
        """Return the :class:`delta.tables.DeltaTable` of a declared table."""
        from delta.tables import DeltaTable

        path = self.path(key)
        if path is not None:
            return DeltaTable.forPath(self.spark, str(path))
        return DeltaTable.forName(self.spark, self.qualified_name(key))

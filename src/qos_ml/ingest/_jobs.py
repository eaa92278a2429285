"""Ingestion jobs: files to bronze, quarantine and silver, in batch or streaming.

Both jobs run the same steps on a DataFrame of parsed lines: data lines that
parsed go to bronze, the others to the quarantine (so input lines = bronze +
quarantine, always); bronze rows are mapped to silver, anonymised, enriched,
bounded and merged into the silver table on its primary key, so replays add
nothing. Streaming runs these steps in ``foreachBatch``; the bronze and
quarantine appends carry Delta's idempotent-write options (application id and
batch id) so that a micro-batch retried after a crash is not written twice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from pyspark.sql import functions as F

from qos_ml._catalog import TableCatalog
from qos_ml.ingest._enrich import airports_frame
from qos_ml.ingest._kafka import is_kafka, read_kafka
from qos_ml.ingest._lines import read_files
from qos_ml.ingest._registry import Source, sources
from qos_ml.ingest._silver import finish_cdn_requests, finish_player_events

if TYPE_CHECKING:
    from pyspark.sql import DataFrame
    from pyspark.sql.streaming import StreamingQuery

__all__ = ["IngestReport", "ingest_batch", "ingest_parsed", "start_ingest_stream"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestReport:
    """Counts of one ingestion run (or one streaming micro-batch).

    Attributes
    ----------
    source : str
    lines_in : int
        Input rows: data lines (``bronze + quarantine``).
    bronze, quarantine : int
        Rows appended to the bronze table and to ``quarantine.ingest``.
    silver_new : int
        Rows inserted into the silver table.
    duplicates : int
        Silver candidates that were already there or repeated in the input.
    flagged : int
        Silver candidates with at least one quality flag (a value set to null).
    skipped_lines : int
        Header, comment and blank lines: not input rows.
    seconds : float
    """

    source: str
    lines_in: int
    bronze: int
    quarantine: int
    silver_new: int
    duplicates: int
    flagged: int
    skipped_lines: int
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        """The counts as a plain dict."""
        return asdict(self)


def _source(source: str | Source) -> Source:
    return sources.get(source) if isinstance(source, str) else source


def _append(
    catalog: TableCatalog,
    df: DataFrame,
    key: str,
    txn: tuple[str, int] | None,
) -> None:
    catalog.write(df, key, txn=txn)


def _merge(catalog: TableCatalog, df: DataFrame, key: str) -> int:
    """Insert rows whose primary key is new; return how many were inserted."""
    spec = catalog.spec(key)
    catalog.create(key)
    condition = " AND ".join(f"t.{c} = s.{c}" for c in spec.primary_key)
    before = catalog.version(key)
    (
        catalog.delta_table(key)
        .alias("t")
        .merge(df.alias("s"), condition)
        .whenNotMatchedInsertAll()
        .execute()
    )
    history = catalog.history(key, limit=1).first()
    if history is None or int(history["version"]) == before:
        return 0  # nothing was written
    metrics = history["operationMetrics"] or {}
    return int(metrics.get("numTargetRowsInserted", 0))


def ingest_parsed(
    parsed: DataFrame,
    source: str | Source,
    catalog: TableCatalog,
    *,
    txn: tuple[str, int] | None = None,
) -> IngestReport:
    """Write parsed lines (a batch DataFrame) to bronze, quarantine and silver.

    Parameters
    ----------
    parsed : DataFrame
        The output of ``source.parse`` (a batch DataFrame; in streaming, one
        micro-batch).
    source : str or Source
    catalog : TableCatalog
    txn : (str, int), optional
        Delta idempotent-write application id and version for the appends.

    Returns
    -------
    IngestReport
    """
    started = time.perf_counter()
    src = _source(source)
    spark = catalog.spark
    # Parsed lines and silver candidates are materialised once each
    # (localCheckpoint): every later step plans against the stored rows, not
    # against the parsing expressions again. Delta's MERGE re-plans its source
    # without using persisted data, and the optimizer's constraint propagation
    # over the wide parsing projections took minutes for real-time logs.
    parsed = parsed.withColumn("ingested_at", F.current_timestamp()).localCheckpoint()
    counts = {
        (r["kind"], r["ok"]): r["count"]
        for r in parsed.groupBy("kind", F.col("_reason").isNull().alias("ok"))
        .count()
        .collect()
    }
    data = parsed.where(F.col("kind") == "data")
    bronze = data.where(F.col("_reason").isNull())
    quarantine = data.where(F.col("_reason").isNotNull()).select(
        F.lit(src.name).alias("source"),
        "source_file",
        "line_number",
        "raw",
        F.col("_reason").alias("reason"),
        "ingested_at",
    )
    _append(catalog, bronze, src.bronze_table, txn)
    _append(catalog, quarantine, "quarantine.ingest", txn)

    key = catalog.config.pseudonymisation_key()
    intermediate = src.to_silver(bronze)
    if src.silver_table == "silver.cdn_requests":
        silver = finish_cdn_requests(
            intermediate, key=key, airports=airports_frame(spark)
        )
    else:
        silver = finish_player_events(intermediate, key=key)
    pk = list(catalog.spec(src.silver_table).primary_key)
    silver = silver.localCheckpoint()
    stats = silver.agg(
        F.count(F.lit(1)).alias("n"),
        # Flagged rows counted once however often they were replayed.
        F.count_distinct(F.when(F.size("quality_flags") > 0, F.struct(*pk))).alias(
            "flagged"
        ),
    ).first()
    candidates = int(stats["n"]) if stats else 0
    flagged = int(stats["flagged"]) if stats else 0
    inserted = (
        _merge(catalog, silver.dropDuplicates(pk), src.silver_table)
        if candidates
        else 0
    )

    bronze_n = counts.get(("data", True), 0)
    quarantine_n = counts.get(("data", False), 0)
    report = IngestReport(
        source=src.name,
        lines_in=bronze_n + quarantine_n,
        bronze=bronze_n,
        quarantine=quarantine_n,
        silver_new=inserted,
        duplicates=candidates - inserted,
        flagged=flagged,
        skipped_lines=sum(n for (kind, _), n in counts.items() if kind != "data"),
        seconds=round(time.perf_counter() - started, 3),
    )
    logger.info(
        "Ingested %s: %d lines in, %d bronze, %d quarantined, %d new in %s "
        "(%d duplicates, %d flagged), %d header/comment/blank lines, %.1f s",
        src.name,
        report.lines_in,
        report.bronze,
        report.quarantine,
        report.silver_new,
        src.silver_table,
        report.duplicates,
        report.flagged,
        report.skipped_lines,
        report.seconds,
    )
    return report


def ingest_batch(
    paths: str | Sequence[str],
    source: str | Source,
    catalog: TableCatalog | None = None,
    *,
    options: Mapping[str, str] | None = None,
) -> IngestReport:
    """Ingest files into bronze, quarantine and silver once.

    Parameters
    ----------
    paths : str or sequence of str
        Files, folders or globs (gzip read by extension), or a Kafka location
        ``kafka://<bootstrap servers>/<topics>`` (what the topics hold now).
    source : str or Source
        A registered source name (see ``sources.names()``) or an instance.
    catalog : TableCatalog, optional
        Default: ``TableCatalog()`` of the default configuration.
    options : mapping, optional
        Extra reader options (``pathGlobFilter``, ``recursiveFileLookup``; for
        Kafka ``startingOffsets``, ``endingOffsets``, ``kafka.*``).

    Returns
    -------
    IngestReport

    Raises
    ------
    PluginError
        When the source name is unknown (the message lists the known ones).
    """
    src = _source(source)
    catalog = catalog or TableCatalog()
    if is_kafka(paths):
        assert isinstance(paths, str)
        files = read_kafka(catalog.spark, paths, options=options)
    else:
        reader_options = {**src.reader_options(), **(options or {})}
        files = read_files(catalog.spark, paths, options=reader_options)
    return ingest_parsed(src.parse(files), src, catalog)


def start_ingest_stream(
    landing: str,
    source: str | Source,
    catalog: TableCatalog | None = None,
    *,
    trigger: Mapping[str, Any] | None = None,
    query_name: str | None = None,
    options: Mapping[str, str] | None = None,
    on_report: Callable[[IngestReport], None] | None = None,
) -> StreamingQuery:
    """Start a streaming ingestion of the files arriving in a landing folder.

    Parameters
    ----------
    landing : str
        Folder the source's files arrive in, or a Kafka location
        ``kafka://<bootstrap servers>/<topics>`` whose record values are read
        as the source's lines (see :func:`~qos_ml.ingest.read_kafka`).
    source : str or Source
    catalog : TableCatalog, optional
    trigger : mapping, optional
        Keyword arguments of ``DataStreamWriter.trigger``; default
        ``{"availableNow": True}``.
    query_name : str, optional
        Names the query and its checkpoint; default ``ingest_<source>``.
        Restarting with the same name resumes exactly where it stopped.
    options : mapping, optional
        File source options, e.g. ``{"maxFilesPerTrigger": "1"}``, or Kafka
        source options (``maxOffsetsPerTrigger``, ``kafka.*``).
    on_report : callable, optional
        Called with the :class:`IngestReport` of every micro-batch (in the
        driver, after the batch is written), e.g. to add up the counts.

    Returns
    -------
    pyspark.sql.streaming.StreamingQuery
    """
    src = _source(source)
    catalog = catalog or TableCatalog()
    name = query_name or f"ingest_{src.name}"
    if is_kafka(landing):
        files = read_kafka(catalog.spark, landing, streaming=True, options=options)
    else:
        reader_options = {**src.reader_options(), **(options or {})}
        files = read_files(
            catalog.spark, landing, streaming=True, options=reader_options
        )
    parsed = src.parse(files)

    def process(batch: DataFrame, batch_id: int) -> None:
        report = ingest_parsed(batch, src, catalog, txn=(name, batch_id))
        if on_report is not None:
            on_report(report)

    return (
        parsed.writeStream.foreachBatch(process)
        .queryName(name)
        .option("checkpointLocation", catalog.checkpoint(name))
        .trigger(**(trigger or {"availableNow": True}))
        .start()
    )

"""Delivering alerts to sinks exactly once per (alert, sink), and publishing updates.

A delivery is tried with the sink's retries; one that still fails is recorded
as ``failed`` in the delivery log with its attempts and last error, and is
tried again on the next call (the alert is never lost). A delivery recorded as
``delivered`` is skipped, so a restarted stream does not notify twice.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import TYPE_CHECKING, Any, Protocol

from qos_ml._errors import ConfigError
from qos_ml.sinks._base import DeliveryError, Message, Sink, jsonable, sinks

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from qos_ml._catalog import TableCatalog

__all__ = [
    "DeliveryLog",
    "DeliveryReport",
    "DeliveryResult",
    "DeltaDeliveryLog",
    "MemoryDeliveryLog",
    "deliver_alerts",
    "publish",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeliveryResult:
    """The outcome of delivering one alert to one sink."""

    alert_id: str
    sink: str
    status: str  # delivered | failed
    attempts: int
    last_error: str | None
    at: dt.datetime


@dataclass
class DeliveryReport:
    """What one :func:`deliver_alerts` call did."""

    results: list[DeliveryResult] = field(default_factory=list)
    skipped: int = 0

    @property
    def delivered(self) -> int:
        """Deliveries that succeeded in this call."""
        return sum(r.status == "delivered" for r in self.results)

    @property
    def failed(self) -> int:
        """Deliveries that failed after their retries in this call."""
        return sum(r.status == "failed" for r in self.results)


class DeliveryLog(Protocol):
    """Where delivery outcomes are kept (see :class:`DeltaDeliveryLog`)."""

    def delivered(self, alert_ids: Sequence[str]) -> set[tuple[str, str]]:
        """(alert id, sink) pairs among ``alert_ids`` delivered already."""

    def failed(self) -> set[tuple[str, str]]:
        """(alert id, sink) pairs whose last delivery failed."""

    def record(self, results: Sequence[DeliveryResult]) -> None:
        """Keep the outcomes of deliveries."""


class MemoryDeliveryLog:
    """A delivery log in memory, for one process (notebooks, tests)."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], dict[str, Any]] = {}

    def delivered(self, alert_ids: Sequence[str]) -> set[tuple[str, str]]:
        """(alert id, sink) pairs among ``alert_ids`` delivered already."""
        wanted = set(alert_ids)
        return {
            k
            for k, v in self.rows.items()
            if k[0] in wanted and v["status"] == "delivered"
        }

    def failed(self) -> set[tuple[str, str]]:
        """(alert id, sink) pairs whose last delivery failed."""
        return {k for k, v in self.rows.items() if v["status"] == "failed"}

    def record(self, results: Sequence[DeliveryResult]) -> None:
        """Keep outcomes; attempts add up over calls."""
        for r in results:
            row = self.rows.setdefault(
                (r.alert_id, r.sink), {"attempts": 0, "first_attempt_at": r.at}
            )
            row.update(
                status=r.status,
                attempts=row["attempts"] + r.attempts,
                last_error=r.last_error,
                last_attempt_at=r.at,
            )


class DeltaDeliveryLog:
    """The delivery log in the Delta table ``alerts.deliveries``.

    Parameters
    ----------
    catalog : TableCatalog
    """

    table = "alerts.deliveries"

    def __init__(self, catalog: TableCatalog) -> None:
        self.catalog = catalog
        self._ready = False

    def _ensure(self) -> None:
        if not self._ready:  # create or check the table once
            self.catalog.create(self.table)
            self._ready = True

    def _read(self) -> DataFrame:
        self._ensure()
        return self.catalog.read(self.table)

    def delivered(self, alert_ids: Sequence[str]) -> set[tuple[str, str]]:
        """(alert id, sink) pairs among ``alert_ids`` delivered already."""
        from pyspark.sql import functions as F

        if not alert_ids:
            return set()
        rows = (
            self._read()
            .where(F.col("alert_id").isin(list(alert_ids)))
            .where(F.col("status") == "delivered")
            .select("alert_id", "sink")
            .collect()
        )
        return {(r.alert_id, r.sink) for r in rows}

    def failed(self) -> set[tuple[str, str]]:
        """(alert id, sink) pairs whose last delivery failed."""
        from pyspark.sql import functions as F

        rows = self._read().where(F.col("status") == "failed").collect()
        return {(r.alert_id, r.sink) for r in rows}

    def record(self, results: Sequence[DeliveryResult]) -> None:
        """MERGE outcomes on (alert id, sink); attempts add up over calls."""
        from pyspark.sql import functions as F

        if not results:
            return
        self._ensure()
        schema = self.catalog.spec(self.table).schema
        rows = [
            (
                r.alert_id,
                r.sink,
                r.status,
                r.attempts,
                r.last_error,
                r.at,
                r.at,
                r.at if r.status == "delivered" else None,
            )
            for r in results
        ]
        source = self.catalog.spark.createDataFrame(rows, schema)
        (
            self.catalog.delta_table(self.table)
            .alias("t")
            .merge(source.alias("s"), "t.alert_id = s.alert_id AND t.sink = s.sink")
            .whenMatchedUpdate(
                set={
                    "status": "s.status",
                    "attempts": "t.attempts + s.attempts",
                    "last_error": "s.last_error",
                    "last_attempt_at": "s.last_attempt_at",
                    "delivered_at": F.coalesce("t.delivered_at", "s.delivered_at"),
                }
            )
            .whenNotMatchedInsertAll()
            .execute()
        )


def _sink_label(sink: Sink) -> str:
    # Two sinks of one type (two webhooks) are told apart by their label.
    return str(getattr(sink, "label", None) or sink.name)


def deliver_alerts(
    alerts: Iterable[Mapping[str, Any]],
    to: Sequence[Sink],
    *,
    log: DeliveryLog | None = None,
    sleep: Callable[[float], None] | None = None,
) -> DeliveryReport:
    """Deliver alerts to sinks, once per (alert id, sink), recording failures.

    Parameters
    ----------
    alerts : iterable of mapping
        Alert records (rows of ``alerts.alerts``), each with an ``alert_id``.
    to : sequence of Sink
        Notification sinks. A sink's ``label`` attribute, when set, names it in
        the log (two webhooks); otherwise its registry name does.
    log : DeliveryLog, optional
        Default: a fresh :class:`MemoryDeliveryLog` (no memory across calls).
    sleep : callable, optional
        Replaces :func:`time.sleep` between retries (tests).

    Returns
    -------
    DeliveryReport
        One result per attempted delivery, and how many were skipped because
        they had been delivered before. Never raises for a sink failure.
    """
    log = log if log is not None else MemoryDeliveryLog()
    records = [dict(a) for a in alerts]
    missing = [i for i, r in enumerate(records) if not r.get("alert_id")]
    if missing:
        raise ConfigError(
            "alert_id", None, f"a non-empty id on every alert (rows {missing})"
        )
    done = log.delivered([r["alert_id"] for r in records])
    report = DeliveryReport()
    started = time.perf_counter()

    # TODO(#8): an alert that escalates from warning to critical keeps its id
    # and is not notified again; a per-severity delivery key would do it.
    for sink in to:
        label = _sink_label(sink)
        for record in records:
            if (record["alert_id"], label) in done:
                report.skipped += 1
                continue
            try:
                attempts = sink.deliver(Message.alert(record), sleep=sleep)
                result = DeliveryResult(
                    record["alert_id"], label, "delivered", attempts, None, _now()
                )
            except DeliveryError as exc:
                # Recorded, not raised: the stream goes on and the next call retries.
                logger.warning(
                    "Delivery of alert %s to %s failed: %s",
                    record["alert_id"],
                    label,
                    exc,
                )
                attempts = exc.attempts
                result = DeliveryResult(
                    record["alert_id"],
                    label,
                    "failed",
                    attempts,
                    str(exc)[:2000],
                    _now(),
                )
            report.results.append(result)

    log.record(report.results)
    if report.results:
        logger.info(
            "Delivered %d alert notification(s), %d failed, %d skipped, in %.1f s",
            report.delivered,
            report.failed,
            report.skipped,
            time.perf_counter() - started,
        )
    return report


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _chunks(
    rows: Iterable[dict[str, Any]], size: int
) -> Iterator[list[dict[str, Any]]]:
    iterator = iter(rows)
    while chunk := list(islice(iterator, size)):
        yield chunk


def publish(
    data: DataFrame | Iterable[Mapping[str, Any]],
    sink: Sink | str,
    *,
    kind: str = "update",
    batch_size: int = 500,
    **settings: Any,
) -> int:
    """Push a DataFrame or rows to a sink: application updates, not alerts.

    The original solution pushed its real-time aggregates (active users,
    recent views, total views) to the web application; this is that path,
    for any sink. A sink that writes frames natively (the Delta sink) gets the
    DataFrame; the others receive messages of ``kind`` with at most
    ``batch_size`` rows each.

    Parameters
    ----------
    data : DataFrame or iterable of mapping
        A batch DataFrame (inside ``foreachBatch`` for a stream) or rows.
    sink : Sink or str
        A sink, or a registered name / dotted path built with ``settings``.
    kind : str, default "update"
        Update type the receiver dispatches on (``"active_users"``...).
    batch_size : int, default 500

    Returns
    -------
    int
        Rows published.

    Raises
    ------
    SinkError
        When a sink fails after its retries (publishing is not logged per row).
    """
    if batch_size < 1:
        raise ConfigError("batch_size", batch_size, "a whole number of at least 1")
    target = sinks.create(sink, **settings) if isinstance(sink, str) else sink
    is_frame = hasattr(data, "toLocalIterator") and hasattr(data, "schema")
    if is_frame and hasattr(target, "write_frame"):
        return int(target.write_frame(data))

    rows: Iterable[Any] = data.toLocalIterator() if is_frame else data  # type: ignore[union-attr]
    count = 0
    for chunk in _chunks((jsonable(r) for r in rows), batch_size):
        target.deliver(Message(kind=kind, records=tuple(chunk)))
        count += len(chunk)
    logger.info("Published %d %s row(s) to %s", count, kind, _sink_label(target))
    return count

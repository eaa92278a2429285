"""Evaluating rules natively in Spark: measurements, baselines, incidents, alerts.

One path for batch and streaming. :func:`measure` turns each rule's input into
measurement rows (one per window and scope, with ``fired``); baseline rules
read the scope's previous windows from a history (the state table in
streaming, the same input in batch). :func:`assign_incidents` groups firing
windows of a rule and scope into incidents: a firing within ``cooldown`` of the
incident's last window extends it (``last_seen``), a later one opens a new
alert. The alert id hashes rule, scope and incident start, so a replay writes
the same ids and the MERGE into ``alerts.alerts`` changes nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from qos_ml._errors import SchemaMismatchError
from qos_ml.rules._rule import Rule, compare, render_explanation
from qos_ml.sinks import (
    DeliveryLog,
    DeliveryReport,
    DeltaDeliveryLog,
    Sink,
    deliver_alerts,
    upsert,
)

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

    from qos_ml._catalog import TableCatalog

__all__ = [
    "MEASUREMENT_COLUMNS",
    "AlertEngine",
    "BatchReport",
    "assign_incidents",
    "measure",
]

logger = logging.getLogger(__name__)

#: Columns of :func:`measure`'s output, in order.
MEASUREMENT_COLUMNS = (
    "rule",
    "source",
    "target",
    "scope",
    "scope_key",
    "window_start",
    "window_end",
    "observed",
    "threshold",
    "baseline",
    "baseline_windows",
    "support",
    "model_version",
    "detail",
    "severity",
    "explanation",
    "cooldown_s",
    "fired",
)
_SEVERITY_RANK = {"info": 0, "warning": 1, "critical": 2}


def _scope(rule: Rule) -> tuple[Column, Column]:
    from pyspark.sql import functions as F

    if not rule.scope:
        empty = F.create_map().cast("map<string,string>")
        return empty, F.lit("global")
    pairs = [x for c in rule.scope for x in (F.lit(c), F.col(c).cast("string"))]
    key = F.concat_ws(
        ",",
        *(
            F.concat(F.lit(f"{c}="), F.coalesce(F.col(c).cast("string"), F.lit("null")))
            for c in rule.scope
        ),
    )
    return F.create_map(*pairs), key


def _with_baseline(
    rule: Rule, current: DataFrame, history: DataFrame | None
) -> DataFrame:
    """Add ``baseline`` (mean of the previous windows) and ``baseline_windows``."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    columns = [
        "scope",
        "scope_key",
        "window_start",
        "window_end",
        "observed",
        "support",
    ]
    current = current.withColumn("_history", F.lit(False))
    past = None
    if history is not None:
        # A window of this batch replaces its stored measurement (late data).
        past = (
            history.where(F.col("rule") == rule.name)
            .select(*columns)
            .join(
                current.select("scope_key", "window_start"),
                ["scope_key", "window_start"],
                "left_anti",
            )
            .withColumn("_history", F.lit(True))
        )
        for name in current.columns:
            if name not in past.columns:
                past = past.withColumn(
                    name, F.lit(None).cast(current.schema[name].dataType)
                )
        past = past.select(*current.columns)

    if rule.fill_missing is not None:
        # Known scopes absent from a window of this batch count as fill_missing
        # (no views is zero views); known = seen with a positive value lately.
        known = current if past is None else current.unionByName(past)
        scopes = known.where(F.col("observed") > 0).select("scope_key", "scope")
        scopes = scopes.dropDuplicates(["scope_key"])
        windows = current.select("window_start", "window_end").distinct()
        measured = current.drop("scope")
        current = (
            scopes.crossJoin(windows)
            .join(measured, ["scope_key", "window_start", "window_end"], "left")
            .withColumn("observed", F.coalesce("observed", F.lit(rule.fill_missing)))
            .withColumn("support", F.coalesce("support", F.lit(0).cast("long")))
            .withColumn("_history", F.lit(False))
            .select(*current.columns)
        )

    rows = current if past is None else current.unionByName(past)
    previous = (
        Window.partitionBy("scope_key")
        .orderBy("window_start")
        .rowsBetween(-int(rule.params["baseline_windows"]), -1)
    )
    return (
        rows.withColumn("baseline", F.avg("observed").over(previous))
        .withColumn("baseline_windows", F.count("observed").over(previous))
        .where(~F.col("_history"))
        .drop("_history")
    )


def measure(rule: Rule, df: DataFrame, history: DataFrame | None = None) -> DataFrame:
    """Measure one rule over its input: one row per window and scope.

    Parameters
    ----------
    rule : Rule
    df : DataFrame
        The rule's target input (batch).
    history : DataFrame, optional
        Earlier measurements (``alerts.rule_state`` rows) for baseline rules.

    Returns
    -------
    DataFrame
        :data:`MEASUREMENT_COLUMNS`; ``fired`` is the rule's condition with
        enough support (and baseline warm-up).
    """
    from pyspark.sql import functions as F

    measured = rule.measure(df)
    scope, scope_key = _scope(rule)
    measured = measured.withColumn("scope", scope).withColumn("scope_key", scope_key)
    measured = measured.drop(*rule.scope)
    for name in ("model_version", "detail"):
        if name not in measured.columns:
            measured = measured.withColumn(name, F.lit(None).cast("string"))
    if rule.uses_baseline:
        measured = _with_baseline(rule, measured, history)
    else:
        measured = measured.withColumn("baseline", F.lit(None).cast("double"))
        measured = measured.withColumn("baseline_windows", F.lit(None).cast("long"))

    measured = measured.withColumn("threshold", rule.threshold().cast("double"))
    severity: Column = F.lit(rule.params["severity"])
    critical = rule.critical_threshold()
    if critical is not None:
        is_critical = compare(F.col("observed"), rule.comparison, critical)
        severity = F.when(F.coalesce(is_critical, F.lit(False)), "critical").otherwise(
            severity
        )
    fired = F.coalesce(rule.condition() & rule.eligible(), F.lit(False))
    return (
        measured.withColumn("rule", F.lit(rule.name))
        .withColumn("source", F.lit(rule.source))
        .withColumn("target", F.lit(rule.target))
        .withColumn("severity", severity)
        .withColumn("cooldown_s", F.lit(rule.cooldown_seconds).cast("long"))
        .withColumn("fired", fired)
        .withColumn("support", F.col("support").cast("long"))
        .withColumn("baseline_windows", F.col("baseline_windows").cast("long"))
        .withColumn("explanation", render_explanation(rule.explanation))
        .select(*MEASUREMENT_COLUMNS)
    )


def assign_incidents(
    measurements: DataFrame, prior_alerts: DataFrame | None = None
) -> DataFrame:
    """Group firing windows into incidents and build one alert row per incident.

    Parameters
    ----------
    measurements : DataFrame
        Output of :func:`measure` (only ``fired`` rows are used).
    prior_alerts : DataFrame, optional
        Recent rows of ``alerts.alerts``; a firing within its rule's cooldown
        of one of them extends it instead of opening a new alert.

    Returns
    -------
    DataFrame
        Rows of ``alerts.alerts`` for every incident that has a new firing.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    carried = [
        "observed",
        "threshold",
        "baseline",
        "support",
        "model_version",
        "explanation",
        "window_start",
        "window_end",
    ]
    firings = measurements.where("fired").select(
        "rule",
        "source",
        "target",
        "scope",
        "scope_key",
        "severity",
        "cooldown_s",
        *carried,
        F.col("window_start").alias("_first"),
        F.col("window_end").alias("_last"),
        F.lit(1).cast("long").alias("_n"),
        F.lit(False).alias("_prior"),
        F.lit(None).cast("string").alias("_alert_id"),
        F.lit(None).cast("timestamp").alias("_created"),
    )
    rows = firings
    if prior_alerts is not None:
        cooldowns = firings.select("rule", "cooldown_s").distinct()
        prior = prior_alerts.join(cooldowns, "rule").select(
            "rule",
            "source",
            "target",
            "scope",
            "scope_key",
            "severity",
            "cooldown_s",
            *carried,
            F.col("first_seen").alias("_first"),
            F.col("last_seen").alias("_last"),
            F.coalesce("windows_fired", F.lit(0)).cast("long").alias("_n"),
            F.lit(True).alias("_prior"),
            F.col("alert_id").alias("_alert_id"),
            F.col("created_at").alias("_created"),
        )
        rows = firings.unionByName(prior)

    # A new incident starts when a window begins after the previous ones of
    # the same rule and scope ended plus the cooldown.
    ordered = Window.partitionBy("rule", "scope_key").orderBy(
        "_first", F.desc("_prior")
    )
    previous_end = F.max("_last").over(
        ordered.rowsBetween(Window.unboundedPreceding, -1)
    )
    gap = F.col("_first").cast("long") - previous_end.cast("long")
    new_incident = previous_end.isNull() | (gap > F.col("cooldown_s"))
    rows = rows.withColumn("_new", new_incident.cast("int"))
    rows = rows.withColumn(
        "_incident",
        F.sum("_new").over(ordered.rowsBetween(Window.unboundedPreceding, 0)),
    )

    rank = F.max(
        F.when(F.col("severity") == "critical", 2)
        .when(F.col("severity") == "warning", 1)
        .otherwise(0)
    )
    prior_last = F.max(F.when(F.col("_prior"), F.col("_last")))
    latest = F.max_by(F.struct(*carried), "_last")
    grouped = rows.groupBy("rule", "scope_key", "_incident").agg(
        F.first("source").alias("source"),
        F.first("target").alias("target"),
        F.first("scope").alias("scope"),
        latest.alias("_latest"),
        F.min("_first").alias("first_seen"),
        F.max("_last").alias("last_seen"),
        rank.alias("_rank"),
        F.max((~F.col("_prior")).cast("int")).alias("_has_new"),
        F.min("_alert_id").alias("_alert_id"),
        F.min("_created").alias("_created"),
        F.coalesce(F.sum(F.when(F.col("_prior"), F.col("_n"))), F.lit(0)).alias("_n0"),
        F.max("_prior").alias("_any_prior"),
        prior_last.alias("_prior_last"),
        F.collect_list(F.when(~F.col("_prior"), F.col("_last"))).alias("_new_ends"),
    )
    # Windows this evaluation adds to the incident (a replay adds none).
    added = F.size(
        F.filter(
            F.array_distinct("_new_ends"),
            lambda end: F.col("_prior_last").isNull() | (end > F.col("_prior_last")),
        )
    )
    computed_id = F.substring(
        F.sha2(
            F.concat_ws(
                "|",
                "rule",
                "scope_key",
                F.date_format("first_seen", "yyyy-MM-dd'T'HH:mm:ss"),
            ),
            256,
        ),
        1,
        32,
    )
    now = F.current_timestamp()
    return grouped.where(F.col("_has_new") == 1).select(
        F.coalesce("_alert_id", computed_id).alias("alert_id"),
        "rule",
        "source",
        F.when(F.col("_rank") == 2, "critical")
        .when(F.col("_rank") == 1, "warning")
        .otherwise("info")
        .alias("severity"),
        "target",
        "scope",
        "scope_key",
        F.col("_latest.window_start").alias("window_start"),
        F.col("_latest.window_end").alias("window_end"),
        F.col("_latest.observed").alias("observed"),
        F.col("_latest.threshold").alias("threshold"),
        F.col("_latest.baseline").alias("baseline"),
        F.col("_latest.support").alias("support"),
        F.col("_latest.model_version").alias("model_version"),
        F.col("_latest.explanation").alias("explanation"),
        "first_seen",
        "last_seen",
        F.lit("open").alias("status"),
        (F.col("_n0") + added).cast("long").alias("windows_fired"),
        F.coalesce("_created", now).alias("created_at"),
        now.alias("updated_at"),
    )


@dataclass
class BatchReport:
    """What one :meth:`AlertEngine.process` call did."""

    batch_id: int | None
    measurements: int = 0
    alerts: list[dict[str, Any]] = field(default_factory=list)
    resolved: int = 0
    delivery: DeliveryReport | None = None
    seconds: float = 0.0


class AlertEngine:
    """Evaluate a rule set on batches of input and keep alerts, state and deliveries.

    Parameters
    ----------
    rules : sequence of Rule
    catalog : TableCatalog
        Where ``alerts.alerts``, ``alerts.rule_state`` and
        ``alerts.deliveries`` live.
    sinks : sequence of Sink, optional
        Notification sinks; the alerts table is always written.
    delivery_log : DeliveryLog, optional
        Default: :class:`~qos_ml.sinks.DeltaDeliveryLog` on the catalog.
    """

    alerts_table = "alerts.alerts"
    state_table = "alerts.rule_state"

    def __init__(
        self,
        rules: Sequence[Rule],
        catalog: TableCatalog,
        *,
        sinks: Sequence[Sink] = (),
        delivery_log: DeliveryLog | None = None,
    ) -> None:
        names = [r.name for r in rules]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise SchemaMismatchError(f"rule names repeat in the rule set: {repeated}")
        self.rules = list(rules)
        self.catalog = catalog
        self.sinks = list(sinks)
        self.delivery_log = delivery_log or DeltaDeliveryLog(catalog)
        self._ready: set[str] = set()

    def _ensure(self, key: str) -> None:
        # Create (or check) each table once per engine, not once per batch.
        if key not in self._ready:
            self.catalog.create(key)
            self._ready.add(key)

    def rules_for(self, targets: Sequence[str]) -> list[Rule]:
        """The rules whose target is among ``targets``."""
        return [r for r in self.rules if r.target in targets]

    def _history(self, rules: Sequence[Rule]) -> DataFrame | None:
        from pyspark.sql import functions as F

        names = [r.name for r in rules if r.uses_baseline]
        if not names:
            return None
        self._ensure(self.state_table)
        return self.catalog.read(self.state_table).where(F.col("rule").isin(names))

    def evaluate(
        self, inputs: Mapping[str, DataFrame], *, with_state: bool = True
    ) -> DataFrame | None:
        """Measure every rule whose target is in ``inputs``; ``None`` if none is.

        Raises
        ------
        SchemaMismatchError
            When an input lacks a column a rule needs (named with the rule).
        """
        chosen = self.rules_for(list(inputs))
        history = self._history(chosen) if with_state else None
        frames = [measure(r, inputs[r.target], history) for r in chosen]
        if not frames:
            return None
        result = frames[0]
        for frame in frames[1:]:
            result = result.unionByName(frame)
        return result

    def _prior_alerts(self, earliest: Any, rules: Sequence[Rule]) -> DataFrame:
        from pyspark.sql import functions as F

        self._ensure(self.alerts_table)
        longest = max(r.cooldown_seconds for r in rules)
        since = F.lit(earliest).cast("timestamp") - F.expr(
            f"INTERVAL {longest} SECONDS"
        )
        return (
            self.catalog.read(self.alerts_table)
            .where(F.col("rule").isin([r.name for r in rules]))
            .where(F.col("last_seen") >= since)
        )

    def _save_state(
        self,
        measurements: DataFrame,
        rules: Sequence[Rule],
        watermarks: Mapping[str, Any],
    ) -> None:
        from pyspark.sql import functions as F

        baseline_rules = [r for r in rules if r.uses_baseline]
        if not baseline_rules:
            return
        rows = measurements.where(
            F.col("rule").isin([r.name for r in baseline_rules])
        ).select(
            "rule",
            "scope_key",
            "scope",
            "window_start",
            "window_end",
            "observed",
            "support",
            F.current_timestamp().alias("updated_at"),
        )
        self._ensure(self.state_table)
        key = ("rule", "scope_key", "window_start")
        upsert(self.catalog, rows, self.state_table, key, create=False)
        # Keep what the baselines need: a few windows more than they average.
        table = self.catalog.delta_table(self.state_table)
        for rule in baseline_rules:
            watermark = watermarks.get(rule.name)
            if watermark is None:
                continue
            keep = (int(rule.params["baseline_windows"]) + 2) * rule.window_seconds
            table.delete(
                (F.col("rule") == rule.name)
                & (
                    F.col("window_start")
                    < F.lit(watermark).cast("timestamp")
                    - F.expr(f"INTERVAL {keep} SECONDS")
                )
            )

    def _resolve(self, watermarks: Mapping[str, Any], rules: Sequence[Rule]) -> int:
        """Close open alerts whose last window ended over a cooldown ago."""
        from pyspark.sql import functions as F

        cooldowns = {r.name: r.cooldown_seconds for r in rules}
        stale: Column | None = None
        for name, watermark in watermarks.items():
            if watermark is None:
                continue
            condition = (F.col("rule") == name) & (
                F.col("last_seen")
                < F.lit(watermark).cast("timestamp")
                - F.expr(f"INTERVAL {cooldowns[name]} SECONDS")
            )
            stale = condition if stale is None else stale | condition
        if stale is None:
            return 0
        table = self.catalog.delta_table(self.alerts_table)
        before = table.toDF().where((F.col("status") == "open") & stale).count()
        if before:
            table.update(
                (F.col("status") == "open") & stale,
                {"status": F.lit("resolved"), "updated_at": F.current_timestamp()},
            )
        return before

    def _pending(self) -> list[dict[str, Any]]:
        """Alerts whose delivery failed before: tried again now."""
        from pyspark.sql import functions as F

        failed = {alert_id for alert_id, _ in self.delivery_log.failed()}
        if not failed or not self.sinks:
            return []
        rows = (
            self.catalog.read(self.alerts_table)
            .where(F.col("alert_id").isin(sorted(failed)))
            .collect()
        )
        return [r.asDict(recursive=True) for r in rows]

    def process(
        self, inputs: Mapping[str, DataFrame], batch_id: int | None = None
    ) -> BatchReport:
        """Evaluate one batch: merge alerts, save state, resolve, deliver.

        Parameters
        ----------
        inputs : mapping of target to DataFrame
            Batch DataFrames (a micro-batch inside ``foreachBatch``).
        batch_id : int, optional
            For the log and the report.

        Returns
        -------
        BatchReport
        """
        from pyspark.sql import functions as F

        started = time.perf_counter()
        report = BatchReport(batch_id)
        chosen = self.rules_for(list(inputs))
        measurements = self.evaluate(inputs)
        if measurements is None:
            return report
        measurements = measurements.persist()
        try:
            summary = (
                measurements.groupBy("rule")
                .agg(
                    F.count("*").alias("n"),
                    F.min("window_start").alias("earliest"),
                    F.max("window_end").alias("watermark"),
                )
                .collect()
            )
            report.measurements = sum(r.n for r in summary)
            if not report.measurements:
                return report
            earliest = min(r.earliest for r in summary)
            prior = self._prior_alerts(earliest, chosen)
            alerts = assign_incidents(measurements, prior).collect()
            report.alerts = [r.asDict(recursive=True) for r in alerts]
            if alerts:
                schema = self.catalog.spec(self.alerts_table).schema
                frame = self.catalog.spark.createDataFrame(alerts, schema)
                upsert(
                    self.catalog, frame, self.alerts_table, ("alert_id",), create=False
                )
            watermarks = {r.rule: r.watermark for r in summary}
            self._save_state(measurements, chosen, watermarks)
            report.resolved = self._resolve(watermarks, chosen)
        finally:
            measurements.unpersist()

        if self.sinks:
            known = {a["alert_id"] for a in report.alerts}
            pending = [a for a in self._pending() if a["alert_id"] not in known]
            report.delivery = deliver_alerts(
                report.alerts + pending, self.sinks, log=self.delivery_log
            )
        report.seconds = time.perf_counter() - started
        logger.info(
            "Alert batch %s: %d measurement(s), %d alert(s) written, %d resolved in "
            "%.1f s",
            batch_id,
            report.measurements,
            len(report.alerts),
            report.resolved,
            report.seconds,
        )
        return report

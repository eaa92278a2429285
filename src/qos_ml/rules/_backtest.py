"""Backtesting a rule set over historical tables, against known incidents.

The rules run in batch over the whole history (baselines from the previous
windows of the same data), incidents are formed exactly as in streaming, and
when a ground truth of incidents is given each rule gets its precision (alerts
that overlap an incident of their scope), recall (incidents that got an alert)
and time to detect (end of the first firing window minus incident start).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from qos_ml._errors import SchemaMismatchError
from qos_ml.rules._engine import assign_incidents, measure
from qos_ml.rules._rule import Rule

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

__all__ = ["INCIDENT_COLUMNS", "BacktestReport", "backtest"]

#: Columns of a ground truth of incidents. ``dimension`` / ``dimension_value``
#: name the scope (``edge_location`` / ``FRA53``); null matches any scope.
INCIDENT_COLUMNS = ("incident_id", "start", "end", "dimension", "dimension_value")


@dataclass
class BacktestReport:
    """What a rule set would have fired, and how well it matched incidents.

    Attributes
    ----------
    alerts : DataFrame
        Rows shaped as ``alerts.alerts`` (nothing is written).
    measurements : DataFrame
        Every window and scope of every rule, with ``fired``.
    per_rule : list of dict
        ``rule``, ``alerts``, and with a ground truth ``true_alerts``,
        ``precision``, ``incidents``, ``detected``, ``recall``,
        ``median_time_to_detect_s``, ``max_time_to_detect_s``.
    """

    alerts: DataFrame
    measurements: DataFrame
    per_rule: list[dict[str, Any]] = field(default_factory=list)

    def summary(self, rule: str) -> dict[str, Any]:
        """The figures of one rule."""
        for row in self.per_rule:
            if row["rule"] == rule:
                return row
        raise KeyError(rule)


def _scope_matches(scope: Column, dimension: Column, value: Column) -> Column:
    from pyspark.sql import functions as F

    by_pair = (scope["dimension"] == dimension) & (scope["dimension_value"] == value)
    by_column = F.element_at(scope, dimension) == value
    return dimension.isNull() | F.coalesce(by_pair | by_column, by_pair, by_column)


def backtest(
    rules: Sequence[Rule],
    inputs: Mapping[str, DataFrame],
    incidents: DataFrame | None = None,
) -> BacktestReport:
    """Run rules over historical inputs and score them against incidents.

    Parameters
    ----------
    rules : sequence of Rule
    inputs : mapping of target to DataFrame
        Historical inputs by target (``{"aggregate": gold_qoe, ...}``).
    incidents : DataFrame, optional
        Ground truth with :data:`INCIDENT_COLUMNS` (the simulator's incidents).

    Returns
    -------
    BacktestReport

    Raises
    ------
    SchemaMismatchError
        When ``incidents`` lacks a column, or no rule has an input.
    """
    from pyspark.sql import functions as F

    chosen = [r for r in rules if r.target in inputs]
    if not chosen:
        raise SchemaMismatchError(
            f"no rule looks at the given inputs {sorted(inputs)}; the rules look at "
            f"{sorted({r.target for r in rules})}"
        )
    frames = [measure(r, inputs[r.target]) for r in chosen]
    measurements = frames[0]
    for frame in frames[1:]:
        measurements = measurements.unionByName(frame)
    measurements = measurements.cache()
    alerts = assign_incidents(measurements).cache()
    counts = {
        r.rule: r.n
        for r in alerts.groupBy("rule")
        .count()
        .withColumnRenamed("count", "n")
        .collect()
    }
    per_rule: list[dict[str, Any]] = [
        {"rule": r.name, "alerts": int(counts.get(r.name, 0))} for r in chosen
    ]
    if incidents is None:
        return BacktestReport(alerts, measurements, per_rule)

    missing = [c for c in INCIDENT_COLUMNS if c not in incidents.columns]
    if missing:
        raise SchemaMismatchError(
            f"the incidents lack columns {missing}; expected {list(INCIDENT_COLUMNS)}, "
            f"got {incidents.columns}"
        )
    truth = incidents.select(*INCIDENT_COLUMNS).cache()

    # Precision: an alert is true when it overlaps an incident of its scope.
    overlap = alerts.alias("a").join(
        truth.alias("i"),
        (F.col("a.first_seen") < F.col("i.end"))
        & (F.col("a.last_seen") > F.col("i.start"))
        & _scope_matches(
            F.col("a.scope"), F.col("i.dimension"), F.col("i.dimension_value")
        ),
    )
    true_alerts = {
        r.rule: r.n
        for r in overlap.groupBy("a.rule")
        .agg(F.countDistinct("a.alert_id").alias("n"))
        .collect()
    }

    # Recall and time to detect: the first firing window that overlaps it.
    fired = measurements.where("fired").alias("m")
    hits = fired.join(
        truth.alias("i"),
        (F.col("m.window_start") < F.col("i.end"))
        & (F.col("m.window_end") > F.col("i.start"))
        & _scope_matches(
            F.col("m.scope"), F.col("i.dimension"), F.col("i.dimension_value")
        ),
    )
    detection = hits.groupBy("m.rule", "i.incident_id").agg(
        F.greatest(
            F.min(F.col("m.window_end").cast("long"))
            - F.min(F.col("i.start").cast("long")),
            F.lit(0),
        ).alias("ttd")
    )
    figures = {
        r.rule: r
        for r in detection.groupBy("rule")
        .agg(
            F.count("*").alias("detected"),
            F.percentile_approx("ttd", 0.5).alias("median"),
            F.max("ttd").alias("max"),
        )
        .collect()
    }
    total = truth.count()
    for row in per_rule:
        name = row["rule"]
        found = figures.get(name)
        row["true_alerts"] = int(true_alerts.get(name, 0))
        row["precision"] = row["true_alerts"] / row["alerts"] if row["alerts"] else None
        row["incidents"] = total
        row["detected"] = int(found.detected) if found else 0
        row["recall"] = row["detected"] / total if total else None
        row["median_time_to_detect_s"] = float(found["median"]) if found else None
        row["max_time_to_detect_s"] = float(found["max"]) if found else None
    return BacktestReport(alerts, measurements, per_rule)

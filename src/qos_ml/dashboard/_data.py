"""The dashboard's queries: small aggregates of the gold and alert tables.

Every query aggregates in Spark and brings back a few hundred rows at most with
``toPandas()``. A table that does not exist yet gives an empty frame (the page
shows an empty state for it), never an error. Only aggregated or pseudonymised
columns leave Spark: viewers are counted, never listed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from qos_ml._catalog import TableCatalog

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

__all__ = [
    "ALERT_COLUMNS",
    "DASHBOARD_TABLES",
    "DIMENSIONS",
    "DashboardData",
    "collect_dashboard_data",
    "table_fingerprint",
]

logger = logging.getLogger(__name__)

#: Tables the dashboard reads; a change in any of them triggers a rebuild.
DASHBOARD_TABLES = (
    "gold.views",
    "gold.active_users",
    "gold.qoe_by_dimension_minute",
    "gold.total_views",
    "alerts.alerts",
)

#: View dimensions the QoE breakdowns are shown for, with their labels.
DIMENSIONS = {
    "edge_location": "Edge location",
    "viewer_asn": "ASN",
    "viewer_country": "Country",
    "device_type": "Device",
}

#: Alert columns shown on the page (the scope map is rendered separately).
ALERT_COLUMNS = (
    "alert_id",
    "rule",
    "source",
    "severity",
    "target",
    "scope_key",
    "window_start",
    "window_end",
    "observed",
    "threshold",
    "baseline",
    "support",
    "model_version",
    "explanation",
    "first_seen",
    "last_seen",
    "status",
    "windows_fired",
)

#: Parts of scope keys that could identify a person; such scope values are
#: masked on the page even though the alert table holds them pseudonymised.
_PERSONAL_SCOPE_PARTS = ("user", "ip", "session", "view_id", "client")

#: Sanity bounds of the distributions: start-up times beyond 30 s are
#: counted as outliers (the original dashboard averaged epoch timestamps).
STARTUP_BIN_S = 0.25
STARTUP_MAX_S = 30.0
REBUFFER_BIN = 0.02

#: Rows kept per dimension (the busiest values) and top error messages.
TOP_VALUES = 15
TOP_ERRORS = 15
MAX_ALERTS = 50


@dataclass
class DashboardData:
    """The aggregates one dashboard page shows.

    Attributes
    ----------
    generated_at : pandas.Timestamp
        When the data were read (UTC).
    bucket : str
        Width of the time buckets of the time series (``"1 minute"`` ...).
    traffic : DataFrame
        ``bucket_start, views, viewers, attempts`` per time bucket.
    active_users : DataFrame
        ``window_start, active_users`` of the real-time aggregate.
    qoe_by_dimension : DataFrame
        ``dimension, value, views, startup_p95_s, rebuffering_ratio,
        video_start_failure_rate, playback_failure_rate,
        exit_before_video_start_rate``, the busiest values of each dimension.
    startup_hist, rebuffer_hist : DataFrame
        ``bin_start, bin_end, views`` histograms; ``startup_outliers`` counts
        start-up times beyond :data:`STARTUP_MAX_S`.
    errors : DataFrame
        ``error, views, last_seen`` of the most frequent failure messages.
    cache : DataFrame
        ``bucket_start, cdn, cdn_requests, cache_hit_ratio`` per time bucket.
    alerts : DataFrame
        Open alerts, most severe and most recent first.
    alert_counts : dict
        Number of alerts by status.
    models : list of dict
        Registered models, see :func:`qos_ml.dashboard.model_summaries`.
    totals : dict
        Headline figures: views, viewers, failure rate, ...
    missing_tables : list of str
        Input tables that do not exist yet.
    """

    generated_at: pd.Timestamp
    bucket: str = "1 minute"
    traffic: pd.DataFrame = field(default_factory=pd.DataFrame)
    active_users: pd.DataFrame = field(default_factory=pd.DataFrame)
    qoe_by_dimension: pd.DataFrame = field(default_factory=pd.DataFrame)
    startup_hist: pd.DataFrame = field(default_factory=pd.DataFrame)
    startup_outliers: int = 0
    rebuffer_hist: pd.DataFrame = field(default_factory=pd.DataFrame)
    errors: pd.DataFrame = field(default_factory=pd.DataFrame)
    cache: pd.DataFrame = field(default_factory=pd.DataFrame)
    alerts: pd.DataFrame = field(default_factory=pd.DataFrame)
    alert_counts: dict[str, int] = field(default_factory=dict)
    models: list[dict[str, Any]] = field(default_factory=list)
    totals: dict[str, float] = field(default_factory=dict)
    missing_tables: list[str] = field(default_factory=list)

    def digest(self) -> str:
        """Return a short hash of the content (not of ``generated_at``).

        Two collections of unchanged tables have the same digest, so a page
        only reloads when what it shows changes.
        """
        parts: list[str] = [self.bucket, json.dumps(self.totals, sort_keys=True)]
        for frame in (
            self.traffic,
            self.active_users,
            self.qoe_by_dimension,
            self.startup_hist,
            self.rebuffer_hist,
            self.errors,
            self.cache,
            self.alerts,
        ):
            parts.append(frame.to_json(date_format="iso", default_handler=str))
        parts.append(json.dumps(self.models, sort_keys=True, default=str))
        parts.append(json.dumps(self.missing_tables))
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def table_fingerprint(catalog: TableCatalog, keys: tuple[str, ...]) -> str:
    """Return a string that changes whenever one of the tables gets a new version.

    In path mode this lists the Delta logs (no Spark job); in metastore mode
    it asks Delta for each table's latest version.
    """
    parts = []
    for key in keys:
        path = catalog.path(key)
        if path is not None:
            log = path / "_delta_log"
            commits = sorted(p.name for p in log.glob("*.json")) if log.is_dir() else []
            parts.append(f"{key}={commits[-1] if commits else '-'}")
        elif catalog.exists(key):
            parts.append(f"{key}={catalog.version(key)}")
        else:
            parts.append(f"{key}=-")
    return ";".join(parts)


def _bucket_for(span_s: float) -> tuple[str, int]:
    """Choose a time bucket giving at most a few hundred points over ``span_s``."""
    for label, seconds in (
        ("1 minute", 60),
        ("5 minutes", 300),
        ("15 minutes", 900),
        ("1 hour", 3600),
        ("1 day", 86400),
    ):
        if span_s / seconds <= 400:
            return label, seconds
    return "1 week", 7 * 86400


def _bucket_col(column: str, seconds: int) -> Column:
    from pyspark.sql import functions as F

    epoch = F.unix_timestamp(F.col(column))
    return F.timestamp_seconds(F.floor(epoch / seconds) * seconds)


def _ratio(numerator: Column, denominator: Column) -> Column:
    from pyspark.sql import functions as F

    return F.when(denominator > 0, numerator / denominator)


def _rate(flag: str) -> Column:
    """Share of views with a boolean flag set (nulls count as not set)."""
    from pyspark.sql import functions as F

    return F.avg(F.coalesce(F.col(flag), F.lit(False)).cast("double"))


def _read(catalog: TableCatalog, key: str, missing: list[str]) -> DataFrame | None:
    if not catalog.exists(key):
        missing.append(key)
        return None
    return catalog.read(key)


def collect_dashboard_data(
    catalog: TableCatalog, *, include_models: bool = True
) -> DashboardData:
    """Read the dashboard's aggregates from the gold and alert tables.

    Parameters
    ----------
    catalog : TableCatalog
    include_models : bool, default True
        Also read the registered models from MLflow.

    Returns
    -------
    DashboardData
    """
    started = time.perf_counter()
    data = DashboardData(generated_at=pd.Timestamp.now(tz="UTC"))
    missing = data.missing_tables

    views = _read(catalog, "gold.views", missing)
    if views is not None:
        _collect_views(views, data)
    active = _read(catalog, "gold.active_users", missing)
    if active is not None:
        data.active_users = (
            active.select("window_start", "active_users")
            .orderBy("window_start")
            .limit(2000)
            .toPandas()
        )
    alerts = _read(catalog, "alerts.alerts", missing)
    if alerts is not None:
        _collect_alerts(alerts, data)
    if include_models:
        from qos_ml.dashboard._models import model_summaries

        data.models = model_summaries(catalog.config)

    logger.info(
        "Read the dashboard data in %.1f s (%d views, %d open alerts, "
        "%d missing tables)",
        time.perf_counter() - started,
        int(data.totals.get("views", 0)),
        len(data.alerts),
        len(missing),
    )
    return data


def _collect_views(views: DataFrame, data: DashboardData) -> None:
    from pyspark.sql import functions as F

    # TODO(#9): eight small Spark jobs scan gold.views (about 40 s per build on
    # the loaded test machine); read the per-minute breakdowns from
    # gold.qoe_by_dimension_minute or cache the views for one build.

    # One pass for the headline figures and the time span (bucket choice).
    head = views.agg(
        F.count(F.lit(1)).alias("views"),
        F.approx_count_distinct("user_id_hash").alias("viewers"),
        F.min("view_start").alias("first"),
        F.max("view_start").alias("last"),
        _rate("video_start_failure").alias("video_start_failure_rate"),
        _rate("playback_failure").alias("playback_failure_rate"),
        F.percentile_approx("video_startup_time_s", 0.95).alias("startup_p95_s"),
        _ratio(
            F.sum("rebuffer_duration_s"),
            F.sum("play_time_s") + F.sum("rebuffer_duration_s"),
        ).alias("rebuffering_ratio"),
        _ratio(F.sum("cdn_cache_hits"), F.sum("cdn_requests")).alias("cache_hit_ratio"),
    ).first()
    if head is None or not head["views"]:
        data.totals = {"views": 0.0}
        return
    data.totals = {
        k: float(head[k])
        for k in (
            "views",
            "viewers",
            "video_start_failure_rate",
            "playback_failure_rate",
            "startup_p95_s",
            "rebuffering_ratio",
            "cache_hit_ratio",
        )
        if head[k] is not None
    }
    span = (head["last"] - head["first"]).total_seconds()
    data.bucket, seconds = _bucket_for(span)

    bucketed = views.withColumn("bucket_start", _bucket_col("view_start", seconds))
    data.traffic = (
        bucketed.groupBy("bucket_start")
        .agg(
            F.count(F.lit(1)).alias("views"),
            F.approx_count_distinct("user_id_hash").alias("viewers"),
            F.sum("attempts").alias("attempts"),
        )
        .orderBy("bucket_start")
        .toPandas()
    )
    data.cache = (
        bucketed.where(F.col("cdn_requests") > 0)
        .groupBy("bucket_start", F.coalesce("cdn", F.lit("unknown")).alias("cdn"))
        .agg(
            F.sum("cdn_requests").alias("cdn_requests"),
            _ratio(F.sum("cdn_cache_hits"), F.sum("cdn_requests")).alias(
                "cache_hit_ratio"
            ),
        )
        .orderBy("bucket_start", "cdn")
        .toPandas()
    )
    data.qoe_by_dimension = _qoe_by_dimension(views)
    data.startup_hist, data.startup_outliers = _startup_histogram(views)
    data.rebuffer_hist = _rebuffer_histogram(views)
    data.errors = (
        views.where(F.col("failure_error").isNotNull())
        .groupBy(F.col("failure_error").alias("error"))
        .agg(F.count(F.lit(1)).alias("views"), F.max("view_start").alias("last_seen"))
        .orderBy(F.desc("views"), "error")
        .limit(TOP_ERRORS)
        .toPandas()
    )


def _qoe_by_dimension(views: DataFrame) -> pd.DataFrame:
    """QoE per value of each dimension, the busiest :data:`TOP_VALUES` of each."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    # One pass over the views: each view once per dimension.
    pairs = F.array(
        *(
            F.struct(
                F.lit(d).alias("dimension"),
                F.coalesce(F.col(d).cast("string"), F.lit("unknown")).alias("value"),
            )
            for d in DIMENSIONS
        )
    )
    per_value = (
        views.select(
            F.explode(pairs).alias("d"),
            "video_startup_time_s",
            "rebuffer_duration_s",
            "play_time_s",
            "video_start_failure",
            "playback_failure",
            "exit_before_video_start",
        )
        .groupBy("d.dimension", "d.value")
        .agg(
            F.count(F.lit(1)).alias("views"),
            F.percentile_approx("video_startup_time_s", 0.95).alias("startup_p95_s"),
            _ratio(
                F.sum("rebuffer_duration_s"),
                F.sum("play_time_s") + F.sum("rebuffer_duration_s"),
            ).alias("rebuffering_ratio"),
            _rate("video_start_failure").alias("video_start_failure_rate"),
            _rate("playback_failure").alias("playback_failure_rate"),
            _rate("exit_before_video_start").alias("exit_before_video_start_rate"),
        )
    )
    rank = F.row_number().over(
        Window.partitionBy("dimension").orderBy(F.desc("views"), "value")
    )
    return (
        per_value.withColumn("rank", rank)
        .where(F.col("rank") <= TOP_VALUES)
        .drop("rank")
        .orderBy("dimension", F.desc("views"))
        .toPandas()
    )


def _histogram(
    views: DataFrame, column: str, width: float, upper: float, *, clip: bool
) -> tuple[pd.DataFrame, int]:
    """Count views per bin of ``width`` in ``[0, upper)``.

    Values at or above ``upper`` go to the last bin when ``clip`` is true, and
    are otherwise counted apart as outliers (returned second).
    """
    from pyspark.sql import functions as F

    value = F.col(column)
    valid = views.where(value.isNotNull() & (value >= 0) & ~F.isnan(value))
    if clip:
        value = F.least(value, F.lit(upper - width / 2))
    binned = valid.select(F.when(value < upper, F.floor(value / width)).alias("bin"))
    counts = binned.groupBy("bin").agg(F.count(F.lit(1)).alias("views")).toPandas()
    outliers = int(counts.loc[counts["bin"].isna(), "views"].sum())
    counts = counts.dropna(subset=["bin"]).sort_values("bin")
    counts["bin_start"] = counts["bin"].astype(float) * width
    counts["bin_end"] = counts["bin_start"] + width
    frame = counts[["bin_start", "bin_end", "views"]].reset_index(drop=True)
    return frame, outliers


def _startup_histogram(views: DataFrame) -> tuple[pd.DataFrame, int]:
    return _histogram(
        views, "video_startup_time_s", STARTUP_BIN_S, STARTUP_MAX_S, clip=False
    )


def _rebuffer_histogram(views: DataFrame) -> pd.DataFrame:
    # A ratio of exactly 1 (nothing but stalls) belongs to the last bin.
    frame, _ = _histogram(views, "rebuffering_ratio", REBUFFER_BIN, 1.0, clip=True)
    return frame


def _mask_scope(scope: Any) -> str:
    """Render an alert scope, masking keys that could identify a person."""
    if not scope:
        return "global"
    items = scope.items() if isinstance(scope, dict) else scope
    shown = []
    for key, value in sorted(items):
        if any(part in str(key).lower() for part in _PERSONAL_SCOPE_PARTS):
            value = "(hidden)"
        shown.append(f"{key}={value}")
    return ", ".join(shown)


def _collect_alerts(alerts: DataFrame, data: DashboardData) -> None:
    from pyspark.sql import functions as F

    counts = alerts.groupBy("status").count().toPandas()
    data.alert_counts = {
        str(row.status): int(row["count"]) for _, row in counts.iterrows()
    }
    severity_rank = (
        F.when(F.col("severity") == "critical", 0)
        .when(F.col("severity") == "warning", 1)
        .otherwise(2)
    )
    open_alerts = (
        alerts.where(F.col("status") == "open")
        .select(*ALERT_COLUMNS, "scope")
        .orderBy(severity_rank, F.desc("last_seen"), "alert_id")
        .limit(MAX_ALERTS)
        .toPandas()
    )
    open_alerts["scope"] = [_mask_scope(s) for s in open_alerts["scope"]]
    data.alerts = open_alerts.drop(columns=["scope_key"])


def format_number(value: Any, kind: str = "number") -> str:
    """Format a figure for the page: ``"-"`` for a missing one."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if kind == "percent":
        return f"{100 * float(value):.2f} %"
    if kind == "seconds":
        return f"{float(value):.2f} s"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.3f}"
    return f"{int(value):,}"

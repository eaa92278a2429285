# Databricks notebook source
# MAGIC %md
# MAGIC # 02 · QoE metrics and the network operations views
# MAGIC
# MAGIC `build_gold` turns the silver tables into one row per **view** (start-up time,
# MAGIC start failures, exits before video start, rebuffering ratio, bitrate, completion,
# MAGIC the view's CDN figures) and the per-minute **QoE by dimension** (edge location,
# MAGIC ASN, country, device, title, CDN) that the rules engine and the anomaly detector
# MAGIC read; plus the real-time aggregates of the web application (active users, recent
# MAGIC and total views). Metric definitions: `docs/QOE_METRICS.md`.
# MAGIC
# MAGIC The network operations views of the original solution are the dashboard's queries
# MAGIC (`qos_ml.dashboard.collect_dashboard_data`): they aggregate in Spark and bring back a
# MAGIC few hundred rows, with start-up times bounded (the original averaged epoch
# MAGIC timestamps) and viewers counted, never listed.

# COMMAND ----------

# Parameters: Databricks widgets, else QOS_ML_NB_<NAME> environment variables.
from qos_ml import on_databricks
from qos_ml.notebook import param, setup, show

# Where everything lives (config_file, lakehouse_root, catalog, database,
# checkpoint_root, landing_root: see 00_setup) is read by setup() below.

# This notebook
DASHBOARD_FILE = param("dashboard_file")  # empty: <lakehouse>/dashboard.html

# COMMAND ----------

config, spark, catalog = setup()

# COMMAND ----------

# MAGIC %md
# MAGIC ## Gold tables

# COMMAND ----------

import pandas as pd

from qos_ml.qoe import build_gold

counts = build_gold(catalog)
show(pd.Series(counts, name="rows").rename_axis("table").reset_index())

# COMMAND ----------

from pyspark.sql import functions as F

from qos_ml.qoe import VIEW_METRICS

views = catalog.read("gold.views")
print("view metrics:", ", ".join(VIEW_METRICS))
show(
    views.select(
        "view_start",
        "video_id",
        "device_type",
        "edge_location",
        "video_startup_time_s",
        "video_start_failure",
        "exit_before_video_start",
        "playback_failure",
        "rebuffering_ratio",
        "average_bitrate_kbps",
        "completion",
        "cache_hit_ratio",
    ).orderBy("view_start"),
    n=10,
)

# COMMAND ----------

# MAGIC %md
# MAGIC ## Network operations views

# COMMAND ----------

from qos_ml.dashboard import collect_dashboard_data

ops = collect_dashboard_data(catalog, include_models=False)
show(pd.Series(ops.totals, name="value").rename_axis("headline").reset_index())

# COMMAND ----------

# MAGIC %md
# MAGIC ### QoE by edge location, ASN, country and device
# MAGIC
# MAGIC Start-up time p95, rebuffering ratio and failure rates of the busiest values of
# MAGIC each dimension over the whole history.

# COMMAND ----------

for dimension, rows in ops.qoe_by_dimension.groupby("dimension", sort=False):
    print(f"-- {dimension}")
    show(rows.drop(columns="dimension"))

# COMMAND ----------

# MAGIC %md
# MAGIC ### Start-up time and rebuffering distributions, errors, cache hit ratio

# COMMAND ----------

print(f"start-up times beyond the histogram: {ops.startup_outliers}")
show(ops.startup_hist)
show(ops.rebuffer_hist)
show(ops.errors)
show(ops.cache)
show(ops.traffic)

# COMMAND ----------

# MAGIC %md
# MAGIC ### Per-minute QoE: the worst edge-location minutes
# MAGIC
# MAGIC The rules engine reads `gold.qoe_by_dimension_minute`; SQL reaches every table by
# MAGIC its qualified name (``delta.`<path>` `` here, `catalog.database.table` with Unity
# MAGIC Catalog).

# COMMAND ----------

per_minute = catalog.qualified_name("gold.qoe_by_dimension_minute")
show(
    spark.sql(
        f"""
        SELECT window_start, dimension_value AS edge_location, views,
               video_start_failure_rate, video_startup_time_p95_s,
               rebuffering_ratio, error_rate, ttfb_p95_s, cache_hit_ratio
        FROM {per_minute}
        WHERE dimension = 'edge_location' AND views >= 3
        ORDER BY rebuffering_ratio DESC, video_start_failure_rate DESC
        LIMIT 10
        """
    )
)

# COMMAND ----------

# MAGIC %md
# MAGIC ### Real-time aggregates of the web application

# COMMAND ----------

show(catalog.read("gold.active_users").orderBy(F.desc("active_users")), n=5)
show(catalog.read("gold.total_views").orderBy(F.desc("total_views")), n=5)

# COMMAND ----------

# MAGIC %md
# MAGIC ## The dashboard
# MAGIC
# MAGIC `build_dashboard` writes the same views (and, once there are alerts and models,
# MAGIC those too) as one self-contained HTML page; `qos-ml dashboard --serve` serves it
# MAGIC live.

# COMMAND ----------

from pathlib import Path

from qos_ml.dashboard import build_dashboard

page = build_dashboard(
    catalog, DASHBOARD_FILE or config.lakehouse_root / "dashboard.html"
)
print(f"dashboard written to {page} ({page.stat().st_size / 1e6:.1f} MB)")
if on_databricks():
    displayHTML(Path(page).read_text(encoding="utf-8"))  # noqa: F821

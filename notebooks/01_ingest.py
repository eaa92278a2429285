# Databricks notebook source
# MAGIC %md
# MAGIC # 01 · Ingestion: CDN logs and player events into bronze, quarantine and silver
# MAGIC
# MAGIC A small platform is simulated (viewers on a built-in network model, with injected
# MAGIC incidents: a degraded edge location, a congested ISP, a failing device model, a
# MAGIC corrupted title, an origin outage) and written in the real input formats: player
# MAGIC SDK events (JSON lines), CloudFront real-time logs (with CMCD) and CloudFront
# MAGIC standard logs. `ingest_batch` parses each source into typed **bronze** rows, sends
# MAGIC lines it cannot parse to **quarantine** with the reason, and merges pseudonymised,
# MAGIC enriched **silver** rows on their key (a second run adds nothing).
# MAGIC
# MAGIC To ingest real CloudFront logs instead, set `cloudfront_logs` to their folder (or a
# MAGIC glob) and `cloudfront_source` to `cloudfront_standard` or `cloudfront_realtime`.

# COMMAND ----------

# Parameters: Databricks widgets, else QOS_ML_NB_<NAME> environment variables.
from qos_ml.notebook import param, setup, show

# Where everything lives (config_file, lakehouse_root, catalog, database,
# checkpoint_root, landing_root: see 00_setup) is read by setup() below.

# This notebook
SESSIONS = int(param("sessions", 400))  # simulated views
SEED = int(param("seed", 0))
CONCURRENCY = float(param("concurrency", 120))  # viewers at once: sets the span
# Baseline fatal playback errors per hour of viewing (the simulator's default);
# a tiny run raises it so that the failure model has positives to learn from.
FAILURES_PER_HOUR = float(param("playback_failures_per_hour", 0.02))
SIM_DIR = param("sim_dir")  # empty: <landing>/notebooks/history
CLOUDFRONT_LOGS = param("cloudfront_logs")  # real logs to ingest as well
CLOUDFRONT_SOURCE = param("cloudfront_source", "cloudfront_standard")

# COMMAND ----------

config, spark, catalog = setup()

# COMMAND ----------

# MAGIC %md
# MAGIC ## Simulate a platform with incidents

# COMMAND ----------

from pathlib import Path

import pandas as pd

from qos_ml.simulate import SimulationConfig, default_incidents, simulate

sim_dir = Path(SIM_DIR) if SIM_DIR else config.landing / "notebooks" / "history"
# Short views and many at once fill the minute windows of a small run (as the demo).
sim = SimulationConfig.create(
    sessions=SESSIONS,
    seed=SEED,
    mean_watch_s=150.0,
    concurrency=CONCURRENCY,
    playback_failures_per_hour=FAILURES_PER_HOUR,
    rows_per_file=5_000,
)
sim = SimulationConfig.create(
    **{**sim.model_dump(), "incidents": tuple(default_incidents(sim))}
)
summary = simulate(sim, sim_dir)
print(
    f"{summary.sessions} views, {summary.player_events:,} player events, "
    f"{summary.cdn_requests:,} CDN requests, {summary.stalls} stalls in "
    f"{summary.simulated_s / 60:.0f} simulated minutes ({summary.wall_s:.1f} s)"
)
show(pd.Series(summary.outcomes, name="sessions").rename_axis("outcome").reset_index())
show(pd.DataFrame([i.model_dump(mode="json") for i in sim.incidents]))

# COMMAND ----------

# MAGIC %md
# MAGIC ## Ingest into bronze, quarantine and silver

# COMMAND ----------

from qos_ml.ingest import ingest_batch, sources

print("registered sources:", ", ".join(sources.names()))
reports = [
    ingest_batch(str(sim_dir / source), source, catalog)
    for source in ("player_events", "cloudfront_realtime", "cloudfront_standard")
]
if CLOUDFRONT_LOGS:
    reports.append(ingest_batch(CLOUDFRONT_LOGS, CLOUDFRONT_SOURCE, catalog))
show(pd.DataFrame([r.as_dict() for r in reports]))

# COMMAND ----------

# MAGIC %md
# MAGIC Input lines always equal bronze plus quarantine rows; `silver_new` counts rows new
# MAGIC to silver (a re-run finds them all as duplicates), `flagged` rows with a value that
# MAGIC failed a sanity bound and was set to null (see `quality_flags`).
# MAGIC
# MAGIC ## Quarantine: what could not be parsed, and why
# MAGIC
# MAGIC The simulator writes well-formed files, so here are a few broken lines of each
# MAGIC format to show what happens to them: nothing is dropped silently.

# COMMAND ----------

broken = config.landing / "notebooks" / "broken"
(broken / "player_events").mkdir(parents=True, exist_ok=True)
(broken / "cloudfront_realtime").mkdir(parents=True, exist_ok=True)
(broken / "player_events" / "broken.jsonl").write_text(
    '{"truncated": \n["not", "an", "object"]\n', encoding="utf-8"
)
(broken / "cloudfront_realtime" / "broken.log").write_text(
    "1767636000.123\t203.0.113.9\tonly three fields\n", encoding="utf-8"
)
show(
    pd.DataFrame(
        [
            ingest_batch(str(broken / source), source, catalog).as_dict()
            for source in ("player_events", "cloudfront_realtime")
        ]
    )
)

# COMMAND ----------

from pyspark.sql import functions as F

quarantine = catalog.read("quarantine.ingest")
show(quarantine.groupBy("source", "reason").count().orderBy(F.desc("count")))
show(quarantine.select("source", "source_file", "line_number", "reason", "raw"), n=10)

# COMMAND ----------

# MAGIC %md
# MAGIC ## Silver tables

# COMMAND ----------

for key in ("silver.player_events", "silver.cdn_requests"):
    print(f"{key}: {catalog.read(key).count():,} rows in {catalog.qualified_name(key)}")
show(
    catalog.read("silver.player_events")
    .groupBy("event_type")
    .count()
    .orderBy(F.desc("count"))
)
show(
    catalog.read("silver.cdn_requests")
    .groupBy("cdn", "source_format", "result_type")
    .count()
    .orderBy(F.desc("count")),
    n=10,
)

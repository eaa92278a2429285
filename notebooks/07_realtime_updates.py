# Databricks notebook source
# MAGIC %md
# MAGIC # 07 · Real-time application updates: the streaming pipeline on a live replay
# MAGIC
# MAGIC The streaming twins of notebooks 01-02: files land in a folder as a live replay
# MAGIC emits them; `start_ingest_stream` ingests them exactly once into bronze, quarantine
# MAGIC and silver (checkpointed: each run picks up only new files); `start_gold_stream`
# MAGIC keeps the views, the per-minute QoE and the web application's real-time aggregates
# MAGIC (active users, recent views, total views) current; `start_feature_stream` computes
# MAGIC the buffering model's feature rows as the events arrive; and `publish` pushes the
# MAGIC aggregates to the application (any sink: a webhook here).
# MAGIC
# MAGIC Every query runs with `availableNow` (process what has arrived, then stop), so each
# MAGIC round below is bounded; a production job uses a processing-time trigger instead.
# MAGIC The streaming gold builds its tables from the start of silver, so it runs on tables
# MAGIC of its own (a `realtime` lakehouse, or database in metastore mode) rather than
# MAGIC appending to the batch-built ones of notebook 02.

# COMMAND ----------

# Parameters: Databricks widgets, else QOS_ML_NB_<NAME> environment variables.
from qos_ml.notebook import param, setup, show

# Where everything lives (config_file, lakehouse_root, catalog, database,
# checkpoint_root, landing_root: see 00_setup) is read by setup() below.

# This notebook
REALTIME_ROOT = param("realtime_root")  # path mode; empty: <lakehouse>/realtime
REALTIME_DATABASE = param("realtime_database")  # metastore mode; empty: <db>_realtime
LIVE_SESSIONS = int(param("live_sessions", 150))
LIVE_SEED = int(param("live_seed", 2))
LIVE_START = param("live_start", "2026-01-07T18:00:00+00:00")  # simulated clock
SPEEDUP = float(param("speedup", 120))  # simulated seconds per wall second
ROUNDS = int(param("rounds", 3))  # streaming rounds while the replay runs
ROUND_PAUSE_S = float(param("round_pause_s", 5))
WEBHOOK_URL = param("webhook_url")  # where the application receives updates

# COMMAND ----------

config, spark, catalog = setup()

# COMMAND ----------

from qos_ml import TableCatalog

rt_config = (
    config.replace(lakehouse_root=REALTIME_ROOT or config.lakehouse_root / "realtime")
    if config.storage_mode == "path"
    else config.replace(database=REALTIME_DATABASE or f"{config.database}_realtime")
)
rt = TableCatalog(rt_config, spark)
print(f"streaming tables: {rt.qualified_name('silver.player_events')}, ...")

# COMMAND ----------

# MAGIC %md
# MAGIC ## A live replay

# COMMAND ----------

import threading
import time
from datetime import datetime

import pandas as pd

from qos_ml.simulate import SimulationConfig, default_incidents, replay, simulate

live = SimulationConfig.create(
    sessions=LIVE_SESSIONS,
    seed=LIVE_SEED,
    start=datetime.fromisoformat(LIVE_START),
    mean_watch_s=150.0,
    concurrency=120.0,
    rows_per_file=5_000,
)
live = SimulationConfig.create(
    **{**live.model_dump(), "incidents": tuple(default_incidents(live))}
)
source_dir = rt_config.landing / "live_source"
landing = rt_config.landing / "live"
print(simulate(live, source_dir))
replayer = threading.Thread(
    target=replay,
    args=(source_dir, landing),
    kwargs={"speedup": SPEEDUP, "max_duration_s": 600},
    daemon=True,
)
replayer.start()

# COMMAND ----------

# MAGIC %md
# MAGIC ## Streaming rounds: ingest, gold, features

# COMMAND ----------

from qos_ml.features import start_feature_stream
from qos_ml.ingest import start_ingest_stream
from qos_ml.qoe import start_gold_stream

AVAILABLE_NOW = {"availableNow": True}
progress = []


def stream_round(final: bool = False) -> None:
    """Run every streaming query once over what has landed, then record counts."""
    started = time.perf_counter()
    for source in ("player_events", "cloudfront_realtime"):
        (landing / source).mkdir(parents=True, exist_ok=True)
        query = start_ingest_stream(
            str(landing / source), source, rt, query_name=f"realtime_ingest_{source}"
        )
        query.awaitTermination()
    start_gold_stream(
        rt, trigger=AVAILABLE_NOW, prefix="realtime_gold"
    ).await_termination()
    features = start_feature_stream(
        rt, "buffering", query_name="realtime_features_buffering", trigger=AVAILABLE_NOW
    )
    features.await_termination()
    if final:
        features.flush()
    progress.append(
        {
            "round": len(progress),
            "seconds": round(time.perf_counter() - started, 1),
            **{
                key: rt.read(key).count() if rt.exists(key) else 0
                for key in (
                    "silver.player_events",
                    "silver.cdn_requests",
                    "gold.views",
                    "gold.active_users",
                    "gold.total_views",
                    "features.buffering_rows",
                )
            },
        }
    )


for _ in range(ROUNDS):
    stream_round()
    time.sleep(ROUND_PAUSE_S)
replayer.join()
stream_round(final=True)
show(pd.DataFrame(progress))

# COMMAND ----------

# MAGIC %md
# MAGIC The per-minute QoE of a view is written one round after the view (TODO(#5) in
# MAGIC `start_gold_stream`), so one more round brings it up to date:

# COMMAND ----------

stream_round(final=True)
show(pd.DataFrame(progress))

# COMMAND ----------

# MAGIC %md
# MAGIC ## What the application shows

# COMMAND ----------

from pyspark.sql import functions as F

show(rt.read("gold.active_users").orderBy(F.desc("window_start")), n=10)
show(
    rt.read("gold.recent_views").orderBy(
        F.desc("window_start"), F.desc("recent_viewers")
    ),
    n=10,
)
show(rt.read("gold.total_views").orderBy(F.desc("total_views")), n=10)
show(rt.read("features.buffering_rows").orderBy(F.desc("obs_time")), n=5)

# COMMAND ----------

# MAGIC %md
# MAGIC ## Publishing the updates
# MAGIC
# MAGIC `publish` pushes rows to any sink as messages of a `kind` the receiver dispatches
# MAGIC on; inside a stream's `foreachBatch` it sends each micro-batch as it is written.

# COMMAND ----------

from qos_ml.sinks import WebhookSink, publish

if WEBHOOK_URL:
    app = WebhookSink(url=WEBHOOK_URL)
    published = {
        kind: publish(rt.read(f"gold.{kind}"), app, kind=kind)
        for kind in ("active_users", "recent_views", "total_views")
    }
    print(f"published to {WEBHOOK_URL}: {published}")
else:
    print("set the webhook_url parameter to push the updates to an application")

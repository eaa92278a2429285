# Databricks notebook source
# MAGIC %md
# MAGIC # 06 · Real-time alerts: rules and models on the live stream
# MAGIC
# MAGIC The rules engine evaluates declared rules natively in Spark, in batch or on each
# MAGIC micro-batch of a stream: built-in rules (start failures, start-up time p95,
# MAGIC rebuffering ratio, CDN 5xx, cache hit ratio drops, TTFB above baseline, model
# MAGIC scores...), rules from a **YAML file**, and plugins. Alerts are deduplicated by a
# MAGIC deterministic id and merged into `alerts.alerts` (cooldowns, open/resolved
# MAGIC incidents), with their explanation; deliveries to **sinks** (webhook, e-mail,
# MAGIC SNS) are logged once per alert and sink in `alerts.deliveries`.
# MAGIC
# MAGIC 1. A YAML rule file and the built-in aggregate rules, **backtested** on the
# MAGIC    history against the simulator's ground truth.
# MAGIC 2. The same rules as a **stream** over `gold.qoe_by_dimension_minute`
# MAGIC    (`start_alert_stream`).
# MAGIC 3. The **live job** (`LiveJob`, `qos-ml serve`): a live replay lands as files, is
# MAGIC    ingested, turned into feature rows, scored by the `champion` models
# MAGIC    (`ml.scores`), and the rules on scores, player events and CDN requests fire.

# COMMAND ----------

# Parameters: Databricks widgets, else QOS_ML_NB_<NAME> environment variables.
from qos_ml.notebook import param, setup, show

# Where everything lives (config_file, lakehouse_root, catalog, database,
# checkpoint_root, landing_root: see 00_setup) is read by setup() below.

# This notebook
RULES_FILE = param("rules_file")  # a YAML rule file; empty: the one written below
WEBHOOK_URL = param("webhook_url")  # also POST alerts here
LIVE_SESSIONS = int(param("live_sessions", 150))  # views of the live replay
LIVE_SEED = int(param("live_seed", 1))
LIVE_START = param("live_start", "2026-01-06T18:00:00+00:00")  # simulated clock
SPEEDUP = float(param("speedup", 600))  # simulated seconds per wall second
LIVE_CYCLES = int(param("live_cycles", 2))
SIM_DIR = param("sim_dir")  # the history simulated in 01

# COMMAND ----------

config, spark, catalog = setup()

# COMMAND ----------

# MAGIC %md
# MAGIC ## A YAML rule file

# COMMAND ----------

from pathlib import Path

import pandas as pd

from qos_ml.rules import load_rule_file

RULES_YAML = """
rules:
  - name: slow_edge_ttfb
    description: TTFB p95 of an edge location above 800 ms
    metric: ttfb_p95_s
    comparison: ">"
    threshold: 0.8
    critical_threshold: 1.5
    window: 5 minutes
    dimensions: [edge_location]
    severity: warning
    min_support: 5
    cooldown: 10 minutes
  - name: isp_rebuffering
    description: Rebuffering ratio of an ISP above 5 %
    metric: rebuffering_ratio
    comparison: ">"
    threshold: 0.05
    critical_threshold: 0.15
    window: 5 minutes
    dimensions: [viewer_asn]
    severity: warning
    min_support: 5
    cooldown: 10 minutes
"""
rules_file = (
    Path(RULES_FILE)
    if RULES_FILE
    else config.lakehouse_root / "rules" / "network_ops.yaml"
)
if not RULES_FILE:
    rules_file.parent.mkdir(parents=True, exist_ok=True)
    rules_file.write_text(RULES_YAML, encoding="utf-8")
file_rules = load_rule_file(rules_file)
show(
    pd.DataFrame(
        [{"rule": r.name, "description": r.description, **r.params} for r in file_rules]
    )
)

# COMMAND ----------

# MAGIC %md
# MAGIC ## The rule set and its backtest against the injected incidents

# COMMAND ----------

from qos_ml.rules import backtest, rules
from qos_ml.simulate import incident_truth

aggregate_rules = [r for r in rules.rule_set() if r.target == "aggregate"] + file_rules
show(
    pd.DataFrame(
        [
            (r.name, r.params["severity"], r.source, r.description)
            for r in aggregate_rules
        ],
        columns=["rule", "severity", "source", "description"],
    )
)
sim_dir = Path(SIM_DIR) if SIM_DIR else config.landing / "notebooks" / "history"
truth = spark.createDataFrame(pd.DataFrame(incident_truth(sim_dir)))
report = backtest(
    aggregate_rules, {"aggregate": catalog.read("gold.qoe_by_dimension_minute")}, truth
)
show(pd.DataFrame(report.per_rule))

# COMMAND ----------

# MAGIC %md
# MAGIC ## The rules as a stream over the per-minute QoE
# MAGIC
# MAGIC `start_alert_stream` runs the engine on each micro-batch of the aggregates. Here it
# MAGIC processes what is in the table and stops (`availableNow`); in production leave the
# MAGIC default trigger (every 30 s) running.

# COMMAND ----------

from qos_ml.rules import AlertEngine, start_alert_stream
from qos_ml.sinks import WebhookSink

sinks = [WebhookSink(url=WEBHOOK_URL)] if WEBHOOK_URL else []
engine = AlertEngine(aggregate_rules, catalog, sinks=sinks)
query = start_alert_stream(
    catalog.read_stream("gold.qoe_by_dimension_minute"),
    "aggregate",
    engine,
    query_name="notebook_alerts_aggregate",
    trigger={"availableNow": True},
)
query.awaitTermination()
assert query.exception() is None, query.exception()
alerts = catalog.read("alerts.alerts")
show(alerts.groupBy("rule", "severity", "status").count().orderBy("rule"))
show(
    alerts.select(
        "rule", "severity", "scope_key", "window_start", "observed", "explanation"
    ).orderBy("window_start"),
    n=10,
)

# COMMAND ----------

# MAGIC %md
# MAGIC ## The live job: scores from the champion models beside the rules
# MAGIC
# MAGIC A second simulated platform (a later evening) is replayed into a landing folder,
# MAGIC as files would arrive from CloudFront real-time logs (Kinesis Firehose) and the
# MAGIC player SDK. Each cycle of the live job ingests what has arrived, computes feature
# MAGIC rows, scores them with the `champion` of each model and runs the rules on scores,
# MAGIC player events and CDN requests. A model that cannot be loaded raises a
# MAGIC `model_unavailable` alert; the rules go on. The gold tables here stay those of the
# MAGIC batch rebuild (notebook 02); notebook 07 runs the streaming gold.

# COMMAND ----------

from datetime import datetime

from qos_ml.rules import LiveJob, default_live_rules
from qos_ml.simulate import SimulationConfig, default_incidents, replay, simulate

live_sim = SimulationConfig.create(
    sessions=LIVE_SESSIONS,
    seed=LIVE_SEED,
    start=datetime.fromisoformat(LIVE_START),
    mean_watch_s=150.0,
    concurrency=120.0,
    rows_per_file=5_000,
)
live_sim = SimulationConfig.create(
    **{**live_sim.model_dump(), "incidents": tuple(default_incidents(live_sim))}
)
live_dir = config.landing / "notebooks" / "live_source"
landing = config.landing / "notebooks" / "live"
print(simulate(live_sim, live_dir))
print(replay(live_dir, landing, speedup=SPEEDUP, max_duration_s=600))

# COMMAND ----------

job = LiveJob(
    catalog,
    landing=landing,
    rules=default_live_rules(gold=False),
    sinks=sinks,
    gold=False,
    prefix="notebook_live",
)
cycles = job.run(interval_s=0, max_cycles=LIVE_CYCLES)
show(
    pd.DataFrame(
        [
            {
                "cycle": c.cycle,
                "score rows": c.score_rows,
                "alerts": len(c.alerts),
                "seconds": round(c.seconds, 1),
                **c.models,
            }
            for c in cycles
        ]
    )
)

# COMMAND ----------

from pyspark.sql import functions as F

scores = catalog.read("ml.scores")
show(
    scores.groupBy("model_name", "model_version", "model_status").agg(
        F.count("*").alias("rows"),
        F.avg("score").alias("mean score"),
        F.sum(F.col("decision").cast("int")).alias("positive decisions"),
    )
)
show(
    catalog.read("alerts.alerts")
    .where(F.col("source") == "model")
    .select(
        "rule",
        "severity",
        "scope_key",
        "window_start",
        "observed",
        "model_version",
        "explanation",
    )
    .orderBy(F.desc("observed")),
    n=10,
)
if sinks:
    show(catalog.read("alerts.deliveries").groupBy("sink", "status").count())

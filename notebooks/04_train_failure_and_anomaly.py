# Databricks notebook source
# MAGIC %md
# MAGIC # 04 · The failure model and the anomaly detector
# MAGIC
# MAGIC The **failure** model predicts whether a view will fail (a start failure, an exit
# MAGIC before video start, or a fatal playback error) from what was known at each
# MAGIC observation point; it is trained, tuned, compared and registered like the
# MAGIC buffering model (notebook 03).
# MAGIC
# MAGIC The **anomaly detector** learns the normal per-minute QoE of each dimension value
# MAGIC (`gold.qoe_by_dimension_minute`) and flags minutes that leave it: a seasonal
# MAGIC median/MAD baseline here, an Isolation Forest with `kind="isolation_forest"`. It is
# MAGIC registered as `<prefix>_anomaly`; the rule `anomaly_model_score` reads its scores.

# COMMAND ----------

# Parameters: Databricks widgets, else QOS_ML_NB_<NAME> environment variables.
from qos_ml.notebook import param, setup, show

# Where everything lives (config_file, lakehouse_root, catalog, database,
# checkpoint_root, landing_root: see 00_setup) is read by setup() below.

# This notebook
TRIALS = int(param("trials", 8))  # hyperopt trials
NEGATIVES_PER_POSITIVE = float(param("negatives_per_positive", 5))
ANOMALY_KIND = param("anomaly_kind", "seasonal")  # or isolation_forest

# COMMAND ----------

config, spark, catalog = setup()

# COMMAND ----------

# MAGIC %md
# MAGIC ## The failure model

# COMMAND ----------

from qos_ml.features import build_training_set
from qos_ml.training import promote, train_from_training_set

training = build_training_set(
    catalog, "failure", negatives_per_positive=NEGATIVES_PER_POSITIVE
)
print(
    f"{training.table_key} version {training.table_version}: {training.rows_written:,} "
    f"rows ({training.positives:,} positive, negatives kept "
    f"{training.negative_fraction:.0%}); label {training.label.name}"
)
result = train_from_training_set(
    catalog, training, task="failure", max_evals=TRIALS, n_splits=3
)
print(f"registered {result.registered_name} version {result.version}")
show(result.summary().rename_axis("model").reset_index())
decision = promote("failure", result.test, "label", config=config)
print(f"promoted: {decision.promoted} ({decision.reason})")

# COMMAND ----------

# MAGIC %md
# MAGIC ## The anomaly detector

# COMMAND ----------


from qos_ml.training import DEFAULT_DIRECTIONS, train_anomaly_detector

history = catalog.read("gold.qoe_by_dimension_minute")
print("metrics and the direction that is bad:", dict(DEFAULT_DIRECTIONS))
anomaly = train_anomaly_detector(history, kind=ANOMALY_KIND, config=config)
print(
    f"{anomaly.kind} detector registered as {anomaly.registered_name} version "
    f"{anomaly.version} (run {anomaly.run_id})"
)

# COMMAND ----------

# MAGIC %md
# MAGIC The detector scores minutes of any dimension value; the most anomalous minutes of
# MAGIC the history (where the injected incidents are):

# COMMAND ----------

minutes = history.toPandas()
scored = minutes[["window_start", "dimension", "dimension_value", "views"]].join(
    anomaly.detector.predict(minutes)
)
print(f"{int(scored['is_anomaly'].sum())} of {len(scored)} dimension-minutes flagged")
show(scored.sort_values("score", ascending=False).head(10))

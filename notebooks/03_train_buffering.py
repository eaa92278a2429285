# Databricks notebook source
# MAGIC %md
# MAGIC # 03 · The buffering model: will this session stall soon?
# MAGIC
# MAGIC `build_training_set` places observation points every 10 s of each session, computes
# MAGIC the `buffering` feature set at each point from what was known **at or before** it
# MAGIC (buffer level, throughput and its trend, TTFB, stalls so far, the edge's and the
# MAGIC ISP's recent stall rates) and labels whether a stall starts within the horizon
# MAGIC after it. The rows are written to a versioned Delta feature table, negatives
# MAGIC thinned with their sampling weight recorded.
# MAGIC
# MAGIC `train_from_training_set` splits by time and session, tunes gradient-boosted trees
# MAGIC with hyperopt (cross-validated PR-AUC), trains a logistic-regression baseline and
# MAGIC finds the best single-threshold rule on the same split, logs everything to MLflow
# MAGIC with the training table's version as lineage, and registers the model (the first
# MAGIC version becomes `champion`, later ones `challenger`).

# COMMAND ----------

# Parameters: Databricks widgets, else QOS_ML_NB_<NAME> environment variables.
from qos_ml.notebook import param, setup, show

# Where everything lives (config_file, lakehouse_root, catalog, database,
# checkpoint_root, landing_root: see 00_setup) is read by setup() below.

# This notebook
TRIALS = int(param("trials", 8))  # hyperopt trials
NEGATIVES_PER_POSITIVE = float(param("negatives_per_positive", 5))

# COMMAND ----------

config, spark, catalog = setup()

# COMMAND ----------

# MAGIC %md
# MAGIC ## The feature set

# COMMAND ----------


from qos_ml.features import FEATURE_SETS, document_feature_set

buffering = FEATURE_SETS.get("buffering")
print(
    f"feature set {buffering.name} version {buffering.version}: {len(buffering.names)} features"
)
print(document_feature_set(buffering))

# COMMAND ----------

# MAGIC %md
# MAGIC ## The training set

# COMMAND ----------

from qos_ml.features import build_training_set

training = build_training_set(
    catalog, "buffering", negatives_per_positive=NEGATIVES_PER_POSITIVE
)
print(
    f"{training.table_key} version {training.table_version}: {training.rows_written:,} "
    f"rows of {training.rows_total:,} ({training.positives:,} positive, negatives "
    f"kept {training.negative_fraction:.0%})"
)
show(training.read(catalog), n=5)

# COMMAND ----------

# MAGIC %md
# MAGIC ## Train, tune, compare and register

# COMMAND ----------

from qos_ml.training import train_from_training_set

result = train_from_training_set(
    catalog, training, task="buffering", max_evals=TRIALS, n_splits=3
)
print(
    f"run {result.run_id}; registered {result.registered_name} version {result.version}"
)
show(result.summary().rename_axis("model").reset_index())

# COMMAND ----------

# MAGIC %md
# MAGIC The **rule** row is the best single-threshold rule on one feature, the bar any
# MAGIC model must clear; the **logistic** row is the baseline model.

# COMMAND ----------

rule = result.rule
print(
    f"best single rule: {rule.feature} {'>=' if rule.higher_is_positive else '<='} "
    f"{rule.threshold:.3f} (train F1 {rule.train_f1:.3f})"
)
print(
    f"operating threshold of the model (max F1 in cross-validation): {result.threshold:.3f}"
)
if result.tuning is not None:
    print(
        f"hyperopt: {result.tuning.n_trials} trials in {result.tuning.seconds:.0f} s, "
        f"best cross-validated PR-AUC {result.tuning.best_cv_pr_auc:.3f}"
    )
    show(result.tuning.trials)

# COMMAND ----------

# MAGIC %md
# MAGIC ## Champion or not
# MAGIC
# MAGIC `promote` scores the test rows with both the `champion` and the new `challenger`
# MAGIC and moves `champion` only if the challenger is better on the same data (the first
# MAGIC version is the champion already). The decision is kept as tags on the version.

# COMMAND ----------

from qos_ml.training import promote

decision = promote("buffering", result.test, "label", config=config)
print(f"promoted: {decision.promoted} ({decision.reason})")

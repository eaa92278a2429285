# Databricks notebook source
# MAGIC %md
# MAGIC # 05 · Deploying with the model registry: versions, aliases, promotion
# MAGIC
# MAGIC Each training run registers a new **version** of `<prefix>_<task>` and points the
# MAGIC alias **`challenger`** at it; the first version is also the **`champion`**. Serving
# MAGIC and the live job load `models:/<name>@champion`, so deploying is moving an alias,
# MAGIC and rolling back is moving it back: no code changes, no restarts (the live job
# MAGIC resolves aliases at every micro-batch). On Databricks the registry is Unity Catalog
# MAGIC and the names are `catalog.database.<prefix>_<task>`.
# MAGIC
# MAGIC This notebook retrains the buffering model on a freshly sampled training set (a
# MAGIC new challenger), lets `promote` decide on the same evaluation rows, lists the
# MAGIC versions with their aliases and decisions, and scores rows with both aliases.

# COMMAND ----------

# Parameters: Databricks widgets, else QOS_ML_NB_<NAME> environment variables.
from qos_ml.notebook import param, setup, show

# Where everything lives (config_file, lakehouse_root, catalog, database,
# checkpoint_root, landing_root: see 00_setup) is read by setup() below.

# This notebook
TRIALS = int(param("trials", 8))  # hyperopt trials of the challenger
SAMPLE_SEED = int(param("sample_seed", 8))  # negatives sampling of the new set
ROLLBACK_TO = param("rollback_to")  # a version number: point champion back at it

# COMMAND ----------

config, spark, catalog = setup()

# COMMAND ----------

# MAGIC %md
# MAGIC ## The registered models now

# COMMAND ----------

import pandas as pd

from qos_ml.dashboard import model_summaries


def versions_table() -> pd.DataFrame:
    """One row per aliased version of each task's registered model."""
    return pd.DataFrame(
        [
            {"task": m["task"], "model": m["name"], **v}
            for m in model_summaries(config)
            for v in m["versions"]
        ]
    )


show(versions_table())

# COMMAND ----------

# MAGIC %md
# MAGIC ## A challenger

# COMMAND ----------

from qos_ml.features import build_training_set
from qos_ml.training import train_from_training_set

training = build_training_set(
    catalog, "buffering", negatives_per_positive=5, seed=SAMPLE_SEED
)
challenger = train_from_training_set(
    catalog, training, task="buffering", max_evals=TRIALS, n_splits=3, seed=1
)
print(f"{challenger.registered_name} version {challenger.version} is the challenger")
show(challenger.summary().rename_axis("model").reset_index())

# COMMAND ----------

# MAGIC %md
# MAGIC ## Promotion: the challenger replaces the champion only if it is better

# COMMAND ----------

from qos_ml.training import promote

decision = promote("buffering", challenger.test, "label", config=config)
show(pd.DataFrame([vars(decision)]))

# COMMAND ----------

# MAGIC %md
# MAGIC ## Every version, with the promotion tags (aliases: the table above)

# COMMAND ----------

import mlflow

client = mlflow.MlflowClient()
name = config.model_name("buffering")
show(
    pd.DataFrame(
        [
            {
                "version": v.version,
                "run": v.run_id,
                "decision": v.tags.get("promotion.decision"),
                "reason": v.tags.get("promotion.reason"),
            }
            for v in client.search_model_versions(f"name = '{name}'")
        ]
    ).sort_values("version")
)

# COMMAND ----------

# MAGIC %md
# MAGIC ## Rollback
# MAGIC
# MAGIC Set the `rollback_to` parameter to a version to point `champion` back at it;
# MAGIC everything that loads `@champion` follows at its next load or micro-batch.

# COMMAND ----------

from qos_ml.training import CHAMPION

if ROLLBACK_TO:
    client.set_registered_model_alias(name, CHAMPION, ROLLBACK_TO)
    print(f"{name}@{CHAMPION} -> version {ROLLBACK_TO}")
show(versions_table())

# COMMAND ----------

# MAGIC %md
# MAGIC ## Using the models: pyfunc in pandas, a Spark UDF in Spark

# COMMAND ----------

from qos_ml.features import FEATURE_SETS
from qos_ml.serving import score_batch
from qos_ml.training import CHALLENGER, feature_spec_for, load_model, training_frame

spec = feature_spec_for(FEATURE_SETS.get("buffering"))
rows = training.read(catalog).limit(10)
sample = training_frame(rows, spec)  # typed as in training: numbers as float64
scores = pd.DataFrame(
    {
        alias: load_model("buffering", alias, config=config).predict(
            sample[list(spec.features)]
        )["score"]
        for alias in (CHAMPION, CHALLENGER)
    }
).assign(label=sample["label"])
show(scores)
show(
    score_batch(rows, "buffering", config=config).select(
        "session_key",
        "obs_time",
        *FEATURE_SETS.get("buffering").names[:3],
        "score",
        "decision",
        "model_name",
        "model_version",
        "model_status",
    )
)

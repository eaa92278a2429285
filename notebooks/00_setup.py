# Databricks notebook source
# MAGIC %md
# MAGIC # 00 · Setup: configuration, Spark, MLflow and the table catalog
# MAGIC
# MAGIC Every qos_ml notebook starts the same way: one `QosConfig` says where tables,
# MAGIC checkpoints, landing files and models live; `get_spark()` returns the active
# MAGIC session (Databricks, a job, Spark Connect) or builds a local one with Delta Lake;
# MAGIC `configure_mlflow()` points MLflow at the configured tracking server and registry.
# MAGIC
# MAGIC **Precedence of the configuration:** keyword arguments (the widgets below), then
# MAGIC `QOS_ML_<KEY>` environment variables, then a TOML file (`$QOS_ML_CONFIG` or
# MAGIC `./qos_ml.toml`, keys at top level or under `[qos_ml]`), then the defaults
# MAGIC (a `./lakehouse` folder and MLflow on SQLite inside it).
# MAGIC
# MAGIC ```toml
# MAGIC # qos_ml.toml on Databricks with Unity Catalog (metastore mode)
# MAGIC [qos_ml]
# MAGIC catalog = "main"
# MAGIC database = "qos"
# MAGIC checkpoint_root = "/Volumes/main/qos/checkpoints"
# MAGIC landing_root = "/Volumes/main/qos/landing"
# MAGIC secret_scope = "qos"          # pseudonymisation key in a secret scope
# MAGIC secret_key = "pseudonymisation"
# MAGIC ```
# MAGIC
# MAGIC Leave a widget empty to keep what the file, the environment or the defaults say.

# COMMAND ----------

# Parameters: Databricks widgets, else QOS_ML_NB_<NAME> environment variables.
from qos_ml import on_databricks
from qos_ml.notebook import param, show

CONFIG_FILE = param("config_file")  # a TOML file; empty: $QOS_ML_CONFIG / ./qos_ml.toml
LAKEHOUSE_ROOT = param("lakehouse_root")  # empty: the configuration's (./lakehouse)
CATALOG = param("catalog")  # Unity Catalog: set catalog and database together
DATABASE = param("database")
CHECKPOINT_ROOT = param("checkpoint_root")  # a volume path in metastore mode
LANDING_ROOT = param("landing_root")
SPARK_CHECK = param("spark_check", "true") == "true"  # doctor: Delta round trip

# COMMAND ----------

# MAGIC %md ## The configuration

# COMMAND ----------

import pandas as pd

from qos_ml import QosConfig

config = QosConfig.load(
    CONFIG_FILE or None,
    lakehouse_root=LAKEHOUSE_ROOT or None,
    catalog=CATALOG or None,
    database=DATABASE or None,
    checkpoint_root=CHECKPOINT_ROOT or None,
    landing_root=LANDING_ROOT or None,
)
show(
    pd.DataFrame(
        {
            "storage mode": config.storage_mode,
            "lakehouse root": str(config.lakehouse_root),
            "checkpoints": str(config.checkpoints),
            "landing": str(config.landing),
            "MLflow tracking": config.tracking_uri,
            "MLflow registry": config.registry_uri,
            "experiment": config.experiment_name,
            "buffering model": config.model_name("buffering"),
        }.items(),
        columns=["setting", "value"],
    )
)

# COMMAND ----------

# MAGIC %md
# MAGIC ### Path mode and Unity Catalog names
# MAGIC
# MAGIC In **path mode** (the embedded default) a table is a Delta folder under the
# MAGIC lakehouse root and SQL reaches it as ``delta.`<path>` ``. With `catalog` and
# MAGIC `database` set (**metastore mode**) tables are three-part names. The same logical
# MAGIC key (`silver.cdn_requests`) names the table in both; nothing is created here.

# COMMAND ----------

from qos_ml import TableCatalog, get_spark

spark = get_spark(config)  # the active session on Databricks; a local one otherwise
catalog = TableCatalog(config, spark)
unity = TableCatalog(
    QosConfig.load(use_file=False, use_env=False, catalog="main", database="qos"),
    spark,
)
show(
    pd.DataFrame(
        [
            (key, catalog.qualified_name(key), unity.qualified_name(key))
            for key in ("silver.cdn_requests", "gold.views", "alerts.alerts")
        ],
        columns=["table", "this configuration", "catalog=main, database=qos"],
    )
)
print(f"Spark {spark.version}")

# COMMAND ----------

# MAGIC %md ## Doctor: the environment checks of `qos-ml doctor`

# COMMAND ----------

from qos_ml._doctor import run_checks

checks = pd.DataFrame([vars(check) for check in run_checks(config, spark=SPARK_CHECK)])
show(checks)
assert checks["ok"].all(), checks.loc[~checks["ok"], ["name", "detail"]].to_string()

# COMMAND ----------

# MAGIC %md ## MLflow

# COMMAND ----------

from qos_ml import configure_mlflow

experiment_id = configure_mlflow(config)
print(
    f"experiment {config.experiment_name!r} ({experiment_id}) at {config.tracking_uri}; "
    f"models registered in {config.registry_uri}"
)
if config.storage_mode == "path" and not on_databricks():
    print(f"browse it with: mlflow ui --backend-store-uri {config.tracking_uri}")

# COMMAND ----------

# MAGIC %md
# MAGIC ## The table catalog
# MAGIC
# MAGIC Every bronze, silver, gold, feature, model-score and alert table is declared
# MAGIC once (`qos_ml.declared_tables()`), with its schema, partitioning and key.
# MAGIC `catalog.create_all()` creates the missing ones (`qos-ml tables --create`).

# COMMAND ----------

from qos_ml import declared_tables

show(
    pd.DataFrame(
        [
            (
                key,
                catalog.qualified_name(key),
                len(spec.schema),
                ", ".join(spec.primary_key),
                catalog.exists(key),
                spec.description,
            )
            for key, spec in declared_tables().items()
        ],
        columns=["table", "stored as", "columns", "key", "exists", "description"],
    ),
    n=100,
)

"""qos_ml: find and predict video streaming problems with Spark, Delta Lake and MLflow.

The core lives here: configuration (:class:`QosConfig`), the Spark session
helper (:func:`get_spark`), the table catalog (:class:`TableCatalog`), MLflow
setup (:func:`configure_mlflow`) and the error hierarchy. The layers are
subpackages, in the order data flows through them: ``qos_ml.simulate``,
``qos_ml.ingest``, ``qos_ml.qoe``, ``qos_ml.features``, ``qos_ml.training``,
``qos_ml.serving``, ``qos_ml.rules``, ``qos_ml.sinks``, ``qos_ml.dashboard``.
"""

from __future__ import annotations

import logging
from importlib.metadata import PackageNotFoundError, version

from qos_ml._catalog import TableCatalog, TableSpec, declare_table, declared_tables
from qos_ml._config import QosConfig, on_databricks
from qos_ml._errors import (
    ConfigError,
    DataQualityError,
    ModelLoadError,
    PluginError,
    QosMlError,
    QosMlWarning,
    RuleError,
    SchemaMismatchError,
    SinkError,
    SparkSetupError,
    TableNotFoundError,
)
from qos_ml._mlflow import configure_mlflow
from qos_ml._privacy import PrivacyFinding, scan_tables
from qos_ml._spark import get_spark

try:
    __version__ = version("qos-ml")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+unknown"

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "ConfigError",
    "DataQualityError",
    "ModelLoadError",
    "PluginError",
    "PrivacyFinding",
    "QosConfig",
    "QosMlError",
    "QosMlWarning",
    "RuleError",
    "SchemaMismatchError",
    "SinkError",
    "SparkSetupError",
    "TableCatalog",
    "TableNotFoundError",
    "TableSpec",
    "__version__",
    "configure_mlflow",
    "declare_table",
    "declared_tables",
    "get_spark",
    "on_databricks",
    "scan_tables",
]

"""Helpers the notebooks share: parameters and showing results.

On Databricks a parameter is a widget and a result goes to ``display()``; in
Jupyter or a plain Python run a parameter comes from ``$QOS_ML_NB_<NAME>`` and
a result is printed. The notebooks import these instead of each defining them.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from qos_ml._config import on_databricks

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from qos_ml._catalog import TableCatalog
    from qos_ml._config import QosConfig

__all__ = ["param", "setup", "show"]

#: Parameters every notebook takes: where everything lives (see 00_setup).
LOCATION_PARAMS = (
    "config_file",
    "lakehouse_root",
    "catalog",
    "database",
    "checkpoint_root",
    "landing_root",
)


def _notebook_global(name: str) -> Any:
    """A global of the running notebook (``dbutils``, ``display``), or None."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    return None if shell is None else shell.user_ns.get(name)


def param(name: str, default: object = "") -> str:
    """Return a notebook parameter.

    Parameters
    ----------
    name : str
        Widget name on Databricks; elsewhere the variable ``QOS_ML_NB_<NAME>``.
    default : object, default ""
        Used (as text) when the widget is new or the variable is unset.

    Returns
    -------
    str
    """
    dbutils = _notebook_global("dbutils") if on_databricks() else None
    if dbutils is not None:
        dbutils.widgets.text(name, str(default))
        return str(dbutils.widgets.get(name))
    return os.environ.get(f"QOS_ML_NB_{name.upper()}", str(default))


def show(data: Any, n: int = 25) -> None:
    """Show a result: ``display()`` on Databricks, else a printed table.

    Parameters
    ----------
    data : DataFrame, pandas.DataFrame or object
    n : int, default 25
        Rows a Spark DataFrame prints outside Databricks.
    """
    display = _notebook_global("display") if on_databricks() else None
    if display is not None:
        display(data)
    elif hasattr(data, "show"):
        data.show(n, truncate=False)
    elif hasattr(data, "to_string"):
        print(data.to_string())  # noqa: T201
    else:
        print(data)  # noqa: T201


def setup() -> tuple[QosConfig, SparkSession, TableCatalog]:
    """Configuration, Spark session, table catalog and MLflow for a notebook.

    Reads the location parameters (:data:`LOCATION_PARAMS`; an empty one keeps
    the configuration's value), loads the configuration (file, then
    ``QOS_ML_*`` variables), reuses the active Spark session or starts a local
    one, and points MLflow at the configured tracking server.

    Returns
    -------
    config : QosConfig
    spark : SparkSession
    catalog : TableCatalog
    """
    from qos_ml._catalog import TableCatalog
    from qos_ml._config import QosConfig
    from qos_ml._mlflow import configure_mlflow
    from qos_ml._spark import get_spark

    values = {name: param(name) for name in LOCATION_PARAMS}
    path = values.pop("config_file") or None
    overrides: dict[str, Any] = {k: v for k, v in values.items() if v}
    config = QosConfig.load(path, **overrides)
    spark = get_spark(config)
    catalog = TableCatalog(config, spark)
    configure_mlflow(config)
    print(  # noqa: T201
        f"{config.storage_mode} mode; lakehouse {config.lakehouse_root}; "
        f"MLflow {config.tracking_uri}"
    )
    return config, spark, catalog

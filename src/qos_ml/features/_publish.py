"""Publishing feature tables to Databricks Feature Engineering (Unity Catalog).

Locally a feature table is a plain Delta table and nothing needs publishing.
Where ``databricks-feature-engineering`` is installed (a Databricks runtime for
ML), :func:`publish_feature_table` registers a feature set's table with the
Feature Engineering client so that models logged through it look features up
by key at serving time.
"""

from __future__ import annotations

import logging
from typing import Any

from qos_ml._catalog import TableCatalog
from qos_ml._errors import QosMlError
from qos_ml.features._builtin import FEATURE_SETS
from qos_ml.features._definitions import FeatureSet
from qos_ml.features._tables import feature_table_spec

__all__ = [
    "FeatureStoreUnavailableError",
    "publish_feature_table",
]

logger = logging.getLogger(__name__)


class FeatureStoreUnavailableError(QosMlError, ImportError):
    """Databricks Feature Engineering is not importable here."""


def _client() -> Any:
    try:
        from databricks.feature_engineering import (
            FeatureEngineeringClient,
        )
    except ImportError as exc:
        raise FeatureStoreUnavailableError(
            "publishing a feature table needs the Databricks Feature Engineering "
            "client (package 'databricks-feature-engineering', present on "
            "Databricks Runtime for ML); it is not importable here. Locally the "
            "feature tables are plain Delta tables: read them with "
            "TableCatalog.read('features.<set>_rows')."
        ) from exc
    return FeatureEngineeringClient()


def publish_feature_table(
    catalog: TableCatalog,
    feature_set: FeatureSet | str,
    *,
    kind: str = "rows",
    name: str | None = None,
) -> str:
    """Register a feature set's Delta table as a Unity Catalog feature table.

    Parameters
    ----------
    catalog : TableCatalog
        In metastore mode (``catalog`` and ``database`` set).
    feature_set : FeatureSet or str
    kind : {"rows", "training"}, default "rows"
    name : str, optional
        Three-part name of the feature table; default the table's own name.

    Returns
    -------
    str
        The feature table's name.

    Raises
    ------
    FeatureStoreUnavailableError
        When ``databricks.feature_engineering`` cannot be imported.
    """
    client = _client()
    feature_set = FEATURE_SETS.get(feature_set)
    spec = feature_table_spec(feature_set, kind)
    target = name or catalog.qualified_name(spec.key)
    df = catalog.read(spec.key)
    try:
        client.get_table(name=target)
        exists = True
    except Exception:  # the client raises its own error types for "not found"
        logger.debug("Feature table %s does not exist yet", target, exc_info=True)
        exists = False
    if exists:
        client.write_table(name=target, df=df, mode="merge")
    else:
        client.create_table(
            name=target,
            primary_keys=["session_key", "obs_time"],
            timeseries_columns=["obs_time"],
            df=df,
            description=spec.description,
        )
    logger.info("Published %s as feature table %s", spec.key, target)
    return target

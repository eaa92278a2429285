"""The model registry: versions, the ``champion`` and ``challenger`` aliases, promotion.

Every newly registered version becomes the ``challenger``; the first version of
a model is also the ``champion``. :func:`promote` moves ``champion`` only when
the challenger beats the champion on the same evaluation data, both scored
now, and writes the decision and its reason as tags on the challenger version.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from qos_ml._config import QosConfig
from qos_ml._errors import (
    ConfigError,
    DataQualityError,
    ModelLoadError,
    SchemaMismatchError,
)
from qos_ml._mlflow import configure_mlflow

__all__ = [
    "CHALLENGER",
    "CHAMPION",
    "PromotionDecision",
    "load_model",
    "promote",
    "register_version",
]

logger = logging.getLogger(__name__)

CHAMPION = "champion"
CHALLENGER = "challenger"

#: Promotion metrics and whether higher is better.
_METRICS = {"pr_auc": True, "roc_auc": True, "brier": False}


def register_version(
    model_uri: str, name: str, *, tags: Mapping[str, str] | None = None
) -> Any:
    """Register a logged model as a new version and make it the challenger.

    The first version of ``name`` is made the champion as well.

    Parameters
    ----------
    model_uri : str
        ``runs:/...`` or ``models:/...`` URI of the logged model.
    name : str
        Registered model name (see :meth:`QosConfig.model_name`).
    tags : mapping, optional
        Tags of the new version.

    Returns
    -------
    mlflow.entities.model_registry.ModelVersion
    """
    version = mlflow.register_model(model_uri, name, tags=dict(tags or {}))
    client = MlflowClient()
    client.set_registered_model_alias(name, CHALLENGER, version.version)
    try:
        client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException:
        client.set_registered_model_alias(name, CHAMPION, version.version)
        client.set_model_version_tag(
            name, version.version, "promotion.decision", "initial champion"
        )
        logger.info(
            "Registered %s version %s as the first champion", name, version.version
        )
    else:
        logger.info("Registered %s version %s as challenger", name, version.version)
    return version


def load_model(
    task: str, alias: str = CHAMPION, *, config: QosConfig | None = None
) -> Any:
    """Load a registered model of a task by alias, as a pyfunc model.

    Parameters
    ----------
    task : str
        ``buffering``, ``failure`` or ``anomaly``; the name is
        ``config.model_name(task)``.
    alias : str, default "champion"
    config : QosConfig, optional

    Returns
    -------
    mlflow.pyfunc.PyFuncModel

    Raises
    ------
    ModelLoadError
        The name or alias does not resolve.
    """
    config = config or QosConfig.load()
    configure_mlflow(config)
    return _load(config.model_name(task), alias)


def _load(name: str, alias: str) -> Any:
    uri = f"models:/{name}@{alias}"
    try:
        return mlflow.pyfunc.load_model(uri)
    except MlflowException as exc:
        raise ModelLoadError(f"cannot load {uri}: {exc.message}") from exc


@dataclass(frozen=True)
class PromotionDecision:
    """The outcome of :func:`promote`.

    Attributes
    ----------
    promoted : bool
    reason : str
    metric : str
    challenger_version, champion_version : str
        Versions compared (the champion before the decision).
    challenger_value, champion_value : float
    n_rows : int
        Rows of the evaluation data.
    """

    promoted: bool
    reason: str
    metric: str
    challenger_version: str
    champion_version: str
    challenger_value: float
    champion_value: float
    n_rows: int


def _metric(model: Any, values: pd.DataFrame, y: np.ndarray, metric: str) -> float:
    scores = np.asarray(model.predict(values)["score"], dtype="float64")
    if metric == "pr_auc":
        return float(average_precision_score(y, scores))
    if metric == "roc_auc":
        return float(roc_auc_score(y, scores))
    return float(brier_score_loss(y, scores))


def promote(
    task: str,
    data: Any,
    label: str,
    *,
    config: QosConfig | None = None,
    metric: str = "pr_auc",
    min_improvement: float = 0.0,
) -> PromotionDecision:
    """Move ``champion`` to the challenger if it is better on the same data.

    Both versions score ``data`` now (not their logged metrics, which came from
    different test sets). The decision, the reason and both values are written
    as tags (``promotion.*``) on the challenger version.

    Parameters
    ----------
    task : str
        The task whose model ``config.model_name(task)`` is compared.
    data : pandas.DataFrame or pyspark.sql.DataFrame
        Evaluation rows with the model's features and ``label``.
    label : str
        Binary label column.
    config : QosConfig, optional
    metric : {"pr_auc", "roc_auc", "brier"}, default "pr_auc"
    min_improvement : float, default 0.0
        How much better (in ``metric``) the challenger must be.

    Returns
    -------
    PromotionDecision

    Raises
    ------
    ModelLoadError
        The model has no challenger or no champion.
    DataQualityError
        The evaluation data holds only one class.
    """
    if metric not in _METRICS:
        raise ConfigError("metric", metric, f"one of {', '.join(_METRICS)}", "promote")
    config = config or QosConfig.load()
    configure_mlflow(config)
    name = config.model_name(task)
    client = MlflowClient()
    try:
        challenger = client.get_model_version_by_alias(name, CHALLENGER)
        champion = client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException as exc:
        raise ModelLoadError(
            f"model {name!r} needs both a {CHAMPION!r} and a {CHALLENGER!r} alias to "
            f"promote: {exc.message}"
        ) from exc

    if not isinstance(data, pd.DataFrame):
        data = data.toPandas()
    if label not in data.columns:
        raise SchemaMismatchError(
            f"evaluation data lacks label column {label!r}; it has "
            f"{sorted(data.columns)}"
        )
    y = data[label].astype("int64").to_numpy()
    if y.min() == y.max():
        raise DataQualityError(
            f"promotion needs both classes in {label!r}; all {len(y)} rows are {y[0]}"
        )
    values = data.drop(columns=[label])

    challenger_value = _metric(_load(name, CHALLENGER), values, y, metric)
    if challenger.version == champion.version:
        champion_value = challenger_value
    else:
        champion_value = _metric(_load(name, CHAMPION), values, y, metric)
    higher_is_better = _METRICS[metric]
    gain = (challenger_value - champion_value) * (1 if higher_is_better else -1)
    if challenger.version == champion.version:
        promoted = False
        reason = f"version {challenger.version} is already the champion"
    elif gain > min_improvement:
        promoted = True
        reason = (
            f"{metric} {challenger_value:.4f} beats champion version "
            f"{champion.version} ({champion_value:.4f}) by {gain:.4f} > "
            f"{min_improvement} on {len(y)} rows"
        )
    else:
        promoted = False
        reason = (
            f"{metric} {challenger_value:.4f} does not beat champion version "
            f"{champion.version} ({champion_value:.4f}) by more than "
            f"{min_improvement} on {len(y)} rows"
        )

    tags = {
        "promotion.decision": "promoted" if promoted else "rejected",
        "promotion.reason": reason,
        "promotion.metric": metric,
        "promotion.challenger_value": f"{challenger_value:.6f}",
        "promotion.champion_value": f"{champion_value:.6f}",
        "promotion.champion_version": str(champion.version),
        "promotion.eval_rows": str(len(y)),
        "promotion.decided_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    for key, value in tags.items():
        client.set_model_version_tag(name, challenger.version, key, value)
    if promoted:
        client.set_registered_model_alias(name, CHAMPION, challenger.version)
        client.set_model_version_tag(
            name, champion.version, "promotion.replaced_by", str(challenger.version)
        )
    logger.info("Promotion of %s version %s: %s", name, challenger.version, reason)
    return PromotionDecision(
        promoted=promoted,
        reason=reason,
        metric=metric,
        challenger_version=str(challenger.version),
        champion_version=str(champion.version),
        challenger_value=challenger_value,
        champion_value=champion_value,
        n_rows=len(y),
    )

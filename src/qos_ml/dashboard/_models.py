"""The registered models' current versions and quality, read from MLflow."""

from __future__ import annotations

import logging
import math
from typing import Any

from qos_ml._config import QosConfig
from qos_ml._mlflow import configure_mlflow

__all__ = ["MODEL_TASKS", "QUALITY_METRICS", "model_summaries"]

logger = logging.getLogger(__name__)

#: Tasks whose registered models the dashboard shows.
MODEL_TASKS = ("buffering", "failure", "anomaly")
#: Aliases shown, in this order.
ALIASES = ("champion", "challenger")
#: Metrics shown per version: the first of each tuple that the run logged.
QUALITY_METRICS = {
    "PR-AUC": ("test_pr_auc", "pr_auc"),
    "ROC-AUC": ("test_roc_auc", "roc_auc"),
    "precision": ("test_precision", "precision"),
    "recall": ("test_recall", "recall"),
    "detection rate": ("detection_rate",),
}


def _pick(metrics: dict[str, float], names: tuple[str, ...]) -> float | None:
    for name in names:
        value = metrics.get(name)
        if value is not None and not math.isnan(value):
            return float(value)
    return None


def model_summaries(config: QosConfig) -> list[dict[str, Any]]:
    """Return one entry per task: its model name and its aliased versions.

    Parameters
    ----------
    config : QosConfig

    Returns
    -------
    list of dict
        ``{"task", "name", "registered", "versions": [{"alias", "version",
        "created", "metrics": {label: value}}]}`` (``created`` in epoch ms).
        A task without a registered model has ``registered=False`` and no versions.
    """
    import mlflow
    from mlflow.exceptions import MlflowException

    configure_mlflow(config)
    client = mlflow.MlflowClient()
    summaries = []
    for task in MODEL_TASKS:
        name = config.model_name(task)
        entry: dict[str, Any] = {
            "task": task,
            "name": name,
            "registered": False,
            "versions": [],
        }
        try:
            client.get_registered_model(name)
        except MlflowException:
            summaries.append(entry)
            continue
        entry["registered"] = True
        for alias in ALIASES:
            try:
                version = client.get_model_version_by_alias(name, alias)
            except MlflowException:
                continue
            metrics: dict[str, float] = {}
            if version.run_id:
                try:
                    metrics = dict(client.get_run(version.run_id).data.metrics)
                except MlflowException as exc:
                    logger.debug("run of %s v%s: %s", name, version.version, exc)
            entry["versions"].append(
                {
                    "alias": alias,
                    "version": str(version.version),
                    "created": int(version.creation_timestamp or 0),
                    "metrics": {
                        label: _pick(metrics, names)
                        for label, names in QUALITY_METRICS.items()
                    },
                }
            )
        summaries.append(entry)
    return summaries

"""MLflow setup: the embedded SQLite default, or the workspace's tracking server.

Also the one place where the model serialisation decision is made (see
:data:`SKLEARN_SERIALIZATION`).
"""

from __future__ import annotations

import logging
import os

from qos_ml._config import QosConfig

__all__ = ["SKLEARN_SERIALIZATION", "configure_mlflow"]

logger = logging.getLogger(__name__)

#: scikit-learn models are logged with cloudpickle. mlflow 3's default, skops,
#: refuses gradient-boosted tree models unless every tree type is trusted one by
#: one; cloudpickle loads them, and the registry is the trust boundary: qos_ml only
#: loads models through registered ``models:/`` URIs of the configured registry.
SKLEARN_SERIALIZATION = "cloudpickle"


def configure_mlflow(config: QosConfig | None = None) -> str:
    """Point MLflow at the configured tracking server and registry.

    Locally this is a SQLite database under the lakehouse root and an artifact
    folder beside it; on Databricks the workspace's tracking server and the
    Unity Catalog registry. The experiment ``config.experiment_name`` is created
    with its artifact location under the lakehouse (path mode) and made active.

    Parameters
    ----------
    config : QosConfig, optional
        Default: :meth:`QosConfig.load`.

    Returns
    -------
    str
        The id of the active experiment.
    """
    import mlflow

    config = config or QosConfig.load()
    if config.tracking_uri.startswith("sqlite:"):
        config.lakehouse_root.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(config.tracking_uri)
    mlflow.set_registry_uri(config.registry_uri)
    # Spark workers that load models read these too.
    os.environ["MLFLOW_TRACKING_URI"] = config.tracking_uri
    os.environ["MLFLOW_REGISTRY_URI"] = config.registry_uri
    # One progress bar per artifact download buries the jobs' own progress
    # lines; a user who wants them sets the variable first.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

    name = config.experiment_name
    if config.tracking_uri == "databricks" and not name.startswith("/"):
        name = f"/Shared/{name}"
    experiment = mlflow.get_experiment_by_name(name)
    if experiment is None:
        artifact_location = None
        if config.storage_mode == "path" and not config.tracking_uri.startswith(
            "databricks"
        ):
            config.artifact_root.mkdir(parents=True, exist_ok=True)
            artifact_location = config.artifact_root.as_uri()
        experiment_id = mlflow.create_experiment(
            name, artifact_location=artifact_location
        )
        logger.info("Created MLflow experiment %s (%s)", name, experiment_id)
    else:
        experiment_id = experiment.experiment_id
    mlflow.set_experiment(experiment_id=experiment_id)
    return str(experiment_id)

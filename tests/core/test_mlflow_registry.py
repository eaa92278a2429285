"""The embedded MLflow: log, register, alias and load back by alias."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from qos_ml._mlflow import SKLEARN_SERIALIZATION


def test_register_alias_and_load_by_alias(mlflow_env, qos_config) -> None:
    import mlflow
    from mlflow.models import infer_signature

    rng = np.random.default_rng(7)
    x = pd.DataFrame({"throughput": rng.normal(size=200), "rtt": rng.normal(size=200)})
    y = (x.throughput < 0).astype(int)
    model = LogisticRegression().fit(x, y)
    name = qos_config.model_name("foundation_test")

    with mlflow.start_run() as run:
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            signature=infer_signature(x, model.predict(x)),
            serialization_format=SKLEARN_SERIALIZATION,
            registered_model_name=name,
        )
    assert run.info.experiment_id == mlflow_env
    assert qos_config.tracking_uri.startswith("sqlite:")

    client = mlflow.MlflowClient()
    version = info.registered_model_version
    client.set_registered_model_alias(name, "champion", version)
    loaded = mlflow.pyfunc.load_model(f"models:/{name}@champion")
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert int(client.get_model_version_by_alias(name, "champion").version) == version
    artifact_dir = qos_config.artifact_root
    assert artifact_dir.exists()
    assert any(artifact_dir.iterdir())

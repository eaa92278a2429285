"""Fixtures of the serving tests: a lakehouse and MLflow registry of their own.

Models are registered under the prefix ``serving_test`` in a lakehouse of
the serving tests' own; each module that needs MLflow points it there.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from tests.serving.serving_rows import NUMERIC
from tests.training.synthetic import make_sessions

SECRET = "test-secret-0123456789abcdef"


@pytest.fixture(scope="session")
def serving_catalog(spark, tmp_path_factory):
    """A configuration and catalog of the serving tests' own lakehouse."""
    from qos_ml import QosConfig, TableCatalog

    config = QosConfig.load(
        use_file=False,
        use_env=False,
        lakehouse_root=tmp_path_factory.mktemp("serving_lakehouse"),
        secret=SECRET,
        shuffle_partitions=2,
        model_prefix="serving_test",
    )
    return TableCatalog(config, spark)


@pytest.fixture(scope="module")
def serving_mlflow(serving_catalog) -> Iterator[None]:
    """MLflow pointed at the serving lakehouse for one test module."""
    from qos_ml import configure_mlflow

    saved = {
        k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")
    }
    configure_mlflow(serving_catalog.config)
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="module")
def serving_env(serving_catalog, serving_mlflow) -> dict:
    """Two registered buffering versions: 1 on ``rtt_ms``, 2 on every feature."""
    from qos_ml.training import FeatureSpec, train_classifier

    config = serving_catalog.config
    data = make_sessions(300, seed=5)
    common = dict(
        task="buffering", config=config, max_evals=0, n_splits=2, trials="local"
    )
    weak = FeatureSpec("stalled", numeric=["rtt_ms"], group="video_id")
    full = FeatureSpec(
        "stalled", numeric=NUMERIC, categorical=["device"], group="video_id"
    )
    v1 = train_classifier(data, weak, **common)
    v2 = train_classifier(data, full, **common)
    return {
        "config": config,
        "catalog": serving_catalog,
        "name": config.model_name("buffering"),
        "versions": (v1.version, v2.version),
        "data": data,
    }


@pytest.fixture
def http_server():
    """The loopback HTTP server of the sink tests."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "sinks" / "conftest.py"
    spec = importlib.util.spec_from_file_location("_sink_servers_serving", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield from module.http_server.__wrapped__()

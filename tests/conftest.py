"""Shared fixtures: one local SparkSession with Delta for the whole run.

Tests that need Spark take the ``spark`` fixture and carry the ``spark`` marker
(added automatically here), so ``pytest -m "not spark"`` is the fast lane.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
TEST_SECRET = "test-secret-0123456789abcdef"


def shared_data(relative: str) -> Path:
    """Return a path under ../shared/data, skipping the test when it is absent."""
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"shared data {path} is absent (see shared/data/MANIFEST.md)")
    return path


def pytest_terminal_summary(terminalreporter) -> None:
    """Print the figures tests recorded with ``record_property("figure", ...)``.

    User properties travel with the test reports, so this works under xdist too.
    """
    figures = [
        value
        for report in terminalreporter.stats.get("passed", [])
        for key, value in getattr(report, "user_properties", ())
        if key == "figure"
    ]
    if figures:
        terminalreporter.section("qos_ml figures")
        for line in figures:
            terminalreporter.write_line(str(line))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "spark" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.spark)


@pytest.fixture(scope="session")
def lakehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A lakehouse root folder shared by the session's Spark and MLflow."""
    return tmp_path_factory.mktemp("lakehouse")


@pytest.fixture(scope="session")
def qos_config(lakehouse: Path):
    from qos_ml import QosConfig

    return QosConfig.load(
        use_file=False,
        use_env=False,
        lakehouse_root=lakehouse,
        secret=TEST_SECRET,
        shuffle_partitions=2,
        # Tiny inputs: compiling whole-stage code costs more than it saves.
        spark_conf={
            "spark.ui.enabled": "false",
            "spark.sql.codegen.wholeStage": "false",
        },
    )


@pytest.fixture(scope="session")
def spark(qos_config) -> Iterator[object]:
    """The one local SparkSession of the test run, with Delta Lake."""
    from qos_ml import get_spark

    session = get_spark(qos_config, app_name="qos_ml-tests")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def catalog(qos_config, spark):
    from qos_ml import TableCatalog

    return TableCatalog(qos_config, spark)


@pytest.fixture
def mlflow_env(qos_config) -> Iterator[str]:
    """MLflow pointed at the embedded SQLite store of the test lakehouse."""
    from qos_ml import configure_mlflow

    previous = {
        k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")
    }
    yield configure_mlflow(qos_config)
    for key, value in previous.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value

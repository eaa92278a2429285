"""Environment checks behind ``qos-ml doctor``: Java, Spark, Delta, MLflow, folders."""

from __future__ import annotations

import logging
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from qos_ml._config import QosConfig
from qos_ml._errors import QosMlError

__all__ = ["Check", "run_checks"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Check:
    """Outcome of one environment check.

    Attributes
    ----------
    name : str
    ok : bool
    detail : str
        What was found, or what is wrong and how to fix it.
    """

    name: str
    ok: bool
    detail: str


def _python() -> str:
    found = sys.version.split()[0]
    if sys.version_info[:2] < (3, 11):  # noqa: UP036  (install forced past requires)
        raise QosMlError(f"Python {found}; qos_ml needs 3.11 or newer")
    return found


def _java() -> str:
    from qos_ml._spark import MIN_JAVA, java_version

    major = java_version()
    if major < MIN_JAVA:
        raise QosMlError(f"Java {major}; install Java {MIN_JAVA}+ and set JAVA_HOME")
    return f"Java {major}"


def _packages() -> str:
    found = []
    for name in ("pyspark", "delta-spark", "mlflow", "scikit-learn", "pandas"):
        try:
            found.append(f"{name} {version(name)}")
        except PackageNotFoundError as exc:
            raise QosMlError(f"{name} is not installed: pip install qos-ml") from exc
    return ", ".join(found)


def _locations(config: QosConfig) -> str:
    if config.storage_mode == "metastore":
        return (
            f"metastore {config.catalog}.{config.database}; "
            f"checkpoints {config.checkpoints}"
        )
    for folder in (config.lakehouse_root, config.checkpoints, config.landing):
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder):
            pass
    return f"{config.lakehouse_root} is writable"


def _spark_delta(config: QosConfig) -> str:
    from qos_ml._spark import get_spark

    started = time.perf_counter()
    spark = get_spark(config)
    with tempfile.TemporaryDirectory(
        dir=config.lakehouse_root if config.storage_mode == "path" else None
    ) as tmp:
        path = str(Path(tmp) / "doctor")
        spark.range(3).write.format("delta").save(path)
        rows = spark.read.format("delta").load(path).count()
    if rows != 3:
        raise QosMlError(f"Delta round trip returned {rows} rows instead of 3")
    took = time.perf_counter() - started
    return f"Spark {spark.version} wrote and read a Delta table ({took:.1f} s)"


def _mlflow(config: QosConfig) -> str:
    import mlflow

    from qos_ml._mlflow import configure_mlflow

    experiment_id = configure_mlflow(config)
    client = mlflow.MlflowClient()
    client.search_registered_models(max_results=1)
    return (
        f"{config.tracking_uri} (experiment {experiment_id}); "
        f"registry {config.registry_uri}"
    )


def run_checks(config: QosConfig, *, spark: bool = True) -> Iterator[Check]:
    """Run the environment checks one by one.

    Parameters
    ----------
    config : QosConfig
    spark : bool, default True
        Also start Spark and write a Delta table (the slow check).

    Yields
    ------
    Check
        One per check, as soon as it finishes.
    """
    checks: list[tuple[str, Callable[[], str]]] = [
        ("python", _python),
        ("java", _java),
        ("packages", _packages),
        ("locations", lambda: _locations(config)),
        ("mlflow", lambda: _mlflow(config)),
    ]
    if spark:
        checks.append(("spark + delta", lambda: _spark_delta(config)))
    for name, check in checks:
        try:
            yield Check(name, True, check())
        except Exception as exc:  # every failure becomes a line of the report
            logger.debug("check %s failed", name, exc_info=True)
            yield Check(name, False, f"{type(exc).__name__}: {exc}")

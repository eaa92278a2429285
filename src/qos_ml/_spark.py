"""The SparkSession helper: reuse the active session, or build a local one with Delta.

On Databricks, in a Spark job, in a notebook or under Spark Connect a session
already exists and :func:`get_spark` returns it untouched: no second session is
ever started and no jar is added. On a laptop it builds a ``local[N]`` session
with Delta Lake's SQL extension and catalog, the Delta jar resolved from Maven
Central through delta-spark's helper (or local jars given by ``delta_jars``),
and Python workers running the driver's interpreter.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from qos_ml._config import QosConfig
from qos_ml._errors import SparkSetupError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["MIN_JAVA", "delta_maven_coordinate", "get_spark", "java_version"]

logger = logging.getLogger(__name__)

MIN_JAVA = 17
_LOCK = threading.Lock()


def java_version() -> int:
    """Return the major version of the Java that Spark will start.

    Raises
    ------
    SparkSetupError
        When no ``java`` is found or it does not report a version.
    """
    java_home = os.environ.get("JAVA_HOME")
    java = os.path.join(java_home, "bin", "java") if java_home else shutil.which("java")
    if not java or not os.path.exists(java):
        raise SparkSetupError(
            f"Java was not found (JAVA_HOME={java_home!r}, no 'java' on PATH). "
            f"Spark needs Java {MIN_JAVA} or newer: install it, e.g. "
            "'apt-get install openjdk-17-jre-headless', or set JAVA_HOME."
        )
    try:
        out = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except OSError as exc:
        raise SparkSetupError(f"could not run {java} -version: {exc}") from exc
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not match:
        raise SparkSetupError(f"{java} -version printed no version: {out.stderr!r}")
    major = int(match.group(1))
    # Java 8 and older report "1.8.0_x".
    return int(match.group(2) or 0) if major == 1 else major


def delta_maven_coordinate() -> str:
    """Return the Maven coordinate of the Delta jar that matches delta-spark."""
    from importlib.metadata import version

    import pyspark

    delta_version = version("delta-spark")
    spark_minor = ".".join(pyspark.__version__.split(".")[:2])
    # delta-spark 4 names its jar after the Spark line, as its pip helper does.
    return f"io.delta:delta-spark_{spark_minor}_2.13:{delta_version}"


def _active_session() -> SparkSession | None:
    from pyspark.sql import SparkSession

    try:
        return SparkSession.getActiveSession()
    except Exception:  # a half-stopped JVM answers with Py4J errors
        logger.debug("No usable active SparkSession", exc_info=True)
        return None


def get_spark(
    config: QosConfig | None = None,
    *,
    app_name: str = "qos_ml",
    extra_conf: dict[str, str] | None = None,
) -> SparkSession:
    """Return the active SparkSession, or build a local one with Delta Lake.

    Parameters
    ----------
    config : QosConfig, optional
        Where the lakehouse lives and how to build a local session. Default:
        :meth:`QosConfig.load`.
    app_name : str, default "qos_ml"
        Application name of a locally built session.
    extra_conf : dict, optional
        Spark settings for a locally built session, on top of
        ``config.spark_conf``. Ignored when a session is already active.

    Returns
    -------
    pyspark.sql.SparkSession
        The active session where one exists (Databricks, a job, a notebook,
        Spark Connect); otherwise a new local session.

    Raises
    ------
    SparkSetupError
        When Java is missing or too old, or the Delta jar cannot be resolved;
        the message says what to install or which setting to use offline.
    """
    active = _active_session()
    if active is not None:
        return active

    with _LOCK:
        active = _active_session()
        if active is not None:
            return active
        config = config or QosConfig.load()
        if os.environ.get("SPARK_REMOTE"):
            return _connect_session(os.environ["SPARK_REMOTE"], app_name)
        return _local_session(config, app_name, extra_conf or {})


def _connect_session(remote: str, app_name: str) -> SparkSession:
    from pyspark.sql import SparkSession

    logger.info("Connecting to Spark Connect at %s", remote)
    return SparkSession.builder.remote(remote).appName(app_name).getOrCreate()


def local_conf(config: QosConfig) -> dict[str, str]:
    """Return the Spark settings qos_ml uses for a local session with Delta."""
    root = config.lakehouse_root
    return {
        "spark.master": config.spark_master,
        "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
        "spark.sql.catalog.spark_catalog": (
            "org.apache.spark.sql.delta.catalog.DeltaCatalog"
        ),
        "spark.driver.memory": config.spark_driver_memory,
        "spark.sql.shuffle.partitions": str(config.shuffle_partitions),
        "spark.default.parallelism": str(config.shuffle_partitions),
        # Event times are UTC everywhere; a laptop's zone must not shift windows.
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.warehouse.dir": str(root / "_warehouse"),
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={root / '_derby'}",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.ui.showConsoleProgress": "false",
        # Stay on loopback: nothing of a local session listens on the network.
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.sql.streaming.stopGracefullyOnShutdown": "true",
        # Small local tables: do not spend seconds on adaptive planning of tiny data.
        "spark.databricks.delta.snapshotPartitions": "2",
        "spark.databricks.delta.retentionDurationCheck.enabled": "false",
    }


def _jar_cache_file() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    name = delta_maven_coordinate().replace(":", "_")
    return base / "qos_ml" / f"{name}.jars"


def _cached_delta_jars() -> str | None:
    """Return the jar paths a previous start resolved, if they all still exist."""
    path = _jar_cache_file()
    if not path.is_file():
        return None
    jars = [j for j in path.read_text().split(",") if j]
    if not jars or not all(Path(urlparse(j).path).is_file() for j in jars):
        return None
    return ",".join(jars)


def _remember_delta_jars(jars: str) -> None:
    if "delta-spark" not in jars:
        return
    path = _jar_cache_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(jars)
    logger.info("Remembered the resolved Delta jars in %s", path)


def _local_session(
    config: QosConfig, app_name: str, extra_conf: dict[str, str]
) -> SparkSession:
    from pyspark.sql import SparkSession

    major = java_version()
    if major < MIN_JAVA:
        raise SparkSetupError(
            f"Java {major} was found; Spark 4 needs Java {MIN_JAVA} or newer. "
            "Install openjdk-17 (or newer) and set JAVA_HOME to it."
        )
    # Workers must import what the driver imports: same interpreter.
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    config.lakehouse_root.mkdir(parents=True, exist_ok=True)

    builder = SparkSession.builder.appName(app_name)
    settings = {**local_conf(config), **config.spark_conf, **extra_conf}
    for key, value in settings.items():
        builder = builder.config(key, value)

    cached = _cached_delta_jars()
    # Jars the user lists (a Kafka connector, say) come after Delta's.
    user_jars = [j for j in settings.get("spark.jars", "").split(",") if j]
    if config.delta_jars:
        jars = [config.delta_jars, *user_jars]
        builder = builder.config("spark.jars", ",".join(jars))
    elif cached and "spark.jars.packages" not in settings:
        # Resolved before: skip Ivy, which re-checks remote repositories each start.
        builder = builder.config("spark.jars", ",".join([cached, *user_jars]))
    else:
        from delta import configure_spark_with_delta_pip

        # The helper sets spark.jars.packages; keep packages the user asked for
        # too (Spark's Kafka connector, say).
        extra = [p for p in settings.get("spark.jars.packages", "").split(",") if p]
        builder = configure_spark_with_delta_pip(builder, extra_packages=extra)

    started = time.perf_counter()
    try:
        spark = builder.getOrCreate()
    except Exception as exc:
        raise SparkSetupError(
            "Spark with Delta Lake could not start: "
            f"{type(exc).__name__}: {str(exc)[:500]}. The Delta jar "
            f"{delta_maven_coordinate()} is resolved from Maven Central (through "
            "~/.m2/repository first). Offline, fetch it once with 'mvn "
            f"dependency:get -Dartifact={delta_maven_coordinate()}' or point "
            "QOS_ML_DELTA_JARS at local copies of the delta-spark and "
            "delta-storage jars. Run 'qos-ml doctor' for a full check."
        ) from exc
    spark.sparkContext.setLogLevel("WARN")
    if not cached and not config.delta_jars and "spark.jars.packages" not in settings:
        resolved = spark.sparkContext.getConf().get("spark.jars", "").split(",")
        _remember_delta_jars(",".join(j for j in resolved if j and j not in user_jars))
    logger.info(
        "Started local Spark %s (%s) with Delta Lake in %.1f s",
        spark.version,
        config.spark_master,
        time.perf_counter() - started,
    )
    return spark


def ensure_delta_jar(config: QosConfig | None = None) -> str:
    """Resolve the Delta jar into the local caches once, so later starts are offline.

    Starts a throw-away local session in a child process (so this process keeps
    no JVM); when Spark's resolver cannot reach Maven Central but ``mvn`` can,
    fetches the jar into ``~/.m2`` with ``mvn dependency:get`` and tries again.

    Returns
    -------
    str
        The Maven coordinate that was resolved.

    Raises
    ------
    SparkSetupError
        When neither way resolves the jar.
    """
    coordinate = delta_maven_coordinate()
    probe = (
        "from qos_ml import QosConfig, get_spark; import tempfile; "
        "d = tempfile.mkdtemp(); "
        "s = get_spark(QosConfig.load(use_file=False, lakehouse_root=d)); "
        "s.range(1).count(); s.stop()"
    )

    def attempt() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", probe],
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )

    result = attempt()
    if result.returncode != 0 and shutil.which("mvn"):
        logger.info("Spark could not resolve %s; fetching it with mvn", coordinate)
        subprocess.run(
            ["mvn", "-q", "dependency:get", f"-Dartifact={coordinate}"],
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        result = attempt()
    if result.returncode != 0:
        tail = "\n".join(result.stderr.strip().splitlines()[-5:])
        raise SparkSetupError(f"could not resolve the Delta jar {coordinate}:\n{tail}")
    return coordinate

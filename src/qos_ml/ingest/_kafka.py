"""Reading Kafka topics as the same ``source_file``/``content`` rows as files.

A Kafka location is written ``kafka://<bootstrap servers>/<topics>``, e.g.
``kafka://broker-1:9092,broker-2:9092/player-events`` (several topics separated
by commas). Each record's value is treated like a small file: its lines are
parsed by the source exactly as the lines of a landing file, and its
``source_file`` is ``kafka://<topic>/<partition>/<offset>``, so that every
bronze and quarantine row says which record it came from and replays of the
same offsets are recognised.

The reader is Spark's Kafka connector (``spark-sql-kafka-0-10``): built into
Databricks runtimes; on other Spark installations it is added to the session
with ``spark.jars.packages`` (see :func:`kafka_package`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pyspark.sql import functions as F

from qos_ml._errors import ConfigError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["KAFKA_SCHEME", "KafkaLocation", "kafka_package", "read_kafka"]

KAFKA_SCHEME = "kafka://"


def kafka_package() -> str:
    """Maven coordinate of Spark's Kafka connector for the installed PySpark.

    Examples
    --------
    >>> kafka_package().startswith("org.apache.spark:spark-sql-kafka-0-10_2.13:")
    True
    """
    import pyspark

    return f"org.apache.spark:spark-sql-kafka-0-10_2.13:{pyspark.__version__}"


@dataclass(frozen=True)
class KafkaLocation:
    """Where to read: bootstrap servers and topics.

    Attributes
    ----------
    bootstrap_servers : str
        ``host:port`` pairs separated by commas.
    topics : tuple of str
    """

    bootstrap_servers: str
    topics: tuple[str, ...]

    @classmethod
    def parse(cls, location: str) -> KafkaLocation:
        """Parse ``kafka://<servers>/<topics>``.

        Raises
        ------
        ConfigError
            When the location has no servers or no topic.

        Examples
        --------
        >>> KafkaLocation.parse("kafka://b1:9092,b2:9092/events,logs")
        KafkaLocation(bootstrap_servers='b1:9092,b2:9092', topics=('events', 'logs'))
        """
        if not location.startswith(KAFKA_SCHEME):
            raise ConfigError("location", location, f"a {KAFKA_SCHEME} location")
        servers, _, topics = location[len(KAFKA_SCHEME) :].partition("/")
        names = tuple(t for t in topics.strip("/").split(",") if t)
        if not servers or not names:
            raise ConfigError(
                "location",
                location,
                "kafka://<host:port[,host:port]>/<topic[,topic]>",
            )
        return cls(servers, names)

    def reader_options(self) -> dict[str, str]:
        """Options of Spark's Kafka source for this location."""
        return {
            "kafka.bootstrap.servers": self.bootstrap_servers,
            "subscribe": ",".join(self.topics),
        }


def is_kafka(location: object) -> bool:
    """Whether ``location`` is a ``kafka://`` string."""
    return isinstance(location, str) and location.startswith(KAFKA_SCHEME)


def read_kafka(
    spark: SparkSession,
    location: str,
    *,
    streaming: bool = False,
    options: Mapping[str, str] | None = None,
) -> DataFrame:
    """Read a Kafka location as ``source_file`` and ``content`` rows.

    Parameters
    ----------
    spark : SparkSession
    location : str
        ``kafka://<bootstrap servers>/<topics>``.
    streaming : bool, default False
        ``spark.readStream`` (resumes from its checkpoint) or a batch read of
        what the topics hold (``startingOffsets`` to ``endingOffsets``).
    options : mapping, optional
        Further options of Spark's Kafka source (``startingOffsets``,
        ``maxOffsetsPerTrigger``, ``kafka.security.protocol``, ...).
        Default ``startingOffsets``: ``earliest``.

    Returns
    -------
    DataFrame

    Raises
    ------
    ConfigError
        When the location is malformed or the session lacks the connector.
    """
    where = KafkaLocation.parse(location)
    settings = {
        "startingOffsets": "earliest",
        **where.reader_options(),
        **(options or {}),
    }
    reader = (spark.readStream if streaming else spark.read).format("kafka")
    try:
        df = reader.options(**settings).load()
    except Exception as exc:
        if "kafka" in str(exc).lower() and (
            "DATA_SOURCE_NOT_FOUND" in str(exc) or "Failed to find" in str(exc)
        ):
            raise ConfigError(
                "spark.jars.packages",
                spark.conf.get("spark.jars.packages", "") or "(not set)",
                f"Spark's Kafka connector on the session: start it with "
                f"spark_conf {{'spark.jars.packages': '{kafka_package()}'}} "
                f"(QOS_ML_SPARK_CONF=spark.jars.packages={kafka_package()}); "
                "Databricks runtimes include it",
            ) from exc
        raise
    return df.select(
        F.concat(
            F.lit(KAFKA_SCHEME),
            F.col("topic"),
            F.lit("/"),
            F.col("partition").cast("string"),
            F.lit("/"),
            F.col("offset").cast("string"),
        ).alias("source_file"),
        F.col("value").cast("string").alias("content"),
    )

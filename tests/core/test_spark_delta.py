"""get_spark and the table catalog against a real local Spark with Delta Lake."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from pyspark.sql.types import LongType, StringType, StructField, StructType

from qos_ml import (
    QosConfig,
    SchemaMismatchError,
    SparkSetupError,
    TableCatalog,
    TableNotFoundError,
    TableSpec,
    declared_tables,
    get_spark,
)
from qos_ml._spark import delta_maven_coordinate, java_version

EVENTS = TableSpec(
    key="bronze.test_events",
    description="events written by the foundation tests",
    schema=StructType(
        [StructField("id", LongType()), StructField("kind", StringType())]
    ),
    primary_key=("id",),
)
COPY = TableSpec(
    key="silver.test_events_copy",
    description="streamed copy of bronze.test_events",
    schema=EVENTS.schema,
)


@pytest.fixture(scope="module")
def test_catalog(qos_config, spark) -> TableCatalog:
    return TableCatalog(qos_config, spark, tables={t.key: t for t in (EVENTS, COPY)})


def test_active_session_is_returned_not_rebuilt(spark, qos_config) -> None:
    other = qos_config.replace(spark_master="local[1]", shuffle_partitions=7)
    assert get_spark(other) is spark
    assert spark.conf.get("spark.sql.shuffle.partitions") == "2"


def test_local_session_has_delta_and_utc(spark) -> None:
    assert "DeltaSparkSessionExtension" in spark.conf.get("spark.sql.extensions")
    assert spark.conf.get("spark.sql.session.timeZone") == "UTC"


def test_write_read_and_time_travel(test_catalog, spark) -> None:
    key = EVENTS.key
    test_catalog.write(
        spark.createDataFrame([(1, "play"), (2, "stop")], "id long, kind string"), key
    )
    first = test_catalog.version(key)
    test_catalog.write(
        spark.createDataFrame([(3, "error")], "id long, kind string"), key
    )

    assert test_catalog.read(key).count() == 3
    old = test_catalog.read(key, version=first)
    assert sorted(r.id for r in old.collect()) == [1, 2]
    assert test_catalog.version(key) == first + 1
    assert test_catalog.qualified_name(key).startswith("delta.`")


def test_write_casts_and_rejects_missing_columns(test_catalog, spark) -> None:
    df = spark.createDataFrame(
        [("7", "seek", "extra")], "id string, kind string, x string"
    )
    test_catalog.write(df, EVENTS.key)
    assert test_catalog.read(EVENTS.key).where("id = 7").count() == 1
    with pytest.raises(SchemaMismatchError, match=r"bronze.test_events.*\['kind'\]"):
        test_catalog.write(spark.createDataFrame([(8,)], "id long"), EVENTS.key)


def test_stream_from_one_delta_table_to_another(test_catalog) -> None:
    source = test_catalog.read_stream(EVENTS.key)
    query = test_catalog.write_stream(source, COPY.key, "test_copy")
    query.awaitTermination(120)
    assert query.exception() is None
    copied = test_catalog.read(COPY.key).count()
    assert copied == test_catalog.read(EVENTS.key).count()

    # A second run with the same checkpoint copies only what is new.
    test_catalog.write(
        test_catalog.spark.createDataFrame([(9, "stop")], "id long, kind string"),
        EVENTS.key,
    )
    again = test_catalog.write_stream(
        test_catalog.read_stream(EVENTS.key), COPY.key, "test_copy"
    )
    again.awaitTermination(120)
    assert test_catalog.read(COPY.key).count() == copied + 1


def test_existing_table_with_other_schema_is_reported(qos_config, spark) -> None:
    narrow = TableSpec(
        key="bronze.test_events",
        description="a later declaration that grew a column",
        schema=StructType([*EVENTS.schema.fields, StructField("v", LongType())]),
    )
    grown = TableCatalog(qos_config, spark, tables={narrow.key: narrow})
    grown.create(EVENTS.key) if not grown.exists(EVENTS.key) else None
    with pytest.raises(SchemaMismatchError, match=r"missing columns \['v'\].*Migrate"):
        grown.create(EVENTS.key)


def test_unknown_table_lists_declared_ones(test_catalog) -> None:
    with pytest.raises(TableNotFoundError, match=r"'gold.nope'.*bronze.test_events"):
        test_catalog.spec("gold.nope")


def test_metastore_names_are_three_part(spark) -> None:
    config = QosConfig.load(
        use_file=False, use_env=False, catalog="main", database="qos"
    )
    catalog = TableCatalog(config, spark)
    assert (
        catalog.qualified_name("silver.cdn_requests") == "main.qos.silver_cdn_requests"
    )
    assert catalog.path("silver.cdn_requests") is None


def test_builtin_silver_tables_are_declared() -> None:
    tables = declared_tables()
    assert {"silver.player_events", "silver.cdn_requests"} <= set(tables)


def test_java_is_found_and_recent() -> None:
    assert java_version() >= 17


def test_missing_java_is_a_clear_error(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "no-java"))
    with pytest.raises(SparkSetupError, match=r"Java was not found.*openjdk-17"):
        java_version()


@pytest.mark.slow
def test_unresolvable_jar_is_a_clear_error(tmp_path) -> None:
    """A session that cannot resolve its jars fails with advice, in a child process."""
    bogus = "io.delta:no-such-jar_2.13:0.0.1"
    code = (
        "from qos_ml import get_spark, QosConfig, SparkSetupError\n"
        "cfg = QosConfig.load(use_file=False, use_env=False,\n"
        f"                    lakehouse_root={str(tmp_path)!r})\n"
        "try:\n"
        f"    get_spark(cfg, extra_conf={{'spark.jars.packages': {bogus!r}}})\n"
        "except SparkSetupError as exc:\n"
        "    print('MESSAGE', exc)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYSPARK")}
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert "MESSAGE Spark with Delta Lake could not start" in out.stdout, out.stderr[
        -2000:
    ]
    assert f"mvn dependency:get -Dartifact={delta_maven_coordinate()}" in out.stdout
    assert "QOS_ML_DELTA_JARS" in out.stdout

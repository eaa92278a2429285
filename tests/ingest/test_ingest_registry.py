"""The source registry and the contract every registered source meets."""

from __future__ import annotations

from importlib.metadata import EntryPoint
from typing import ClassVar

import pytest

from qos_ml._errors import PluginError, QosMlWarning


def _dummy_source_class():
    from pyspark.sql import functions as F

    from qos_ml.ingest import Source, split_lines

    class PipeSource(Source):
        """A toy nginx-like format: request id|epoch seconds|client ip."""

        name: ClassVar[str] = "dummy_pipe"
        bronze_table: ClassVar[str] = "bronze.cloudfront_standard"
        silver_table: ClassVar[str] = "silver.cdn_requests"

        def parse(self, files):
            lines = split_lines(files)
            parts = F.split("line", r"\|", -1)
            ok = F.size(parts) == 3
            return lines.select(
                "source_file",
                "line_number",
                "kind",
                F.col("line").alias("raw"),
                F.timestamp_seconds(F.get(parts, 1).try_cast("bigint")).alias(
                    "request_time"
                ),
                F.get(parts, 0).alias("x_edge_request_id"),
                F.get(parts, 2).alias("c_ip"),
                F.when(~ok, F.lit("expected 3 fields separated by |")).alias("_reason"),
            )

        def to_silver(self, bronze):
            return bronze.select(
                F.col("x_edge_request_id").alias("request_id"),
                "request_time",
                F.col("c_ip").alias("client_ip"),
                F.lit(None).cast("string").alias("user_agent"),
                F.lit(None).cast("string").alias("edge_location"),
                "source_file",
                "line_number",
                "ingested_at",
            )

    return PipeSource


def test_unknown_source_lists_known_ones():
    from qos_ml.ingest import sources

    with pytest.raises(PluginError, match=r"unknown ingestion source 'fastly'.*"
                       r"akamai_ds2, cloudfront_realtime"):  # fmt: skip
        sources.get("fastly")


def test_registry_checks_classes():
    from qos_ml.ingest import SourceRegistry

    registry = SourceRegistry(group="qos_ml.tests.none")
    with pytest.raises(PluginError, match=r"not a subclass of qos_ml\.ingest\.Source"):
        registry.register(dict)  # type: ignore[arg-type]
    cls = _dummy_source_class()
    registry.register(cls)
    with pytest.raises(PluginError, match="registered already"):
        registry.register(type("Other", (cls,), {}))
    bad = type("Bad", (cls,), {"silver_table": "gold.x"})
    with pytest.raises(PluginError, match=r"silver_table .gold\.x."):
        registry.register(bad, replace=True)


def test_registry_requires_names_and_tables():
    from qos_ml.ingest import SourceRegistry

    registry = SourceRegistry(group="qos_ml.tests.none")
    cls = _dummy_source_class()
    nameless = type("Nameless", (cls,), {"bronze_table": None})
    with pytest.raises(
        PluginError, match="class Nameless has no str attribute 'bronze_table'"
    ):
        registry.register(nameless)


def test_streaming_reads_exactly_one_landing_folder(spark, tmp_path):
    from qos_ml._errors import ConfigError
    from qos_ml.ingest import read_files

    with pytest.raises(ConfigError, match="exactly one landing folder"):
        read_files(spark, [str(tmp_path), str(tmp_path)], streaming=True)


def test_broken_plugin_warns_and_others_load(monkeypatch):
    import qos_ml.ingest._registry as reg

    good = EntryPoint("pipe", "tests.ingest.test_ingest_registry:PipePlugin", "g")
    broken = EntryPoint("broken", "no_such_module_xyz:Source", "g")
    monkeypatch.setattr(reg, "entry_points", lambda group: [broken, good])
    registry = reg.SourceRegistry(group="g")

    with pytest.warns(QosMlWarning, match="plugin 'broken'.*could not be loaded"):
        names = registry.names()
    assert names == ["dummy_pipe"]


#: Loaded through an entry point by the plugin test.
PipePlugin = _dummy_source_class()


@pytest.fixture(scope="module")
def registry_with_dummy():
    from qos_ml.ingest import sources

    cls = _dummy_source_class()
    sources.register(cls, replace=True)
    yield sources
    sources.unregister(cls.name)


SAMPLES = {
    "cloudfront_standard": ("cloudfront/fixtures/web-1-0.txt", 2),
    "cloudfront_realtime": ("cloudfront/fixtures/kinesis-1-0.txt", 1),
    "akamai_ds2": ("cdn/akamai-ds2-sample.json", 1),
}


def test_every_registered_source_meets_the_contract(
    spark, catalog, registry_with_dummy, write_file
):
    """Parse a sample, split bronze/quarantine, map and finish silver rows."""
    from pyspark.sql import functions as F
    from tests.conftest import shared_data

    from qos_ml.ingest import (
        airports_frame,
        finish_cdn_requests,
        finish_player_events,
        read_files,
    )

    samples = {
        **{k: (str(shared_data(p)), n) for k, (p, n) in SAMPLES.items()},
        "player_events": (
            str(
                write_file(
                    "p.jsonl",
                    '{"MetricType":"PLAY","user_id":"u",'
                    '"video_id":"v","playlist_type":"vod",'
                    '"TimeStamp":1714564800000}\nnot json\n',
                )
            ),
            2,
        ),
        "dummy_pipe": (str(write_file("d.log", "r1|1714564800|192.0.2.1\nbad\n")), 2),
    }
    assert set(registry_with_dummy.names()) <= set(samples), "a source lacks a sample"
    for name in registry_with_dummy.names():
        source = registry_with_dummy.get(name)
        bronze_spec = catalog.spec(source.bronze_table)
        parsed = source.parse(read_files(spark, samples[name][0]))
        for column in ("source_file", "line_number", "kind", "raw", "_reason"):
            assert column in parsed.columns, (name, column)
        data = parsed.where("kind = 'data'")
        assert data.count() == samples[name][1], name
        bronze = data.where("_reason is null").withColumn(
            "ingested_at", F.current_timestamp()
        )
        extra = set(bronze.columns) - set(bronze_spec.schema.fieldNames())
        assert extra <= {"kind", "_reason"}, (name, extra)
        intermediate = source.to_silver(bronze)
        key = b"contract-key-0123456789"
        if source.silver_table == "silver.cdn_requests":
            silver = finish_cdn_requests(
                intermediate, key=key, airports=airports_frame(spark)
            )
        else:
            silver = finish_player_events(intermediate, key=key)
        spec = catalog.spec(source.silver_table)
        assert [(f.name, f.dataType) for f in silver.schema] == [
            (f.name, f.dataType) for f in spec.schema
        ], name
        assert silver.where(F.col(spec.primary_key[0]).isNull()).count() == 0, name
        assert "client_ip" not in silver.columns
        assert "user_id" not in silver.columns

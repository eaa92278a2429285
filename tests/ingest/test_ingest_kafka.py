"""Kafka ingestion against a real broker on loopback (#4).

A single-node Apache Kafka broker runs in a child JVM (``kafka_broker``); the
simulator's player events and real-time CDN log lines are produced to topics
with Kafka's console producer, and ``qos-ml ingest`` reads them in a child
process whose Spark session has the Kafka connector (the test run's own session
does not: a JVM takes its jars once, at start).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kafka_broker.broker import KafkaBroker, connector_jars, missing_reason

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(missing_reason() is not None, reason=str(missing_reason())),
]

BAD_RECORDS = ['{"EventType": "play", "TimeStamp": ', "not json at all"]


def _lines(folder: Path, pattern: str) -> list[str]:
    return [
        line
        for path in sorted(folder.glob(pattern))
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    kafka = KafkaBroker(tmp_path_factory.mktemp("kafka"))
    kafka.start()
    yield kafka
    kafka.stop()


@pytest.fixture(scope="module")
def sim_lines(tmp_path_factory) -> dict[str, list[str]]:
    from qos_ml.simulate import SimulationConfig, simulate

    out = tmp_path_factory.mktemp("kafka_sim")
    simulate(SimulationConfig(seed=5, sessions=6, mean_watch_s=60), out)
    return {
        "player_events": _lines(out / "player_events", "part-*.jsonl"),
        "cloudfront_realtime": _lines(out / "cloudfront_realtime", "part-*.log"),
    }


@pytest.fixture(scope="module")
def qos_ml_cli(tmp_path_factory):
    """Runs ``qos-ml`` in a child process with the connector on its session."""
    lakehouse = tmp_path_factory.mktemp("kafka_lakehouse")
    config = lakehouse.parent / "kafka_qos_ml.toml"
    config.write_text(
        f'lakehouse_root = "{lakehouse}"\n'
        "shuffle_partitions = 2\n"
        "[spark_conf]\n"
        f'"spark.jars" = "{",".join(connector_jars())}"\n'
        '"spark.ui.enabled" = "false"\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("QOS_ML_")}
    qos_ml = Path(sys.executable).with_name("qos-ml")

    def run(*args: str) -> str:
        result = subprocess.run(
            [str(qos_ml), "--config", str(config), *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=600,
            check=False,
        )
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        return result.stdout

    run.lakehouse = lakehouse  # type: ignore[attr-defined]
    return run


def _catalog(qos_config, spark, lakehouse: Path):
    from qos_ml import TableCatalog

    return TableCatalog(qos_config.replace(lakehouse_root=lakehouse), spark)


def test_stream_reads_a_topic_exactly_once_and_quarantines_bad_records(
    broker, sim_lines, qos_ml_cli, qos_config, spark
) -> None:
    events = sim_lines["player_events"]
    assert len(events) > 100
    broker.create_topic("player-events", partitions=2)
    half = len(events) // 2
    broker.produce("player-events", events[:half] + BAD_RECORDS)
    location = f"kafka://{broker.bootstrap}/player-events"

    first = qos_ml_cli("ingest", "--stream", "--source", "player_events", location)
    catalog = _catalog(qos_config, spark, qos_ml_cli.lakehouse)
    silver = catalog.read("silver.player_events")
    assert silver.count() == half
    quarantine = catalog.read("quarantine.ingest").toPandas()
    assert sorted(quarantine["raw"]) == sorted(BAD_RECORDS)
    assert quarantine["source_file"].str.match(r"kafka://player-events/\d/\d+").all()
    assert quarantine["reason"].notna().all()
    assert f"{half + len(BAD_RECORDS)}" in first  # rows in, printed

    # A restart resumes from its checkpoint: the rest arrives, with a replay of
    # ten records sent earlier; bronze keeps what arrived (each earlier record
    # once), silver each event once.
    broker.produce("player-events", events[half:] + events[:10])
    qos_ml_cli("ingest", "--stream", "--source", "player_events", location)
    assert catalog.read("bronze.player_events").count() == len(events) + 10
    assert catalog.read("silver.player_events").count() == len(events)
    bronze = catalog.read("bronze.player_events").select("source_file").toPandas()
    assert bronze["source_file"].nunique() == len(events) + 10  # one per record


def test_batch_reads_what_a_topic_holds(
    broker, sim_lines, qos_ml_cli, qos_config, spark
) -> None:
    lines = sim_lines["cloudfront_realtime"]
    broker.create_topic("cdn-realtime", partitions=1)
    broker.produce("cdn-realtime", lines)
    out = qos_ml_cli(
        "ingest",
        "--source",
        "cloudfront_realtime",
        f"kafka://{broker.bootstrap}/cdn-realtime",
    )
    catalog = _catalog(qos_config, spark, qos_ml_cli.lakehouse)
    assert catalog.read("bronze.cloudfront_realtime").count() == len(lines)
    assert catalog.read("silver.cdn_requests").count() == len(lines)
    assert f"{len(lines)}" in out

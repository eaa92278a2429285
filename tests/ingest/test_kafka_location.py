"""Kafka locations and the error a session without the connector gets (#4)."""

from __future__ import annotations

import pytest

from qos_ml import ConfigError
from qos_ml.ingest import KafkaLocation, kafka_package, read_kafka


def test_location_names_servers_and_topics() -> None:
    where = KafkaLocation.parse("kafka://b1:9092,b2:9093/player-events,cdn")
    assert where.bootstrap_servers == "b1:9092,b2:9093"
    assert where.topics == ("player-events", "cdn")
    assert where.reader_options() == {
        "kafka.bootstrap.servers": "b1:9092,b2:9093",
        "subscribe": "player-events,cdn",
    }


@pytest.mark.parametrize(
    "location", ["kafka://", "kafka://b1:9092", "kafka://b1:9092/", "kafka:///t"]
)
def test_incomplete_location_is_a_config_error(location: str) -> None:
    with pytest.raises(ConfigError, match="kafka://<host:port"):
        KafkaLocation.parse(location)


@pytest.mark.spark
def test_a_session_without_the_connector_gets_a_clear_error(spark) -> None:
    with pytest.raises(ConfigError) as caught:
        read_kafka(spark, "kafka://127.0.0.1:9/none", streaming=True)
    assert kafka_package() in str(caught.value)
    assert "spark.jars.packages" in str(caught.value)

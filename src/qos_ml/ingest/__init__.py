"""Ingestion: CDN logs and player events into bronze, quarantine and silver tables.

Sources (:data:`sources`) parse their files with native Spark expressions into
typed bronze rows, one per input line; lines that cannot be parsed go to
``quarantine.ingest`` with the reason, so that input lines always equal bronze
plus quarantine rows. Bronze rows become silver rows: deduplicated on their
key, enriched (user agent, edge location) and anonymised (network prefixes,
keyed hashes). :func:`ingest_batch` runs this once over files;
:func:`start_ingest_stream` runs it on a landing folder or a Kafka topic
(``kafka://<servers>/<topics>``, see :func:`read_kafka`), exactly once.

Built-in sources: ``cloudfront_standard``, ``cloudfront_realtime``,
``player_events`` and ``akamai_ds2``; others register through the entry point
group ``qos_ml.sources``.
"""

from __future__ import annotations

from qos_ml.ingest._akamai import AkamaiDataStream2Source
from qos_ml.ingest._cloudfront import CloudFrontRealtimeSource, CloudFrontStandardSource
from qos_ml.ingest._cmcd import cmcd_columns, cmcd_query_payload
from qos_ml.ingest._delimited import decode_twice, parse_delimited
from qos_ml.ingest._enrich import airports_frame, classify_user_agent
from qos_ml.ingest._jobs import (
    IngestReport,
    ingest_batch,
    ingest_parsed,
    start_ingest_stream,
)
from qos_ml.ingest._kafka import KafkaLocation, kafka_package, read_kafka
from qos_ml.ingest._lines import read_files, split_lines
from qos_ml.ingest._player import PlayerEventsSource
from qos_ml.ingest._privacy import ip_prefix, keyed_hash
from qos_ml.ingest._registry import (
    ENTRY_POINT_GROUP,
    Source,
    SourceRegistry,
    register_source,
    sources,
)
from qos_ml.ingest._silver import (
    Bound,
    apply_bounds,
    finish_cdn_requests,
    finish_player_events,
)
from qos_ml.ingest._tables import QUARANTINE_INGEST

__all__ = [
    "ENTRY_POINT_GROUP",
    "QUARANTINE_INGEST",
    "AkamaiDataStream2Source",
    "Bound",
    "CloudFrontRealtimeSource",
    "CloudFrontStandardSource",
    "IngestReport",
    "KafkaLocation",
    "PlayerEventsSource",
    "Source",
    "SourceRegistry",
    "airports_frame",
    "apply_bounds",
    "classify_user_agent",
    "cmcd_columns",
    "cmcd_query_payload",
    "decode_twice",
    "finish_cdn_requests",
    "finish_player_events",
    "ingest_batch",
    "ingest_parsed",
    "ip_prefix",
    "kafka_package",
    "keyed_hash",
    "parse_delimited",
    "read_files",
    "read_kafka",
    "register_source",
    "sources",
    "split_lines",
    "start_ingest_stream",
]

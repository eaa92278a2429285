"""Ingestion jobs end to end: bronze, quarantine, silver, replays, streaming.

One module fixture ingests every input once (the real 2018 CloudFront log with
a file of edge cases, a replay of the log, player events, the real-time and
Akamai samples); the tests read what it wrote.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from tests.conftest import shared_data
from tests.ingest.test_ingest_parse import HEADER_33, standard_line

from qos_ml._tables import QUALITY_FLAGS

_IPV4 = re.compile(r"\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b(?!/)")
REAL_LOG = "cloudfront/standard/aws-sample-2018.log.gz"

CMCD = "CMCD=br%253D3200%252Cbl%253D21600%252Csid%253D%2522S-1%2522%252Csu"
EDGE_LINES = [
    standard_line(x_edge_request_id="cmcd-1", cs_uri_query=CMCD),
    standard_line(x_edge_request_id="cmcd-2", cs_uri_query="CMCD=bl%253D99999999"),
    standard_line(x_edge_request_id="slow", time_taken="86400.0"),
    standard_line(x_edge_request_id="closed", sc_status="000"),
    standard_line(x_edge_request_id="old", date="1999-12-31"),
    standard_line(x_edge_request_id="badcmcd", cs_uri_query="CMCD=br%253D-5"),
    standard_line(
        x_edge_request_id="v6",
        c_ip="2001:db8:0:1::7",
        x_forwarded_for="198.51.100.23,%20192.0.2.9",
    ),
    "\t".join(["2024-05-01"] * 7),
]
_EVENTS = [
    {"MetricType": "FIRSTFRAME", "user_id": "Alice-007", "video_id": "V1",
     "playlist_type": "vod", "TimeStamp": 1714564800000, "rtt": 30,
     "time_millisecond": 1200, "cdn_tracking_id": "Req-A",
     "user_agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) "
     "AppleWebKit/605.1.15 Mobile/15E148 Safari/604.1"},
    # A stall "length" that is an epoch time: the original SDK's broken timer.
    {"MetricType": "BUFFER", "user_id": "Alice-007", "video_id": "V1",
     "playlist_type": "vod", "TimeStamp": 1714564805000,
     "buffer_type": "FirstBuffer", "time_millisecond": 1714564805000},
    {"MetricType": "STREAM", "user_id": "User-ABC", "video_id": "V2",
     "playlist_type": "live", "TimeStamp": 1714564806000, "at": -3,
     "avg_bitrate": 5000000, "rtt": 1714564806000},
    {"MetricType": "PLAY", "video_id": "V2"},  # no user_id: quarantined
]  # fmt: skip


@pytest.fixture(scope="module")
def ingested(ingest_catalog, tmp_path_factory):
    """Every input of this module ingested once into ``ingest_catalog``."""
    from qos_ml.ingest import ingest_batch

    folder = tmp_path_factory.mktemp("ingest_inputs")
    real = shared_data(REAL_LOG)
    edge = folder / "edge.log"
    edge.write_text(HEADER_33 + "\n".join(EDGE_LINES) + "\n")
    events = folder / "events" / "e.jsonl"
    events.parent.mkdir()
    text = "\n".join(json.dumps(e) for e in _EVENTS)
    events.write_text(text + "\n" + text + "\n")  # every event twice

    cat = ingest_catalog
    reports = {
        "standard": ingest_batch([str(real), str(edge)], "cloudfront_standard", cat),
        # A replay lands in bronze again (it did arrive twice), not in silver.
        "replay": ingest_batch(str(real), "cloudfront_standard", cat),
        "player": ingest_batch(str(events), "player_events", cat),
        "realtime": ingest_batch(
            str(shared_data("cloudfront/fixtures/kinesis-1-0.txt")),
            "cloudfront_realtime",
            cat,
        ),
        "akamai": ingest_batch(
            str(shared_data("cdn/akamai-ds2-sample.json")), "akamai_ds2", cat
        ),
    }
    return SimpleNamespace(catalog=cat, reports=reports, edge=edge)


def _silver_cdn(ingested, *ids):
    names = ", ".join(f"'{i}'" for i in ids)
    rows = (
        ingested.catalog.read("silver.cdn_requests")
        .where(f"request_id in ({names})")
        .collect()
    )
    return {r["request_id"]: r for r in rows}


def test_batch_ingest_of_real_standard_log_and_replay(ingested):
    first, again = ingested.reports["standard"], ingested.reports["replay"]

    # 66 real lines + 8 edge-case lines, of which one is truncated.
    assert (first.lines_in, first.bronze, first.quarantine) == (74, 73, 1)
    assert first.skipped_lines == 4  # #Version and #Fields of both files
    assert (first.silver_new, first.duplicates, first.flagged) == (73, 0, 5)
    assert (again.lines_in, again.bronze, again.quarantine) == (66, 66, 0)
    assert (again.silver_new, again.duplicates) == (0, 66)

    silver = ingested.catalog.read("silver.cdn_requests").where(
        "source_format = 'cloudfront_standard' and request_date = '2018-11-07'"
    )
    rows = {r["request_id"]: r for r in silver.collect()}
    assert len(rows) == 66
    bing = rows["PsDv-_qwCLPFx4CUU0cHWEmaH72tmUZkj70pPiTS-8KQBa616MpB1Q=="]
    assert bing["is_bot"] is True
    assert bing["device_type"] == "bot"
    assert bing["edge_airport"] == "FRA"
    assert bing["edge_country"] == "DE"
    assert bing["edge_city"] == "Frankfurt am Main"
    assert bing["client_ip_prefix"] == "3.120.138.0/24"
    assert bing["request_date"].isoformat() == "2018-11-07"
    firefox = next(r for r in rows.values() if r["browser_family"] == "Firefox")
    assert firefox["os_family"] == "Windows"
    assert firefox["device_type"] == "desktop"


def test_quarantine_holds_the_malformed_line_with_its_reason(ingested):
    quarantined = (
        ingested.catalog.read("quarantine.ingest")
        .where(f"source_file like '%{ingested.edge.name}'")
        .collect()
    )
    assert len(quarantined) == 1
    row = quarantined[0]
    assert row["reason"] == "line has 7 fields, its field list has 33"
    assert row["line_number"] == 10  # after #Version, #Fields and 7 good lines
    assert row["raw"] == EDGE_LINES[-1]
    assert row["source"] == "cloudfront_standard"


def test_cmcd_bounds_and_status_000_become_flags(ingested):
    ids = ("cmcd-1", "cmcd-2", "slow", "closed", "old", "badcmcd", "v6")
    silver = _silver_cdn(ingested, *ids)

    c = silver["cmcd-1"]
    assert (c["cmcd_br_kbps"], c["cmcd_bl_ms"], c["cmcd_sid"], c["cmcd_su"]) == (
        3200,
        21600,
        "S-1",
        True,
    )
    assert c["quality_flags"] == []
    assert silver["cmcd-2"]["cmcd_bl_ms"] is None  # 27 h of buffer
    assert silver["cmcd-2"]["quality_flags"] == ["cmcd_invalid"]
    assert silver["slow"]["time_taken_s"] is None
    assert silver["slow"]["quality_flags"] == ["time_taken_out_of_range"]
    assert silver["closed"]["status"] == 0
    assert silver["closed"]["quality_flags"] == ["status_000"]
    assert silver["old"]["request_time"] is None
    assert silver["old"]["quality_flags"] == ["timestamp_out_of_range"]
    assert silver["badcmcd"]["cmcd_br_kbps"] is None
    assert silver["badcmcd"]["quality_flags"] == ["cmcd_invalid"]
    v6 = silver["v6"]
    assert (v6["client_ip_prefix"], v6["ip_version"]) == ("2001:db8::/48", 6)
    assert v6["quality_flags"] == []


def test_player_events_silver_pseudonymised_and_bounded(ingested):
    import hmac

    report = ingested.reports["player"]
    assert (report.lines_in, report.bronze, report.quarantine) == (8, 6, 2)
    # Each event arrived twice: the second copy is a duplicate, and a flagged
    # event is counted once.
    assert (report.silver_new, report.duplicates, report.flagged) == (3, 3, 2)

    rows = {
        r["event_type"]: r
        for r in ingested.catalog.read("silver.player_events").collect()
    }
    key = ingested.catalog.config.pseudonymisation_key()
    expected = hmac.new(key, b"Alice-007", "sha256").hexdigest()
    assert rows["FIRSTFRAME"]["user_id_hash"] == expected
    assert rows["BUFFER"]["user_id_hash"] == expected  # sessions still join
    assert rows["FIRSTFRAME"]["device_type"] == "mobile"
    assert rows["FIRSTFRAME"]["cdn_tracking_id"] == "Req-A"
    assert rows["FIRSTFRAME"]["rtt_ms"] == 30.0
    assert rows["FIRSTFRAME"]["quality_flags"] == []
    assert rows["BUFFER"]["time_ms"] is None
    assert rows["BUFFER"]["quality_flags"] == ["duration_out_of_range"]
    stream = rows["STREAM"]
    assert (stream["playhead_s"], stream["avg_bitrate_kbps"], stream["rtt_ms"]) == (
        None,
        None,
        None,
    )
    assert sorted(stream["quality_flags"]) == [
        "bitrate_out_of_range",
        "playhead_out_of_range",
        "rtt_out_of_range",
    ]
    reason = (
        ingested.catalog.read("quarantine.ingest")
        .where("source = 'player_events'")
        .select("reason")
        .distinct()
        .collect()
    )
    assert [r[0] for r in reason] == [
        "required field user_id is missing; required field playlist_type is "
        "missing; required field TimeStamp is missing"
    ]


def test_realtime_and_akamai_reach_silver(ingested):
    rt, ak = ingested.reports["realtime"], ingested.reports["akamai"]
    assert (rt.bronze, rt.quarantine, rt.silver_new) == (1, 0, 1)
    assert (ak.bronze, ak.quarantine, ak.silver_new) == (1, 0, 1)

    silver = ingested.catalog.read("silver.cdn_requests")
    kinesis = silver.where("source_format = 'cloudfront_realtime'").first()
    assert kinesis["viewer_country"] == "US"
    assert kinesis["edge_airport"] == "EWR"
    assert kinesis["browser_family"] == "Firefox"
    assert kinesis["client_ip_prefix"] == "127.0.0.0/24"
    akamai = silver.where("cdn = 'akamai'").first()
    assert akamai["request_id"] == "1239f220"
    assert akamai["cmcd_sid"].startswith("9f36f5c9-d6a2")
    assert (akamai["cmcd_bl_ms"], akamai["cmcd_br_kbps"], akamai["cmcd_pr"]) == (
        21600,
        1426,
        1.08,
    )
    assert akamai["cmcd_su"] is True
    assert akamai["cmcd_bs"] is True
    assert akamai["viewer_country"] == "IN"
    assert akamai["edge_country"] == "SG"
    assert (akamai["range_start"], akamai["range_end"]) == (37334, 42356)
    assert akamai["os_family"] == "Mac OS X"


def _raw_identifiers(catalog) -> set[str]:
    """Every client address and user id that arrived in bronze."""
    from pyspark.sql import functions as F

    columns = {
        "bronze.cloudfront_standard": ["c_ip", F.explode("x_forwarded_for")],
        "bronze.cloudfront_realtime": ["c_ip"],
        "bronze.akamai_ds2": ["cli_ip", F.col("extra_fields")["xForwardedFor"]],
        "bronze.player_events": ["user_id"],
    }
    found: set[str] = set()
    for key, cols in columns.items():
        for col in cols:
            found |= {r[0] for r in catalog.read(key).select(col).collect() if r[0]}
    return found


def test_silver_holds_no_raw_ip_or_user_id(ingested):
    raw = _raw_identifiers(ingested.catalog)
    # The inputs of this module have them: the scan below can fail.
    assert {"Alice-007", "User-ABC", "2001:db8:0:1::7", "198.51.100.23"} <= raw
    assert {"128.147.28.68", "8.47.28.38"} <= raw  # Akamai client, forwarded
    assert sum(1 for r in raw if _IPV4.fullmatch(r)) > 5  # the real log's

    scanned = 0
    for key in ("silver.cdn_requests", "silver.player_events"):
        for row in ingested.catalog.read(key).collect():
            scanned += 1
            for name, value in row.asDict().items():
                text = str(value)
                assert not _IPV4.search(text), (key, name, text)
                assert not any(r in text for r in raw), (key, name, text)
            assert set(row["quality_flags"]) <= set(QUALITY_FLAGS), key
    assert scanned == 73 + 1 + 1 + 3  # standard, real-time, Akamai, player


@pytest.mark.slow
def test_streaming_ingest_is_exactly_once_across_a_crash(ingest_catalog, tmp_path):
    """Stop after the first micro-batch, lose its commit, restart: no loss, no twice.

    Deleting the checkpoint's last commit is what a crash between the writes
    of a micro-batch and its commit leaves behind: the restart runs the batch
    again, and the idempotent appends and the merge must absorb it.
    """
    from qos_ml.ingest import start_ingest_stream

    landing = tmp_path / "landing"
    landing.mkdir()
    events = [
        json.dumps(
            {"MetricType": "PLAY", "user_id": f"viewer-{i:03d}", "video_id": "V9",
             "playlist_type": "live", "TimeStamp": 1714564800000 + i, "at": i}
        )
        for i in range(8)
    ]  # fmt: skip
    (landing / "part-0.jsonl").write_text("\n".join(events[:4]) + "\n")
    (landing / "part-1.jsonl").write_text(
        "\n".join([*events[4:], '{"MetricType": "PLAY"}']) + "\n"
    )
    name = "ingest_exactly_once_test"
    reports = []

    def start(**kw):
        return start_ingest_stream(
            str(landing),
            "player_events",
            ingest_catalog,
            query_name=name,
            options={"maxFilesPerTrigger": "1"},
            on_report=reports.append,
            **kw,
        )

    # First run: one micro-batch (one file); the next trigger is an hour away.
    query = start(trigger={"processingTime": "1 hour"})
    deadline = time.monotonic() + 300
    while query.lastProgress is None and time.monotonic() < deadline:
        time.sleep(0.5)
    query.stop()
    assert [r.lines_in for r in reports] == [4]
    commits = Path(ingest_catalog.checkpoint(name)) / "commits"
    assert (commits / "0").exists()
    for lost in ("0", ".0.crc"):  # the commit and its checksum file
        (commits / lost).unlink(missing_ok=True)

    # Restart: batch 0 runs again, then the rest arrives.
    query = start()
    query.awaitTermination(600)
    assert query.exception() is None
    assert [r.lines_in for r in reports] == [4, 4, 5]
    assert (reports[1].silver_new, reports[1].duplicates) == (0, 4)

    def count(key, where="video_id = 'V9'"):
        return ingest_catalog.read(key).where(where).count()

    assert count("silver.player_events") == 8
    assert count("bronze.player_events") == 8  # batch 0's append was skipped
    assert count("quarantine.ingest", "source_file like '%landing/part-1.jsonl'") == 1

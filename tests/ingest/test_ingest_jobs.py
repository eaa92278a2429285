"""Ingestion jobs end to end: bronze, quarantine, silver, replays, streaming."""

from __future__ import annotations

import json
import re
import shutil
import time

import pytest
from tests.conftest import shared_data

_IPV4 = re.compile(r"\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b(?!/)")
_IPV6 = re.compile(r"\b[0-9a-fA-F]{1,4}(?::[0-9a-fA-F]{0,4}){2,7}\b(?!/)")


def _count(catalog, key, where=None):
    df = catalog.read(key)
    return (df.where(where) if where is not None else df).count()


def test_batch_ingest_of_real_standard_log_and_replay(ingest_catalog):
    from qos_ml.ingest import ingest_batch

    path = str(shared_data("cloudfront/standard/aws-sample-2018.log.gz"))
    first = ingest_batch(path, "cloudfront_standard", ingest_catalog)

    assert (first.lines_in, first.bronze, first.quarantine) == (66, 66, 0)
    assert first.skipped_lines == 2  # #Version and #Fields
    assert first.silver_new == 66
    assert first.duplicates == 0

    # A replay lands in bronze again (it did arrive twice) but adds no silver row.
    again = ingest_batch(path, "cloudfront_standard", ingest_catalog)
    assert (again.bronze, again.silver_new, again.duplicates) == (66, 0, 66)

    silver = ingest_catalog.read("silver.cdn_requests").where(
        "source_format = 'cloudfront_standard'"
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


def test_quarantine_cmcd_bounds_and_status_000(ingest_catalog, write_file):
    from tests.ingest.test_ingest_parse import HEADER_33, standard_line

    from qos_ml._formats import CLOUDFRONT_STANDARD_FIELDS
    from qos_ml.ingest import ingest_batch

    cmcd = "CMCD=br%253D3200%252Cbl%253D21600%252Csid%253D%2522S-1%2522%252Csu"
    lines = [
        standard_line(x_edge_request_id="cmcd-1", cs_uri_query=cmcd),
        standard_line(x_edge_request_id="slow", time_taken="86400.0"),
        standard_line(x_edge_request_id="closed", sc_status="000"),
        standard_line(x_edge_request_id="old", date="1999-12-31"),
        standard_line(x_edge_request_id="badcmcd", cs_uri_query="CMCD=br%253D-5"),
        "\t".join(["2024-05-01"] * 7),
    ]
    assert len(CLOUDFRONT_STANDARD_FIELDS) == 33
    path = write_file("q/edge.log", HEADER_33 + "\n".join(lines) + "\n")
    report = ingest_batch(str(path), "cloudfront_standard", ingest_catalog)

    assert (report.lines_in, report.bronze, report.quarantine) == (6, 5, 1)
    assert report.flagged == 4
    quarantined = ingest_catalog.read("quarantine.ingest").where(
        f"source_file like '%{path.name}'"
    )
    row = quarantined.first()
    assert row["reason"] == "line has 7 fields, its field list has 33"
    assert row["line_number"] == 8
    assert row["source"] == "cloudfront_standard"

    silver = {
        r["request_id"]: r
        for r in ingest_catalog.read("silver.cdn_requests")
        .where("request_id in ('cmcd-1', 'slow', 'closed', 'old', 'badcmcd')")
        .collect()
    }
    c = silver["cmcd-1"]
    assert (c["cmcd_br_kbps"], c["cmcd_bl_ms"], c["cmcd_sid"], c["cmcd_su"]) == (
        3200,
        21600,
        "S-1",
        True,
    )
    assert c["quality_flags"] == []
    assert silver["slow"]["time_taken_s"] is None
    assert silver["slow"]["quality_flags"] == ["time_taken_out_of_range"]
    assert silver["closed"]["status"] == 0
    assert silver["closed"]["quality_flags"] == ["status_000"]
    assert silver["old"]["request_time"] is None
    assert silver["old"]["quality_flags"] == ["timestamp_out_of_range"]
    assert silver["badcmcd"]["cmcd_br_kbps"] is None
    assert silver["badcmcd"]["quality_flags"] == ["cmcd_invalid"]


def test_player_events_silver_pseudonymised(ingest_catalog, write_file, qos_config):
    import hmac

    from qos_ml.ingest import ingest_batch

    events = [
        {"MetricType": "FIRSTFRAME", "user_id": "Alice-007", "video_id": "V1",
         "playlist_type": "vod", "TimeStamp": 1714564800000, "rtt": 30,
         "time_millisecond": 1200, "cdn_tracking_id": "Req-A",
         "user_agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) "
         "AppleWebKit/605.1.15 Mobile/15E148 Safari/604.1"},
        {"MetricType": "BUFFER", "user_id": "Alice-007", "video_id": "V1",
         "playlist_type": "vod", "TimeStamp": 1714564805000,
         "buffer_type": "FirstBuffer", "time_millisecond": 1714564805000},
    ]  # fmt: skip
    text = "\n".join(json.dumps(e) for e in events)
    path = write_file("events/e.jsonl", text + "\n" + text + "\n")
    report = ingest_batch(str(path), "player_events", ingest_catalog)

    assert (report.lines_in, report.bronze, report.silver_new) == (4, 4, 2)
    assert report.duplicates == 2
    assert report.flagged == 1
    rows = {
        r["event_type"]: r
        for r in ingest_catalog.read("silver.player_events").collect()
    }
    key = ingest_catalog.config.pseudonymisation_key()
    expected = hmac.new(key, b"Alice-007", "sha256").hexdigest()
    assert rows["FIRSTFRAME"]["user_id_hash"] == expected
    assert rows["FIRSTFRAME"]["device_type"] == "mobile"
    assert rows["FIRSTFRAME"]["cdn_tracking_id"] == "Req-A"
    # A stall "length" that is an epoch time is a broken timer: null + flag.
    assert rows["BUFFER"]["time_ms"] is None
    assert rows["BUFFER"]["quality_flags"] == ["duration_out_of_range"]


def test_realtime_and_akamai_reach_silver(ingest_catalog):
    from qos_ml.ingest import ingest_batch

    rt = ingest_batch(
        str(shared_data("cloudfront/fixtures/kinesis-1-0.txt")),
        "cloudfront_realtime",
        ingest_catalog,
    )
    ak = ingest_batch(
        str(shared_data("cdn/akamai-ds2-sample.json")), "akamai_ds2", ingest_catalog
    )
    assert (rt.bronze, rt.quarantine, rt.silver_new) == (1, 0, 1)
    assert (ak.bronze, ak.quarantine, ak.silver_new) == (1, 0, 1)

    silver = ingest_catalog.read("silver.cdn_requests")
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


def test_silver_holds_no_raw_ip_or_user_id(ingest_catalog):
    """Runs after the tests above: every silver row written so far is scanned."""
    raw_ids = {"Alice-007", "User-ABC"}
    for key in ("silver.cdn_requests", "silver.player_events"):
        if not ingest_catalog.exists(key):
            continue
        for row in ingest_catalog.read(key).collect():
            for name, value in row.asDict().items():
                if name in ("source_file",):
                    continue
                text = str(value)
                assert not _IPV4.search(text), (key, name, text)
                assert not _IPV6.search(text), (key, name, text)
                assert not any(raw in text for raw in raw_ids), (key, name)


@pytest.mark.slow
def test_streaming_ingest_is_exactly_once_across_a_restart(ingest_catalog, tmp_path):
    from qos_ml.ingest import ingest_batch, start_ingest_stream

    landing = tmp_path / "landing"
    landing.mkdir()
    events = [
        json.dumps(
            {"MetricType": "PLAY", "user_id": f"u{i}", "video_id": "V9",
             "playlist_type": "live", "TimeStamp": 1714564800000 + i, "at": i}
        )
        for i in range(12)
    ]  # fmt: skip
    for part in range(3):
        chunk = events[part * 4 : (part + 1) * 4]
        bad = '{"MetricType": "PLAY"}' if part == 1 else ""
        (landing / f"part-{part}.jsonl").write_text("\n".join([*chunk, bad]))

    query_name = "ingest_exactly_once_test"
    checkpoint = ingest_catalog.checkpoint(query_name)
    shutil.rmtree(checkpoint, ignore_errors=True)
    before = (
        _count(ingest_catalog, "silver.player_events", "video_id = 'V9'")
        if (ingest_catalog.exists("silver.player_events"))
        else 0
    )
    assert before == 0

    # First run: stopped after its first micro-batch (one file).
    query = start_ingest_stream(
        str(landing),
        "player_events",
        ingest_catalog,
        trigger={"processingTime": "1 second"},
        query_name=query_name,
        options={"maxFilesPerTrigger": "1"},
    )
    deadline = time.monotonic() + 120
    while (query.lastProgress is None) and time.monotonic() < deadline:
        time.sleep(0.5)
    query.stop()
    partial = _count(ingest_catalog, "silver.player_events", "video_id = 'V9'")
    assert 0 < partial < 12

    # Restart from the same checkpoint: the rest arrives, nothing twice.
    query = start_ingest_stream(
        str(landing),
        "player_events",
        ingest_catalog,
        query_name=query_name,
        options={"maxFilesPerTrigger": "1"},
    )
    query.awaitTermination(300)
    assert query.exception() is None

    silver = ingest_catalog.read("silver.player_events").where("video_id = 'V9'")
    assert silver.count() == 12
    bronze = ingest_catalog.read("bronze.player_events").where("video_id = 'V9'")
    assert bronze.count() == 12
    assert bronze.select("source_file", "line_number").distinct().count() == 12
    quarantine = ingest_catalog.read("quarantine.ingest").where(
        "source_file like '%part-1.jsonl'"
    )
    assert quarantine.count() == 1

    # A batch replay of the same files adds nothing to silver.
    replay = ingest_batch(str(landing), "player_events", ingest_catalog)
    assert replay.silver_new == 0
    assert replay.duplicates == 12

"""Parsing CDN logs and player events into bronze rows and quarantine reasons."""

from __future__ import annotations

import gzip
import hmac
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.conftest import shared_data

from qos_ml._errors import ConfigError
from qos_ml._formats import CLOUDFRONT_REALTIME_FIELDS, CLOUDFRONT_STANDARD_FIELDS

HEADER_33 = "#Version: 1.0\n#Fields: " + " ".join(CLOUDFRONT_STANDARD_FIELDS) + "\n"


def _parse(spark, source, path):
    from qos_ml.ingest import read_files, sources

    src = sources.get(source) if isinstance(source, str) else source
    return src.parse(read_files(spark, str(path)))


def _kinds(rows):
    out: dict[str, int] = {}
    for row in rows:
        out[row["kind"]] = out.get(row["kind"], 0) + 1
    return out


def standard_line(**values: str) -> str:
    """A 33-field standard log line; keyword names use '_' for '-', '(', ')'."""
    defaults = {f: "-" for f in CLOUDFRONT_STANDARD_FIELDS}
    defaults.update(
        {
            "date": "2024-05-01",
            "time": "12:00:01",
            "x-edge-location": "FRA56-P1",
            "sc-bytes": "1000",
            "c-ip": "203.0.113.77",
            "cs-method": "GET",
            "sc-status": "200",
            "x-edge-request-id": "req-1",
            "time-taken": "0.100",
        }
    )
    for key, value in values.items():
        field = {"cs_User_Agent": "cs(User-Agent)"}.get(key, key.replace("_", "-"))
        assert field in defaults, field
        defaults[field] = value
    return "\t".join(defaults[f] for f in CLOUDFRONT_STANDARD_FIELDS)


# -- real CloudFront files -----------------------------------------------------


@pytest.mark.parametrize(
    ("relative", "data_lines", "column", "value"),
    [
        ("cloudfront/standard/aws-sample-2018.log.gz", 66, "fle_status", None),
        ("cloudfront/fixtures/web-1-0.txt", 2, "x_edge_result_type", "RefreshHit"),
        ("cloudfront/fixtures/web-1-0-2019-12.txt", 3, "time_to_first_byte", 0.001),
        ("cloudfront/fixtures/rtmp-1-0.txt", 6, "x_edge_location", "SEA4"),
    ],
)
def test_real_standard_logs_parse_fully(spark, relative, data_lines, column, value):
    rows = _parse(spark, "cloudfront_standard", shared_data(relative)).collect()
    data = [r for r in rows if r["kind"] == "data"]

    assert len(data) == data_lines
    assert [r["_reason"] for r in data] == [None] * data_lines
    assert data[0][column] == value
    assert all(r["request_time"] is not None for r in data)
    assert _kinds(rows).get("header") == 1


def test_rtmp_fields_unknown_to_web_logs_are_kept(spark):
    rows = _parse(
        spark, "cloudfront_standard", shared_data("cloudfront/fixtures/rtmp-1-0.txt")
    ).collect()
    first = next(r for r in rows if r["kind"] == "data")

    # The zero-width space after x-page-url in the header is not part of a name.
    assert first["extra_fields"]["x-event"] == "connect"
    assert "x-page-url" in first["extra_fields"]
    assert first["c_ip"] == "192.0.2.147"


def test_concatenated_files_switch_layout_at_each_header(spark, write_file):
    old = shared_data("cloudfront/fixtures/web-1-0.txt").read_text()
    new = gzip.decompress(
        shared_data("cloudfront/standard/aws-sample-2018.log.gz").read_bytes()
    ).decode()
    path = write_file("joined.log.gz", old + "\n" + new)

    rows = _parse(spark, "cloudfront_standard", path).orderBy("line_number").collect()
    data = [r for r in rows if r["kind"] == "data"]

    assert len(data) == 68
    assert all(r["_reason"] is None for r in data)
    assert [r["line_number"] for r in rows] == list(range(1, len(rows) + 1))
    # The 24-field lines have no fle-status column; the 26-field lines do.
    assert data[0]["x_edge_location"] == "FRA2"
    assert data[2]["x_edge_location"] == "FRA53"
    assert data[2]["line_number"] == 7


def test_realtime_fixture_and_configured_field_list(spark, write_file):
    from qos_ml.ingest import CloudFrontRealtimeSource

    fixture = shared_data("cloudfront/fixtures/kinesis-1-0.txt")
    rows = _parse(spark, "cloudfront_realtime", fixture).collect()
    data = [r for r in rows if r["kind"] == "data"]
    assert len(data) == 1
    assert data[0]["_reason"] is None
    assert data[0]["x_edge_location"] == "EWR52-C4"
    assert data[0]["c_country"] == "US"
    assert str(data[0]["request_time"]).startswith("2020-12-07 20:52:01.541")

    # The same line without a header, read by a configured field list.
    line = fixture.read_text().splitlines()[-1]
    fields = CLOUDFRONT_REALTIME_FIELDS[:40]
    path = write_file("rt/part-0.log", line + "\n" + line.split("\t", 1)[0] + "\n")
    rows = _parse(spark, CloudFrontRealtimeSource(fields), path).collect()

    assert rows[0]["_reason"] is None
    assert rows[0]["cs_headers_count"] == 8
    assert rows[1]["_reason"] == "line has 1 fields, its field list has 40"
    with pytest.raises(ConfigError, match="includes 'timestamp'"):
        CloudFrontRealtimeSource(["c-ip", "sc-status"])


def test_edge_cases_of_standard_lines(spark, write_file):
    lines = [
        standard_line(c_ip="2001:db8:0:1::7", x_edge_request_id="v6"),
        standard_line(sc_status="000", x_edge_request_id="closed"),
        standard_line(
            x_forwarded_for="198.51.100.1,%20192.0.2.9", x_edge_request_id="xff"
        ),
        standard_line(sc_bytes="12ab", x_edge_request_id="badbytes"),
        standard_line(date="2024-13-45", x_edge_request_id="baddate"),
        "\t".join(standard_line().split("\t")[:20]),
        "#Version: 1.0",
        "   ",
        standard_line(time="25:61:00", x_edge_request_id="badtime"),
        standard_line(x_edge_request_id="-"),
        # A '\r' or U+2028 is no line break: no header starts mid-line.
        "junk\r#Fields: a b\u2028#Fields: c",
        standard_line(x_edge_request_id="after-junk") + "\r",
    ]
    path = write_file("edge.log", HEADER_33 + "\n".join(lines) + "\n")
    rows = {
        r["line_number"]: r
        for r in _parse(spark, "cloudfront_standard", path).collect()
    }

    assert rows[3]["c_ip"] == "2001:db8:0:1::7"
    assert rows[3]["_reason"] is None
    assert rows[4]["sc_status"] == 0
    assert rows[4]["_reason"] is None
    assert rows[5]["x_forwarded_for"] == ["198.51.100.1", "192.0.2.9"]
    assert rows[6]["_reason"] == (
        "field sc-bytes has value '12ab'; expected a whole number"
    )
    assert rows[7]["_reason"].startswith("field date has value '2024-13-45'")
    assert rows[8]["_reason"] == "line has 20 fields, its field list has 33"
    assert rows[9]["kind"] == "comment"
    assert rows[10]["kind"] == "blank"
    assert rows[11]["_reason"] == "no valid request time on this line"
    assert rows[12]["_reason"] is None  # no request id: silver derives one
    assert rows[13]["_reason"] == "line has 1 fields, its field list has 33"
    assert rows[13]["raw"] == "junk\r#Fields: a b\u2028#Fields: c"
    assert rows[14]["_reason"] is None
    assert rows[14]["x_edge_request_id"] == "after-junk"
    assert not rows[14]["raw"].endswith("\r")
    assert len(rows) == 14  # the final line break starts no line


def test_lines_without_header_are_quarantined_unless_a_field_list_is_set(
    spark, write_file
):
    from qos_ml.ingest import CloudFrontStandardSource

    path = write_file("noheader.log", standard_line() + "\n")
    reason = _parse(spark, "cloudfront_standard", path).first()["_reason"]
    assert reason.startswith("no #Fields header precedes this line")

    source = CloudFrontStandardSource(default_fields=CLOUDFRONT_STANDARD_FIELDS)
    assert _parse(spark, source, path).first()["_reason"] is None


def test_double_decoding_stops_after_two_steps(spark):
    from pyspark.sql import functions as F

    from qos_ml.ingest import decode_twice

    values = [
        "Mozilla/5.0%2520(X11;%2520Linux)",
        "a%252Cb",  # a literal %2C in the original: a comma after two steps
        "%25252C",  # three encodings: two steps leave %2C
        "+http://bing.com",
        "100%25zz",  # the second step meets an invalid escape: keep step one
    ]
    df = spark.createDataFrame([(v,) for v in values], "v string")
    got = [r[0] for r in df.select(decode_twice(F.col("v"))).collect()]

    assert got == [
        "Mozilla/5.0 (X11; Linux)",
        "a,b",
        "%2C",
        "+http://bing.com",
        "100%zz",
    ]


# -- player events -------------------------------------------------------------


def _event(**fields):
    base = {
        "MetricType": "BUFFER",
        "user_id": "User-ABC",
        "video_id": "Vid-1",
        "playlist_type": "vod",
        "TimeStamp": 1714564800000,
    }
    base.update(fields)
    return json.dumps({k: v for k, v in base.items() if v is not None})


def test_player_events_typed_with_case_kept(spark, write_file):
    lines = [
        _event(buffer_type="ScreenFreezedBuffer", at=12.5, time_millisecond=800,
               rtt=40, connection_type="wifi", cdn_tracking_id="AbC=="),
        _event(MetricType="ERROR", message="Segment 404 NotFound", fatal=True,
               session_id="Sess-9", new_field="kept"),
        _event(rtt="fast"),
        _event(user_id=None),
        _event(MetricType="REWIND"),
        '{"MetricType": "PLAY",',
        "[1, 2]",
        " ",
    ]  # fmt: skip
    path = write_file("events/part-0.jsonl", "\n".join(lines) + "\n")
    rows = {r["line_number"]: r for r in _parse(spark, "player_events", path).collect()}

    assert rows[1]["_reason"] is None
    assert rows[1]["user_id"] == "User-ABC"
    assert rows[1]["cdn_tracking_id"] == "AbC=="
    assert rows[1]["time_millisecond"] == 800.0
    assert str(rows[1]["event_time"]) == "2024-05-01 12:00:00"
    assert rows[2]["message"] == "Segment 404 NotFound"
    assert rows[2]["fatal"] is True
    assert rows[2]["extra_fields"] == {"new_field": "kept"}
    assert rows[3]["_reason"] == "field rtt has value 'fast'; expected a number"
    assert rows[4]["_reason"] == "required field user_id is missing"
    assert rows[5]["_reason"].startswith("field MetricType has value 'REWIND'")
    assert rows[6]["_reason"] == "not a JSON object"
    assert rows[7]["_reason"] == "not a JSON object"
    assert (rows[8]["kind"], rows[8]["_reason"]) == ("blank", None)
    assert len(rows) == 8  # the final line break starts no line


def test_timestamps_beyond_year_9999_are_quarantined_not_fatal(spark, write_file):
    # Both overflowed Spark's timestamp and failed the whole job (found by
    # tests/ingest/test_ingest_fuzz.py).
    events = write_file(
        "far/part-0.jsonl",
        "\n".join([_event(TimeStamp=10**18), _event(TimeStamp=1e300), _event()]) + "\n",
    )
    rows = _parse(spark, "player_events", events).collect()
    assert rows[0]["_reason"] == (
        "field TimeStamp has value '1000000000000000000'; expected epoch "
        "milliseconds within years 1-9999"
    )
    assert rows[1]["_reason"].startswith("field TimeStamp has value '1.0E300'")
    assert rows[0]["event_time"] is None
    assert rows[2]["_reason"] is None

    from qos_ml.ingest import CloudFrontRealtimeSource

    fields = ("timestamp", "c-ip", "sc-status")
    realtime = write_file(
        "far/part-0.log", "99999999999999\t203.0.113.9\t200\n1714564800.5\t-\t200\n"
    )
    rt = _parse(spark, CloudFrontRealtimeSource(fields), realtime).collect()
    assert rt[0]["_reason"].startswith(
        "field timestamp has value '99999999999999'; expected seconds since 1970"
    )
    assert rt[1]["_reason"] is None


def test_akamai_records_from_an_array_or_json_lines(spark, write_file):
    good = {
        "reqId": "r1",
        "reqTimeSec": "1573840000",
        "cliIP": "192.0.2.1",
        "statusCode": "206",
        "bytes": "4995",
        "queryStr": "-",
    }
    records = [
        good,
        {**good, "reqId": None},
        {**good, "reqId": "r3", "reqTimeSec": "yesterday"},
        {**good, "reqId": "r4", "statusCode": "OK", "serverCountry": "sg"},
    ]  # fmt: skip
    array = write_file("ds2/batch.json", json.dumps(records, indent=2))
    rows = _parse(spark, "akamai_ds2", array).orderBy("line_number").collect()

    assert [r["line_number"] for r in rows] == [1, 2, 3, 4]
    assert [r["_reason"] for r in rows] == [
        None,
        "required field reqId is missing",
        "required field reqTimeSec is missing or not a number",
        "field statusCode is not a number",
    ]
    assert rows[0]["status_code"] == 206
    assert str(rows[0]["request_time"]) == "2019-11-15 17:46:40"
    assert rows[3]["extra_fields"]["serverCountry"] == "sg"

    lines = write_file("ds2/lines.json", json.dumps(good) + "\n\nnot json\n[1, 2\n")
    rows = _parse(spark, "akamai_ds2", lines).orderBy("line_number").collect()
    assert [(r["kind"], r["_reason"]) for r in rows] == [
        ("data", None),
        ("blank", None),
        ("data", "not a JSON object"),
        ("data", "not a JSON object"),
    ]


# -- sanity bounds and quality flags ------------------------------------------


def test_the_finishers_can_raise_every_declared_flag_and_no_other():
    from qos_ml._tables import QUALITY_FLAGS
    from qos_ml.ingest._silver import (
        CDN_BOUNDS,
        CMCD_INVALID_FLAG,
        PLAYER_BOUNDS,
        STATUS_000_FLAG,
        TIMESTAMP_FLAG,
    )

    raised = {b.flag for b in (*CDN_BOUNDS, *PLAYER_BOUNDS)}
    raised |= {CMCD_INVALID_FLAG, STATUS_000_FLAG, TIMESTAMP_FLAG}
    assert raised == set(QUALITY_FLAGS)
    assert any(b.column == "rtt_ms" and b.flag == "rtt_out_of_range"
               for b in PLAYER_BOUNDS)  # fmt: skip


def test_bounds_reject_undeclared_flags_and_empty_ranges():
    from qos_ml.ingest import Bound

    with pytest.raises(ConfigError, match=r"'quality flag' has value 'too_slow'.*"
                       r"allowed: a declared flag: duration_out_of_range"):  # fmt: skip
        Bound("time_ms", 0.0, 1.0, "too_slow")
    with pytest.raises(
        ConfigError, match=r"'bound of rtt_ms' has value \(5\.0, 1\.0\)"
    ):
        Bound("rtt_ms", 5.0, 1.0, "rtt_out_of_range")


# -- anonymisation ---------------------------------------------------------------


def test_ip_prefixes(spark):
    from pyspark.sql import functions as F

    from qos_ml.ingest import ip_prefix

    cases = {
        "203.0.113.77": "203.0.113.0/24",
        "10.1.2.3": "10.1.2.0/24",
        "300.1.2.3": None,
        "2001:db8:1:2::5": "2001:db8:1::/48",
        "2001:DB8::1": "2001:db8::/48",
        "2001:0db8:0000:0000:0000:0000:0000:0001": "2001:db8::/48",
        "::1": "::/48",
        "2001:0:1::": "2001:0:1::/48",
        "::ffff:192.0.2.33": "192.0.2.0/24",
        "64:ff9b::192.0.2.33": "64:ff9b::/48",
        "2001:db8:1:2:3:4:5:6:7": None,  # nine groups
        "2001:db8:1:2:3:4:5": None,  # seven groups and no '::'
        "1:2:3:4:5:6:7::8": None,  # '::' standing for no group
        "2001:db8::g": None,
        "fe80::1%eth0": None,
        "1::2::3": None,
        "not an ip": None,
    }
    df = spark.createDataFrame([(k,) for k in cases], "ip string")
    got = dict(df.select("ip", ip_prefix(F.col("ip"))).collect())
    assert got == cases


def test_keyed_hash_equals_python_hmac(spark):
    from pyspark.sql import functions as F

    from qos_ml.ingest import keyed_hash

    values = ["User-ABC", "203.0.113.77", "", "ü-ñ"]
    for key in (b"short key", b"k" * 100):
        df = spark.createDataFrame([(v,) for v in [*values, None]], "v string")
        got = [r[0] for r in df.select(keyed_hash(F.col("v"), key)).collect()]
        expected = [hmac.new(key, v.encode(), "sha256").hexdigest() for v in values]
        assert got == [*expected, None]


# -- the invariant: input lines = bronze + quarantine ----------------------------

_JUNK = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\n"),
    max_size=40,
)
_LINE = st.one_of(
    st.just(standard_line()),
    st.builds(
        lambda cut: "\t".join(standard_line().split("\t")[:cut]),
        st.integers(0, 40),
    ),
    st.builds(
        lambda i, v: "\t".join(
            v if n == i else f for n, f in enumerate(standard_line().split("\t"))
        ),
        st.integers(0, 32),
        _JUNK,
    ),
    st.just("#Fields: date time sc-bytes"),
    st.just("#Version: 1.0"),
    _JUNK,
)


def _expected_data_lines(text: str) -> int:
    import re

    return sum(
        1
        for line in text.split("\n")
        if not re.fullmatch(r"[ \t\n\x0b\f\r]*", line.removesuffix("\r"))
        and not line.startswith("#")
    )


@settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(lines=st.lists(_LINE, min_size=1, max_size=25), header=st.booleans())
def test_every_input_line_is_bronze_or_quarantine(spark, tmp_path, lines, header):
    text = (HEADER_33 if header else "") + "\n".join(lines)
    path = tmp_path / "fuzz.log"
    path.write_bytes(text.encode("utf-8"))

    parsed = _parse(spark, "cloudfront_standard", path)
    counts = {
        (r["kind"], r["ok"]): r["count"]
        for r in parsed.groupBy("kind", parsed["_reason"].isNull().alias("ok"))
        .count()
        .collect()
    }
    data = counts.get(("data", True), 0) + counts.get(("data", False), 0)

    assert data == _expected_data_lines(text)
    # A final line break ends the last line; it starts no new one.
    lines_in_file = len(text.split("\n")) - (1 if text.endswith("\n") else 0)
    assert sum(counts.values()) == lines_in_file

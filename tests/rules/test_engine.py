"""The engine on a real local Spark with Delta: few, small tests."""

from __future__ import annotations

import datetime as dt

import pytest
from pyspark.sql import functions as F

from qos_ml import QosConfig, SchemaMismatchError, TableCatalog, declared_tables
from qos_ml.qoe import _tables as _gold_tables  # noqa: F401  (declares gold)
from qos_ml.rules import (
    MEASUREMENT_COLUMNS,
    AlertEngine,
    backtest,
    measure,
    rules,
    start_alert_stream,
)
from qos_ml.sinks import WebhookSink

T0 = dt.datetime(2024, 5, 1, 12, 0)
TABLE_OF_TARGET = {
    "aggregate": "gold.qoe_by_dimension_minute",
    "view": "gold.views",
    "cdn_request": "silver.cdn_requests",
    "event": "silver.player_events",
}
SCORE_SCHEMA = (
    "window_start timestamp, session_id string, dimension string, "
    "dimension_value string, model_name string, score double, decision boolean, "
    "model_version string, top_features string"
)


@pytest.fixture
def own_catalog(spark, tmp_path):
    config = QosConfig.load(
        use_file=False,
        use_env=False,
        lakehouse_root=tmp_path,
        secret="test-secret-0123456789abcdef",
        shuffle_partitions=2,
    )
    return TableCatalog(config, spark)


def _minute(i: int) -> dt.datetime:
    return T0 + dt.timedelta(minutes=i)


def _aggregate_rows(spark, minutes, ttfb, startup):
    rows = []
    for i in minutes:
        for edge in ("FRA53", "LHR61"):
            rows.append(
                {
                    "window_start": _minute(i),
                    "window_end": _minute(i + 1),
                    "dimension": "edge_location",
                    "dimension_value": edge,
                    "views": 50,
                    "attempts": 55,
                    "video_startup_time_p95_s": startup(edge, i),
                    "ttfb_p95_s": ttfb(edge, i),
                }
            )
    schema = declared_tables()["gold.qoe_by_dimension_minute"].schema
    frame = spark.createDataFrame(rows, schema=None).select(
        *(
            (F.col(f.name) if f.name in rows[0] else F.lit(None))
            .cast(f.dataType)
            .alias(f.name)
            for f in schema
        )
    )
    return frame


def test_every_rule_measures_its_declared_input(spark) -> None:
    """Contract on Spark: every registered rule runs on its target's schema."""
    tables = declared_tables()
    inputs = {}
    for target, key in TABLE_OF_TARGET.items():
        schema = tables[key].schema
        inputs[target] = spark.createDataFrame([], schema)
    inputs["score"] = spark.createDataFrame(
        [
            (T0, "s1", "edge_location", "FRA53", "qos_ml_buffering", 0.91, True, "3",
             "rtt_ms, throughput_kbps"),
            (T0, "s2", "edge_location", "FRA53", "qos_ml_buffering", 0.20, False, "3",
             None),
        ],
        SCORE_SCHEMA,
    )  # fmt: skip
    frames = [measure(rules.get(n), inputs[rules.get(n).target]) for n in rules.names()]
    assert "test_slow_seeks" in rules.names()
    union = frames[0]
    for frame in frames[1:]:
        union = union.unionByName(frame)
    assert tuple(union.columns) == MEASUREMENT_COLUMNS
    fired = union.where("fired").collect()
    assert [(r.rule, r.scope_key, r.model_version) for r in fired] == [
        ("buffering_model_score", "session_id=s1", "3")
    ]
    assert "drivers: rtt_ms, throughput_kbps" in fired[0].explanation
    assert "version 3" in fired[0].explanation

    bad = inputs["cdn_request"].drop("status")
    with pytest.raises(SchemaMismatchError, match=r"'cdn_5xx_rate'.*\['status'\]"):
        measure(rules.get("cdn_5xx_rate"), bad)


@pytest.mark.slow
def test_alerts_are_deduplicated_stateful_resolved_and_delivered_once(
    spark, own_catalog, http_server
) -> None:
    url, server = http_server
    rule_set = [
        rules.get("ttfb_above_baseline", baseline_windows=5, warmup=3),
        rules.get("startup_time_p95"),
    ]

    def ttfb(edge, i):
        return 0.5 if edge == "FRA53" and 10 <= i <= 13 else 0.1

    def startup(edge, i):
        return 4.0 if edge == "LHR61" and 2 <= i <= 8 else 1.0

    def engine():  # a new engine is a restarted stream: state comes from Delta
        return AlertEngine(rule_set, own_catalog, sinks=[WebhookSink(url=url)])

    first = engine().process(
        {"aggregate": _aggregate_rows(spark, range(8), ttfb, startup)}, batch_id=0
    )
    assert [a["rule"] for a in first.alerts] == ["startup_time_p95"]
    assert first.alerts[0]["severity"] == "critical"

    second_input = _aggregate_rows(spark, range(8, 15), ttfb, startup)
    second = engine().process({"aggregate": second_input}, batch_id=1)
    alerts = {r.rule: r for r in own_catalog.read("alerts.alerts").collect()}
    assert set(alerts) == {"startup_time_p95", "ttfb_above_baseline"}
    startup_alert = alerts["startup_time_p95"]
    # The window that straddled both batches extended the same alert.
    assert startup_alert.alert_id == first.alerts[0]["alert_id"]
    assert startup_alert.severity == "critical"
    assert startup_alert.first_seen == _minute(0)
    ttfb_alert = alerts["ttfb_above_baseline"]
    # The baseline came from the first batch through the state table: minute 10
    # fired although this batch alone had only two earlier windows.
    assert ttfb_alert.first_seen == _minute(10)
    assert ttfb_alert.last_seen == _minute(14)
    assert ttfb_alert.windows_fired == 4
    assert ttfb_alert.severity == "critical"
    assert ttfb_alert.scope == {
        "dimension": "edge_location",
        "dimension_value": "FRA53",
    }
    # The explanation is that of the incident's latest window.
    assert "0.500 s against a baseline of 0.340 s" in ttfb_alert.explanation
    assert second.delivery is not None
    assert second.delivery.delivered == 1

    # Replaying the batch after a restart changes no alert and notifies nobody;
    # quiet windows well after the cooldown in the same batch resolve both.
    quiet = _aggregate_rows(spark, range(30, 32), ttfb, startup)
    replay = engine().process({"aggregate": second_input.unionByName(quiet)})
    after = own_catalog.read("alerts.alerts").collect()
    assert len(after) == 2
    assert {r.alert_id: r.windows_fired for r in after}[ttfb_alert.alert_id] == 4
    assert {r.status for r in after} == {"resolved"}
    assert replay.resolved == 2
    assert replay.delivery is not None
    assert replay.delivery.skipped == 2
    assert len(server.requests) == 2
    deliveries = own_catalog.read("alerts.deliveries").collect()
    assert {(r.sink, r.status) for r in deliveries} == {("webhook", "delivered")}


def test_backtest_reports_precision_recall_and_time_to_detect(spark) -> None:
    rows = []
    for minute in range(5):
        for n in range(60):
            failing = minute in (2, 3) and n < 12
            rows.append(
                (
                    f"FRA53-{minute}-{n}",
                    _minute(minute) + dt.timedelta(seconds=n),
                    "FRA53",
                    503 if failing else 200,
                )
            )
        for n in range(60):
            failing = minute == 1 and n < 6
            at = _minute(minute) + dt.timedelta(seconds=n)
            rows.append((f"LHR61-{minute}-{n}", at, "LHR61", 502 if failing else 200))
    requests = spark.createDataFrame(
        rows,
        "request_id string, request_time timestamp, edge_location string, status int",
    )
    incidents = spark.createDataFrame(
        [("edge-1", _minute(2), _minute(4), "edge_location", "FRA53")],
        "incident_id string, start timestamp, end timestamp, dimension string, "
        "dimension_value string",
    )
    report = backtest([rules.get("cdn_5xx_rate")], {"cdn_request": requests}, incidents)
    figures = report.summary("cdn_5xx_rate")
    assert figures["alerts"] == 2
    assert figures["precision"] == 0.5
    assert figures["recall"] == 1.0
    assert figures["median_time_to_detect_s"] == 60.0
    with pytest.raises(SchemaMismatchError, match=r"incidents lack columns \['end'"):
        backtest([rules.get("cdn_5xx_rate")], {"cdn_request": requests},
                 incidents.drop("end"))  # fmt: skip


@pytest.mark.slow
def test_alert_stream_runs_foreach_batch_from_a_delta_table(spark, own_catalog) -> None:
    def startup(edge, i):
        return 3.5 if edge == "FRA53" else 1.0

    own_catalog.write(
        _aggregate_rows(spark, range(5), lambda e, i: 0.1, startup),
        "gold.qoe_by_dimension_minute",
    )
    engine = AlertEngine([rules.get("startup_time_p95")], own_catalog)
    stream = own_catalog.read_stream("gold.qoe_by_dimension_minute")
    with pytest.raises(SchemaMismatchError, match=r"video_startup_time_p95_s"):
        start_alert_stream(
            stream.drop("video_startup_time_p95_s"), "aggregate", engine,
            query_name="alerts_bad",
        )  # fmt: skip
    query = start_alert_stream(
        stream, "aggregate", engine, query_name="alerts_test",
        trigger={"availableNow": True},
    )  # fmt: skip
    query.awaitTermination(120)
    assert query.exception() is None
    (alert,) = own_catalog.read("alerts.alerts").collect()
    assert (alert.rule, alert.scope_key, alert.severity) == (
        "startup_time_p95",
        "dimension=edge_location,dimension_value=FRA53",
        "critical",
    )

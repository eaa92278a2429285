"""The simulator's output parses with no quarantine and joins on request id."""

from __future__ import annotations

import pytest

pytest.importorskip("qos_ml.simulate")


@pytest.mark.slow
def test_simulated_output_ingests_cleanly_and_joins(
    qos_config, spark, tmp_path_factory
):
    from pyspark.sql import functions as F

    from qos_ml import TableCatalog
    from qos_ml.ingest import ingest_batch
    from qos_ml.simulate import SimulationConfig, simulate

    out = tmp_path_factory.mktemp("sim")
    simulate(SimulationConfig(seed=7, sessions=4, mean_watch_s=40, concurrency=2), out)
    catalog = TableCatalog(
        qos_config.replace(lakehouse_root=tmp_path_factory.mktemp("sim_lake")), spark
    )
    reports = {
        name: ingest_batch(str(out / name), name, catalog)
        for name in ("cloudfront_standard", "cloudfront_realtime", "player_events")
    }
    for name, report in reports.items():
        assert report.lines_in > 0, name
        assert report.quarantine == 0, name
        assert report.bronze == report.lines_in, name

    cdn = catalog.read("silver.cdn_requests")
    events = catalog.read("silver.player_events").where("cdn_tracking_id is not null")
    unmatched = events.join(
        cdn, events.cdn_tracking_id == cdn.request_id, "left_anti"
    ).count()
    assert events.count() > 0
    assert unmatched == 0
    # CMCD session ids of the CDN lines are the player's session ids.
    sids = cdn.where("cmcd_sid is not null").select(F.col("cmcd_sid").alias("sid"))
    sessions = catalog.read("silver.player_events").select("session_id").distinct()
    assert (
        sessions.join(sids, sessions.session_id == sids.sid, "left_anti")
        .where("session_id is not null")
        .count()
        == 0
    )

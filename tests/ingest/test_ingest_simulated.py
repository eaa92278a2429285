"""The simulator's output ingests with no quarantine and joins; ``qos-ml ingest``.

One small simulation is ingested once (CloudFront standard logs and player
events, through the library); the CLI tests ingest the real-time logs in batch
and replay the player events as a stream into the same lakehouse.
"""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from click.testing import CliRunner
from tests.conftest import TEST_SECRET

pytest.importorskip("qos_ml.simulate")


@pytest.fixture(scope="module")
def simulated(qos_config, spark, tmp_path_factory):
    """A 4-session simulation, its standard logs and events ingested."""
    from qos_ml import TableCatalog
    from qos_ml.ingest import ingest_batch
    from qos_ml.simulate import SimulationConfig, simulate

    out = tmp_path_factory.mktemp("sim")
    summary = simulate(
        SimulationConfig(seed=7, sessions=4, mean_watch_s=40, concurrency=2), out
    )
    lake = tmp_path_factory.mktemp("sim_lake")
    catalog = TableCatalog(qos_config.replace(lakehouse_root=lake), spark)
    reports = {
        name: ingest_batch(str(out / name), name, catalog)
        for name in ("cloudfront_standard", "player_events")
    }
    return SimpleNamespace(
        out=out, lake=lake, catalog=catalog, summary=summary, reports=reports
    )


def test_simulated_output_ingests_completely(simulated):
    cdn = simulated.reports["cloudfront_standard"]
    events = simulated.reports["player_events"]
    assert simulated.summary.cdn_requests > 0
    assert simulated.summary.player_events > 0

    assert (cdn.lines_in, cdn.bronze, cdn.quarantine) == (
        simulated.summary.cdn_requests,
        simulated.summary.cdn_requests,
        0,
    )
    assert (events.lines_in, events.bronze, events.quarantine) == (
        simulated.summary.player_events,
        simulated.summary.player_events,
        0,
    )
    # Every request and every event is distinct: all of them reach silver.
    assert (cdn.silver_new, events.silver_new) == (cdn.lines_in, events.lines_in)


def test_events_join_cdn_lines_on_request_id_and_cmcd_session(simulated):
    from pyspark.sql import functions as F

    catalog = simulated.catalog
    cdn = catalog.read("silver.cdn_requests")
    events = catalog.read("silver.player_events")
    tracked = events.where("cdn_tracking_id is not null")
    assert tracked.count() > 0
    unmatched = tracked.join(
        cdn, tracked.cdn_tracking_id == cdn.request_id, "left_anti"
    ).count()
    assert unmatched == 0

    # CMCD session ids of the CDN lines are the player's session ids.
    sids = cdn.select(F.col("cmcd_sid").alias("sid")).where("sid is not null")
    sessions = events.select("session_id").where("session_id is not null").distinct()
    assert sessions.count() > 0
    assert (
        sessions.join(sids, sessions.session_id == sids.sid, "left_anti").count() == 0
    )
    assert (
        sids.distinct()
        .join(sessions, sessions.session_id == sids.sid, "left_anti")
        .count()
        == 0
    )


def _counts(output: str) -> dict[str, int]:
    """The rows of the table ``qos-ml ingest`` prints, by their label."""
    found = re.findall(r"^\W*(\S[^│|]*?)\s*[│|]\s*(\d+)\s*[│|]?\s*$", output, re.M)
    return {label: int(n) for label, n in found}


def _cli(simulated, *args):
    from qos_ml.cli import main

    return CliRunner().invoke(
        main,
        ["--lakehouse", str(simulated.lake), "ingest", *args],
        env={"QOS_ML_SECRET": TEST_SECRET, "COLUMNS": "120"},
        catch_exceptions=False,
    )


def test_cli_ingests_simulated_realtime_logs(simulated):
    result = _cli(
        simulated,
        "--source",
        "cloudfront_realtime",
        str(simulated.out / "cloudfront_realtime"),
    )
    assert result.exit_code == 0, result.output
    counts = _counts(result.output)
    n = simulated.summary.cdn_requests
    assert counts["rows in (input lines)"] == n
    assert counts["bronze (bronze.cloudfront_realtime)"] == n
    assert counts["quarantine (quarantine.ingest)"] == 0
    # The same requests as the standard logs: already in silver.
    assert counts["silver new (silver.cdn_requests)"] == 0
    assert counts["silver duplicates (already there)"] == n


@pytest.mark.slow
def test_cli_streams_a_landing_folder_and_prints_the_counts(simulated):
    result = _cli(
        simulated,
        "--stream",
        "--source",
        "player_events",
        str(simulated.out / "player_events"),
    )
    assert result.exit_code == 0, result.output
    counts = _counts(result.output)
    n = simulated.summary.player_events
    assert counts["rows in (input lines)"] == n
    assert counts["quarantine (quarantine.ingest)"] == 0
    assert counts["silver new (silver.player_events)"] == 0  # a replay
    assert counts["silver duplicates (already there)"] == n
    assert "--stream player_events (1 batches)" in result.output


def test_cli_rejects_unknown_sources_and_bad_stream_paths(tmp_path):
    from qos_ml.cli import main

    def run(*args):
        return CliRunner().invoke(main, ["--lakehouse", str(tmp_path), *args])

    result = run("ingest", "--source", "fastly", str(tmp_path))
    assert result.exit_code == 2
    assert "unknown ingestion source 'fastly'" in result.output
    assert "cloudfront_standard" in result.output

    two = run("ingest", "--stream", "--source", "player_events", "a", "b")
    assert two.exit_code == 2
    assert "--stream reads one landing folder; got 2 paths" in two.output

    cont = run("ingest", "--continuous", "--source", "player_events", "a")
    assert cont.exit_code == 2
    assert "--continuous needs --stream" in cont.output

    helptext = run("ingest", "--help")
    assert helptext.exit_code == 0
    assert "bronze" in helptext.output
    assert "landing folder" in helptext.output

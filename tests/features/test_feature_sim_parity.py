"""Stream/batch parity on the simulator's output, through ingestion (#6).

The simulator's player events and real-time CDN logs are cut by event time into
three arrivals. The streaming path runs what the live job runs for each arrival:
the ingestion streams from a landing folder into silver, then the feature stream
over the silver tables, then a final flush. The batch path ingests the same
files at once and computes :func:`~qos_ml.features.feature_rows`. Every feature
of every built-in set must have the same value for the same session and time.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from features.parity import ALL_BUILTIN, ROW_KEYS, assert_same, frame

pytestmark = pytest.mark.slow

#: Landing sub-folder (= ingestion source) -> files and each line's event time.
KINDS = {
    "player_events": ("part-*.jsonl", lambda line: json.loads(line)["TimeStamp"] / 1e3),
    "cloudfront_realtime": ("part-*.log", lambda line: float(line.split("\t", 1)[0])),
}
ARRIVALS = 3


def _arrivals(sim_dir: Path, staging: Path, cuts: list[float]) -> list[Path]:
    """Write each kind's lines into one folder per arrival, cut by event time."""
    folders = [staging / f"arrival-{i}" for i in range(len(cuts) + 1)]
    for kind, (pattern, event_time) in KINDS.items():
        parts: list[list[str]] = [[] for _ in folders]
        for path in sorted((sim_dir / kind).glob(pattern)):
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    t = event_time(line)
                    parts[sum(t > cut for cut in cuts)].append(line)
        for i, (folder, lines) in enumerate(zip(folders, parts, strict=True)):
            assert lines, f"arrival {i} has no {kind} lines"
            (folder / kind).mkdir(parents=True)
            suffix = pattern.rsplit(".", 1)[1]
            (folder / kind / f"arrival-{i}.{suffix}").write_text(
                "\n".join(lines) + "\n"
            )
    return folders


@pytest.fixture(scope="module")
def paths(qos_config, spark, tmp_path_factory):
    from qos_ml import TableCatalog
    from qos_ml.features import feature_rows, start_feature_stream
    from qos_ml.ingest import ingest_batch, start_ingest_stream
    from qos_ml.simulate import SimulationConfig, simulate

    sim_dir = tmp_path_factory.mktemp("parity_sim")
    # Slow networks, seeks and failures, so that every feature has values.
    summary = simulate(
        SimulationConfig(
            seed=11,
            sessions=16,
            mean_watch_s=120,
            concurrency=8,
            throughput_scale=0.5,
            start_failure_rate=0.1,
            playback_failures_per_hour=15,
            seeks_per_hour=30,
        ),
        sim_dir,
    )
    assert summary.stalls > 0
    assert summary.outcomes.get("playback_failure", 0) > 0

    def catalog(name: str) -> TableCatalog:
        root = tmp_path_factory.mktemp(name)
        return TableCatalog(qos_config.replace(lakehouse_root=root), spark)

    # Batch: every file at once, then the batch feature computation.
    batch_catalog = catalog("parity_batch")
    for kind in KINDS:
        ingest_batch(str(sim_dir / kind), kind, batch_catalog)
    batch = frame(
        feature_rows(
            batch_catalog.read("silver.player_events"),
            batch_catalog.read("silver.cdn_requests"),
            ALL_BUILTIN,
        )
    )

    # Streaming: arrivals land one after the other; each cycle runs the
    # ingestion streams, then the feature stream (queries resume by name).
    times = sorted(
        event_time(line)
        for kind, (pattern, event_time) in KINDS.items()
        for path in (sim_dir / kind).glob(pattern)
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    )
    cuts = [times[len(times) * k // ARRIVALS] for k in range(1, ARRIVALS)]
    arrivals = _arrivals(sim_dir, tmp_path_factory.mktemp("parity_staging"), cuts)
    stream_catalog = catalog("parity_stream")
    landing = tmp_path_factory.mktemp("parity_landing")
    received: list[pd.DataFrame] = []
    emitted_by_cycle = []
    for folder in arrivals:
        for kind in KINDS:
            (landing / kind).mkdir(exist_ok=True)
            for path in (folder / kind).iterdir():
                shutil.copy(path, landing / kind / path.name)
        for kind in KINDS:
            query = start_ingest_stream(
                str(landing / kind), kind, stream_catalog, query_name=f"parity_{kind}"
            )
            query.awaitTermination(600)
            assert query.exception() is None
        features = start_feature_stream(
            stream_catalog,
            ALL_BUILTIN,
            output=lambda rows, _batch_id: received.append(rows.toPandas()),
            lateness_s=5.0,
            query_name="parity_features",
        )
        features.await_termination(600)
        emitted_by_cycle.append(sum(len(r) for r in received))
    features.flush()
    streamed = (
        pd.concat(received)
        .sort_values(["session_key", "obs_time"])
        .reset_index(drop=True)
    )
    return SimpleNamespace(
        batch=batch,
        streamed=streamed,
        emitted_by_cycle=emitted_by_cycle,
        batch_catalog=batch_catalog,
        stream_catalog=stream_catalog,
    )


def test_both_paths_ingest_the_same_silver_rows(paths) -> None:
    for key, column in (
        ("silver.player_events", "event_id"),
        ("silver.cdn_requests", "request_id"),
    ):
        batch = paths.batch_catalog.read(key).select(column).toPandas()
        stream = paths.stream_catalog.read(key).select(column).toPandas()
        assert len(batch) > 0
        assert sorted(batch[column]) == sorted(stream[column]), key


def test_the_stream_emits_rows_as_arrivals_come_and_each_point_once(paths) -> None:
    first, second, last = paths.emitted_by_cycle
    assert 0 < first < second < last < len(paths.streamed)  # the flush adds the end
    assert not paths.streamed.duplicated(["session_key", "obs_time"]).any()


def test_stream_and_batch_give_every_builtin_feature_the_same_value(paths) -> None:
    assert_same(paths.batch, paths.streamed, [*ROW_KEYS, *ALL_BUILTIN.names])
    # Not a comparison of empty columns: the simulation gives most features
    # values, including the stall, error and CDN ones.
    filled = paths.batch[list(ALL_BUILTIN.names)].notna().mean()
    assert (filled > 0).mean() > 0.9, filled[filled == 0].index.tolist()

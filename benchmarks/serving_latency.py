"""Latency from a file landing to its cycle's alerts being committed (#8).

Replays a fresh simulated window with incidents into a landing folder at a
fixed rate of player events per second while :class:`~qos_ml.rules.LiveJob`
runs its cycles (ingest, features, scoring, gold, rules, alerts) against the
champion models of an existing lakehouse (a finished ``qos-ml demo``).

Each landed file is mapped to the cycle whose ingestion read it, from the file
source's own checkpoint log (exact, not a guess by time). Its latency is the
time from the file's landing (its modification time: the replay writes a file
under a hidden name, then renames it) to the commit of that cycle's last write
to ``alerts.alerts`` (Delta history), or to the cycle's end when the cycle
wrote no alert. Prints p50, p95 and max over files, the cycle lengths, and the
in-process baseline: the time one idle cycle takes (nothing landed), which is
the floor of the latency.

    .venv/bin/python benchmarks/serving_latency.py --lakehouse lakehouse
        [--rate 100] [--duration 300]
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote, urlparse

import numpy as np

from qos_ml import QosConfig, TableCatalog, configure_mlflow
from qos_ml.rules import LiveJob, default_live_rules
from qos_ml.simulate import SimulationConfig, default_incidents, replay, simulate

KINDS = ("player_events", "cloudfront_realtime")


def _ingested_files(checkpoint: Path) -> set[str]:
    """Paths a file-source query has read, from its checkpoint's source log."""
    seen: set[str] = set()
    log = checkpoint / "sources" / "0"
    if not log.is_dir():
        return seen
    for entry in log.iterdir():
        if entry.name.startswith("."):
            continue
        for line in entry.read_text().splitlines():
            if line.startswith("{"):
                seen.add(unquote(urlparse(json.loads(line)["path"]).path))
    return seen


def _alert_commits(catalog: TableCatalog, after: float) -> list[float]:
    """Epoch seconds of the alerts table's commits after ``after``."""
    if not catalog.exists("alerts.alerts"):
        return []
    history = catalog.history("alerts.alerts").select("timestamp").collect()
    # Spark hands timestamps to Python as local naive datetimes.
    stamps = [r["timestamp"].timestamp() for r in history]
    return sorted(t for t in stamps if t > after)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lakehouse", required=True, help="A finished demo's.")
    parser.add_argument("--rate", type=float, default=100.0, help="Events/s.")
    parser.add_argument("--duration", type=float, default=300.0, help="Seconds.")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    config = QosConfig.load(lakehouse_root=args.lakehouse)
    catalog = TableCatalog(config)
    configure_mlflow(config)
    work = Path(tempfile.mkdtemp(prefix="qos_ml_latency_"))
    source, landing = work / "source", work / "landing"
    start = SimulationConfig.model_fields["start"].default + timedelta(days=3)
    sim = SimulationConfig.create(
        sessions=60, seed=args.seed, start=start, mean_watch_s=90.0,
        concurrency=60.0, rows_per_file=2_000,
    )  # fmt: skip
    sim = SimulationConfig.create(
        **{**sim.model_dump(), "incidents": tuple(default_incidents(sim))}
    )
    simulate(sim, source)
    for kind in KINDS:
        (landing / kind).mkdir(parents=True)

    prefix = f"latency_{int(time.time())}"
    job = LiveJob(
        catalog,
        landing=landing,
        rules=default_live_rules(gold=True),
        gold=True,
        prefix=prefix,
    )
    checkpoints = {
        kind: Path(catalog.checkpoint(f"{prefix}_ingest_{kind}")) for kind in KINDS
    }
    # Baseline: one cycle over nothing (it also compiles what later cycles reuse).
    idle = job.run_once()
    print(f"baseline: one idle cycle (nothing landed) {idle.seconds:.1f} s")

    replayer = threading.Thread(
        target=replay,
        args=(source, landing),
        kwargs={"rate": args.rate, "max_duration_s": args.duration},
        daemon=True,
    )
    replayer.start()
    seen: set[str] = set()
    latencies: list[float] = []
    cycles: list[float] = []
    while True:
        arriving = replayer.is_alive()
        began = time.time()
        report = job.run_once(final=not arriving)
        ended = time.time()
        cycles.append(report.seconds)
        read = set().union(*(_ingested_files(c) for c in checkpoints.values()))
        new = read - seen
        seen |= read
        commits = _alert_commits(catalog, began)
        committed = commits[-1] if commits else ended
        for path in new:
            latencies.append(committed - Path(path).stat().st_mtime)
        print(
            f"cycle {report.cycle}: {len(new)} file(s), {report.score_rows} score "
            f"rows, {len(report.alerts)} alert(s), {report.seconds:.1f} s",
            flush=True,
        )
        if not arriving:
            break
    landed = sum(len(list((landing / k).glob("*"))) for k in KINDS)
    values = np.asarray(latencies)
    print(
        f"{len(values)} of {landed} landed files mapped to cycles at "
        f"{args.rate:.0f} events/s; latency landing -> alerts committed: "
        f"p50 {np.percentile(values, 50):.1f} s, p95 {np.percentile(values, 95):.1f} "
        f"s, max {values.max():.1f} s; cycles p50 {np.median(cycles):.1f} s "
        f"({idle.seconds:.1f} s idle baseline, {np.median(cycles) / idle.seconds:.2f}x)"
    )
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

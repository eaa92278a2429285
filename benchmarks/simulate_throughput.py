"""Throughput and memory of ``qos_ml.simulate`` on at least 1,000,000 player events.

Run: ``.venv/bin/python benchmarks/simulate_throughput.py [sessions [workers]]``
(workers: default as ``SimulationConfig.workers``, i.e. min(2, CPUs)).

Prints player events per second of wall time and of CPU time (this process,
which merges and writes, plus its worker processes), the resident memory of
this process at a quarter of the run and at its end (memory must not grow with
the size of the output) and the peak of the workers. The baseline, measured in
the same process, is the cost of serialising and writing the same number of
minimal JSON events: the ratios say what the simulation costs on top of I/O.
CPU time is the figure to compare across runs on a shared machine; wall time
depends on what else runs.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

from qos_ml.simulate import SimulationConfig, default_incidents, simulate


def rss_mib() -> float:
    """Current resident set size (MiB), from /proc where available."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def baseline(n: int, folder: Path) -> float:
    """Seconds to serialise and write ``n`` small JSON events."""
    started = time.perf_counter()
    with open(folder / "baseline.jsonl", "w", encoding="utf-8") as handle:
        for i in range(n):
            event = {"MetricType": "STREAM", "user_id": "u", "TimeStamp": i, "at": i}
            handle.write(json.dumps(event, separators=(",", ":")) + "\n")
    return time.perf_counter() - started


def cpu_s() -> tuple[float, float]:
    """CPU seconds (user + system) of this process and of its ended children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (
        own.ru_utime + own.ru_stime,
        children.ru_utime + children.ru_stime,
    )


def main() -> None:
    sessions = int(sys.argv[1]) if len(sys.argv) > 1 else 1500
    workers = int(sys.argv[2]) if len(sys.argv) > 2 else None
    base = SimulationConfig.create(sessions=sessions, seed=0)
    config = SimulationConfig.create(
        sessions=sessions, seed=0, incidents=default_incidents(base), workers=workers
    )
    samples: dict[str, float] = {"start": rss_mib()}

    def progress(done: int, total: int) -> None:
        if done == max(total // 4, 1):
            samples["quarter"] = rss_mib()

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "sim"
        wall0, (own0, children0) = time.perf_counter(), cpu_s()
        summary = simulate(config, out, progress=progress)
        wall = time.perf_counter() - wall0
        own1, children1 = cpu_s()
        own, children = own1 - own0, children1 - children0
        cpu = own + children
        samples["end"] = rss_mib()
        size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
        cpu0 = time.process_time()
        base_s = baseline(summary.player_events, Path(tmp))
        base_cpu = time.process_time() - cpu0

    events = summary.player_events
    print(f"sessions            {summary.sessions}")
    print(f"player events       {events:,}")
    print(f"CDN requests        {summary.cdn_requests:,} (x2 layouts)")
    print(f"output              {size / 2**20:.0f} MiB")
    print(f"worker processes    {config.workers or 'default'}")
    print(f"wall time           {wall:.1f} s  ({events / wall:,.0f} events/s)")
    print(
        f"CPU time            {cpu:.1f} s  ({events / cpu:,.0f} events/s): "
        f"{own:.1f} s merging and writing here, {children:.1f} s in workers"
    )
    print(
        f"baseline            {base_s:.1f} s wall, {base_cpu:.1f} s CPU to dump+write "
        f"{events:,} tiny events"
    )
    print(f"ratio to baseline   {wall / base_s:.2f}x wall, {cpu / base_cpu:.2f}x CPU")
    print(
        "resident memory     "
        f"start {samples['start']:.0f} MiB, at 1/4 {samples.get('quarter', 0):.0f} MiB,"
        f" end {samples['end']:.0f} MiB"
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    peak_worker = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak RSS            {peak:.0f} MiB here, {peak_worker:.0f} MiB per worker")
    print(f"load average        {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    if events < 1_000_000:
        print("note: fewer than 1,000,000 events; raise the session count")


if __name__ == "__main__":
    main()

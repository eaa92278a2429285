"""Run a simulation: arrivals, viewers, traces, sessions, incidents, files."""

from __future__ import annotations

import itertools
import json
import logging
import multiprocessing
import os
import random
import threading
import time
from array import array
from collections import Counter, deque
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from multiprocessing.pool import AsyncResult
from pathlib import Path
from typing import Any

from qos_ml._errors import ConfigError
from qos_ml.simulate._config import (
    CorruptedAsset,
    DeviceFailure,
    EdgeDegradation,
    Incident,
    IspCongestion,
    OriginOutage,
    SimulationConfig,
)
from qos_ml.simulate._session import SessionResult, run_session
from qos_ml.simulate._traces import (
    TRACE_MODELS,
    Trace,
    TraceCursor,
    TraceTable,
    generate_traces,
    load_traces,
)
from qos_ml.simulate._world import DEVICES, EDGES, ISPS, World, guid

__all__ = ["SimulationSummary", "default_incidents", "simulate"]

logger = logging.getLogger(__name__)

#: Generated traces per network profile when no trace folder is given.
_GENERATED_PER_PROFILE = 120


@dataclass
class SimulationSummary:
    """What a simulation wrote.

    Attributes
    ----------
    out_dir : Path
    sessions, player_events, cdn_requests : int
    files : dict of str to int
        Files per output folder.
    outcomes : dict of str to int
        Sessions per outcome (completed, abandoned_before_start, ...).
    stalls : int
        Stalls after the first frame, seek-induced ones included.
    simulated_s : float
        Simulated time from the first session start to the last event.
    wall_s : float
        Seconds the simulation took.
    """

    out_dir: Path
    sessions: int = 0
    player_events: int = 0
    cdn_requests: int = 0
    files: dict[str, int] = field(default_factory=dict)
    outcomes: dict[str, int] = field(default_factory=dict)
    stalls: int = 0
    simulated_s: float = 0.0
    wall_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (used in ``manifest.json``)."""
        values = asdict(self)
        values["out_dir"] = str(self.out_dir)
        return values


def default_incidents(config: SimulationConfig) -> list[Incident]:
    """One incident of each kind, spread over the simulated window.

    Their scopes are chosen from the seeded world (the busiest edge location,
    the largest ISP, a popular device model, the most popular title), so that
    each touches a visible number of sessions.
    """
    world = World(config)
    span = config.span_s()
    busiest_edge = max(EDGES["US"], key=lambda e: e[1])[0]
    largest_isp = max(ISPS, key=lambda i: i.weight).asn
    device = sorted(DEVICES, key=lambda d: -d.weight)[2].model
    return [
        EdgeDegradation(
            id="edge-degradation-1",
            start_s=round(0.15 * span, 1),
            end_s=round(0.30 * span, 1),
            edge_locations=(busiest_edge,),
        ),
        IspCongestion(
            id="isp-congestion-1",
            start_s=round(0.35 * span, 1),
            end_s=round(0.55 * span, 1),
            asns=(largest_isp,),
        ),
        DeviceFailure(
            id="device-failure-1",
            start_s=round(0.60 * span, 1),
            end_s=round(0.75 * span, 1),
            device_models=(device,),
        ),
        CorruptedAsset(
            id="corrupted-asset-1",
            start_s=round(0.40 * span, 1),
            end_s=round(0.85 * span, 1),
            video_ids=(world.vod[0].video_id,),
        ),
        OriginOutage(
            id="origin-outage-1",
            start_s=round(0.88 * span, 1),
            end_s=round(0.92 * span, 1),
        ),
    ]


def _check_scopes(config: SimulationConfig, world: World) -> None:
    """Every incident must name things that exist in the simulated world."""
    videos = {v.video_id for v in world.vod} | {v.video_id for v in world.live}
    for n, incident in enumerate(config.incidents):
        checks: list[tuple[str, Sequence[Any], set[Any]]] = []
        if isinstance(incident, EdgeDegradation):
            checks.append(("edge_locations", incident.edge_locations, world.edge_codes))
        elif isinstance(incident, IspCongestion):
            checks.append(("asns", incident.asns, world.asns))
        elif isinstance(incident, DeviceFailure):
            checks.append(
                ("device_models", incident.device_models, world.device_models)
            )
        elif isinstance(incident, CorruptedAsset):
            checks.append(("video_ids", incident.video_ids, videos))
        for name, given, known in checks:
            unknown = [v for v in given if v not in known]
            if unknown:
                shown = sorted(known, key=str)
                more = f" (and {len(shown) - 12} more)" if len(shown) > 12 else ""
                raise ConfigError(
                    f"incidents.{n}.{name}",
                    unknown,
                    "values of the simulated world: "
                    + ", ".join(map(str, shown[:12]))
                    + more,
                    "SimulationConfig",
                )


def _in_scope(incident: Any, viewer: Any, video: Any) -> bool:
    if isinstance(incident, EdgeDegradation):
        return viewer.edge in incident.edge_locations
    if isinstance(incident, IspCongestion):
        return viewer.isp.asn in incident.asns
    if isinstance(incident, DeviceFailure):
        return viewer.device.model in incident.device_models
    if isinstance(incident, CorruptedAsset):
        return video.video_id in incident.video_ids
    return isinstance(incident, OriginOutage)


class _TracePool:
    """Traces by network profile, prepared once for download arithmetic."""

    def __init__(self, traces: Sequence[Trace], scale: float) -> None:
        self.traces = list(traces)
        self.scale = scale
        self._tables: dict[int, TraceTable] = {}
        cellular = [n for n, t in enumerate(self.traces) if t.profile == "cellular"]
        fixed = [n for n, t in enumerate(self.traces) if t.profile != "cellular"]
        everything = list(range(len(self.traces)))
        self._choices = {
            "cellular": cellular or everything,
            "fixed": fixed or everything,
        }

    def pick(self, rng: random.Random, connection: str) -> TraceTable:
        """A trace for a connection type; cellular viewers get cellular traces."""
        kind = "cellular" if connection == "cellular" else "fixed"
        n = rng.choice(self._choices[kind])
        table = self._tables.get(n)
        if table is None:  # prepared on first use: folders may hold many traces
            table = self._tables[n] = TraceTable.of(self.traces[n], self.scale)
        return table


def _trace_source(
    config: SimulationConfig, traces: str | Path | Sequence[Trace] | None
) -> tuple[list[Trace], str]:
    if traces is None:
        generated: list[Trace] = []
        for profile, model in TRACE_MODELS.items():
            generated += generate_traces(
                model, _GENERATED_PER_PROFILE, seed=config.seed, profile=profile
            )
        return generated, "generator"
    if isinstance(traces, str | Path):
        return load_traces(traces), str(traces)
    if not traces:
        raise ConfigError(
            "traces", [], "a non-empty list of Trace objects, a folder or None"
        )
    return list(traces), "given"


#: A session to simulate: its index, its start (seconds after the simulation
#: start) and its viewer's population index. With the seed, this is all that
#: decides a session, so any process can simulate it.
_Task = tuple[int, float, int]


def _tasks(config: SimulationConfig, viewer_count: int) -> Iterator[_Task]:
    """Sessions in order of their start: Poisson arrivals of random viewers."""
    arrivals = random.Random(f"arrivals:{config.seed}")
    rate = config.concurrency / config.expected_session_s()
    offset = 0.0
    index = 0
    while True:
        if config.sessions is not None and index >= config.sessions:
            return
        if config.duration_s is not None and offset >= config.duration_s:
            return
        yield index, offset, arrivals.randrange(viewer_count)
        index += 1
        offset += arrivals.expovariate(rate)


class _Simulator:
    """What every session of one run shares: the world, the traces, the incidents.

    Built once in each process that simulates sessions.
    """

    def __init__(self, config: SimulationConfig, traces: Sequence[Trace]) -> None:
        self.config = config
        self.world = World(config)
        self.pool = _TracePool(traces, config.throughput_scale)
        self.epoch0 = config.start.timestamp()

    def run(self, index: int, offset: float, viewer_index: int) -> SessionResult:
        """Simulate the session ``index`` starting ``offset`` seconds in."""
        config = self.config
        rng = random.Random(f"session:{config.seed}:{index}")
        viewer = self.world.viewer(viewer_index)
        video = self.world.pick_video(rng)
        table = self.pool.pick(rng, viewer.connection_type)
        incidents = [i for i in config.incidents if _in_scope(i, viewer, video)]
        windows = sorted(
            (i.start_s - offset, i.end_s - offset, i.throughput_factor)
            for i in incidents
            if isinstance(i, IspCongestion)
        )
        return run_session(
            config=config,
            session_id=guid(rng),
            offset_s=offset,
            epoch_s=self.epoch0 + offset,
            viewer=viewer,
            video=video,
            cursor=TraceCursor(table, rng.uniform(0, table.period), _disjoint(windows)),
            incidents=incidents,
            rng=rng,
            continued=rng.random() < 0.2,
            trace_name=table.name,
        )


#: The simulator of a worker process (set by its initializer).
_WORKER: _Simulator | None = None

#: Sessions per task sent to a worker, and tasks in flight per worker: enough
#: to keep the workers busy while the parent writes, few enough that memory
#: stays bounded (a session's lines are about half a megabyte).
_BATCH = 8
_IN_FLIGHT_PER_WORKER = 3

#: Below this many expected sessions, ``workers=None`` simulates in-process:
#: starting worker processes costs a few seconds.
_MIN_SESSIONS_FOR_WORKERS = 100


#: A session's result as it travels from a worker: time stamps as arrays and
#: the lines of each kind joined by newlines. Pickling a million small strings
#: and tuples costs several times more than this packing and its undoing.
_Packed = tuple[array, str, array, str, str, dict[str, Any], dict[str, Any]]


def _pack(result: SessionResult) -> _Packed:
    events, requests = result.events, result.requests
    return (
        array("q", [ts for ts, _ in events]),
        "\n".join([line for _, line in events]),
        array("q", [ts for ts, _, _ in requests]),
        "\n".join([standard for _, standard, _ in requests]),
        "\n".join([realtime for _, _, realtime in requests]),
        result.truth,
        result.touched,
    )


def _unpack(packed: _Packed) -> SessionResult:
    event_ts, events, request_ts, standard, realtime, truth, touched = packed

    def lines(text: str) -> list[str]:  # no line is empty, nor holds a newline
        return text.split("\n") if text else []

    return SessionResult(
        list(zip(event_ts, lines(events), strict=True)),
        list(zip(request_ts, lines(standard), lines(realtime), strict=True)),
        truth,
        touched,
    )


def _init_worker(config: SimulationConfig, traces: list[Trace]) -> None:
    global _WORKER
    _WORKER = _Simulator(config, traces)


def _run_batch(batch: list[_Task]) -> list[_Packed]:
    if _WORKER is None:  # the pool's initializer sets it
        raise RuntimeError("simulation worker used before its initializer ran")
    return [_pack(_WORKER.run(*task)) for task in batch]


def _worker_count(config: SimulationConfig) -> int:
    """Processes to simulate sessions in (1: this one)."""
    if config.workers is not None:
        return config.workers
    if config.expected_sessions() < _MIN_SESSIONS_FOR_WORKERS:
        return 1
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(2, cpus))


def _start_method() -> str:
    """How to start workers: ``fork`` where it is safe, else ``spawn``.

    A forked worker starts at once and inherits the loaded modules, but
    forking a process that runs other threads (a progress bar, a Spark
    gateway) can deadlock the child. A spawned worker imports the package
    afresh, and re-imports the calling script: a script must then guard its
    entry point with ``if __name__ == "__main__":``.
    """
    forkable = "fork" in multiprocessing.get_all_start_methods()
    return "fork" if forkable and threading.active_count() == 1 else "spawn"


#: Finished sessions with their tasks, in task order.
_Sessions = Generator[tuple[_Task, SessionResult], None, None]


def _in_process(simulator: _Simulator, tasks: Iterator[_Task]) -> _Sessions:
    for task in tasks:
        yield task, simulator.run(*task)


def _in_workers(
    config: SimulationConfig,
    traces: list[Trace],
    tasks: Iterator[_Task],
    workers: int,
) -> _Sessions:
    """Sessions simulated by worker processes, yielded in task order.

    A fixed number of batches is in flight at any time, so neither the queue
    of tasks nor that of results grows with the size of the run.
    """
    context = multiprocessing.get_context(_start_method())
    batches = iter(lambda: list(itertools.islice(tasks, _BATCH)), [])
    with context.Pool(workers, _init_worker, (config, traces)) as pool:
        in_flight: deque[tuple[list[_Task], AsyncResult[list[_Packed]]]]
        in_flight = deque()
        for batch in itertools.islice(batches, workers * _IN_FLIGHT_PER_WORKER):
            in_flight.append((batch, pool.apply_async(_run_batch, (batch,))))
        while in_flight:
            batch, pending = in_flight.popleft()
            results = pending.get()
            following = next(batches, None)
            if following is not None:
                in_flight.append(
                    (following, pool.apply_async(_run_batch, (following,)))
                )
            for task, packed in zip(batch, results, strict=True):
                yield task, _unpack(packed)


def simulate(
    config: SimulationConfig,
    out_dir: str | Path,
    traces: str | Path | Sequence[Trace] | None = None,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> SimulationSummary:
    """Simulate viewers, write player events, CDN logs and the ground truth.

    Sessions are simulated in ``config.workers`` processes and written here
    in time order; the output is the same for any number of workers.

    Parameters
    ----------
    config : SimulationConfig
    out_dir : path
        Output folder (created); see the package docstring for its layout.
    traces : folder, list of Trace or None
        Pensieve-format trace folder, traces already loaded, or None for the
        built-in calibrated generator.
    progress : callable, optional
        Called as ``progress(sessions_done, sessions_expected)``.

    Returns
    -------
    SimulationSummary

    Raises
    ------
    ConfigError
        When an incident names an edge, ASN, device model or title that does
        not exist in the simulated world, or the trace folder is unusable.
    """
    started = time.perf_counter()
    out = Path(out_dir)
    world = World(config)
    _check_scopes(config, world)
    trace_list, trace_origin = _trace_source(config, traces)
    workers = _worker_count(config)
    logger.info(
        "simulating about %d sessions into %s (%d process%s)",
        config.expected_sessions(),
        out,
        workers,
        "" if workers == 1 else "es",
    )

    # Imported here: the writer module is only needed once a run starts.
    from qos_ml.simulate._output import OutputWriter

    writer = OutputWriter(
        out,
        distribution=config.distribution_id,
        rows=config.rows_per_file,
        legacy=config.legacy_layout,
        seed=config.seed,
    )
    summary = SimulationSummary(out_dir=out)
    outcomes: Counter[str] = Counter()
    touched: dict[str, dict[str, Any]] = {
        i.id: {"sessions": [], "failed_sessions": [], "request_ids": []}
        for i in config.incidents
    }
    epoch0 = config.start.timestamp()
    expected = config.expected_sessions()
    last_end_ms = round(epoch0 * 1000)
    # Measured (benchmarks/simulate_throughput.py, 1,500 sessions): 1.08 M
    # player events and 300 k CDN requests in both layouts in 29.6 s of wall
    # time with two workers at load 2.7 (41.7 s CPU, 15.2 s of it merging and
    # writing here); 96-99 s at load averages of 6-15 on a shared machine.
    tasks = _tasks(config, world.viewer_count)
    sessions: _Sessions
    if workers == 1:
        sessions = _in_process(_Simulator(config, trace_list), tasks)
    else:
        sessions = _in_workers(config, trace_list, tasks, workers)
    try:
        for (index, offset, _), result in sessions:
            truth = result.truth
            writer.add(
                result.events, result.requests, truth, round((epoch0 + offset) * 1000)
            )
            summary.sessions += 1
            summary.player_events += len(result.events)
            summary.cdn_requests += len(result.requests)
            summary.stalls += len(truth["stalls"])
            outcomes[truth["outcome"]] += 1
            last_end_ms = max(last_end_ms, truth["end_ms"])
            for incident_id, entry in result.touched.items():
                record = touched[incident_id]
                record["sessions"].append(truth["session_id"])
                record["request_ids"].extend(entry["requests"])
                if entry["failed"]:
                    record["failed_sessions"].append(truth["session_id"])
            if progress is not None:
                progress(index + 1, max(expected, index + 1))
    finally:
        sessions.close()  # stops the workers if writing failed
        writer.close()

    summary.outcomes = dict(sorted(outcomes.items()))
    summary.simulated_s = round(last_end_ms / 1000 - epoch0, 3)
    summary.files = {
        "player_events": writer.events.files,
        "cloudfront_standard": writer.standard.files,
        "cloudfront_realtime": writer.realtime.files,
    }
    _write_incidents(out, config, touched, epoch0)
    summary.wall_s = round(time.perf_counter() - started, 3)
    _write_manifest(out, config, summary, trace_origin, len(trace_list))
    logger.info(
        "simulated %d sessions, %d player events, %d CDN requests in %.1f s",
        summary.sessions,
        summary.player_events,
        summary.cdn_requests,
        summary.wall_s,
    )
    return summary


def _disjoint(
    windows: list[tuple[float, float, float]],
) -> list[tuple[float, float, float]]:
    """Merge overlapping congestion windows (factors of an overlap multiply)."""
    merged: list[tuple[float, float, float]] = []
    for a, b, factor in windows:
        if merged and a < merged[-1][1]:
            pa, pb, pf = merged.pop()
            pieces = [(pa, a, pf), (a, min(b, pb), pf * factor)]
            pieces.append((min(b, pb), max(b, pb), pf if pb > b else factor))
            merged.extend(p for p in pieces if p[1] > p[0])
        else:
            merged.append((a, b, factor))
    return merged


def _write_incidents(
    out: Path,
    config: SimulationConfig,
    touched: dict[str, dict[str, Any]],
    epoch0: float,
) -> None:
    path = out / "ground_truth" / "incidents.jsonl"
    with open(path, "w", encoding="utf-8", newline="\n") as handle:
        for incident in config.incidents:
            record = touched[incident.id]
            line = {
                "incident_id": incident.id,
                "kind": incident.kind,
                "scope": incident.scope(),
                "start_ms": round((epoch0 + incident.start_s) * 1000),
                "end_ms": round((epoch0 + incident.end_s) * 1000),
                "sessions": record["sessions"],
                "failed_sessions": record["failed_sessions"],
                "request_ids": record["request_ids"],
            }
            handle.write(json.dumps(line, separators=(",", ":")) + "\n")


def _write_manifest(
    out: Path,
    config: SimulationConfig,
    summary: SimulationSummary,
    trace_origin: str,
    trace_count: int,
) -> None:
    counts = summary.as_dict()
    counts.pop("wall_s")  # the manifest must not change between identical runs
    counts.pop("out_dir")
    # A folder is named, not given as a path: the manifest is machine-independent.
    source = trace_origin
    if trace_origin not in ("generator", "given"):
        source = Path(trace_origin).name
    manifest = {
        "generator": "qos_ml.simulate",
        "seed": config.seed,
        # Not the worker count: it does not change the output.
        "parameters": config.model_dump(mode="json", exclude={"workers"}),
        "traces": {"source": source, "count": trace_count},
        "layout": {
            "player_events": "player_events/part-XXXXX.jsonl",
            "cloudfront_standard": "cloudfront_standard/<dist>.<YYYY-MM-DD-HH>.<id>.gz",
            "cloudfront_realtime": "cloudfront_realtime/part-XXXXX.log",
            "ground_truth": [
                "ground_truth/sessions.jsonl",
                "ground_truth/incidents.jsonl",
            ],
        },
        "counts": counts,
    }
    (out / "manifest.json").write_text(
        json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )

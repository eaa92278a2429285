"""Replay a finished simulation into a landing folder, paced, for streaming jobs."""

from __future__ import annotations

import calendar
import gzip
import json
import logging
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from qos_ml._errors import ConfigError

__all__ = ["ReplaySummary", "replay"]

logger = logging.getLogger(__name__)

_KINDS = ("player_events", "cloudfront_realtime", "cloudfront_standard")


@dataclass
class ReplaySummary:
    """What a replay emitted and why it stopped.

    Attributes
    ----------
    files, lines : int
        Files written into the landing folder and the lines in them.
    wall_s : float
        Seconds the replay ran.
    stopped_by : str
        ``end_of_data``, ``max_duration`` or ``stop_event``.
    """

    files: int = 0
    lines: int = 0
    wall_s: float = 0.0
    stopped_by: str = "end_of_data"


def _event_time(line: str) -> float:
    return float(json.loads(line)["TimeStamp"]) / 1000


def _realtime_time(line: str) -> float:
    return float(line.split("\t", 1)[0])


def _lines(folder: Path, pattern: str) -> Iterator[str]:
    for path in sorted(folder.glob(pattern)):
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    yield line.rstrip("\n")


def _standard_end(path: Path) -> float:
    """Time of the last line of a standard log file (files are time-ordered)."""
    last = ""
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            if not line.startswith("#"):
                last = line
    date, clock = last.split("\t", 2)[:2]
    return float(calendar.timegm(time.strptime(f"{date} {clock}", "%Y-%m-%d %H:%M:%S")))


class _Stream:
    """One time-ordered source, re-chunked into small landing files."""

    def __init__(
        self, kind: str, lines: Iterator[str], clock: object, suffix: str
    ) -> None:
        self.kind = kind
        self.lines = lines
        self.clock = clock
        self.suffix = suffix
        self.head: str | None = next(lines, None)
        self.buffer: list[str] = []
        self.parts = 0

    def head_time(self) -> float:
        assert self.head is not None
        return self.clock(self.head)  # type: ignore[operator]

    def take_until(self, sim_time: float, limit: int | None = None) -> int:
        taken = 0
        while self.head is not None and self.head_time() <= sim_time:
            if limit is not None and taken >= limit:
                break
            self.buffer.append(self.head)
            self.head = next(self.lines, None)
            taken += 1
        return taken

    def emit(self, landing: Path) -> int:
        if not self.buffer:
            return 0
        folder = landing / self.kind
        folder.mkdir(parents=True, exist_ok=True)
        name = f"replay-{self.parts:06d}{self.suffix}"
        temp = folder / f".{name}.inprogress"
        temp.write_text("\n".join(self.buffer) + "\n", encoding="utf-8")
        temp.replace(folder / name)  # atomic: readers never see partial files
        count = len(self.buffer)
        self.buffer = []
        self.parts += 1
        return count


def replay(
    src_dir: str | Path,
    landing_dir: str | Path,
    *,
    rate: float | None = None,
    speedup: float | None = None,
    max_duration_s: float = 600.0,
    tick_s: float = 1.0,
    stop: threading.Event | None = None,
) -> ReplaySummary:
    """Emit a simulation's files into ``landing_dir`` at a pace.

    Player events and real-time CDN lines are re-chunked into one small file
    per tick and kind; standard log files are copied whole once the replay
    clock passes their last line. Files appear atomically (written under a
    hidden name, then renamed).

    Parameters
    ----------
    src_dir : path
        Output folder of :func:`simulate`.
    landing_dir : path
        Folder the streaming job reads (``player_events/``,
        ``cloudfront_realtime/``, ``cloudfront_standard/`` below it).
    rate : float, optional
        Player events per second of wall time (CDN lines follow their time).
    speedup : float, optional
        Simulated seconds per wall second. Give exactly one of the two.
    max_duration_s : float, default 600
        The replay stops after this many wall seconds, whatever is left.
    tick_s : float, default 1.0
        Wall seconds between emissions.
    stop : threading.Event, optional
        Set it to stop the replay cleanly after the current tick.

    Returns
    -------
    ReplaySummary

    Raises
    ------
    ConfigError
        When the pace is missing, doubly given or not positive, or the source
        folder is not a simulation output.
    """
    if (rate is None) == (speedup is None):
        raise ConfigError(
            "rate/speedup", (rate, speedup), "exactly one of rate or speedup"
        )
    for key, value in (
        ("rate", rate),
        ("speedup", speedup),
        ("max_duration_s", max_duration_s),
        ("tick_s", tick_s),
    ):
        if value is not None and not value > 0:
            raise ConfigError(key, value, "a positive number")
    src, landing = Path(src_dir), Path(landing_dir)
    if not (src / "player_events").is_dir():
        raise ConfigError(
            "src_dir", str(src), "an output folder of qos_ml.simulate.simulate"
        )

    events = _Stream(
        "player_events",
        _lines(src / "player_events", "part-*.jsonl"),
        _event_time,
        ".jsonl",
    )
    realtime = _Stream(
        "cloudfront_realtime",
        _lines(src / "cloudfront_realtime", "part-*.log"),
        _realtime_time,
        ".log",
    )
    standard = sorted((src / "cloudfront_standard").glob("*.gz"))
    standard_ends = [_standard_end(path) for path in standard]
    summary = ReplaySummary()
    if events.head is None:
        return summary
    sim_clock = events.head_time()
    started = time.monotonic()
    next_tick = started
    while True:
        if stop is not None and stop.is_set():
            summary.stopped_by = "stop_event"
            break
        if time.monotonic() - started >= max_duration_s:
            summary.stopped_by = "max_duration"
            break
        if speedup is not None:
            sim_clock += tick_s * speedup
            events.take_until(sim_clock)
        else:
            assert rate is not None
            wanted = max(1, round(rate * tick_s))
            events.take_until(float("inf"), limit=wanted)
            if events.buffer:
                sim_clock = events.clock(events.buffer[-1])  # type: ignore[operator]
            if events.head is None:  # the rest of the CDN side follows at once
                sim_clock = float("inf")
        realtime.take_until(sim_clock)
        for stream in (events, realtime):
            written = stream.emit(landing)
            if written:
                summary.files += 1
                summary.lines += written
        while standard and standard_ends[0] <= sim_clock:
            path = standard.pop(0)
            standard_ends.pop(0)
            folder = landing / "cloudfront_standard"
            folder.mkdir(parents=True, exist_ok=True)
            temp = folder / f".{path.name}.inprogress"
            shutil.copyfile(path, temp)
            temp.replace(folder / path.name)
            summary.files += 1
        if events.head is None and realtime.head is None and not standard:
            break
        next_tick += tick_s
        delay = next_tick - time.monotonic()
        if stop is not None:
            stop.wait(max(delay, 0.0))
        elif delay > 0:
            time.sleep(delay)
    summary.wall_s = round(time.monotonic() - started, 3)
    logger.info(
        "replayed %d lines in %d files in %.1f s (%s)",
        summary.lines,
        summary.files,
        summary.wall_s,
        summary.stopped_by,
    )
    return summary

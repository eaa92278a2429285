"""Rolling output files, written in time order as sessions finish.

Sessions are simulated in order of their start; a line whose time is before
the start of the session being simulated can no longer be preceded by a new
one, so it is written out. Memory holds only the lines of sessions still
running (bounded by the concurrency), never the whole output.

Files are written under a hidden name (``.name.inprogress``) and renamed when
complete, so a streaming reader never sees a half-written file.
"""

from __future__ import annotations

import gzip
import json
import random
import time
from bisect import bisect_left
from operator import itemgetter
from pathlib import Path
from typing import IO, Any

from qos_ml.simulate._cdnlog import standard_header

__all__ = ["OutputWriter"]

#: Lines queued since the last flush before the next one is tried. Counted from
#: the last flush, not in total: the lines of sessions still running stay queued
#: (about ``concurrency`` sessions' worth), and a total threshold below that
#: would sort the whole queue again after every session.
_FLUSH_AT = 20_000

#: zlib's own default level: level 9 costs half as much again for 4 % smaller
#: files, on the simulator's busiest single-threaded step.
_GZIP_LEVEL = 6

# Sorting by time alone is stable: lines of the same millisecond keep the order
# in which the session emitted them (a last STREAM before its STOP).
_time = itemgetter(0)


class _RollingFile:
    """Part files ``part-00000<suffix>`` of at most ``rows`` lines each."""

    def __init__(self, folder: Path, suffix: str, rows: int) -> None:
        self.folder = folder
        self.suffix = suffix
        self.rows = rows
        self.index = 0
        self.count = 0
        self.files = 0
        self.lines = 0
        self._handle: IO[str] | None = None
        self._final: Path | None = None
        self._temp: Path | None = None

    def _open(self) -> None:
        name = f"part-{self.index:05d}{self.suffix}"
        self._final = self.folder / name
        self._temp = self.folder / f".{name}.inprogress"
        # A rolling file stays open across calls; close() ends it.
        self._handle = open(self._temp, "w", encoding="utf-8", newline="\n")  # noqa: SIM115

    def write_many(self, lines: list[str]) -> None:
        """Write lines in as few calls as the file size limit allows."""
        start = 0
        while start < len(lines):
            if self._handle is None:
                self._open()
            assert self._handle is not None
            room = self.rows - self.count
            chunk = lines[start : start + room]
            self._handle.write("\n".join(chunk) + "\n")
            self.count += len(chunk)
            self.lines += len(chunk)
            start += len(chunk)
            if self.count >= self.rows:
                self.close()

    def close(self) -> None:
        if self._handle is None:
            return
        self._handle.close()
        assert self._temp is not None
        assert self._final is not None
        self._temp.replace(self._final)
        self._handle = None
        self.index += 1
        self.files += 1
        self.count = 0


class _StandardLogs:
    """CloudFront standard log files: one distribution, rolled by hour and size.

    Names follow CloudFront's ``<distribution>.<YYYY-MM-DD-HH>.<unique>.gz``;
    the unique part comes from the seed so reruns are byte-identical.
    """

    def __init__(
        self, folder: Path, distribution: str, rows: int, legacy: bool, seed: int
    ) -> None:
        self.folder = folder
        self.distribution = distribution
        self.rows = rows
        self.header = standard_header(legacy)
        self.rng = random.Random(f"files:{seed}")
        self.hour: str | None = None
        self._hour_index = -1
        self._hour_text = ""
        self.count = 0
        self.files = 0
        self.lines = 0
        self._raw: IO[bytes] | None = None
        self._gzip: gzip.GzipFile | None = None
        self._final: Path | None = None
        self._temp: Path | None = None

    def write_many(self, lines: list[tuple[int, str, str]]) -> None:
        """Write ``(ts_ms, standard line, ...)`` rows, sorted by time.

        Rows go to the file of their UTC hour; a new file starts at each hour
        and after ``rows`` lines. Each run of rows bound for one file is
        compressed in one call.
        """
        start = 0
        while start < len(lines):
            hour_index = lines[start][0] // 3_600_000
            if hour_index != self._hour_index:
                self._hour_index = hour_index
                self._hour_text = time.strftime(
                    "%Y-%m-%d-%H", time.gmtime(lines[start][0] / 1000)
                )
            hour = self._hour_text
            if hour != self.hour or self.count >= self.rows:
                self.close()
                self.hour = hour
            if self._gzip is None:
                self._open(hour)
            assert self._gzip is not None
            next_hour = bisect_left(
                lines, (hour_index + 1) * 3_600_000, lo=start, key=_time
            )
            stop = min(next_hour, start + self.rows - self.count)
            text = "\n".join([row[1] for row in lines[start:stop]]) + "\n"
            self._gzip.write(text.encode("utf-8"))
            self.count += stop - start
            self.lines += stop - start
            start = stop

    def _open(self, hour: str) -> None:
        unique = f"{self.rng.getrandbits(32):08x}"
        name = f"{self.distribution}.{hour}.{unique}.gz"
        self._final = self.folder / name
        self._temp = self.folder / f".{name}.inprogress"
        self._raw = open(self._temp, "wb")  # noqa: SIM115 (closed in close())
        # mtime=0 and no file name in the gzip header: identical bytes on rerun.
        self._gzip = gzip.GzipFile(
            filename="",
            mode="wb",
            fileobj=self._raw,
            mtime=0,
            compresslevel=_GZIP_LEVEL,
        )
        self._gzip.write(self.header.encode("utf-8"))

    def close(self) -> None:
        if self._gzip is None:
            return
        self._gzip.close()  # ends the gzip stream, not the raw file
        assert self._raw is not None
        assert self._temp is not None
        self._raw.close()
        assert self._final is not None
        self._temp.replace(self._final)
        self._gzip = self._raw = None
        self.files += 1
        self.count = 0


class OutputWriter:
    """Everything one simulation writes under its output folder."""

    def __init__(
        self, out_dir: Path, *, distribution: str, rows: int, legacy: bool, seed: int
    ) -> None:
        self.out_dir = out_dir
        folders = {
            name: out_dir / name
            for name in (
                "player_events",
                "cloudfront_standard",
                "cloudfront_realtime",
                "ground_truth",
            )
        }
        for folder in folders.values():
            folder.mkdir(parents=True, exist_ok=True)
        self.events = _RollingFile(folders["player_events"], ".jsonl", rows)
        self.realtime = _RollingFile(folders["cloudfront_realtime"], ".log", rows)
        self.standard = _StandardLogs(
            folders["cloudfront_standard"], distribution, rows, legacy, seed
        )
        self._truth = open(  # noqa: SIM115 (closed in close())
            folders["ground_truth"] / "sessions.jsonl",
            "w",
            encoding="utf-8",
            newline="\n",
        )
        self._pending_events: list[tuple[int, str]] = []
        self._pending_requests: list[tuple[int, str, str]] = []
        self._queued = 0  # lines queued since the last flush
        self.sessions = 0

    def add(
        self,
        events: list[tuple[int, str]],
        requests: list[tuple[int, str, str]],
        truth: dict[str, Any],
        horizon_ms: int,
    ) -> None:
        """Queue a finished session; write what can no longer be preceded."""
        self._pending_events.extend(events)
        self._pending_requests.extend(requests)
        self._truth.write(json.dumps(truth, separators=(",", ":")) + "\n")
        self.sessions += 1
        self._queued += len(events) + len(requests)
        if self._queued >= _FLUSH_AT:
            self.flush(horizon_ms)

    def flush(self, horizon_ms: int | None = None) -> None:
        """Write queued lines with a time before ``horizon_ms`` (all when None)."""
        self._queued = 0
        # Each session's lines are already in time order: the sort merges runs.
        self._pending_events.sort(key=_time)
        cut = len(self._pending_events)
        if horizon_ms is not None:
            cut = bisect_left(self._pending_events, horizon_ms, key=_time)
        self.events.write_many([line for _, line in self._pending_events[:cut]])
        del self._pending_events[:cut]

        self._pending_requests.sort(key=_time)
        cut = len(self._pending_requests)
        if horizon_ms is not None:
            cut = bisect_left(self._pending_requests, horizon_ms, key=_time)
        ready = self._pending_requests[:cut]
        self.standard.write_many(ready)
        self.realtime.write_many([realtime for _, _, realtime in ready])
        del self._pending_requests[:cut]

    def close(self) -> None:
        """Write everything left and close every file."""
        self.flush(None)
        self.events.close()
        self.realtime.close()
        self.standard.close()
        self._truth.close()

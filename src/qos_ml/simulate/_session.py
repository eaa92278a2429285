"""One playback session: an adaptive player downloading over a trace via a CDN.

The player fetches manifests, then media segments one by one. Each download
takes the time the throughput trace allows (plus time to first byte); while
it runs, playback drains the buffer, and an empty buffer is a stall. The
rendition of the next segment follows a rate-based rule with a safety factor
(harmonic mean of the last five measured throughputs, as dash.js and hls.js
do), more cautious when the buffer is below a reservoir. Viewer behaviour
(patience, seeks, pauses, how long they mean to watch) and failures are drawn
from the session's own random generator, so a session is reproducible alone.
"""

from __future__ import annotations

import json
import math
import random
from base64 import urlsafe_b64encode
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from qos_ml.simulate._cdnlog import CdnRequest, CmcdEncoder, LogFormatter
from qos_ml.simulate._config import (
    CorruptedAsset,
    DeviceFailure,
    EdgeDegradation,
    IspCongestion,
    OriginOutage,
    SimulationConfig,
)
from qos_ml.simulate._traces import TraceCursor
from qos_ml.simulate._world import Video, Viewer, request_id

__all__ = ["SessionResult", "run_session"]

_EPS = 1e-9
_STARTUP, _PLAYING, _STALLED, _PAUSED, _ENDED = range(5)
_MAX_RETRIES = 3
_SAFETY = 0.8
_LOW_BUFFER_SAFETY = 0.5
_RESERVOIR_S = 8.0
_LIVE_SEGMENTS = 3  # live players stay this many segments behind the edge

#: A CMCD payload: the query argument and the real-time ``cmcd-*`` fields.
_Cmcd = tuple[str, tuple[str, ...]]

_RESOLUTIONS = (
    (300, "416x234"), (450, "480x270"), (650, "640x360"), (900, "768x432"),
    (1400, "960x540"), (2600, "1280x720"), (10**9, "1920x1080"),
)  # fmt: skip


def resolution_of(kbps: int) -> str:
    """Frame size a rendition of ``kbps`` is encoded at."""
    for limit, size in _RESOLUTIONS:
        if kbps < limit:
            return size
    return "1920x1080"


@dataclass
class SessionResult:
    """What one session produced: lines to write and its ground truth."""

    events: list[tuple[int, str]]
    requests: list[tuple[int, str, str]]
    truth: dict[str, Any]
    touched: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(slots=True)
class _Segment:
    start_p: float
    end_p: float
    kbps: int


class _Session:
    def __init__(
        self,
        *,
        config: SimulationConfig,
        session_id: str,
        offset_s: float,
        epoch_s: float,
        viewer: Viewer,
        video: Video,
        cursor: TraceCursor,
        incidents: list[Any],
        rng: random.Random,
        continued: bool,
        trace_name: str = "",
    ) -> None:
        self.trace_name = trace_name
        self.c = config
        self.sid = session_id
        self.offset = offset_s
        self.epoch = epoch_s
        self.viewer = viewer
        self.video = video
        self.cursor = cursor
        self.incidents = incidents
        self.rng = rng
        self.ladder = [k for k in config.ladder_kbps if k <= viewer.device.top_kbps]
        if not self.ladder:
            self.ladder = [config.ladder_kbps[0]]
        self.seg = config.segment_s
        self.live = video.live
        self.max_buffer = (
            _LIVE_SEGMENTS * self.seg if self.live else config.max_buffer_s
        )
        self.fps = 50 if video.video_id == "live-SportsHD" else 30
        device = viewer.device
        self.package = device.package
        self.events: list[tuple[int, str]] = []
        self.requests: list[tuple[int, str, str]] = []
        self.touched: dict[str, dict[str, Any]] = {}
        self.formatter = LogFormatter(
            {
                "ip": viewer.ip,
                "ip_version": viewer.ip_version,
                "user_agent": device.user_agent,
                "referer": (
                    f"https://www.qosml.example/watch/{video.video_id}"
                    if device.web
                    else "-"
                ),
                "port": rng.randrange(1024, 65535),
                "country": viewer.isp.country,
                "asn": viewer.isp.asn,
                "http_version": device.http_version,
                "behavior": "/live/*" if self.live else "/vod/*",
                "edge": viewer.edge,
            },
            domain=config.distribution_domain,
            alias="cdn.qosml.example",
            distribution_id=config.distribution_id,
            legacy=config.legacy_layout,
        )
        self.cmcd = CmcdEncoder(
            cid=video.video_id,
            sid=session_id,
            sf="h" if self.package == "HLS" else "d",
            st="l" if self.live else "v",
            tb=self.ladder[-1],
        )
        common = {
            "user_id": viewer.user_id,
            "video_id": video.video_id,
            "playlist_type": "live" if self.live else "vod",
        }
        self._common = common
        self._tail = {"session_id": session_id, "user_agent": device.user_agent}
        # STREAM events are most of the volume: pre-encode their constant parts.
        head = json.dumps(common, separators=(",", ":"))[1:-1]
        self._stream_head = '{"MetricType":"STREAM",' + head + ',"TimeStamp":'
        self._stream_tail = (
            f',"connection_type":{json.dumps(viewer.connection_type)}'
            f',"package":{json.dumps(self.package)}'
        )
        self._stream_end = f',"duration":{self._duration_json()},"cdn_tracking_id":"'
        self._stream_middle: dict[int, str] = {}
        self._stream_after = '",' + json.dumps(self._tail, separators=(",", ":"))[1:]
        kind = "live" if self.live else "vod"
        self._base = f"/{kind}/{video.video_id}/{self.package.lower()}"
        self._rtt_s = viewer.rtt_ms / 1000
        # Incidents that act on single requests, with their windows unpacked:
        # the request loop checks them on every request.
        self._request_incidents = [
            (i.start_s, i.end_s, i)
            for i in incidents
            if isinstance(i, EdgeDegradation | OriginOutage | CorruptedAsset)
        ]

        # Player state.
        self.t = 0.0
        self.state = _STARTUP
        self.p = 0.0
        if continued and not self.live:
            self.p = (
                rng.randrange(0, max(1, int(video.duration_s * 0.8 / self.seg)))
                * self.seg
            )
        self.next_seg = int(self.p // self.seg)
        self.next_stream = math.floor(self.p) + 1  # next playhead second to report
        self.buffer: deque[_Segment] = deque()
        self.played = 0.0
        self.bitrate_s = 0.0  # kbps x seconds played, for the average bitrate
        self.playing_kbps: int | None = None
        self.switches = 0
        self.downshifts = 0
        self.throughputs: deque[float] = deque(maxlen=5)
        self.last_req: str | None = None
        self.in_flight: str | None = None
        self.starved = False  # CMCD bs: a stall since the previous request
        self.stall_start = 0.0
        self.stall_seek = False
        self.seek_event: dict[str, Any] | None = None
        self.stalls: list[dict[str, Any]] = []
        self.pauses: list[dict[str, Any]] = []
        self.startup_ms: int | None = None
        self.outcome = "completed"
        self.exit_reason = "viewer_exit"
        self.failure_cause: str | None = None
        self.failure_incident: str | None = None
        self.request_count = 0

        # Viewer intent.
        self.budget = self._watch_budget()
        self.startup_deadline = config.startup_patience_s * rng.lognormvariate(0, 0.5)
        self.stall_patience = config.stall_patience_s * rng.lognormvariate(0, 0.6)
        self.next_pause = self._next_action(config.pauses_per_hour)
        self.next_seek = (
            math.inf if self.live else self._next_action(config.seeks_per_hour)
        )
        self.pause_until = 0.0
        self.fail_at, self.fail_cause, self.fail_incident = self._failure_time()
        self.start_failure = rng.random() < config.start_failure_rate
        self.est_kbps = 900.0 if viewer.connection_type == "cellular" else 1800.0

    # -- helpers ---------------------------------------------------------------

    def _duration_json(self) -> str:
        return "null" if self.live else f"{self.video.duration_s:g}"

    def _watch_budget(self) -> float:
        rng, c = self.rng, self.c
        if self.live:
            return rng.expovariate(1.0 / c.mean_watch_s)
        remaining = self.video.duration_s - self.p
        if rng.random() < c.completion_share:
            return remaining
        return min(remaining, rng.expovariate(1.0 / c.mean_watch_s) + self.seg)

    def _next_action(self, per_hour: float) -> float:
        if per_hour <= 0:
            return math.inf
        return self.t + self.rng.expovariate(per_hour / 3600.0)

    def _abs(self, t: float) -> float:
        """Offset from the simulation start of session time ``t``."""
        return self.offset + t

    def _ms(self, t: float) -> int:
        return round((self.epoch + t) * 1000)

    def _touch(self, incident: Any, request: str) -> None:
        self._touch_id(incident.id)["requests"].append(request)

    def _failure_time(self) -> tuple[float, str | None, str | None]:
        """When a fatal player error strikes (session time), and why."""
        rng, c = self.rng, self.c
        best, cause, incident_id = math.inf, None, None
        if c.playback_failures_per_hour > 0:
            best = rng.expovariate(c.playback_failures_per_hour / 3600.0)
            cause = "player_error"
        for incident in self.incidents:
            if isinstance(incident, DeviceFailure):
                a = max(incident.start_s - self.offset, 0.0)
                b = incident.end_s - self.offset
                if b <= 0:
                    continue
                when = a + rng.expovariate(incident.failures_per_hour / 3600.0)
                if when < b and when < best:
                    best, cause, incident_id = when, "device_failure", incident.id
        return best, cause, incident_id

    def _emit(self, metric: str, t: float, fields: dict[str, Any]) -> dict[str, Any]:
        stamp = self._ms(t)
        event: dict[str, Any] = {
            "MetricType": metric,
            **self._common,
            "TimeStamp": stamp,
        }
        event.update(fields)
        event.update(self._tail)
        # Serialised when the session ends: a SEEK learns its duration later.
        self.events.append((stamp, ""))
        self._pending.append((len(self.events) - 1, event))
        return event

    _pending: list[tuple[int, dict[str, Any]]]

    def _rtt(self) -> int:
        return round(self.viewer.rtt_ms * (0.8 + 0.4 * self.rng.random()))

    def _kbps_fields(self, kbps: int) -> dict[str, Any]:
        return {
            "package": self.package,
            "resolution": resolution_of(kbps),
            "fps": self.fps,
        }

    def _avg_bitrate(self) -> int:
        if self.played > 0:
            return round(self.bitrate_s / self.played)
        return self.playing_kbps or self.ladder[0]

    # -- playback clock --------------------------------------------------------

    def _buffer_end(self) -> float:
        return self.buffer[-1].end_p if self.buffer else self.p

    def _level(self) -> float:
        """Seconds of media buffered ahead of the playhead."""
        buffer = self.buffer
        if not buffer:
            return 0.0
        level = buffer[-1].end_p - self.p
        return level if level > 0.0 else 0.0

    def _advance(self, target: float) -> None:
        """Move the session clock to ``target`` unless the session ends first."""
        while self.t < target - _EPS and self.state != _ENDED:
            horizon = min(target, self.fail_at)
            if self.state == _PLAYING:  # the usual case first
                self._play_until(horizon)
                if self.state == _ENDED:
                    return
            elif self.state == _STARTUP:
                if self.startup_deadline <= horizon:
                    self.t = max(self.t, self.startup_deadline)
                    self._end("abandoned_before_start", "startup_patience")
                    return
                self.t = horizon
            elif self.state == _STALLED:
                deadline = self.stall_start + self.stall_patience
                if deadline <= horizon:
                    self.t = max(self.t, deadline)
                    self._close_stall()
                    self._end("completed", "stall_exit")
                    return
                self.t = horizon
            elif self.state == _PAUSED:
                self.t = min(horizon, self.pause_until)
                if self.t >= self.pause_until - _EPS:
                    self._resume_from_pause()
            if self.t >= self.fail_at - _EPS and self.state != _ENDED:
                self._fatal(self.fail_cause or "player_error", self.fail_incident)
                return

    def _resume_from_pause(self) -> None:
        if self._level() > _EPS or self._content_done():
            self.state = _PLAYING
        else:
            self._start_stall(seek=False)

    def _content_done(self) -> bool:
        return not self.live and self._buffer_end() >= self.video.duration_s - _EPS

    def _play_until(self, horizon: float) -> None:
        """Play until ``horizon``, an empty buffer, a pause or the end of the view."""
        # The least of: time to the horizon, buffered media, intended viewing
        # left and time to the next pause (comparisons: min() costs a call).
        t = self.t
        limit = horizon - t
        level = self._level()
        if level < limit:
            limit = level
        if self.budget - self.played < limit:
            limit = self.budget - self.played
        if self.next_pause - t < limit:
            limit = max(self.next_pause - t, 0.0)
        if limit > _EPS:
            self._play(limit)
        if self.played >= self.budget - _EPS:
            self._end(
                "completed", "end_of_content" if self._at_end() else "viewer_exit"
            )
        elif self.t >= self.next_pause - _EPS:
            length = 30.0 * self.rng.lognormvariate(0, 1.0)
            self._emit(
                "PAUSE", self.t, {"at": round(self.p, 3), "duration": self._dur()}
            )
            self.pauses.append(
                {"start_ms": self._ms(self.t), "duration_ms": round(length * 1000)}
            )
            self.state = _PAUSED
            self.pause_until = self.t + length
            self.next_pause = (
                self.t + length + self.rng.expovariate(self.c.pauses_per_hour / 3600.0)
            )
        elif self._level() <= _EPS:
            self._start_stall(seek=False)

    def _at_end(self) -> bool:
        return not self.live and self.p >= self.video.duration_s - _EPS

    def _dur(self) -> float | None:
        return None if self.live else self.video.duration_s

    def _play(self, dt: float) -> None:
        """Advance playhead and clock by ``dt``: STREAM per second, STEP at switches."""
        t0, p0 = self.t, self.p
        end_p = p0 + dt
        cursor = p0
        buffer = self.buffer
        while cursor < end_p - _EPS and buffer:
            seg = buffer[0]
            kbps = seg.kbps
            if kbps != self.playing_kbps:
                if self.playing_kbps is not None:
                    self._step(t0 + (cursor - p0), cursor, self.playing_kbps, kbps)
                self.playing_kbps = kbps
            upto = min(seg.end_p, end_p)
            self.bitrate_s += kbps * (upto - cursor)
            self.played += upto - cursor
            if self.next_stream <= upto + _EPS:
                self._streams(t0, p0, upto, kbps)
            cursor = upto
            if seg.end_p <= cursor + _EPS:
                buffer.popleft()
        self.p = end_p
        self.t = t0 + dt

    def _streams(self, t0: float, p0: float, upto: float, kbps: int) -> None:
        """STREAM events for the playhead seconds up to ``upto`` of one segment.

        They are most of the output: everything but the time, the playhead
        second and the round-trip time is formatted once for the whole run.
        """
        middle = self._stream_middle.get(kbps)
        if middle is None:
            middle = self._stream_middle[kbps] = (
                f'{self._stream_tail},"resolution":"{resolution_of(kbps)}"'
                f',"fps":{self.fps},"avg_bitrate":'
            )
        average = round(self.bitrate_s / self.played) if self.played > 0 else kbps
        tail = (
            f"{middle}{average}{self._stream_end}"
            f"{self.in_flight or self.last_req or ''}{self._stream_after}"
        )
        head, epoch, rtt_ms = self._stream_head, self.epoch, self.viewer.rtt_ms
        draw, append = self.rng.random, self.events.append
        k, last = self.next_stream, upto + _EPS
        while k <= last:
            ms = round((epoch + (t0 + (k - p0))) * 1000)
            rtt = round(rtt_ms * (0.8 + 0.4 * draw()))
            append((ms, f'{head}{ms},"at":{k},"rtt":{rtt}{tail}'))
            k += 1
        self.next_stream = k

    def _step(self, t: float, at: float, old: int, new: int) -> None:
        self.switches += 1
        direction = "UP" if new > old else "DOWN"
        if direction == "DOWN":
            self.downshifts += 1
        self._emit(
            "STEP",
            t,
            {
                "at": round(at, 3),
                "bitrate_from": old,
                "bitrate_to": new,
                "direction": direction,
                **self._kbps_fields(new),
                "connection_type": self.viewer.connection_type,
            },
        )

    def _start_stall(self, *, seek: bool) -> None:
        self.state = _STALLED
        self.stall_start = self.t
        self.stall_seek = seek
        self.starved = self.starved or not seek

    def _close_stall(self) -> None:
        length = round((self.t - self.stall_start) * 1000)
        self.stalls.append(
            {
                "start_ms": self._ms(self.stall_start),
                "duration_ms": length,
                "seek_induced": self.stall_seek,
            }
        )
        self._emit(
            "BUFFER",
            self.t,
            {
                "buffer_type": "ScreenFreezedBuffer",
                "at": round(self.p, 3),
                "rtt": self._rtt(),
                "connection_type": self.viewer.connection_type,
                "time_millisecond": length,
                "cdn_tracking_id": self.last_req,
            },
        )
        if self.seek_event is not None:
            self.seek_event["time_millisecond"] = length
            self.seek_event = None
        self.state = _PLAYING

    def _end(self, outcome: str, reason: str) -> None:
        if self.state == _STALLED and reason != "stall_exit":
            self._close_stall()
        if self.seek_event is not None:  # the viewer left before the seek resolved
            self.seek_event["time_millisecond"] = round(
                (self.t - self.stall_start) * 1000
            )
            self.seek_event = None
        self.state = _ENDED
        self.outcome = outcome
        self.exit_reason = reason
        if outcome in ("completed", "abandoned_before_start"):
            kbps = self.playing_kbps or self.ladder[0]
            self._emit(
                "STOP",
                self.t,
                {
                    "at": round(self.p, 3),
                    "duration": self._dur(),
                    "connection_type": self.viewer.connection_type,
                    **self._kbps_fields(kbps),
                    "avg_bitrate": self._avg_bitrate(),
                },
            )

    def _fatal(
        self, cause: str, incident_id: str | None, request: str | None = None
    ) -> None:
        started = self.startup_ms is not None
        messages = {
            "player_error": "MEDIA_ERR_DECODE: the media could not be decoded",
            "device_failure": "PLAYER_CRASH: renderer process terminated unexpectedly",
            "corrupted_asset": "MEDIA_ERR_SRC_NOT_SUPPORTED: segment parsing failed",
            "manifest_forbidden": "MANIFEST_LOAD_ERROR: HTTP 403 Forbidden",
        }
        message = messages.get(cause, f"NETWORK_ERROR: {cause}")
        event = self._emit(
            "ERROR",
            self.t,
            {
                "at": round(self.p, 3),
                "message": message,
                "cdn_tracking_id": request or self.in_flight or self.last_req,
                "fatal": True,
            },
        )
        del event
        self.failure_cause = cause
        self.failure_incident = incident_id
        if incident_id is not None:
            self._touch_id(incident_id)["failed"] = True
        self._end("playback_failure" if started else "start_failure", "fatal_error")

    def _touch_id(self, incident_id: str) -> dict[str, Any]:
        return self.touched.setdefault(incident_id, {"requests": [], "failed": False})

    # -- requests --------------------------------------------------------------

    def _request(
        self,
        uri: str,
        size: int,
        content_type: str,
        cmcd: _Cmcd,
        *,
        segment: bool,
        byte_range: int | None = None,
    ) -> CdnRequest:
        """One HTTP request through the edge; the clock runs while it lasts."""
        rng, viewer = self.rng, self.viewer
        rid = urlsafe_b64encode(rng.randbytes(40)).decode("ascii")  # see request_id
        self.request_count += 1
        t0 = self.t
        now = self.offset + t0
        ttfb = self._rtt_s * (0.9 + 0.3 * rng.random()) + 0.002
        draw = rng.random()
        if draw < viewer.edge_hit_rate * 0.97:
            result, fbl = "Hit", None
        elif draw < viewer.edge_hit_rate:
            result, fbl = "RefreshHit", 0.02 + 0.05 * rng.random()
        else:
            result, fbl = "Miss", 0.04 + 0.2 * rng.random()
        if fbl is not None:
            ttfb += fbl
        status, detailed = "200", result
        touched: list[Any] = []
        for start_s, end_s, incident in self._request_incidents:
            if not start_s <= now < end_s:  # incident.active(now)
                continue
            if isinstance(incident, EdgeDegradation):
                touched.append(incident)
                ttfb += incident.extra_latency_ms / 1000 * (0.7 + 0.6 * rng.random())
                if rng.random() < incident.error_rate:
                    status, detailed = rng.choice(("502", "503", "504")), "Error"
            elif isinstance(incident, OriginOutage) and result != "Hit":
                touched.append(incident)
                if rng.random() < incident.error_rate:
                    status = rng.choice(("502", "504"))
                    detailed = (
                        "OriginConnectError"
                        if status == "502"
                        else "OriginReadTimeoutError"
                    )
            elif isinstance(incident, CorruptedAsset) and segment:
                touched.append(incident)
        if status == "200" and rng.random() < 0.0004:  # background edge errors
            status, detailed = rng.choice(("503", "504", "404")), "Error"
        rng_range = byte_range is not None

        self.in_flight = rid
        if status != "200":
            error_bytes = 400 + rng.randrange(400)
            end = t0 + ttfb + 0.001
            self._advance(end)
            request = self._finish_request(
                rid,
                uri,
                status,
                error_bytes,
                t0,
                ttfb,
                "Error",
                detailed,
                "text/html",
                error_bytes,
                None,
                None,
                fbl,
                cmcd,
            )
        else:
            start = t0 + ttfb
            end = self.cursor.finish(start, size * 8.0)
            if self._congestion:
                touched.extend(i for a, b, i in self._congestion if a < end and b > t0)
            self._advance(end)
            lo = byte_range
            hi = None if byte_range is None else byte_range + size - 1
            if self.t < end - _EPS:  # the viewer left mid-download
                got = (
                    int(self.cursor.delivered(start, self.t) / 8)
                    if self.t > start
                    else 0
                )
                request = self._finish_request(
                    rid,
                    uri,
                    "000",
                    got,
                    t0,
                    min(ttfb, self.t - t0),
                    "Error",
                    "ClientCommError",
                    content_type,
                    size,
                    lo,
                    hi,
                    fbl,
                    cmcd,
                )
            else:
                request = self._finish_request(
                    rid,
                    uri,
                    "206" if rng_range else "200",
                    size + 350,
                    t0,
                    ttfb,
                    result,
                    detailed,
                    content_type,
                    size,
                    lo,
                    hi,
                    fbl,
                    cmcd,
                )
                if segment:
                    self._measured(size * 8 / 1000 / max(end - t0, 1e-3))
        for incident in touched:
            self._touch(incident, rid)
        self.in_flight = None
        self.last_req = rid
        self.starved = False
        return request

    _congestion: list[tuple[float, float, IspCongestion]]

    def _finish_request(
        self, rid: str, uri: str, status: str, sc_bytes: int, t0: float, ttfb: float,
        result: str, detailed: str, content_type: str, content_len: int,
        lo: int | None, hi: int | None, fbl: float | None, cmcd: _Cmcd,
    ) -> CdnRequest:  # fmt: skip
        end = self.t
        end_s = self.epoch + end
        taken = end - t0
        request = CdnRequest(  # positional: the field order of CdnRequest
            end_s, rid, self.viewer.edge, uri, status, sc_bytes,
            180 + len(uri) + self.rng.randrange(120),
            taken if taken > 0.001 else 0.001, ttfb if ttfb > 0.001 else 0.001,
            result, result, detailed, content_type, content_len, lo, hi, fbl,
            None if fbl is None else fbl + (end - t0 - ttfb), cmcd[0], cmcd[1],
        )  # fmt: skip
        standard, realtime = self.formatter.lines(request)
        self.requests.append((round(end_s * 1000), standard, realtime))
        return request

    def _cmcd(self, ot: str, kbps: int | None, *, startup: bool) -> _Cmcd:
        return self.cmcd.encode(
            ot=ot,
            bl=round(self._level() * 10) * 100,
            br=kbps,
            d=None if kbps is None else round(self.seg * 1000),
            mtp=round(self._estimate() / 100) * 100 if self.throughputs else None,
            su=startup,
            bs=self.starved,
        )

    def _estimate(self) -> float:
        """Harmonic mean of the last five segment throughputs (kbps)."""
        return self.est_kbps

    def _measured(self, kbps: float) -> None:
        self.throughputs.append(max(kbps, 1.0))
        self.est_kbps = len(self.throughputs) / sum([1.0 / x for x in self.throughputs])

    # -- the session -----------------------------------------------------------

    def _manifest_uri(self, kbps: int | None) -> tuple[str, str]:
        base = self._base
        if self.package == "HLS":
            name = "master.m3u8" if kbps is None else f"{kbps}k/index.m3u8"
            return f"{base}/{name}", "application/vnd.apple.mpegurl"
        return f"{base}/manifest.mpd", "application/dash+xml"

    def _fetch_manifests(self) -> bool:
        uri, ctype = self._manifest_uri(None)
        cmcd = self._cmcd("m", None, startup=True)
        if self.start_failure:  # an expired token: the edge refuses the manifest
            self.in_flight = request_id(self.rng)
            self._advance(self.t + self.viewer.rtt_ms / 1000)
            if self.state == _ENDED:
                return False
            self._finish_request(
                self.in_flight,
                uri,
                "403",
                520,
                0.0,
                self.t,
                "Error",
                "Error",
                "text/xml",
                520,
                None,
                None,
                None,
                cmcd,
            )
            self.last_req = self.in_flight
            self._fatal("manifest_forbidden", None, self.in_flight)
            return False
        request = self._request(
            uri, 1400 + self.rng.randrange(600), ctype, cmcd, segment=False
        )
        return self.state != _ENDED and request.status in ("200", "304")

    def run(self) -> SessionResult:
        """Play the session to its end and return what it produced."""
        self._pending = []
        self._congestion = [
            (i.start_s - self.offset, i.end_s - self.offset, i)
            for i in self.incidents
            if isinstance(i, IspCongestion)
        ]
        play_event = self._emit(
            "PLAY", 0.0, {"at": round(self.p, 3), "duration": self._dur()}
        )
        del play_event
        if self._fetch_manifests():
            self._loop()
        if self.state != _ENDED:
            self._end("completed", "end_of_content")
        # Sessions of a failing device model or a corrupted title are exposed
        # to the incident while it lasts, whether or not they fail.
        for incident in self.incidents:
            if isinstance(incident, DeviceFailure | CorruptedAsset) and (
                incident.start_s < self._abs(self.t) and incident.end_s > self.offset
            ):
                self._touch_id(incident.id)
        for index, event in self._pending:
            self.events[index] = (
                event["TimeStamp"],
                json.dumps(event, separators=(",", ":")),
            )
        return SessionResult(self.events, self.requests, self._truth(), self.touched)

    def _loop(self) -> None:
        rendition_uri: int | None = None
        while self.state != _ENDED:
            if self.state == _PLAYING and self.t >= self.next_seek:
                self._seek()
            if self._content_done():
                self._advance(math.inf)
                return
            self._wait_for_room()
            if self.state == _ENDED:
                return
            kbps = self._choose()
            if self.package == "HLS" and (kbps != rendition_uri or self.live):
                uri, ctype = self._manifest_uri(kbps)
                size = (
                    400
                    + (8 if self.live else int(self.video.duration_s / self.seg)) * 40
                )
                self._request(
                    uri,
                    size,
                    ctype,
                    self._cmcd("m", None, startup=self.startup_ms is None),
                    segment=False,
                )
                rendition_uri = kbps
                if self.state == _ENDED:
                    return
            self._download_segment(kbps)

    def _seek(self) -> None:
        target = self.rng.uniform(0, max(self.video.duration_s - 2 * self.seg, 0))
        self.seek_event = self._emit(
            "SEEK",
            self.t,
            {
                "seek_from": round(self.p, 3),
                "seek_to": round(target, 3),
                "rtt": self._rtt(),
                "connection_type": self.viewer.connection_type,
                "time_millisecond": 0,
                "cdn_tracking_id": self.last_req,
            },
        )
        self.next_seek = self._next_action(self.c.seeks_per_hour)
        self.buffer.clear()
        self.p = target
        self.next_seg = int(target // self.seg)
        self.next_stream = math.floor(target) + 1
        self._start_stall(seek=True)

    def _wait_for_room(self) -> None:
        """Idle until the buffer has room for a segment (and, live, it exists)."""
        while self.state != _ENDED:
            need = self._level() - (self.max_buffer - self.seg)
            ready = 0.0
            if self.live:
                ready = (self.next_seg + 1 - _LIVE_SEGMENTS) * self.seg - self.t
            if need <= _EPS and ready <= _EPS:
                return
            if self.state == _PAUSED and need > _EPS:
                self._advance(max(self.pause_until, self.t + ready))
            else:
                wait = max(need if self.state == _PLAYING else 0.0, ready, 0.05)
                self._advance(self.t + wait)

    def _choose(self) -> int:
        """Rendition of the next segment: rate-based with a safety factor."""
        safety = (
            _SAFETY
            if self._level() >= min(_RESERVOIR_S, self.max_buffer / 2)
            else _LOW_BUFFER_SAFETY
        )
        budget = self._estimate() * safety
        choice = self.ladder[0]
        for kbps in self.ladder:
            if kbps <= budget:
                choice = kbps
        return choice

    def _download_segment(self, kbps: int) -> None:
        index = self.next_seg
        base = self._base
        ext = "ts" if self.package == "HLS" else "m4s"
        ctype = "video/MP2T" if ext == "ts" else "video/mp4"
        number = index + (int(self.epoch // self.seg) if self.live else 0)
        uri = f"{base}/{kbps}k/seg_{number:06d}.{ext}"
        offset = None
        if self.package == "DASH" and self.viewer.device.family == "tv":
            # TV players fetch byte ranges of one file per rendition (206).
            uri = f"{base}/{kbps}k/media.mp4"
            offset = number * kbps * 125 * round(self.seg)
        size = int(kbps * 125 * self.seg * self.rng.lognormvariate(0, 0.12))
        failed: CdnRequest | None = None
        for attempt in range(_MAX_RETRIES + 1):
            cmcd = self._cmcd(
                "av" if ext == "ts" else "v", kbps, startup=self.startup_ms is None
            )
            request = self._request(
                uri, size, ctype, cmcd, segment=True, byte_range=offset
            )
            if self.state == _ENDED:
                return
            if request.status in ("200", "206"):
                failed = None
                break
            failed = request
            self._emit(
                "ERROR",
                self.t,
                {
                    "at": round(self.p, 3),
                    "message": (
                        f"SEGMENT_LOAD_ERROR: HTTP {request.status}, "
                        f"retry {attempt + 1}"
                    ),
                    "cdn_tracking_id": request.request_id,
                    "fatal": False,
                },
            )
            self._advance(self.t + 0.5 * 2**attempt)
            if self.state == _ENDED:
                return
        if failed is not None:
            cause, incident_id = self._network_cause(failed)
            self._fatal(cause, incident_id, failed.request_id)
            return

        start_p = index * self.seg
        end_p = start_p + self.seg
        if not self.live:
            end_p = min(end_p, self.video.duration_s)
        self.buffer.append(_Segment(max(start_p, self.p), end_p, kbps))
        self.next_seg += 1
        level = self._level()
        ready = level >= self.c.startup_buffer_s - _EPS or self._content_done()
        if self.state == _STARTUP and ready:
            for incident in self.incidents:
                if isinstance(incident, CorruptedAsset) and incident.active(
                    self._abs(self.t)
                ):
                    self._fatal("corrupted_asset", incident.id, request.request_id)
                    return
            self._first_frame(kbps, request.request_id)
        elif self.state == _STALLED and ready:
            self._close_stall()

    def _network_cause(self, request: CdnRequest) -> tuple[str, str | None]:
        """The incident whose errors exhausted the retries, if any."""
        for incident_id, entry in self.touched.items():
            if request.request_id in entry["requests"]:
                incident = next(i for i in self.incidents if i.id == incident_id)
                if isinstance(incident, EdgeDegradation | OriginOutage):
                    return incident.kind, incident.id
        return f"http_{request.status}", None

    def _first_frame(self, kbps: int, rid: str) -> None:
        self.t += 0.03 + 0.08 * self.rng.random()  # decode and render the first frame
        self.startup_ms = round(self.t * 1000)
        self.state = _PLAYING
        self.playing_kbps = kbps
        fields = {
            "rtt": self._rtt(),
            "connection_type": self.viewer.connection_type,
            **self._kbps_fields(kbps),
            "avg_bitrate": kbps,
            "time_millisecond": self.startup_ms,
            "cdn_tracking_id": rid,
        }
        self._emit("FIRSTFRAME", self.t, fields)
        self._emit(
            "BUFFER",
            self.t,
            {
                "buffer_type": "FirstBuffer",
                "at": round(self.p, 3),
                "rtt": fields["rtt"],
                "connection_type": self.viewer.connection_type,
                "time_millisecond": self.startup_ms,
                "cdn_tracking_id": rid,
            },
        )
        if self.fail_at < self.t:
            self.fail_at = self.t

    def _truth(self) -> dict[str, Any]:
        connection = [s for s in self.stalls if not s["seek_induced"]]
        rebuffer = sum(s["duration_ms"] for s in connection)
        played_ms = round(self.played * 1000)
        return {
            "session_id": self.sid,
            "user_id": self.viewer.user_id,
            "video_id": self.video.video_id,
            "playlist_type": "live" if self.live else "vod",
            "device_model": self.viewer.device.model,
            "device_family": self.viewer.device.family,
            "connection_type": self.viewer.connection_type,
            "asn": self.viewer.isp.asn,
            "country": self.viewer.isp.country,
            "edge_location": self.viewer.edge,
            "trace": self.trace_name,
            "start_ms": self._ms(0.0),
            "end_ms": self._ms(self.t),
            "outcome": self.outcome,
            "exit_reason": self.exit_reason,
            "failure_cause": self.failure_cause,
            "failure_incident": self.failure_incident,
            "startup_time_ms": self.startup_ms,
            "stalls": self.stalls,
            "rebuffer_count": len(connection),
            "rebuffer_ms": rebuffer,
            "seek_rebuffer_ms": sum(s["duration_ms"] for s in self.stalls) - rebuffer,
            "play_ms": played_ms,
            "rebuffering_ratio": (
                round(rebuffer / (played_ms + rebuffer), 6)
                if played_ms + rebuffer
                else 0.0
            ),
            "pauses": self.pauses,
            "avg_bitrate_kbps": round(self.bitrate_s / self.played)
            if self.played
            else None,
            "bitrate_switches": self.switches,
            "downshifts": self.downshifts,
            "requests": self.request_count,
            "incident_ids": sorted(self.touched),
        }


def run_session(**kwargs: Any) -> SessionResult:
    """Simulate one session (keyword arguments of the private session class)."""
    return _Session(**kwargs).run()

"""Hand-computed views: input events and the expected gold figures of each.

Times are seconds after ``T0``. Each scenario has its own viewer so that all of
them run through Spark in one job.
"""

from __future__ import annotations

import math
import random
from typing import Any

from qoe_events import event, streams


def normal_with_startup_stall() -> list[dict[str, Any]]:
    """Stall during start-up (not a rebuffer), one rebuffer, two switches."""
    u, s = "u_start", "s-start"
    kw: dict[str, Any] = {"session": s}
    return [
        event("PLAY", 0, u, playhead_s=0.0, duration_s=600.0, **kw),
        event("BUFFER", 1.5, u, buffer_type="FirstBuffer", time_ms=1500.0, **kw),
        event(
            "BUFFER", 1.8, u, buffer_type="ScreenFreezedBuffer", time_ms=300.0, **kw
        ),
        event(
            "FIRSTFRAME", 2.0, u, time_ms=2000.0, cdn_tracking_id="r1",
            device_type="desktop", os_family="Windows", browser_family="Chrome", **kw,
        ),
        *streams(u, [3, 4, 5, 6], 1000.0, 1.0, cdn_tracking_id="r2", **kw),
        event(
            "STEP", 6.5, u, bitrate_from_kbps=1000.0, bitrate_to_kbps=500.0,
            direction="DOWN", **kw,
        ),
        *streams(u, [7, 8], 500.0, 5.0, **kw),
        event(
            "BUFFER", 11, u, buffer_type="ScreenFreezedBuffer", time_ms=2000.0, **kw
        ),
        *streams(u, [12], 500.0, 7.0, **kw),
        event(
            "STEP", 12.5, u, bitrate_from_kbps=500.0, bitrate_to_kbps=1000.0,
            direction="UP", **kw,
        ),
        *streams(u, [13], 1000.0, 8.0, **kw),
        event("STOP", 14, u, playhead_s=9.0, duration_s=600.0, **kw),
    ]  # fmt: skip


def seek_induced_stall() -> list[dict[str, Any]]:
    """No session id; one stall right after a seek, one caused by the network."""
    u = "u_seek"
    return [
        event("PLAY", 0, u),
        event("FIRSTFRAME", 1.0, u, time_ms=1000.0),
        *streams(u, [2, 3], 800.0, 1.0),
        event("SEEK", 4, u, seek_from_s=3.0, seek_to_s=100.0),
        event("BUFFER", 5, u, buffer_type="ScreenFreezedBuffer", time_ms=800.0),
        *streams(u, [6, 7], 800.0, 101.0),
        event("BUFFER", 10, u, buffer_type="ScreenFreezedBuffer", time_ms=1000.0),
        event("STOP", 11, u, playhead_s=104.0),
    ]


def pause_during_stall() -> list[dict[str, Any]]:
    """A 5 s stall (4..9) of which 2 s (5..7) are paused: 3 s of rebuffering."""
    u, kw = "u_pause", {"session": "s-pause"}
    return [
        event("PLAY", 0, u, **kw),
        event("FIRSTFRAME", 1.0, u, time_ms=1000.0, **kw),
        *streams(u, [2, 3], 800.0, 1.0, **kw),
        event("PAUSE", 5, u, **kw),
        event("PLAY", 7, u, **kw),  # resume, not a new view
        event("BUFFER", 9, u, buffer_type="ScreenFreezedBuffer", time_ms=5000.0, **kw),
        *streams(u, [10], 800.0, 3.0, **kw),
        event("STOP", 12, u, **kw),
    ]


def never_starts() -> list[dict[str, Any]]:
    """The viewer gives up during the start-up wait (EBVS)."""
    u = "u_ebvs"
    return [
        event("PLAY", 0, u),
        event("BUFFER", 3, u, buffer_type="FirstBuffer", time_ms=3000.0),
        event("STOP", 4, u),
    ]


def start_failure() -> list[dict[str, Any]]:
    """A fatal error before the first frame (VSF)."""
    u = "u_vsf"
    return [
        event("PLAY", 0, u),
        event("ERROR", 2, u, error_message="MEDIA_ERR_NETWORK", error_fatal=True),
    ]


def failure_after_stall() -> list[dict[str, Any]]:
    """A non-fatal error, a stall, then a fatal error ends playback."""
    u = "u_fail"
    return [
        event("PLAY", 0, u),
        event("FIRSTFRAME", 1.0, u, time_ms=1000.0),
        *streams(u, [2, 3, 4], 800.0, 1.0),
        event("ERROR", 3.5, u, error_message="minor", error_fatal=False),
        event("BUFFER", 7, u, buffer_type="ScreenFreezedBuffer", time_ms=2500.0),
        event("ERROR", 8, u, error_message="Segment 404", error_fatal=True),
    ]


def duplicates_out_of_order(seed: int = 7) -> list[dict[str, Any]]:
    """Startup from timestamps (no time_ms); duplicated events; shuffled rows."""
    u, kw = "u_dup", {"session": "s-dup"}
    rows = [
        event("PLAY", 0, u, **kw),
        event("FIRSTFRAME", 1.25, u, **kw),
        *streams(u, [2, 3], 800.0, 1.0, **kw),
        event("STOP", 4, u, **kw),
    ]
    rows = [*rows, rows[1], rows[2], rows[2]]
    random.Random(seed).shuffle(rows)
    return rows


def replay() -> list[dict[str, Any]]:
    """Two views in one activity session: a PLAY after a STOP starts a new one."""
    u = "u_replay"
    return [
        event("PLAY", 0, u),
        event("FIRSTFRAME", 1, u, time_ms=1000.0),
        event("STOP", 3, u),
        event("PLAY", 5, u),
        event("FIRSTFRAME", 5.5, u, time_ms=500.0),
        event("STOP", 8, u),
    ]


def seek_stalls_at_rounding_limits() -> list[dict[str, Any]]:
    """Seek-induced stalls whose start lands on the limits of the seek window.

    Not in :func:`all_events` (the aggregates of the gold tests are computed by
    hand from those). Players round the seek time, the stall's end and its
    length to whole milliseconds separately, so the start of a seek-induced
    stall (end less length) can be 1 ms before the seek: 5.819 - 2.229 = 3.590
    for a seek at 3.591 (the simulator's seed 5 has such stalls). In epoch
    seconds as doubles that difference is -0.0010002 s, which a floating-point
    window test takes for a stall before the seek.
    """
    u, kw = "u_seekms", {"session": "s-seekms"}
    return [
        event("PLAY", 0, u, **kw),
        event("FIRSTFRAME", 1.0, u, time_ms=1000.0, **kw),
        *streams(u, [2, 3], 800.0, 1.0, **kw),
        # Starts 1 ms before its seek (rounding): seek-induced, 2.229 s.
        event("SEEK", 3.591, u, seek_from_s=2.591, seek_to_s=100.0, **kw),
        event(
            "BUFFER", 5.819, u, buffer_type="ScreenFreezedBuffer", time_ms=2229.0,
            **kw,
        ),
        *streams(u, [6, 7], 800.0, 101.0, **kw),
        # Starts exactly 2 s after its seek: seek-induced, 1.5 s.
        event("SEEK", 8.0, u, seek_from_s=102.0, seek_to_s=200.0, **kw),
        event(
            "BUFFER", 11.5, u, buffer_type="ScreenFreezedBuffer", time_ms=1500.0,
            **kw,
        ),
        *streams(u, [12], 800.0, 201.0, **kw),
        # Starts 2.001 s after its seek: connection-induced, 0.5 s.
        event("SEEK", 13.0, u, seek_from_s=201.5, seek_to_s=300.0, **kw),
        event(
            "BUFFER", 15.501, u, buffer_type="ScreenFreezedBuffer", time_ms=500.0,
            **kw,
        ),
        event("STOP", 16, u, playhead_s=300.5, **kw),
    ]  # fmt: skip


#: Expected figures of :func:`seek_stalls_at_rounding_limits`: stalls of 2.229,
#: 1.5 (both after a seek) and 0.5 s; 15 s from the first frame to the end.
EXPECTED_SEEK_ROUNDING: dict[str, Any] = {
    "attempts": 1, "plays": 1, "seek_count": 3,
    "rebuffer_count": 3, "rebuffer_duration_s": 4.229,
    "connection_rebuffer_count": 1, "connection_rebuffer_duration_s": 0.5,
    "play_time_s": 10.771, "watch_time_s": 15.0,
    "rebuffering_ratio": 4.229 / 15,
    "connection_induced_rebuffering_ratio": 0.5 / 11.271,
}  # fmt: skip


def all_events() -> list[dict[str, Any]]:
    return [
        *normal_with_startup_stall(),
        *seek_induced_stall(),
        *pause_during_stall(),
        *never_starts(),
        *start_failure(),
        *failure_after_stall(),
        *duplicates_out_of_order(),
        *replay(),
    ]


def _smooth(count: int, ratio: float) -> float:
    return (100 / math.sqrt(1 + (count / 2) ** 2) + 100 * math.exp(-10 * ratio)) / 2


#: Expected figures per (viewer, view_seq), computed by hand from the events.
EXPECTED: dict[tuple[str, int], dict[str, Any]] = {
    ("u_start", 0): {
        "attempts": 1, "plays": 1, "video_startup_time_s": 2.0,
        "video_start_failure": False, "exit_before_video_start": False,
        "playback_failure": False, "rebuffer_count": 1, "rebuffer_duration_s": 2.0,
        "connection_rebuffer_count": 1, "play_time_s": 10.0, "watch_time_s": 12.0,
        "rebuffering_ratio": 2 / 12, "connection_induced_rebuffering_ratio": 2 / 12,
        "average_bitrate_kbps": 812.5, "bitrate_switches": 2, "bitrate_downshifts": 1,
        "max_playhead_s": 9.0, "media_duration_s": 600.0, "completion": 9 / 600,
        "startup_score": 80.0, "smoothness_score": _smooth(1, 2 / 12),
        "playback_success_score": 100.0, "event_count": 16,
        "device_type": "desktop", "browser_family": "Chrome",
    },
    ("u_seek", 0): {
        "attempts": 1, "plays": 1, "video_startup_time_s": 1.0,
        "rebuffer_count": 2, "rebuffer_duration_s": 1.8,
        "connection_rebuffer_count": 1, "connection_rebuffer_duration_s": 1.0,
        "seek_count": 1, "play_time_s": 8.2, "watch_time_s": 10.0,
        "rebuffering_ratio": 0.18, "connection_induced_rebuffering_ratio": 1 / 9.2,
        "session_id": None,
    },
    ("u_pause", 0): {
        "attempts": 1, "plays": 1, "rebuffer_count": 1, "rebuffer_duration_s": 3.0,
        "pause_count": 1, "paused_s": 2.0, "play_time_s": 6.0, "watch_time_s": 9.0,
        "rebuffering_ratio": 3 / 9, "event_count": 9,
    },
    ("u_ebvs", 0): {
        "attempts": 1, "plays": 0, "video_startup_time_s": None,
        "exit_before_video_start": True, "video_start_failure": False,
        "playback_failure": False, "rebuffer_count": 0, "rebuffer_duration_s": 0.0,
        "play_time_s": 0.0, "rebuffering_ratio": None, "startup_score": None,
        "smoothness_score": None, "playback_success_score": 50.0,
    },
    ("u_vsf", 0): {
        "attempts": 1, "plays": 0, "video_start_failure": True,
        "exit_before_video_start": False, "playback_failure": False,
        "failure_error": "MEDIA_ERR_NETWORK", "error_count": 1,
        "playback_success_score": 0.0,
    },
    ("u_fail", 0): {
        "attempts": 1, "plays": 1, "playback_failure": True,
        "video_start_failure": False, "failure_error": "Segment 404",
        "error_count": 2, "rebuffer_count": 1, "rebuffer_duration_s": 2.5,
        "play_time_s": 4.5, "rebuffering_ratio": 2.5 / 7,
        "playback_success_score": 0.0,
    },
    ("u_dup", 0): {
        "attempts": 1, "plays": 1, "video_startup_time_s": 1.25, "event_count": 5,
        "play_time_s": 2.75, "rebuffer_count": 0, "rebuffering_ratio": 0.0,
        "average_bitrate_kbps": 800.0, "smoothness_score": 100.0,
    },
    ("u_replay", 0): {"attempts": 1, "plays": 1, "play_time_s": 2.0,
                      "video_startup_time_s": 1.0},
    ("u_replay", 1): {"attempts": 1, "plays": 1, "play_time_s": 2.5,
                      "video_startup_time_s": 0.5},
}  # fmt: skip

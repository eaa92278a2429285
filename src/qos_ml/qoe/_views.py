"""Sessionisation of player events into views, and the QoE metrics of each view.

The computation has two steps that run unchanged on a batch and on a streaming
DataFrame, which is what makes batch and streaming gold rows identical:

1. :func:`sessionize` groups events into *activity sessions*: the player's
   session id (CMCD ``sid``) where present, otherwise the viewer and the video,
   cut by a gap of inactivity (a Spark session window). Each session keeps its
   events as one array; duplicates (same event, same ``event_id``) collapse.
2. :func:`views_from_sessions` sorts each session's events by time, cuts it into
   views (a view starts with the session, and again at every PLAY that follows a
   STOP or a fatal ERROR) and computes every metric of a view with native
   higher-order functions over that array.

Metric names and definitions follow ``docs/QOE_METRICS.md`` (the industry
definitions); each column's definition is listed in :data:`VIEW_METRICS`.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from qos_ml._errors import ConfigError, SchemaMismatchError

__all__ = [
    "VIEW_METRICS",
    "compute_views",
    "sessionize",
    "validate_duration",
    "views_from_sessions",
]

#: Order of event types that share a timestamp: a view's request comes first,
#: its end last.
_TYPE_RANK = {
    "PLAY": 0,
    "FIRSTFRAME": 1,
    "STREAM": 2,
    "STEP": 3,
    "SEEK": 4,
    "BUFFER": 5,
    "PAUSE": 6,
    "ERROR": 7,
    "STOP": 8,
}

#: Event columns a view needs (besides ``event_time``).
_EVENT_COLUMNS = (
    "event_id",
    "event_type",
    "playhead_s",
    "duration_s",
    "time_ms",
    "buffer_type",
    "avg_bitrate_kbps",
    "bitrate_from_kbps",
    "bitrate_to_kbps",
    "direction",
    "error_message",
    "error_fatal",
    "cdn_tracking_id",
    "playlist_type",
    "device_type",
    "os_family",
    "browser_family",
    "connection_type",
    "package",
)
_KEY_COLUMNS = ("user_id_hash", "video_id", "session_id")

#: Per-view metrics and the definition each follows (QOE_METRICS.md, "Per view").
VIEW_METRICS: dict[str, str] = {
    "attempts": "attempt: every play request (1 when the view has a PLAY, else 0)",
    "plays": "play: an attempt whose first frame was shown",
    "video_startup_time_s": (
        "video startup time: seconds from the play request to the first rendered "
        "frame (the player's FIRSTFRAME time_ms, else the time between the events)"
    ),
    "video_start_failure": (
        "VSF: an attempt that ended before the first frame with a fatal error"
    ),
    "exit_before_video_start": (
        "EBVS: an attempt that ended before the first frame without a fatal error"
    ),
    "playback_failure": "playback failure: a view ended by a fatal error after the "
    "first frame",
    "rebuffer_count": "rebuffer count: stalls after the first frame; the start-up "
    "wait is not a stall",
    "rebuffer_duration_s": "rebuffer duration: seconds stalled after the first "
    "frame, paused time excluded",
    "rebuffering_ratio": "rebuffering ratio: rebuffer time / (play time + rebuffer "
    "time)",
    "connection_induced_rebuffering_ratio": (
        "CIRR: the rebuffering ratio counting only stalls not caused by a seek"
    ),
    "average_bitrate_kbps": (
        "average bitrate: time-weighted bitrate of the frames played, excluding "
        "stalls and pauses (one STREAM event per played second, at the rendition "
        "of the last STEP before it)"
    ),
    "bitrate_switches": "bitrate switches: count of rendition changes (STEP)",
    "bitrate_downshifts": "bitrate downshifts: rendition changes going down",
    "play_time_s": "play time: seconds from the first frame to the end of the view "
    "minus stalls and pauses",
    "watch_time_s": "watch time: play time plus rebuffer time",
    "completion": "completion: furthest playhead / media duration (VOD only)",
    "startup_score": "startup score: 8 / (8 + startup seconds) x 100",
    "smoothness_score": (
        "smoothness: mean of 100 / sqrt(1 + (rebuffer_count / 2)^2) and "
        "100 x exp(-10 x rebuffer_ratio)"
    ),
    "playback_success_score": (
        "playback success: 100 for success, 50 for an exit before start, 0 for a "
        "failure"
    ),
}

_DURATION = re.compile(r"^\s*\d+(\.\d+)?\s+(second|minute|hour)s?\s*$")


def validate_duration(name: str, value: str) -> str:
    """Check a Spark interval string such as ``"30 seconds"`` and return it.

    Raises
    ------
    ConfigError
        Naming the parameter, the value and the accepted form.
    """
    if not isinstance(value, str) or not _DURATION.match(value):
        raise ConfigError(
            name,
            value,
            "'<number> seconds|minutes|hours', e.g. '30 seconds'",
            source="keyword argument",
        )
    return value


def _require(df: DataFrame, columns: tuple[str, ...], what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise SchemaMismatchError(
            f"{what} needs columns {missing}, which the DataFrame lacks; "
            f"it has {df.columns}"
        )


def _seconds(e: Column) -> Column:
    """Event time of an event struct, in epoch seconds (double)."""
    return e["us"] / F.lit(1_000_000.0)


def stall_start_us(event_us: Column, time_ms: Column) -> Column:
    """Start of a stall in epoch microseconds: its BUFFER time less its length."""
    return event_us - F.round(F.coalesce(time_ms, F.lit(0.0)) * 1000.0).cast("long")


def seek_explains_stall(start_us: Column, seek_us: Column, window_us: Column) -> Column:
    """Whether a SEEK at ``seek_us`` caused a stall that began at ``start_us``.

    The stall must begin at most ``window_us`` after the seek. Players round
    the seek time, the stall's end and its length to whole milliseconds
    separately, so the start derived from them can fall up to 1 ms before the
    seek. Exact integer arithmetic: in double epoch seconds (~1.8e9) the 1 ms
    limit itself is off by ~2e-7 s. The one definition used by the views and
    by the features.
    """
    gap = start_us - seek_us
    return (gap >= F.lit(-1000)) & (gap <= window_us)


def _first(events: Column, predicate: Callable[[Column], Column]) -> Column:
    """The first event matching a predicate, or null."""
    return F.get(F.filter(events, predicate), 0)


def _is_type(*types: str) -> Callable[[Column], Column]:
    return lambda e: e["event_type"].isin(*types)


def _is_fatal_error(e: Column) -> Column:
    # The original SDK sent no fatal flag and sent ERROR only for player errors
    # that stop playback; a missing flag therefore counts as fatal.
    return (e["event_type"] == "ERROR") & F.coalesce(e["error_fatal"], F.lit(True))


def _ends_view(e: Column) -> Column:
    return (e["event_type"] == "STOP") | _is_fatal_error(e)


def _ends_pause(e: Column) -> Column:
    # A pause lasts until playback resumes or the view ends; a seek, a rendition
    # change or a stall report while paused does not resume it.
    return e["event_type"].isin("PLAY", "FIRSTFRAME", "STREAM", "STOP", "PAUSE") | (
        _is_fatal_error(e)
    )


def _first_non_null(events: Column, field: str) -> Column:
    return F.get(
        F.filter(F.transform(events, lambda e: e[field]), lambda x: x.isNotNull()), 0
    )


def sessionize(
    events: DataFrame, *, session_gap: str = "10 minutes", watermark: str | None = None
) -> DataFrame:
    """Group player events into activity sessions, batch or streaming.

    A session is keyed by ``user_id_hash``, ``video_id`` and ``session_id`` (null
    when the player sent none) and lasts while events keep arriving less than
    ``session_gap`` apart (a Spark session window). Events without an event time
    or without a viewer cannot be placed and are left out; :func:`build_gold`
    counts them.

    Parameters
    ----------
    events : DataFrame
        Rows of ``silver.player_events`` (batch or streaming).
    session_gap : str, default "10 minutes"
        Inactivity that closes a session.
    watermark : str, optional
        Event-time watermark for a streaming input (e.g. ``"2 minutes"``); a
        session is emitted once the watermark passes its end plus the gap.

    Returns
    -------
    DataFrame
        ``user_id_hash``, ``video_id``, ``session_id``, ``events`` (array of
        event structs, unsorted, duplicates removed).
    """
    validate_duration("session_gap", session_gap)
    _require(events, ("event_time", *_KEY_COLUMNS, *_EVENT_COLUMNS), "sessionize")
    valid = events.where(
        F.col("event_time").isNotNull()
        & (F.col("user_id_hash").isNotNull() | F.col("session_id").isNotNull())
    )
    if watermark is not None:
        valid = valid.withWatermark(
            "event_time", validate_duration("watermark", watermark)
        )

    # TODO(#5): players send nothing while paused, so a pause longer than the
    # gap splits a view; the part after it has no PLAY (attempts 0).
    rank = F.lit(len(_TYPE_RANK))
    for event_type, position in _TYPE_RANK.items():
        rank = F.when(F.col("event_type") == event_type, position).otherwise(rank)
    # Field order is the sort order of array_sort: time, type, then the id.
    event = F.struct(
        F.unix_micros("event_time").alias("us"),
        rank.alias("rank"),
        *(F.col(c) for c in _EVENT_COLUMNS),
    )
    return (
        valid.groupBy(*_KEY_COLUMNS, F.session_window("event_time", session_gap))
        .agg(F.collect_set(event).alias("events"))
        .drop("session_window")
    )


def _split_views(sessions: DataFrame) -> DataFrame:
    """One row per view: sort a session's events and cut it before each new PLAY."""
    ev = F.col("_ev")
    n = F.size(ev)

    def is_start(i: Column) -> Column:  # i is 1-based
        return F.when(i == 1, F.lit(True)).otherwise(
            (F.get(ev, i - 1)["event_type"] == "PLAY") & _ends_view(F.get(ev, i - 2))
        )

    starts = F.col("_starts")
    views = F.transform(
        starts,
        lambda s, k: F.slice(ev, s, F.coalesce(F.get(starts, k + 1), n + 1) - s),
    )
    return (
        sessions.withColumn("_ev", F.array_sort("events"))
        .withColumn("_starts", F.filter(F.sequence(F.lit(1), n), is_start))
        .select(*_KEY_COLUMNS, F.posexplode(views).alias("view_seq", "v"))
    )


def views_from_sessions(
    sessions: DataFrame, *, seek_window_s: float = 2.0
) -> DataFrame:
    """Cut activity sessions into views and compute each view's QoE metrics.

    Definitions (``docs/QOE_METRICS.md``) are in :data:`VIEW_METRICS`. Choices
    that the definitions leave open:

    * a stall is a BUFFER event that is not the ``FirstBuffer`` and ends after
      the first frame; it covers ``[event_time - time_ms, event_time]``, clipped
      to start no earlier than the first frame (the start-up wait is excluded);
    * a pause lasts from PAUSE to the next PLAY, FIRSTFRAME, STREAM, STOP, PAUSE
      or fatal ERROR (or the view's end); stall time while paused is not stall
      time, and pauses and stalls are not play time;
    * a stall is seek-induced when it starts at most ``seek_window_s`` seconds
      after a SEEK event, or up to 1 ms before it (its start is the BUFFER time
      less ``time_ms``, each rounded to the millisecond by the player); the test
      is exact, in integer microseconds;
    * an ERROR event without a fatal flag counts as fatal.

    Parameters
    ----------
    sessions : DataFrame
        Output of :func:`sessionize` (batch or streaming).
    seek_window_s : float, default 2.0
        Window after a seek in which a stall counts as caused by the seek.

    Returns
    -------
    DataFrame
        One row per view with the columns of ``gold.views`` except the CDN
        figures and the CDN-side dimensions (see :func:`attach_cdn_figures`),
        plus ``cdn_tracking_ids`` (array) for that join.
    """
    if not isinstance(seek_window_s, int | float) or seek_window_s < 0:
        raise ConfigError(
            "seek_window_s",
            seek_window_s,
            "a number of seconds >= 0",
            source="keyword argument",
        )
    _require(sessions, (*_KEY_COLUMNS, "events"), "views_from_sessions")
    v = F.col("v")
    split = _split_views(sessions)

    # Milestones of the view: request, first frame, fatal error, end.
    steps = split.select(
        *_KEY_COLUMNS,
        "view_seq",
        "v",
        _first(v, _is_type("PLAY")).alias("_play"),
        _first(v, _is_type("FIRSTFRAME")).alias("_ff"),
        _seconds(F.get(v, F.size(v) - 1)).alias("_end_t"),
    )
    ff_t = _seconds(F.col("_ff"))
    end_t = F.col("_end_t")
    steps = steps.withColumn("_ff_t", ff_t).withColumn(
        "_fatal",
        _first(
            v,
            lambda e: (
                _is_fatal_error(e)
                & (F.col("_ff").isNull() | (_seconds(e) >= F.col("_ff_t")))
            ),
        ),
    )

    # Pauses after the first frame, as [a, b] intervals clipped to the playback.
    ff_t = F.col("_ff_t")
    pause_idx = F.filter(
        F.sequence(F.lit(0), F.size(v) - 1),
        lambda i: F.get(v, i)["event_type"] == "PAUSE",
    )
    pauses = F.transform(
        pause_idx,
        lambda i: F.struct(
            F.greatest(_seconds(F.get(v, i)), ff_t).alias("a"),
            F.least(
                F.coalesce(_seconds(_first_after(v, i, _ends_pause)), end_t),
                end_t,
            ).alias("b"),
        ),
    )
    steps = steps.withColumn("_pauses", F.filter(pauses, lambda p: p["b"] > p["a"]))

    # Stalls after the first frame, less the time they overlap a pause.
    def paused_overlap(s0: Column, s1: Column) -> Column:
        return F.aggregate(
            F.col("_pauses"),
            F.lit(0.0),
            lambda acc, p: (
                acc
                + F.greatest(F.lit(0.0), F.least(s1, p["b"]) - F.greatest(s0, p["a"]))
            ),
        )

    window_us = F.lit(round(seek_window_s * 1_000_000)).cast("long")

    def stall(e: Column) -> Column:
        raw_start = _seconds(e) - F.coalesce(e["time_ms"], F.lit(0.0)) / 1000.0
        start = F.greatest(raw_start, ff_t)
        # The seek test is exact integer arithmetic in microseconds: in epoch
        # seconds (~1.8e9) a double is off by ~2e-7 s, which decides a stall
        # that starts right at the 1 ms rounding limit.
        start_us = stall_start_us(e["us"], e["time_ms"])
        seek_induced = F.exists(
            v,
            lambda s: (
                (s["event_type"] == "SEEK")
                & seek_explains_stall(start_us, s["us"], window_us)
            ),
        )
        return F.struct(
            (_seconds(e) - start - paused_overlap(start, _seconds(e))).alias("d"),
            seek_induced.alias("seek"),
        )

    rebuffers = F.transform(
        F.filter(
            v,
            lambda e: (
                (e["event_type"] == "BUFFER")
                & (F.coalesce(e["buffer_type"], F.lit("")) != "FirstBuffer")
                & (_seconds(e) > ff_t)
            ),
        ),
        stall,
    )
    steps = steps.withColumn("_stalls", rebuffers)

    return _view_columns(steps)


def _first_after(
    events: Column, i: Column, predicate: Callable[[Column], Column]
) -> Column:
    """The first event after 0-based position ``i`` that matches a predicate."""
    return F.get(F.filter(events, lambda e, j: (j > i) & predicate(e)), 0)


def _sum(array: Column, value: Callable[[Column], Column]) -> Column:
    return F.aggregate(array, F.lit(0.0), lambda acc, x: acc + value(x))


def _ratio(numerator: Column, denominator: Column) -> Column:
    return F.when(denominator > 0, numerator / denominator)


def _view_columns(steps: DataFrame) -> DataFrame:
    v = F.col("v")
    has_play = F.col("_play").isNotNull()
    has_ff = F.col("_ff").isNotNull()
    fatal = F.col("_fatal")
    stalls = F.col("_stalls")
    connection_stalls = F.filter(stalls, lambda s: ~s["seek"])

    # Totals used by several columns are computed once, as columns of their own.
    steps = steps.withColumns(
        {
            "_rebuffer_s": F.when(has_ff, _sum(stalls, lambda s: s["d"])).otherwise(
                0.0
            ),
            "_connection_s": F.when(
                has_ff, _sum(connection_stalls, lambda s: s["d"])
            ).otherwise(0.0),
            "_paused_s": _sum(F.col("_pauses"), lambda p: p["b"] - p["a"]),
            "_playlist_type": _first_non_null(v, "playlist_type"),
        }
    )
    rebuffer_s = F.col("_rebuffer_s")
    connection_s = F.col("_connection_s")
    paused_s = F.col("_paused_s")
    steps = steps.withColumn(
        "_play_s",
        F.when(
            has_ff,
            F.greatest(
                F.lit(0.0), F.col("_end_t") - F.col("_ff_t") - rebuffer_s - paused_s
            ),
        ).otherwise(0.0),
    )
    play_s = F.col("_play_s")
    startup_s = F.when(
        has_ff,
        F.coalesce(
            F.col("_ff")["time_ms"] / 1000.0,
            F.col("_ff_t") - _seconds(F.col("_play")),
        ),
    )
    # One STREAM per played second, at the rendition of the last switch at or
    # before it (before any switch: the first switch's origin, else the
    # event's own bitrate, which players report as a running average).
    # One linear pass over the STREAM and STEP events ordered by time with a
    # STEP before a STREAM of the same instant; a per-STREAM search over the
    # switches was quadratic (minutes for the demo's 400 views).
    steps = steps.withColumn("_switches", F.filter(v, _is_type("STEP")))
    switches = F.col("_switches")
    initial_kbps = F.get(switches, 0)["bitrate_from_kbps"]
    played = F.array_sort(
        F.transform(
            F.filter(v, _is_type("STREAM", "STEP")),
            lambda e: F.struct(
                e["us"].alias("us"),
                (e["event_type"] == "STREAM").alias("is_stream"),
                e["bitrate_to_kbps"].alias("to_kbps"),
                e["avg_bitrate_kbps"].alias("avg_kbps"),
            ),
        )
    )

    def _play_step(acc: Column, e: Column) -> Column:
        kbps = F.coalesce(acc["current"], initial_kbps, e["avg_kbps"])
        counted = e["is_stream"] & kbps.isNotNull()
        return F.struct(
            F.when(e["is_stream"], acc["current"])
            .otherwise(e["to_kbps"])
            .alias("current"),
            (acc["total"] + F.when(counted, kbps).otherwise(0.0)).alias("total"),
            (acc["n"] + counted.cast("long")).alias("n"),
        )

    bitrate = F.aggregate(
        played,
        F.struct(
            F.lit(None).cast("double").alias("current"),
            F.lit(0.0).alias("total"),
            F.lit(0).cast("long").alias("n"),
        ),
        _play_step,
    )
    steps_up_down = switches
    downshift = F.filter(
        steps_up_down,
        lambda e: F.coalesce(
            F.upper(e["direction"]) == "DOWN",
            e["bitrate_to_kbps"] < e["bitrate_from_kbps"],
            F.lit(False),
        ),
    )
    max_playhead = F.array_max(F.transform(v, lambda e: e["playhead_s"]))
    media_duration = F.array_max(F.transform(v, lambda e: e["duration_s"]))
    playlist_type = F.col("_playlist_type")

    vsf = has_play & ~has_ff & fatal.isNotNull()
    ebvs = has_play & ~has_ff & fatal.isNull()
    failure = has_ff & fatal.isNotNull()

    view_start = F.timestamp_micros(F.get(v, 0)["us"])
    view_id = F.sha2(
        F.concat_ws(
            "|",
            F.coalesce(F.col("session_id"), F.lit("")),
            F.coalesce(F.col("user_id_hash"), F.lit("")),
            F.coalesce(F.col("video_id"), F.lit("")),
            F.get(v, 0)["us"].cast("string"),
        ),
        256,
    ).substr(1, 32)

    cols = steps.select(
        view_id.alias("view_id"),
        view_start.alias("view_start"),
        F.timestamp_micros(F.get(v, F.size(v) - 1)["us"]).alias("view_end"),
        F.to_date(view_start).alias("view_date"),
        *_KEY_COLUMNS,
        "view_seq",
        playlist_type.alias("playlist_type"),
        F.size(v).alias("event_count"),
        has_play.cast("int").alias("attempts"),
        (has_play & has_ff).cast("int").alias("plays"),
        startup_s.alias("video_startup_time_s"),
        vsf.alias("video_start_failure"),
        ebvs.alias("exit_before_video_start"),
        failure.alias("playback_failure"),
        F.when(fatal.isNotNull(), fatal["error_message"]).alias("failure_error"),
        F.size(F.filter(v, _is_type("ERROR"))).alias("error_count"),
        F.size(stalls).alias("rebuffer_count"),
        rebuffer_s.alias("rebuffer_duration_s"),
        F.size(connection_stalls).alias("connection_rebuffer_count"),
        connection_s.alias("connection_rebuffer_duration_s"),
        F.size(F.filter(v, _is_type("SEEK"))).alias("seek_count"),
        F.size(F.filter(v, _is_type("PAUSE"))).alias("pause_count"),
        paused_s.alias("paused_s"),
        play_s.alias("play_time_s"),
        (play_s + rebuffer_s).alias("watch_time_s"),
        _ratio(rebuffer_s, play_s + rebuffer_s).alias("rebuffering_ratio"),
        _ratio(connection_s, play_s + connection_s).alias(
            "connection_induced_rebuffering_ratio"
        ),
        F.when(
            bitrate["n"] > 0,
            bitrate["total"] / bitrate["n"],
        ).alias("average_bitrate_kbps"),
        F.size(steps_up_down).alias("bitrate_switches"),
        F.size(downshift).alias("bitrate_downshifts"),
        max_playhead.alias("max_playhead_s"),
        media_duration.alias("media_duration_s"),
        F.when(
            F.coalesce(F.lower(playlist_type), F.lit("vod")) != "live",
            F.least(F.lit(1.0), _ratio(max_playhead, media_duration)),
        ).alias("completion"),
        *(
            _first_non_null(v, c).alias(c)
            for c in (
                "device_type",
                "os_family",
                "browser_family",
                "connection_type",
                "package",
            )
        ),
        F.array_distinct(
            F.filter(
                F.transform(v, lambda e: e["cdn_tracking_id"]), lambda x: x.isNotNull()
            )
        ).alias("cdn_tracking_ids"),
    )
    return cols.withColumns(_scores())


def _scores() -> dict[str, Column]:
    """Vendor-style 0..100 scores (QOE_METRICS.md, "Scores some vendors publish")."""
    startup = F.col("video_startup_time_s")
    smooth = (
        100.0 / F.sqrt(1.0 + F.pow(F.col("rebuffer_count") / 2.0, 2))
        + 100.0 * F.exp(-10.0 * F.col("rebuffering_ratio"))
    ) / 2.0
    success = (
        F.when(F.col("attempts") == 0, F.lit(None).cast("double"))
        .when(F.col("video_start_failure") | F.col("playback_failure"), 0.0)
        .when(F.col("exit_before_video_start"), 50.0)
        .otherwise(100.0)
    )
    return {
        "startup_score": F.when(startup >= 0, 8.0 / (8.0 + startup) * 100.0),
        "smoothness_score": F.when(F.col("plays") == 1, smooth),
        "playback_success_score": success,
    }


def compute_views(
    events: DataFrame,
    *,
    session_gap: str = "10 minutes",
    seek_window_s: float = 2.0,
    watermark: str | None = None,
) -> DataFrame:
    """Player events to one row per view, batch or streaming.

    :func:`sessionize`, then :func:`views_from_sessions`; parameters as there.

    Usable with ``events.transform(compute_views, session_gap="5 minutes")`` on a
    batch or a streaming DataFrame.

    Examples
    --------
    >>> views = spark.read.format("delta").load(path).transform(compute_views)
    ... # doctest: +SKIP
    """
    sessions = sessionize(events, session_gap=session_gap, watermark=watermark)
    return views_from_sessions(sessions, seek_window_s=seek_window_s)

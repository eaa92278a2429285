"""Built-in feature sets (``buffering``, ``failure``), labels (``stall``, ``failure``).

Definitions follow ``docs/QOE_METRICS.md``: a stall is a BUFFER event after the
first frame that was not caused by a seek (CIRR's stall), TTFB and latency are
CloudFront's ``time-to-first-byte`` and ``time-taken``, throughput is bytes x 8
/ time-taken, CMCD keys are those of CTA-5004.
"""

from __future__ import annotations

from qos_ml.features._definitions import Feature, FeatureRegistry, FeatureSet, Label

__all__ = [
    "BUFFERING",
    "BUFFERING_LABEL",
    "FAILURE",
    "FAILURE_LABEL",
    "FEATURE_SETS",
]

_PLAYER = "silver.player_events"
_CDN = "silver.cdn_requests"


def _latest(column: str) -> str:
    """Aggregate: the column's value on the latest row where it is not null."""
    return f"max_by({column}, if({column} IS NULL, NULL, _t))"


_FLAG_TEXT = {
    "is_starved": "CMCD buffer starvation (bs), i.e. a stall",
    "is_error": "an error status (4xx, 5xx or 000)",
    "is_5xx": "a 5xx status",
}

# -- shared definitions ---------------------------------------------------------

_DEVICE = Feature(
    "device_type",
    "Device class the player reported (desktop, mobile, tablet, tv).",
    "session",
    _latest("device_type"),
    source=_PLAYER,
    dtype="string",
)
_CONNECTION = Feature(
    "connection_type",
    "Latest connection type the player reported (wifi, cellular, ...).",
    "session",
    _latest("connection_type"),
    source=_PLAYER,
    dtype="string",
)


def _entity_rate(entity: str, what: str, flag: str, window_s: float) -> Feature:
    prefix = {"edge_location": "edge", "asn": "asn", "video": "video"}[entity]
    minutes = f"{window_s / 60:g}m"
    return Feature(
        f"{prefix}_{what}_rate_{minutes}",
        f"Share of the {entity.replace('_', ' ')}'s CDN requests in the last "
        f"{minutes} with {_FLAG_TEXT[flag]}.",
        entity,
        f"avg(CAST({flag} AS DOUBLE))",
        source=_CDN,
        window_s=window_s,
    )


def _entity_failures(entity: str, window_s: float) -> Feature:
    prefix = {"edge_location": "edge", "asn": "asn", "video": "video"}[entity]
    minutes = f"{window_s / 60:g}m"
    return Feature(
        f"{prefix}_failure_rate_{minutes}",
        f"Fatal player errors per session seen on the {entity.replace('_', ' ')} "
        f"in the last {minutes} (start and playback failures).",
        entity,
        "count_if(is_fatal_error) / count(DISTINCT session_key)",
        source=_PLAYER,
        window_s=window_s,
    )


# -- buffering --------------------------------------------------------------------

BUFFERING = FeatureSet(
    name="buffering",
    version="1",
    description=(
        "Will this session stall soon? One row per session and observation time; "
        "every value uses only events at or before that time."
    ),
    default_label="stall",
    features=(
        Feature(
            "buffer_level_cmcd_s",
            "Buffer length the player last reported in CMCD bl (last 30 s), seconds.",
            "session",
            _latest("buffer_level_s"),
            source=_CDN,
            window_s=30,
        ),
        Feature(
            "media_downloaded_s",
            "Media seconds the session downloaded so far (CMCD d of media objects).",
            "session",
            "sum(media_s)",
            source=_CDN,
            dtype="double",
            default=0.0,
        ),
        Feature(
            "played_s",
            "Seconds of media played so far (STREAM events, one per playhead second).",
            "session",
            "count_if(event_type = 'STREAM')",
            source=_PLAYER,
            dtype="long",
            default=0,
        ),
        Feature(
            "buffer_level_s",
            "Buffer level: CMCD bl where present, else media downloaded minus "
            "played (never below 0), seconds.",
            "session",
            "coalesce(buffer_level_cmcd_s, "
            "greatest(media_downloaded_s - played_s, 0.0))",
            inputs=("buffer_level_cmcd_s", "media_downloaded_s", "played_s"),
        ),
        Feature(
            "throughput_kbps_10s",
            "Mean measured throughput of the session's requests in the last 10 s "
            "(CMCD mtp, else bytes x 8 / time-taken), kbit/s.",
            "session",
            "avg(throughput_kbps)",
            source=_CDN,
            window_s=10,
        ),
        Feature(
            "throughput_kbps_60s",
            "Mean measured throughput of the session's requests in the last 60 s, "
            "kbit/s.",
            "session",
            "avg(throughput_kbps)",
            source=_CDN,
            window_s=60,
        ),
        Feature(
            "throughput_trend_kbps_per_s",
            "Trend of the measured throughput: least-squares slope over the "
            "session's requests of the last 60 s, kbit/s per second.",
            "session",
            # Seconds before t, not epoch seconds: the slope is the same and its sums
            # do not lose precision to 1.7e9-sized values.
            "regr_slope(throughput_kbps, _t - _obs_t)",
            source=_CDN,
            window_s=60,
        ),
        Feature(
            "throughput_ratio_10s_60s",
            "Throughput of the last 10 s over that of the last 60 s (below 1: "
            "falling).",
            "session",
            "throughput_kbps_10s / nullif(throughput_kbps_60s, 0.0)",
            inputs=("throughput_kbps_10s", "throughput_kbps_60s"),
        ),
        Feature(
            "bitrate_downshifts_60s",
            "Bitrate steps down (STEP with a lower bitrate) in the last 60 s.",
            "session",
            "count_if(is_downshift)",
            source=_PLAYER,
            window_s=60,
            dtype="long",
            default=0,
        ),
        Feature(
            "bitrate_kbps",
            "Bitrate of the rendition playing, as last reported, kbit/s.",
            "session",
            _latest("avg_bitrate_kbps"),
            source=_PLAYER,
        ),
        Feature(
            "ttfb_s_30s",
            "Mean time to first byte of the session's CDN requests in the last 30 s.",
            "session",
            "avg(ttfb_s)",
            source=_CDN,
            window_s=30,
        ),
        Feature(
            "latency_s_30s",
            "Mean request latency (time-taken) of the session's CDN requests in the "
            "last 30 s.",
            "session",
            "avg(time_taken_s)",
            source=_CDN,
            window_s=30,
        ),
        Feature(
            "rtt_ms_30s",
            "Mean round-trip time the player reported in the last 30 s.",
            "session",
            "avg(rtt_ms)",
            source=_PLAYER,
            window_s=30,
        ),
        Feature(
            "stalls_so_far",
            "Stalls (not caused by a seek, start-up excluded) the session had so far.",
            "session",
            "count_if(is_stall)",
            source=_PLAYER,
            dtype="long",
            default=0,
        ),
        Feature(
            "stall_seconds_so_far",
            "Seconds the session spent in those stalls so far.",
            "session",
            "coalesce(sum(if(is_stall, stall_s, NULL)), 0.0)",
            source=_PLAYER,
            default=0.0,
        ),
        _CONNECTION,
        _DEVICE,
        _entity_rate("edge_location", "stall", "is_starved", 300),
        _entity_rate("edge_location", "error", "is_error", 300),
        _entity_rate("asn", "stall", "is_starved", 300),
        _entity_rate("asn", "error", "is_error", 300),
    ),
)

# -- failure ----------------------------------------------------------------------

FAILURE = FeatureSet(
    name="failure",
    version="1",
    description=(
        "Will this view fail (start failure or playback failure)? One row per "
        "session and observation time, at start-up and during play."
    ),
    default_label="failure",
    features=(
        _DEVICE,
        Feature(
            "os_family",
            "Operating system family of the player.",
            "session",
            _latest("os_family"),
            source=_PLAYER,
            dtype="string",
        ),
        Feature(
            "browser_family",
            "Browser family of the player.",
            "session",
            _latest("browser_family"),
            source=_PLAYER,
            dtype="string",
        ),
        _CONNECTION,
        Feature(
            "started",
            "Whether the first frame was shown already.",
            "session",
            "count_if(event_type = 'FIRSTFRAME') > 0",
            source=_PLAYER,
            dtype="boolean",
            default=False,
        ),
        Feature(
            "startup_time_so_far_s",
            "Video startup time where the first frame was shown, else the seconds "
            "waited since the play request.",
            "session",
            "coalesce(max(startup_s), _obs_t - min(if(event_type = 'PLAY', _t, NULL)))",
            source=_PLAYER,
        ),
        Feature(
            "errors_60s",
            "Player errors (fatal or not) of the session in the last 60 s.",
            "session",
            "count_if(is_error)",
            source=_PLAYER,
            window_s=60,
            dtype="long",
            default=0,
        ),
        Feature(
            "request_errors_60s",
            "The session's CDN requests with an error status in the last 60 s.",
            "session",
            "count_if(is_error)",
            source=_CDN,
            window_s=60,
            dtype="long",
            default=0,
        ),
        Feature(
            "cache_miss_rate_60s",
            "Share of the session's CDN requests of the last 60 s that missed the "
            "edge cache.",
            "session",
            "avg(CAST(is_miss AS DOUBLE))",
            source=_CDN,
            window_s=60,
        ),
        _entity_failures("video", 900),
        _entity_rate("video", "5xx", "is_5xx", 900),
        _entity_failures("edge_location", 900),
        _entity_rate("edge_location", "5xx", "is_5xx", 900),
        _entity_failures("asn", 900),
        _entity_rate("asn", "5xx", "is_5xx", 900),
    ),
)

# -- labels -----------------------------------------------------------------------

BUFFERING_LABEL = Label(
    "stall",
    "A stall not caused by a seek starts within the next H seconds.",
    kind="stall",
    horizon_s=30.0,
)

FAILURE_LABEL = Label(
    "failure",
    "The view ends in a start failure or a playback failure within the next H "
    "seconds (by its end when H is None).",
    kind="failure",
    horizon_s=60.0,
)

#: The registry of feature sets and labels: built-ins, plus the user's.
FEATURE_SETS = FeatureRegistry()
FEATURE_SETS.register(BUFFERING)
FEATURE_SETS.register(FAILURE)
FEATURE_SETS.register_label(BUFFERING_LABEL)
FEATURE_SETS.register_label(FAILURE_LABEL)

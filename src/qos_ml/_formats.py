"""Field lists of the input formats: the contract between the simulator and parsers.

CloudFront field names are AWS's own. The real-time list follows the order of
AWS's documentation of real-time log configuration fields; a user's real-time
configuration may select and order fields differently, and the parsers take the
list as a parameter.
"""

from __future__ import annotations

__all__ = [
    "CLOUDFRONT_REALTIME_FIELDS",
    "CLOUDFRONT_STANDARD_FIELDS",
    "CLOUDFRONT_STANDARD_FIELDS_24",
    "CLOUDFRONT_STANDARD_FIELDS_26",
    "CMCD_REALTIME_FIELDS",
    "PLAYER_EVENT_COMMON",
    "PLAYER_EVENT_FIELDS",
    "PLAYER_EVENT_TYPES",
]

#: The standard (access) log layout since December 2019: 33 fields.
CLOUDFRONT_STANDARD_FIELDS: tuple[str, ...] = (
    "date", "time", "x-edge-location", "sc-bytes", "c-ip", "cs-method", "cs(Host)",
    "cs-uri-stem", "sc-status", "cs(Referer)", "cs(User-Agent)", "cs-uri-query",
    "cs(Cookie)", "x-edge-result-type", "x-edge-request-id", "x-host-header",
    "cs-protocol", "cs-bytes", "time-taken", "x-forwarded-for", "ssl-protocol",
    "ssl-cipher", "x-edge-response-result-type", "cs-protocol-version",
    "fle-status", "fle-encrypted-fields", "c-port", "time-to-first-byte",
    "x-edge-detailed-result-type", "sc-content-type", "sc-content-len",
    "sc-range-start", "sc-range-end",
)  # fmt: skip

#: The original 24-field web distribution layout.
CLOUDFRONT_STANDARD_FIELDS_24 = CLOUDFRONT_STANDARD_FIELDS[:24]
#: The 26-field layout (field-level encryption added), e.g. 2018 logs.
CLOUDFRONT_STANDARD_FIELDS_26 = CLOUDFRONT_STANDARD_FIELDS[:26]

#: CMCD fields of CloudFront real-time logs and the CMCD key each one carries.
CMCD_REALTIME_FIELDS: dict[str, str] = {
    "cmcd-encoded-bitrate": "br",
    "cmcd-buffer-length": "bl",
    "cmcd-buffer-starvation": "bs",
    "cmcd-content-id": "cid",
    "cmcd-object-duration": "d",
    "cmcd-deadline": "dl",
    "cmcd-measured-throughput": "mtp",
    "cmcd-next-object-request": "nor",
    "cmcd-next-range-request": "nrr",
    "cmcd-object-type": "ot",
    "cmcd-playback-rate": "pr",
    "cmcd-requested-maximum-throughput": "rtp",
    "cmcd-streaming-format": "sf",
    "cmcd-session-id": "sid",
    "cmcd-stream-type": "st",
    "cmcd-startup": "su",
    "cmcd-top-bitrate": "tb",
    "cmcd-version": "v",
}

#: Default real-time log field list: every documented field, CMCD included.
CLOUDFRONT_REALTIME_FIELDS: tuple[str, ...] = (
    "timestamp", "c-ip", "time-to-first-byte", "sc-status", "sc-bytes",
    "cs-method", "cs-protocol", "cs-host", "cs-uri-stem", "cs-bytes",
    "x-edge-location", "x-edge-request-id", "x-host-header", "time-taken",
    "cs-protocol-version", "c-ip-version", "cs-user-agent", "cs-referer",
    "cs-cookie", "cs-uri-query", "x-edge-response-result-type", "x-forwarded-for",
    "ssl-protocol", "ssl-cipher", "x-edge-result-type", "fle-encrypted-fields",
    "fle-status", "sc-content-type", "sc-content-len", "sc-range-start",
    "sc-range-end", "c-port", "x-edge-detailed-result-type", "c-country",
    "cs-accept-encoding", "cs-accept", "cache-behavior-path-pattern", "cs-headers",
    "cs-header-names", "cs-headers-count", "primary-distribution-id",
    "primary-distribution-dns-name", "origin-fbl", "origin-lbl", "asn",
    *CMCD_REALTIME_FIELDS,
)  # fmt: skip

#: Player SDK event types (``MetricType``).
PLAYER_EVENT_TYPES = (
    "PLAY", "FIRSTFRAME", "SEEK", "BUFFER", "STREAM", "STEP", "STOP", "PAUSE", "ERROR",
)  # fmt: skip

#: Fields every player event carries, then the extra fields of each type. An
#: event may also carry ``session_id`` (the player's CMCD ``sid``), ``user_agent``
#: and, on ERROR, ``fatal`` (bool); the original SDK sent neither.
PLAYER_EVENT_COMMON = (
    "MetricType",
    "user_id",
    "video_id",
    "playlist_type",
    "TimeStamp",
)
PLAYER_EVENT_FIELDS: dict[str, tuple[str, ...]] = {
    "PLAY": ("at", "duration"),
    "FIRSTFRAME": (
        "rtt", "connection_type", "package", "resolution", "fps", "avg_bitrate",
        "time_millisecond", "cdn_tracking_id",
    ),
    "SEEK": (
        "seek_from", "seek_to", "rtt", "connection_type", "time_millisecond",
        "cdn_tracking_id",
    ),
    "BUFFER": (
        "buffer_type", "at", "rtt", "connection_type", "time_millisecond",
        "cdn_tracking_id",
    ),
    "STREAM": (
        "at", "rtt", "connection_type", "package", "resolution", "fps",
        "avg_bitrate", "duration", "cdn_tracking_id",
    ),
    "STEP": (
        "at", "bitrate_from", "bitrate_to", "direction", "package", "resolution",
        "fps", "connection_type",
    ),
    "STOP": (
        "at", "duration", "connection_type", "package", "resolution", "fps",
        "avg_bitrate",
    ),
    "PAUSE": ("at", "duration"),
    "ERROR": ("at", "message", "cdn_tracking_id"),
}  # fmt: skip

"""From bronze to silver: the same finishing for every source of a silver table.

A source maps its bronze rows to an *intermediate* frame with the silver
columns it knows plus a few raw ones (``client_ip``, ``user_agent``,
``cmcd_payload`` for CDN requests; ``user_id`` and ``user_agent`` for player
events). The finishers here then anonymise, enrich, apply sanity bounds and
conform to the declared silver schema, so a plugin cannot forget any of it:
the raw columns are dropped before anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pyspark.sql import Column
from pyspark.sql import functions as F

from qos_ml._errors import ConfigError
from qos_ml._tables import QUALITY_FLAGS, SILVER_CDN_REQUESTS, SILVER_PLAYER_EVENTS
from qos_ml.ingest._cmcd import cmcd_columns
from qos_ml.ingest._enrich import with_edge_location, with_user_agent
from qos_ml.ingest._privacy import ip_prefix, ip_version, keyed_hash

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

__all__ = [
    "CDN_BOUNDS",
    "CMCD_INVALID_FLAG",
    "PLAYER_BOUNDS",
    "STATUS_000_FLAG",
    "TIMESTAMP_FLAG",
    "Bound",
    "apply_bounds",
    "finish_cdn_requests",
    "finish_player_events",
    "quality_flag",
]


def quality_flag(name: str) -> str:
    """Return ``name`` when it is one of :data:`qos_ml._tables.QUALITY_FLAGS`.

    Raises
    ------
    ConfigError
        For a flag the silver contract does not declare.
    """
    if name not in QUALITY_FLAGS:
        raise ConfigError(
            "quality flag", name, f"a declared flag: {', '.join(QUALITY_FLAGS)}"
        )
    return name


#: Flag added when CloudFront logged status 000 (the viewer closed the
#: connection before the response); the status itself becomes 0.
STATUS_000_FLAG = quality_flag("status_000")
#: Flag of a CMCD value that is present but not a non-negative number.
CMCD_INVALID_FLAG = quality_flag("cmcd_invalid")
#: Flag of an event or request time before 2000 or more than a day ahead.
TIMESTAMP_FLAG = quality_flag("timestamp_out_of_range")


@dataclass(frozen=True)
class Bound:
    """Plausible range of a silver column; values outside become null + flag.

    Raises
    ------
    ConfigError
        When ``flag`` is not in ``QUALITY_FLAGS`` or ``low`` exceeds ``high``.
    """

    column: str
    low: float | None
    high: float | None
    flag: str

    def __post_init__(self) -> None:
        quality_flag(self.flag)
        if self.low is not None and self.high is not None and self.low > self.high:
            raise ConfigError(
                f"bound of {self.column}",
                (self.low, self.high),
                "a low end not above the high end",
            )


HOUR_MS = 3_600_000.0
WEEK_S = 7 * 86_400.0

PLAYER_BOUNDS = (
    # Startup times, stall lengths and seek times over an hour are broken
    # timers (the original SDK logged epoch times here).
    Bound("time_ms", 0.0, HOUR_MS, "duration_out_of_range"),
    Bound("duration_s", 0.0, WEEK_S, "duration_out_of_range"),
    Bound("playhead_s", 0.0, WEEK_S, "playhead_out_of_range"),
    Bound("seek_from_s", 0.0, WEEK_S, "playhead_out_of_range"),
    Bound("seek_to_s", 0.0, WEEK_S, "playhead_out_of_range"),
    Bound("avg_bitrate_kbps", 0.0, 1_000_000.0, "bitrate_out_of_range"),
    Bound("bitrate_from_kbps", 0.0, 1_000_000.0, "bitrate_out_of_range"),
    Bound("bitrate_to_kbps", 0.0, 1_000_000.0, "bitrate_out_of_range"),
    # A round trip of more than a minute is a broken measurement.
    Bound("rtt_ms", 0.0, 60_000.0, "rtt_out_of_range"),
)
CDN_BOUNDS = (
    Bound("time_taken_s", 0.0, 3600.0, "time_taken_out_of_range"),
    Bound("ttfb_s", 0.0, 3600.0, "time_taken_out_of_range"),
    Bound("cmcd_bl_ms", None, HOUR_MS, CMCD_INVALID_FLAG),
    Bound("cmcd_d_ms", None, HOUR_MS, CMCD_INVALID_FLAG),
    Bound("cmcd_br_kbps", None, 1_000_000.0, CMCD_INVALID_FLAG),
    Bound("cmcd_tb_kbps", None, 1_000_000.0, CMCD_INVALID_FLAG),
)
#: Timestamps before this are broken clocks or epoch confusions.
EARLIEST = "2000-01-01 00:00:00"


def _outside(value: Column, low: float | None, high: float | None) -> Column:
    out = F.lit(False)
    if low is not None:
        out = out | (value < low)
    if high is not None:
        out = out | (value > high)
    return value.isNotNull() & out


def apply_bounds(
    df: DataFrame, bounds: tuple[Bound, ...], time_column: str
) -> DataFrame:
    """Null out implausible values and record why in ``quality_flags``.

    Parameters
    ----------
    df : DataFrame
        With ``quality_flags`` (array of str) and the bounded columns.
    bounds : tuple of Bound
    time_column : str
        Event time column: before 2000 or more than one day ahead of the
        processing time it becomes null with ``timestamp_out_of_range``.
    """
    checks: list[tuple[str, Column, str]] = [
        (b.column, _outside(F.col(b.column), b.low, b.high), b.flag)
        for b in bounds
        if b.column in df.columns
    ]
    ts = F.col(time_column)
    checks.append(
        (
            time_column,
            ts.isNotNull()
            & (
                (ts < F.lit(EARLIEST).cast("timestamp"))
                | (ts > F.current_timestamp() + F.expr("INTERVAL 1 DAY"))
            ),
            TIMESTAMP_FLAG,
        )
    )
    new_flags = F.array_compact(
        F.array(*(F.when(bad, F.lit(flag)) for _, bad, flag in checks))
    )
    flagged = df.withColumn(
        "quality_flags",
        F.array_distinct(
            F.concat(
                F.coalesce("quality_flags", F.array().cast("array<string>")), new_flags
            )
        ),
    )
    return flagged.withColumns(
        {name: F.when(~bad, F.col(name)) for name, bad, _ in checks}
    )


def _with_missing(df: DataFrame, schema_names: list[str]) -> DataFrame:
    missing = [c for c in schema_names if c not in df.columns]
    return df.withColumns({c: F.lit(None) for c in missing})


def finish_cdn_requests(df: DataFrame, *, key: bytes, airports: DataFrame) -> DataFrame:
    """Anonymise, enrich, bound and conform intermediate CDN rows to silver.

    Parameters
    ----------
    df : DataFrame
        Intermediate rows: ``request_id``, ``request_time``, ``client_ip``,
        ``user_agent`` (decoded), ``edge_location``, optionally
        ``cmcd_payload`` (decoded CMCD text) and any other silver column.
    key : bytes
        Pseudonymisation key of the HMAC.
    airports : DataFrame
        From :func:`airports_frame`.

    Returns
    -------
    DataFrame
        Exactly the columns of ``silver.cdn_requests``.
    """
    names = SILVER_CDN_REQUESTS.schema.fieldNames()
    df = _with_missing(df, [*names, "cmcd_payload"])
    flags: list[Column] = []

    # CMCD: typed fields of the source win; the query payload fills the rest.
    parsed = cmcd_columns(F.col("cmcd_payload"))
    for column, (value, invalid) in parsed.items():
        df = df.withColumn(column, F.coalesce(F.col(column), value))
        flags.append(F.when(invalid, F.lit(CMCD_INVALID_FLAG)))
    flags.append(F.when(F.col("status") == 0, F.lit(STATUS_000_FLAG)))

    ip = F.trim(F.col("client_ip"))
    df = df.withColumns(
        {
            "client_ip_prefix": ip_prefix(ip),
            "client_ip_hash": keyed_hash(ip, key),
            "ip_version": ip_version(ip),
            "quality_flags": F.array_compact(F.array(*flags)),
        }
    )
    df = with_edge_location(df, airports)
    df = with_user_agent(df, "user_agent")
    df = apply_bounds(df, CDN_BOUNDS, "request_time")
    df = df.withColumn("request_date", F.to_date("request_time"))
    return df.select(
        *(
            F.col(f.name).cast(f.dataType).alias(f.name)
            for f in SILVER_CDN_REQUESTS.schema
        )
    )


def finish_player_events(df: DataFrame, *, key: bytes) -> DataFrame:
    """Pseudonymise, enrich, bound and conform intermediate player rows to silver.

    Parameters
    ----------
    df : DataFrame
        Intermediate rows: ``event_id``, ``event_time``, ``user_id`` (raw),
        ``user_agent`` and any other silver column.
    key : bytes
        Pseudonymisation key of the HMAC.

    Returns
    -------
    DataFrame
        Exactly the columns of ``silver.player_events``.
    """
    names = SILVER_PLAYER_EVENTS.schema.fieldNames()
    df = _with_missing(df, [*names, "user_id", "user_agent"])
    df = df.withColumns(
        {
            "user_id_hash": keyed_hash(F.col("user_id"), key),
            "quality_flags": F.array().cast("array<string>"),
        }
    )
    df = with_user_agent(df, "user_agent")
    df = apply_bounds(df, PLAYER_BOUNDS, "event_time")
    df = df.withColumn("event_date", F.to_date("event_time"))
    return df.select(
        *(
            F.col(f.name).cast(f.dataType).alias(f.name)
            for f in SILVER_PLAYER_EVENTS.schema
        )
    )

"""Real-time aggregates of player events and QoE by dimension per minute.

The first three are the aggregates the original solution pushed to its web
application, with the same windows: active users, recent views per video and
total views per video. :func:`qoe_by_dimension` turns views into the per-minute
table the rules engine and the anomaly detector read. Every function takes and
returns a DataFrame, batch or streaming; with a streaming input pass a
``watermark`` so that Spark can close windows and drop late rows.

Distinct viewers are counted with ``approx_count_distinct`` at 1 % relative
error: exact distinct counts are not supported on streaming DataFrames, and the
approximation is exact in practice for the small counts of a test.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from qos_ml.qoe._tables import QOE_DIMENSIONS
from qos_ml.qoe._views import validate_duration

__all__ = ["active_users", "qoe_by_dimension", "recent_views", "total_views"]

_RSD = 0.01


def _watermarked(df: DataFrame, column: str, watermark: str | None) -> DataFrame:
    if watermark is None:
        return df
    return df.withWatermark(column, validate_duration("watermark", watermark))


def _window_columns() -> list[Column]:
    return [
        F.col("window.start").alias("window_start"),
        F.col("window.end").alias("window_end"),
    ]


def active_users(
    events: DataFrame,
    *,
    window: str = "2 minutes",
    slide: str = "1 minute",
    watermark: str | None = "30 seconds",
) -> DataFrame:
    """Distinct viewers with STREAM events per sliding window.

    Parameters
    ----------
    events : DataFrame
        ``silver.player_events`` rows, batch or streaming.
    window, slide : str
        Window length and slide (the original: 120 s every 60 s).
    watermark : str or None, default "30 seconds"
        Event-time watermark (the original used 30 s).

    Returns
    -------
    DataFrame
        ``window_start``, ``window_end``, ``active_users``.
    """
    validate_duration("window", window)
    validate_duration("slide", slide)
    streaming = _watermarked(events, "event_time", watermark).where(
        (F.col("event_type") == "STREAM") & F.col("user_id_hash").isNotNull()
    )
    return (
        streaming.groupBy(F.window("event_time", window, slide))
        .agg(F.approx_count_distinct("user_id_hash", _RSD).alias("active_users"))
        .select(*_window_columns(), "active_users")
    )


def recent_views(
    events: DataFrame,
    *,
    window: str = "2 minutes",
    slide: str = "30 seconds",
    watermark: str | None = "30 seconds",
) -> DataFrame:
    """Distinct viewers with PLAY events per video and sliding window.

    Parameters
    ----------
    events : DataFrame
        ``silver.player_events`` rows, batch or streaming.
    window, slide : str
        Window length and slide (the original: 120 s every 30 s).
    watermark : str or None, default "30 seconds"
        Event-time watermark.

    Returns
    -------
    DataFrame
        ``window_start``, ``window_end``, ``video_id``, ``recent_viewers``.
    """
    validate_duration("window", window)
    validate_duration("slide", slide)
    plays = _watermarked(events, "event_time", watermark).where(
        (F.col("event_type") == "PLAY") & F.col("user_id_hash").isNotNull()
    )
    return (
        plays.groupBy(F.window("event_time", window, slide), "video_id")
        .agg(F.approx_count_distinct("user_id_hash", _RSD).alias("recent_viewers"))
        .select(*_window_columns(), "video_id", "recent_viewers")
    )


def total_views(events: DataFrame) -> DataFrame:
    """Running total of PLAY requests and distinct viewers per video.

    As in the original, every PLAY event counts (a resume after a pause sends
    one too); the number of views proper is ``attempts`` in ``gold.views``. On a
    stream this is an unwindowed aggregate: write it in complete mode.

    Returns
    -------
    DataFrame
        ``video_id``, ``total_views``, ``viewers``, ``last_play_time``.
    """
    plays = events.where(F.col("event_type") == "PLAY")
    return plays.groupBy("video_id").agg(
        F.count("*").alias("total_views"),
        F.approx_count_distinct("user_id_hash", _RSD).alias("viewers"),
        F.max("event_time").alias("last_play_time"),
    )


def _rate(flag: str, over: Column) -> Column:
    return F.sum(F.col(flag).cast("long")) / F.when(over > 0, over)


def qoe_by_dimension(
    views: DataFrame,
    *,
    window: str = "1 minute",
    watermark: str | None = None,
    dimensions: tuple[str, ...] = QOE_DIMENSIONS,
) -> DataFrame:
    """QoE per window of view start and per value of each dimension.

    One row per (window, dimension, value); a view counts once under each
    dimension. Values missing in a view are reported as ``"unknown"``.

    * ``views``: views in the window; ``attempts``, ``plays``: their sums;
    * ``video_start_failure_rate``, ``exit_before_video_start_rate``: VSF and
      EBVS views over attempts; ``playback_failure_rate``: over plays;
    * ``video_startup_time_median_s`` / ``_p95_s``: ``percentile_approx`` of the
      video startup time of plays;
    * ``rebuffering_ratio``: total rebuffer time / (total play + rebuffer time),
      and the same for CIRR;
    * ``error_rate``: views with at least one ERROR over views;
    * ``ttfb_p95_s``: p95 of the views' mean time to first byte;
    * ``cache_hit_ratio``: cache hits over CDN requests of the views;
    * ``cmcd_starvation_share``: views whose CMCD requests report ``bs`` on at
      least 1 % of requests, over views with CMCD data (QOE_METRICS.md).

    Parameters
    ----------
    views : DataFrame
        Rows of ``gold.views``, batch or streaming.
    window : str, default "1 minute"
    watermark : str, optional
        Watermark on ``view_start`` for a streaming input.
    dimensions : tuple of str
        View columns to break down by.
    """
    validate_duration("window", window)
    source = _watermarked(views, "view_start", watermark)
    long_form = source.withColumn(
        "_dim",
        F.explode(
            F.array(
                *(
                    F.struct(
                        F.lit(d).alias("name"),
                        F.coalesce(F.col(d).cast("string"), F.lit("unknown")).alias(
                            "value"
                        ),
                    )
                    for d in dimensions
                )
            )
        ),
    )
    attempts = F.sum("attempts")
    plays = F.sum("plays")
    rebuffer = F.sum("rebuffer_duration_s")
    connection = F.sum("connection_rebuffer_duration_s")
    play_time = F.sum("play_time_s")
    startup = F.when(F.col("plays") == 1, F.col("video_startup_time_s"))
    cmcd_views = F.sum(F.when(F.col("cmcd_requests") > 0, 1).otherwise(0))
    starved = F.sum(F.when(F.col("cmcd_bs_share") >= 0.01, 1).otherwise(0))
    return (
        long_form.groupBy(
            F.window("view_start", window),
            F.col("_dim.name").alias("dimension"),
            F.col("_dim.value").alias("dimension_value"),
        )
        .agg(
            F.count("*").alias("views"),
            attempts.cast("long").alias("attempts"),
            plays.cast("long").alias("plays"),
            _rate("video_start_failure", attempts).alias("video_start_failure_rate"),
            _rate("exit_before_video_start", attempts).alias(
                "exit_before_video_start_rate"
            ),
            _rate("playback_failure", plays).alias("playback_failure_rate"),
            F.percentile_approx(startup, 0.5).alias("video_startup_time_median_s"),
            F.percentile_approx(startup, 0.95).alias("video_startup_time_p95_s"),
            (rebuffer / F.when(play_time + rebuffer > 0, play_time + rebuffer)).alias(
                "rebuffering_ratio"
            ),
            (
                connection / F.when(play_time + connection > 0, play_time + connection)
            ).alias("connection_induced_rebuffering_ratio"),
            F.avg(F.when(F.col("error_count") > 0, 1.0).otherwise(0.0)).alias(
                "error_rate"
            ),
            # TODO(#5): p95 over the views' mean TTFB; a request-level p95 needs
            # the requests of the window joined here.
            F.percentile_approx("ttfb_mean_s", 0.95).alias("ttfb_p95_s"),
            (
                F.sum("cdn_cache_hits")
                / F.when(F.sum("cdn_requests") > 0, F.sum("cdn_requests"))
            ).alias("cache_hit_ratio"),
            (starved / F.when(cmcd_views > 0, cmcd_views)).alias(
                "cmcd_starvation_share"
            ),
        )
        .select(*_window_columns(), "*")
        .drop("window")
    )

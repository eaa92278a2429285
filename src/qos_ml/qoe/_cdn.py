"""Per-view CDN figures: the requests of a view, joined from ``silver.cdn_requests``.

A request belongs to a view when its ``request_id`` is one of the view's
``cdn_tracking_id`` values (the CloudFront request id the player read from the
``X-Amz-Cf-Id`` header), or when its CMCD session id equals the view's session
id and it was made during the view (give or take ``slack``).
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from qos_ml._errors import SchemaMismatchError
from qos_ml.qoe._views import validate_duration

__all__ = ["CDN_VIEW_COLUMNS", "attach_cdn_figures", "cdn_view_figures"]

#: Columns :func:`attach_cdn_figures` adds, with their definitions
#: (QOE_METRICS.md, "Per CDN request").
CDN_VIEW_COLUMNS: dict[str, str] = {
    "cdn_requests": "number of CDN requests joined to the view",
    "cdn_cache_hits": "requests with result type Hit or RefreshHit",
    "ttfb_mean_s": "time to first byte: mean of `time-to-first-byte` (seconds)",
    "ttfb_p95_s": "time to first byte: p95 (percentile_approx)",
    "latency_mean_s": "request latency: mean of `time-taken` (seconds)",
    "throughput_kbps": "throughput: bytes sent x 8 / time-taken, over all requests",
    "cache_hit_ratio": "cache hit ratio: Hit + RefreshHit over all requests",
    "status_4xx_share": "error rate: share of 4xx responses",
    "status_5xx_share": "error rate: share of 5xx responses",
    "status_000_share": "share of status 000 (the viewer closed the connection)",
    "cmcd_requests": "requests that carried the CMCD bs key",
    "cmcd_bs_share": "share of CMCD requests reporting buffer starvation (bs)",
}

#: View dimensions read from the CDN side; the events' own values win for the
#: client ones (device, OS, browser).
_CDN_DIMENSIONS = ("viewer_country", "viewer_asn", "edge_location", "cdn")
_CLIENT_DIMENSIONS = ("device_type", "os_family", "browser_family")
_CDN_COLUMNS = (
    "request_id",
    "request_time",
    "cmcd_sid",
    "status",
    "bytes_sent",
    "time_taken_s",
    "ttfb_s",
    "result_type",
    "response_result_type",
    "cmcd_bs",
    *_CDN_DIMENSIONS,
    *_CLIENT_DIMENSIONS,
)


def _share(condition: Column) -> Column:
    return F.avg(F.when(condition, 1.0).otherwise(0.0))


def cdn_view_figures(
    views: DataFrame, cdn_requests: DataFrame, *, slack: str = "1 minute"
) -> DataFrame:
    """Aggregate the CDN requests of each view.

    Parameters
    ----------
    views : DataFrame
        Output of :func:`~qos_ml.qoe.views_from_sessions` (``view_id``,
        ``session_id``, ``view_start``, ``view_end``, ``cdn_tracking_ids``).
    cdn_requests : DataFrame
        Rows of ``silver.cdn_requests``.
    slack : str, default "1 minute"
        How far before the view's start and after its end a request that
        matches only by CMCD session id may lie.

    Returns
    -------
    DataFrame
        ``view_id``, the columns of :data:`CDN_VIEW_COLUMNS` and the CDN-side
        dimensions, one row per view that has at least one request.
    """
    validate_duration("slack", slack)
    missing = [c for c in _CDN_COLUMNS if c not in cdn_requests.columns]
    if missing:
        raise SchemaMismatchError(
            f"cdn_view_figures needs silver.cdn_requests columns {missing}, which "
            f"the DataFrame lacks; it has {cdn_requests.columns}"
        )
    requests = cdn_requests.select(*_CDN_COLUMNS)
    by_tracking_id = views.select(
        "view_id", F.explode("cdn_tracking_ids").alias("request_id")
    ).join(requests, "request_id")
    window = F.expr(f"INTERVAL {slack}")
    by_session = (
        views.where(F.col("session_id").isNotNull())
        .select("view_id", "session_id", "view_start", "view_end")
        .join(
            requests.where(F.col("cmcd_sid").isNotNull()),
            (F.col("cmcd_sid") == F.col("session_id"))
            & (F.col("request_time") >= F.col("view_start") - window)
            & (F.col("request_time") <= F.col("view_end") + window),
        )
        .select("view_id", *_CDN_COLUMNS)
    )
    linked = by_tracking_id.select("view_id", *_CDN_COLUMNS).unionByName(by_session)
    linked = linked.dropDuplicates(["view_id", "request_id"])

    result_type = F.upper(F.coalesce("result_type", "response_result_type"))
    hit = result_type.isin("HIT", "REFRESHHIT")
    status = F.col("status")
    first = {  # the earliest request's value of each dimension
        c: F.min_by(F.col(c), F.when(F.col(c).isNotNull(), F.col("request_time")))
        for c in (*_CDN_DIMENSIONS, *_CLIENT_DIMENSIONS)
    }
    return linked.groupBy("view_id").agg(
        F.count("*").alias("cdn_requests"),
        F.sum(hit.cast("long")).alias("cdn_cache_hits"),
        F.avg("ttfb_s").alias("ttfb_mean_s"),
        F.percentile_approx("ttfb_s", 0.95).alias("ttfb_p95_s"),
        F.avg("time_taken_s").alias("latency_mean_s"),
        (
            F.sum(F.when(F.col("time_taken_s") > 0, F.col("bytes_sent") * 8.0 / 1000.0))
            / F.sum(F.when(F.col("time_taken_s") > 0, F.col("time_taken_s")))
        ).alias("throughput_kbps"),
        _share(hit).alias("cache_hit_ratio"),
        _share(status.between(400, 499)).alias("status_4xx_share"),
        _share(status.between(500, 599)).alias("status_5xx_share"),
        _share(status == 0).alias("status_000_share"),
        F.count("cmcd_bs").alias("cmcd_requests"),
        F.avg(F.col("cmcd_bs").cast("double")).alias("cmcd_bs_share"),
        *(expr.alias(f"_cdn_{c}") for c, expr in first.items()),
    )


def attach_cdn_figures(
    views: DataFrame, cdn_requests: DataFrame, *, slack: str = "1 minute"
) -> DataFrame:
    """Add the per-view CDN figures and the CDN-side dimensions to views.

    Views without any joined request keep null figures and ``cdn_requests`` 0.
    Device, OS and browser come from the player events where they carry them,
    else from the requests; country, ASN, edge location and CDN come from the
    requests.

    Parameters
    ----------
    views : DataFrame
        Output of :func:`~qos_ml.qoe.views_from_sessions` (batch).
    cdn_requests : DataFrame
        Rows of ``silver.cdn_requests`` (batch).
    slack : str, default "1 minute"
        See :func:`cdn_view_figures`.
    """
    figures = cdn_view_figures(views, cdn_requests, slack=slack)
    joined = views.join(figures, "view_id", "left")
    return joined.withColumns(
        {
            **{c: F.col(f"_cdn_{c}") for c in _CDN_DIMENSIONS},
            **{c: F.coalesce(c, f"_cdn_{c}") for c in _CLIENT_DIMENSIONS},
            "cdn_requests": F.coalesce("cdn_requests", F.lit(0)),
            "cdn_cache_hits": F.coalesce("cdn_cache_hits", F.lit(0)),
            "cmcd_requests": F.coalesce("cmcd_requests", F.lit(0)),
        }
    ).drop(*(f"_cdn_{c}" for c in (*_CDN_DIMENSIONS, *_CLIENT_DIMENSIONS)))

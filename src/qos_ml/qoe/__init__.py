"""The gold layer: views, QoE metrics and real-time aggregates.

From ``silver.player_events`` and ``silver.cdn_requests`` to the numbers that
operators watch and models learn from, named and computed as the industry does
(``docs/QOE_METRICS.md``):

* :func:`sessionize`, :func:`views_from_sessions`, :func:`compute_views`: player
  events to one row per view, batch or streaming;
* :func:`attach_cdn_figures`: the CDN requests of each view (TTFB, latency,
  throughput, cache hit ratio, error shares, CMCD starvation);
* :func:`active_users`, :func:`recent_views`, :func:`total_views`: the
  real-time aggregates of the web application;
* :func:`qoe_by_dimension`: QoE per minute and dimension, read by the rules
  engine and the anomaly detector;
* :func:`build_gold` and :func:`start_gold_stream`: the batch and streaming
  jobs writing the declared gold tables.
"""

from __future__ import annotations

from qos_ml.qoe._aggregates import (
    active_users,
    qoe_by_dimension,
    recent_views,
    total_views,
)
from qos_ml.qoe._cdn import CDN_VIEW_COLUMNS, attach_cdn_figures, cdn_view_figures
from qos_ml.qoe._jobs import (
    GoldStream,
    LateDataReport,
    build_gold,
    gold_views,
    start_gold_stream,
)
from qos_ml.qoe._tables import (
    GOLD_ACTIVE_USERS,
    GOLD_LATE_EVENTS,
    GOLD_QOE_BY_DIMENSION_MINUTE,
    GOLD_RECENT_VIEWS,
    GOLD_TOTAL_VIEWS,
    GOLD_VIEWS,
    QOE_DIMENSIONS,
)
from qos_ml.qoe._views import (
    VIEW_METRICS,
    compute_views,
    sessionize,
    views_from_sessions,
)

__all__ = [
    "CDN_VIEW_COLUMNS",
    "GOLD_ACTIVE_USERS",
    "GOLD_LATE_EVENTS",
    "GOLD_QOE_BY_DIMENSION_MINUTE",
    "GOLD_RECENT_VIEWS",
    "GOLD_TOTAL_VIEWS",
    "GOLD_VIEWS",
    "QOE_DIMENSIONS",
    "VIEW_METRICS",
    "GoldStream",
    "LateDataReport",
    "active_users",
    "attach_cdn_figures",
    "build_gold",
    "cdn_view_figures",
    "compute_views",
    "gold_views",
    "qoe_by_dimension",
    "recent_views",
    "sessionize",
    "start_gold_stream",
    "total_views",
    "views_from_sessions",
]

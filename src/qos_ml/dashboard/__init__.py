"""The network operations dashboard: one self-contained HTML page, served live.

:func:`build_dashboard` writes the page from the gold tables, the alerts table
and the model registry: viewers and views over time, QoE by edge location,
ASN, country and device, start-up time and rebuffering distributions, errors,
cache hit ratio, open alerts with their explanations and the models' versions
and quality. :func:`serve_dashboard` serves it on localhost and rebuilds it as
the streams write the tables; an open page reloads itself.

Examples
--------
>>> from qos_ml import TableCatalog
>>> from qos_ml.dashboard import build_dashboard  # doctest: +SKIP
>>> build_dashboard(TableCatalog(), "dashboard.html")  # doctest: +SKIP
"""

from __future__ import annotations

from qos_ml.dashboard._build import build_dashboard
from qos_ml.dashboard._data import DashboardData, collect_dashboard_data
from qos_ml.dashboard._models import model_summaries
from qos_ml.dashboard._render import render_dashboard
from qos_ml.dashboard._serve import DashboardServer, serve_dashboard

__all__ = [
    "DashboardData",
    "DashboardServer",
    "build_dashboard",
    "collect_dashboard_data",
    "model_summaries",
    "render_dashboard",
    "serve_dashboard",
]

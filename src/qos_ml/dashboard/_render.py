"""Render :class:`DashboardData` as one self-contained HTML page (plotly inlined).

The page needs no network: plotly.js is inlined once in the head, the charts'
data are embedded, the styles are inline. Served live, the page also carries a
small script that long-polls the server's ``/version`` and reloads on change.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs
from plotly.subplots import make_subplots

import qos_ml
from qos_ml.dashboard._data import DIMENSIONS, DashboardData, format_number

__all__ = ["render_dashboard"]

_SEVERITY_COLOURS = {"critical": "#c62828", "warning": "#ef6c00", "info": "#1565c0"}

_STYLE = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;
background:#f4f6f8;color:#1d2733}
header{background:#16202c;color:#fff;padding:14px 24px}
header h1{margin:0;font-size:20px}
header .meta{font-size:12px;color:#b8c4d0;margin-top:4px}
main{padding:16px 24px}
section{background:#fff;border-radius:6px;padding:12px 16px;margin-bottom:16px;
box-shadow:0 1px 2px rgba(0,0,0,.08)}
h2{font-size:16px;margin:0 0 8px 0}
.kpis{display:flex;flex-wrap:wrap;gap:12px}
.kpi{background:#fff;border-radius:6px;padding:10px 14px;min-width:130px;
box-shadow:0 1px 2px rgba(0,0,0,.08)}
.kpi .v{font-size:22px;font-weight:600}.kpi .l{font-size:12px;color:#5b6b7b}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(520px,1fr));gap:16px}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{border-bottom:1px solid #e3e8ee;padding:4px 8px;text-align:left;
vertical-align:top}
th{background:#f0f3f6}
.empty{color:#6b7b8b;font-style:italic;padding:16px}
.sev{color:#fff;border-radius:3px;padding:1px 6px;font-size:12px}
.num{text-align:right;font-variant-numeric:tabular-nums}
"""

_LIVE_SCRIPT = """
(function () {
  var current = %(version)s, interval = %(interval_ms)d;
  function poll() {
    fetch("version?since=" + encodeURIComponent(current), {cache: "no-store"})
      .then(function (r) { return r.json(); })
      .then(function (body) {
        if (body.version !== current) { window.location.reload(); return; }
        setTimeout(poll, interval);
      })
      .catch(function () { setTimeout(poll, interval); });
  }
  setTimeout(poll, interval);
})();
"""


def _esc(value: Any) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "-"
    if isinstance(value, pd.Timestamp):
        return html.escape(value.strftime("%Y-%m-%d %H:%M:%S"))
    return html.escape(str(value))


def _empty(message: str) -> str:
    return f'<div class="empty">{html.escape(message)}</div>'


def _figure_html(fig: go.Figure, div_id: str, height: int = 360) -> str:
    fig.update_layout(
        height=height,
        margin={"l": 50, "r": 20, "t": 40, "b": 40},
        template="plotly_white",
        legend={"orientation": "h", "y": -0.2},
    )
    return str(
        fig.to_html(
            full_html=False,
            include_plotlyjs=False,
            div_id=div_id,
            config={"displaylogo": False, "responsive": True},
        )
    )


def _section(title: str, body: str, section_id: str) -> str:
    return f'<section id="{section_id}"><h2>{html.escape(title)}</h2>{body}</section>'


def _table(
    frame: pd.DataFrame,
    columns: Sequence[tuple[str, str]],
    numeric: Iterable[str] = (),
    table_id: str = "",
) -> str:
    numeric = set(numeric)
    head = "".join(f"<th>{html.escape(label)}</th>" for _, label in columns)
    rows = []
    for _, row in frame.iterrows():
        cells = []
        for column, _ in columns:
            value = row[column]
            css = ' class="num"' if column in numeric else ""
            cells.append(f"<td{css}>{value if column == '_html' else _esc(value)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    ident = f' id="{table_id}"' if table_id else ""
    body = "".join(rows)
    return f"<table{ident}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


# -- the sections -------------------------------------------------------------


def _kpis(data: DashboardData) -> str:
    t = data.totals
    open_alerts = data.alert_counts.get("open", 0)
    cards = [
        ("views", format_number(t.get("views"))),
        ("viewers (approx.)", format_number(t.get("viewers"))),
        ("start-up time p95", format_number(t.get("startup_p95_s"), "seconds")),
        ("rebuffering ratio", format_number(t.get("rebuffering_ratio"), "percent")),
        (
            "video start failures",
            format_number(t.get("video_start_failure_rate"), "percent"),
        ),
        ("playback failures", format_number(t.get("playback_failure_rate"), "percent")),
        ("cache hit ratio", format_number(t.get("cache_hit_ratio"), "percent")),
        ("open alerts", format_number(open_alerts)),
    ]
    return (
        '<div class="kpis">'
        + "".join(
            f'<div class="kpi"><div class="v">{html.escape(v)}</div>'
            f'<div class="l">{html.escape(label)}</div></div>'
            for label, v in cards
        )
        + "</div>"
    )


def _traffic(data: DashboardData) -> str:
    if data.traffic.empty and data.active_users.empty:
        return _empty("No views yet (gold.views is empty or does not exist).")
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    if not data.traffic.empty:
        tr = data.traffic
        fig.add_trace(
            go.Bar(x=tr["bucket_start"], y=tr["views"], name="views", opacity=0.6),
            secondary_y=False,
        )
        fig.add_trace(
            go.Scatter(x=tr["bucket_start"], y=tr["viewers"], name="unique viewers"),
            secondary_y=False,
        )
    if not data.active_users.empty:
        au = data.active_users
        fig.add_trace(
            go.Scatter(
                x=au["window_start"],
                y=au["active_users"],
                name="active users (2-min window)",
                line={"dash": "dot"},
            ),
            secondary_y=True,
        )
    fig.update_layout(title=f"Views and viewers per {data.bucket}")
    fig.update_yaxes(title_text="views / viewers", secondary_y=False)
    fig.update_yaxes(title_text="active users", secondary_y=True)
    return _figure_html(fig, "chart-traffic")


def _qoe(data: DashboardData) -> str:
    frame = data.qoe_by_dimension
    if frame.empty:
        return _empty("No QoE breakdown yet (gold.views is empty or does not exist).")
    measures = (
        ("startup_p95_s", "start-up time p95 (s)"),
        ("rebuffering_ratio", "rebuffering ratio"),
        ("video_start_failure_rate", "video start failure rate"),
        ("playback_failure_rate", "playback failure rate"),
    )
    charts = []
    for dimension, label in DIMENSIONS.items():
        part = frame[frame["dimension"] == dimension]
        if part.empty:
            continue
        fig = make_subplots(
            rows=1,
            cols=len(measures),
            subplot_titles=[m[1] for m in measures],
            shared_yaxes=True,
        )
        # Busiest values on top; labels as text so ASNs are not read as numbers.
        part = part.sort_values("views")
        labels = [
            f"{v} ({n:,})" for v, n in zip(part["value"], part["views"], strict=True)
        ]
        for col, (measure, _) in enumerate(measures, start=1):
            fig.add_trace(
                go.Bar(
                    x=part[measure],
                    y=labels,
                    orientation="h",
                    name=measure,
                    showlegend=False,
                ),
                row=1,
                col=col,
            )
        fig.update_yaxes(type="category")
        fig.update_layout(title=f"QoE by {label.lower()} (views in brackets)")
        height = max(260, 60 + 22 * len(part))
        charts.append(_figure_html(fig, f"chart-qoe-{dimension}", height=height))
    return "".join(charts)


def _distributions(data: DashboardData) -> str:
    parts = []
    if data.startup_hist.empty:
        parts.append(_empty("No start-up times yet."))
    else:
        h = data.startup_hist
        fig = go.Figure(
            go.Bar(
                x=(h["bin_start"] + h["bin_end"]) / 2,
                y=h["views"],
                width=h["bin_end"] - h["bin_start"],
                name="views",
            )
        )
        note = (
            f" ({data.startup_outliers:,} views over 30 s not shown)"
            if data.startup_outliers
            else ""
        )
        fig.update_layout(
            title=f"Video start-up time{note}",
            xaxis_title="seconds",
            yaxis_title="views",
        )
        parts.append(_figure_html(fig, "chart-startup-distribution"))
    if data.rebuffer_hist.empty:
        parts.append(_empty("No rebuffering ratios yet."))
    else:
        h = data.rebuffer_hist
        fig = go.Figure(
            go.Bar(
                x=(h["bin_start"] + h["bin_end"]) / 2,
                y=h["views"],
                width=h["bin_end"] - h["bin_start"],
                name="views",
            )
        )
        fig.update_layout(
            title="Rebuffering ratio per view",
            xaxis_title="rebuffering ratio",
            yaxis_title="views",
            yaxis_type="log",
        )
        parts.append(_figure_html(fig, "chart-rebuffer-distribution"))
    return '<div class="grid">' + "".join(f"<div>{p}</div>" for p in parts) + "</div>"


def _errors(data: DashboardData) -> str:
    if data.errors.empty:
        return _empty("No failed views.")
    e = data.errors.sort_values("views")
    fig = go.Figure(go.Bar(x=e["views"], y=e["error"], orientation="h"))
    fig.update_layout(title="Most frequent failure messages", xaxis_title="views")
    fig.update_yaxes(type="category")
    chart = _figure_html(fig, "chart-errors", height=max(260, 60 + 24 * len(e)))
    table = _table(
        data.errors,
        [("error", "message"), ("views", "views"), ("last_seen", "last seen")],
        numeric=["views"],
        table_id="errors-table",
    )
    return f'<div class="grid"><div>{chart}</div><div>{table}</div></div>'


def _cache(data: DashboardData) -> str:
    if data.cache.empty:
        return _empty("No CDN requests matched to views yet.")
    fig = go.Figure()
    for cdn, part in data.cache.groupby("cdn", sort=True):
        fig.add_trace(
            go.Scatter(
                x=part["bucket_start"],
                y=part["cache_hit_ratio"],
                name=str(cdn),
                mode="lines+markers",
            )
        )
    fig.update_layout(
        title=f"Cache hit ratio per {data.bucket} and CDN",
        yaxis={"range": [0, 1.02], "tickformat": ".0%"},
    )
    return _figure_html(fig, "chart-cache")


def _alerts(data: DashboardData) -> str:
    counts = ", ".join(f"{n:,} {s}" for s, n in sorted(data.alert_counts.items()))
    if "alerts.alerts" in data.missing_tables:
        return _empty("No alerts table yet: the rules stream has not run.")
    if data.alerts.empty:
        return _empty(f"No open alerts ({counts or 'no alerts at all'}).")
    frame = data.alerts.copy()
    frame["_html"] = [
        f'<span class="sev" style="background:{_SEVERITY_COLOURS.get(s, "#555")}">'
        f"{_esc(s)}</span>"
        for s in frame["severity"]
    ]
    frame["window"] = [
        f"{_esc(a)} to {_esc(b)}"
        for a, b in zip(frame["window_start"], frame["window_end"], strict=True)
    ]
    frame["vs"] = [
        f"{format_number(o)} vs {format_number(t)}"
        for o, t in zip(frame["observed"], frame["threshold"], strict=True)
    ]
    table = _table(
        frame,
        [
            ("_html", "severity"),
            ("rule", "rule"),
            ("scope", "scope"),
            ("window", "latest window"),
            ("vs", "observed vs threshold"),
            ("explanation", "explanation"),
            ("first_seen", "since"),
            ("windows_fired", "windows"),
        ],
        numeric=["windows_fired"],
        table_id="alerts-table",
    )
    return f"<p>{html.escape(counts)}</p>{table}"


def _models(data: DashboardData) -> str:
    if not data.models:
        return _empty("Models not read.")
    rows = []
    bars: dict[str, list[Any]] = {"label": [], "PR-AUC": [], "ROC-AUC": []}
    for entry in data.models:
        if not entry["registered"] or not entry["versions"]:
            rows.append(
                f"<tr><td>{_esc(entry['task'])}</td><td>{_esc(entry['name'])}</td>"
                '<td colspan="3" class="empty">no model registered yet</td></tr>'
            )
            continue
        for version in entry["versions"]:
            metrics = version["metrics"]
            shown = ", ".join(
                f"{k} {v:.3f}" for k, v in metrics.items() if v is not None
            )
            rows.append(
                f"<tr><td>{_esc(entry['task'])}</td><td>{_esc(entry['name'])}</td>"
                f"<td>{_esc(version['alias'])}</td><td>v{_esc(version['version'])}</td>"
                f"<td>{_esc(shown or 'no metrics logged')}</td></tr>"
            )
            if metrics.get("PR-AUC") is not None or metrics.get("ROC-AUC") is not None:
                bars["label"].append(
                    f"{entry['task']} {version['alias']} v{version['version']}"
                )
                bars["PR-AUC"].append(metrics.get("PR-AUC"))
                bars["ROC-AUC"].append(metrics.get("ROC-AUC"))
    table = (
        '<table id="models-table"><thead><tr><th>task</th><th>registered model</th>'
        "<th>alias</th><th>version</th><th>quality (test)</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )
    if not bars["label"]:
        return table
    fig = go.Figure(
        [go.Bar(x=bars["label"], y=bars[m], name=m) for m in ("PR-AUC", "ROC-AUC")]
    )
    fig.update_layout(title="Model quality", yaxis={"range": [0, 1]}, barmode="group")
    chart = _figure_html(fig, "chart-models", height=320)
    return f'<div class="grid"><div>{table}</div><div>{chart}</div></div>'


def render_dashboard(
    data: DashboardData,
    *,
    live_version: str | None = None,
    poll_interval_s: float = 5.0,
) -> str:
    """Return the dashboard page for ``data`` as one HTML string.

    Parameters
    ----------
    data : DashboardData
    live_version : str, optional
        When given, the page polls ``version?since=<live_version>`` on the
        server that serves it and reloads when the answer differs.
    poll_interval_s : float, default 5.0
        Seconds between two polls of a live page.

    Returns
    -------
    str
    """
    missing = (
        f" · tables not created yet: {', '.join(data.missing_tables)}"
        if data.missing_tables
        else ""
    )
    body = "".join(
        [
            _kpis(data),
            _section("Active alerts", _alerts(data), "alerts"),
            _section("Viewers and views", _traffic(data), "traffic"),
            _section(
                "QoE by edge location, ASN, country and device", _qoe(data), "qoe"
            ),
            _section(
                "Start-up time and rebuffering", _distributions(data), "distributions"
            ),
            _section("Errors", _errors(data), "errors"),
            _section("CDN cache hit ratio", _cache(data), "cache"),
            _section("Models", _models(data), "models"),
        ]
    )
    live = ""
    if live_version is not None:
        live = (
            "<script>"
            + _LIVE_SCRIPT
            % {
                "version": json.dumps(live_version),
                "interval_ms": int(poll_interval_s * 1000),
            }
            + "</script>"
        )
    generated = data.generated_at.strftime("%Y-%m-%d %H:%M:%S UTC")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>qos_ml · network operations</title>"
        f"<style>{_STYLE}</style>"
        f'<script type="text/javascript">{get_plotlyjs()}</script>'
        "</head><body>"
        "<header><h1>qos_ml · network operations</h1>"
        f'<div class="meta">generated {html.escape(generated)} · qos_ml '
        f"{html.escape(qos_ml.__version__)} · time buckets of "
        f"{html.escape(data.bucket)}{html.escape(missing)} · version "
        f'<span id="data-version">{html.escape(data.digest())}</span></div></header>'
        f"<main>{body}</main>{live}</body></html>\n"
    )

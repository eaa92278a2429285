"""The dashboard file: charts with the tables' data, empty states, privacy, CLI."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner
from tests.dashboard.dash_tables import (
    DECODE_ERROR,
    OPEN_EXPLANATION,
    RESOLVED_EXPLANATION,
    SECRET_SESSION,
    SECRET_USER,
)

from qos_ml.dashboard import build_dashboard, collect_dashboard_data
from qos_ml.dashboard._data import _bucket_for, _mask_scope, format_number

CHART_IDS = (
    "chart-traffic",
    "chart-qoe-edge_location",
    "chart-qoe-viewer_asn",
    "chart-qoe-viewer_country",
    "chart-qoe-device_type",
    "chart-startup-distribution",
    "chart-rebuffer-distribution",
    "chart-errors",
    "chart-cache",
    "chart-models",
)


@pytest.fixture(scope="module")
def page(dash_catalog, tmp_path_factory) -> str:
    out = build_dashboard(dash_catalog, tmp_path_factory.mktemp("out") / "d.html")
    return out.read_text(encoding="utf-8")


def test_page_has_every_chart_with_the_tables_data(page: str) -> None:
    for chart in CHART_IDS:
        assert f'id="{chart}"' in page, chart
    # The dimensions' values and the QoE by edge: Frankfurt starts in 4 s.
    for value in ("FRA56-C1", "IAD89-P2", "3320", "7922", "smart_tv", "DE", "US"):
        assert value in page, value
    assert DECODE_ERROR in page
    # 40 views, four failed to start: the headline figures.
    assert ">40<" in page
    assert ">10.00 %<" in page
    # The epoch "duration" is an outlier, not a bar at 1.7e9 s.
    assert "1 views over 30 s not shown" in page


def test_page_is_self_contained(page: str) -> None:
    assert len(page) > 3_000_000  # plotly.js is inlined
    assert not re.search(r"<script[^>]+src=", page)
    assert not re.search(r"<link[^>]+href=", page)


def test_page_shows_open_alerts_with_their_explanation(page: str) -> None:
    assert OPEN_EXPLANATION in page
    assert RESOLVED_EXPLANATION not in page  # resolved: only counted
    alerts = page[page.index('id="alerts-table"') :]
    alerts = alerts[: alerts.index("</table>")]
    assert "critical" in alerts
    assert "dimension=edge_location, dimension_value=FRA56-C1" in alerts
    assert "4.200 vs 3" in alerts
    assert re.search(r"\d+ open, 1 resolved", page)


def test_page_shows_models_and_their_quality(page: str) -> None:
    models = page[page.index('id="models-table"') :]
    models = models[: models.index("</table>")]
    assert "qos_ml_buffering" in models
    assert "champion" in models
    assert "challenger" in models
    assert "PR-AUC 0.712" in models
    assert "ROC-AUC 0.888" in models
    assert models.count("no model registered yet") == 2  # failure, anomaly


def test_page_leaks_no_user_or_session_ids(page: str) -> None:
    assert SECRET_USER not in page
    assert SECRET_SESSION not in page
    assert "user_id_hash" not in page


def test_collected_qoe_by_edge(dash_catalog, page: str) -> None:
    data = collect_dashboard_data(dash_catalog)
    edges = data.qoe_by_dimension.set_index(["dimension", "value"])
    fra = edges.loc[("edge_location", "FRA56-C1")]
    iad = edges.loc[("edge_location", "IAD89-P2")]
    assert fra["views"] == 20
    assert iad["views"] == 20
    assert fra["rebuffering_ratio"] == pytest.approx(0.05)
    assert iad["rebuffering_ratio"] == 0.0
    assert iad["startup_p95_s"] == pytest.approx(1.0)
    assert data.startup_outliers == 1
    assert data.bucket == "1 minute"
    assert data.traffic["views"].sum() == 40
    cache = data.cache["cache_hit_ratio"]
    assert cache.min() == pytest.approx(0.6)
    assert cache.max() == pytest.approx(0.96)
    # The same tables give the same digest: a live page does not reload.
    assert f'id="data-version">{data.digest()}<' in page


def test_empty_lakehouse_shows_empty_states(empty_catalog, tmp_path) -> None:
    page = build_dashboard(empty_catalog, tmp_path / "empty.html").read_text()
    assert "No views yet" in page
    assert "No alerts table yet" in page
    assert page.count("no model registered yet") == 3
    assert "gold.views" in page  # named among the missing tables


def test_cli_writes_the_dashboard(empty_catalog, tmp_path) -> None:
    from qos_ml.cli import main

    out = tmp_path / "cli" / "dash.html"
    root = str(empty_catalog.config.lakehouse_root)
    result = CliRunner().invoke(
        main, ["--lakehouse", root, "dashboard", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "Dashboard written to" in result.output
    assert "No views yet" in out.read_text()


def test_cli_help_names_the_options() -> None:
    from qos_ml.cli import main

    result = CliRunner().invoke(main, ["dashboard", "--help"])
    assert result.exit_code == 0
    for option in ("--out", "--serve", "--port", "--host"):
        assert option in result.output


@pytest.mark.parametrize(
    ("span_s", "bucket"),
    [(0, "1 minute"), (3600, "1 minute"), (86400, "5 minutes"), (40 * 86400, "1 day")],
)
def test_bucket_width_keeps_series_short(span_s: float, bucket: str) -> None:
    assert _bucket_for(span_s)[0] == bucket


def test_scope_masks_personal_keys() -> None:
    shown = _mask_scope({"user_id_hash": "abc", "edge_location": "FRA56-C1"})
    assert shown == "edge_location=FRA56-C1, user_id_hash=(hidden)"
    assert _mask_scope({}) == "global"
    assert _mask_scope(None) == "global"


def test_format_number() -> None:
    assert format_number(None) == "-"
    assert format_number(float("nan"), "percent") == "-"
    assert format_number(0.1234, "percent") == "12.34 %"
    assert format_number(2.5, "seconds") == "2.50 s"
    assert format_number(12345.0) == "12,345"

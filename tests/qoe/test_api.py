"""The public surface of qos_ml.qoe, the declared gold tables and the CLI."""

from __future__ import annotations

from click.testing import CliRunner

import qos_ml.qoe
from qos_ml import declared_tables
from qos_ml.qoe import CDN_VIEW_COLUMNS, GOLD_VIEWS, QOE_DIMENSIONS, VIEW_METRICS


def test_all_is_what_is_exported():
    # Its order (constants, classes, functions) is ruff's RUF022.
    public = {n for n in vars(qos_ml.qoe) if not n.startswith("_")} - {"annotations"}
    assert len(set(qos_ml.qoe.__all__)) == len(qos_ml.qoe.__all__)
    assert set(qos_ml.qoe.__all__) == public


def test_gold_tables_are_declared_with_the_metric_columns():
    tables = declared_tables()
    for key in (
        "gold.views",
        "gold.active_users",
        "gold.recent_views",
        "gold.total_views",
        "gold.qoe_by_dimension_minute",
        "gold.late_events",
    ):
        assert key in tables
    columns = set(GOLD_VIEWS.schema.fieldNames())
    assert set(VIEW_METRICS) <= columns
    assert set(CDN_VIEW_COLUMNS) <= columns
    assert set(QOE_DIMENSIONS) <= columns


def test_cli_gold_builds_from_empty_silver(spark, tmp_path):
    from qos_ml.cli import main

    result = CliRunner().invoke(main, ["--lakehouse", str(tmp_path), "gold"])
    assert result.exit_code == 0, result.output
    assert "gold.views" in result.output
    assert "gold.qoe_by_dimension_minute" in result.output


def test_cli_gold_rejects_a_bad_gap(spark, tmp_path):
    from qos_ml.cli import main

    result = CliRunner().invoke(
        main, ["--lakehouse", str(tmp_path), "gold", "--session-gap", "soon"]
    )
    assert result.exit_code == 2
    assert "session_gap" in result.output
    assert "'soon'" in result.output

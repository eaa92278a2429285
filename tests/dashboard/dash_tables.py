"""Small gold, alert and registry contents for the dashboard tests.

The populated lakehouse is built once per run (writing Delta tables is slow
here); the live test appends open alerts to it, so the build tests do not
count open alerts.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import TEST_SECRET

T0 = datetime(2024, 3, 1, 12, 0, 0)
#: Identifiers that must never reach the page.
SECRET_USER = "uhash-PRIVATE-0042"
SECRET_SESSION = "sess-PRIVATE-7777"
EPOCH_STARTUP_S = 1_709_294_400.0  # the original pipeline's epoch "duration"
DECODE_ERROR = "MEDIA_ERR_DECODE: codec failure on rendition 1080p"
OPEN_EXPLANATION = "p95 start-up time 4.20 s above 3 s at edge FRA56-C1 for 5 min"
RESOLVED_EXPLANATION = "rebuffering ratio back to normal at ASN 7922"


def _row(spec: Any, **values: Any) -> dict[str, Any]:
    row = dict.fromkeys(spec.schema.fieldNames())
    row.update(values)
    return row


def _frame(catalog: Any, key: str, rows: list[dict[str, Any]]) -> Any:
    spec = catalog.spec(key)
    return catalog.spark.createDataFrame(
        [_row(spec, **r) for r in rows], schema=spec.schema
    )


def view_rows() -> list[dict[str, Any]]:
    """Forty views over 40 minutes at two edges, two ASNs, countries, devices."""
    rows = []
    for i in range(40):
        frankfurt = i % 2 == 0
        start = T0 + timedelta(minutes=i)
        failed = i % 10 == 3
        rows.append(
            {
                "view_id": f"v{i}",
                "view_start": start,
                "view_end": start + timedelta(minutes=2),
                "view_date": start.date(),
                "user_id_hash": SECRET_USER if i == 0 else f"uhash-{i % 7}",
                "session_id": SECRET_SESSION if i == 0 else f"s{i}",
                "video_id": f"vid{i % 3}",
                "attempts": 1,
                "plays": 0 if failed else 1,
                "video_startup_time_s": (
                    EPOCH_STARTUP_S if i == 5 else (4.0 if frankfurt else 1.0)
                ),
                "video_start_failure": failed,
                "exit_before_video_start": False,
                "playback_failure": i % 10 == 7,
                "failure_error": DECODE_ERROR if failed else None,
                "rebuffer_duration_s": 6.0 if frankfurt else 0.0,
                "play_time_s": 114.0,
                "watch_time_s": 120.0,
                "rebuffering_ratio": 0.05 if frankfurt else 0.0,
                "device_type": "smart_tv" if i % 4 == 0 else "mobile",
                "viewer_country": "DE" if frankfurt else "US",
                "viewer_asn": 3320 if frankfurt else 7922,
                "edge_location": "FRA56-C1" if frankfurt else "IAD89-P2",
                "cdn": "cloudfront",
                "cdn_requests": 50,
                "cdn_cache_hits": 30 if frankfurt else 48,
            }
        )
    return rows


def alert_row(alert_id: str, explanation: str, status: str = "open", **extra: Any):
    row = {
        "alert_id": alert_id,
        "rule": "startup_time_p95",
        "source": "rule",
        "severity": "critical",
        "target": "aggregate",
        "scope": {"dimension": "edge_location", "dimension_value": "FRA56-C1"},
        "scope_key": "dimension=edge_location,dimension_value=FRA56-C1",
        "window_start": T0 + timedelta(minutes=20),
        "window_end": T0 + timedelta(minutes=25),
        "observed": 4.2,
        "threshold": 3.0,
        "support": 12,
        "explanation": explanation,
        "first_seen": T0 + timedelta(minutes=15),
        "last_seen": T0 + timedelta(minutes=25),
        "status": status,
        "windows_fired": 3,
        "created_at": T0 + timedelta(minutes=26),
        "updated_at": T0 + timedelta(minutes=26),
    }
    row.update(extra)
    return row


def write_alerts(catalog: Any, rows: list[dict[str, Any]]) -> None:
    catalog.write(_frame(catalog, "alerts.alerts", rows), "alerts.alerts")


def register_buffering_model(config: Any) -> None:
    """A real registry entry: a run with test metrics, a version, two aliases."""
    import mlflow

    from qos_ml import configure_mlflow

    configure_mlflow(config)
    client = mlflow.MlflowClient()
    name = config.model_name("buffering")
    with mlflow.start_run(run_name="dashboard-test") as run:
        mlflow.log_metrics({"test_pr_auc": 0.7123, "test_roc_auc": 0.8877})
    client.create_registered_model(name)
    version = client.create_model_version(
        name, source=f"{run.info.artifact_uri}/model", run_id=run.info.run_id
    )
    client.set_registered_model_alias(name, "champion", version.version)
    client.set_registered_model_alias(name, "challenger", version.version)


@pytest.fixture(scope="session")
def dash_catalog(tmp_path_factory: pytest.TempPathFactory, spark: Any) -> Iterator[Any]:
    """A populated lakehouse: views, active users, an open and a resolved alert."""
    from qos_ml import QosConfig, TableCatalog

    previous = {
        k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")
    }
    config = QosConfig.load(
        use_file=False,
        use_env=False,
        lakehouse_root=tmp_path_factory.mktemp("dash_lakehouse"),
        secret=TEST_SECRET,
        shuffle_partitions=2,
    )
    catalog = TableCatalog(config, spark)
    catalog.write(_frame(catalog, "gold.views", view_rows()), "gold.views")
    active = [
        {"window_start": T0 + timedelta(minutes=m), "active_users": 5 + m % 3}
        for m in range(0, 40, 5)
    ]
    catalog.write(_frame(catalog, "gold.active_users", active), "gold.active_users")
    write_alerts(
        catalog,
        [
            alert_row("a-open", OPEN_EXPLANATION),
            alert_row(
                "a-resolved",
                RESOLVED_EXPLANATION,
                status="resolved",
                severity="warning",
            ),
        ],
    )
    register_buffering_model(config)
    yield catalog
    for key, value in previous.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture
def empty_catalog(tmp_path: Path, spark: Any) -> Any:
    """A lakehouse where nothing has run yet."""
    from qos_ml import QosConfig, TableCatalog

    config = QosConfig.load(
        use_file=False,
        use_env=False,
        lakehouse_root=tmp_path / "empty_lakehouse",
        secret=TEST_SECRET,
        shuffle_partitions=2,
    )
    return TableCatalog(config, spark)

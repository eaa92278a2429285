"""``qos-ml serve --once`` end to end: a simulated replay to a webhook."""

from __future__ import annotations

import json
import os

import pytest
from click.testing import CliRunner
from tests.serving.serving_rows import feature_set_frame

from qos_ml import QosConfig, TableCatalog, configure_mlflow
from qos_ml.cli import main
from qos_ml.features import BUFFERING
from qos_ml.simulate import SimulationConfig, default_incidents, simulate
from qos_ml.training import FeatureSpec, train_classifier

RULES_YAML = """
rules:
  - name: slow_startup_events
    description: Startup (FIRSTFRAME time) p95 above 1 ms, to be sure it fires.
    target: event
    metric: time_ms
    aggregation: p95
    comparison: ">"
    threshold: 1
    group_by: []
    min_support: 1
    window: 5 minutes
"""


@pytest.mark.slow
def test_serve_once_replays_scores_and_delivers_alerts(spark, tmp_path, http_server):
    url, recorder = http_server
    root = tmp_path / "lakehouse"
    toml = tmp_path / "qos_ml.toml"
    toml.write_text(
        f'lakehouse_root = "{root}"\nsecret = "test-secret-0123456789abcdef"\n'
        'model_prefix = "serve_cli"\nshuffle_partitions = 2\n'
    )
    config = QosConfig.load(toml, use_env=False)
    saved = {
        k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")
    }
    configure_mlflow(config)
    try:
        # A buffering champion over the buffering feature set; no failure model:
        # it must be reported unavailable while the rules go on.
        spec = FeatureSpec(
            "label",
            numeric=[f.name for f in BUFFERING if not f.categorical],
            categorical=[f.name for f in BUFFERING if f.categorical],
            group="group",
        )
        train_classifier(
            feature_set_frame(BUFFERING, n=300, seed=1),
            spec,
            task="buffering",
            config=config,
            max_evals=0,
            n_splits=2,
        )
        sim = SimulationConfig.create(
            sessions=30, seed=2, mean_watch_s=90.0, concurrency=30.0,
            rows_per_file=2_000,
        )  # fmt: skip
        sim = SimulationConfig.create(
            **{**sim.model_dump(), "incidents": tuple(default_incidents(sim))}
        )
        simulate(sim, tmp_path / "sim")
        rules_file = tmp_path / "rules.yaml"
        rules_file.write_text(RULES_YAML)

        result = CliRunner().invoke(
            main,
            [
                "--config", str(toml), "serve",
                "--replay", str(tmp_path / "sim"), "--speedup", "100000",
                "--landing", str(tmp_path / "landing"),
                "--once", "--no-gold", "--webhook", url, "--rules", str(rules_file),
            ],
            catch_exceptions=False,
        )  # fmt: skip
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

    assert result.exit_code == 0, result.output
    assert "model serve_cli_failure" in result.output
    catalog = TableCatalog(config, spark)
    scores = catalog.read("ml.scores").toPandas()
    buffering = scores[scores["model_name"] == "serve_cli_buffering"]
    assert len(buffering) > 0
    assert set(buffering["model_version"]) == {"1"}
    assert buffering["score"].notna().all()
    failure = scores[scores["model_name"] == "serve_cli_failure"]
    assert len(failure) > 0
    assert failure["model_status"].str.startswith("unavailable: alias").all()

    alerts = catalog.read("alerts.alerts").toPandas()
    rules = set(alerts["rule"])
    assert {"model_unavailable", "slow_startup_events"} <= rules, rules
    self_alert = alerts[alerts["rule"] == "model_unavailable"].iloc[0]
    assert self_alert["scope_key"] == "model_name=serve_cli_failure"
    assert self_alert["severity"] == "warning"
    delivered = {
        a["rule"] for r in recorder.requests for a in json.loads(r["body"])["records"]
    }
    assert delivered == rules

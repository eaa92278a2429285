"""End to end: train, log, register, load by alias in a fresh process, promote."""

from __future__ import annotations

import os
import subprocess
import sys

import mlflow
import numpy as np
import pandas as pd
import pytest
from hyperopt import hp
from mlflow import MlflowClient
from tests.training.synthetic import make_sessions

import qos_ml
from qos_ml import ConfigError
from qos_ml.training import (
    CHALLENGER,
    CHAMPION,
    FeatureSpec,
    RarePositivesWarning,
    load_model,
    promote,
    train_classifier,
)

FULL = FeatureSpec(
    "stalled",
    numeric=["throughput_kbps", "bitrate_kbps", "rtt_ms", "error_count"],
    categorical=["device"],
    group="video_id",
    time="session_start",
    time_to_event="time_to_stall_s",
)
WEAK = FeatureSpec(
    "stalled", numeric=["rtt_ms"], group="video_id", time="session_start"
)
SPACE = {
    "max_iter": 40,
    "learning_rate": hp.loguniform("learning_rate", -2.5, -1),
    "max_depth": hp.choice("max_depth", [3, None]),
}


@pytest.fixture(scope="module")
def trained(qos_config, request):
    """Two buffering versions: a weak first champion, then the full model."""
    from qos_ml import configure_mlflow

    saved = {
        k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")
    }
    configure_mlflow(qos_config)
    data = make_sessions(500, seed=3)
    common = dict(config=qos_config, search_space=SPACE, n_splits=3, trials="local")
    weak = train_classifier(data, WEAK, task="buffering", max_evals=0, **common)
    full = train_classifier(
        data,
        FULL,
        task="buffering",
        max_evals=3,
        feature_set="synthetic_sessions",
        feature_set_version=2,
        training_table="gold.session_features",
        training_table_version=7,
        **common,
    )
    yield data, weak, full
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def test_run_records_params_metrics_tags_and_plots(trained, mlflow_env):
    _, _, full = trained
    run = mlflow.get_run(full.run_id)
    assert run.data.params["model.max_depth"] in ("3", "None")  # a value, not an index
    assert run.data.params["model.max_iter"] == "40"
    assert run.data.params["class_weight"] in ("balanced", "None")
    for key in (
        "test_roc_auc",
        "test_pr_auc",
        "test_precision",
        "test_recall",
        "test_brier",
        "logistic_pr_auc",
        "rule_pr_auc",
        "lift_pr_auc_over_rule",
        "lift_pr_auc_over_logistic",
        "threshold",
        "cv_pr_auc",
        "lead_time_median_s",
    ):
        assert key in run.data.metrics, key
    tags = run.data.tags
    assert tags["task"] == "buffering"
    assert tags["feature_set"] == "synthetic_sessions"
    assert tags["feature_set_version"] == "2"
    assert tags["training_table"] == "gold.session_features"
    assert tags["training_table_version"] == "7"
    assert tags["qos_ml.version"] == qos_ml.__version__
    assert tags["threshold_source"] == "out_of_fold"
    artifacts = {a.path for a in MlflowClient().list_artifacts(full.run_id, "plots")}
    assert artifacts == {
        "plots/pr_curve.png",
        "plots/roc_curve.png",
        "plots/calibration.png",
        "plots/permutation_importance.png",
    }


def test_boosted_model_beats_baselines_on_synthetic_sessions(trained):
    _, _, full = trained
    m = full.metrics
    assert m["test_pr_auc"] > m["rule_pr_auc"]
    assert m["test_pr_auc"] > 0.6
    assert m["lead_time_alerted"] >= 1


def test_signature_survives_nulls_and_carries_threshold(trained, mlflow_env):
    _, _, full = trained
    info = mlflow.models.get_model_info(full.model_uri)
    types = {c["name"]: c["type"] for c in info.signature.inputs.to_dict()}
    assert types == {
        "throughput_kbps": "double",
        "bitrate_kbps": "double",
        "rtt_ms": "double",
        "error_count": "double",
        "device": "string",
    }
    model = mlflow.pyfunc.load_model(full.model_uri)
    assert model.model_config["threshold"] == pytest.approx(full.threshold)
    assert model.model_config["features"] == list(FULL.features)
    live = full.test.drop(columns=["stalled"]).head(6).copy()
    live["error_count"] = np.nan  # a count that is null in the live stream
    live["device"] = [None, "fridge", "tv", "tv", "mobile", "desktop"]
    out = model.predict(live)
    assert list(out.columns) == ["score", "decision"]
    assert out["decision"].dtype == bool
    assert (out["decision"] == (out["score"] >= full.threshold)).all()
    strict = model.predict(live, params={"threshold": 0.0})
    assert strict["decision"].all()


def test_registered_model_loads_by_alias_in_a_fresh_process(
    trained, mlflow_env, tmp_path
):
    _, weak, full = trained
    client = MlflowClient()
    name = full.registered_name
    assert (
        str(client.get_model_version_by_alias(name, CHAMPION).version) == weak.version
    )
    assert (
        str(client.get_model_version_by_alias(name, CHALLENGER).version) == full.version
    )

    rows = full.test.drop(columns=["stalled"]).head(20)
    rows.to_parquet(tmp_path / "rows.parquet")
    expected = mlflow.pyfunc.load_model(f"models:/{name}@{CHALLENGER}").predict(rows)
    script = (
        "import sys, mlflow, pandas as pd\n"
        "rows = pd.read_parquet(sys.argv[1])\n"
        f"model = mlflow.pyfunc.load_model('models:/{name}@{CHALLENGER}')\n"
        "model.predict(rows).to_parquet(sys.argv[2])\n"
    )
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": mlflow.get_tracking_uri(),
        "OMP_NUM_THREADS": "1",  # default OpenMP threads spin on a busy machine
    }
    subprocess.run(
        [
            sys.executable,
            "-c",
            script,
            str(tmp_path / "rows.parquet"),
            str(tmp_path / "out.parquet"),
        ],
        check=True,
        env=env,
        timeout=300,
        cwd=tmp_path,
    )
    got = pd.read_parquet(tmp_path / "out.parquet")
    pd.testing.assert_frame_equal(got, expected)


def test_promotion_moves_champion_only_when_challenger_wins(
    trained, qos_config, mlflow_env
):
    _, weak, full = trained
    name = full.registered_name
    client = MlflowClient()

    decision = promote("buffering", full.test, "stalled", config=qos_config)
    assert decision.promoted, decision.reason
    assert decision.challenger_value > decision.champion_value
    assert (
        str(client.get_model_version_by_alias(name, CHAMPION).version) == full.version
    )
    tags = client.get_model_version(name, full.version).tags
    assert tags["promotion.decision"] == "promoted"
    assert f"beats champion version {weak.version}" in tags["promotion.reason"]
    assert (
        client.get_model_version(name, weak.version).tags["promotion.replaced_by"]
        == full.version
    )

    # Make the weak model the challenger again: it must not take the title back.
    client.set_registered_model_alias(name, CHALLENGER, weak.version)
    decision = promote("buffering", full.test, "stalled", config=qos_config)
    assert not decision.promoted
    assert "does not beat champion version" in decision.reason
    assert (
        client.get_model_version(name, weak.version).tags["promotion.decision"]
        == "rejected"
    )
    assert (
        str(client.get_model_version_by_alias(name, CHAMPION).version) == full.version
    )
    champion = load_model("buffering", config=qos_config)
    assert champion.metadata.run_id == full.run_id


@pytest.mark.parametrize(
    ("positives", "folds_used", "threshold_source"),
    [
        ([20, 60, 100, 150], "2", "out_of_fold"),  # 3 train positives, 5 folds asked
        ([20, 150], "0", "train_in_sample"),  # 1 train positive: no CV at all
    ],
)
def test_training_with_rare_positives_warns_and_still_trains(
    qos_config, mlflow_env, positives, folds_used, threshold_source
):
    n = 160
    rng = np.random.default_rng(1)
    y = np.zeros(n, dtype=bool)
    y[positives] = True  # the last one falls in the test period
    frame = pd.DataFrame({"x": rng.normal(size=n) + 3 * y, "t": np.arange(n), "y": y})
    spec = FeatureSpec("y", numeric=["x"], time="t")
    with pytest.warns(RarePositivesWarning, match="positive"):
        result = train_classifier(
            frame,
            spec,
            task="failure",
            config=qos_config,
            max_evals=2,
            search_space=SPACE,
            register=False,
        )
    run = mlflow.get_run(result.run_id)
    assert run.data.params["n_splits_used"] == folds_used
    assert run.data.tags["threshold_source"] == threshold_source
    assert (result.tuning is None) == (folds_used == "0")
    assert result.version is None


def test_unknown_task_is_refused(qos_config):
    with pytest.raises(ConfigError, match=r"'stalls'.*buffering, failure"):
        train_classifier(pd.DataFrame(), WEAK, task="stalls", config=qos_config)

from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd
import pytest
from tests.training.synthetic import make_aggregates

from qos_ml import ConfigError, SchemaMismatchError
from qos_ml.training import (
    DEFAULT_DIRECTIONS,
    IsolationForestDetector,
    SeasonalBaselineDetector,
    evaluate_detections,
    train_anomaly_detector,
)

METRICS = list(DEFAULT_DIRECTIONS)
KEYS = ["window_start", "dimension", "dimension_value"]


@pytest.fixture(scope="module")
def aggregates():
    data, incidents = make_aggregates(days=3, values=3, incidents=4)
    history = data[data["window_start"] < "2026-01-03"].reset_index(drop=True)
    last_day = data[data["window_start"] >= "2026-01-03"].reset_index(drop=True)
    return history, last_day, incidents


def _scored(detector, frame):
    return pd.concat([frame[KEYS], detector.predict(frame)], axis=1)


def test_seasonal_baseline_finds_the_incidents_and_the_metric(aggregates):
    history, last_day, incidents = aggregates
    detector = SeasonalBaselineDetector(METRICS).fit(history)
    scored = _scored(detector, last_day)
    result = evaluate_detections(scored, incidents)
    assert result["detection_rate"] == 1.0
    assert result["recall"] >= 0.9
    assert result["precision"] >= 0.5
    assert result["time_to_detect_max_s"] <= 120

    hits = scored[scored["is_anomaly"]].merge(incidents, on=KEYS)
    assert (hits["anomalous_metric"] == hits["metric"]).mean() >= 0.9
    assert scored.loc[~scored["is_anomaly"], "anomalous_metric"].isna().all()


def test_isolation_forest_flags_incidents_and_blames_a_metric(aggregates):
    history, last_day, incidents = aggregates
    detector = IsolationForestDetector(METRICS, n_estimators=100).fit(history)
    scored = _scored(detector, last_day)
    result = evaluate_detections(scored, incidents)
    assert result["incidents_detected"] >= 2
    flagged = scored[scored["is_anomaly"]]
    assert flagged["anomalous_metric"].isin(METRICS).all()
    # Far fewer flags than minutes: the contamination threshold holds.
    assert len(flagged) < 0.03 * len(scored)


def test_direction_matters(aggregates):
    history, last_day, _ = aggregates
    better = last_day.copy()
    better["cache_hit_ratio"] = 1.0  # a cache that works better is no incident
    better["startup_time_p95_s"] = 0.1  # neither is a faster start
    detector = SeasonalBaselineDetector(
        ["cache_hit_ratio", "startup_time_p95_s"], threshold=5.0
    ).fit(history)
    assert not detector.predict(better)["is_anomaly"].any()
    both = SeasonalBaselineDetector(
        ["startup_time_p95_s"], {"startup_time_p95_s": "both"}
    ).fit(history)
    assert both.predict(better)["is_anomaly"].all()


def test_unseen_dimension_value_falls_back_to_global_baseline(aggregates):
    history, last_day, _ = aggregates
    detector = SeasonalBaselineDetector(METRICS).fit(history)
    new_edge = last_day.head(30).assign(dimension_value="LHR1")
    out = detector.predict(new_edge)
    assert np.isfinite(out["score"]).all()
    assert out["is_anomaly"].mean() < 0.2


def test_evaluate_detections_counts_minutes_and_delay():
    t = pd.date_range("2026-01-01 10:00", periods=6, freq="1min")
    scored = pd.DataFrame(
        {
            "window_start": t,
            "dimension": "asn",
            "dimension_value": "3320",
            "is_anomaly": [False, False, True, True, False, True],
        }
    )
    incidents = pd.DataFrame(
        {
            "incident_id": "a",
            "window_start": t[1:5],
            "dimension": "asn",
            "dimension_value": "3320",
        }
    )
    result = evaluate_detections(scored, incidents)
    assert result["precision"] == pytest.approx(2 / 3)
    assert result["recall"] == pytest.approx(2 / 4)
    assert result["time_to_detect_median_s"] == 60.0
    assert result["detection_rate"] == 1.0


def test_detector_input_errors(aggregates):
    history, _, _ = aggregates
    with pytest.raises(SchemaMismatchError, match=r"lack column\(s\) \['views'\]"):
        SeasonalBaselineDetector(["views"]).fit(history.drop(columns=["views"]))
    with pytest.raises(ConfigError, match="'sideways'"):
        SeasonalBaselineDetector(["views"], {"views": "sideways"})  # type: ignore[dict-item]
    with pytest.raises(ConfigError, match="contamination"):
        IsolationForestDetector(["views"], contamination=0.9)
    with pytest.raises(ConfigError, match="'forest'"):
        train_anomaly_detector(history, kind="forest")  # type: ignore[arg-type]


def test_detectors_are_registered_and_load_by_alias(aggregates, qos_config, mlflow_env):
    history, last_day, incidents = aggregates
    result = train_anomaly_detector(
        history,
        kind="seasonal",
        evaluation=last_day,
        incidents=incidents,
        config=qos_config,
    )
    assert result.metrics["recall"] >= 0.9
    run = mlflow.get_run(result.run_id)
    assert run.data.metrics["detection_rate"] == 1.0
    assert run.data.tags["detector"] == "seasonal"

    model = mlflow.pyfunc.load_model(f"models:/{result.registered_name}@challenger")
    rows = last_day.head(50).astype({"views": "float64"})
    out = model.predict(rows)
    expected = result.detector.predict(rows)
    pd.testing.assert_frame_equal(
        out.reset_index(drop=True), expected.reset_index(drop=True)
    )

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from qos_ml import ConfigError, DataQualityError
from qos_ml.training import (
    best_single_rule,
    choose_threshold,
    classification_metrics,
    lead_time_metrics,
)
from qos_ml.training._evaluate import evaluation_figures

Y = np.array([0, 0, 0, 0, 1, 0, 1, 1, 1, 1])
S = np.array([0.05, 0.1, 0.2, 0.3, 0.35, 0.4, 0.6, 0.7, 0.8, 0.9])


def test_threshold_policies():
    assert choose_threshold(Y, S) == 0.35  # F1 0.909 at recall 1
    assert choose_threshold(Y, S, "precision:1.0") == 0.6
    assert choose_threshold(Y, S, "recall:0.6") == 0.7


def test_threshold_policy_is_validated():
    with pytest.raises(ConfigError, match="'precision:2'"):
        choose_threshold(Y, S, "precision:2")
    with pytest.raises(ConfigError, match="'f2'"):
        choose_threshold(Y, S, "f2")
    with pytest.raises(DataQualityError, match="both classes"):
        choose_threshold([1, 1], [0.1, 0.2])


def test_best_single_rule_finds_feature_and_direction():
    rng = np.random.default_rng(0)
    n = 400
    throughput = rng.lognormal(8, 0.5, n)
    frame = pd.DataFrame(
        {
            "noise": rng.normal(size=n),
            "throughput": throughput,
            "y": (throughput < np.quantile(throughput, 0.2)).astype(int),
        }
    )
    frame.loc[:9, "throughput"] = np.nan
    rule = best_single_rule(frame, "y", ["noise", "throughput"])
    assert rule.feature == "throughput"
    assert not rule.higher_is_positive
    assert rule.train_f1 > 0.9
    assert not rule.decide(frame)[:10].any()  # missing values never fire
    assert rule.describe().startswith("throughput <= ")


def test_best_single_rule_needs_a_varying_feature():
    frame = pd.DataFrame({"c": [1.0] * 4, "y": [0, 1, 0, 1]})
    with pytest.raises(DataQualityError, match="two distinct values"):
        best_single_rule(frame, "y", ["c"])


def test_classification_metrics_at_threshold():
    m = classification_metrics(Y, S, 0.6)
    assert m["precision"] == 1.0
    assert m["recall"] == 0.8
    assert m["alert_rate"] == 0.4
    assert 0.9 < m["roc_auc"] <= 1.0
    assert m["brier"] == pytest.approx(np.mean((S - Y) ** 2))
    assert np.isnan(classification_metrics(Y, S * 10, 6.0)["brier"])


def test_lead_time_over_alerted_positives():
    lead = np.array([np.nan] * 4 + [30.0, np.nan, 10.0, 20.0, np.nan, 40.0])
    m = lead_time_metrics(Y, S >= 0.6, lead)
    assert m["lead_time_alerted"] == 3  # rows 6, 7, 9
    assert m["lead_time_median_s"] == 20.0
    assert lead_time_metrics(Y, np.zeros(10, bool), lead) == {}


def test_figures_are_drawn():
    importance = pd.DataFrame(
        {
            "feature": ["a", "b"],
            "importance_mean": [0.1, 0.0],
            "importance_std": [0.01, 0.0],
        }
    )
    figures = evaluation_figures(
        Y,
        {"model": S, "other": S[::-1]},
        threshold=0.6,
        model_scores=S,
        importance=importance,
    )
    assert sorted(figures) == [
        "calibration.png",
        "permutation_importance.png",
        "pr_curve.png",
        "roc_curve.png",
    ]

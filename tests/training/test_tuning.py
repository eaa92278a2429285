from __future__ import annotations

import pytest
from hyperopt import hp

from qos_ml import ConfigError
from qos_ml.training import FeatureSpec, cv_folds, training_frame, tune

SPEC = FeatureSpec(
    "stalled", numeric=["throughput_kbps", "bitrate_kbps", "rtt_ms"], group="video_id"
)
SPACE = {
    "max_iter": 30,
    "learning_rate": hp.loguniform("learning_rate", -3, -1),
    "max_depth": hp.choice("max_depth", [2, 7]),
}


@pytest.fixture
def frame(sessions):
    return training_frame(sessions.head(300), SPEC)


def test_tune_reports_readable_values(frame):
    folds = cv_folds(frame, SPEC, n_splits=3)
    result = tune(frame, SPEC, folds, space=SPACE, max_evals=4, trials="local")
    assert result.best_params["max_depth"] in (2, 7)  # a value, not a choice index
    assert result.best_params["max_iter"] == 30
    assert result.n_trials == 4
    assert set(result.trials["max_depth"]) <= {2, 7}
    assert 0.0 < result.best_cv_pr_auc <= 1.0
    assert result.best_cv_pr_auc == result.trials["cv_pr_auc"].max()


def test_tune_stops_without_progress(frame):
    folds = cv_folds(frame, SPEC, n_splits=2)
    space = {"max_iter": 10, "max_depth": hp.choice("max_depth", [2])}
    result = tune(frame, SPEC, folds, space=space, max_evals=8, early_stop_rounds=1)
    assert result.stopped_early
    assert result.n_trials < 8


def test_tune_rejects_bad_arguments(frame):
    folds = cv_folds(frame, SPEC, n_splits=2)
    with pytest.raises(ConfigError, match="at least two cross-validation folds"):
        tune(frame, SPEC, [], space=SPACE)
    with pytest.raises(ConfigError, match="'cluster'"):
        tune(frame, SPEC, folds, space=SPACE, trials="cluster")  # type: ignore[arg-type]

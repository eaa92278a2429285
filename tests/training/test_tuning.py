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


def test_default_space_fits_small_training_sets(sessions):
    """On ~120 rows no trial may forbid every split (a constant model)."""
    small = training_frame(sessions.head(180), SPEC)
    folds = cv_folds(small, SPEC, n_splits=3)
    n_fit = min(len(train) for train, _ in folds)
    assert n_fit < 150
    result = tune(small, SPEC, folds, max_evals=4, trials="local")
    first = result.trials.iloc[0]
    # The first trial is scikit-learn's default model, with the leaf floor capped.
    assert first["learning_rate"] == pytest.approx(0.1)
    assert first["max_iter"] == 100
    assert first["min_samples_leaf"] == min(20, n_fit // 10)
    assert (result.trials["min_samples_leaf"] <= max(4, n_fit // 10)).all()
    assert result.best_cv_pr_auc > small[SPEC.label].mean()  # beats a constant

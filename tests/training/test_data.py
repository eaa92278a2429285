from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import qos_ml.training as training
from qos_ml import ConfigError, DataQualityError, SchemaMismatchError
from qos_ml.training import (
    FeatureSpec,
    RarePositivesWarning,
    SplitWarning,
    cv_folds,
    split_train_test,
    training_frame,
)

SPEC = FeatureSpec(
    "stalled",
    numeric=["throughput_kbps", "bitrate_kbps", "rtt_ms", "error_count"],
    categorical=["device"],
    group="video_id",
    time="session_start",
)


def test_all_is_what_is_exported():
    public = {
        name
        for name in vars(training)
        if not name.startswith("_")
        and not isinstance(getattr(training, name), type(training))
    }
    assert set(training.__all__) == public


def test_spec_rejects_overlapping_roles():
    with pytest.raises(ConfigError, match="not also a feature"):
        FeatureSpec("y", numeric=["a", "y"])
    with pytest.raises(ConfigError, match="listed once"):
        FeatureSpec("y", numeric=["a"], categorical=["a"])
    with pytest.raises(ConfigError, match="at least one"):
        FeatureSpec("y", numeric=[])


def test_training_frame_types_and_label(sessions):
    frame = training_frame(sessions, SPEC)
    assert frame["stalled"].dtype == "int64"
    assert set(frame["stalled"].unique()) == {0, 1}
    assert frame["error_count"].dtype == "float64"
    assert frame["error_count"].isna().any()


def test_training_frame_missing_column(sessions):
    with pytest.raises(SchemaMismatchError, match=r"lacks column\(s\) \['rtt_ms'\]"):
        training_frame(sessions.drop(columns=["rtt_ms"]), SPEC)


def test_training_frame_text_in_numeric(sessions):
    bad = sessions.astype({"rtt_ms": object})
    bad.loc[3, "rtt_ms"] = "fast"
    with pytest.raises(
        SchemaMismatchError, match=r"'rtt_ms' holds 1 non-numeric.*'fast'"
    ):
        training_frame(bad, SPEC)


def test_training_frame_bad_label(sessions):
    bad = sessions.astype({"stalled": object})
    bad.loc[0, "stalled"] = "maybe"
    with pytest.raises(DataQualityError, match="'stalled' holds 'maybe'"):
        training_frame(bad, SPEC)


def test_training_frame_counts_unlabelled_rows(sessions):
    bad = sessions.astype({"stalled": object})
    bad.loc[[0, 1], "stalled"] = None
    with pytest.warns(SplitWarning, match="2 of 600 rows have no value"):
        frame = training_frame(bad, SPEC)
    assert len(frame) == 598


def test_group_split_keeps_videos_whole(sessions):
    frame = training_frame(sessions, SPEC)
    train, test = split_train_test(frame, SPEC, by="group", test_fraction=0.25, seed=1)
    assert set(train["video_id"]).isdisjoint(test["video_id"])
    assert len(train) + len(test) == len(frame)


def test_time_split_trains_on_the_past(sessions):
    frame = training_frame(sessions, SPEC)
    train, test = split_train_test(frame, SPEC, by="time", test_fraction=0.2)
    assert train["session_start"].max() <= test["session_start"].min()
    assert len(test) == pytest.approx(120, abs=1)


def test_time_group_split_holds_out_the_latest_groups(sessions):
    frame = training_frame(sessions, SPEC)
    train, test = split_train_test(frame, SPEC)  # auto -> time_group
    assert set(train["video_id"]).isdisjoint(test["video_id"])
    first_seen = frame.groupby("video_id")["session_start"].min()
    assert (
        first_seen[test["video_id"].unique()].min()
        >= first_seen[train["video_id"].unique()].max()
    )


def test_split_without_time_or_group_warns(sessions):
    spec = FeatureSpec("stalled", numeric=["rtt_ms"])
    frame = training_frame(sessions, spec)
    with pytest.warns(SplitWarning, match="split at random"):
        train, test = split_train_test(frame, spec)
    assert abs(train["stalled"].mean() - test["stalled"].mean()) < 0.02


def test_split_needs_the_column_it_splits_by(sessions):
    spec = FeatureSpec("stalled", numeric=["rtt_ms"])
    frame = training_frame(sessions, spec)
    with pytest.raises(ConfigError, match="with a group column"):
        split_train_test(frame, spec, by="group")
    with pytest.raises(ConfigError, match="one of auto"):
        split_train_test(frame, spec, by="rows")  # type: ignore[arg-type]


def test_split_without_positives_in_test_is_an_error(sessions):
    spec = FeatureSpec("stalled", numeric=["rtt_ms"], time="session_start")
    frame = training_frame(sessions, spec)
    frame.loc[
        frame["session_start"] > frame["session_start"].quantile(0.7), "stalled"
    ] = 0
    with pytest.raises(
        DataQualityError, match="test set of the time split has 0 positive"
    ):
        split_train_test(frame, spec, by="time")


def test_cv_folds_keep_groups_whole(sessions):
    frame = training_frame(sessions, SPEC)
    folds = cv_folds(frame, SPEC, n_splits=4)
    assert len(folds) == 4
    for train, valid in folds:
        assert set(frame["video_id"].iloc[train]).isdisjoint(
            frame["video_id"].iloc[valid]
        )


def test_cv_with_fewer_positives_than_folds_warns_and_shrinks(sessions):
    spec = FeatureSpec("stalled", numeric=["rtt_ms"])
    frame = training_frame(sessions, spec)
    frame["stalled"] = 0
    frame.loc[[5, 50, 500], "stalled"] = 1
    with pytest.warns(RarePositivesWarning, match="3 positive.*using 3 folds"):
        folds = cv_folds(frame, spec, n_splits=5)
    assert len(folds) == 3
    for _, valid in folds:
        assert frame["stalled"].iloc[valid].sum() == 1


def test_cv_with_one_positive_returns_no_folds(sessions):
    spec = FeatureSpec("stalled", numeric=["rtt_ms"])
    frame = training_frame(sessions, spec)
    frame["stalled"] = 0
    frame.loc[7, "stalled"] = 1
    with pytest.warns(RarePositivesWarning, match="hyperparameters are not tuned"):
        assert cv_folds(frame, spec, n_splits=5) == []


def test_cv_time_folds_without_positives_are_skipped():
    n = 100
    frame = pd.DataFrame(
        {"x": np.arange(n, dtype=float), "t": np.arange(n), "y": (np.arange(n) >= 90)}
    )
    spec = FeatureSpec("y", numeric=["x"], time="t")
    frame = training_frame(frame, spec)
    with pytest.warns(RarePositivesWarning, match="lack a positive.*not tuned"):
        assert cv_folds(frame, spec, n_splits=5) == []

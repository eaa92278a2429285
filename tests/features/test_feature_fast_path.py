"""The optimised feature joins give exactly the rows of the plain range joins."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest

from features.silver_rows import T0, silver_frames, silver_rows
from qos_ml.features import (
    BUFFERING,
    FAILURE,
    Feature,
    FeatureSet,
    observation_points,
    prepare_cdn_requests,
    prepare_player_events,
)
from qos_ml.features._compute import _compute_features
from qos_ml.features._running import running_form

_PLAYER = "silver.player_events"
_BUILTIN = tuple({f.name: f for s in (BUFFERING, FAILURE) for f in s}.values())
#: "So far" features the running path cannot take (DISTINCT) or reads per key.
_EXTRA = (
    Feature(
        "event_types_so_far",
        "Distinct player event types so far.",
        "session",
        "count(DISTINCT event_type)",
        source=_PLAYER,
        dtype="long",
    ),
    Feature(
        "since_last_event_s",
        "Seconds since the session's latest event.",
        "session",
        "_obs_t - max(_t)",
        source=_PLAYER,
    ),
    Feature(
        "video_events_so_far",
        "Player events of the video so far.",
        "video",
        "count(*)",
        source=_PLAYER,
        dtype="long",
    ),
    Feature(
        "video_stall_share_so_far",
        "Share of the video's events so far that are stalls.",
        "video",
        "avg(CAST(is_stall AS DOUBLE))",
        source=_PLAYER,
    ),
)


@pytest.mark.parametrize(
    ("expression", "calls", "outer"),
    [
        ("count_if(is_stall)", ("count_if(is_stall)",), "_a0"),
        (
            "coalesce(sum(if(is_stall, stall_s, NULL)), 0.0)",
            ("sum(if(is_stall, stall_s, NULL))",),
            "coalesce(_a0, 0.0)",
        ),
        (
            "coalesce(max(startup_s), _obs_t - min(if(event_type = 'PLAY', _t, NULL)))",
            ("max(startup_s)", "min(if(event_type = 'PLAY', _t, NULL))"),
            "coalesce(_a0, _obs_t - _a1)",
        ),
        (
            "max_by(x, if(x IS NULL, NULL, _t))",
            ("max_by(x, if(x IS NULL, NULL, _t))",),
            "_a0",
        ),
        ("sum(a) / sum(a)", ("sum(a)",), "_a0 / _a0"),
    ],
)
def test_running_form_splits_decomposable_expressions(expression, calls, outer):
    form = running_form(expression)
    assert form is not None
    assert form.calls == calls
    assert form.outer == outer


@pytest.mark.parametrize(
    "expression",
    [
        "count(DISTINCT session_key)",
        "count_if(is_error) / count(DISTINCT session_key)",
        "regr_slope(throughput_kbps, _t - _obs_t)",  # not a known aggregate
        "sum(_t - _obs_t)",  # reads the row time inside the aggregate
        "percentile(x, 0.5)",
        "sum(x) FILTER (WHERE y)",
        "stall_s",  # a bare column
        "sum(x) + `weird col`",
        "upper(max(x))",  # unknown scalar function
        "",
    ],
)
def test_running_form_refuses_what_it_cannot_prove(expression):
    assert running_form(expression) is None


def _on_whole_seconds(rows):
    """Move every event to a whole second: events land exactly on window edges."""
    player, cdn = rows
    for row, column in [(r, "event_time") for r in player] + [
        (r, "request_time") for r in cdn
    ]:
        row[column] = T0 + timedelta(seconds=round((row[column] - T0).total_seconds()))
    return player, cdn


def _rows(spark, feature_set, *, lookback_s, optimised):
    player, cdn = silver_frames(spark, _on_whole_seconds(silver_rows(7)))
    cdn_prepared = prepare_cdn_requests(cdn).localCheckpoint()
    player_prepared = prepare_player_events(player, cdn_prepared).localCheckpoint()
    points = observation_points(player_prepared).localCheckpoint()
    rows = _compute_features(
        points,
        player_prepared,
        cdn_prepared,
        feature_set,
        lookback_s=lookback_s,
        optimised=optimised,
    )
    return (
        rows.toPandas().sort_values(["session_key", "obs_time"]).reset_index(drop=True)
    )


def _assert_equal(fast: pd.DataFrame, reference: pd.DataFrame) -> None:
    assert list(fast.columns) == list(reference.columns)
    assert len(fast) == len(reference) > 0
    for column in fast.columns:
        a, b = fast[column], reference[column]
        if pd.api.types.is_float_dtype(a) or pd.api.types.is_float_dtype(b):
            # Sums may add in another order: equal up to the last bits.
            pd.testing.assert_series_equal(
                a.astype(float), b.astype(float), rtol=1e-12, atol=0, obj=column
            )
        else:
            assert a.tolist() == b.tolist(), column


@pytest.mark.spark
@pytest.mark.slow
def test_fast_path_equals_range_join_at_window_edges(spark) -> None:
    feature_set = FeatureSet("all_builtin_plus", "1", (*_BUILTIN, *_EXTRA))
    fast = _rows(spark, feature_set, lookback_s=4 * 3600.0, optimised=True)
    reference = _rows(spark, feature_set, lookback_s=4 * 3600.0, optimised=False)
    _assert_equal(fast, reference)
    # Events sit exactly at row times and at window starts, and values vary.
    assert (fast.obs_time.dt.second % 10 == 0).all()
    assert fast.stalls_so_far.max() > 0
    assert fast.edge_stall_rate_5m.notna().any()
    assert fast.event_types_so_far.nunique() > 1


@pytest.mark.spark
@pytest.mark.slow
def test_fast_path_equals_range_join_when_sessions_outlast_the_lookback(
    spark,
) -> None:
    # With a 25 s look-back the sessions (40-70 s) outlast it: "so far" drops
    # their first events, which the running aggregates must not count.
    short = tuple(
        f
        for f in (*_BUILTIN, *_EXTRA)
        if not f.derived and (f.window_s is None or f.window_s <= 25)
    )
    feature_set = FeatureSet("short_lookback", "1", short)
    fast = _rows(spark, feature_set, lookback_s=25.0, optimised=True)
    reference = _rows(spark, feature_set, lookback_s=25.0, optimised=False)
    _assert_equal(fast, reference)
    assert fast.played_s.max() < 30  # the look-back really cut the sessions

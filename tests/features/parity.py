"""Comparing feature rows from two paths (batch and stream) value by value."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from qos_ml.features import BUFFERING, FAILURE, FeatureSet

#: Every feature of every built-in set, computed in one pass.
ALL_BUILTIN = FeatureSet(
    "all_builtin",
    "1",
    tuple({f.name: f for s in (BUFFERING, FAILURE) for f in s}.values()),
)
#: What identifies a feature row (besides the entity keys of its features).
ROW_KEYS = ("session_key", "obs_time", "edge_location", "viewer_asn")


def frame(df: Any) -> pd.DataFrame:
    """A Spark frame of feature rows as pandas, in (session, time) order."""
    return df.toPandas().sort_values(["session_key", "obs_time"]).reset_index(drop=True)


def assert_same(left: pd.DataFrame, right: pd.DataFrame, columns: Sequence[str]):
    """Equal row counts (not zero) and equal values in every column."""
    assert len(left) == len(right) > 0
    for column in columns:
        a, b = left[column], right[column]
        if pd.api.types.is_float_dtype(a) or pd.api.types.is_float_dtype(b):
            pd.testing.assert_series_equal(
                a.astype(float), b.astype(float), check_names=False, rtol=1e-7
            )
        else:
            assert a.tolist() == b.tolist(), column

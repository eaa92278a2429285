from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from qos_ml import ConfigError, SchemaMismatchError
from qos_ml.training import make_classifier
from qos_ml.training._pipeline import (
    FrameCoercer,
    limit_threads,
    resolve_class_weight,
)


def test_coercer_reads_live_stream_types():
    live = pd.DataFrame(
        {
            "count": pd.array([1, None, 3], dtype="Int64"),
            "rtt": ["12.5", None, "7"],
            "device": [None, "tv", 3],
        }
    )
    out = FrameCoercer(["count", "rtt"], ["device"]).fit(live).transform(live)
    assert out["count"].dtype == "float64"
    assert np.isnan(out["count"].iloc[1])
    assert out["rtt"].tolist()[0] == 12.5
    assert out["device"].iloc[2] == "3"
    assert np.isnan(out["device"].iloc[0])


def test_coercer_names_missing_columns():
    with pytest.raises(
        SchemaMismatchError, match=r"lacks feature column\(s\) \['rtt'\]"
    ):
        FrameCoercer(["rtt"], []).fit(pd.DataFrame({"x": [1.0]}))


@pytest.mark.parametrize("kind", ["boosted", "logistic"])
def test_pipeline_handles_nulls_and_unseen_categories(kind, sessions):
    features = ["throughput_kbps", "rtt_ms", "error_count", "device"]
    # One OpenMP thread: the default threads spin against other processes.
    with limit_threads(1):
        model = make_classifier(
            kind, ["throughput_kbps", "rtt_ms", "error_count"], ["device"]
        ).fit(sessions[features], sessions["stalled"])
    live = sessions[features].head(4).copy()
    live["device"] = ["smart_fridge", None, "tv", "mobile"]
    live.loc[live.index[0], "rtt_ms"] = np.nan
    proba = model.predict_proba(live)[:, 1]
    assert proba.shape == (4,)
    assert np.all((proba >= 0) & (proba <= 1))


def test_unknown_model_parameter_is_named():
    with pytest.raises(ConfigError, match="'learning_rat'"):
        make_classifier("boosted", ["a"], params={"learning_rat": 0.1})
    with pytest.raises(ConfigError, match="'forest'"):
        make_classifier("forest", ["a"])  # type: ignore[arg-type]


def test_class_weight_auto_balances_only_imbalanced_labels():
    assert resolve_class_weight([0] * 9 + [1], "auto") == "balanced"
    assert resolve_class_weight([0, 1] * 5, "auto") is None
    assert resolve_class_weight([0, 1], None) is None
    with pytest.raises(ConfigError, match="'heavy'"):
        resolve_class_weight([0, 1], "heavy")

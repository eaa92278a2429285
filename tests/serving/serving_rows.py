"""Feature rows for the serving tests, shaped as the feature stream writes them."""

from __future__ import annotations

import pandas as pd

NUMERIC = ["throughput_kbps", "bitrate_kbps", "rtt_ms", "error_count"]


def feature_rows(data: pd.DataFrame, start: int = 0, n: int = 20) -> pd.DataFrame:
    """Feature rows as the feature stream writes them: keys plus features."""
    part = data.iloc[start : start + n].reset_index(drop=True)
    return pd.DataFrame(
        {
            "session_key": [f"s{start + i}" for i in range(len(part))],
            "obs_time": part["session_start"].dt.floor("s"),
            "video_id": part["video_id"],
            **{c: part[c] for c in NUMERIC},
            "device": part["device"],
        }
    )


def feature_set_frame(feature_set, n: int = 400, seed: int = 0) -> pd.DataFrame:
    """Synthetic training rows over a feature set's columns, with ``label``.

    Sessions that stalled already (``stalls_so_far``) or saw errors
    (``errors_60s``) are the positives, so a model trained on these rows flags
    the same kind of live rows.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(index=range(n))
    for feature in feature_set:
        if feature.categorical:
            frame[feature.name] = rng.choice(["a", "b", "c"], size=n)
        elif feature.dtype == "boolean":
            frame[feature.name] = rng.random(n) < 0.7
        elif feature.dtype == "long":
            frame[feature.name] = rng.poisson(0.6, size=n).astype("float64")
        else:
            frame[feature.name] = rng.exponential(1.0, size=n)
    driver = next(c for c in ("stalls_so_far", "errors_60s") if c in frame.columns)
    frame["label"] = (frame[driver] > 0) ^ (rng.random(n) < 0.05)
    frame["group"] = rng.integers(0, 20, size=n)
    return frame

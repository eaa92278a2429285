"""Synthetic training tables for the training tests (small, seeded)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


def make_sessions(n: int = 600, seed: int = 0, positive_share: float = 0.2) -> pd.DataFrame:
    """Sessions whose stalls come from low throughput relative to the bitrate.

    The label depends on a ratio of two features plus a device effect, so a
    model beats any single-feature threshold; integer counts carry nulls, as
    they do in the live stream.
    """
    rng = np.random.default_rng(seed)
    throughput = rng.lognormal(mean=8.0, sigma=0.6, size=n)  # kbit/s
    bitrate = rng.choice([800.0, 1500.0, 3000.0, 6000.0], size=n)
    rtt = rng.gamma(2.0, 40.0, size=n)
    device = rng.choice(["tv", "mobile", "desktop", "console"], size=n, p=[0.3, 0.4, 0.25, 0.05])
    errors = rng.poisson(0.5, size=n).astype("float64")
    errors[rng.random(n) < 0.1] = np.nan
    risk = np.log(bitrate / throughput) + 0.004 * rtt + (device == "mobile") * 0.5
    cut = np.quantile(risk, 1.0 - positive_share)
    noise = rng.normal(0.0, 0.25, size=n)
    stalled = (risk + noise) > cut
    video = rng.integers(0, 40, size=n)
    start = pd.Timestamp("2026-01-01") + pd.to_timedelta(np.sort(rng.uniform(0, 86400 * 7, n)), unit="s")
    time_to_stall = np.where(stalled, rng.uniform(5, 60, size=n), np.nan)
    return pd.DataFrame(
        {
            "throughput_kbps": throughput,
            "bitrate_kbps": bitrate,
            "rtt_ms": rtt,
            "error_count": pd.array(errors, dtype="Int64") if False else errors,
            "device": device,
            "video_id": [f"v{v:03d}" for v in video],
            "session_start": start,
            "time_to_stall_s": time_to_stall,
            "stalled": stalled,
        }
    )


@pytest.fixture
def sessions() -> pd.DataFrame:
    return make_sessions()

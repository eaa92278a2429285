"""Synthetic, seeded training tables for the training tests and demos."""

from __future__ import annotations

import numpy as np
import pandas as pd


def make_sessions(
    n: int = 600, seed: int = 0, positive_share: float = 0.2
) -> pd.DataFrame:
    """Sessions whose stalls come from low throughput relative to the bitrate.

    The label depends on a ratio of two features plus a device effect, so a
    model beats any single-feature threshold; integer counts carry nulls, as
    they do in the live stream.
    """
    rng = np.random.default_rng(seed)
    throughput = rng.lognormal(mean=8.0, sigma=0.6, size=n)  # kbit/s
    bitrate = rng.choice([800.0, 1500.0, 3000.0, 6000.0], size=n)
    rtt = rng.gamma(2.0, 40.0, size=n)
    device = rng.choice(
        ["tv", "mobile", "desktop", "console"], size=n, p=[0.3, 0.4, 0.25, 0.05]
    )
    errors = rng.poisson(0.5, size=n).astype("float64")
    errors[rng.random(n) < 0.1] = np.nan
    risk = np.log(bitrate / throughput) + 0.004 * rtt + (device == "mobile") * 0.5
    cut = np.quantile(risk, 1.0 - positive_share)
    noise = rng.normal(0.0, 0.25, size=n)
    stalled = (risk + noise) > cut
    video = rng.integers(0, 40, size=n)
    start = pd.Timestamp("2026-01-01") + pd.to_timedelta(
        np.sort(rng.uniform(0, 86400 * 7, n)), unit="s"
    )
    time_to_stall = np.where(stalled, rng.uniform(5, 60, size=n), np.nan)
    return pd.DataFrame(
        {
            "throughput_kbps": throughput,
            "bitrate_kbps": bitrate,
            "rtt_ms": rtt,
            "error_count": errors,
            "device": device,
            "video_id": [f"v{v:03d}" for v in video],
            "session_start": start,
            "time_to_stall_s": time_to_stall,
            "stalled": stalled,
        }
    )


def make_aggregates(
    days: int = 3, values: int = 3, seed: int = 0, incidents: int = 4
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-minute QoE aggregates of a few edge locations, with injected incidents.

    Metrics follow a daily cycle plus noise; each incident raises one metric
    (or drops the cache hit ratio) for 10-20 minutes on one dimension value in
    the last day. Returns (aggregates, incident minutes).
    """
    rng = np.random.default_rng(seed)
    minutes = pd.date_range("2026-01-01", periods=days * 1440, freq="1min")
    tod = (minutes.hour * 60 + minutes.minute).to_numpy() / 1440.0
    daily = 1.0 + 0.3 * np.sin(2 * np.pi * tod)
    frames = []
    for i in range(values):
        n = len(minutes)
        views = rng.poisson(200 * daily * (1 + 0.5 * i))
        frames.append(
            pd.DataFrame(
                {
                    "window_start": minutes,
                    "dimension": "edge_location",
                    "dimension_value": f"FRA{50 + i}",
                    "startup_time_p95_s": 2.0 * daily + rng.normal(0, 0.1, n),
                    "rebuffering_ratio": np.clip(
                        0.01 * daily + rng.normal(0, 0.002, n), 0, 1
                    ),
                    "error_rate": rng.binomial(views, 0.002) / np.maximum(views, 1),
                    "ttfb_p95_s": 0.3 + rng.normal(0, 0.02, n),
                    "cache_hit_ratio": np.clip(0.95 + rng.normal(0, 0.01, n), 0, 1),
                    "views": views.astype("int64"),
                }
            )
        )
    aggregates = pd.concat(frames, ignore_index=True)

    labelled = []
    effects = [
        ("startup_time_p95_s", 3.0),
        ("error_rate", 0.08),
        ("cache_hit_ratio", -0.3),
        ("rebuffering_ratio", 0.05),
    ]
    last_day = (days - 1) * 1440
    for k in range(incidents):
        metric, delta = effects[k % len(effects)]
        value = f"FRA{50 + k % values}"
        start = last_day + 120 + k * 300 + int(rng.integers(0, 60))
        length = int(rng.integers(10, 21))
        window = minutes[start : start + length]
        rows = (aggregates["dimension_value"] == value) & aggregates[
            "window_start"
        ].isin(window)
        aggregates.loc[rows, metric] += delta
        labelled.append(
            pd.DataFrame(
                {
                    "incident_id": f"inc{k}",
                    "window_start": window,
                    "dimension": "edge_location",
                    "dimension_value": value,
                    "metric": metric,
                }
            )
        )
    return aggregates, pd.concat(labelled, ignore_index=True)

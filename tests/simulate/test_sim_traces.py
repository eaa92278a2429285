"""Trace reading, download arithmetic and the calibrated generator."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from simhelpers import shared_data

from qos_ml import ConfigError, DataQualityError
from qos_ml.simulate import (
    TRACE_MODELS,
    Trace,
    calibrate_trace_model,
    generate_traces,
    load_traces,
)
from qos_ml.simulate._traces import TraceCursor, TraceTable


def _flat(mbps: float, seconds: int = 10) -> Trace:
    return Trace("flat", np.arange(seconds, dtype=float), np.full(seconds, mbps))


def test_download_time_follows_the_trace() -> None:
    cursor = TraceCursor(TraceTable.of(_flat(2.0)), 0.0)
    assert cursor.finish(0.0, 4e6) == pytest.approx(2.0)
    assert cursor.delivered(0.0, 2.0) == pytest.approx(4e6)
    # The trace loops: 25 s of 2 Mbit/s over a 10 s trace.
    assert cursor.finish(3.0, 50e6) == pytest.approx(28.0)
    # A congestion window at a quarter of the throughput from 1 s to 3 s.
    slowed = TraceCursor(TraceTable.of(_flat(2.0)), 0.0, [(1.0, 3.0, 0.25)])
    assert slowed.finish(0.0, 4e6) == pytest.approx(1.0 + 2.0 + 0.5)
    assert slowed.delivered(0.0, 3.0) == pytest.approx(2e6 + 1e6)
    assert slowed.rate_bps(2.0) == pytest.approx(0.5e6)


def test_zero_throughput_is_floored() -> None:
    cursor = TraceCursor(TraceTable.of(_flat(0.0)), 0.0)
    assert math.isfinite(cursor.finish(0.0, 1e5))


def test_bad_traces_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(DataQualityError, match="strictly increase"):
        Trace("t", np.array([0.0, 0.0]), np.array([1.0, 1.0]))
    with pytest.raises(DataQualityError, match="at least two samples"):
        Trace("t", np.array([0.0]), np.array([1.0]))
    with pytest.raises(ConfigError, match="an existing folder"):
        load_traces(tmp_path / "missing")
    (tmp_path / "junk.txt").write_text("not a trace\n")
    with pytest.raises(ConfigError, match=r"unreadable: \['junk.txt'\]"):
        load_traces(tmp_path)
    (tmp_path / "ok").mkdir()
    (tmp_path / "ok" / "t1").write_text("0.0 1.5\n1.0 2.5\n2.0 0.5\n")
    traces = load_traces(tmp_path)
    assert [t.name for t in traces] == ["t1"]


def test_generator_reproduces_its_calibration() -> None:
    for profile, model in TRACE_MODELS.items():
        measured = calibrate_trace_model(
            generate_traces(model, 400, 600, seed=3, profile=profile)
        )
        assert measured.level_mean == pytest.approx(model.level_mean, abs=0.12)
        assert measured.level_std == pytest.approx(model.level_std, rel=0.2)
        assert measured.ar_coef == pytest.approx(model.ar_coef, abs=0.05)
        assert measured.noise_std == pytest.approx(model.noise_std, rel=0.1)
        assert measured.outage_mean_s == pytest.approx(model.outage_mean_s, rel=0.35)


@pytest.mark.shared_data
@pytest.mark.parametrize(
    ("profile", "folder"),
    [("cellular", "norway_hsdpa"), ("fixed", "fcc"), ("mixed", "oboe")],
)
def test_calibration_constants_match_the_real_traces(profile: str, folder: str) -> None:
    traces = load_traces(shared_data(f"traces/{folder}"))
    measured = calibrate_trace_model(traces)
    model = TRACE_MODELS[profile]
    assert measured.level_mean == pytest.approx(model.level_mean, abs=0.01)
    assert measured.ar_coef == pytest.approx(model.ar_coef, abs=0.01)
    assert measured.noise_std == pytest.approx(model.noise_std, abs=0.01)
    # And the generator's traces look like the real ones.
    generated = calibrate_trace_model(
        generate_traces(model, 300, 600, seed=5, profile=profile)
    )
    assert generated.level_mean == pytest.approx(measured.level_mean, abs=0.15)
    assert generated.noise_std == pytest.approx(measured.noise_std, rel=0.15)
    assert generated.ar_coef == pytest.approx(measured.ar_coef, abs=0.05)
    assert {t.profile for t in traces} == {profile}

"""Throughput traces: read real ones, or generate calibrated synthetic ones.

A trace is the Pensieve two-column format: seconds since the trace start and
the throughput in Mbit/s that holds until the next sample. Sessions download
over a trace from a random offset, looping at its end.

The generator is a two-regime (normal / outage) Markov model in
log-throughput space: within the normal regime the log-throughput is an AR(1)
process around a per-trace level; the outage regime multiplies throughput by
a drop factor. Its parameters per network profile are the constants of
:data:`TRACE_MODELS`, measured on the real traces with
:func:`calibrate_trace_model` (see ``benchmarks/calibrate_traces.py``).
"""

from __future__ import annotations

import math
import statistics
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qos_ml._errors import ConfigError, DataQualityError

__all__ = [
    "TRACE_MODELS",
    "Trace",
    "TraceCursor",
    "TraceModel",
    "TraceTable",
    "calibrate_trace_model",
    "generate_traces",
    "load_traces",
]

#: Throughput floor (Mbit/s): real traces hold zeros (tunnels); a floor keeps a
#: download finite while still stalling the player for a long time.
_FLOOR_MBPS = 0.02


@dataclass(frozen=True)
class Trace:
    """One throughput trace.

    Parameters
    ----------
    name : str
        File name or generated name.
    times_s : numpy.ndarray
        Sample times, starting at 0, strictly increasing.
    mbps : numpy.ndarray
        Throughput from each sample time until the next.
    profile : str
        ``cellular``, ``fixed`` or ``mixed``: the kind of network.
    """

    name: str
    times_s: np.ndarray
    mbps: np.ndarray
    profile: str = "mixed"

    def __post_init__(self) -> None:
        if len(self.times_s) < 2 or len(self.times_s) != len(self.mbps):
            raise DataQualityError(
                f"trace {self.name!r}: needs at least two samples of (time, Mbit/s); "
                f"got {len(self.times_s)} times and {len(self.mbps)} values"
            )
        if np.any(np.diff(self.times_s) <= 0):
            raise DataQualityError(
                f"trace {self.name!r}: sample times must strictly increase"
            )

    def scaled(self, factor: float) -> Trace:
        """Return the same trace with every throughput multiplied by ``factor``."""
        return Trace(self.name, self.times_s, self.mbps * factor, self.profile)

    def resampled(self, step_s: float = 1.0) -> np.ndarray:
        """Throughput on a regular grid (sample-and-hold), for statistics."""
        grid = np.arange(0.0, float(self.times_s[-1]), step_s)
        index = np.searchsorted(self.times_s, grid, side="right") - 1
        return np.asarray(self.mbps[np.clip(index, 0, len(self.mbps) - 1)])


def _profile_of(folder: str) -> str:
    name = folder.lower()
    if any(word in name for word in ("hsdpa", "3g", "4g", "lte", "cell", "mobile")):
        return "cellular"
    if any(word in name for word in ("fcc", "broadband", "fixed", "cable", "dsl")):
        return "fixed"
    return "mixed"


def load_traces(folder: str | Path) -> list[Trace]:
    """Read every Pensieve-format trace file under ``folder`` (recursively).

    The network profile of a trace is guessed from its folder name
    (``norway_hsdpa`` -> cellular, ``fcc`` -> fixed, else mixed). Files whose
    lines are not two numbers are skipped with their names in the error when
    no trace at all could be read.

    Raises
    ------
    ConfigError
        When ``folder`` does not exist or holds no readable trace.
    """
    root = Path(folder)
    if not root.is_dir():
        raise ConfigError("traces", str(root), "an existing folder of trace files")
    traces: list[Trace] = []
    rejected: list[str] = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if path.name.startswith(".") or path.name.upper().startswith("LICENSE"):
            continue
        try:
            data = np.loadtxt(path, ndmin=2, usecols=(0, 1))
            times = data[:, 0] - data[0, 0]
            trace = Trace(path.name, times, np.maximum(data[:, 1], 0.0))
        except (ValueError, DataQualityError, IndexError):
            rejected.append(path.name)
            continue
        profile = _profile_of(f"{root.name}/{path.parent.relative_to(root)}")
        traces.append(Trace(trace.name, trace.times_s, trace.mbps, profile))
    if not traces:
        raise ConfigError(
            "traces",
            str(root),
            "a folder with two-column (seconds, Mbit/s) trace files; "
            f"unreadable: {rejected[:5]}",
        )
    return traces


# -- the generator ------------------------------------------------------------


@dataclass(frozen=True)
class TraceModel:
    """Parameters of the regime-switching log-throughput model of one profile.

    Parameters
    ----------
    level_mean, level_std : float
        Mean and spread over traces of the trace's median log(Mbit/s).
    ar_coef : float
        Lag-1 (1 s) autocorrelation of log-throughput in the normal regime.
    noise_std : float
        Stationary standard deviation of log-throughput in the normal regime.
    outage_enter : float
        Probability per second of entering an outage.
    outage_mean_s : float
        Mean outage length (seconds).
    outage_factor : float
        Throughput during an outage relative to the trace median.
    """

    level_mean: float
    level_std: float
    ar_coef: float
    noise_std: float
    outage_enter: float
    outage_mean_s: float
    outage_factor: float


#: Calibrated on ../shared/data/traces (Pensieve collection) with
#: ``calibrate_trace_model`` on a 1 s grid: norway_hsdpa (80 traces) -> cellular,
#: fcc (147) -> fixed, oboe (428) -> mixed. Recompute with
#: ``python benchmarks/calibrate_traces.py``.
TRACE_MODELS: dict[str, TraceModel] = {
    # e^0.146 = 1.16 Mbit/s median; strong 1 s persistence, deep short outages.
    "cellular": TraceModel(0.1459, 0.4367, 0.8739, 0.4395, 0.00081, 5.941, 0.1806),
    # 5 s samples in the source, hence the smooth 1 s series.
    "fixed": TraceModel(0.1051, 0.6194, 0.8414, 0.2252, 0.00176, 5.824, 0.0884),
    # e^0.869 = 2.38 Mbit/s median.
    "mixed": TraceModel(0.8688, 0.6334, 0.9087, 0.2219, 0.0002, 5.8, 0.1607),
}

#: A sample below this share of its trace's median counts as an outage.
_OUTAGE_THRESHOLD = 0.2


def calibrate_trace_model(traces: Iterable[Trace]) -> TraceModel:
    """Measure the model parameters on real traces (1 s grid).

    Parameters
    ----------
    traces : iterable of Trace
        At least one trace of 10 s or more.

    Returns
    -------
    TraceModel
    """
    levels, coefs, stds, factors, runs = [], [], [], [], []
    entries = transitions = 0
    for trace in traces:
        series = np.maximum(trace.resampled(1.0), _FLOOR_MBPS)
        if len(series) < 10:
            continue
        median = float(np.median(series))
        logs = np.log(series)
        levels.append(math.log(median))
        outage = series < _OUTAGE_THRESHOLD * median
        normal = logs[~outage] - math.log(median)
        if len(normal) > 3 and float(np.std(normal)) > 0:
            stds.append(float(np.std(normal)))
            centred = logs - math.log(median)
            centred[outage] = 0.0
            a, b = centred[:-1], centred[1:]
            if np.std(a) > 0 and np.std(b) > 0:
                coefs.append(float(np.corrcoef(a, b)[0, 1]))
        if outage.any():
            factors.append(float(np.median(series[outage])) / median)
        starts = np.flatnonzero(outage[1:] & ~outage[:-1])
        entries += len(starts) + int(outage[0])
        transitions += int((~outage[:-1]).sum())
        runs.extend(_run_lengths(outage))
    if not levels:
        raise DataQualityError("calibration needs at least one trace of 10 s or more")
    return TraceModel(
        level_mean=round(statistics.fmean(levels), 4),
        level_std=round(statistics.pstdev(levels), 4),
        ar_coef=round(statistics.median(coefs) if coefs else 0.0, 4),
        noise_std=round(statistics.median(stds) if stds else 0.0, 4),
        outage_enter=round(entries / transitions if transitions else 0.0, 5),
        outage_mean_s=round(statistics.fmean(runs) if runs else 1.0, 3),
        outage_factor=round(statistics.median(factors) if factors else 0.1, 4),
    )


def _run_lengths(mask: np.ndarray) -> list[int]:
    runs, current = [], 0
    for flag in mask.tolist():
        if flag:
            current += 1
        elif current:
            runs.append(current)
            current = 0
    if current:
        runs.append(current)
    return runs


def generate_traces(
    model: TraceModel,
    count: int,
    length_s: int = 900,
    *,
    seed: int = 0,
    profile: str = "mixed",
) -> list[Trace]:
    """Generate synthetic traces (1 s samples) from a calibrated model.

    Parameters
    ----------
    model : TraceModel
        For instance ``TRACE_MODELS["cellular"]``.
    count : int
        Number of traces.
    length_s : int, default 900
        Length of each trace; sessions loop over it.
    seed : int, default 0
    profile : str, default "mixed"
        Label of the generated traces.

    Returns
    -------
    list of Trace
    """
    rng = np.random.default_rng([seed, 7919])
    innovation = model.noise_std * math.sqrt(max(1.0 - model.ar_coef**2, 1e-6))
    leave = 1.0 / max(model.outage_mean_s, 1.0)
    times = np.arange(length_s, dtype=float)
    traces = []
    for k in range(count):
        level = rng.normal(model.level_mean, model.level_std)
        shocks = rng.normal(0.0, innovation, length_s).tolist()
        uniforms = rng.random(length_s).tolist()
        logs = [0.0] * length_s
        x = rng.normal(0.0, model.noise_std)
        in_outage = False
        drop = math.log(max(model.outage_factor, 1e-3))
        for i in range(length_s):
            if in_outage:
                in_outage = uniforms[i] >= leave
            else:
                in_outage = uniforms[i] < model.outage_enter
            x = model.ar_coef * x + shocks[i]
            logs[i] = level + (drop if in_outage else x)
        name = f"{profile}-{seed}-{k:04d}"
        traces.append(Trace(name, times, np.exp(np.array(logs)), profile))
    return traces


@dataclass(frozen=True)
class TraceTable:
    """A trace prepared for download arithmetic: cumulative bits per sample."""

    name: str
    profile: str
    times: list[float]
    rates: list[float]  # bit/s, floored
    bits: list[float]  # cumulative bits at each sample time
    period: float
    total: float

    @classmethod
    def of(cls, trace: Trace, scale: float = 1.0) -> TraceTable:
        """Prepare ``trace`` with every throughput multiplied by ``scale``."""
        step = float(np.median(np.diff(trace.times_s)))
        rates_np = np.maximum(trace.mbps * scale, _FLOOR_MBPS) * 1e6
        bits_np = np.concatenate(
            ([0.0], np.cumsum(rates_np[:-1] * np.diff(trace.times_s)))
        )
        times, rates, bits = trace.times_s.tolist(), rates_np.tolist(), bits_np.tolist()
        return cls(
            trace.name,
            trace.profile,
            times,
            rates,
            bits,
            times[-1] + step,
            bits[-1] + rates[-1] * step,
        )


class TraceCursor:
    """Download arithmetic over one looping trace, in session seconds.

    ``offset_s`` places the session start inside the trace; ``windows`` are
    ``(start, end, factor)`` spans of session time during which throughput is
    multiplied by ``factor`` (a congestion incident), sorted and disjoint.
    """

    __slots__ = ("_bits", "_offset", "_period", "_rates", "_times", "_total", "windows")

    def __init__(
        self,
        table: TraceTable,
        offset_s: float,
        windows: Sequence[tuple[float, float, float]] = (),
    ) -> None:
        self._times = table.times
        self._rates = table.rates
        self._bits = table.bits
        self._period = table.period
        self._total = table.total
        self._offset = offset_s % self._period
        self.windows = list(windows)

    def _cum(self, t: float) -> float:
        """Bits the plain trace delivers from trace time 0 to session time ``t``."""
        x = t + self._offset
        laps, rest = divmod(x, self._period)
        i = bisect_right(self._times, rest) - 1
        return (
            laps * self._total
            + self._bits[i]
            + self._rates[i] * (rest - self._times[i])
        )

    def _inverse(self, cum: float) -> float:
        laps, rest = divmod(cum, self._total)
        i = bisect_right(self._bits, rest) - 1
        x = (
            laps * self._period
            + self._times[i]
            + (rest - self._bits[i]) / self._rates[i]
        )
        return x - self._offset

    def rate_bps(self, t: float) -> float:
        """Instantaneous throughput at session time ``t`` (incidents included)."""
        rest = (t + self._offset) % self._period
        rate = self._rates[bisect_right(self._times, rest) - 1]
        for a, b, factor in self.windows:
            if a <= t < b:
                rate *= factor
        return rate

    def finish(self, t0: float, bits: float) -> float:
        """Session time at which ``bits`` started at ``t0`` are all delivered."""
        t = t0
        for a, b, factor in self.windows:
            if b <= t:
                continue
            if a > t:
                available = self._cum(a) - self._cum(t)
                if available >= bits:
                    break
                bits -= available
                t = a
            available = (self._cum(b) - self._cum(t)) * factor
            if available >= bits:
                return self._inverse(self._cum(t) + bits / factor)
            bits -= available
            t = b
        return self._inverse(self._cum(t) + bits)

    def delivered(self, t0: float, t1: float) -> float:
        """Bits delivered between session times ``t0`` and ``t1``."""
        if t1 <= t0:
            return 0.0
        total = self._cum(t1) - self._cum(t0)
        for a, b, factor in self.windows:
            lo, hi = max(a, t0), min(b, t1)
            if hi > lo:
                total -= (1.0 - factor) * (self._cum(hi) - self._cum(lo))
        return total

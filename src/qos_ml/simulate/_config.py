"""Simulation parameters and injectable incidents, validated in one place."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from qos_ml._errors import ConfigError

__all__ = [
    "CorruptedAsset",
    "DeviceFailure",
    "EdgeDegradation",
    "Incident",
    "IspCongestion",
    "OriginOutage",
    "SimulationConfig",
    "load_incidents",
]

#: A per-title ladder in the style of the classic OTT ladders (kbps).
DEFAULT_LADDER_KBPS: tuple[int, ...] = (
    235, 375, 560, 750, 1050, 1750, 2350, 3000, 4300, 5800,
)  # fmt: skip


class _IncidentBase(BaseModel):
    """Fields every incident has: an id, and a window in simulated seconds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.:-]+$")
    start_s: float = Field(ge=0, description="Offset from the simulation start.")
    end_s: float = Field(gt=0, description="Offset from the simulation start.")

    @model_validator(mode="after")
    def _window(self) -> _IncidentBase:
        if self.end_s <= self.start_s:
            raise ValueError(
                f"end_s ({self.end_s}) must be after start_s ({self.start_s})"
            )
        return self

    def active(self, t: float) -> bool:
        """Tell whether the incident is in force at offset ``t`` (seconds)."""
        return self.start_s <= t < self.end_s

    def scope(self) -> dict[str, Any]:
        """What the incident applies to, for the ground truth."""
        return self.model_dump(exclude={"id", "kind", "start_s", "end_s"}, mode="json")


class EdgeDegradation(_IncidentBase):
    """Edge locations answer slowly and with 5xx errors.

    Parameters
    ----------
    edge_locations : tuple of str
        CloudFront edge location codes (``FRA53``, ``LHR61-C1``).
    extra_latency_ms : float, default 400
        Added to time-to-first-byte of every request served there.
    error_rate : float, default 0.15
        Share of requests answered with 502, 503 or 504.
    """

    kind: Literal["edge_degradation"] = "edge_degradation"
    edge_locations: tuple[str, ...] = Field(min_length=1)
    extra_latency_ms: float = Field(default=400.0, ge=0)
    error_rate: float = Field(default=0.15, ge=0, le=1)


class IspCongestion(_IncidentBase):
    """Viewers of some autonomous systems get a fraction of their throughput.

    Parameters
    ----------
    asns : tuple of int
        Autonomous system numbers of the congested networks.
    throughput_factor : float, default 0.25
        Multiplies the trace throughput while the incident lasts.
    """

    kind: Literal["isp_congestion"] = "isp_congestion"
    asns: tuple[int, ...] = Field(min_length=1)
    throughput_factor: float = Field(default=0.25, gt=0, le=1)


class DeviceFailure(_IncidentBase):
    """A device model's player crashes with a fatal error.

    Parameters
    ----------
    device_models : tuple of str
        Device model names of the simulated population (see ``DEVICES``).
    failures_per_hour : float, default 20
        Hazard rate of a fatal player error per hour of session time.
    """

    kind: Literal["device_failure"] = "device_failure"
    device_models: tuple[str, ...] = Field(min_length=1)
    failures_per_hour: float = Field(default=20.0, gt=0)


class CorruptedAsset(_IncidentBase):
    """Titles whose media cannot be decoded: the CDN serves them, the player fails.

    Parameters
    ----------
    video_ids : tuple of str
        Video ids of the catalog.
    """

    kind: Literal["corrupted_asset"] = "corrupted_asset"
    video_ids: tuple[str, ...] = Field(min_length=1)


class OriginOutage(_IncidentBase):
    """The origin fails: cache misses become 502/504 errors, hits are still served.

    Parameters
    ----------
    error_rate : float, default 1.0
        Share of cache misses that fail.
    """

    kind: Literal["origin_outage"] = "origin_outage"
    error_rate: float = Field(default=1.0, gt=0, le=1)


Incident = Annotated[
    EdgeDegradation | IspCongestion | DeviceFailure | CorruptedAsset | OriginOutage,
    Field(discriminator="kind"),
]

_INCIDENTS_ADAPTER: TypeAdapter[list[Incident]] = TypeAdapter(list[Incident])


class SimulationConfig(BaseModel):
    """What to simulate: how many viewers, for how long, and under which incidents.

    Size a run either by ``sessions`` or by ``duration_s`` (sessions then start
    as a Poisson process whose rate keeps about ``concurrency`` sessions
    running at once). Construct it with :meth:`create` to get
    :class:`~qos_ml.ConfigError` messages naming the field and the value.

    Parameters
    ----------
    seed : int, default 0
        Same seed and parameters give byte-identical output.
    sessions : int, optional
        Number of playback sessions (attempts).
    duration_s : float, optional
        Length of the window in which sessions start, in simulated seconds.
    concurrency : float, default 50
        Average number of sessions running at once.
    start : datetime, default 2026-01-05 18:00 UTC
        Simulated wall-clock time of the first session start (timezone-aware).
    live_share : float, default 0.25
        Share of sessions that watch a live channel.
    catalog_size : int, default 200
        Number of VOD titles.
    viewers : int, optional
        Size of the viewer population; default a third of the expected sessions.
    segment_s : float, default 4.0
        Media segment duration.
    ladder_kbps : tuple of int
        Rendition bitrates, ascending.
    startup_buffer_s : float, default 4.0
        Buffer needed before the first frame (and to resume after a stall).
    max_buffer_s : float, default 30.0
        Buffer target of VOD sessions (live keeps three segments).
    mean_watch_s : float, default 480
        Mean intended watch time of a session.
    completion_share : float, default 0.3
        Share of VOD sessions whose viewer intends to watch to the end.
    startup_patience_s : float, default 10.0
        Median time a viewer waits for the first frame (EBVS beyond it).
    stall_patience_s : float, default 40.0
        Median stall length a viewer bears before leaving.
    seeks_per_hour, pauses_per_hour : float
        Viewer actions per hour of playback (seeks only on VOD).
    start_failure_rate : float, default 0.004
        Baseline share of attempts failing before the first frame.
    playback_failures_per_hour : float, default 0.02
        Baseline hazard of a fatal error during playback.
    throughput_scale : float, default 1.0
        Multiplies every throughput trace (what-if on the network).
    incidents : list of Incident
        Injected incidents (see :func:`default_incidents`).
    legacy_layout : bool, default False
        Write the 26-field (2018) CloudFront standard layout with a doubly
        URL-encoded user agent instead of the 33-field layout.
    rows_per_file : int, default 100000
        Lines per rolling output file.
    distribution_id, distribution_domain : str
        The simulated CloudFront distribution.
    workers : int, optional
        Processes that simulate sessions while this one merges and writes
        their lines; 1 simulates in this process. Default: two when the
        machine has two CPUs or more, but in-process for runs of fewer than
        about a hundred sessions, which workers would not finish sooner. The
        output does not depend on it (nor does the manifest record it).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    seed: int = Field(default=0, ge=0)
    sessions: int | None = Field(default=None, ge=1)
    duration_s: float | None = Field(default=None, gt=0)
    concurrency: float = Field(default=50.0, gt=0)
    start: datetime = datetime(2026, 1, 5, 18, 0, tzinfo=UTC)
    live_share: float = Field(default=0.25, ge=0, le=1)
    catalog_size: int = Field(default=200, ge=1)
    viewers: int | None = Field(default=None, ge=1)
    segment_s: float = Field(default=4.0, ge=1, le=10)
    ladder_kbps: tuple[int, ...] = DEFAULT_LADDER_KBPS
    startup_buffer_s: float = Field(default=4.0, gt=0)
    max_buffer_s: float = Field(default=30.0, gt=0)
    mean_watch_s: float = Field(default=480.0, ge=10)
    completion_share: float = Field(default=0.3, ge=0, le=1)
    startup_patience_s: float = Field(default=10.0, gt=0)
    stall_patience_s: float = Field(default=40.0, gt=0)
    seeks_per_hour: float = Field(default=3.0, ge=0)
    pauses_per_hour: float = Field(default=2.0, ge=0)
    start_failure_rate: float = Field(default=0.004, ge=0, le=1)
    playback_failures_per_hour: float = Field(default=0.02, ge=0)
    throughput_scale: float = Field(default=1.0, gt=0)
    incidents: tuple[Incident, ...] = ()
    legacy_layout: bool = False
    rows_per_file: int = Field(default=100_000, ge=100)
    distribution_id: str = Field(default="E3QSIMQOSML7XZ", pattern=r"^[A-Z0-9]{8,20}$")
    distribution_domain: str = Field(
        default="d2x7k9simqosml.cloudfront.net",
        pattern=r"^[a-z0-9][a-z0-9.-]+\.[a-z]{2,}$",
    )
    workers: int | None = Field(default=None, ge=1, le=64)

    @field_validator("start")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("a timezone-aware datetime (e.g. 2026-01-05T18:00:00Z)")
        return value.astimezone(UTC)

    @field_validator("ladder_kbps")
    @classmethod
    def _ladder(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if len(value) < 2 or any(b <= a for a, b in itertools.pairwise(value)):
            raise ValueError("at least two bitrates, strictly ascending")
        if value[0] < 50:
            raise ValueError("bitrates of at least 50 kbps")
        return value

    @model_validator(mode="after")
    def _size(self) -> SimulationConfig:
        if (self.sessions is None) == (self.duration_s is None):
            raise ValueError("exactly one of sessions or duration_s")
        if self.startup_buffer_s > self.max_buffer_s:
            raise ValueError("startup_buffer_s at most max_buffer_s")
        ids = [incident.id for incident in self.incidents]
        if len(ids) != len(set(ids)):
            raise ValueError(f"incident ids that are unique; got {ids}")
        return self

    @classmethod
    def create(cls, **values: Any) -> SimulationConfig:
        """Build a validated configuration.

        Raises
        ------
        ConfigError
            Naming the field, the value given and what is allowed.

        Examples
        --------
        >>> SimulationConfig.create(sessions=10, seed=3).sessions
        10
        >>> SimulationConfig.create(sessions=0)
        Traceback (most recent call last):
        ...
        qos_ml._errors.ConfigError: configuration key 'sessions' ...
        """
        try:
            return cls(**values)
        except ValidationError as exc:
            raise _config_error(exc, values) from None

    def expected_session_s(self) -> float:
        """Rough mean wall length of a session: watch time plus start-up and stalls."""
        return self.mean_watch_s * 1.1 + 5.0

    def expected_sessions(self) -> int:
        """Number of sessions a run produces (exact when sized by ``sessions``)."""
        if self.sessions is not None:
            return self.sessions
        duration = self.duration_s or 0.0  # set whenever sessions is not (_size)
        return max(1, round(duration * self.concurrency / self.expected_session_s()))

    def span_s(self) -> float:
        """Length of the window in which sessions start, in simulated seconds."""
        if self.duration_s is not None:
            return self.duration_s
        return self.expected_sessions() * self.expected_session_s() / self.concurrency


def _config_error(exc: ValidationError, values: dict[str, Any]) -> ConfigError:
    error = exc.errors()[0]
    loc = [str(p) for p in error["loc"]]
    key = ".".join(loc) or "(model)"
    top = loc[0] if loc else None
    if error["type"] == "extra_forbidden":
        allowed = "one of " + ", ".join(sorted(SimulationConfig.model_fields))
    else:
        allowed = str(error["msg"]).removeprefix("Value error, ")
    value = values.get(top, error.get("input")) if top else "(several fields)"
    if top == "incidents" and len(loc) > 1:
        value = error.get("input")
    return ConfigError(key, value, allowed, "SimulationConfig")


def load_incidents(source: str | Path | list[dict[str, Any]]) -> list[Incident]:
    """Read incidents from a YAML or JSON file, or from a list of mappings.

    A file holds a list of incidents, or a mapping with an ``incidents`` list;
    each incident names its ``kind`` (``edge_degradation``, ``isp_congestion``,
    ``device_failure``, ``corrupted_asset``, ``origin_outage``).

    Raises
    ------
    ConfigError
        When the file is missing or an incident is invalid, naming the field.
    """
    origin = "incidents"
    if isinstance(source, str | Path):
        path = Path(source)
        origin = str(path)
        if not path.is_file():
            raise ConfigError("incidents", str(path), "an existing YAML or JSON file")
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise ConfigError(
                "incidents", str(path), f"valid YAML/JSON: {exc}"
            ) from exc
    else:
        data = source
    if isinstance(data, dict):
        data = data.get("incidents")
    if not isinstance(data, list):
        raise ConfigError(
            "incidents", type(data).__name__, "a list of incidents", origin
        )
    try:
        return _INCIDENTS_ADAPTER.validate_python(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        key = "incidents." + ".".join(str(p) for p in error["loc"])
        msg = str(error["msg"]).removeprefix("Value error, ")
        raise ConfigError(key, error.get("input"), msg, origin) from None

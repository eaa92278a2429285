"""Declared features, labels and feature sets, and the registry that names them.

A :class:`Feature` is data, not code: its entity, source table, look-back
window and a Spark SQL aggregate expression over the source's prepared columns
(see :data:`SOURCE_COLUMNS`). The same declaration is computed over historical
Delta tables for training and over the live stream for serving (both paths run
:func:`qos_ml.features.compute_features`), which is what keeps the two equal.

A *derived* feature has no source: its expression combines other features of
the same row (``coalesce(buffer_level_cmcd_s, ...)``).
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace

from qos_ml._errors import ConfigError, PluginError

__all__ = [
    "DTYPES",
    "ENTITIES",
    "RESERVED_COLUMNS",
    "ROW_KEYS",
    "SOURCES",
    "Feature",
    "FeatureRegistry",
    "FeatureSet",
    "Label",
    "ObservationPolicy",
    "document_feature_set",
]

#: Entities a feature describes, and the column holding the entity's key in the
#: prepared rows of each source it can be computed from.
ENTITIES: dict[str, dict[str, str]] = {
    "session": {
        "silver.player_events": "session_key",
        "silver.cdn_requests": "cmcd_sid",
    },
    "viewer": {"silver.player_events": "user_id_hash"},
    "video": {"silver.player_events": "video_id", "silver.cdn_requests": "cmcd_cid"},
    "edge_location": {
        "silver.player_events": "edge_location",
        "silver.cdn_requests": "edge_location",
    },
    "asn": {"silver.player_events": "viewer_asn", "silver.cdn_requests": "viewer_asn"},
}

#: Column of an observation row holding each entity's key at the row's time.
ENTITY_ROW_KEYS: dict[str, str] = {
    "session": "session_key",
    "viewer": "user_id_hash",
    "video": "video_id",
    "edge_location": "edge_location",
    "asn": "viewer_asn",
}

#: Columns identifying a feature row and the entities it is on at its time;
#: no feature may take these names, nor those of label and bookkeeping columns.
ROW_KEYS = (
    "session_key",
    "obs_time",
    "video_id",
    "user_id_hash",
    "edge_location",
    "viewer_asn",
)
RESERVED_COLUMNS = (
    *ROW_KEYS,
    "label",
    "label_lead_s",
    "sample_weight",
    "training_set_id",
)

#: Source tables and the columns derived for feature expressions, besides the
#: silver columns themselves (``src/qos_ml/_tables.py``) and ``_t`` (event
#: time in epoch seconds) and ``_obs_t`` (the observation time, same unit).
SOURCES: dict[str, dict[str, str]] = {
    "silver.player_events": {
        "session_key": "session_id, else '<user_id_hash>:<video_id>'",
        "is_stall": "a BUFFER event other than the FirstBuffer, not caused by a seek",
        "stall_s": "stall length in seconds (BUFFER time_ms / 1000)",
        "stall_start_t": "stall start (event time minus its length), epoch seconds",
        "is_fatal_error": "an ERROR event flagged fatal (a missing flag counts)",
        "is_error": "any ERROR event",
        "is_downshift": "a STEP to a lower bitrate",
        "startup_s": "FIRSTFRAME startup time in seconds",
        "edge_location": "edge of the CDN request named by cdn_tracking_id",
        "viewer_asn": "ASN of the CDN request named by cdn_tracking_id",
    },
    "silver.cdn_requests": {
        "throughput_kbps": "CMCD mtp where present, else bytes_sent x 8 / time_taken",
        "buffer_level_s": "CMCD bl / 1000",
        "media_s": "media seconds delivered: CMCD d / 1000 of a media object (ot "
        "a, v, av) answered below 400",
        "is_error": "status >= 400 or 0 (viewer closed the connection)",
        "is_5xx": "status 500-599",
        "is_miss": "result type Miss (not Hit or RefreshHit)",
        "is_starved": "CMCD bs: buffer starvation since the previous request",
    },
}

#: Allowed feature and label data types (Spark simple type names).
DTYPES = ("double", "long", "string", "boolean")

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_VERSION = re.compile(r"^\d+(\.\d+)*$")


def _check_name(value: object, what: str) -> str:
    if not isinstance(value, str) or not _NAME.match(value) or keyword.iskeyword(value):
        raise ConfigError(
            "name", value, f"a lower-case identifier for a {what} (a-z, 0-9, _)", what
        )
    return value


@dataclass(frozen=True)
class Feature:
    """One feature: what it means, where it comes from and how it is computed.

    Parameters
    ----------
    name : str
        Column name in feature rows: a lower-case identifier.
    description : str
        One sentence a person reads in the generated documentation.
    entity : {"session", "viewer", "video", "edge_location", "asn"}
        What the value describes. Session features use the row's own session;
        the others use the entity the session is on at the row's time (its
        video, its latest edge location and ASN).
    expression : str
        Spark SQL. For a source feature an aggregate over the prepared rows of
        ``source`` that fall in the window (``count_if(is_stall)``); for a
        derived feature an expression over the row's other features.
    source : str, optional
        ``"silver.player_events"`` or ``"silver.cdn_requests"``; ``None`` for a
        derived feature.
    window_s : float, optional
        Look-back in seconds: rows with ``t - window_s < event time <= t``.
        ``None`` means the whole look-back of the engine (the session so far,
        at most ``lookback_s`` of :func:`compute_features`).
    dtype : {"double", "long", "string", "boolean"}, default "double"
    default : float or bool or str, optional
        Value when no source row falls in the window (0 for counts); ``None``
        leaves a null, which models treat as missing.
    inputs : tuple of str, default ()
        Features a derived feature reads; they must come earlier in its set.

    Examples
    --------
    >>> Feature(
    ...     "stalls_last_5m", "Stalls in the last five minutes.", "session",
    ...     "count_if(is_stall)", source="silver.player_events", window_s=300,
    ...     dtype="long", default=0,
    ... ).window_label
    '5m'
    """

    name: str
    description: str
    entity: str
    expression: str
    source: str | None = None
    window_s: float | None = None
    dtype: str = "double"
    default: float | bool | str | None = None
    inputs: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        where = f"feature {self.name!r}"
        _check_name(self.name, "feature")
        if self.entity not in ENTITIES:
            raise ConfigError(
                "entity", self.entity, f"one of {sorted(ENTITIES)}", where
            )
        if self.dtype not in DTYPES:
            raise ConfigError("dtype", self.dtype, f"one of {DTYPES}", where)
        if not isinstance(self.expression, str) or not self.expression.strip():
            raise ConfigError("expression", self.expression, "Spark SQL text", where)
        object.__setattr__(self, "inputs", tuple(self.inputs))
        if self.source is None:
            if not self.inputs or self.window_s is not None:
                raise ConfigError(
                    "inputs",
                    self.inputs,
                    "a derived feature (no source) names its input features and "
                    "has no window",
                    where,
                )
            return
        allowed = ENTITIES[self.entity]
        if self.source not in allowed:
            raise ConfigError(
                "source",
                self.source,
                f"for entity {self.entity!r} one of {sorted(allowed)}",
                where,
            )
        if self.window_s is not None and not (
            isinstance(self.window_s, int | float) and self.window_s > 0
        ):
            raise ConfigError(
                "window_s", self.window_s, "a number of seconds > 0, or None", where
            )

    @property
    def derived(self) -> bool:
        """True when the feature combines other features instead of a source."""
        return self.source is None

    @property
    def categorical(self) -> bool:
        """True for string features (one-hot encoded by the training pipeline)."""
        return self.dtype == "string"

    @property
    def window_label(self) -> str:
        """Window for people: ``30s``, ``5m``, ``so far`` or ``-`` (derived)."""
        if self.derived:
            return "-"
        if self.window_s is None:
            return "so far"
        seconds = float(self.window_s)
        if seconds % 3600 == 0:
            return f"{seconds / 3600:g}h"
        if seconds % 60 == 0:
            return f"{seconds / 60:g}m"
        return f"{seconds:g}s"


@dataclass(frozen=True)
class Label:
    """A declared training label: an outcome after the row's time.

    Parameters
    ----------
    name : str
        ``"stall"`` or ``"failure"`` for the built-ins.
    description : str
        What a positive row means.
    kind : {"stall", "failure"}
        ``stall``: a stall not caused by a seek starts in ``(t, t + H]``.
        ``failure``: the view's next ending (STOP or fatal ERROR) after ``t``
        is a fatal error (a start or playback failure), within ``(t, t + H]``,
        or at any time before the view ends when ``horizon_s`` is ``None``.
    horizon_s : float, optional
        ``H`` in seconds; ``None`` (failure only) means by the end of the view.
    """

    name: str
    description: str
    kind: str
    horizon_s: float | None = 30.0

    def __post_init__(self) -> None:
        where = f"label {self.name!r}"
        _check_name(self.name, "label")
        if self.kind not in ("stall", "failure"):
            raise ConfigError("kind", self.kind, "'stall' or 'failure'", where)
        if self.horizon_s is None:
            if self.kind == "stall":
                raise ConfigError(
                    "horizon_s",
                    None,
                    "a number of seconds > 0 for a stall label",
                    where,
                )
        elif not (isinstance(self.horizon_s, int | float) and self.horizon_s > 0):
            raise ConfigError("horizon_s", self.horizon_s, "seconds > 0 or None", where)

    def with_horizon(self, horizon_s: float | None) -> Label:
        """Return the same label with another horizon ``H``."""
        return replace(self, horizon_s=horizon_s)

    @property
    def column(self) -> str:
        """Column name of the label in training rows: ``label_<name>``."""
        return f"label_{self.name}"


@dataclass(frozen=True)
class ObservationPolicy:
    """When a session gets a feature row.

    Parameters
    ----------
    every_s : float, optional, default 10
        Grid step: a session gets a row at each multiple ``g`` of ``every_s``
        (epoch seconds) such that it sent one of ``event_types`` in
        ``(g - every_s, g]``. ``None``: a row at each such event's own time.
    event_types : tuple of str
        Player events that make a session observable. The default covers
        start-up (PLAY) and play; STOP and ERROR end a view and are left out.
    """

    every_s: float | None = 10.0
    event_types: tuple[str, ...] = (
        "PLAY",
        "FIRSTFRAME",
        "STREAM",
        "STEP",
        "SEEK",
        "BUFFER",
    )

    def __post_init__(self) -> None:
        if self.every_s is not None and not (
            isinstance(self.every_s, int | float) and self.every_s > 0
        ):
            raise ConfigError(
                "every_s", self.every_s, "seconds > 0, or None", "ObservationPolicy"
            )
        object.__setattr__(self, "event_types", tuple(self.event_types))
        if not self.event_types:
            raise ConfigError(
                "event_types", (), "at least one player event type", "ObservationPolicy"
            )


@dataclass(frozen=True)
class FeatureSet:
    """A named, versioned list of features: the input of one model.

    Parameters
    ----------
    name : str
    version : str
        ``"1"``, ``"1.2"``: bump it whenever a definition changes, so that a
        model's training rows can be matched to the definitions that made them.
    features : sequence of Feature
        In model input order; a derived feature after its inputs.
    description : str, default ""
    default_label : str, optional
        Name of the label the set is meant for (``"stall"``).
    """

    name: str
    version: str
    features: tuple[Feature, ...]
    description: str = ""
    default_label: str | None = None
    _by_name: Mapping[str, Feature] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        where = f"feature set {self.name!r}"
        _check_name(self.name, "feature set")
        if not isinstance(self.version, str) or not _VERSION.match(self.version):
            raise ConfigError(
                "version", self.version, "digits and dots, e.g. '1.2'", where
            )
        object.__setattr__(self, "features", tuple(self.features))
        by_name: dict[str, Feature] = {}
        for feature in self.features:
            if feature.name in RESERVED_COLUMNS:
                raise ConfigError(
                    "features",
                    feature.name,
                    f"a name other than the row columns {RESERVED_COLUMNS}",
                    where,
                )
            if feature.name in by_name:
                raise ConfigError(
                    "features", feature.name, "each feature name once per set", where
                )
            missing = [i for i in feature.inputs if i not in by_name]
            if missing:
                raise ConfigError(
                    "inputs",
                    missing,
                    f"features listed before {feature.name!r} in the set",
                    where,
                )
            by_name[feature.name] = feature
        if not by_name:
            raise ConfigError("features", (), "at least one feature", where)
        object.__setattr__(self, "_by_name", by_name)

    def __iter__(self) -> Iterator[Feature]:
        return iter(self.features)

    def __len__(self) -> int:
        return len(self.features)

    def __getitem__(self, name: str) -> Feature:
        try:
            return self._by_name[name]
        except KeyError:
            raise PluginError(
                f"feature set {self.name!r} has no feature {name!r}; it has "
                f"{', '.join(self._by_name)}"
            ) from None

    @property
    def names(self) -> tuple[str, ...]:
        """Feature names in model input order."""
        return tuple(self._by_name)

    @property
    def numeric(self) -> tuple[str, ...]:
        """Names of the non-string features."""
        return tuple(f.name for f in self.features if not f.categorical)

    @property
    def categorical(self) -> tuple[str, ...]:
        """Names of the string features."""
        return tuple(f.name for f in self.features if f.categorical)

    @property
    def max_window_s(self) -> float | None:
        """Longest bounded window of the set's source features."""
        windows = [f.window_s for f in self.features if f.window_s is not None]
        return max(windows) if windows else None

    def extend(
        self,
        features: Iterable[Feature],
        *,
        name: str | None = None,
        version: str | None = None,
        description: str | None = None,
    ) -> FeatureSet:
        """Return a new set with more features (the library's sets stay as they are).

        Parameters
        ----------
        features : iterable of Feature
            Appended after the existing features.
        name, version, description : str, optional
            Of the new set; default: this set's name and version with ``.1``
            appended (an extension is a new version).
        """
        return FeatureSet(
            name=name or self.name,
            version=version or f"{self.version}.1",
            features=(*self.features, *features),
            description=self.description if description is None else description,
            default_label=self.default_label,
        )


class FeatureRegistry:
    """Named feature sets and labels; built-ins plus whatever a user registers.

    Examples
    --------
    >>> from qos_ml.features import FEATURE_SETS
    >>> "buffering" in FEATURE_SETS.set_names()
    True
    """

    def __init__(self) -> None:
        self._sets: dict[str, FeatureSet] = {}
        self._labels: dict[str, Label] = {}

    def register(self, feature_set: FeatureSet, *, replace: bool = False) -> FeatureSet:
        """Add a feature set; refuse to replace a different one silently.

        Raises
        ------
        PluginError
            When a different set of that name exists and ``replace`` is false.
        """
        old = self._sets.get(feature_set.name)
        if old is not None and old != feature_set and not replace:
            raise PluginError(
                f"feature set {feature_set.name!r} (version {old.version}) is "
                "registered already; pass replace=True or choose another name"
            )
        self._sets[feature_set.name] = feature_set
        return feature_set

    def register_label(self, label: Label, *, replace: bool = False) -> Label:
        """Add a label definition.

        Raises
        ------
        PluginError
            When a different label of that name exists and ``replace`` is false.
        """
        old = self._labels.get(label.name)
        if old is not None and old != label and not replace:
            raise PluginError(
                f"label {label.name!r} is registered already; pass replace=True"
            )
        self._labels[label.name] = label
        return label

    def get(self, name: str | FeatureSet) -> FeatureSet:
        """Return a feature set by name (a :class:`FeatureSet` passes through).

        Raises
        ------
        PluginError
            Listing the known set names.
        """
        if isinstance(name, FeatureSet):
            return name
        try:
            return self._sets[name]
        except (KeyError, TypeError):
            raise PluginError(
                f"unknown feature set {name!r}; known sets: "
                f"{', '.join(sorted(self._sets)) or 'none'}"
            ) from None

    def label(
        self, name: str | Label, horizon_s: float | str | None = "default"
    ) -> Label:
        """Return a label by name, optionally with another horizon.

        Raises
        ------
        PluginError
            Listing the known label names.
        """
        if isinstance(name, Label):
            found = name
        else:
            try:
                found = self._labels[name]
            except (KeyError, TypeError):
                raise PluginError(
                    f"unknown label {name!r}; known labels: "
                    f"{', '.join(sorted(self._labels)) or 'none'}"
                ) from None
        if horizon_s == "default":
            return found
        return found.with_horizon(horizon_s)  # type: ignore[arg-type]

    def set_names(self) -> list[str]:
        """Registered set names, sorted."""
        return sorted(self._sets)

    def label_names(self) -> list[str]:
        """Registered label names, sorted."""
        return sorted(self._labels)

    def __contains__(self, name: object) -> bool:
        return name in self._sets


def document_feature_set(feature_set: FeatureSet) -> str:
    """Render a feature set as a Markdown table (for a README or generated docs).

    Parameters
    ----------
    feature_set : FeatureSet

    Returns
    -------
    str
        A heading with the set's name and version, its description, and one
        table row per feature: name, entity, source, window, type, definition.
    """

    def cell(text: object) -> str:
        return str(text).replace("|", "\\|").replace("\n", " ")

    lines = [
        f"### Feature set `{feature_set.name}` (version {feature_set.version})",
        "",
    ]
    if feature_set.description:
        lines += [feature_set.description, ""]
    lines += [
        "| feature | entity | source | window | type | description | expression |",
        "|---|---|---|---|---|---|---|",
    ]
    for f in feature_set:
        source = f.source or "derived: " + ", ".join(f.inputs)
        lines.append(
            f"| `{f.name}` | {f.entity} | {cell(source)} | {f.window_label} | "
            f"{f.dtype} | {cell(f.description)} | `{cell(f.expression)}` |"
        )
    return "\n".join(lines) + "\n"

"""The one feature engine: point-in-time feature rows from silver events.

Batch training sets and the live stream both call :func:`compute_features` on
prepared events (:func:`prepare_player_events`, :func:`prepare_cdn_requests`)
and observation points (:func:`observation_points`). A feature at time ``t``
aggregates the rows of its source whose event time is in ``(t - window, t]``:
nothing after ``t`` is ever joined, which is the point-in-time guarantee.

Labels (:func:`attach_labels`) are the only step that looks after ``t``, and
only strictly after it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from qos_ml._errors import ConfigError, SchemaMismatchError
from qos_ml.features._builtin import FEATURE_SETS
from qos_ml.features._definitions import (
    ENTITIES,
    ENTITY_ROW_KEYS,
    ROW_KEYS,
    Feature,
    FeatureSet,
    Label,
    ObservationPolicy,
)
from qos_ml.features._running import RunningForm, running_form
from qos_ml.qoe._views import seek_explains_stall, stall_start_us

__all__ = [
    "DEFAULT_LOOKBACK_S",
    "ENRICH_LOOKBACK_S",
    "ROW_KEYS",
    "attach_labels",
    "compute_features",
    "observation_points",
    "prepare_cdn_requests",
    "prepare_player_events",
    "required_history_s",
]

logger = logging.getLogger(__name__)

#: How far back "so far" features look (the longest session we follow), seconds.
DEFAULT_LOOKBACK_S = 4 * 3600.0
#: How far before a player event its CDN request (``cdn_tracking_id``) may be.
ENRICH_LOOKBACK_S = 120.0
#: Window after a seek in which a stall counts as caused by it (as in qos_ml.qoe).
SEEK_WINDOW_S = 2.0
#: Margin of the time buckets of the window join over floating-point rounding, s.
_BUCKET_SLACK_S = 1e-3

_PLAYER = "silver.player_events"
_CDN = "silver.cdn_requests"
_PLAYER_NEEDS = ("event_id", "event_type", "event_time", "user_id_hash", "video_id")
_CDN_NEEDS = ("request_id", "request_time", "status", "edge_location", "viewer_asn")


def _require(df: DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise SchemaMismatchError(
            f"{what} needs columns {missing}, which the DataFrame lacks; "
            f"it has {df.columns}"
        )


def _epoch_s(ts: str) -> Column:
    return F.unix_micros(F.col(ts)) / F.lit(1_000_000.0)


def prepare_cdn_requests(cdn: DataFrame) -> DataFrame:
    """Add the derived columns CDN features use (``SOURCES``) to silver CDN rows.

    Parameters
    ----------
    cdn : DataFrame
        Rows of ``silver.cdn_requests`` (batch or streaming).

    Returns
    -------
    DataFrame
        The rows with a request time, plus ``_t`` and the derived columns.
    """
    _require(cdn, _CDN_NEEDS, "prepare_cdn_requests")
    status = F.col("status")
    time_taken = F.col("time_taken_s")
    measured = F.when(
        time_taken > 0, F.col("bytes_sent") * F.lit(8.0) / time_taken / F.lit(1000.0)
    )
    is_media = F.lower(F.col("cmcd_ot")).isin("a", "v", "av")
    return cdn.where(F.col("request_time").isNotNull()).select(
        "*",
        _epoch_s("request_time").alias("_t"),
        F.coalesce(F.col("cmcd_mtp_kbps").cast("double"), measured).alias(
            "throughput_kbps"
        ),
        (F.col("cmcd_bl_ms") / F.lit(1000.0)).alias("buffer_level_s"),
        F.when(
            is_media & (status > 0) & (status < 400),
            F.col("cmcd_d_ms") / F.lit(1000.0),
        ).alias("media_s"),
        ((status >= 400) | (status == 0)).alias("is_error"),
        ((status >= 500) & (status < 600)).alias("is_5xx"),
        (F.lower(F.col("result_type")) == "miss").alias("is_miss"),
        F.coalesce(F.col("cmcd_bs"), F.lit(False)).alias("is_starved"),
    )


def prepare_player_events(
    player: DataFrame,
    cdn_prepared: DataFrame,
    *,
    seek_window_s: float = SEEK_WINDOW_S,
) -> DataFrame:
    """Add the derived columns player features use (``SOURCES``) to silver events.

    A stall (``is_stall``) is a BUFFER event other than the ``FirstBuffer``
    that did not start within ``seek_window_s`` after a SEEK of its session; a
    BUFFER event is sent when the stall ends, so the stall started ``time_ms``
    earlier. Each event is placed on the edge location and ASN of the CDN
    request it names (``cdn_tracking_id``), looked up among requests made at
    most :data:`ENRICH_LOOKBACK_S` before it.

    Parameters
    ----------
    player : DataFrame
        Rows of ``silver.player_events``.
    cdn_prepared : DataFrame
        Output of :func:`prepare_cdn_requests`.
    seek_window_s : float, default 2.0

    Returns
    -------
    DataFrame
    """
    _require(player, _PLAYER_NEEDS, "prepare_player_events")
    event_type = F.col("event_type")
    events = player.where(F.col("event_time").isNotNull()).select(
        "*",
        _epoch_s("event_time").alias("_t"),
        F.coalesce(
            F.col("session_id"), F.concat_ws(":", "user_id_hash", "video_id")
        ).alias("session_key"),
    )
    buffer_s = F.coalesce(F.col("time_ms"), F.lit(0.0)) / F.lit(1000.0)
    raw_stall = (event_type == "BUFFER") & (
        F.coalesce(F.col("buffer_type"), F.lit("")) != "FirstBuffer"
    )
    events = events.select(
        "*",
        F.when(raw_stall, buffer_s).alias("stall_s"),
        F.when(raw_stall, F.col("_t") - buffer_s).alias("stall_start_t"),
        F.when(
            raw_stall, stall_start_us(F.unix_micros("event_time"), F.col("time_ms"))
        ).alias("_stall_start_us"),
        ((event_type == "ERROR") & F.coalesce(F.col("error_fatal"), F.lit(True))).alias(
            "is_fatal_error"
        ),
        (event_type == "ERROR").alias("is_error"),
        (
            (event_type == "STEP")
            & (
                (F.upper(F.col("direction")) == "DOWN")
                | (F.col("bitrate_to_kbps") < F.col("bitrate_from_kbps"))
            )
        ).alias("is_downshift"),
        F.when(event_type == "FIRSTFRAME", F.col("time_ms") / F.lit(1000.0)).alias(
            "startup_s"
        ),
    )

    # Seek-induced stalls: a SEEK of the session shortly before the stall began.
    # The rule of the views (qos_ml.qoe), in exact microseconds.
    seeks = events.where(event_type == "SEEK").select(
        F.col("session_key").alias("_seek_session"),
        F.unix_micros("event_time").alias("_seek_us"),
    )
    stalls = events.where(F.col("stall_start_t").isNotNull()).select(
        "event_id", "session_key", "_stall_start_us"
    )
    window_us = F.lit(round(seek_window_s * 1_000_000)).cast("long")
    induced = (
        stalls.join(
            seeks,
            (F.col("_seek_session") == F.col("session_key"))
            & seek_explains_stall(
                F.col("_stall_start_us"), F.col("_seek_us"), window_us
            ),
        )
        .select("event_id")
        .distinct()
        .withColumn("_seek_induced", F.lit(True))
    )
    events = events.join(induced, "event_id", "left").withColumn(
        "is_stall",
        F.col("stall_start_t").isNotNull()
        & ~F.coalesce(F.col("_seek_induced"), F.lit(False)),
    )

    # Where the event was served from: its CDN request's edge and ASN.
    served = cdn_prepared.groupBy(F.col("request_id").alias("_rid")).agg(
        F.max_by("edge_location", "_t").alias("edge_location"),
        F.max_by("viewer_asn", "_t").alias("viewer_asn"),
        F.max("_t").alias("_rid_t"),
    )
    events = events.join(
        served,
        (F.col("cdn_tracking_id") == F.col("_rid"))
        & (F.col("_rid_t") <= F.col("_t"))
        & (F.col("_rid_t") > F.col("_t") - F.lit(ENRICH_LOOKBACK_S)),
        "left",
    )
    return events.drop("_seek_induced", "_stall_start_us", "_rid", "_rid_t")


def observation_points(
    player_prepared: DataFrame,
    policy: ObservationPolicy | None = None,
    *,
    after_s: float | None = None,
    until_s: float | None = None,
) -> DataFrame:
    """Return the (session, time) pairs that get a feature row.

    Parameters
    ----------
    player_prepared : DataFrame
        Output of :func:`prepare_player_events`.
    policy : ObservationPolicy, optional
        Default: a row every 10 s while the session plays or starts.
    after_s, until_s : float, optional
        Keep points with ``after_s < t <= until_s`` (epoch seconds); the stream
        uses them to emit each point once, when its time has passed.

    Returns
    -------
    DataFrame
        ``session_key``, ``_obs_t`` (epoch seconds), ``obs_time`` (timestamp),
        ``video_id`` and ``user_id_hash`` (of the latest observed event).
    """
    policy = policy or ObservationPolicy()
    events = player_prepared.where(F.col("event_type").isin(*policy.event_types))
    if policy.every_s is None:
        obs_t = F.col("_t")
    else:
        step = F.lit(float(policy.every_s))
        obs_t = (F.ceil(F.col("_t") / step) * step).cast("double")
    points = events.groupBy("session_key", obs_t.alias("_obs_t")).agg(
        F.max_by("video_id", "_t").alias("video_id"),
        F.max_by("user_id_hash", "_t").alias("user_id_hash"),
    )
    if after_s is not None:
        points = points.where(F.col("_obs_t") > F.lit(float(after_s)))
    if until_s is not None:
        points = points.where(F.col("_obs_t") <= F.lit(float(until_s)))
    return points.withColumn("obs_time", F.timestamp_seconds("_obs_t"))


def _targets(points: DataFrame, row_key: str) -> DataFrame:
    """Distinct (entity key ``_k``, ``_obs_t``) pairs of the points."""
    return (
        points.select(F.col(row_key).alias("_k"), "_obs_t")
        .where(F.col("_k").isNotNull())
        .distinct()
    )


def _in_window(source_key: str, window_s: float) -> Column:
    return (
        (F.col(source_key) == F.col("_k"))
        & (F.col("_t") <= F.col("_obs_t"))
        & (F.col("_t") > F.col("_obs_t") - F.lit(float(window_s)))
    )


def _agg(named: Sequence[tuple[str, str]]) -> list[Column]:
    return [F.expr(expression).alias(name) for name, expression in named]


def _range_join(
    targets: DataFrame,
    events: DataFrame,
    source_key: str,
    window_s: float,
    named: Sequence[tuple[str, str]],
) -> DataFrame:
    """Reference: join each target to every event of its key, then check the range.

    Spark sort-merge joins on the key alone and tests the range for every
    (target, event) pair of a key: the definition, kept to test the fast path
    against (:func:`_compute_features` with ``optimised=False``).
    """
    return (
        targets.join(events, _in_window(source_key, window_s))
        .groupBy("_k", "_obs_t")
        .agg(*_agg(named))
    )


def _bucketed_join(
    targets: DataFrame,
    events: DataFrame,
    source_key: str,
    window_s: float,
    named: Sequence[tuple[str, str]],
) -> DataFrame:
    """The range join, equi-joined on (key, time bucket) as well.

    A target at ``t`` is in bucket ``floor(t / window_s)``; an event at ``e``
    is copied into every bucket from ``floor((e - slack) / window_s)`` to
    ``floor((e + window_s + slack) / window_s)`` (two, at most three), which
    holds every bucket of a target whose window ``(t - window_s, t]`` contains
    ``e`` (``slack`` absorbs floating-point rounding of the quotients). The
    exact range condition is still applied, and an event meets a target in one
    bucket only, so the aggregates see exactly the rows of the plain range join,
    while the pairs tested shrink from (targets x events) per key to those at
    most two windows apart.
    """
    width = F.lit(float(window_s))
    slack = F.lit(_BUCKET_SLACK_S)
    t = F.col("_t")
    copies = events.where(F.col(source_key).isNotNull() & t.isNotNull()).withColumn(
        "_bucket",
        F.explode(
            F.sequence(
                F.floor((t - slack) / width), F.floor((t + width + slack) / width)
            )
        ),
    )
    placed = targets.withColumn("_obs_bucket", F.floor(F.col("_obs_t") / width))
    return (
        placed.join(
            copies,
            (F.col("_bucket") == F.col("_obs_bucket"))
            & _in_window(source_key, window_s),
        )
        .groupBy("_k", "_obs_t")
        .agg(*_agg(named))
    )


def _running(
    targets: DataFrame,
    events: DataFrame,
    source_key: str,
    window_s: float,
    named: Sequence[tuple[str, str]],
    forms: Sequence[RunningForm],
) -> DataFrame:
    """Compute "so far" features as running aggregates picked as of each target.

    Valid for the keys whose every event is inside the window of the key's
    latest target (``first event > last target - window_s``): then the window
    of any target of the key holds exactly the key's events up to the target,
    which a window aggregate ordered by time (``RANGE`` frame: events at the
    same time count together) computes in one pass. The other keys' targets go
    through :func:`_bucketed_join`.
    """
    keyed = events.where(F.col(source_key).isNotNull() & F.col("_t").isNotNull())
    keyed = keyed.withColumn("_k", F.col(source_key))
    first = keyed.groupBy("_k").agg(F.min("_t").alias("_first_t"))
    last = targets.groupBy("_k").agg(F.max("_obs_t").alias("_last_obs_t"))
    late = (
        last.join(first, "_k")
        .where(~(F.col("_first_t") > F.col("_last_obs_t") - F.lit(float(window_s))))
        .select("_k")
    )
    calls: list[str] = []
    for form in forms:
        calls += [c for c in form.calls if c not in calls]
    upto = (
        Window.partitionBy("_k")
        .orderBy("_t")
        .rangeBetween(Window.unboundedPreceding, Window.currentRow)
    )
    running = keyed.join(late, "_k", "left_anti").select(
        "_k",
        "_t",
        F.struct(
            *(F.expr(call).over(upto).alias(f"_c{i}") for i, call in enumerate(calls))
        ).alias("_v"),
        F.lit(0).alias("_pt"),
    )
    marks = (
        targets.join(late, "_k", "left_anti")
        .withColumn("_t", F.col("_obs_t"))
        .withColumn("_pt", F.lit(1))
    )
    # As of each target: the running values of the key's last event at or
    # before it (events sort before a target at the same time).
    asof = (
        Window.partitionBy("_k")
        .orderBy("_t", "_pt")
        .rowsBetween(Window.unboundedPreceding, Window.currentRow)
    )
    picked = (
        running.unionByName(marks, allowMissingColumns=True)
        .select(
            "_k", "_obs_t", "_pt", F.last("_v", ignorenulls=True).over(asof).alias("_v")
        )
        .where(F.col("_pt") == 1)
    )
    names = []
    for (name, _expression), form in zip(named, forms, strict=True):
        slots = {
            f"_a{i}": F.col("_v").getField(f"_c{calls.index(call)}")
            for i, call in enumerate(form.calls)
        }
        # No event up to the target: no value, as the join gives no row.
        picked = (
            picked.withColumns(slots)
            .withColumn(name, F.when(F.col("_v").isNotNull(), F.expr(form.outer)))
            .drop(*slots)
        )
        names.append(name)
    fallback = _bucketed_join(
        targets.join(late, "_k", "left_semi"), events, source_key, window_s, named
    )
    return picked.select("_k", "_obs_t", *names).unionByName(fallback)


def _aggregate(
    points: DataFrame,
    events: DataFrame,
    entity: str,
    source: str,
    window_s: float,
    named: Sequence[tuple[str, str]],
    *,
    running: bool = False,
    optimised: bool = True,
) -> list[DataFrame]:
    """Aggregate each entity's events in ``(t - window_s, t]`` per (entity, t).

    Aggregating per distinct (entity key, time) rather than per point keeps the
    join small for shared entities (edge locations, ASNs, videos): sessions on
    the same grid share their rows. Returns frames of the entity's row key,
    ``_obs_t`` and one column per ``(name, expression)``; a target without an
    event in its window has no row or nulls. ``running``: the window is the
    "so far" look-back; features whose expression allows it
    (:func:`running_form`) are computed as running aggregates.
    """
    # TODO(#6): "so far" features that running_form refuses (DISTINCT, _obs_t
    # inside an aggregate, functions it does not know) still take the range
    # join, quadratic in a session's length.
    row_key = ENTITY_ROW_KEYS[entity]
    source_key = ENTITIES[entity][source]
    targets = _targets(points, row_key)
    if not optimised:
        found = [_range_join(targets, events, source_key, window_s, named)]
        return [df.withColumnRenamed("_k", row_key) for df in found]
    forms = {name: running_form(e) for name, e in named} if running else {}
    fast = [(n, e, form) for n, e in named if (form := forms.get(n)) is not None]
    slow = [(n, e) for n, e in named if forms.get(n) is None]
    found = []
    if fast:
        found.append(
            _running(
                targets,
                events,
                source_key,
                window_s,
                [(n, e) for n, e, _form in fast],
                [form for _n, _e, form in fast],
            )
        )
    if slow:
        found.append(_bucketed_join(targets, events, source_key, window_s, slow))
    return [df.withColumnRenamed("_k", row_key) for df in found]


def _groups(
    features: Iterable[Feature], lookback_s: float
) -> dict[tuple[str, str, float], list[Feature]]:
    groups: dict[tuple[str, str, float], list[Feature]] = {}
    for feature in features:
        if feature.derived:
            continue
        source = str(feature.source)
        window = float(feature.window_s) if feature.window_s else lookback_s
        if window > lookback_s:
            raise ConfigError(
                "window_s",
                feature.window_s,
                f"at most the look-back of {lookback_s:g} s (feature {feature.name!r})",
                "compute_features",
            )
        groups.setdefault((feature.entity, source, window), []).append(feature)
    return groups


def required_history_s(feature_set: FeatureSet, lookback_s: float) -> float:
    """Seconds of events before a row's time that its features may read.

    The stream keeps this much history (plus the enrichment look-back) so that
    it sees every event the batch computation would.
    """
    windows = [float(f.window_s or lookback_s) for f in feature_set if not f.derived]
    return max([lookback_s, *windows]) + ENRICH_LOOKBACK_S + SEEK_WINDOW_S


def compute_features(
    points: DataFrame,
    player_prepared: DataFrame,
    cdn_prepared: DataFrame,
    feature_set: FeatureSet | str,
    *,
    lookback_s: float = DEFAULT_LOOKBACK_S,
) -> DataFrame:
    """Compute every feature of a set at each observation point, point in time.

    Parameters
    ----------
    points : DataFrame
        Output of :func:`observation_points`.
    player_prepared, cdn_prepared : DataFrame
        Outputs of :func:`prepare_player_events` and :func:`prepare_cdn_requests`.
    feature_set : FeatureSet or str
        A set or the name of a registered one.
    lookback_s : float, default 4 h
        Window of the "so far" features; no window may exceed it.

    Returns
    -------
    DataFrame
        :data:`ROW_KEYS` then one column per feature, typed as declared, plus
        ``_obs_t`` (epoch seconds of ``obs_time``).
    """
    return _compute_features(
        points,
        player_prepared,
        cdn_prepared,
        feature_set,
        lookback_s=lookback_s,
        optimised=True,
    )


def _compute_features(
    points: DataFrame,
    player_prepared: DataFrame,
    cdn_prepared: DataFrame,
    feature_set: FeatureSet | str,
    *,
    lookback_s: float,
    optimised: bool,
) -> DataFrame:
    """:func:`compute_features`; ``optimised=False`` runs the reference joins."""
    started = time.perf_counter()
    feature_set = FEATURE_SETS.get(feature_set)
    sources = {_PLAYER: player_prepared, _CDN: cdn_prepared}

    # Where the session is at t: the edge location and ASN of its latest request.
    (context,) = _aggregate(
        points,
        cdn_prepared,
        "session",
        _CDN,
        lookback_s,
        [
            (
                "edge_location",
                "max_by(edge_location, if(edge_location IS NULL, NULL, _t))",
            ),
            ("viewer_asn", "max_by(viewer_asn, if(viewer_asn IS NULL, NULL, _t))"),
        ],
        running=True,
        optimised=optimised,
    )
    # Computed once: every feature group starts from these keyed points, and a
    # shared leaf keeps the query plan linear in the number of groups.
    keyed = points.join(context, ["session_key", "_obs_t"], "left").localCheckpoint()

    # One window join per (entity, source, window), each from the keyed points;
    # "so far" groups as running aggregates where their expressions allow.
    rows = keyed
    groups = _groups(feature_set, lookback_s)
    for (entity, source, window), group in groups.items():
        named = [(f.name, f.expression) for f in group]
        for values in _aggregate(
            keyed,
            sources[source],
            entity,
            source,
            window,
            named,
            running=window == lookback_s,
            optimised=optimised,
        ):
            rows = rows.join(values, [ENTITY_ROW_KEYS[entity], "_obs_t"], "left")
    logger.debug(
        "Planned %d feature groups of set %s in %.2f s",
        len(groups),
        feature_set.name,
        time.perf_counter() - started,
    )

    columns = [F.col(k) for k in ROW_KEYS]
    for feature in feature_set:
        value = F.expr(feature.expression) if feature.derived else F.col(feature.name)
        if feature.default is not None:
            value = F.coalesce(value, F.lit(feature.default))
        if feature.derived:
            # Later derived features may read this one.
            rows = rows.withColumn(feature.name, value.cast(feature.dtype))
        columns.append(value.cast(feature.dtype).alias(feature.name))
    return rows.select(*columns, "_obs_t")


def attach_labels(
    rows: DataFrame, player_prepared: DataFrame, labels: Sequence[Label]
) -> DataFrame:
    """Add each label's column (and the stall label's lead time) to feature rows.

    A label reads only events strictly after the row's time.

    Parameters
    ----------
    rows : DataFrame
        Output of :func:`compute_features` (with ``_obs_t``).
    player_prepared : DataFrame
        Output of :func:`prepare_player_events`, including events after each row.
    labels : sequence of Label

    Returns
    -------
    DataFrame
        ``rows`` plus ``label_<name>`` (boolean) per label, and for a stall
        label ``label_<name>_lead_s``: seconds to the stall's start, else null.
    """
    _require(rows, ("session_key", "_obs_t"), "attach_labels")
    points = rows.select("session_key", "_obs_t").distinct()
    session = F.col("session_key")
    for label in labels:
        if label.kind == "stall":
            starts = player_prepared.where(F.col("is_stall")).select(
                session.alias("_ls"), F.col("stall_start_t").alias("_start")
            )
            horizon = float(label.horizon_s or 0.0)  # a stall label always has one
            hits = (
                points.join(
                    starts,
                    (F.col("_ls") == session)
                    & (F.col("_start") > F.col("_obs_t"))
                    & (F.col("_start") <= F.col("_obs_t") + F.lit(horizon)),
                )
                .groupBy("session_key", "_obs_t")
                .agg(
                    (F.min("_start") - F.col("_obs_t")).alias(f"{label.column}_lead_s")
                )
                .withColumn(label.column, F.lit(True))
            )
        else:
            ends = player_prepared.where(
                (F.col("event_type") == "STOP") | F.col("is_fatal_error")
            ).select(
                session.alias("_ls"),
                F.col("_t").alias("_end_t"),
                F.col("is_fatal_error").alias("_fatal"),
            )
            first_end = (
                points.join(
                    ends,
                    (F.col("_ls") == session) & (F.col("_end_t") > F.col("_obs_t")),
                )
                .groupBy("session_key", "_obs_t")
                .agg(
                    # The view's next ending; a fatal error wins a tie with a STOP.
                    F.expr(
                        "min_by(named_struct('t', _end_t, 'fatal', _fatal), "
                        "named_struct('t', _end_t, 'rank', if(_fatal, 0, 1)))"
                    ).alias("_end")
                )
            )
            positive = F.col("_end.fatal")
            if label.horizon_s is not None:
                positive = positive & (
                    F.col("_end.t") <= F.col("_obs_t") + F.lit(float(label.horizon_s))
                )
            hits = (
                first_end.where(positive)
                .select("session_key", "_obs_t")
                .withColumn(label.column, F.lit(True))
            )
        rows = rows.join(hits, ["session_key", "_obs_t"], "left").withColumn(
            label.column, F.coalesce(F.col(label.column), F.lit(False))
        )
    return rows

"""Training sets: labelled, point-in-time feature rows written to versioned Delta.

:func:`build_training_set` reads the silver tables (recording their Delta
versions), computes a feature set at each observation point, attaches a label,
optionally thins the negatives for class balance, and overwrites the set's
training table. The Delta version it wrote, the sampling and the sources are
recorded in ``features.training_sets`` and in the commit's user metadata, so a
model can name exactly the rows it learned from.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from qos_ml._catalog import TableCatalog
from qos_ml._errors import ConfigError
from qos_ml.features._builtin import FEATURE_SETS
from qos_ml.features._compute import (
    DEFAULT_LOOKBACK_S,
    attach_labels,
    compute_features,
    observation_points,
    prepare_cdn_requests,
    prepare_player_events,
)
from qos_ml.features._definitions import FeatureSet, Label, ObservationPolicy
from qos_ml.features._tables import FEATURES_TRAINING_SETS, feature_table_spec

__all__ = [
    "TrainingSet",
    "build_training_set",
    "feature_rows",
    "sample_for_balance",
]

logger = logging.getLogger(__name__)

_PLAYER = "silver.player_events"
_CDN = "silver.cdn_requests"


@dataclass(frozen=True)
class TrainingSet:
    """What :func:`build_training_set` wrote.

    Attributes
    ----------
    training_set_id : str
    table_key : str
        ``features.<set>_training``.
    table_version : int
        Delta version holding exactly these rows (read it with time travel).
    feature_set, label : FeatureSet, Label
    rows_total, positives, negatives, rows_written : int
        Before and after sampling.
    negative_fraction : float
        Share of negatives kept (1.0 without sampling); kept negatives carry
        ``sample_weight = 1 / negative_fraction``.
    """

    training_set_id: str
    table_key: str
    table_version: int
    feature_set: FeatureSet
    label: Label
    rows_total: int
    positives: int
    negatives: int
    rows_written: int
    negative_fraction: float

    def read(self, catalog: TableCatalog) -> DataFrame:
        """Read these rows back (time travel to :attr:`table_version`)."""
        return catalog.read(self.table_key, version=self.table_version)


def feature_rows(
    player: DataFrame,
    cdn: DataFrame,
    feature_set: FeatureSet | str,
    *,
    labels: tuple[Label, ...] = (),
    policy: ObservationPolicy | None = None,
    lookback_s: float = DEFAULT_LOOKBACK_S,
) -> DataFrame:
    """Feature rows (and optionally labels) from silver DataFrames, in batch.

    The batch path in one call: prepare both sources, place observation points,
    compute the set's features and attach the labels.

    Parameters
    ----------
    player, cdn : DataFrame
        Rows of ``silver.player_events`` and ``silver.cdn_requests``.
    feature_set : FeatureSet or str
    labels : tuple of Label, default ()
    policy : ObservationPolicy, optional
    lookback_s : float, default 4 h

    Returns
    -------
    DataFrame
        Row keys, features, then ``label_<name>`` columns; ``_obs_t`` dropped.
    """
    # Every feature group reads the prepared sources again: compute them once
    # (and keep the query plans shallow).
    cdn_prepared = prepare_cdn_requests(cdn).localCheckpoint()
    player_prepared = prepare_player_events(player, cdn_prepared).localCheckpoint()
    points = observation_points(player_prepared, policy).localCheckpoint()
    rows = compute_features(
        points, player_prepared, cdn_prepared, feature_set, lookback_s=lookback_s
    )
    if labels:
        rows = attach_labels(rows, player_prepared, labels)
    return rows.drop("_obs_t")


def sample_for_balance(
    rows: DataFrame,
    label_column: str,
    negatives_per_positive: float,
    *,
    positives: int,
    negatives: int,
    seed: int = 7,
) -> tuple[DataFrame, float]:
    """Keep every positive and a deterministic share of the negatives.

    A negative is kept when a hash of its session, time and ``seed`` falls
    under the fraction, so the same input keeps the same rows however Spark
    partitions it. Kept negatives get ``sample_weight = 1 / fraction`` so that
    weighted metrics and calibration still refer to the full population.

    Returns
    -------
    (DataFrame, float)
        The sampled rows with ``sample_weight``, and the fraction kept.

    Raises
    ------
    ConfigError
        When ``negatives_per_positive`` is not a positive number.
    """
    if (
        not isinstance(negatives_per_positive, int | float)
        or negatives_per_positive <= 0
    ):
        raise ConfigError(
            "negatives_per_positive",
            negatives_per_positive,
            "a number > 0 (negatives kept per positive), or None for no sampling",
            "build_training_set",
        )
    fraction = 1.0
    if negatives:
        fraction = min(1.0, negatives_per_positive * max(positives, 1) / negatives)
    draw = (
        F.abs(F.xxhash64("session_key", "obs_time", F.lit(int(seed))))
        % F.lit(1_000_000)
    ) / F.lit(1_000_000.0)
    label = F.col(label_column)
    sampled = rows.where(label | (draw < F.lit(fraction))).withColumn(
        "sample_weight", F.when(label, 1.0).otherwise(1.0 / fraction)
    )
    return sampled, fraction


def _as_float(value: float | None) -> float | None:
    return None if value is None else float(value)


def build_training_set(
    catalog: TableCatalog,
    feature_set: FeatureSet | str,
    label: Label | str | None = None,
    *,
    horizon_s: float | str | None = "default",
    policy: ObservationPolicy | None = None,
    negatives_per_positive: float | None = None,
    seed: int = 7,
    start: str | datetime | None = None,
    end: str | datetime | None = None,
    lookback_s: float = DEFAULT_LOOKBACK_S,
) -> TrainingSet:
    """Build a labelled, point-in-time training set and write it to Delta.

    Parameters
    ----------
    catalog : TableCatalog
        Where the silver tables are read and the feature tables written.
    feature_set : FeatureSet or str
        A set or the name of a registered one (``"buffering"``, ``"failure"``).
    label : Label or str, optional
        Default: the set's ``default_label``.
    horizon_s : float or None, optional
        Override of the label's horizon ``H`` (``None``: by the end of the view,
        failure labels only).
    policy : ObservationPolicy, optional
        Where rows are placed; default every 10 s of a session's activity.
    negatives_per_positive : float, optional
        Thin negatives to about this many per positive; ``None`` keeps all.
    seed : int, default 7
        Seed of the sampling hash.
    start, end : str or datetime, optional
        Keep rows with ``start <= obs_time < end``; events before ``start`` are
        still read for the look-back, events after ``end`` for the label.
    lookback_s : float, default 4 h

    Returns
    -------
    TrainingSet

    Examples
    --------
    >>> ts = build_training_set(catalog, "buffering", horizon_s=20)  # doctest: +SKIP
    >>> ts.read(catalog).count()  # doctest: +SKIP
    """
    started = time.perf_counter()
    feature_set = FEATURE_SETS.get(feature_set)
    chosen = label if label is not None else feature_set.default_label
    if chosen is None:
        raise ConfigError(
            "label",
            None,
            f"a label name ({', '.join(FEATURE_SETS.label_names())}); feature set "
            f"{feature_set.name!r} has no default label",
            "build_training_set",
        )
    the_label = FEATURE_SETS.label(chosen, horizon_s)
    policy = policy or ObservationPolicy()
    source_versions = {key: catalog.version(key) for key in (_PLAYER, _CDN)}

    player = catalog.read(_PLAYER, version=source_versions[_PLAYER])
    cdn = catalog.read(_CDN, version=source_versions[_CDN])
    rows = feature_rows(
        player,
        cdn,
        feature_set,
        labels=(the_label,),
        policy=policy,
        lookback_s=lookback_s,
    )
    if start is not None:
        rows = rows.where(F.col("obs_time") >= F.lit(start).cast("timestamp"))
    if end is not None:
        rows = rows.where(F.col("obs_time") < F.lit(end).cast("timestamp"))
    rows = rows.withColumnsRenamed(
        {the_label.column: "label", f"{the_label.column}_lead_s": "label_lead_s"}
    )
    if "label_lead_s" not in rows.columns:
        rows = rows.withColumn("label_lead_s", F.lit(None).cast("double"))
    rows = rows.localCheckpoint()  # counted, sampled and written: compute once

    counts = rows.agg(
        F.count_if(F.col("label")).alias("pos"),
        F.count_if(~F.col("label")).alias("neg"),
    ).first()
    positives, negatives = int(counts["pos"] or 0), int(counts["neg"] or 0)
    if negatives_per_positive is None:
        sampled, fraction = rows.withColumn("sample_weight", F.lit(1.0)), 1.0
    else:
        sampled, fraction = sample_for_balance(
            rows,
            "label",
            negatives_per_positive,
            positives=positives,
            negatives=negatives,
            seed=seed,
        )

    training_set_id = uuid.uuid4().hex
    sampled = sampled.withColumn("training_set_id", F.lit(training_set_id))
    spec = feature_table_spec(feature_set, "training")
    metadata: dict[str, Any] = {
        "training_set_id": training_set_id,
        "feature_set": feature_set.name,
        "feature_set_version": feature_set.version,
        "label": the_label.name,
        "label_kind": the_label.kind,
        # Recorded in DoubleType columns: whole numbers given as int are floats.
        "horizon_s": _as_float(the_label.horizon_s),
        "observation_every_s": _as_float(policy.every_s),
        "negatives_per_positive": _as_float(negatives_per_positive),
        "negative_fraction": fraction,
        "seed": seed,
        "source_versions": source_versions,
    }
    version = _overwrite(catalog, sampled, spec.key, json.dumps(metadata))
    rows_written = int(sampled.count())

    record = {
        **metadata,
        "built_at": datetime.now(UTC).replace(tzinfo=None),
        "table_key": spec.key,
        "table_version": version,
        "rows_total": positives + negatives,
        "positives": positives,
        "negatives": negatives,
        "rows_written": rows_written,
        "source_versions": json.dumps(source_versions),
    }
    log = catalog.spark.createDataFrame(
        [tuple(record.get(f.name) for f in FEATURES_TRAINING_SETS.schema)],
        FEATURES_TRAINING_SETS.schema,
    )
    catalog.write(log, FEATURES_TRAINING_SETS.key)
    logger.info(
        "Built training set %s of %s v%s / label %s (H=%s): %d rows, %d positive, "
        "%d written (negatives kept: %.3f) as %s version %d in %.1f s",
        training_set_id,
        feature_set.name,
        feature_set.version,
        the_label.name,
        the_label.horizon_s,
        positives + negatives,
        positives,
        rows_written,
        fraction,
        spec.key,
        version,
        time.perf_counter() - started,
    )
    return TrainingSet(
        training_set_id=training_set_id,
        table_key=spec.key,
        table_version=version,
        feature_set=feature_set,
        label=the_label,
        rows_total=positives + negatives,
        positives=positives,
        negatives=negatives,
        rows_written=rows_written,
        negative_fraction=fraction,
    )


def _overwrite(catalog: TableCatalog, df: DataFrame, key: str, metadata: str) -> int:
    """Overwrite a feature table in one commit carrying ``metadata``; its version."""
    catalog.create(key)
    writer = (
        catalog.conform(df, key)
        .write.format("delta")
        .mode("overwrite")
        .option("userMetadata", metadata)
    )
    path = catalog.path(key)
    if path is not None:
        writer.save(str(path))
    else:
        writer.saveAsTable(catalog.qualified_name(key))
    return catalog.version(key)

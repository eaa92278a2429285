"""Feature tables: training rows, serving rows and the log of training-set builds.

A feature set's tables follow from its definitions: :func:`feature_table_spec`
declares ``features.<set>_training`` (rows with a label, written by
:func:`~qos_ml.features.build_training_set`) and ``features.<set>_rows``
(unlabelled rows the stream writes for serving). The built-in sets' tables are
declared on import; a user's set is declared when first used.
"""

from __future__ import annotations

from pyspark.sql.types import (
    BooleanType,
    DataType,
    DoubleType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from qos_ml._catalog import TableSpec, declare_table, declared_tables
from qos_ml._errors import ConfigError
from qos_ml.features._builtin import BUFFERING, FAILURE
from qos_ml.features._definitions import FeatureSet

__all__ = [
    "FEATURES_TRAINING_SETS",
    "feature_table_spec",
]

_TYPES: dict[str, DataType] = {
    "double": DoubleType(),
    "long": LongType(),
    "string": StringType(),
    "boolean": BooleanType(),
}

_KEY_FIELDS = [
    StructField("session_key", StringType(), False),
    StructField("obs_time", TimestampType(), False),
    StructField("video_id", StringType(), True),
    StructField("user_id_hash", StringType(), True),
    StructField("edge_location", StringType(), True),
    StructField("viewer_asn", LongType(), True),
]

_KINDS = ("training", "rows")


def feature_table_spec(feature_set: FeatureSet, kind: str = "training") -> TableSpec:
    """Declare (or return the declaration of) a feature set's Delta table.

    Parameters
    ----------
    feature_set : FeatureSet
    kind : {"training", "rows"}, default "training"
        ``training``: rows with ``label``, ``label_lead_s``, ``sample_weight``
        and ``training_set_id``; ``rows``: the unlabelled rows for serving.

    Returns
    -------
    TableSpec
        Key ``features.<set>_<kind>``; redeclared when the set's version changed.

    Raises
    ------
    ConfigError
        For another ``kind``.
    """
    if kind not in _KINDS:
        raise ConfigError("kind", kind, f"one of {_KINDS}", "feature_table_spec")
    fields = list(_KEY_FIELDS)
    fields += [StructField(f.name, _TYPES[f.dtype], True) for f in feature_set]
    if kind == "training":
        fields += [
            StructField("label", BooleanType(), True),
            StructField("label_lead_s", DoubleType(), True),
            StructField("sample_weight", DoubleType(), True),
            StructField("training_set_id", StringType(), True),
        ]
    key = f"features.{feature_set.name}_{kind}"
    what = "labelled training rows" if kind == "training" else "serving rows"
    spec = TableSpec(
        key=key,
        schema=StructType(fields),
        description=(
            f"Feature set {feature_set.name} version {feature_set.version}: {what}, "
            "one per session and observation time."
        ),
        primary_key=("session_key", "obs_time"),
        properties={
            "qos_ml.feature_set": feature_set.name,
            "qos_ml.feature_set_version": feature_set.version,
        },
    )
    existing = declared_tables().get(key)
    return declare_table(spec, replace=existing is not None and existing != spec)


FEATURES_TRAINING_SETS = declare_table(
    TableSpec(
        key="features.training_sets",
        description=(
            "One row per training-set build: feature set and version, label and "
            "horizon, the Delta version written, class-balance sampling, the silver "
            "versions read."
        ),
        schema=StructType(
            [
                StructField("training_set_id", StringType(), False),
                StructField("built_at", TimestampType(), True),
                StructField("table_key", StringType(), True),
                StructField("table_version", LongType(), True),
                StructField("feature_set", StringType(), True),
                StructField("feature_set_version", StringType(), True),
                StructField("label", StringType(), True),
                StructField("label_kind", StringType(), True),
                StructField("horizon_s", DoubleType(), True),
                StructField("observation_every_s", DoubleType(), True),
                StructField("rows_total", LongType(), True),
                StructField("positives", LongType(), True),
                StructField("negatives", LongType(), True),
                StructField("rows_written", LongType(), True),
                StructField("negatives_per_positive", DoubleType(), True),
                StructField("negative_fraction", DoubleType(), True),
                StructField("seed", LongType(), True),
                StructField("source_versions", StringType(), True),
            ]
        ),
        primary_key=("training_set_id",),
    )
)

for _set in (BUFFERING, FAILURE):
    for _kind in _KINDS:
        feature_table_spec(_set, _kind)

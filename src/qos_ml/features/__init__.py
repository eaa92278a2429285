"""The feature layer: one definition of every feature, for training and serving.

Features are declared objects (:class:`Feature`: entity, source table, window,
Spark SQL aggregate, type) grouped into named, versioned feature sets
(:class:`FeatureSet`) held by a registry (:data:`FEATURE_SETS`). The built-in
sets are ``buffering`` (will the session stall soon?) and ``failure`` (will
the view fail?); their labels ``stall`` and ``failure`` (:class:`Label`) look
strictly after a row's time, features only at or before it.

* :func:`build_training_set`: labelled rows from the silver Delta tables into
  a versioned Delta feature table, with class-balance sampling recorded;
* :func:`start_feature_stream`: the same features from the live stream;
* :func:`compute_features`: the engine both call;
* :func:`document_feature_set`: a Markdown table of a set, for the docs;
* :func:`publish_feature_table`: Databricks Feature Engineering, where present.

Examples
--------
>>> from qos_ml.features import BUFFERING, Feature
>>> mine = BUFFERING.extend(
...     [Feature("seeks_60s", "Seeks in the last minute.", "session",
...              "count_if(event_type = 'SEEK')", source="silver.player_events",
...              window_s=60, dtype="long", default=0)],
...     name="my_buffering",
... )
>>> mine.version, mine.names[-1]
('1.1', 'seeks_60s')
"""

from __future__ import annotations

from qos_ml.features._builtin import (
    BUFFERING,
    BUFFERING_LABEL,
    FAILURE,
    FAILURE_LABEL,
    FEATURE_SETS,
)
from qos_ml.features._compute import (
    DEFAULT_LOOKBACK_S,
    attach_labels,
    compute_features,
    observation_points,
    prepare_cdn_requests,
    prepare_player_events,
)
from qos_ml.features._definitions import (
    ENTITIES,
    Feature,
    FeatureRegistry,
    FeatureSet,
    Label,
    ObservationPolicy,
    document_feature_set,
)
from qos_ml.features._publish import FeatureStoreUnavailableError, publish_feature_table
from qos_ml.features._streaming import FeatureStream, start_feature_stream
from qos_ml.features._tables import FEATURES_TRAINING_SETS, feature_table_spec
from qos_ml.features._training import (
    TrainingSet,
    build_training_set,
    feature_rows,
    sample_for_balance,
)

__all__ = [
    "BUFFERING",
    "BUFFERING_LABEL",
    "DEFAULT_LOOKBACK_S",
    "ENTITIES",
    "FAILURE",
    "FAILURE_LABEL",
    "FEATURES_TRAINING_SETS",
    "FEATURE_SETS",
    "Feature",
    "FeatureRegistry",
    "FeatureSet",
    "FeatureStoreUnavailableError",
    "FeatureStream",
    "Label",
    "ObservationPolicy",
    "TrainingSet",
    "attach_labels",
    "build_training_set",
    "compute_features",
    "document_feature_set",
    "feature_rows",
    "feature_table_spec",
    "observation_points",
    "prepare_cdn_requests",
    "prepare_player_events",
    "publish_feature_table",
    "sample_for_balance",
    "start_feature_stream",
]

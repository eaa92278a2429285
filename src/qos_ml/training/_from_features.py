"""Train a task straight from a training set built by the feature layer.

The feature layer knows which columns are features, which are categorical,
and where the label, observation time and lead time are; this module turns a
:class:`~qos_ml.features.TrainingSet` into a :class:`FeatureSpec` so that
training needs no column lists from the user.
"""

from __future__ import annotations

import logging
from typing import Any

from qos_ml._catalog import TableCatalog
from qos_ml.features import FeatureSet, TrainingSet
from qos_ml.training._data import FeatureSpec
from qos_ml.training._train import TrainingResult, train_classifier

__all__ = ["feature_spec_for", "train_from_training_set"]

logger = logging.getLogger(__name__)

#: Column of a training set that must not straddle train and test: a viewing
#: session contributes many observation rows, all on one side of the split.
GROUP_COLUMN = "session_key"


def feature_spec_for(
    feature_set: FeatureSet, *, group: str | None = None
) -> FeatureSpec:
    """Return the column roles of a training table built from ``feature_set``.

    Parameters
    ----------
    feature_set : FeatureSet
    group : str, optional
        Column that must not straddle train and test (default: the session).

    Returns
    -------
    FeatureSpec
        Label ``label``, time ``obs_time``, lead time ``label_lead_s``; string
        features are categorical, the others numeric.
    """
    features = list(feature_set)
    return FeatureSpec(
        "label",
        numeric=[f.name for f in features if not f.categorical],
        categorical=[f.name for f in features if f.categorical],
        time="obs_time",
        group=group or GROUP_COLUMN,
        time_to_event="label_lead_s",
        name=feature_set.name,
    )


def train_from_training_set(
    catalog: TableCatalog,
    training_set: TrainingSet,
    *,
    task: str,
    **options: Any,
) -> TrainingResult:
    """Train, tune, evaluate and register ``task`` on a feature-layer training set.

    Parameters
    ----------
    catalog : TableCatalog
        Where the training table lives; its configuration says where MLflow is.
    training_set : TrainingSet
        What :func:`qos_ml.features.build_training_set` returned; the rows are
        read at the recorded Delta version, which is logged as lineage.
    task : {"buffering", "failure"}
    **options
        Passed to :func:`train_classifier` (``max_evals``, ``split``, ...).

    Returns
    -------
    TrainingResult
    """
    spec = feature_spec_for(training_set.feature_set)
    frame = training_set.read(catalog).select(
        *{*spec.features, spec.label, spec.time, spec.group, spec.time_to_event}
    )
    logger.info(
        "Training %s on %s version %d (%d rows, %d positives)",
        task,
        training_set.table_key,
        training_set.table_version,
        training_set.rows_written,
        training_set.positives,
    )
    options.setdefault("split", "time_group")
    return train_classifier(
        frame,
        spec,
        task=task,
        config=catalog.config,
        feature_set=training_set.feature_set.name,
        feature_set_version=training_set.feature_set.version,
        training_table=catalog.qualified_name(training_set.table_key),
        training_table_version=training_set.table_version,
        **options,
    )

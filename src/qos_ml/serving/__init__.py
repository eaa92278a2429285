"""Serving: registered models scoring feature rows, in batch and in streaming.

* :func:`score_batch`: add ``score``, ``decision`` (at the model's operating
  threshold), ``model_name``, ``model_version`` and ``model_status`` to a
  DataFrame of feature rows with ``mlflow.pyfunc.spark_udf``;
* :func:`start_scoring_stream`: the same per micro-batch (``foreachBatch``),
  resolving each alias once per micro-batch, so a new ``champion`` is picked up
  without a restart; scores land in ``ml.scores`` (:data:`SCORES`);
* :class:`ModelHandle`: one model reference, its current version and UDF; a
  model that cannot be resolved or loaded scores nulls and says why
  (``model_status``), or raises :class:`~qos_ml.ModelLoadError` when strict.

Examples
--------
>>> from qos_ml.serving import parse_model_reference
>>> parse_model_reference("models:/qos_ml_buffering@champion")
('qos_ml_buffering', 'champion', None)
"""

from __future__ import annotations

from qos_ml.serving._model import (
    MODEL_OK,
    ModelHandle,
    ResolvedModel,
    parse_model_reference,
)
from qos_ml.serving._score import (
    SCORE_COLUMNS,
    Scorer,
    ScoringStream,
    score_batch,
    score_rows,
    start_scoring_stream,
)
from qos_ml.serving._tables import SCORES

__all__ = [
    "MODEL_OK",
    "SCORES",
    "SCORE_COLUMNS",
    "ModelHandle",
    "ResolvedModel",
    "Scorer",
    "ScoringStream",
    "parse_model_reference",
    "score_batch",
    "score_rows",
    "start_scoring_stream",
]

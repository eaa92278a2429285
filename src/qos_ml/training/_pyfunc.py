"""The MLflow pyfunc face of the trained models.

A supervised model is logged as :class:`ClassifierModel`, a
:class:`mlflow.pyfunc.PythonModel` around the fitted scikit-learn pipeline
(saved as an artifact in the format :data:`qos_ml._mlflow.SKLEARN_SERIALIZATION`
names). Its ``predict`` returns ``score`` (probability) and ``decision``
(``score >= threshold``); the threshold and the feature list travel in the
model configuration, so the serving layer needs nothing but the model URI.

Signatures declare every numeric feature as ``double``: an integer count that
is null in the live stream arrives as a float and would break an ``long``
column's enforcement.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.pyfunc import PythonModel, PythonModelContext
from mlflow.types import ColSpec, ParamSchema, ParamSpec, Schema

from qos_ml._errors import ModelLoadError, SchemaMismatchError

__all__ = ["ClassifierModel", "classifier_signature", "pip_requirements"]


def pip_requirements() -> list[str]:
    """Pinned requirements of a logged model: the versions that trained it.

    Given explicitly so MLflow does not load the model in a subprocess to infer
    them (slow, and it cannot see a source checkout of qos_ml).
    """
    from importlib.metadata import PackageNotFoundError, version

    pins = []
    for package in (
        "qos-ml",
        "mlflow",
        "scikit-learn",
        "pandas",
        "numpy",
        "cloudpickle",
    ):
        try:
            pins.append(f"{package}=={version(package)}")
        except PackageNotFoundError:
            pins.append(package)
    return pins


def classifier_signature(
    numeric: Sequence[str], categorical: Sequence[str], threshold: float | None = None
) -> ModelSignature:
    """Inputs: float64 numerics and string categoricals; outputs: score and decision.

    Parameters
    ----------
    numeric, categorical : sequence of str
    threshold : float, optional
        Declares the inference parameter ``threshold`` with this default.

    Returns
    -------
    mlflow.models.ModelSignature
    """
    inputs = Schema(
        [ColSpec("double", c) for c in numeric]
        + [ColSpec("string", c) for c in categorical]
    )
    outputs = Schema([ColSpec("double", "score"), ColSpec("boolean", "decision")])
    params = None
    if threshold is not None:
        params = ParamSchema([ParamSpec("threshold", "double", float(threshold))])
    return ModelSignature(inputs=inputs, outputs=outputs, params=params)


def signature_frame(
    frame: pd.DataFrame, numeric: Sequence[str], categorical: Sequence[str]
) -> pd.DataFrame:
    """Cast feature columns to the signature's types (for input examples)."""
    out = pd.DataFrame(index=frame.index)
    for column in numeric:
        out[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    for column in categorical:
        values = frame[column]
        out[column] = values.astype(object).where(values.notna(), None)
        out[column] = out[column].map(lambda v: v if v is None else str(v))
    return out


class ClassifierModel(PythonModel):
    """Scores sessions with a fitted scikit-learn pipeline and a stored threshold.

    The pipeline is the artifact ``pipeline``; the model configuration holds
    ``threshold`` (float) and ``features`` (list of str).
    """

    def load_context(self, context: PythonModelContext) -> None:
        """Load the pipeline artifact and read threshold and features."""
        config = context.model_config or {}
        try:
            self.threshold = float(config["threshold"])
            self.features = list(config["features"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelLoadError(
                f"model configuration {config!r} lacks a numeric 'threshold' and a "
                "'features' list"
            ) from exc
        self.pipeline = mlflow.sklearn.load_model(context.artifacts["pipeline"])

    def predict(
        self,
        context: PythonModelContext,
        model_input: pd.DataFrame,
        params: dict[str, Any] | None = None,
    ) -> pd.DataFrame:
        """Return ``score`` (float64) and ``decision`` (bool) per input row.

        Parameters
        ----------
        context : PythonModelContext
        model_input : pandas.DataFrame
            One column per feature; extra columns are ignored.
        params : dict, optional
            ``threshold`` overrides the stored threshold for this call.
        """
        if not isinstance(model_input, pd.DataFrame):
            raise SchemaMismatchError(
                "the model takes a pandas DataFrame of features, got "
                f"{type(model_input).__name__}"
            )
        threshold = float((params or {}).get("threshold", self.threshold))
        score = self.pipeline.predict_proba(model_input.loc[:, self.features])[:, 1]
        score = np.asarray(score, dtype="float64")
        return pd.DataFrame(
            {"score": score, "decision": score >= threshold}, index=model_input.index
        )

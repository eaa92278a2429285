"""Anomaly detection over per-minute QoE aggregates by dimension.

Input rows are one minute of one dimension value: ``window_start``,
``dimension`` (``edge_location``, ``asn``, ``device``, ``video``...),
``dimension_value`` and numeric metrics such as ``startup_time_p95_s`` or
``rebuffering_ratio``. Two detectors share one idea: a metric is judged
against what is normal *for that dimension value at that time of day*
(median and MAD, robust to the incidents in the training history).

* :class:`SeasonalBaselineDetector` flags a minute when one metric deviates in
  its bad direction by more than ``threshold`` robust standard deviations.
* :class:`IsolationForestDetector` runs an Isolation Forest over all the
  standardised deviations at once, so two moderately bad metrics together can
  raise a flag; the metric blamed is the one whose return to normal lowers the
  anomaly score most.

Both return ``score``, ``is_anomaly`` and ``anomalous_metric`` and are logged
to MLflow as pyfunc models (:func:`train_anomaly_detector`).
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import mlflow
import numpy as np
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.pyfunc import PythonModel, PythonModelContext
from mlflow.types import ColSpec, Schema
from sklearn.ensemble import IsolationForest

import qos_ml
from qos_ml._config import QosConfig
from qos_ml._errors import ConfigError, SchemaMismatchError
from qos_ml._mlflow import SKLEARN_SERIALIZATION, configure_mlflow
from qos_ml.training._pyfunc import pip_requirements
from qos_ml.training._registry import register_version

__all__ = [
    "DEFAULT_DIRECTIONS",
    "AnomalyModel",
    "AnomalyTrainingResult",
    "IsolationForestDetector",
    "SeasonalBaselineDetector",
    "evaluate_detections",
    "train_anomaly_detector",
]

logger = logging.getLogger(__name__)

Direction = Literal["up", "down", "both"]

#: Which way each known aggregate goes wrong; other metrics default to "both".
DEFAULT_DIRECTIONS: dict[str, Direction] = {
    "startup_time_p95_s": "up",
    "rebuffering_ratio": "up",
    "error_rate": "up",
    "ttfb_p95_s": "up",
    "cache_hit_ratio": "down",
    "views": "both",
}

TIME = "window_start"
KEYS = ("dimension", "dimension_value")
_MAD_TO_SD = 1.4826
#: Width of the 1 %-99 % range of a normal distribution in standard deviations.
_TAILS_TO_SD = 4.653


class _RobustBaseline:
    """Median and robust scale per dimension value and time-of-day bucket.

    A bucket with fewer than ``min_points`` rows falls back to the dimension
    value's overall statistics, and an unseen dimension value to the metric's
    global statistics. A scale never drops below ``floor_share`` of the
    metric's global robust scale, so a metric that is constant at 0 (errors on
    a quiet edge) does not turn the first error into an infinite deviation.
    """

    def __init__(
        self,
        metrics: Sequence[str],
        bucket_minutes: int | None,
        min_points: int,
        floor_share: float = 0.1,
    ):
        self.metrics = list(metrics)
        self.bucket_minutes = bucket_minutes
        self.min_points = min_points
        self.floor_share = floor_share

    def _bucket(self, frame: pd.DataFrame) -> pd.Series:
        if not self.bucket_minutes:
            return pd.Series(0, index=frame.index)
        minutes = frame[TIME].dt.hour * 60 + frame[TIME].dt.minute
        return (minutes // self.bucket_minutes).astype("int64")

    @staticmethod
    def _stats(frame: pd.DataFrame, by: list[Any], metrics: list[str]) -> pd.DataFrame:
        grouped = frame.groupby(by, observed=True)[metrics]
        median = grouped.median()
        mad = grouped.agg(_mad)
        count = grouped.count()
        return pd.concat({"median": median, "mad": mad, "count": count}, axis=1)

    def fit(self, frame: pd.DataFrame) -> _RobustBaseline:
        frame = frame.assign(_bucket=self._bucket(frame))
        self.global_median_ = frame[self.metrics].median()
        global_mad = (frame[self.metrics] - self.global_median_).abs().median()
        spread = frame[self.metrics].quantile(0.9) - frame[self.metrics].quantile(0.1)
        self.floor_ = (
            np.maximum(_MAD_TO_SD * global_mad, spread / 2.56) * self.floor_share
        ).clip(lower=1e-9)
        tails = frame[self.metrics].quantile(0.99) - frame[self.metrics].quantile(0.01)
        self.global_scale_ = np.maximum(
            np.maximum(_MAD_TO_SD * global_mad, tails / _TAILS_TO_SD), self.floor_
        )
        self.bucket_stats_ = self._stats(frame, [*KEYS, "_bucket"], self.metrics)
        self.value_stats_ = self._stats(frame, list(KEYS), self.metrics)
        # Skewed and discrete metrics (an error rate over 200 views is mostly 0)
        # have a MAD of 0; the spread of the 1 % tails of the residuals around
        # the seasonal medians says what noise looks like.
        medians = frame.groupby([*KEYS, "_bucket"], observed=True)[self.metrics]
        residuals = frame[self.metrics] - medians.transform("median")
        grouped = residuals.groupby([frame[k] for k in KEYS], observed=True)
        self.tail_scale_ = (
            grouped.quantile(0.99) - grouped.quantile(0.01)
        ) / _TAILS_TO_SD
        return self

    def deviations(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Signed robust z-score of each metric: (value - median) / scale."""
        keys = frame.loc[:, list(KEYS)].assign(_bucket=self._bucket(frame).to_numpy())
        out = pd.DataFrame(index=frame.index)
        by_bucket = pd.MultiIndex.from_frame(keys)
        by_value = pd.MultiIndex.from_frame(keys[list(KEYS)])
        for metric in self.metrics:
            bucket = self.bucket_stats_.reindex(by_bucket)
            value = self.value_stats_.reindex(by_value)
            use_bucket = (bucket[("count", metric)] >= self.min_points).to_numpy()
            median = np.where(
                use_bucket,
                bucket[("median", metric)].to_numpy(),
                value[("median", metric)].to_numpy(),
            )
            mad = np.where(
                use_bucket,
                bucket[("mad", metric)].to_numpy(),
                value[("mad", metric)].to_numpy(),
            )
            tail = self.tail_scale_[metric].reindex(by_value).to_numpy()
            unseen = np.isnan(median)
            median = np.where(unseen, self.global_median_[metric], median)
            scale = np.where(
                unseen, self.global_scale_[metric], np.fmax(_MAD_TO_SD * mad, tail)
            )
            scale = np.maximum(np.nan_to_num(scale, nan=0.0), self.floor_[metric])
            values = frame[metric].to_numpy(dtype="float64")
            out[metric] = (values - median) / scale
        return out


def _mad(values: pd.Series) -> float:
    """Median absolute deviation; NaN (and no numpy warning) when all values are."""
    present = values.dropna()
    if present.empty:  # a metric undefined in every minute of the group
        return float("nan")
    return float((present - present.median()).abs().median())


def _orient(
    deviations: pd.DataFrame, directions: Mapping[str, Direction]
) -> pd.DataFrame:
    """Turn signed deviations into 'badness': positive means worse than normal."""
    oriented = deviations.copy()
    for metric in oriented.columns:
        direction = directions.get(metric, "both")
        if direction == "down":
            oriented[metric] = -oriented[metric]
        elif direction == "both":
            oriented[metric] = oriented[metric].abs()
    return oriented.fillna(0.0)


def _check_frame(frame: Any, metrics: Sequence[str]) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame):
        frame = frame.toPandas()  # a Spark DataFrame of aggregates
    needed = [TIME, *KEYS, *metrics]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise SchemaMismatchError(
            f"aggregates lack column(s) {missing}; they have {sorted(frame.columns)}"
        )
    frame = frame.copy()
    frame[TIME] = pd.to_datetime(frame[TIME])
    for key in KEYS:
        frame[key] = frame[key].astype(str)
    for metric in metrics:
        frame[metric] = pd.to_numeric(frame[metric], errors="coerce").astype("float64")
    return frame


class _Detector:
    """What both detectors share: metrics, directions, the baseline, the output."""

    def __init__(
        self,
        metrics: Sequence[str],
        directions: Mapping[str, Direction] | None,
        bucket_minutes: int | None,
        min_points: int,
    ):
        if not metrics:
            raise ConfigError(
                "metrics", list(metrics), "at least one metric column", "detector"
            )
        directions = {
            m: (directions or DEFAULT_DIRECTIONS).get(m, "both") for m in metrics
        }
        bad = {m: d for m, d in directions.items() if d not in ("up", "down", "both")}
        if bad:
            raise ConfigError(
                "directions", bad, '"up", "down" or "both" per metric', "detector"
            )
        if bucket_minutes is not None and not 0 < bucket_minutes <= 1440:
            raise ConfigError(
                "bucket_minutes", bucket_minutes, "1..1440 or None", "detector"
            )
        self.metrics = list(metrics)
        self.directions = directions
        self.bucket_minutes = bucket_minutes
        self.min_points = min_points

    def _fit_baseline(self, frame: pd.DataFrame) -> pd.DataFrame:
        self.baseline_ = _RobustBaseline(
            self.metrics, self.bucket_minutes, self.min_points
        )
        self.baseline_.fit(frame)
        return self.baseline_.deviations(frame)

    def predict(self, data: Any) -> pd.DataFrame:
        """Score aggregates: ``score``, ``is_anomaly``, ``anomalous_metric``.

        Parameters
        ----------
        data : pandas.DataFrame or pyspark.sql.DataFrame
            Aggregates with ``window_start``, ``dimension``, ``dimension_value``
            and the metric columns.

        Returns
        -------
        pandas.DataFrame
            Same index as the input; ``anomalous_metric`` is the metric that
            made the point anomalous (None where nothing was flagged).
        """
        frame = _check_frame(data, self.metrics)
        score, flag, metric = self._score(frame)
        return pd.DataFrame(
            {
                "score": score.astype("float64"),
                "is_anomaly": flag.astype(bool),
                "anomalous_metric": pd.Series(metric, index=frame.index).where(
                    flag, None
                ),
            },
            index=frame.index,
        )

    def _score(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        raise NotImplementedError


class SeasonalBaselineDetector(_Detector):
    """Robust seasonal baseline: median and MAD per dimension value and time of day.

    Parameters
    ----------
    metrics : sequence of str
        Metric columns to watch.
    directions : mapping of str to {"up", "down", "both"}, optional
        Which way each metric goes wrong (default :data:`DEFAULT_DIRECTIONS`).
    bucket_minutes : int or None, default 60
        Width of the time-of-day buckets; None for no seasonality.
    threshold : float, default 5.0
        Robust standard deviations in the bad direction that raise a flag.
    min_points : int, default 5
        Minimum history of a bucket before it is trusted.

    Examples
    --------
    >>> detector = SeasonalBaselineDetector(["error_rate"])
    >>> detector.fit(history).predict(latest_minutes)  # doctest: +SKIP
    """

    def __init__(
        self,
        metrics: Sequence[str],
        directions: Mapping[str, Direction] | None = None,
        *,
        bucket_minutes: int | None = 60,
        threshold: float = 5.0,
        min_points: int = 5,
    ):
        super().__init__(metrics, directions, bucket_minutes, min_points)
        if threshold <= 0:
            raise ConfigError("threshold", threshold, "a positive number", "detector")
        self.threshold = threshold

    def fit(self, data: Any) -> SeasonalBaselineDetector:
        """Learn the medians and MADs from history (incidents may be in it)."""
        self._fit_baseline(_check_frame(data, self.metrics))
        return self

    def _score(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        oriented = _orient(self.baseline_.deviations(frame), self.directions)
        values = oriented.to_numpy()
        worst = values.argmax(axis=1)
        score = values[np.arange(len(values)), worst]
        return (
            score,
            score >= self.threshold,
            np.asarray(self.metrics, dtype=object)[worst],
        )


class IsolationForestDetector(_Detector):
    """Isolation Forest over the seasonal deviations of all metrics together.

    Parameters
    ----------
    metrics : sequence of str
    directions : mapping, optional
        A point is flagged only when the metric blamed for it went the bad way.
    bucket_minutes : int or None, default 60
    contamination : float, default 0.01
        Share of training minutes expected to be anomalous; sets the threshold.
    n_estimators : int, default 200
    min_points : int, default 5
    seed : int, default 0
    """

    def __init__(
        self,
        metrics: Sequence[str],
        directions: Mapping[str, Direction] | None = None,
        *,
        bucket_minutes: int | None = 60,
        contamination: float = 0.01,
        n_estimators: int = 200,
        min_points: int = 5,
        seed: int = 0,
    ):
        super().__init__(metrics, directions, bucket_minutes, min_points)
        if not 0.0 < contamination < 0.5:
            raise ConfigError(
                "contamination", contamination, "a number in (0, 0.5)", "detector"
            )
        self.contamination = contamination
        self.n_estimators = n_estimators
        self.seed = seed

    def fit(self, data: Any) -> IsolationForestDetector:
        """Fit the baseline, then the forest on the training deviations."""
        deviations = self._fit_baseline(_check_frame(data, self.metrics)).fillna(0.0)
        self.forest_ = IsolationForest(
            n_estimators=self.n_estimators, random_state=self.seed, n_jobs=1
        ).fit(deviations.to_numpy())
        train_scores = -self.forest_.score_samples(deviations.to_numpy())
        self.threshold_ = float(np.quantile(train_scores, 1.0 - self.contamination))
        return self

    def _score(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        deviations = self.baseline_.deviations(frame).fillna(0.0)
        values = deviations.to_numpy()
        score = -self.forest_.score_samples(values)

        # Blame: the metric whose return to its normal value lowers the score most.
        drops = np.empty_like(values)
        for j in range(values.shape[1]):
            normal = values.copy()
            normal[:, j] = 0.0
            drops[:, j] = score + self.forest_.score_samples(normal)
        worst = drops.argmax(axis=1)
        oriented = _orient(deviations, self.directions).to_numpy()
        went_bad = oriented[np.arange(len(values)), worst] > 0
        flag = (score >= self.threshold_) & went_bad
        return score, flag, np.asarray(self.metrics, dtype=object)[worst]


def evaluate_detections(
    scored: pd.DataFrame, incidents: pd.DataFrame, *, minute: str = "1min"
) -> dict[str, float]:
    """Precision and recall of flagged minutes and time to detect per incident.

    Parameters
    ----------
    scored : pandas.DataFrame
        ``window_start``, ``dimension``, ``dimension_value`` and ``is_anomaly``.
    incidents : pandas.DataFrame
        One row per labelled incident minute: ``incident_id``,
        ``window_start``, ``dimension``, ``dimension_value``.
    minute : str, default "1min"
        Window length, to floor timestamps onto.

    Returns
    -------
    dict
        ``precision``, ``recall``, ``f1`` (over minutes), ``incidents``,
        ``incidents_detected``, ``detection_rate`` and, when any incident was
        detected, ``time_to_detect_median_s``, ``..._mean_s``, ``..._max_s``.
    """
    needed = [TIME, *KEYS]
    for name, frame, extra in (
        ("scored", scored, ["is_anomaly"]),
        ("incidents", incidents, ["incident_id"]),
    ):
        missing = [c for c in [*needed, *extra] if c not in frame.columns]
        if missing:
            raise SchemaMismatchError(f"{name} lacks column(s) {missing}")

    def keyed(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.assign(
            **{
                TIME: pd.to_datetime(frame[TIME]).dt.floor(minute),
                KEYS[0]: frame[KEYS[0]].astype(str),
                KEYS[1]: frame[KEYS[1]].astype(str),
            }
        )

    flagged = keyed(scored.loc[scored["is_anomaly"].astype(bool), needed])
    truth = keyed(incidents.loc[:, [*needed, "incident_id"]])
    hits = flagged.merge(truth, on=needed, how="inner")
    n_flagged = len(flagged.drop_duplicates())
    n_true = len(truth.drop_duplicates(subset=needed))
    n_hit = len(hits.drop_duplicates(subset=needed))
    precision = n_hit / n_flagged if n_flagged else 0.0
    recall = n_hit / n_true if n_true else 0.0
    result = {
        "precision": precision,
        "recall": recall,
        "f1": 0.0
        if precision + recall == 0
        else 2 * precision * recall / (precision + recall),
        "flagged_minutes": float(n_flagged),
        "incident_minutes": float(n_true),
    }
    starts = truth.groupby("incident_id")[TIME].min()
    first = hits.groupby("incident_id")[TIME].min()
    delays = (first - starts.reindex(first.index)).dt.total_seconds()
    result.update(
        incidents=float(len(starts)),
        incidents_detected=float(len(first)),
        detection_rate=len(first) / len(starts) if len(starts) else 0.0,
    )
    if len(delays):
        result.update(
            time_to_detect_median_s=float(delays.median()),
            time_to_detect_mean_s=float(delays.mean()),
            time_to_detect_max_s=float(delays.max()),
        )
    return result


class AnomalyModel(PythonModel):
    """pyfunc face of a fitted detector (the artifact ``detector``)."""

    def load_context(self, context: PythonModelContext) -> None:
        """Load the fitted detector."""
        self.detector = mlflow.sklearn.load_model(context.artifacts["detector"])

    def predict(
        self,
        context: PythonModelContext,
        model_input: pd.DataFrame,
        params: dict[str, Any] | None = None,
    ) -> pd.DataFrame:
        """Return ``score``, ``is_anomaly`` and ``anomalous_metric`` per row."""
        return self.detector.predict(model_input)


def anomaly_signature(metrics: Sequence[str]) -> ModelSignature:
    """Inputs: window, dimension, value, metrics; outputs: score, flag, metric."""
    inputs = Schema(
        [
            ColSpec("datetime", TIME),
            ColSpec("string", KEYS[0]),
            ColSpec("string", KEYS[1]),
        ]
        + [ColSpec("double", m) for m in metrics]
    )
    outputs = Schema(
        [
            ColSpec("double", "score"),
            ColSpec("boolean", "is_anomaly"),
            ColSpec("string", "anomalous_metric", required=False),
        ]
    )
    return ModelSignature(inputs=inputs, outputs=outputs)


@dataclass
class AnomalyTrainingResult:
    """What :func:`train_anomaly_detector` produced.

    Attributes
    ----------
    kind : str
    detector : SeasonalBaselineDetector or IsolationForestDetector
    run_id, model_uri : str
    registered_name, version : str or None
    metrics : dict
        Evaluation against the labelled incidents, when given.
    """

    kind: str
    detector: Any
    run_id: str
    model_uri: str
    registered_name: str | None
    version: str | None
    metrics: dict[str, float]


def train_anomaly_detector(
    history: Any,
    *,
    kind: Literal["isolation_forest", "seasonal"] = "isolation_forest",
    metrics: Sequence[str] | None = None,
    directions: Mapping[str, Direction] | None = None,
    evaluation: Any = None,
    incidents: pd.DataFrame | None = None,
    config: QosConfig | None = None,
    register: bool = True,
    run_name: str | None = None,
    **params: Any,
) -> AnomalyTrainingResult:
    """Fit a detector on aggregate history, evaluate it, log and register it.

    Parameters
    ----------
    history : pandas.DataFrame or pyspark.sql.DataFrame
        Per-minute aggregates to learn normal behaviour from.
    kind : {"isolation_forest", "seasonal"}, default "isolation_forest"
    metrics : sequence of str, optional
        Default: the columns of :data:`DEFAULT_DIRECTIONS` present in ``history``.
    directions : mapping, optional
    evaluation : DataFrame, optional
        Aggregates to score against ``incidents`` (default: ``history``).
    incidents : pandas.DataFrame, optional
        Labelled incident minutes (see :func:`evaluate_detections`).
    config : QosConfig, optional
    register : bool, default True
        Register under ``config.model_name("anomaly")`` as the challenger.
    run_name : str, optional
    **params
        Detector parameters (``threshold``, ``contamination``, ``bucket_minutes``...).

    Returns
    -------
    AnomalyTrainingResult
    """
    detectors = {
        "isolation_forest": IsolationForestDetector,
        "seasonal": SeasonalBaselineDetector,
    }
    if kind not in detectors:
        raise ConfigError(
            "kind", kind, f"one of {', '.join(detectors)}", "train_anomaly_detector"
        )
    config = config or QosConfig.load()
    configure_mlflow(config)
    if not isinstance(history, pd.DataFrame):
        history = history.toPandas()
    if metrics is None:
        metrics = [m for m in DEFAULT_DIRECTIONS if m in history.columns]
    started = time.perf_counter()
    detector = detectors[kind](metrics, directions, **params).fit(history)

    results: dict[str, float] = {}
    if incidents is not None:
        scored_on = history if evaluation is None else evaluation
        if not isinstance(scored_on, pd.DataFrame):
            scored_on = scored_on.toPandas()
        scored = pd.concat(
            [
                scored_on[[TIME, *KEYS]].reset_index(drop=True),
                detector.predict(scored_on).reset_index(drop=True),
            ],
            axis=1,
        )
        results = evaluate_detections(scored, incidents)
    name = config.model_name("anomaly")
    with mlflow.start_run(run_name=run_name or f"anomaly-{kind}") as run:
        mlflow.set_tags(
            {"task": "anomaly", "detector": kind, "qos_ml.version": qos_ml.__version__}
        )
        mlflow.log_params(
            {
                "kind": kind,
                "metrics": ",".join(metrics),
                "rows": len(history),
                **{k: str(v) for k, v in params.items()},
            }
        )
        if results:
            mlflow.log_metrics(results)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "detector"
            mlflow.sklearn.save_model(
                detector,
                str(path),
                serialization_format=SKLEARN_SERIALIZATION,
                pip_requirements=pip_requirements(),
            )
            example = history[[TIME, *KEYS, *metrics]].head(5).copy()
            example[TIME] = pd.to_datetime(example[TIME])
            example[list(metrics)] = example[list(metrics)].astype("float64")
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=AnomalyModel(),
                artifacts={"detector": str(path)},
                signature=anomaly_signature(metrics),
                input_example=example,
                metadata={
                    "task": "anomaly",
                    "detector": kind,
                    "metrics": list(metrics),
                },
                pip_requirements=pip_requirements(),
            )
    version = None
    if register:
        version = str(
            register_version(
                info.model_uri, name, tags={"task": "anomaly", "detector": kind}
            ).version
        )
    logger.info(
        "Trained the %s anomaly detector on %d rows in %.1f s",
        kind,
        len(history),
        time.perf_counter() - started,
    )
    return AnomalyTrainingResult(
        kind=kind,
        detector=detector,
        run_id=run.info.run_id,
        model_uri=info.model_uri,
        registered_name=name if register else None,
        version=version,
        metrics=results,
    )

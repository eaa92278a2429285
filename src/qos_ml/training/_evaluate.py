"""Held-out evaluation: ranking, the operating point, calibration, baselines, plots.

The operating threshold is chosen on validation scores (out-of-fold
predictions of the training part), never on the test set. The "rule"
baseline is what an operator would write without a model: the single feature
and threshold that best separate the classes on the training data.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.calibration import calibration_curve
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    precision_recall_curve,
    precision_score,
    recall_score,
    roc_auc_score,
    roc_curve,
)

from qos_ml._errors import ConfigError, DataQualityError

__all__ = [
    "SingleThresholdRule",
    "best_single_rule",
    "choose_threshold",
    "classification_metrics",
    "evaluation_figures",
    "lead_time_metrics",
]

logger = logging.getLogger(__name__)


def _f1(precision: np.ndarray, recall: np.ndarray) -> np.ndarray:
    total = precision + recall
    return np.divide(
        2 * precision * recall, total, out=np.zeros_like(total), where=total > 0
    )


def _parse_policy(policy: str) -> tuple[str, float]:
    if policy == "max_f1":
        return "max_f1", 0.0
    kind, sep, value = policy.partition(":")
    try:
        target = float(value)
    except ValueError:
        target = float("nan")
    if not sep or kind not in ("precision", "recall") or not 0.0 < target <= 1.0:
        raise ConfigError(
            "threshold_policy",
            policy,
            '"max_f1", "precision:<0..1>" or "recall:<0..1>"',
            "choose_threshold",
        )
    return kind, target


def choose_threshold(y_true: Any, scores: Any, policy: str = "max_f1") -> float:
    """Pick the operating threshold on validation scores.

    Parameters
    ----------
    y_true : array-like of 0/1
    scores : array-like of float
    policy : str, default "max_f1"
        ``"max_f1"``: the threshold of best F1. ``"precision:0.9"``: the lowest
        threshold whose precision reaches 0.9 (most recall at that precision).
        ``"recall:0.8"``: the highest threshold whose recall reaches 0.8.
        When a target cannot be reached, the best-F1 threshold is used and the
        caller can see it in the logged precision and recall.

    Returns
    -------
    float
        Alerts fire for ``score >= threshold``.

    Examples
    --------
    >>> choose_threshold([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    0.35
    """
    kind, target = _parse_policy(policy)
    y = np.asarray(y_true)
    if y.min() == y.max():
        raise DataQualityError(
            f"threshold selection needs both classes; all {len(y)} labels are {y[0]}"
        )
    precision, recall, thresholds = precision_recall_curve(y, np.asarray(scores))
    precision, recall = precision[:-1], recall[:-1]  # drop the (1, 0) end point
    f1 = _f1(precision, recall)
    best_f1 = float(thresholds[int(np.argmax(f1))])
    if kind == "precision":
        ok = np.flatnonzero(precision >= target)
        if ok.size:
            return float(thresholds[ok[0]])
        logger.info(
            "Precision %.2f is not reachable; using the best-F1 threshold", target
        )
    elif kind == "recall":
        ok = np.flatnonzero(recall >= target)
        if ok.size:
            return float(thresholds[ok[-1]])
        logger.info("Recall %.2f is not reachable; using the best-F1 threshold", target)
    return best_f1


@dataclass(frozen=True)
class SingleThresholdRule:
    """``feature >= threshold`` (or ``<=``) flags a positive: the no-model baseline.

    Attributes
    ----------
    feature : str
    threshold : float
    higher_is_positive : bool
    train_f1 : float
        F1 of the rule on the training data it was chosen on.
    """

    feature: str
    threshold: float
    higher_is_positive: bool
    train_f1: float

    def score(self, frame: pd.DataFrame) -> np.ndarray:
        """The feature oriented so that higher means more likely positive."""
        values = frame[self.feature].to_numpy(dtype="float64")
        oriented = values if self.higher_is_positive else -values
        return np.where(np.isnan(oriented), -np.inf, oriented)

    def decide(self, frame: pd.DataFrame) -> np.ndarray:
        """Whether the rule fires on each row (never on a missing value)."""
        values = frame[self.feature].to_numpy(dtype="float64")
        with np.errstate(invalid="ignore"):
            fired = (
                values >= self.threshold
                if self.higher_is_positive
                else values <= self.threshold
            )
        return fired & ~np.isnan(values)

    def describe(self) -> str:
        """The rule as an operator would write it."""
        op = ">=" if self.higher_is_positive else "<="
        return f"{self.feature} {op} {self.threshold:.6g}"


def best_single_rule(
    frame: pd.DataFrame, label: str, features: Sequence[str]
) -> SingleThresholdRule:
    """Find the numeric feature and threshold of best F1 on ``frame``.

    Both directions are tried for each feature; missing values never fire.

    Parameters
    ----------
    frame : pandas.DataFrame
        Training data (the rule is then evaluated on the test set).
    label : str
    features : sequence of str
        Numeric candidate features.

    Returns
    -------
    SingleThresholdRule
    """
    y = frame[label].to_numpy()
    best: SingleThresholdRule | None = None
    for feature in features:
        values = frame[feature].to_numpy(dtype="float64")
        known = ~np.isnan(values)
        if known.sum() < 2 or np.unique(values[known]).size < 2:
            continue
        for higher in (True, False):
            oriented = values[known] if higher else -values[known]
            precision, recall, thresholds = precision_recall_curve(y[known], oriented)
            # Rows with a missing value never fire: rescale recall to all positives.
            recall = recall[:-1] * y[known].sum() / max(y.sum(), 1)
            precision = precision[:-1]
            f1 = _f1(precision, recall)
            i = int(np.argmax(f1))
            if best is None or f1[i] > best.train_f1:
                cut = float(thresholds[i]) if higher else -float(thresholds[i])
                best = SingleThresholdRule(feature, cut, higher, float(f1[i]))
    if best is None:
        raise DataQualityError(
            f"no numeric feature of {list(features)} has two distinct values; "
            "the single-threshold baseline cannot be built"
        )
    return best


def classification_metrics(
    y_true: Any, scores: Any, threshold: float, *, decision: Any = None
) -> dict[str, float]:
    """Ranking, operating-point and calibration metrics on held-out data.

    Parameters
    ----------
    y_true : array-like of 0/1
    scores : array-like of float
        Probabilities (for the Brier score) or any ranking score.
    threshold : float
        Operating threshold (``score >= threshold`` is an alert).
    decision : array-like of bool, optional
        Decisions to use instead of thresholding ``scores``.

    Returns
    -------
    dict
        ``roc_auc``, ``pr_auc``, ``precision``, ``recall``, ``f1``,
        ``alert_rate``, ``brier`` (NaN for scores outside [0, 1]).
    """
    y = np.asarray(y_true)
    s = np.asarray(scores, dtype="float64")
    fired = s >= threshold if decision is None else np.asarray(decision, dtype=bool)
    precision = float(precision_score(y, fired, zero_division=0.0))
    recall = float(recall_score(y, fired, zero_division=0.0))
    finite = np.where(np.isfinite(s), s, np.nanmin(s[np.isfinite(s)]) - 1.0)
    probability = bool(np.all((s >= 0) & (s <= 1)))
    return {
        "roc_auc": float(roc_auc_score(y, finite)),
        "pr_auc": float(average_precision_score(y, finite)),
        "precision": precision,
        "recall": recall,
        "f1": 0.0
        if precision + recall == 0
        else 2 * precision * recall / (precision + recall),
        "alert_rate": float(fired.mean()),
        "brier": float(brier_score_loss(y, s)) if probability else float("nan"),
    }


def lead_time_metrics(
    y_true: Any, decision: Any, time_to_event_s: Any
) -> dict[str, float]:
    """How long before the event the alerts fired, over correctly alerted rows.

    Parameters
    ----------
    y_true : array-like of 0/1
    decision : array-like of bool
    time_to_event_s : array-like of float
        Seconds from the observation to the event; NaN where unknown.

    Returns
    -------
    dict
        ``lead_time_median_s``, ``lead_time_mean_s``, ``lead_time_p10_s`` and
        ``lead_time_alerted`` (count of alerted positives with a known time);
        empty when no positive row with a known time was alerted.
    """
    # TODO(#7): per-session "first alert before the stall" needs the session and
    # the stall time; this measures each alerted row independently.
    y = np.asarray(y_true).astype(bool)
    fired = np.asarray(decision, dtype=bool)
    lead = np.asarray(time_to_event_s, dtype="float64")
    hit = y & fired & ~np.isnan(lead) & (lead >= 0)
    if not hit.any():
        return {}
    values = lead[hit]
    return {
        "lead_time_median_s": float(np.median(values)),
        "lead_time_mean_s": float(np.mean(values)),
        "lead_time_p10_s": float(np.percentile(values, 10)),
        "lead_time_alerted": float(hit.sum()),
    }


def evaluation_figures(
    y_true: Any,
    curves: dict[str, Any],
    *,
    threshold: float,
    model_scores: Any,
    importance: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """Matplotlib figures of the evaluation (Agg backend, no display needed).

    Parameters
    ----------
    y_true : array-like of 0/1
    curves : dict of str to array-like
        Scores per model name (model, logistic baseline, single rule).
    threshold : float
        The model's operating threshold, marked on the PR curve.
    model_scores : array-like
        The model's probabilities, for the calibration plot.
    importance : pandas.DataFrame, optional
        Columns ``feature``, ``importance_mean``, ``importance_std``.

    Returns
    -------
    dict of str to matplotlib.figure.Figure
        ``pr_curve.png``, ``roc_curve.png``, ``calibration.png`` and, with
        ``importance``, ``permutation_importance.png``.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    y = np.asarray(y_true)
    figures: dict[str, Any] = {}

    pr = Figure(figsize=(6, 4.5))
    ax = pr.subplots()
    for name, scores in curves.items():
        p, r, _ = precision_recall_curve(y, scores)
        ax.plot(r, p, label=f"{name} (AP {average_precision_score(y, scores):.3f})")
    s = np.asarray(model_scores)
    fired = s >= threshold
    ax.scatter(
        [recall_score(y, fired, zero_division=0.0)],
        [precision_score(y, fired, zero_division=0.0)],
        color="black",
        zorder=3,
        label=f"threshold {threshold:.3f}",
    )
    ax.axhline(y.mean(), color="grey", linestyle=":", label="positive rate")
    ax.set(xlabel="recall", ylabel="precision", title="Precision-recall (test)")
    ax.legend(fontsize=8)
    figures["pr_curve.png"] = pr

    roc = Figure(figsize=(6, 4.5))
    ax = roc.subplots()
    for name, scores in curves.items():
        fpr, tpr, _ = roc_curve(y, scores)
        ax.plot(fpr, tpr, label=f"{name} (AUC {roc_auc_score(y, scores):.3f})")
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":")
    ax.set(
        xlabel="false positive rate", ylabel="true positive rate", title="ROC (test)"
    )
    ax.legend(fontsize=8)
    figures["roc_curve.png"] = roc

    cal = Figure(figsize=(6, 4.5))
    ax = cal.subplots()
    observed, predicted = calibration_curve(y, s, n_bins=10, strategy="quantile")
    ax.plot(predicted, observed, marker="o", label="model")
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfect")
    ax.set(
        xlabel="mean predicted probability",
        ylabel="observed positive share",
        title=f"Calibration (Brier {brier_score_loss(y, s):.3f})",
    )
    ax.legend(fontsize=8)
    figures["calibration.png"] = cal

    if importance is not None and len(importance):
        top = importance.sort_values("importance_mean").tail(20)
        fig = Figure(figsize=(6, 0.3 * len(top) + 1.5))
        ax = fig.subplots()
        ax.barh(top["feature"], top["importance_mean"], xerr=top["importance_std"])
        ax.set(
            xlabel="PR-AUC drop when shuffled", title="Permutation importance (test)"
        )
        fig.tight_layout()
        figures["permutation_importance.png"] = fig
    return figures

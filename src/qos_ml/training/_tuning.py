"""Hyperparameter search with hyperopt TPE over a declared search space.

The loss is minus the mean cross-validated PR-AUC (average precision): with
rare stalls and failures, ROC-AUC flatters a model that ranks the many easy
negatives well. Parameter values are reported as values (``max_depth=8``),
never as the index of a choice, by passing every trial through
:func:`hyperopt.space_eval`.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from hyperopt import STATUS_OK, Trials, fmin, hp, space_eval, tpe
from hyperopt.early_stop import no_progress_loss
from hyperopt.fmin import generate_trials_to_calculate
from hyperopt.pyll import scope
from sklearn.metrics import average_precision_score

from qos_ml._config import on_databricks
from qos_ml._errors import ConfigError
from qos_ml.training._data import FeatureSpec
from qos_ml.training._pipeline import limit_threads, make_classifier

__all__ = ["TuningResult", "default_search_space", "tune"]

logger = logging.getLogger(__name__)

TrialsKind = Literal["auto", "local", "spark"]


def default_search_space(n_rows: int | None = None) -> dict[str, Any]:
    """The search space of the boosted model, one hyperopt expression per parameter.

    Parameters
    ----------
    n_rows : int, optional
        Rows the model trains on. A leaf must be able to hold a useful share
        of them: ``min_samples_leaf`` is searched up to a tenth of ``n_rows``
        (at least 4, at most 100). On 120 rows a floor of 70 leaves no split,
        and the model predicts a constant.

    Returns
    -------
    dict
        Keys are parameters of
        :class:`~sklearn.ensemble.HistGradientBoostingClassifier`.

    Examples
    --------
    >>> sorted(default_search_space())[:3]
    ['l2_regularization', 'learning_rate', 'max_depth']
    """
    leaf_max = _leaf_max(n_rows)
    return {
        "learning_rate": hp.loguniform("learning_rate", math.log(0.02), math.log(0.3)),
        "max_iter": scope.int(hp.quniform("max_iter", 50, 400, 25)),
        "max_leaf_nodes": scope.int(hp.quniform("max_leaf_nodes", 4, 64, 4)),
        "min_samples_leaf": scope.int(hp.quniform("min_samples_leaf", 2, leaf_max, 1)),
        "l2_regularization": hp.loguniform(
            "l2_regularization", math.log(1e-4), math.log(10.0)
        ),
        "max_features": hp.uniform("max_features", 0.5, 1.0),
        "max_depth": hp.choice("max_depth", _DEPTHS),
    }


_DEPTHS = (None, 3, 5, 8)


def _leaf_max(n_rows: int | None) -> int:
    return 100 if n_rows is None else int(min(100, max(4, n_rows // 10)))


def _default_point(n_rows: int | None) -> dict[str, Any]:
    """scikit-learn's defaults in the default space (hyperopt's raw values).

    Evaluated first, so that the search never ends below the untuned model.
    """
    return {
        "learning_rate": 0.1,
        "max_iter": 100.0,
        "max_leaf_nodes": 32.0,
        "min_samples_leaf": float(min(20, _leaf_max(n_rows))),
        "l2_regularization": 1e-4,
        "max_features": 1.0,
        "max_depth": _DEPTHS.index(None),
    }


@dataclass(frozen=True)
class TuningResult:
    """What the search found.

    Attributes
    ----------
    best_params : dict
        Readable values of the best trial.
    best_cv_pr_auc : float
        Its mean cross-validated PR-AUC.
    trials : pandas.DataFrame
        One row per trial: readable parameters, ``cv_pr_auc``, ``status``.
    n_trials : int
    stopped_early : bool
        The search stopped before ``max_evals`` for lack of progress.
    seconds : float
    """

    best_params: dict[str, Any]
    best_cv_pr_auc: float
    trials: pd.DataFrame
    n_trials: int
    stopped_early: bool
    seconds: float


def _cv_pr_auc(
    params: Mapping[str, Any],
    frame: pd.DataFrame,
    spec: FeatureSpec,
    folds: Sequence[tuple[np.ndarray, np.ndarray]],
    class_weight: str | None,
    seed: int,
) -> list[float]:
    X = frame.loc[:, list(spec.features)]  # noqa: N806
    y = frame[spec.label].to_numpy()
    scores = []
    for train, valid in folds:
        model = make_classifier(
            "boosted",
            spec.numeric,
            spec.categorical,
            params=params,
            class_weight=class_weight,
            seed=seed,
        )
        model.fit(X.iloc[train], y[train])
        proba = model.predict_proba(X.iloc[valid])[:, 1]
        scores.append(float(average_precision_score(y[valid], proba)))
    return scores


def _make_trials(
    kind: TrialsKind, parallelism: int | None, start: list[dict[str, Any]] | None
) -> Any:
    if kind not in ("auto", "local", "spark"):
        raise ConfigError("trials", kind, '"auto", "local" or "spark"', "tune")
    if kind == "spark" or (kind == "auto" and on_databricks()):
        from hyperopt import SparkTrials

        # TODO(#7): SparkTrials cannot be seeded with the default point.
        return SparkTrials(parallelism=parallelism)
    return generate_trials_to_calculate(start) if start else Trials()


def tune(
    frame: pd.DataFrame,
    spec: FeatureSpec,
    folds: Sequence[tuple[np.ndarray, np.ndarray]],
    *,
    space: Mapping[str, Any] | None = None,
    max_evals: int = 30,
    early_stop_rounds: int = 10,
    trials: TrialsKind = "auto",
    parallelism: int | None = None,
    class_weight: str | None = None,
    seed: int = 0,
    progress: bool = False,
    n_threads: int | None = 1,
) -> TuningResult:
    """Search the boosted model's hyperparameters with TPE.

    Parameters
    ----------
    frame : pandas.DataFrame
        The training part (never the test set).
    spec : FeatureSpec
    folds : sequence of (train_index, validation_index)
        From :func:`~qos_ml.training.cv_folds`; must not be empty.
    space : mapping, optional
        Parameter name -> hyperopt expression (``hp.*``); default
        :func:`default_search_space` for the smallest training fold, whose
        first trial is scikit-learn's default model. Fixed values are allowed.
    max_evals : int, default 30
    early_stop_rounds : int, default 10
        Stop after this many trials without a better loss.
    trials : {"auto", "local", "spark"}, default "auto"
        ``"local"``: :class:`hyperopt.Trials` in this process; ``"spark"``:
        :class:`hyperopt.SparkTrials`, one Spark task per trial; ``"auto"``:
        Spark on Databricks, local elsewhere.
    parallelism : int, optional
        Concurrent trials of ``SparkTrials``.
    class_weight : {"balanced", None}
    seed : int, default 0
    progress : bool, default False
        Show hyperopt's progress bar.
    n_threads : int or None, default 1
        OpenMP threads per fit (see :func:`limit_threads`).

    Returns
    -------
    TuningResult
    """
    if not folds:
        raise ConfigError("folds", [], "at least two cross-validation folds", "tune")
    if max_evals < 1:
        raise ConfigError("max_evals", max_evals, "an integer >= 1", "tune")
    if early_stop_rounds < 1:
        raise ConfigError(
            "early_stop_rounds", early_stop_rounds, "an integer >= 1", "tune"
        )
    folds = list(folds)
    # The leaf floor scales with the rows of the smallest training fold.
    n_fit = min(len(train) for train, _ in folds)
    start = [_default_point(n_fit)] if space is None else None
    space = dict(space if space is not None else default_search_space(n_fit))

    def objective(params: dict[str, Any]) -> dict[str, Any]:
        with limit_threads(n_threads):
            scores = _cv_pr_auc(params, frame, spec, folds, class_weight, seed)
        return {"loss": -float(np.mean(scores)), "status": STATUS_OK, "folds": scores}

    store = _make_trials(trials, parallelism, start)
    started = time.perf_counter()
    best_raw = fmin(
        objective,
        space,
        algo=tpe.suggest,
        max_evals=max_evals,
        trials=store,
        rstate=np.random.default_rng(seed),
        early_stop_fn=no_progress_loss(early_stop_rounds),
        show_progressbar=progress,
    )
    seconds = time.perf_counter() - started

    rows = []
    for trial in store.trials:
        chosen = {k: v[0] for k, v in trial["misc"]["vals"].items() if v}
        readable = space_eval(space, chosen)
        result = trial.get("result") or {}
        loss = result.get("loss")
        rows.append(
            {
                **{k: readable[k] for k in sorted(readable)},
                "cv_pr_auc": None if loss is None else -float(loss),
                "status": result.get("status"),
            }
        )
    table = pd.DataFrame(rows)
    best_params = space_eval(space, best_raw)
    best_loss = min(
        float(t["result"]["loss"])
        for t in store.trials
        if (t.get("result") or {}).get("status") == STATUS_OK
    )
    logger.info(
        "Tuned %d trial(s) in %.1f s; best CV PR-AUC %.4f",
        len(store.trials),
        seconds,
        -best_loss,
    )
    return TuningResult(
        best_params=dict(best_params),
        best_cv_pr_auc=-best_loss,
        trials=table,
        n_trials=len(store.trials),
        stopped_early=len(store.trials) < max_evals,
        seconds=seconds,
    )

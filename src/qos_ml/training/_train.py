"""Train, tune, evaluate, log and register one supervised model, in one call.

:func:`train_classifier` is what a notebook calls: it splits without leaking,
tunes the boosted model, trains the logistic baseline beside it, finds the best
single-threshold rule, evaluates all three on the held-out split, logs one
MLflow run with plots and registers the model as the new challenger.
"""

from __future__ import annotations

import logging
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from sklearn.inspection import permutation_importance

import qos_ml
from qos_ml._config import QosConfig
from qos_ml._errors import ConfigError
from qos_ml._mlflow import SKLEARN_SERIALIZATION, configure_mlflow
from qos_ml.training._data import (
    FeatureSpec,
    SplitKind,
    cv_folds,
    split_train_test,
    training_frame,
)
from qos_ml.training._evaluate import (
    SingleThresholdRule,
    best_single_rule,
    choose_threshold,
    classification_metrics,
    evaluation_figures,
    lead_time_metrics,
)
from qos_ml.training._pipeline import (
    limit_threads,
    make_classifier,
    resolve_class_weight,
)
from qos_ml.training._pyfunc import (
    ClassifierModel,
    classifier_signature,
    pip_requirements,
    signature_frame,
)
from qos_ml.training._registry import register_version
from qos_ml.training._tuning import TrialsKind, TuningResult, tune

__all__ = ["SUPERVISED_TASKS", "TrainingResult", "git_sha", "train_classifier"]

logger = logging.getLogger(__name__)

#: Tasks of :func:`train_classifier`; their registered names come from
#: :meth:`QosConfig.model_name`.
SUPERVISED_TASKS = ("buffering", "failure")

_IMPORTANCE_ROWS = 1000


@dataclass
class TrainingResult:
    """Everything one training produced.

    Attributes
    ----------
    task : str
    run_id : str
        The MLflow run.
    model_uri : str
        ``runs:/<run_id>/model``.
    registered_name : str or None
    version : str or None
        Registered version (the new challenger), when registered.
    threshold : float
        Operating threshold stored with the model.
    metrics : dict
        Test metrics of the model (``test_*``), the logistic baseline
        (``logistic_*``), the single-threshold rule (``rule_*``) and lifts.
    params : dict
        Readable hyperparameters of the boosted model.
    rule : SingleThresholdRule
    tuning : TuningResult or None
        ``None`` when there were too few positives to cross-validate.
    test : pandas.DataFrame
        The held-out rows (features and label), e.g. for :func:`promote`.
    """

    task: str
    run_id: str
    model_uri: str
    registered_name: str | None
    version: str | None
    threshold: float
    metrics: dict[str, float]
    params: dict[str, Any]
    rule: SingleThresholdRule
    tuning: TuningResult | None
    test: pd.DataFrame = field(repr=False)

    def summary(self) -> pd.DataFrame:
        """Test ROC-AUC, PR-AUC, precision and recall of model, baseline and rule."""
        rows = {}
        for name, prefix in (
            ("boosted", "test_"),
            ("logistic", "logistic_"),
            ("rule", "rule_"),
        ):
            rows[name] = {
                m: self.metrics.get(f"{prefix}{m}", float("nan"))
                for m in ("roc_auc", "pr_auc", "precision", "recall")
            }
        return pd.DataFrame(rows).T


def git_sha() -> str | None:
    """The commit of the qos_ml source tree, when it is a git checkout."""
    source = Path(qos_ml.__file__).resolve().parent
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=source,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        logger.debug("No git commit for %s: %s", source, exc)
        return None
    return done.stdout.strip() or None


def _out_of_fold(
    kind: str,
    frame: pd.DataFrame,
    spec: FeatureSpec,
    folds: Sequence[tuple[np.ndarray, np.ndarray]],
    params: Mapping[str, Any],
    class_weight: str | None,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Validation scores of each fold's model; returns (row indices, scores)."""
    X = frame.loc[:, list(spec.features)]  # noqa: N806
    y = frame[spec.label].to_numpy()
    index, scores = [], []
    for train, valid in folds:
        model = make_classifier(
            kind,  # type: ignore[arg-type]
            spec.numeric,
            spec.categorical,
            params=params,
            class_weight=class_weight,
            seed=seed,
        )
        model.fit(X.iloc[train], y[train])
        index.append(valid)
        scores.append(model.predict_proba(X.iloc[valid])[:, 1])
    return np.concatenate(index), np.concatenate(scores)


def _threshold(
    kind: str,
    train: pd.DataFrame,
    spec: FeatureSpec,
    folds: Sequence[tuple[np.ndarray, np.ndarray]],
    params: Mapping[str, Any],
    class_weight: str | None,
    seed: int,
    policy: str,
    fitted: Any,
) -> tuple[float, str]:
    y = train[spec.label].to_numpy()
    if folds:
        index, scores = _out_of_fold(
            kind, train, spec, folds, params, class_weight, seed
        )
        return choose_threshold(y[index], scores, policy), "out_of_fold"
    scores = fitted.predict_proba(train.loc[:, list(spec.features)])[:, 1]
    return choose_threshold(y, scores, policy), "train_in_sample"


def train_classifier(
    data: Any,
    spec: FeatureSpec,
    *,
    task: str,
    config: QosConfig | None = None,
    split: SplitKind = "auto",
    test_fraction: float = 0.2,
    n_splits: int = 5,
    search_space: Mapping[str, Any] | None = None,
    max_evals: int = 30,
    early_stop_rounds: int = 10,
    trials: TrialsKind = "auto",
    parallelism: int | None = None,
    class_weight: str | None = "auto",
    threshold_policy: str = "max_f1",
    register: bool = True,
    feature_set: str | None = None,
    feature_set_version: str | int | None = None,
    training_table: str | None = None,
    training_table_version: int | None = None,
    run_name: str | None = None,
    seed: int = 0,
    progress: bool = False,
    n_threads: int | None = 1,
) -> TrainingResult:
    """Train, tune, evaluate, log and register the model of a supervised task.

    Parameters
    ----------
    data : pandas.DataFrame or pyspark.sql.DataFrame
        A training table with the columns ``spec`` names.
    spec : FeatureSpec
        Label, features, and the optional time, group and time-to-event columns.
    task : {"buffering", "failure"}
        Registered as ``config.model_name(task)``.
    config : QosConfig, optional
        Where MLflow tracks; default :meth:`QosConfig.load`.
    split : {"auto", "time", "group", "time_group", "random"}, default "auto"
        See :func:`split_train_test`.
    test_fraction : float, default 0.2
    n_splits : int, default 5
        Cross-validation folds for tuning and for choosing the threshold.
    search_space : mapping, optional
        hyperopt space of the boosted model (default
        :func:`default_search_space`).
    max_evals : int, default 30
        Trials of the search; 0 trains the default hyperparameters.
    early_stop_rounds : int, default 10
    trials : {"auto", "local", "spark"}, default "auto"
    parallelism : int, optional
        Concurrent trials with ``SparkTrials``.
    class_weight : {"auto", "balanced", None}, default "auto"
        ``"auto"`` balances the classes when the minority share is below 25 %.
    threshold_policy : str, default "max_f1"
        See :func:`choose_threshold` (``"precision:0.9"``, ``"recall:0.8"``).
    register : bool, default True
        Register the model as a new version (the challenger).
    feature_set, feature_set_version, training_table, training_table_version
        Lineage recorded as run tags.
    run_name : str, optional
    seed : int, default 0
    progress : bool, default False
        Show the tuning progress bar.
    n_threads : int or None, default 1
        OpenMP threads of each boosted-trees fit; None for OpenMP's default
        (see :func:`~qos_ml.training._pipeline.limit_threads`).

    Returns
    -------
    TrainingResult

    Examples
    --------
    >>> spec = FeatureSpec("stalled", numeric=["rtt_ms", "throughput_kbps"],
    ...                    categorical=["device"], group="video_id")
    >>> result = train_classifier(sessions, spec, task="buffering")  # doctest: +SKIP
    >>> result.summary()  # doctest: +SKIP
    """
    if task not in SUPERVISED_TASKS:
        raise ConfigError(
            "task", task, f"one of {', '.join(SUPERVISED_TASKS)}", "train_classifier"
        )
    if max_evals < 0:
        raise ConfigError("max_evals", max_evals, "an integer >= 0", "train_classifier")
    with limit_threads(n_threads):
        return _train(
            data,
            spec,
            task,
            config or QosConfig.load(),
            split,
            test_fraction,
            n_splits,
            search_space,
            max_evals,
            early_stop_rounds,
            trials,
            parallelism,
            class_weight,
            threshold_policy,
            register,
            {
                "feature_set": feature_set or spec.name,
                "feature_set_version": feature_set_version,
                "training_table": training_table,
                "training_table_version": training_table_version,
            },
            run_name,
            seed,
            progress,
            n_threads,
        )


def _train(
    data: Any,
    spec: FeatureSpec,
    task: str,
    config: QosConfig,
    split: SplitKind,
    test_fraction: float,
    n_splits: int,
    search_space: Mapping[str, Any] | None,
    max_evals: int,
    early_stop_rounds: int,
    trials: TrialsKind,
    parallelism: int | None,
    class_weight: str | None,
    threshold_policy: str,
    register: bool,
    lineage: Mapping[str, Any],
    run_name: str | None,
    seed: int,
    progress: bool,
    n_threads: int | None,
) -> TrainingResult:
    configure_mlflow(config)
    started = time.perf_counter()

    frame = training_frame(data, spec)
    train, test = split_train_test(
        frame, spec, by=split, test_fraction=test_fraction, seed=seed
    )
    y_train = train[spec.label].to_numpy()
    y_test = test[spec.label].to_numpy()
    weight = resolve_class_weight(y_train, class_weight)
    folds = cv_folds(train, spec, n_splits=n_splits, seed=seed)

    tuning = None
    params: dict[str, Any] = {}
    if folds and max_evals > 0:
        tuning = tune(
            train,
            spec,
            folds,
            space=search_space,
            max_evals=max_evals,
            early_stop_rounds=early_stop_rounds,
            trials=trials,
            parallelism=parallelism,
            class_weight=weight,
            seed=seed,
            progress=progress,
            n_threads=n_threads,
        )
        params = tuning.best_params

    X_train = train.loc[:, list(spec.features)]  # noqa: N806
    X_test = test.loc[:, list(spec.features)]  # noqa: N806
    boosted = make_classifier(
        "boosted",
        spec.numeric,
        spec.categorical,
        params=params,
        class_weight=weight,
        seed=seed,
    ).fit(X_train, y_train)
    logistic = make_classifier(
        "logistic", spec.numeric, spec.categorical, class_weight=weight, seed=seed
    ).fit(X_train, y_train)
    threshold, threshold_source = _threshold(
        "boosted", train, spec, folds, params, weight, seed, threshold_policy, boosted
    )
    logistic_threshold, _ = _threshold(
        "logistic", train, spec, folds, {}, weight, seed, threshold_policy, logistic
    )
    rule = best_single_rule(train, spec.label, spec.numeric)

    # Held-out evaluation of the model, the baseline and the rule.
    score = boosted.predict_proba(X_test)[:, 1]
    logistic_score = logistic.predict_proba(X_test)[:, 1]
    rule_score = rule.score(test)
    metrics = {
        f"test_{k}": v
        for k, v in classification_metrics(y_test, score, threshold).items()
    }
    metrics.update(
        {
            f"logistic_{k}": v
            for k, v in classification_metrics(
                y_test, logistic_score, logistic_threshold
            ).items()
        }
    )
    rule_metrics = classification_metrics(
        y_test, rule_score, rule.threshold, decision=rule.decide(test)
    )
    rule_metrics.pop("brier")
    metrics.update({f"rule_{k}": v for k, v in rule_metrics.items()})
    metrics["rule_binary_pr_auc"] = classification_metrics(
        y_test, rule.decide(test).astype(float), 0.5
    )["pr_auc"]
    for base in ("logistic", "rule"):
        metrics[f"lift_pr_auc_over_{base}"] = metrics["test_pr_auc"] / max(
            metrics[f"{base}_pr_auc"], 1e-12
        )
        metrics[f"gain_roc_auc_over_{base}"] = (
            metrics["test_roc_auc"] - metrics[f"{base}_roc_auc"]
        )
        metrics[f"gain_f1_over_{base}"] = metrics["test_f1"] - metrics[f"{base}_f1"]
    metrics.update(
        threshold=threshold,
        test_rows=float(len(test)),
        train_rows=float(len(train)),
        test_positive_rate=float(y_test.mean()),
        train_positive_rate=float(y_train.mean()),
    )
    if tuning is not None:
        metrics["cv_pr_auc"] = tuning.best_cv_pr_auc
    if spec.time_to_event:
        metrics.update(
            lead_time_metrics(y_test, score >= threshold, test[spec.time_to_event])
        )

    sample = test.sample(min(len(test), _IMPORTANCE_ROWS), random_state=seed)
    importance = permutation_importance(
        boosted,
        sample.loc[:, list(spec.features)],
        sample[spec.label].to_numpy(),
        scoring="average_precision",
        n_repeats=2,
        random_state=seed,
    )
    importance_table = pd.DataFrame(
        {
            "feature": list(spec.features),
            "importance_mean": importance.importances_mean,
            "importance_std": importance.importances_std,
        }
    ).sort_values("importance_mean", ascending=False)
    figures = evaluation_figures(
        y_test,
        {
            "boosted": score,
            "logistic": logistic_score,
            f"rule {rule.feature}": np.where(
                np.isfinite(rule_score), rule_score, -1e300
            ),
        },
        threshold=threshold,
        model_scores=score,
        importance=importance_table,
    )

    tags = {
        "task": task,
        "qos_ml.version": qos_ml.__version__,
        "threshold_source": threshold_source,
        "single_rule": rule.describe(),
        "split": split,
    }
    sha = git_sha()
    if sha:
        tags["git_sha"] = sha
    tags.update({k: str(v) for k, v in lineage.items() if v is not None})
    run_params = {f"model.{k}": v for k, v in params.items()}
    run_params.update(
        class_weight=weight,
        threshold_policy=threshold_policy,
        test_fraction=test_fraction,
        n_splits_used=len(folds),
        max_evals=max_evals,
        trials=trials,
        n_numeric=len(spec.numeric),
        n_categorical=len(spec.categorical),
        label=spec.label,
        group=spec.group,
        time=spec.time,
        seed=seed,
    )

    name = config.model_name(task)
    with mlflow.start_run(
        run_name=run_name or f"{task}-{time.strftime('%Y%m%d-%H%M%S')}"
    ) as run:
        mlflow.set_tags(tags)
        mlflow.log_params(
            {k: "None" if v is None else v for k, v in run_params.items()}
        )
        mlflow.log_metrics({k: v for k, v in metrics.items() if np.isfinite(v)})
        for file_name, figure in figures.items():
            mlflow.log_figure(figure, f"plots/{file_name}")
        mlflow.log_dict(
            {
                "features": list(spec.features),
                "numeric": list(spec.numeric),
                "categorical": list(spec.categorical),
                "rule": rule.describe(),
                "threshold": threshold,
            },
            "model_card.json",
        )
        mlflow.log_text(
            importance_table.to_csv(index=False), "permutation_importance.csv"
        )
        if tuning is not None:
            mlflow.log_text(tuning.trials.to_csv(index=False), "tuning/trials.csv")
        model_info = _log_pyfunc(boosted, spec, threshold, train, task)
    model_uri = model_info.model_uri
    version = None
    if register:
        registered = register_version(
            model_uri,
            name,
            tags={
                "task": task,
                "run_id": run.info.run_id,
                "test_pr_auc": f"{metrics['test_pr_auc']:.6f}",
            },
        )
        version = str(registered.version)
    logger.info(
        "Trained %s in %.1f s: test PR-AUC %.4f (logistic %.4f, rule %.4f), run %s",
        task,
        time.perf_counter() - started,
        metrics["test_pr_auc"],
        metrics["logistic_pr_auc"],
        metrics["rule_pr_auc"],
        run.info.run_id,
    )
    return TrainingResult(
        task=task,
        run_id=run.info.run_id,
        model_uri=model_uri,
        registered_name=name if register else None,
        version=version,
        threshold=threshold,
        metrics=metrics,
        params=params,
        rule=rule,
        tuning=tuning,
        test=test.loc[:, [*spec.features, spec.label]],
    )


def _log_pyfunc(
    pipeline: Any, spec: FeatureSpec, threshold: float, train: pd.DataFrame, task: str
) -> Any:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "pipeline"
        mlflow.sklearn.save_model(
            pipeline,
            str(path),
            serialization_format=SKLEARN_SERIALIZATION,
            pip_requirements=pip_requirements(),
        )
        return mlflow.pyfunc.log_model(
            name="model",
            python_model=ClassifierModel(),
            artifacts={"pipeline": str(path)},
            signature=classifier_signature(spec.numeric, spec.categorical, threshold),
            input_example=signature_frame(
                train.head(5), spec.numeric, spec.categorical
            ),
            model_config={
                "threshold": float(threshold),
                "features": list(spec.features),
            },
            metadata={
                "task": task,
                "threshold": float(threshold),
                "features": list(spec.features),
                "label": spec.label,
            },
            pip_requirements=pip_requirements(),
        )

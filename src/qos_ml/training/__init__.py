"""Training: the buffering and failure models and the anomaly detectors.

From a notebook, a few lines train, tune, evaluate and register a model::

    from qos_ml.training import FeatureSpec, train_classifier, promote

    spec = FeatureSpec("stalled", numeric=[...], categorical=[...], group="video_id")
    result = train_classifier(table, spec, task="buffering", max_evals=30)
    result.summary()                      # model vs logistic baseline vs best rule
    promote("buffering", result.test, "stalled")   # champion <- challenger if better

Supervised models are scikit-learn pipelines (a gradient-boosted trees
classifier, with a logistic regression baseline trained beside it), tuned with
hyperopt, tracked in MLflow and registered with the aliases ``champion`` and
``challenger``. The anomaly detectors (an Isolation Forest and a seasonal
median/MAD baseline) score per-minute QoE aggregates by dimension.
"""

from qos_ml.training._anomaly import (
    DEFAULT_DIRECTIONS,
    AnomalyModel,
    AnomalyTrainingResult,
    IsolationForestDetector,
    SeasonalBaselineDetector,
    evaluate_detections,
    train_anomaly_detector,
)
from qos_ml.training._data import (
    FeatureSpec,
    RarePositivesWarning,
    SplitWarning,
    cv_folds,
    split_train_test,
    training_frame,
)
from qos_ml.training._evaluate import (
    SingleThresholdRule,
    best_single_rule,
    choose_threshold,
    classification_metrics,
    lead_time_metrics,
)
from qos_ml.training._from_features import (
    feature_spec_for,
    train_from_training_set,
)
from qos_ml.training._pipeline import make_classifier, make_preprocessor
from qos_ml.training._pyfunc import ClassifierModel, classifier_signature
from qos_ml.training._registry import (
    CHALLENGER,
    CHAMPION,
    PromotionDecision,
    load_model,
    promote,
    register_version,
)
from qos_ml.training._train import SUPERVISED_TASKS, TrainingResult, train_classifier
from qos_ml.training._tuning import TuningResult, default_search_space, tune
from qos_ml.training._yt_sessions import (
    LEAK_COLUMNS,
    NON_FEATURE_COLUMNS,
    load_yt_sessions,
    train_yt_sessions,
)

__all__ = [
    "CHALLENGER",
    "CHAMPION",
    "DEFAULT_DIRECTIONS",
    "LEAK_COLUMNS",
    "NON_FEATURE_COLUMNS",
    "SUPERVISED_TASKS",
    "AnomalyModel",
    "AnomalyTrainingResult",
    "ClassifierModel",
    "FeatureSpec",
    "IsolationForestDetector",
    "PromotionDecision",
    "RarePositivesWarning",
    "SeasonalBaselineDetector",
    "SingleThresholdRule",
    "SplitWarning",
    "TrainingResult",
    "TuningResult",
    "best_single_rule",
    "choose_threshold",
    "classification_metrics",
    "classifier_signature",
    "cv_folds",
    "default_search_space",
    "evaluate_detections",
    "feature_spec_for",
    "lead_time_metrics",
    "load_model",
    "load_yt_sessions",
    "make_classifier",
    "make_preprocessor",
    "promote",
    "register_version",
    "split_train_test",
    "train_anomaly_detector",
    "train_classifier",
    "train_from_training_set",
    "train_yt_sessions",
    "training_frame",
    "tune",
]

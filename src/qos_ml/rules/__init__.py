"""The rules engine: declared rules evaluated natively in Spark, batch and streaming.

* :class:`Rule`: name, description, severity, target, a condition from native
  column expressions, parameters validated from one declared table
  (:class:`Param`), minimum support, cooldown, scope and an explanation;
* :data:`rules` (:class:`RuleRegistry`): built-ins registered with
  :func:`register_rule`, YAML rules (:func:`load_rule_file`) and plugins from
  the entry-point group ``qos_ml.rules``;
* :class:`AlertEngine`: measurements, baselines (state table
  ``alerts.rule_state``), incidents and deduplicated alerts
  (``alerts.alerts``, MERGE on a deterministic id), deliveries to sinks;
* :func:`start_alert_stream`: the same per micro-batch (``foreachBatch``);
* :func:`backtest`: what a rule set would have fired over history, with
  precision, recall and time to detect against known incidents;
* :class:`LiveJob`: the live stream scored with the champion models
  (:mod:`qos_ml.serving`) beside the rules, alerts delivered to the sinks; a
  model that cannot be loaded raises a ``model_unavailable`` alert.
"""

from __future__ import annotations

from qos_ml.rules._backtest import INCIDENT_COLUMNS, BacktestReport, backtest
from qos_ml.rules._builtin import (
    AggregateMetricRule,
    AnomalyModelScore,
    AudienceDrop,
    BaselineMetricRule,
    BufferingModelScore,
    CacheHitRatioDrop,
    Cdn5xxRate,
    CmcdBufferStarvation,
    ErrorEventShare,
    ExitBeforeVideoStart,
    FailureModelScore,
    ModelScoreRule,
    PlayerErrorRate,
    RebufferingRatio,
    StallDurationP95,
    StartupTimeP95,
    TtfbAboveBaseline,
    VideoStartFailureRate,
)
from qos_ml.rules._declarative import (
    AGGREGATIONS,
    DeclarativeRule,
    load_rule_file,
    parse_rules,
)
from qos_ml.rules._engine import (
    MEASUREMENT_COLUMNS,
    AlertEngine,
    BatchReport,
    assign_incidents,
    measure,
)
from qos_ml.rules._live import (
    DEFAULT_MODELS,
    CycleReport,
    LiveJob,
    ModelUnavailable,
    default_live_rules,
)
from qos_ml.rules._params import COMPARISONS, Param, duration_seconds, validate_params
from qos_ml.rules._registry import (
    ENTRY_POINT_GROUP,
    RulePluginWarning,
    RuleRegistry,
    register_rule,
    rules,
)
from qos_ml.rules._rule import (
    EXPLANATION_FIELDS,
    TARGET_TIME_COLUMNS,
    TARGETS,
    Rule,
    compare,
    render_explanation,
)
from qos_ml.rules._stream import start_alert_stream
from qos_ml.rules._tables import RULE_STATE

__all__ = [
    "AGGREGATIONS",
    "COMPARISONS",
    "DEFAULT_MODELS",
    "ENTRY_POINT_GROUP",
    "EXPLANATION_FIELDS",
    "INCIDENT_COLUMNS",
    "MEASUREMENT_COLUMNS",
    "RULE_STATE",
    "TARGETS",
    "TARGET_TIME_COLUMNS",
    "AggregateMetricRule",
    "AlertEngine",
    "AnomalyModelScore",
    "AudienceDrop",
    "BacktestReport",
    "BaselineMetricRule",
    "BatchReport",
    "BufferingModelScore",
    "CacheHitRatioDrop",
    "Cdn5xxRate",
    "CmcdBufferStarvation",
    "CycleReport",
    "DeclarativeRule",
    "ErrorEventShare",
    "ExitBeforeVideoStart",
    "FailureModelScore",
    "LiveJob",
    "ModelScoreRule",
    "ModelUnavailable",
    "Param",
    "PlayerErrorRate",
    "RebufferingRatio",
    "Rule",
    "RulePluginWarning",
    "RuleRegistry",
    "StallDurationP95",
    "StartupTimeP95",
    "TtfbAboveBaseline",
    "VideoStartFailureRate",
    "assign_incidents",
    "backtest",
    "compare",
    "default_live_rules",
    "duration_seconds",
    "load_rule_file",
    "measure",
    "parse_rules",
    "register_rule",
    "render_explanation",
    "rules",
    "start_alert_stream",
    "validate_params",
]

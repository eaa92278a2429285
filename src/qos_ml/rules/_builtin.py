"""Built-in rules: what operators of a video service expect to be told about.

Default thresholds are the starting points used in the field
(``docs/QOE_METRICS.md``, "Alert thresholds used by open-source QoE stacks");
where that list gives none, the default is ours and the docstring says so.
Every threshold is a parameter: ``rules.get("startup_time_p95", threshold=2.5)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from qos_ml.rules._params import Param
from qos_ml.rules._registry import register_rule
from qos_ml.rules._rule import Rule, compare

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

__all__ = [
    "AggregateMetricRule",
    "AnomalyModelScore",
    "AudienceDrop",
    "BaselineMetricRule",
    "BufferingModelScore",
    "CacheHitRatioDrop",
    "Cdn5xxRate",
    "CmcdBufferStarvation",
    "ErrorEventShare",
    "ExitBeforeVideoStart",
    "FailureModelScore",
    "ModelScoreRule",
    "PlayerErrorRate",
    "RebufferingRatio",
    "StallDurationP95",
    "StartupTimeP95",
    "TtfbAboveBaseline",
    "VideoStartFailureRate",
]


def _thresholds(
    warning: float, critical: float | None, high: float | None = None
) -> dict[str, Param]:
    return {
        "threshold": Param("float", warning, low=0, high=high, doc="Fires beyond it."),
        "critical_threshold": Param(
            "float",
            critical,
            low=0,
            high=high,
            optional=True,
            doc="Beyond it the alert is critical.",
        ),
    }


def _dimensions(default: tuple[str, ...]) -> dict[str, Param]:
    return {
        "dimensions": Param(
            "columns",
            default,
            doc="Dimensions of the aggregate to watch (empty: all of them).",
        )
    }


class AggregateMetricRule(Rule):
    """A threshold on one column of ``gold.qoe_by_dimension_minute``.

    Over a window longer than a minute the per-minute values are averaged,
    weighted by ``weight`` (views or attempts); for a percentile column this
    is an approximation of the window's percentile.
    """

    target = "aggregate"
    metric: ClassVar[str]
    weight: ClassVar[str] = "views"

    def input_columns(self) -> tuple[str, ...]:
        """The metric, its weight and the dimension name."""
        return (self.metric, self.weight, "dimension")

    def prepare(self, df: DataFrame) -> DataFrame:
        """Keep the watched dimensions (all when ``dimensions`` is empty)."""
        from pyspark.sql import functions as F

        dimensions = self.params.get("dimensions") or ()
        return df.where(F.col("dimension").isin(*dimensions)) if dimensions else df

    def _weight(self) -> Column:
        from pyspark.sql import functions as F

        return F.when(F.col(self.metric).isNotNull(), F.col(self.weight))

    def observed(self) -> Column:
        """Weighted mean of the metric over the window's minutes."""
        # TODO(#8): a window longer than the micro-batch is evaluated on the
        # minutes each batch holds (the alert id merges them); re-reading the
        # window's earlier minutes from the source table would make it exact.
        from pyspark.sql import functions as F

        total = F.sum(self._weight())
        return F.sum(F.col(self.metric) * self._weight()) / F.when(total > 0, total)

    def support(self) -> Column:
        """Views (or attempts) with a value of the metric."""
        from pyspark.sql import functions as F

        return F.coalesce(F.sum(self._weight()), F.lit(0))


class BaselineMetricRule(AggregateMetricRule):
    """A metric compared with its own mean over the scope's previous windows.

    The threshold is ``baseline x ratio`` (critical: ``x critical_ratio``);
    the engine keeps the previous windows in the state table
    ``alerts.rule_state`` so a restarted stream keeps its baselines.
    """

    uses_baseline = True

    def threshold(self) -> Column:
        """``baseline x ratio``."""
        from pyspark.sql import functions as F

        return F.col("baseline") * F.lit(self.params["ratio"])

    def critical_threshold(self) -> Column | None:
        """``baseline x critical_ratio`` when set."""
        from pyspark.sql import functions as F

        ratio = self.params.get("critical_ratio")
        return None if ratio is None else F.col("baseline") * F.lit(ratio)


@register_rule
class StartupTimeP95(AggregateMetricRule):
    """p95 video startup time over 2 s (warning) or 3 s (critical), held 5 minutes."""

    name = "startup_time_p95"
    description = (
        "p95 video startup time is above its threshold (held over the window)."
    )
    metric = "video_startup_time_p95_s"
    explanation = (
        "Video startup time p95 is {observed:.2f} s, above {threshold:.2f} s, "
        "on {scope} ({support} views)"
    )
    parameters: ClassVar[dict[str, Param]] = {
        **_thresholds(2.0, 3.0),
        **_dimensions(()),
        "window": Param("duration", "5 minutes", doc="Held over this long."),
    }


@register_rule
class RebufferingRatio(AggregateMetricRule):
    """Rebuffering ratio over 5 % (warning) or 10 % (critical)."""

    name = "rebuffering_ratio"
    description = (
        "Rebuffering ratio (stall time over play plus stall time) is too high."
    )
    metric = "rebuffering_ratio"
    explanation = (
        "Rebuffering ratio is {observed:.1%}, above {threshold:.1%}, on {scope} "
        "({support} views)"
    )
    parameters: ClassVar[dict[str, Param]] = {
        **_thresholds(0.05, 0.10, high=1),
        **_dimensions(()),
    }


@register_rule
class ExitBeforeVideoStart(AggregateMetricRule):
    """Exits before video start (EBVS) over 15 % of attempts (30 % critical).

    The field list gives no EBVS threshold; these defaults are ours.
    """

    name = "exit_before_video_start"
    description = "Too many viewers give up before the first frame (EBVS rate)."
    metric = "exit_before_video_start_rate"
    weight = "attempts"
    explanation = (
        "{observed:.1%} of attempts exit before video start (threshold "
        "{threshold:.1%}) on {scope} ({support} attempts)"
    )
    parameters: ClassVar[dict[str, Param]] = {
        **_thresholds(0.15, 0.30, high=1),
        **_dimensions(()),
    }


@register_rule
class VideoStartFailureRate(AggregateMetricRule):
    """Video start failures over 2 % of attempts (5 % critical); defaults are ours."""

    name = "video_start_failure_rate"
    description = "Too many attempts fail with a fatal error before the first frame."
    metric = "video_start_failure_rate"
    weight = "attempts"
    explanation = (
        "Video start failure rate is {observed:.1%} (threshold {threshold:.1%}) "
        "on {scope} ({support} attempts)"
    )
    parameters: ClassVar[dict[str, Param]] = {
        **_thresholds(0.02, 0.05, high=1),
        **_dimensions(()),
    }


@register_rule
class TtfbAboveBaseline(BaselineMetricRule):
    """p95 time to first byte more than 10 % above its own recent baseline."""

    name = "ttfb_above_baseline"
    description = "CDN time to first byte (p95) rose above its own recent baseline."
    metric = "ttfb_p95_s"
    explanation = (
        "TTFB p95 is {observed:.3f} s against a baseline of {baseline:.3f} s "
        "(threshold {threshold:.3f} s) on {scope}"
    )
    parameters: ClassVar[dict[str, Param]] = {
        "ratio": Param("float", 1.10, low=1.0, doc="Fires above baseline x ratio."),
        "critical_ratio": Param(
            "float", 1.5, low=1.0, optional=True, doc="Critical above baseline x it."
        ),
        **_dimensions(("edge_location",)),
    }


@register_rule
class CacheHitRatioDrop(BaselineMetricRule):
    """Cache hit ratio below 80 % of its recent baseline (50 %: critical); ours."""

    name = "cache_hit_ratio_drop"
    description = "The CDN cache hit ratio dropped against its own recent baseline."
    metric = "cache_hit_ratio"
    comparison = "<"
    explanation = (
        "Cache hit ratio is {observed:.1%} against a baseline of {baseline:.1%} "
        "(threshold {threshold:.1%}) on {scope}"
    )
    parameters: ClassVar[dict[str, Param]] = {
        "ratio": Param("float", 0.8, low=0, high=1, doc="Fires below baseline x it."),
        "critical_ratio": Param(
            "float", 0.5, low=0, high=1, optional=True, doc="Critical below it."
        ),
        **_dimensions(("edge_location",)),
    }


@register_rule
class AudienceDrop(BaselineMetricRule):
    """Viewers down more than 50 % in 5 minutes against the previous windows.

    A known scope with no view in a window counts as zero views, so a drop to
    nobody fires too. Support is the baseline (the audience that went away).
    """

    # TODO(#8): when no row at all arrives (a global outage) there is no
    # window to compare; a heartbeat on processing time would catch it.
    name = "audience_drop"
    description = "The audience (views started) fell sharply against its baseline."
    metric = "views"
    comparison = "<"
    fill_missing = 0.0
    explanation = (
        "{observed} views in the window against a baseline of {baseline:.1f} "
        "(threshold {threshold:.1f}) on {scope}"
    )
    parameters: ClassVar[dict[str, Param]] = {
        "ratio": Param("float", 0.5, low=0, high=1, doc="Fires below baseline x it."),
        "critical_ratio": Param(
            "float", 0.2, low=0, high=1, optional=True, doc="Critical below it."
        ),
        "window": Param("duration", "5 minutes", doc="Length of the window."),
        "baseline_windows": Param("int", 6, low=1, high=1440, doc="Windows averaged."),
        **_dimensions(("cdn",)),
    }

    def input_columns(self) -> tuple[str, ...]:
        """Views and the dimension name."""
        return ("views", "dimension")

    def observed(self) -> Column:
        """Views started in the window."""
        from pyspark.sql import functions as F

        return F.sum("views")

    def support(self) -> Column:
        """Views started in the window (eligibility reads the baseline)."""
        from pyspark.sql import functions as F

        return F.sum("views")

    def eligible(self) -> Column:
        """A baseline of at least ``min_support`` views, after the warm-up."""
        from pyspark.sql import functions as F

        return (F.col("baseline") >= F.lit(self.params["min_support"])) & (
            F.col("baseline_windows") >= F.lit(self.params["warmup"])
        )


@register_rule
class ErrorEventShare(Rule):
    """The original rule: ERROR events over all player events above 0.01 %."""

    name = "error_event_share"
    description = "Share of ERROR events among all player events (the original rule)."
    target = "event"
    default_scope = ()
    explanation = (
        "ERROR events are {observed:.3%} of player events (threshold "
        "{threshold:.3%}) on {scope}, {support} events"
    )
    parameters: ClassVar[dict[str, Param]] = {
        **_thresholds(0.0001, None, high=1),
        "min_support": Param("int", 100, low=0, doc="Least events in a window."),
    }

    def input_columns(self) -> tuple[str, ...]:
        """The event type."""
        return ("event_type",)

    def observed(self) -> Column:
        """Share of ERROR events."""
        from pyspark.sql import functions as F

        return F.avg(F.when(F.col("event_type") == "ERROR", 1.0).otherwise(0.0))


@register_rule
class PlayerErrorRate(Rule):
    """Views ended by a fatal player error (VSF or playback failure) over 5 %."""

    name = "player_error_rate"
    description = "Share of views ended by a fatal player error."
    target = "view"
    default_scope = ("device_type",)
    explanation = (
        "{observed:.1%} of views failed with a fatal error (threshold "
        "{threshold:.1%}) on {scope} ({support} views)"
    )
    parameters: ClassVar[dict[str, Param]] = {**_thresholds(0.05, 0.10, high=1)}

    def input_columns(self) -> tuple[str, ...]:
        """The two failure flags."""
        return ("video_start_failure", "playback_failure")

    def observed(self) -> Column:
        """Share of views with a start or playback failure."""
        from pyspark.sql import functions as F

        failed = F.coalesce(F.col("video_start_failure"), F.lit(False)) | F.coalesce(
            F.col("playback_failure"), F.lit(False)
        )
        return F.avg(F.when(failed, 1.0).otherwise(0.0))


@register_rule
class StallDurationP95(Rule):
    """p95 stall duration (ScreenFreezedBuffer events) over 5 s."""

    name = "stall_duration_p95"
    description = "Stalls after start-up last too long (p95 of their duration)."
    target = "event"
    default_scope = ("video_id",)
    explanation = (
        "Stall duration p95 is {observed:.1f} s, above {threshold:.1f} s, on "
        "{scope} ({support} stalls)"
    )
    parameters: ClassVar[dict[str, Param]] = {**_thresholds(5.0, 10.0)}

    def input_columns(self) -> tuple[str, ...]:
        """Event type, buffer type and the stall length."""
        return ("event_type", "buffer_type", "time_ms")

    def prepare(self, df: DataFrame) -> DataFrame:
        """Keep stalls after the first frame (the start-up wait is no stall)."""
        from pyspark.sql import functions as F

        return df.where(
            (F.col("event_type") == "BUFFER")
            & (F.col("buffer_type") == "ScreenFreezedBuffer")
            & F.col("time_ms").isNotNull()
        )

    def observed(self) -> Column:
        """p95 of the stall length in seconds (percentile_approx)."""
        from pyspark.sql import functions as F

        return F.percentile_approx(F.col("time_ms") / 1000.0, 0.95)


@register_rule
class Cdn5xxRate(Rule):
    """Share of CDN responses with a 5xx status over 2 % (5 % critical)."""

    name = "cdn_5xx_rate"
    description = "The CDN answers too many requests with a server error (5xx)."
    target = "cdn_request"
    default_scope = ("edge_location",)
    explanation = (
        "{observed:.1%} of CDN requests got a 5xx answer (threshold "
        "{threshold:.1%}) on {scope} ({support} requests)"
    )
    parameters: ClassVar[dict[str, Param]] = {
        **_thresholds(0.02, 0.05, high=1),
        "min_support": Param("int", 50, low=0, doc="Least requests in a window."),
    }

    def input_columns(self) -> tuple[str, ...]:
        """The HTTP status."""
        return ("status",)

    def observed(self) -> Column:
        """Share of 5xx statuses."""
        from pyspark.sql import functions as F

        return F.avg(F.when(F.col("status").between(500, 599), 1.0).otherwise(0.0))


@register_rule
class CmcdBufferStarvation(Rule):
    """A session whose CMCD requests report ``bs`` on at least 1 % of them.

    QOE_METRICS.md counts such a session as rebuffered; scope it by
    ``edge_location`` instead to watch places rather than sessions.
    """

    name = "cmcd_buffer_starvation"
    description = "CMCD requests report buffer starvation (bs) too often."
    target = "cdn_request"
    default_scope = ("cmcd_sid",)
    comparison = ">="
    explanation = (
        "{observed:.1%} of CMCD requests report buffer starvation (threshold "
        "{threshold:.1%}) on {scope} ({support} requests)"
    )
    parameters: ClassVar[dict[str, Param]] = {**_thresholds(0.01, 0.10, high=1)}

    def input_columns(self) -> tuple[str, ...]:
        """The CMCD ``bs`` flag."""
        return ("cmcd_bs",)

    def prepare(self, df: DataFrame) -> DataFrame:
        """Keep requests that carried CMCD data."""
        from pyspark.sql import functions as F

        return df.where(F.col("cmcd_bs").isNotNull())

    def observed(self) -> Column:
        """Share of requests with ``bs``."""
        from pyspark.sql import functions as F

        return F.avg(F.when(F.col("cmcd_bs"), 1.0).otherwise(0.0))


class ModelScoreRule(Rule):
    """A model's score above its operating threshold.

    The input is any DataFrame of scores with ``score`` (probability),
    ``decision`` (score at or above the model's own operating threshold) and
    ``model_version``; with ``threshold`` unset the rule fires on
    ``decision``, otherwise on ``score`` above it. A ``model_name`` column,
    when present, is filtered on names ending with ``model``; a
    ``top_features`` column, when present, becomes the alert's ``detail``
    (which features drove the score).
    """

    target = "score"
    source = "model"
    model: ClassVar[str]
    explanation = (
        "Model {rule} scored {observed:.2f} (version {model_version}, threshold "
        "{threshold:.2f}) on {scope}; drivers: {detail}"
    )

    @classmethod
    def parameter_table(cls) -> dict[str, Param]:
        """Common parameters, then the score threshold, model and time column."""
        table = super().parameter_table()
        table.update(
            {
                "min_support": Param("int", 1, low=0, doc="Least scored rows."),
                "threshold": Param(
                    "float",
                    None,
                    low=0,
                    high=1,
                    optional=True,
                    doc="Score threshold; unset: the model's own decision.",
                ),
                "model": Param("str", cls.model, doc="Suffix of the model name."),
                "time_column": Param(
                    "str", "window_start", doc="Event-time column of the scores."
                ),
            }
        )
        return table

    @property
    def time_column(self) -> str:
        """The ``time_column`` parameter."""
        return str(self.params["time_column"])

    def input_columns(self) -> tuple[str, ...]:
        """Score, version and (without a threshold) the decision."""
        base = ("score", "model_version")
        return base if self.params["threshold"] is not None else (*base, "decision")

    def prepare(self, df: DataFrame) -> DataFrame:
        """Keep this model's rows; carry the drivers of each score."""
        from pyspark.sql import functions as F

        if "model_name" in df.columns:
            df = df.where(F.col("model_name").endswith(self.params["model"]))
        detail = (
            F.col("top_features").cast("string")
            if "top_features" in df.columns
            else F.lit(None).cast("string")
        )
        decision = (
            F.col("decision").cast("int")
            if "decision" in df.columns
            else F.lit(None).cast("int")
        )
        return df.withColumn("_detail", detail).withColumn("_decision", decision)

    def observed(self) -> Column:
        """Highest score of the window and scope."""
        from pyspark.sql import functions as F

        return F.max("score")

    def extra_aggregates(self) -> dict[str, Column]:
        """Model version, drivers of the highest score, whether any decision fired."""
        from pyspark.sql import functions as F

        return {
            "model_version": F.max_by(F.col("model_version").cast("string"), "score"),
            "detail": F.max_by("_detail", "score"),
            "decision_any": F.max("_decision"),
        }

    def condition(self) -> Column:
        """Score above the threshold, or the model's decision when none is set."""
        from pyspark.sql import functions as F

        if self.params["threshold"] is None:
            return F.coalesce(F.col("decision_any") == 1, F.lit(False))
        return compare(F.col("observed"), ">", F.col("threshold"))

    def describe(self) -> dict[str, Any]:
        """As :meth:`Rule.describe`, with the model watched."""
        return {**super().describe(), "model": self.params["model"]}


@register_rule
class BufferingModelScore(ModelScoreRule):
    """The buffering model predicts a stall for a session."""

    name = "buffering_model_score"
    description = "The buffering model's score is above its operating threshold."
    model = "buffering"
    default_scope = ("session_id",)


@register_rule
class FailureModelScore(ModelScoreRule):
    """The failure model predicts a failed start or playback for a session."""

    name = "failure_model_score"
    description = "The failure model's score is above its operating threshold."
    model = "failure"
    default_scope = ("session_id",)


@register_rule
class AnomalyModelScore(ModelScoreRule):
    """The anomaly detector flags a dimension value's minute as anomalous."""

    name = "anomaly_model_score"
    description = "The anomaly model's score is above its operating threshold."
    model = "anomaly"
    default_scope = ("dimension", "dimension_value")

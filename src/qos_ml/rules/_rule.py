"""The rule contract: a declared object that turns one input into measurements.

A :class:`Rule` looks at one kind of input (its ``target``), groups it by
window and scope, computes an ``observed`` value and a ``support`` with native
Spark aggregate expressions, and compares the observed value with a
threshold. The engine (:mod:`qos_ml.rules._engine`) does the rest the same way
for every rule: baselines, minimum support, severity, incidents, alerts.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from qos_ml._errors import RuleError, SchemaMismatchError
from qos_ml.rules._params import (
    COMMON_PARAMS,
    COMPARISONS,
    Param,
    duration_seconds,
    validate_params,
)

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

__all__ = [
    "EXPLANATION_FIELDS",
    "TARGETS",
    "TARGET_TIME_COLUMNS",
    "Rule",
    "compare",
    "render_explanation",
]

#: What a rule may look at, and the input each stands for.
TARGETS: dict[str, str] = {
    "aggregate": "gold.qoe_by_dimension_minute (per-minute QoE by dimension)",
    "view": "gold.views (one row per view)",
    "cdn_request": "silver.cdn_requests (one row per CDN request)",
    "event": "silver.player_events (one row per player event)",
    "score": "model scores (score, decision, model_version columns)",
}
#: Event-time column each target is windowed on (score rules may override).
TARGET_TIME_COLUMNS: dict[str, str] = {
    "aggregate": "window_start",
    "view": "view_start",
    "cdn_request": "request_time",
    "event": "event_time",
    "score": "window_start",
}
#: Placeholders an explanation template may use.
EXPLANATION_FIELDS = (
    "rule",
    "observed",
    "threshold",
    "baseline",
    "support",
    "scope",
    "window_start",
    "window_end",
    "model_version",
    "detail",
)
_PLACEHOLDER = re.compile(r"\{(\w+)(?::([^{}]*))?\}")
_SPEC = re.compile(r"^\.(\d)([f%])$")

#: Parameters of every rule that compares with its own recent past.
BASELINE_PARAMS: dict[str, Param] = {
    "baseline_windows": Param(
        "int", 10, low=1, high=1440, doc="Previous windows averaged into the baseline."
    ),
    "warmup": Param(
        "int", 3, low=1, high=1440, doc="Least previous windows before it may fire."
    ),
}


def compare(left: Column, comparison: str, right: Column) -> Column:
    """Build ``left <comparison> right`` from one of :data:`COMPARISONS`."""
    if comparison == ">":
        return left > right
    if comparison == ">=":
        return left >= right
    if comparison == "<":
        return left < right
    if comparison == "<=":
        return left <= right
    raise RuleError(f"comparison {comparison!r} is not allowed; allowed: {COMPARISONS}")


def check_template(rule: str, template: str) -> str:
    """Check an explanation template's placeholders and format specs.

    Raises
    ------
    RuleError
        Naming the rule, the placeholder and the allowed ones.
    """
    for match in _PLACEHOLDER.finditer(template):
        field, spec = match.group(1), match.group(2)
        if field not in EXPLANATION_FIELDS:
            raise RuleError(
                f"rule {rule!r}: explanation placeholder {{{field}}} is unknown; "
                f"allowed: {', '.join(EXPLANATION_FIELDS)}"
            )
        if spec and not _SPEC.match(spec):
            raise RuleError(
                f"rule {rule!r}: explanation format {{{field}:{spec}}} is not "
                "allowed; allowed: '.Nf' (N decimals) or '.N%' (percent)"
            )
    return template


def render_explanation(template: str) -> Column:
    """Render a checked template over alert columns, natively.

    ``{observed:.2f}`` prints two decimals, ``{observed:.1%}`` a percentage,
    ``{observed}`` four significant digits; ``{scope}`` the scope key. Nulls
    print as ``n/a``.
    """
    from pyspark.sql import functions as F

    parts: list[Column] = []
    position = 0
    for match in _PLACEHOLDER.finditer(template):
        parts.append(F.lit(template[position : match.start()]))
        field, spec = match.group(1), match.group(2)
        column = F.col("scope_key") if field == "scope" else F.col(field)
        if field in ("observed", "threshold", "baseline", "support"):
            spec_match = _SPEC.match(spec or "")
            if spec_match and spec_match.group(2) == "%":
                text = F.format_string(f"%.{spec_match.group(1)}f%%", column * 100)
            elif spec_match:
                text = F.format_string(f"%.{spec_match.group(1)}f", column)
            else:
                text = F.format_string("%.4g", column.cast("double"))
            # format_string renders a null argument as text ("nu" at %.2f).
            text = F.when(column.isNotNull(), text)
        else:
            text = column.cast("string")
        parts.append(F.coalesce(text, F.lit("n/a")))
        position = match.end()
    parts.append(F.lit(template[position:]))
    return F.concat(*parts)


class Rule(ABC):
    """A declared alerting rule.

    Subclasses set the class attributes and implement :meth:`observed` (and
    usually :meth:`support` and :meth:`prepare`). Register built-ins with
    :func:`~qos_ml.rules.register_rule`.

    Parameters
    ----------
    name : str, optional
        Another name for this instance (two variants of one rule).
    **params
        Values of the rule's parameters (:meth:`parameter_table`), validated
        here: every rule has ``severity``, ``min_support``, ``cooldown``,
        ``window`` and ``scope``.

    Attributes
    ----------
    name : str
        Registry name.
    description : str
        One sentence for operators.
    target : str
        One of :data:`TARGETS`.
    explanation : str
        Template of the alert's explanation (see :data:`EXPLANATION_FIELDS`).
    comparison : str
        How ``observed`` is compared with ``threshold`` (``>`` fires above).
    default_scope : tuple of str
        Columns alerts are grouped by unless ``scope`` is given.
    uses_baseline : bool
        Whether the threshold derives from the scope's previous windows (the
        engine then adds ``baseline`` and ``baseline_windows`` columns).
    fill_missing : float or None
        Observed value of a known scope absent from a window (audience drop:
        no views is zero views); ``None`` leaves absent windows out.
    source : str
        ``"rule"``, or ``"model"`` for model score rules.

    Raises
    ------
    RuleError
        For an unknown parameter or a value that is not allowed.
    """

    name: str
    description: str = ""
    target: str = "aggregate"
    explanation: str = "{rule}: {observed} vs threshold {threshold} on {scope}"
    comparison: str = ">"
    default_scope: tuple[str, ...] = ("dimension", "dimension_value")
    uses_baseline: bool = False
    fill_missing: float | None = None
    source: str = "rule"
    parameters: ClassVar[Mapping[str, Param]] = {}

    def __init__(self, *, name: str | None = None, **params: Any) -> None:
        if name is not None:
            if not isinstance(name, str) or not name.isidentifier():
                raise RuleError(
                    f"rule name {name!r} is not allowed; allowed: a Python identifier"
                )
            self.name = name
        if self.target not in TARGETS:
            raise RuleError(
                f"rule {self.name!r}: target {self.target!r} is not allowed; "
                f"allowed: {', '.join(TARGETS)}"
            )
        self.params = validate_params(self.name, self.parameter_table(), params)
        self._given = dict(params)
        check_template(self.name, self.explanation)

    @classmethod
    def parameter_table(cls) -> dict[str, Param]:
        """Every parameter of the rule: the common ones, then the rule's own."""
        table = dict(COMMON_PARAMS)
        table["scope"] = Param(
            "columns", cls.default_scope, doc="Columns alerts are grouped by."
        )
        if cls.uses_baseline:
            table.update(BASELINE_PARAMS)
        table.update(cls.parameters)
        return table

    def with_params(self, **params: Any) -> Rule:
        """Return a copy with some parameters changed (validated again)."""
        return type(self)(name=self.name, **{**self._given, **params})

    # -- what the engine reads ----------------------------------------------

    @property
    def scope(self) -> tuple[str, ...]:
        """Columns alerts are grouped by."""
        return tuple(self.params["scope"])

    @property
    def window_seconds(self) -> int:
        """Length of the evaluation window in seconds."""
        return duration_seconds(self.params["window"])

    @property
    def cooldown_seconds(self) -> int:
        """Quiet time after which a new firing opens a new incident."""
        return duration_seconds(self.params["cooldown"])

    @property
    def time_column(self) -> str:
        """Event-time column the target is windowed on."""
        return TARGET_TIME_COLUMNS[self.target]

    def input_columns(self) -> tuple[str, ...]:
        """Columns of the target the rule reads besides time and scope."""
        return ()

    def required_columns(self) -> tuple[str, ...]:
        """Every column the rule needs in its input."""
        return tuple(
            dict.fromkeys((self.time_column, *self.scope, *self.input_columns()))
        )

    def check_input(self, df: DataFrame) -> None:
        """Fail fast when the input lacks a column the rule needs.

        Raises
        ------
        SchemaMismatchError
            Naming the rule, the missing columns and the columns present.
        """
        missing = [c for c in self.required_columns() if c not in df.columns]
        if missing:
            raise SchemaMismatchError(
                f"rule {self.name!r} (target {self.target}) needs columns {missing} "
                f"which its input lacks; the input has {df.columns}"
            )

    def prepare(self, df: DataFrame) -> DataFrame:
        """Filter or derive input rows before grouping (default: unchanged)."""
        return df

    @abstractmethod
    def observed(self) -> Column:
        """Aggregate expression of the observed value of one window and scope."""

    def support(self) -> Column:
        """Aggregate expression of the support (default: the number of rows)."""
        from pyspark.sql import functions as F

        return F.count("*")

    def extra_aggregates(self) -> dict[str, Column]:
        """Further aggregates kept on the measurement (``model_version``...)."""
        return {}

    def threshold(self) -> Column:
        """Threshold over a measurement row (default: the ``threshold`` parameter)."""
        from pyspark.sql import functions as F

        return F.lit(self.params.get("threshold")).cast("double")

    def critical_threshold(self) -> Column | None:
        """Threshold above which the alert is critical, or ``None``."""
        from pyspark.sql import functions as F

        value = self.params.get("critical_threshold")
        return None if value is None else F.lit(value).cast("double")

    def condition(self) -> Column:
        """Whether a measurement row fires (before support and warm-up)."""
        from pyspark.sql import functions as F

        return compare(F.col("observed"), self.comparison, F.col("threshold"))

    def eligible(self) -> Column:
        """Whether a measurement row has enough support (and baseline) to fire."""
        from pyspark.sql import functions as F

        ok = F.col("support") >= F.lit(self.params["min_support"])
        if self.uses_baseline:
            ok = ok & (F.col("baseline_windows") >= F.lit(self.params["warmup"]))
        return ok

    # -- the measurement ----------------------------------------------------

    def measure(self, df: DataFrame) -> DataFrame:
        """Group the input by window and scope into measurements.

        Returns
        -------
        DataFrame
            ``window_start``, ``window_end``, the scope columns, ``observed``
            (double), ``support`` (long) and the :meth:`extra_aggregates`.
        """
        from pyspark.sql import functions as F

        self.check_input(df)
        window = F.window(self.time_column, f"{self.window_seconds} seconds")
        aggregates = [
            self.observed().cast("double").alias("observed"),
            self.support().cast("long").alias("support"),
            *(c.alias(n) for n, c in self.extra_aggregates().items()),
        ]
        return (
            self.prepare(df)
            .groupBy(window.alias("_window"), *self.scope)
            .agg(*aggregates)
            .select(
                F.col("_window.start").alias("window_start"),
                F.col("_window.end").alias("window_end"),
                *self.scope,
                "observed",
                "support",
                *self.extra_aggregates(),
            )
        )

    def describe(self) -> dict[str, Any]:
        """Name, target, description and parameter values (for listings)."""
        return {
            "name": self.name,
            "target": self.target,
            "source": self.source,
            "description": self.description,
            "params": dict(self.params),
        }

    def __repr__(self) -> str:
        changed = {k: v for k, v in self._given.items()}
        args = ", ".join(f"{k}={v!r}" for k, v in changed.items())
        return f"{type(self).__name__}(name={self.name!r}{', ' if args else ''}{args})"

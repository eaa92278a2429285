"""Declarative rules: a threshold on a metric, written in YAML.

A rule file holds a list of rules (or a mapping with a ``rules`` list)::

    rules:
      - name: slow_edges
        description: TTFB p95 of an edge location above 800 ms
        metric: ttfb_p95_s            # a column of the target
        comparison: ">"               # >, >=, <, <=
        threshold: 0.8
        critical_threshold: 1.5       # optional
        window: 5 minutes
        group_by: [dimension, dimension_value]
        dimensions: [edge_location]   # aggregate target only: which dimensions
        severity: warning             # info, warning, critical
        min_support: 20
        cooldown: 10 minutes

``target`` defaults to ``aggregate`` (``gold.qoe_by_dimension_minute``); for the
other targets ``aggregation`` says how rows of a window combine (``mean``,
``max``, ``min``, ``sum``, ``count``, ``share`` of true values, ``p50``,
``p90``, ``p95``, ``p99``). Errors name the file, the rule, the field and the
value.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from qos_ml._errors import RuleError
from qos_ml.rules._params import COMPARISONS, Param, duration_seconds
from qos_ml.rules._registry import RuleRegistry
from qos_ml.rules._rule import TARGETS, Rule
from qos_ml.sinks._tables import SEVERITIES

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

__all__ = ["AGGREGATIONS", "DeclarativeRule", "load_rule_file", "parse_rules"]

logger = logging.getLogger(__name__)

#: How the rows of a window combine for targets other than ``aggregate``.
AGGREGATIONS = (
    "mean",
    "max",
    "min",
    "sum",
    "count",
    "share",
    "p50",
    "p90",
    "p95",
    "p99",
)
_DEFAULT_GROUP_BY = {"aggregate": ("dimension", "dimension_value")}


class DeclarativeRule(Rule):
    """A rule built from a declaration (YAML) rather than code.

    Parameters
    ----------
    name : str
    description : str
    metric : str
        Column of the target compared with the threshold (after aggregation).
    target : str, default "aggregate"
    aggregation : str, default "mean"
        One of :data:`AGGREGATIONS`; on the ``aggregate`` target the per-minute
        values are averaged weighted by ``views``.
    comparison : str, default ">"
    threshold, critical_threshold : float
    **params
        The common rule parameters (``severity``, ``min_support``,
        ``cooldown``, ``window``, ``scope``) and ``dimensions``.
    """

    name = "declarative"
    description = "A rule declared in a rule file."
    parameters: ClassVar[dict[str, Param]] = {
        "description": Param("str", "A rule declared in a rule file."),
        "target": Param("choice", "aggregate", choices=tuple(TARGETS)),
        "metric": Param("str", "views", doc="Column compared with the threshold."),
        "aggregation": Param("choice", "mean", choices=AGGREGATIONS),
        "comparison": Param("choice", ">", choices=COMPARISONS),
        "threshold": Param("float", 0.0, doc="Fires beyond it."),
        "critical_threshold": Param("float", None, optional=True),
        "explanation": Param("str", None, optional=True),
        "dimensions": Param("columns", ()),
        "scope": Param("columns", (), doc="Columns alerts are grouped by."),
    }

    def __init__(self, *, name: str | None = None, **params: Any) -> None:
        # Instance attributes the engine reads; the values are validated by the
        # parameter table in Rule.__init__.
        self.target = str(params.get("target", "aggregate"))
        self.description = str(params.get("description", self.description))
        self.comparison = str(params.get("comparison", ">"))
        if params.get("explanation"):
            self.explanation = str(params["explanation"])
        else:
            self.explanation = (
                f"{params.get('metric', 'metric')} is {{observed}} "
                f"({self.comparison} {{threshold}}) on {{scope}} ({{support}} rows)"
            )
        super().__init__(name=name, **params)

    def input_columns(self) -> tuple[str, ...]:
        """The metric (and for aggregates, views and the dimension)."""
        if self.target == "aggregate":
            return (self.params["metric"], "views", "dimension")
        return (self.params["metric"],)

    def prepare(self, df: DataFrame) -> DataFrame:
        """Keep the watched dimensions of an aggregate target."""
        from pyspark.sql import functions as F

        dimensions = self.params["dimensions"]
        if self.target == "aggregate" and dimensions:
            return df.where(F.col("dimension").isin(*dimensions))
        return df

    def observed(self) -> Column:
        """The metric, aggregated as declared."""
        from pyspark.sql import functions as F

        metric = F.col(self.params["metric"])
        if self.target == "aggregate":
            weight = F.when(metric.isNotNull(), F.col("views"))
            return F.sum(metric * weight) / F.when(F.sum(weight) > 0, F.sum(weight))
        how = self.params["aggregation"]
        if how.startswith("p"):
            return F.percentile_approx(metric.cast("double"), int(how[1:]) / 100)
        if how == "share":
            return F.avg(F.when(metric.cast("boolean"), 1.0).otherwise(0.0))
        return {
            "mean": F.avg,
            "max": F.max,
            "min": F.min,
            "sum": F.sum,
            "count": F.count,
        }[how](metric)

    def support(self) -> Column:
        """Views for an aggregate target, rows otherwise."""
        from pyspark.sql import functions as F

        if self.target == "aggregate":
            return F.coalesce(F.sum("views"), F.lit(0))
        return F.count("*")


class _RuleSpec(BaseModel):
    """One rule of a rule file (structure and types; values re-checked by the rule)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    description: str = Field(min_length=1)
    target: Literal["aggregate", "view", "cdn_request", "event", "score"] = "aggregate"
    metric: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    aggregation: Literal[AGGREGATIONS] = "mean"  # type: ignore[valid-type]
    comparison: Literal[">", ">=", "<", "<="] = ">"
    threshold: float
    critical_threshold: float | None = None
    window: str = "1 minute"
    cooldown: str = "5 minutes"
    group_by: tuple[str, ...] | None = None
    dimensions: tuple[str, ...] = ()
    severity: Literal[SEVERITIES] = "warning"  # type: ignore[valid-type]
    min_support: int = Field(default=20, ge=0)
    explanation: str | None = None

    @field_validator("window", "cooldown")
    @classmethod
    def _duration(cls, value: str) -> str:
        try:
            duration_seconds(value)
        except ValueError:
            raise ValueError(
                "a duration such as '30 seconds', '5 minutes' or '1 hour'"
            ) from None
        return value

    def to_rule(self) -> DeclarativeRule:
        params = self.model_dump(exclude={"name", "group_by"}, exclude_none=True)
        scope = self.group_by
        if scope is None:
            scope = _DEFAULT_GROUP_BY.get(self.target, ())
        return DeclarativeRule(name=self.name, scope=scope, **params)


def _value_at(data: Any, loc: Sequence[Any]) -> Any:
    for part in loc:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return "<missing>"
    return data


def parse_rules(data: Any, source: str = "<rules>") -> list[DeclarativeRule]:
    """Build declarative rules from parsed YAML (a list, or ``{"rules": [...]}``).

    Raises
    ------
    RuleError
        Naming the source, the rule (name or position), the field and the value.
    """
    if isinstance(data, Mapping):
        data = data.get("rules")
    if not isinstance(data, list):
        raise RuleError(
            f"{source}: expected a list of rules (or a mapping with a 'rules' "
            f"list); got {type(data).__name__}"
        )
    built: list[DeclarativeRule] = []
    seen: set[str] = set()
    for index, item in enumerate(data):
        label = f"rule #{index + 1}"
        if isinstance(item, Mapping) and isinstance(item.get("name"), str):
            label = f"rule {item['name']!r}"
        try:
            rule = _RuleSpec.model_validate(item).to_rule()
        except ValidationError as exc:
            error = exc.errors()[0]
            field = ".".join(str(p) for p in error["loc"]) or "(rule)"
            value = _value_at(item, error["loc"])
            raise RuleError(
                f"{source}: {label}: field {field!r} has value {value!r}: "
                f"{error['msg']}"
            ) from exc
        except RuleError as exc:
            raise RuleError(f"{source}: {label}: {exc}") from exc
        if rule.name in seen:
            raise RuleError(f"{source}: {label}: field 'name' repeats {rule.name!r}")
        seen.add(rule.name)
        built.append(rule)
    return built


def load_rule_file(
    path: str | Path, registry: RuleRegistry | None = None, *, replace: bool = False
) -> list[DeclarativeRule]:
    """Read a YAML rule file; optionally add its rules to a registry.

    Parameters
    ----------
    path : str or Path
    registry : RuleRegistry, optional
        When given, each rule is added (:meth:`RuleRegistry.add`).
    replace : bool, default False
        Allow a rule of the file to replace a registered one of the same name.

    Raises
    ------
    RuleError
        For a missing or malformed file or an invalid rule, naming the file,
        the rule, the field and the value.
    """
    file = Path(path)
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RuleError(f"rule file {str(file)!r} cannot be read: {exc}") from exc
    except yaml.YAMLError as exc:
        raise RuleError(f"rule file {str(file)!r} is not valid YAML: {exc}") from exc
    built = parse_rules(data, source=str(file))
    if registry is not None:
        for rule in built:
            registry.add(rule, replace=replace)
    logger.info("Loaded %d rule(s) from %s", len(built), file)
    return built

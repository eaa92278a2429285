"""Rule declarations, parameters, YAML rule files, the registry and its contract."""

from __future__ import annotations

import pytest

from qos_ml import PluginError, RuleError
from qos_ml.rules import (
    COMPARISONS,
    TARGETS,
    Rule,
    RulePluginWarning,
    RuleRegistry,
    StartupTimeP95,
    duration_seconds,
    load_rule_file,
    rules,
)


def test_builtins_cover_what_operators_expect() -> None:
    expected = {
        "error_event_share",
        "startup_time_p95",
        "rebuffering_ratio",
        "exit_before_video_start",
        "player_error_rate",
        "stall_duration_p95",
        "cdn_5xx_rate",
        "ttfb_above_baseline",
        "cache_hit_ratio_drop",
        "cmcd_buffer_starvation",
        "audience_drop",
        "buffering_model_score",
        "failure_model_score",
        "anomaly_model_score",
    }
    assert expected <= set(rules.names())
    startup = rules.get("startup_time_p95")
    assert (startup.params["threshold"], startup.params["critical_threshold"]) == (2, 3)
    assert rules.get("error_event_share").params["threshold"] == 0.0001
    assert rules.get("audience_drop").params["ratio"] == 0.5


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"threshold": -1}, r"'startup_time_p95'.*'threshold'.*-1.*\[0, inf\]"),
        (
            {"severity": "urgent"},
            r"'severity'.*'urgent'.*'info', 'warning', 'critical'",
        ),
        ({"cooldown": "soon"}, r"'cooldown'.*'soon'.*'5 minutes'"),
        ({"min_support": 2.5}, r"'min_support'.*2.5.*whole number"),
        ({"scope": ["bad column"]}, r"'scope'.*column names"),
        ({"threshold": True}, r"'threshold'.*True"),
        ({"treshold": 3}, r"unknown parameter\(s\) treshold.*threshold"),
    ],
)
def test_parameters_are_validated_at_construction(params, match) -> None:
    with pytest.raises(RuleError, match=match):
        StartupTimeP95(**params)


def test_rule_names_and_templates_are_checked() -> None:
    with pytest.raises(RuleError, match=r"rule name 'bad name'"):
        StartupTimeP95(name="bad name")

    class Broken(StartupTimeP95):
        name = "broken_template"
        explanation = "{observed} on {place}"

    with pytest.raises(RuleError, match=r"placeholder \{place\}.*allowed: rule"):
        Broken()

    class BadSpec(StartupTimeP95):
        name = "bad_spec"
        explanation = "{observed:>10}"

    with pytest.raises(RuleError, match=r"format \{observed:>10\}"):
        BadSpec()


def test_durations() -> None:
    assert duration_seconds("2 hours") == 7200
    with pytest.raises(ValueError, match=r"0.5 s"):
        duration_seconds("0.5 s")


def test_with_params_keeps_name_and_revalidates() -> None:
    rule = rules.get("cdn_5xx_rate", threshold=0.1)
    strict = rule.with_params(min_support=5)
    assert (strict.name, strict.params["threshold"], strict.params["min_support"]) == (
        "cdn_5xx_rate",
        0.1,
        5,
    )
    with pytest.raises(RuleError, match=r"'min_support' has value -5"):
        rule.with_params(min_support=-5)


RULE_FILE = """
rules:
  - name: slow_edges
    description: TTFB p95 of an edge location above 800 ms
    metric: ttfb_p95_s
    threshold: 0.8
    critical_threshold: 1.5
    window: 5 minutes
    dimensions: [edge_location]
    cooldown: 10 minutes
  - name: long_views
    description: views longer than an hour
    target: view
    metric: watch_time_s
    aggregation: p95
    comparison: ">="
    threshold: 3600
    group_by: [video_id]
    severity: info
"""


def test_rule_file_loads_into_a_registry(tmp_path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(RULE_FILE)
    registry = RuleRegistry()
    loaded = load_rule_file(path, registry)
    assert [r.name for r in loaded] == ["slow_edges", "long_views"]
    slow = registry.get("slow_edges")
    assert slow.scope == ("dimension", "dimension_value")
    assert slow.window_seconds == 300
    assert slow.cooldown_seconds == 600
    views = registry.get("long_views", threshold=7200)
    assert (views.target, views.comparison, views.params["threshold"]) == (
        "view",
        ">=",
        7200,
    )
    assert views.required_columns() == ("view_start", "video_id", "watch_time_s")
    with pytest.raises(PluginError, match=r"'slow_edges' is registered already"):
        load_rule_file(path, registry)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (
            "rules:\n  - name: a\n    description: d\n    metric: m\n"
            "    threshold: high\n",
            r"rules\.yaml: rule 'a': field 'threshold' has value 'high'",
        ),
        (
            "rules:\n  - name: a\n    description: d\n    metric: m\n    threshold: 1\n"
            "    comparison: '!='\n",
            r"rule 'a': field 'comparison' has value '!='",
        ),
        (
            "rules:\n  - name: a\n    description: d\n    metric: m\n    threshold: 1\n"
            "    window: fortnight\n",
            r"rule 'a': field 'window' has value 'fortnight'.*'5 minutes'",
        ),
        (
            "rules:\n  - description: d\n    metric: m\n    threshold: 1\n",
            r"rule #1: field 'name' has value '<missing>'",
        ),
        (
            "rules:\n  - name: a\n    description: d\n    metric: m\n    threshold: 1\n"
            "    colour: red\n",
            r"rule 'a': field 'colour' has value 'red'",
        ),
        (
            "rules:\n  - name: a\n    description: d\n    metric: m\n    threshold: 1\n"
            "    group_by: ['two words']\n",
            r"rule 'a': rule 'a': parameter 'scope'",
        ),
        (
            "rules:\n  - {name: a, description: d, metric: m, threshold: 1}\n"
            "  - {name: a, description: d, metric: m, threshold: 2}\n",
            r"rule 'a': field 'name' repeats 'a'",
        ),
        ("rules: 3\n", r"rules\.yaml: expected a list of rules"),
        ("rules: [\n", r"rules\.yaml' is not valid YAML"),
    ],
)
def test_rule_file_errors_name_file_rule_field_and_value(tmp_path, text, match) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    with pytest.raises(RuleError, match=match):
        load_rule_file(path)


def test_missing_rule_file() -> None:
    with pytest.raises(RuleError, match=r"'/nowhere/rules.yaml' cannot be read"):
        load_rule_file("/nowhere/rules.yaml")


def test_unknown_rule_lists_the_known_ones_and_dotted_paths_are_checked() -> None:
    with pytest.raises(
        PluginError, match=r"unknown rule 'stall'.*known rules:.*stall_"
    ):
        rules.get("stall")
    assert isinstance(rules.get("qos_ml.rules:Cdn5xxRate"), Rule)
    with pytest.raises(
        PluginError, match=r"is not a subclass of qos_ml.rules._rule.Rule"
    ):
        rules.get("qos_ml.sinks:WebhookSink")
    with pytest.raises(PluginError, match=r"has no 'name'"):
        rules.register(Rule)  # type: ignore[type-abstract]

    class HalfDone(Rule):
        name = "half_done"
        description = "no observed()"

    with pytest.raises(PluginError, match=r"HalfDone is abstract.*observed"):
        rules.register(HalfDone)

    class Elsewhere(StartupTimeP95):
        name = "elsewhere"
        target = "database"

    with pytest.raises(PluginError, match=r"target 'database'; allowed: aggregate"):
        rules.register(Elsewhere)
    with pytest.raises(PluginError, match=r"overrides for rule\(s\) \['nope'\]"):
        rules.rule_set(["cdn_5xx_rate"], {"nope": {}})


def test_broken_rule_plugins_warn_and_the_others_load() -> None:
    registry = RuleRegistry(group="qos_ml_test.broken_rules")
    with pytest.warns(RulePluginWarning) as caught:
        names = registry.names()
    messages = " ".join(str(w.message) for w in caught)
    assert "plugin 'missing'" in messages
    assert "plugin 'wrong'" in messages
    assert "not a subclass" in messages
    assert names == ["test_slow_seeks"]


@pytest.mark.parametrize("name", rules.names())
def test_rule_contract(name: str) -> None:
    """Every registered rule, the dummy plugin included, meets the contract."""
    assert "test_slow_seeks" in rules.names()
    rule = rules.get(name)
    assert rule.name == name
    assert rule.target in TARGETS
    assert rule.description
    assert rule.comparison in COMPARISONS
    assert rule.source in ("rule", "model")
    table = type(rule).parameter_table()
    assert {"severity", "min_support", "cooldown", "window", "scope"} <= set(table)
    assert rule.required_columns()[0] == rule.time_column
    # Each bounded parameter refuses a value outside its bounds, naming it.
    for param_name, param in table.items():
        if param.kind in ("float", "int") and param.low is not None:
            with pytest.raises(RuleError, match=rf"{name}.*'{param_name}'"):
                rules.get(name, **{param_name: param.low - 1})
    with pytest.raises(RuleError, match=rf"rule '{name}': unknown parameter"):
        rules.get(name, no_such_parameter=1)
    assert rules.get(name, severity="critical").params["severity"] == "critical"


@pytest.mark.spark
def test_explanations_print_nulls_as_na(spark) -> None:
    from qos_ml.rules import render_explanation

    rows = spark.createDataFrame(
        [(0.5, None, "edge=FRA56"), (None, 0.25, "edge=LAX1")],
        "observed double, threshold double, scope_key string",
    )
    text = render_explanation("{scope}: {observed:.2f} vs {threshold:.1%} ({observed})")
    assert [r[0] for r in rows.select(text).collect()] == [
        "edge=FRA56: 0.50 vs n/a (0.5000)",
        "edge=LAX1: n/a vs 25.0% (n/a)",
    ]

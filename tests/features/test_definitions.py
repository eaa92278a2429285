"""Feature, label and feature-set declarations: checks, registry, docs, CLI."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from qos_ml import ConfigError, PluginError, QosConfig, TableCatalog
from qos_ml.cli import main
from qos_ml.features import (
    BUFFERING,
    FAILURE,
    FEATURE_SETS,
    Feature,
    FeatureRegistry,
    FeatureSet,
    FeatureStoreUnavailableError,
    Label,
    ObservationPolicy,
    document_feature_set,
    feature_table_spec,
    publish_feature_table,
)

PLAYER = "silver.player_events"
SEEKS = Feature(
    "seeks_60s",
    "Seeks in the last minute.",
    "session",
    "count_if(event_type = 'SEEK')",
    source=PLAYER,
    window_s=60,
    dtype="long",
    default=0,
)


def _feature(**changes):
    spec = {
        "name": "x",
        "description": "d",
        "entity": "session",
        "expression": "count(1)",
        "source": PLAYER,
    }
    spec.update(changes)
    return Feature(**spec)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: _feature(name="Bad Name"), "'name'.*lower-case identifier"),
        (lambda: _feature(entity="cdn"), "'entity'.*'cdn'"),
        (lambda: _feature(dtype="float"), "'dtype'.*'float'"),
        (lambda: _feature(expression=" "), "'expression'"),
        (lambda: _feature(entity="viewer", source="silver.cdn_requests"), "'source'"),
        (lambda: _feature(window_s=0), "'window_s'.*0"),
        (lambda: _feature(source=None), "'inputs'.*derived"),
        (lambda: Label("stall2", "d", kind="stall", horizon_s=None), "'horizon_s'"),
        (lambda: Label("x", "d", kind="churn"), "'kind'.*'churn'"),
        (lambda: Label("x", "d", kind="failure", horizon_s=-1), "'horizon_s'.*-1"),
        (lambda: ObservationPolicy(every_s=0), "'every_s'"),
        (lambda: ObservationPolicy(event_types=()), "'event_types'"),
        (lambda: FeatureSet("s", "v1", (SEEKS,)), "'version'.*'v1'"),
        (lambda: FeatureSet("s", "1", ()), "'features'.*at least one"),
        (lambda: FeatureSet("s", "1", (SEEKS, SEEKS)), "'features'.*once"),
        (
            lambda: FeatureSet("s", "1", (_feature(name="edge_location"),)),
            "'features'.*'edge_location'.*row columns",
        ),
        (
            lambda: FeatureSet(
                "s", "1", (_feature(source=None, expression="a + 1", inputs=("a",)),)
            ),
            "'inputs'.*\\['a'\\]",
        ),
    ],
)
def test_invalid_declarations_name_the_key_and_value(make, match) -> None:
    with pytest.raises(ConfigError, match=match):
        make()


def test_registry_lists_known_names_and_refuses_silent_replacement() -> None:
    with pytest.raises(
        PluginError, match=r"unknown feature set 'nope'.*buffering, failure"
    ):
        FEATURE_SETS.get("nope")
    with pytest.raises(PluginError, match=r"unknown label 'nope'.*failure, stall"):
        FEATURE_SETS.label("nope")
    with pytest.raises(PluginError, match="has no feature 'nope'"):
        BUFFERING["nope"]

    registry = FeatureRegistry()
    registry.register(BUFFERING)
    with pytest.raises(PluginError, match="'buffering' \\(version 1\\) is registered"):
        registry.register(BUFFERING.extend([SEEKS]))
    assert registry.register(BUFFERING.extend([SEEKS]), replace=True).version == "1.1"
    registry.register_label(FEATURE_SETS.label("stall"))
    with pytest.raises(PluginError, match="label 'stall' is registered"):
        registry.register_label(FEATURE_SETS.label("stall", 5.0))
    assert FEATURE_SETS.label("failure", None).horizon_s is None


def test_extend_leaves_the_builtin_set_alone_and_gets_its_own_table() -> None:
    mine = BUFFERING.extend([SEEKS], name="my_buffering")
    assert mine.names == (*BUFFERING.names, "seeks_60s")
    assert "seeks_60s" not in BUFFERING.names
    spec = feature_table_spec(mine, "training")
    assert spec.key == "features.my_buffering_training"
    assert spec.schema["seeks_60s"].dataType.simpleString() == "bigint"
    assert spec.properties["qos_ml.feature_set_version"] == "1.1"
    with pytest.raises(ConfigError, match=r"'kind'.*'online'"):
        feature_table_spec(mine, "online")


def test_builtin_sets_cover_the_issue() -> None:
    buffering = set(BUFFERING.names)
    assert {
        "buffer_level_s",
        "throughput_kbps_10s",
        "throughput_trend_kbps_per_s",
        "bitrate_downshifts_60s",
        "ttfb_s_30s",
        "latency_s_30s",
        "stalls_so_far",
        "connection_type",
        "device_type",
        "edge_stall_rate_5m",
        "edge_error_rate_5m",
        "asn_stall_rate_5m",
        "asn_error_rate_5m",
    } <= buffering
    assert {
        "device_type",
        "os_family",
        "browser_family",
        "startup_time_so_far_s",
        "errors_60s",
        "cache_miss_rate_60s",
        "video_failure_rate_15m",
        "video_5xx_rate_15m",
        "edge_failure_rate_15m",
        "edge_5xx_rate_15m",
        "asn_failure_rate_15m",
        "asn_5xx_rate_15m",
    } <= set(FAILURE.names)
    assert FAILURE.categorical == ("device_type", "os_family", "browser_family",
                                   "connection_type")  # fmt: skip


def test_document_renders_one_row_per_feature() -> None:
    text = document_feature_set(BUFFERING)
    assert text.startswith("### Feature set `buffering` (version 1)")
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    assert len(rows) == len(BUFFERING)
    assert "| `throughput_kbps_10s` | session | silver.cdn_requests | 10s |" in text
    assert "derived: buffer_level_cmcd_s, media_downloaded_s, played_s" in text


def test_cli_lists_and_shows_sets() -> None:
    runner = CliRunner()
    listed = runner.invoke(main, ["features", "list"])
    assert listed.exit_code == 0, listed.output
    assert "buffering" in listed.output
    assert "stall" in listed.output
    shown = runner.invoke(main, ["features", "show", "failure"])
    assert shown.exit_code == 0, shown.output
    assert "`video_failure_rate_15m`" in shown.output
    unknown = runner.invoke(main, ["features", "show", "nope"])
    assert unknown.exit_code == 2
    assert "known sets: buffering, failure" in unknown.output


def test_publish_explains_a_missing_feature_engineering_client(tmp_path) -> None:
    catalog = TableCatalog(QosConfig.load(use_file=False, lakehouse_root=tmp_path))
    with pytest.raises(
        FeatureStoreUnavailableError, match="databricks-feature-engineering"
    ):
        publish_feature_table(catalog, "buffering")

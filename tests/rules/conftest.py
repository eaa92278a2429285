"""A dummy third-party rule installed as a real distribution with entry points."""

from __future__ import annotations

import sys
import tempfile
import textwrap
from pathlib import Path

import pytest


def _install_plugin_dist() -> None:
    root = Path(tempfile.mkdtemp(prefix="qos_ml_rule_plugin_"))
    (root / "qos_ml_test_rule_plugin.py").write_text(
        textwrap.dedent(
            '''
            from pyspark.sql import functions as F

            from qos_ml.rules import Param, Rule

            class SlowSeeks(Rule):
                """p95 seek time over 2 s (a dummy third-party rule)."""

                name = "test_slow_seeks"
                description = "Seeks take too long."
                target = "event"
                default_scope = ("video_id",)
                explanation = "Seek p95 {observed:.1f} s on {scope}"
                parameters = {"threshold": Param("float", 2.0, low=0)}

                def input_columns(self):
                    return ("event_type", "time_ms")

                def prepare(self, df):
                    return df.where(F.col("event_type") == "SEEK")

                def observed(self):
                    return F.percentile_approx(F.col("time_ms") / 1000.0, 0.95)

            class NotARule:
                name = "not_a_rule"
            '''
        )
    )
    dist = root / "qos_ml_test_rule_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: qos-ml-test-rule-plugin\nVersion: 0.1\n"
    )
    (dist / "entry_points.txt").write_text(
        "[qos_ml.rules]\ntest_slow_seeks = qos_ml_test_rule_plugin:SlowSeeks\n\n"
        "[qos_ml_test.broken_rules]\n"
        "missing = qos_ml_test_rule_plugin_gone:Rule\n"
        "wrong = qos_ml_test_rule_plugin:NotARule\n"
        "good = qos_ml_test_rule_plugin:SlowSeeks\n"
    )
    sys.path.insert(0, str(root))


_install_plugin_dist()


@pytest.fixture
def http_server():
    """The loopback HTTP server of the sink tests."""
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "sinks" / "conftest.py"
    spec = importlib.util.spec_from_file_location("_sink_servers", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield from module.http_server.__wrapped__()

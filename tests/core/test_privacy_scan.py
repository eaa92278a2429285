"""The privacy scanner finds IPs and raw ids in tables past bronze, and only them."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner
from pyspark.sql.types import ArrayType, MapType, StringType, StructField, StructType

from qos_ml import _catalog
from qos_ml._catalog import TableSpec
from qos_ml._privacy import IPV4_PATTERN, IPV6_PATTERN, scan_tables

CASES_V4 = [
    ("198.51.100.23", True),
    ('{"v":"8.47.28.38"}', True),
    ("203.0.113.0/24", False),  # a prefix is what pseudonymisation keeps
    ("AppleCoreMedia/1.0.0.21A329", False),
    ("Chrome/120.0.6099.109", False),
    ("1.2.3.4.5", False),
    ("256.1.1.1", False),
]
CASES_V6 = [
    ("2001:db8:0:1::7", True),
    ("2001:0db8:85a3:0000:0000:8a2e:0370:7334", True),
    ("::1", True),
    ("2001:db8::/48", False),
    ("18:00:01", False),
    ("std::vector", False),
]


@pytest.mark.parametrize(("text", "found"), CASES_V4)
def test_ipv4_pattern(text, found):
    assert bool(re.search(IPV4_PATTERN, text)) is found


@pytest.mark.parametrize(("text", "found"), CASES_V6)
def test_ipv6_pattern(text, found):
    assert bool(re.search(IPV6_PATTERN, text)) is found


@pytest.mark.spark
def test_scan_finds_ips_and_raw_ids_in_nested_columns(catalog, monkeypatch):
    spec = TableSpec(
        "gold.privacy_probe",
        StructType(
            [
                StructField("id", StringType()),
                StructField("agent", StringType()),
                StructField("tags", ArrayType(StringType())),
                StructField("extra", MapType(StringType(), StringType())),
            ]
        ),
        "Rows for the privacy scanner test.",
    )
    _catalog.declared_tables()  # the built-ins first, then the probe beside them
    monkeypatch.setitem(_catalog._DECLARED, spec.key, spec)
    rows = [
        ("a1", "AppleCoreMedia/1.0.0.21A329", ["203.0.113.0/24"], {"k": "v"}),
        ("a2", "Chrome/120.0.6099.109", ["x"], {"fwd": "2001:db8::7"}),
        ("viewer-042", "curl", ["198.51.100.23"], None),
        ("a4", None, None, {"user": "viewer-042"}),
    ]
    catalog.write(catalog.spark.createDataFrame(rows, spec.schema), spec.key)

    findings = scan_tables(catalog, tables=[spec.key], raw_values=["viewer-042"])
    got = {(f.column, f.kind): f.rows for f in findings}
    assert got == {
        ("extra", "ipv6"): 1,
        ("tags", "ipv4"): 1,
        ("id", "raw_value"): 1,
        ("extra", "raw_value"): 1,
    }

    from qos_ml.cli import main

    result = CliRunner().invoke(
        main,
        ["--lakehouse", str(catalog.config.lakehouse_root), "privacy-scan",
         "--table", spec.key],
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    assert "gold.privacy_probe.tags: 1 row(s) hold a ipv4" in result.output

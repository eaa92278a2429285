"""Fixtures of the QoE tests: catalogs over lakehouses of their own."""

from __future__ import annotations

import pytest


def make_catalog(spark, root):
    """A TableCatalog on a fresh lakehouse at ``root``, sharing the session's Spark."""
    from qos_ml import QosConfig, TableCatalog

    config = QosConfig.load(
        use_file=False,
        use_env=False,
        lakehouse_root=root,
        secret="qoe-test-secret-0123456789",
        shuffle_partitions=2,
    )
    return TableCatalog(config, spark)


@pytest.fixture
def own_catalog(spark, tmp_path):
    return make_catalog(spark, tmp_path / "lakehouse")


@pytest.fixture(scope="module")
def module_catalog(spark, tmp_path_factory):
    return make_catalog(spark, tmp_path_factory.mktemp("qoe_lakehouse"))

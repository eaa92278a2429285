"""Fixtures of the ingestion tests: a catalog on its own lakehouse, file helpers."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def ingest_catalog(qos_config, spark, tmp_path_factory):
    """A catalog whose tables live in a lakehouse of this test module only."""
    from qos_ml import TableCatalog

    root = tmp_path_factory.mktemp("ingest_lakehouse")
    return TableCatalog(qos_config.replace(lakehouse_root=root), spark)


@pytest.fixture
def write_file(tmp_path: Path) -> Callable[..., Path]:
    """Write text to a file (gzip when the name ends with .gz) and return it."""

    def write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        data = text.encode("utf-8")
        path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
        return path

    return write

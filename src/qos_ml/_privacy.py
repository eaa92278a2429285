"""Scanning tables for identifiers that must not leave bronze.

Bronze and the quarantine keep the raw input on purpose (they are the replay
source and the evidence). Every later table (silver, gold, features, model
scores, alerts) must hold only pseudonyms: no client IP address and none of the
raw viewer, session or device ids the input carried. :func:`scan_tables` checks
that natively in Spark, one pass per table: every column is rendered as text
(nested values as JSON) and searched for IPv4 and IPv6 addresses and for a given
set of raw values.

Network prefixes (``203.0.113.0/24``, ``2001:db8::/48``) are what
pseudonymisation keeps of an address and are not findings; neither are version
numbers inside user agents (``AppleCoreMedia/1.0.0.21``), which the patterns
exclude by their neighbouring characters.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql.types import StringType

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from qos_ml._catalog import TableCatalog

__all__ = [
    "IPV4_PATTERN",
    "IPV6_PATTERN",
    "PRIVATE_LAYERS",
    "PrivacyFinding",
    "scan_tables",
]

logger = logging.getLogger(__name__)

#: Layers that may hold raw identifiers (the raw input and its rejects).
PRIVATE_LAYERS = ("bronze", "quarantine")

_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
#: A whole IPv4 address: not part of a longer dotted number, a word or a prefix.
IPV4_PATTERN = rf"(?<![\w./-]){_OCTET}(?:\.{_OCTET}){{3}}(?![\w./-])"
_H = r"[0-9A-Fa-f]{1,4}"
#: A whole IPv6 address, full or compressed (``::``), not a ``/nn`` prefix.
IPV6_PATTERN = (
    rf"(?<![\w:.])(?:{_H}(?::{_H}){{7}}"
    rf"|(?:{_H}(?::{_H}){{0,6}})?::{_H}(?::{_H}){{0,6}}"
    rf"|{_H}(?::{_H}){{0,6}}::)(?![\w:./])"
)


@dataclass(frozen=True)
class PrivacyFinding:
    """Rows of one column of one table that hold an identifier.

    Attributes
    ----------
    table : str
        Table key (``gold.views``).
    column : str
        Top-level column.
    kind : str
        ``ipv4``, ``ipv6`` or ``raw_value``.
    rows : int
        How many rows of the column match.
    """

    table: str
    column: str
    kind: str
    rows: int

    def __str__(self) -> str:
        return f"{self.table}.{self.column}: {self.rows} row(s) hold a {self.kind}"


def _as_text(df_type: object, column: Column) -> Column:
    if isinstance(df_type, StringType):
        return column
    return F.to_json(F.struct(column.alias("v")))


def _raw_value_counts(
    df: DataFrame, texts: dict[str, Column], needles: DataFrame
) -> dict[str, int]:
    """Rows per column whose text is a raw value or holds one quoted (JSON).

    Every column's text is cut at double quotes into tokens (the whole text is
    a token too) and the tokens are joined with the broadcast raw values: one
    hash lookup per token instead of one substring search per raw value.
    """
    cells = df.select(
        F.monotonically_increasing_id().alias("_row"),
        F.explode(
            F.array(
                *(
                    F.struct(F.lit(name).alias("column"), text.alias("text"))
                    for name, text in texts.items()
                )
            )
        ).alias("_cell"),
    ).where(F.col("_cell.text").isNotNull())
    tokens = cells.select(
        "_row",
        F.col("_cell.column").alias("column"),
        F.explode(
            F.array_union(
                F.array(F.col("_cell.text")), F.split(F.col("_cell.text"), '"', -1)
            )
        ).alias("token"),
    )
    hits = (
        tokens.join(F.broadcast(needles), "token")
        .groupBy("column")
        .agg(F.count_distinct("_row").alias("rows"))
        .collect()
    )
    return {r["column"]: int(r["rows"]) for r in hits}


def scan_tables(
    catalog: TableCatalog,
    *,
    tables: Iterable[str] | None = None,
    raw_values: Iterable[str] = (),
) -> list[PrivacyFinding]:
    """Search tables for IP addresses and raw identifiers.

    Parameters
    ----------
    catalog : TableCatalog
    tables : iterable of str, optional
        Table keys; default: every declared table outside
        :data:`PRIVATE_LAYERS` that exists.
    raw_values : iterable of str
        Raw identifiers the input carried (viewer, session, device ids) that
        must appear nowhere; empty and one-character values are ignored.

    Returns
    -------
    list of PrivacyFinding
        Empty when nothing was found.
    """
    started = time.perf_counter()
    if tables is None:
        keys = [
            k
            for k, spec in sorted(catalog.tables.items())
            if spec.layer not in PRIVATE_LAYERS and catalog.exists(k)
        ]
    else:
        keys = list(tables)
    needles = sorted({v for v in raw_values if v and len(v) > 1})
    findings: list[PrivacyFinding] = []
    rows_scanned = 0
    needle_df = (
        catalog.spark.createDataFrame([(v,) for v in needles], "token string")
        if needles
        else None
    )
    for key in keys:
        df = catalog.read(key)
        texts = {
            field.name: _as_text(field.dataType, F.col(f"`{field.name}`"))
            for field in df.schema.fields
        }
        checks: dict[str, Column] = {}
        for name, text in texts.items():
            checks[f"{name}\x00ipv4"] = text.rlike(IPV4_PATTERN)
            checks[f"{name}\x00ipv6"] = text.rlike(IPV6_PATTERN)
        aggs = [F.count(F.lit(1)).alias("_rows")] + [
            F.count_if(F.coalesce(c, F.lit(False))).alias(f"c{i}")
            for i, c in enumerate(checks.values())
        ]
        counts = df.agg(*aggs).first()
        if counts is None:
            continue
        rows_scanned += int(counts["_rows"])
        for i, name in enumerate(checks):
            n = int(counts[f"c{i}"])
            if n:
                column, kind = name.split("\x00")
                findings.append(PrivacyFinding(key, column, kind, n))
        if needle_df is not None and counts["_rows"]:
            for column, n in sorted(_raw_value_counts(df, texts, needle_df).items()):
                findings.append(PrivacyFinding(key, column, "raw_value", n))
    logger.info(
        "Scanned %d table(s), %d row(s) for IP addresses and %d raw value(s) "
        "in %.1f s: %d finding(s)",
        len(keys),
        rows_scanned,
        len(needles),
        time.perf_counter() - started,
        len(findings),
    )
    return findings

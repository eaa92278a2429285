"""Common Media Client Data (CTA-5004) parsed into typed columns, natively.

A CMCD payload is a comma-separated list of ``key=value`` pairs; string values
are quoted, boolean keys appear without a value when true (``bs``, ``su``).
Players send it as a ``CMCD=`` query argument (found in ``cs-uri-query`` of
standard logs, ``queryStr`` of Akamai) or as headers that CloudFront real-time
logs split into ``cmcd-*`` fields.
"""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

__all__ = ["CMCD_COLUMNS", "cmcd_columns", "cmcd_query_payload"]

#: Silver column, CMCD key and kind of every CMCD value silver keeps.
CMCD_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("cmcd_sid", "sid", "string"),
    ("cmcd_cid", "cid", "string"),
    ("cmcd_br_kbps", "br", "int"),
    ("cmcd_bl_ms", "bl", "int"),
    ("cmcd_bs", "bs", "bool"),
    ("cmcd_d_ms", "d", "int"),
    ("cmcd_dl_ms", "dl", "int"),
    ("cmcd_mtp_kbps", "mtp", "int"),
    ("cmcd_ot", "ot", "token"),
    ("cmcd_pr", "pr", "double"),
    ("cmcd_sf", "sf", "token"),
    ("cmcd_st", "st", "token"),
    ("cmcd_su", "su", "bool"),
    ("cmcd_tb_kbps", "tb", "int"),
    ("cmcd_v", "v", "int"),
)


def cmcd_query_payload(query: Column) -> Column:
    """The raw (still URL-encoded) value of the ``CMCD`` query argument, or null."""
    value = F.regexp_extract(query, r"(?:^|&)(?i:CMCD)=([^&]*)", 1)
    return F.when(value != "", value)


def _value(payload: Column, key: str) -> Column:
    # A key at the start or after a comma, up to the next comma outside quotes.
    found = F.regexp_extract(payload, rf'(?:^|,){key}=("[^"]*"?|[^,]*)', 1)
    return F.when(found != "", F.regexp_replace(found, '^"|"$', ""))


def _flag(payload: Column, key: str) -> Column:
    present = payload.rlike(rf"(?:^|,){key}(?:,|$)")
    explicit = F.lower(F.regexp_extract(payload, rf"(?:^|,){key}=([^,]*)", 1))
    return (
        F.when(present, F.lit(True))
        .when(explicit.isin("true", "1"), F.lit(True))
        .when(explicit.isin("false", "0"), F.lit(False))
    )


def cmcd_columns(payload: Column) -> dict[str, tuple[Column, Column]]:
    """Typed CMCD columns from a decoded payload, with validity per column.

    Parameters
    ----------
    payload : Column
        Decoded CMCD text (``br=3200,bl=21600,sid="abc",su``), or null.

    Returns
    -------
    dict of str to (Column, Column)
        By silver column name: the typed value (null when absent or invalid)
        and a boolean that is true when a value was present but invalid
        (not a number, or negative).
    """
    out: dict[str, tuple[Column, Column]] = {}
    for column, key, kind in CMCD_COLUMNS:
        if kind == "bool":
            value = _flag(payload, key)
            out[column] = (value, F.lit(False))
            continue
        raw = _value(payload, key)
        if kind in ("int", "double"):
            number = raw.try_cast("int" if kind == "int" else "double")
            valid = number >= 0
            out[column] = (
                F.when(valid, number),
                raw.isNotNull() & F.coalesce(~valid, F.lit(True)),
            )
        else:
            out[column] = (raw, F.lit(False))
    return out

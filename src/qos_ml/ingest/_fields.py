"""Typed field catalogues of the delimited CDN log formats.

Every field a CloudFront log may carry has a column name (the AWS name with
punctuation turned into ``_``: ``cs(User-Agent)`` and ``cs-user-agent`` both
become ``cs_user_agent``) and a kind that says how bronze types it. Fields a
file declares that are not listed here are kept, untyped, in ``extra_fields``.
"""

from __future__ import annotations

import re

from pyspark.sql.types import (
    ArrayType,
    DataType,
    DateType,
    DoubleType,
    IntegerType,
    LongType,
    StringType,
    TimestampType,
)

from qos_ml._formats import CLOUDFRONT_REALTIME_FIELDS, CLOUDFRONT_STANDARD_FIELDS

__all__ = [
    "FIELD_KINDS",
    "KIND_TYPES",
    "column_name",
    "realtime_kinds",
    "standard_kinds",
]

#: Spark type of each field kind. ``time`` stays a string (``HH:MM:SS``) and is
#: checked by pattern; ``epoch`` is seconds since 1970 with decimals; ``list``
#: is a comma-separated list (``x-forwarded-for``).
KIND_TYPES: dict[str, DataType] = {
    "string": StringType(),
    "int": IntegerType(),
    "long": LongType(),
    "double": DoubleType(),
    "date": DateType(),
    "time": StringType(),
    "epoch": TimestampType(),
    "list": ArrayType(StringType()),
}

#: Kind of every field that is not a plain string.
FIELD_KINDS: dict[str, str] = {
    "date": "date",
    "time": "time",
    "timestamp": "epoch",
    "sc-bytes": "long",
    "cs-bytes": "long",
    "sc-status": "int",
    "time-taken": "double",
    "time-to-first-byte": "double",
    "c-port": "int",
    "sc-content-len": "long",
    "sc-range-start": "long",
    "sc-range-end": "long",
    "cs-headers-count": "int",
    "origin-fbl": "double",
    "origin-lbl": "double",
    "asn": "long",
    "x-forwarded-for": "list",
    "cmcd-encoded-bitrate": "int",
    "cmcd-buffer-length": "int",
    "cmcd-object-duration": "int",
    "cmcd-deadline": "int",
    "cmcd-measured-throughput": "int",
    "cmcd-playback-rate": "double",
    "cmcd-requested-maximum-throughput": "int",
    "cmcd-top-bitrate": "int",
    "cmcd-version": "int",
}


def column_name(field: str) -> str:
    """Return the bronze column name of a CDN log field.

    Examples
    --------
    >>> column_name("cs(User-Agent)")
    'cs_user_agent'
    >>> column_name("x-edge-request-id")
    'x_edge_request_id'
    """
    return re.sub(r"[^0-9a-z]+", "_", field.lower()).strip("_")


def _kinds(fields: tuple[str, ...]) -> dict[str, str]:
    return {f: FIELD_KINDS.get(f, "string") for f in fields}


def standard_kinds() -> dict[str, str]:
    """Kinds of the 33 standard-log fields, by AWS field name."""
    return _kinds(CLOUDFRONT_STANDARD_FIELDS)


def realtime_kinds() -> dict[str, str]:
    """Kinds of every documented real-time-log field, by AWS field name."""
    return _kinds(CLOUDFRONT_REALTIME_FIELDS)

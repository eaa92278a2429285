"""Parsing tab-separated CDN log lines by field name, with native expressions.

The field list of a line comes from the ``#Fields:`` header above it in its
file, or from a configured default (real-time logs have no header). Where each
known field sits in that list is computed once per header segment; each line
is then split on tabs and every field picked by position, ``-`` read as null
and typed with ``try_cast``. A line whose field count differs from its field
list, or whose values do not fit their types, gets a ``_reason`` and goes to
the quarantine.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from pyspark.sql import Column
from pyspark.sql import functions as F

from qos_ml.ingest._fields import column_name
from qos_ml.ingest._lines import split_lines

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

__all__ = ["decode_twice", "parse_delimited", "typed_value"]

_KIND_WORDS = {
    "int": "a whole number",
    "long": "a whole number",
    "double": "a number",
    "date": "a date YYYY-MM-DD",
    "time": "a time HH:MM:SS",
    "epoch": "seconds since 1970 (years 1-9999)",
}
_SQL_TYPES = {"int": "int", "long": "bigint", "double": "double"}
#: Epoch seconds of 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z: the range
#: a Spark timestamp holds.
EPOCH_MIN_S = -62_135_596_800
EPOCH_MAX_S = 253_402_300_799


def _url_decode(value: Column) -> Column:
    # CloudFront writes a literal '+' as '+': form decoding must not make it a
    # space, so it is protected as %2B first.
    return F.try_url_decode(F.replace(value, F.lit("+"), F.lit("%2B")))


def decode_once(value: Column) -> Column:
    """URL-decode a CDN log value; the value itself when it is not valid."""
    return F.coalesce(_url_decode(value), value)


def decode_twice(value: Column) -> Column:
    """Undo CloudFront's double URL encoding (``%2520`` -> space).

    Exactly two decoding steps: ``%252C`` becomes ``%2C`` and then ``,`` and
    is never decoded further. Where the second step meets an invalid escape,
    the result of the first step is kept.
    """
    once = decode_once(value)
    return F.coalesce(_url_decode(once), once)


def typed_value(raw: Column, kind: str) -> Column:
    """Type a raw string value by kind; null when it does not fit."""
    if kind in _SQL_TYPES:
        return raw.try_cast(_SQL_TYPES[kind])
    if kind == "date":
        return F.try_to_timestamp(raw, F.lit("yyyy-MM-dd")).cast("date")
    if kind == "time":
        return F.when(raw.rlike(r"^\d{2}:\d{2}:\d{2}(\.\d+)?$"), raw)
    if kind == "epoch":
        seconds = raw.try_cast("decimal(20,6)")
        # Outside years 1-9999 a timestamp overflows (an error, not a null).
        return F.when(
            seconds.between(EPOCH_MIN_S, EPOCH_MAX_S), F.timestamp_seconds(seconds)
        )
    if kind == "list":
        return F.split(F.trim(decode_once(raw)), r"\s*,\s*", -1)
    return raw


def _type_error(field: str, raw: Column, kind: str, typed: Column) -> Column | None:
    if kind not in _KIND_WORDS:
        return None
    return F.when(
        raw.isNotNull() & typed.isNull(),
        F.concat(
            F.lit(f"field {field} has value '"),
            F.substring(raw, 1, 80),
            F.lit(f"'; expected {_KIND_WORDS[kind]}"),
        ),
    )


def parse_delimited(
    files: DataFrame,
    kinds: Mapping[str, str],
    *,
    default_fields: Sequence[str] | None = None,
    required: Sequence[str] = (),
    time_column: Callable[[dict[str, Column]], Column] | None = None,
) -> DataFrame:
    """Parse tab-separated log files into typed columns, one row per data line.

    Parameters
    ----------
    files : DataFrame
        ``source_file`` and ``content`` (see :func:`read_files`).
    kinds : mapping of str to str
        Known fields (AWS names) and their kinds (see ``KIND_TYPES``); each
        becomes a column named by :func:`column_name`.
    default_fields : sequence of str, optional
        Field list of lines that no ``#Fields:`` header precedes. Without it
        such lines are quarantined.
    required : sequence of str
        Fields that must be present (not ``-``) on every line.
    time_column : callable, optional
        Given the typed columns by column name, returns the ``request_time``
        expression; a line where it is null is quarantined.

    Returns
    -------
    DataFrame
        ``source_file``, ``line_number``, ``kind``, ``raw``, ``request_time``,
        one column per known field, ``extra_fields`` and ``_reason`` (null on a
        good data line).
    """
    known = list(kinds)
    default = (
        F.array(*(F.lit(f) for f in default_fields))
        if default_fields
        else F.lit(None).cast("array<string>")
    )

    def per_segment(header: Column) -> dict[str, Column]:
        fields = F.coalesce(header, default)
        extra_names = F.array_distinct(F.filter(fields, lambda name: ~name.isin(known)))
        columns = {
            "_fields": fields,
            "_extra_names": extra_names,
            "_extra_pos": F.transform(
                extra_names, lambda name: F.array_position(fields, name).cast("int")
            ),
        }
        for field in known:
            columns[f"_p_{column_name(field)}"] = F.array_position(fields, field).cast(
                "int"
            )
        return columns

    lines = split_lines(
        files,
        header_prefix="#Fields:",
        comment_prefix="#",
        segment_columns=per_segment,
    )

    # Three projections, on purpose: split each line once; pick every field's
    # raw value; type them. In one projection the generated code grows past
    # the JVM's 64 KB method limit for the 33-field layout, and Spark then
    # interprets it, re-splitting the line for every field. Trailing tabs
    # carry no field (CloudFront writes '-' for an empty value).
    values = F.col("_values")
    lines = lines.withColumn(
        "_values", F.split(F.regexp_replace("line", "\t+$", ""), "\t", -1)
    )
    n_values = F.size(values)
    n_fields = F.size("_fields")
    structural = F.when(
        F.col("_fields").isNull(),
        F.lit("no #Fields header precedes this line and no field list is set"),
    ).when(
        n_values != n_fields,
        F.concat(
            F.lit("line has "),
            n_values.cast("string"),
            F.lit(" fields, its field list has "),
            n_fields.cast("string"),
        ),
    )
    extra = F.map_from_arrays(
        F.col("_extra_names"),
        F.transform("_extra_pos", lambda p: F.nullif(F.get(values, p - 1), F.lit("-"))),
    )
    lines = lines.select(
        "source_file",
        "line_number",
        "kind",
        "line",
        structural.alias("_structural"),
        extra.alias("extra_fields"),
        *(
            F.nullif(
                F.get(values, F.col(f"_p_{column_name(f)}") - 1), F.lit("-")
            ).alias(f"_r_{column_name(f)}")
            for f in known
        ),
    )

    raw_values: dict[str, Column] = {}
    typed: dict[str, Column] = {}
    errors: list[Column] = []
    for field in known:
        name = column_name(field)
        raw = F.col(f"_r_{name}")
        raw_values[field] = raw
        typed[name] = typed_value(raw, kinds[field])
        error = _type_error(field, raw, kinds[field], typed[name])
        if error is not None:
            errors.append(error)
    missing = [
        F.when(raw_values[f].isNull(), F.lit(f"required field {f} is missing"))
        for f in required
        if f in raw_values
    ]
    field_errors = F.nullif(F.concat_ws("; ", F.array(*missing, *errors)), F.lit(""))

    request_time = time_column(typed) if time_column is not None else F.lit(None)
    reason = F.coalesce(
        F.col("_structural"),
        field_errors,
        F.when(request_time.isNull(), F.lit("no valid request time on this line")),
    )
    return lines.select(
        "source_file",
        "line_number",
        "kind",
        F.col("line").alias("raw"),
        request_time.cast("timestamp").alias("request_time"),
        *(column.alias(name) for name, column in typed.items()),
        "extra_fields",
        reason.alias("_reason"),
    )

"""Reading files as numbered lines, the same way in batch and in streaming.

A file is read whole (``wholetext``; gzip by extension), split into lines with
their 1-based line numbers, and each line is classified:

* ``data``: an input row; it ends up in bronze or in the quarantine;
* ``header``: a ``#Fields:`` line that names the fields of the lines after it;
* ``comment``: any other line starting with the comment prefix (``#Version``);
* ``blank``: empty or whitespace only.

Only ``data`` lines are input rows. For formats with headers the text is first
cut into *segments* that each start at a header, so that every data line
carries the field list of the header above it in its own file (concatenated
files repeat headers) without a window, which streaming would not allow.
Per-segment work (e.g. where each known field sits in the header) is computed
once per segment, not once per line.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from pyspark.sql import Column
from pyspark.sql import functions as F

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["LINE_KINDS", "read_files", "split_lines"]

#: Classes of lines; only ``data`` lines are input rows.
LINE_KINDS = ("data", "header", "comment", "blank")

#: Characters that may trail a header field name (a zero-width space appears in
#: real RTMP logs) and never belong to it.
_NAME_JUNK = "[\u200b\ufeff]"


def read_files(
    spark: SparkSession,
    paths: str | Sequence[str],
    *,
    streaming: bool = False,
    options: dict[str, str] | None = None,
) -> DataFrame:
    """Read files whole, one row per file: ``source_file`` and ``content``.

    Parameters
    ----------
    spark : SparkSession
    paths : str or sequence of str
        Files, folders or globs (batch); one folder (streaming).
    streaming : bool, default False
        Use ``spark.readStream`` (a file source over a landing folder).
    options : dict, optional
        Reader options, e.g. ``maxFilesPerTrigger`` or ``pathGlobFilter``.

    Returns
    -------
    DataFrame
    """
    # TODO(#4): a file is one row (wholetext), so one task parses it and it
    # must fit in 2 GB (gzip CDN logs rotate far below that); split larger
    # logs upstream.
    reader = spark.readStream if streaming else spark.read
    reader = reader.format("text").option("wholetext", "true")
    for key, value in (options or {}).items():
        reader = reader.option(key, value)
    if streaming:
        if not isinstance(paths, str):
            paths = list(paths)
            if len(paths) != 1:
                from qos_ml._errors import ConfigError

                raise ConfigError(
                    "paths", paths, "exactly one landing folder for a streaming read"
                )
            paths = paths[0]
        df = reader.load(paths)
    else:
        df = reader.load([paths] if isinstance(paths, str) else list(paths))
    return df.select(
        F.col("_metadata.file_path").alias("source_file"),
        F.col("value").alias("content"),
    )


def _header_fields(first_line: Column, header_prefix: str) -> Column:
    """Field names of a header line, or null when the line is no header."""
    names = F.regexp_replace(
        F.substring(first_line, len(header_prefix) + 1, 1 << 30), _NAME_JUNK, ""
    )
    return F.when(
        first_line.startswith(header_prefix),
        F.split(F.trim(names, F.lit(" \t")), "[ \t]+", -1),
    )


def split_lines(
    files: DataFrame,
    *,
    header_prefix: str | None = None,
    comment_prefix: str | None = None,
    segment_columns: Callable[[Column], dict[str, Column]] | None = None,
) -> DataFrame:
    """Split whole files into numbered, classified lines.

    Parameters
    ----------
    files : DataFrame
        ``source_file`` and ``content``, as from :func:`read_files`.
    header_prefix : str, optional
        Prefix of header lines (``"#Fields:"``); each data line gets the field
        names of the last header above it in its file in ``header`` (null when
        none precedes it).
    comment_prefix : str, optional
        Prefix of comment lines (``"#"``); none when the format has no comments.
    segment_columns : callable, optional
        Given the ``header`` column, returns columns computed once per header
        segment and carried to each of its lines.

    Returns
    -------
    DataFrame
        ``source_file``, ``line_number`` (1-based), ``line`` (without the line
        break or a trailing carriage return), ``kind`` (one of
        :data:`LINE_KINDS`), ``header`` and the segment columns.
    """
    content = F.col("content")
    if header_prefix is None:
        segments = F.array(content)
    else:
        # (?d): only '\n' ends a line, as in the line split below; a '\r' or
        # U+2028 inside a line must not start a segment in its middle.
        pattern = f"(?md)^(?={re.escape(header_prefix)})"
        segments = F.split(content, pattern, -1)

    # Lines of each segment; a segment that ends with a line break has no
    # further line after it (the next one starts the next segment).
    def segment_lines(segment: Column) -> Column:
        parts = F.split(segment, "\n", -1)
        return F.when(
            segment.endswith("\n"), F.slice(parts, 1, F.size(parts) - 1)
        ).otherwise(parts)

    lines = F.transform(segments, segment_lines)
    counts = F.transform(lines, F.size)
    # Line offset of each segment in its file: the sum of the sizes before it.
    offsets = F.transform(
        counts,
        lambda _, i: F.aggregate(
            F.slice(counts, 1, i), F.lit(0), lambda acc, n: acc + n
        ),
    )
    segment = F.inline(F.arrays_zip(lines.alias("lines"), offsets.alias("offset")))
    per_segment = files.select("source_file", segment)

    # One projection per segment: its header and the caller's columns, then
    # one row per line.
    first = F.get(F.col("lines"), 0)
    header = (
        _header_fields(first, header_prefix)
        if header_prefix is not None
        else F.lit(None).cast("array<string>")
    )
    extra = segment_columns(header) if segment_columns else {}
    # Two selects, on purpose: in one, Spark evaluates the non-generator
    # columns *after* the explode, so every line row would carry its whole
    # segment (a 4 MB file became 4 MB per line: out of memory) and the
    # per-segment work would run once per line.
    per_segment = per_segment.select(
        "source_file",
        "offset",
        header.alias("header"),
        *(column.alias(name) for name, column in extra.items()),
        "lines",
    ).select(
        "source_file",
        "offset",
        "header",
        *extra,
        F.posexplode("lines").alias("pos", "line"),
    )

    line = F.regexp_replace("line", "\r\\z", "")
    kind = F.when(line.rlike(r"\A[ \t\n\x0B\f\r]*\z"), "blank")
    if header_prefix is not None:
        kind = kind.when(line.startswith(header_prefix), "header")
    if comment_prefix is not None:
        kind = kind.when(line.startswith(comment_prefix), "comment")
    return per_segment.select(
        "source_file",
        (F.col("offset") + F.col("pos") + 1).cast("long").alias("line_number"),
        line.alias("line"),
        kind.otherwise("data").alias("kind"),
        "header",
        *extra,
    )

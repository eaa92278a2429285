"""CloudFront standard access logs and real-time logs.

Standard logs name their fields in each file's ``#Fields:`` header (24, 26 or
33 fields over the years; space or tab separated; repeated where files were
concatenated). Real-time logs have no header: their field list is the one of
the user's real-time log configuration, :data:`CLOUDFRONT_REALTIME_FIELDS` by
default; a file that does carry a header is read by its header.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from pyspark.sql import Column
from pyspark.sql import functions as F

from qos_ml._errors import ConfigError
from qos_ml._formats import CLOUDFRONT_REALTIME_FIELDS, CMCD_REALTIME_FIELDS
from qos_ml.ingest._cmcd import CMCD_COLUMNS, cmcd_query_payload
from qos_ml.ingest._delimited import decode_once, decode_twice, parse_delimited
from qos_ml.ingest._fields import column_name, realtime_kinds, standard_kinds
from qos_ml.ingest._registry import Source, register_source

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

__all__ = ["CloudFrontRealtimeSource", "CloudFrontStandardSource"]


def _cloudfront_silver(bronze: DataFrame, source_format: str) -> DataFrame:
    """Intermediate silver columns shared by standard and real-time logs."""
    col = F.col
    has = set(bronze.columns)

    def maybe(name: str) -> Column:
        return col(name) if name in has else F.lit(None)

    # Lines without a request id (RTMP distributions) get a stable one from
    # their text, so that replays still collapse.
    request_id = F.coalesce(
        col("x_edge_request_id"), F.concat(F.lit("sha256:"), F.sha2("raw", 256))
    )
    query = col("cs_uri_query")
    return bronze.select(
        request_id.alias("request_id"),
        "request_time",
        F.lit("cloudfront").alias("cdn"),
        F.lit(source_format).alias("source_format"),
        col("x_edge_location").alias("edge_location"),
        col("c_ip").alias("client_ip"),
        maybe("c_country").alias("viewer_country"),
        maybe("asn").alias("viewer_asn"),
        col("cs_method").alias("method"),
        F.coalesce(col("x_host_header"), col("cs_host")).alias("host"),
        decode_twice(col("cs_uri_stem")).alias("uri_stem"),
        col("sc_status").alias("status"),
        col("sc_bytes").alias("bytes_sent"),
        col("cs_bytes").alias("bytes_received"),
        col("time_taken").alias("time_taken_s"),
        col("time_to_first_byte").alias("ttfb_s"),
        col("x_edge_result_type").alias("result_type"),
        col("x_edge_response_result_type").alias("response_result_type"),
        col("x_edge_detailed_result_type").alias("detailed_result_type"),
        col("cs_protocol").alias("protocol"),
        col("cs_protocol_version").alias("protocol_version"),
        col("sc_content_type").alias("content_type"),
        col("sc_range_start").alias("range_start"),
        col("sc_range_end").alias("range_end"),
        decode_twice(col("cs_user_agent")).alias("user_agent"),
        # CloudFront encodes the query string once more when it logs it:
        # CMCD=br%253D3200%252C... becomes br=3200,... after two steps.
        decode_twice(cmcd_query_payload(query)).alias("cmcd_payload"),
        *(maybe(c).alias(c) for c, _, _ in CMCD_COLUMNS if c in has),
        "source_file",
        "line_number",
        "ingested_at",
    )


@register_source
class CloudFrontStandardSource(Source):
    """CloudFront standard access logs (gzip or plain), any historical layout.

    Parameters
    ----------
    default_fields : sequence of str, optional
        Field list of lines no ``#Fields:`` header precedes (e.g. headerless
        exports). Default: such lines are quarantined.
    """

    name: ClassVar[str] = "cloudfront_standard"
    bronze_table: ClassVar[str] = "bronze.cloudfront_standard"
    silver_table: ClassVar[str] = "silver.cdn_requests"

    def __init__(self, default_fields: Sequence[str] | None = None) -> None:
        self.default_fields = tuple(default_fields) if default_fields else None

    def parse(self, files: DataFrame) -> DataFrame:
        """Parse standard log files by their headers (see :class:`Source`)."""

        def request_time(typed: dict[str, Column]) -> Column:
            return F.try_to_timestamp(
                F.concat(typed["date"].cast("string"), F.lit(" "), typed["time"]),
                F.lit("yyyy-MM-dd HH:mm:ss"),
            )

        return parse_delimited(
            files,
            standard_kinds(),
            default_fields=self.default_fields,
            required=("date", "time"),
            time_column=request_time,
        )

    def to_silver(self, bronze: DataFrame) -> DataFrame:
        """Map bronze standard-log rows to intermediate silver rows."""
        return _cloudfront_silver(bronze, self.name)


def _realtime_cmcd(bronze: DataFrame) -> DataFrame:
    """Type the cmcd-* fields of real-time logs into silver CMCD columns."""
    by_key = {key: column_name(field) for field, key in CMCD_REALTIME_FIELDS.items()}
    columns: dict[str, Column] = {}
    for silver, key, kind in CMCD_COLUMNS:
        raw = F.col(by_key[key]) if key in by_key else F.lit(None)
        if kind == "bool":
            columns[silver] = F.lower(raw.cast("string")).isin("true", "1", key)
        elif kind == "string":
            columns[silver] = decode_once(F.regexp_replace(raw, '^"|"$', ""))
        else:
            columns[silver] = raw
    return bronze.withColumns(columns)


@register_source
class CloudFrontRealtimeSource(Source):
    """CloudFront real-time logs (Kinesis Data Streams records, tab separated).

    Parameters
    ----------
    fields : sequence of str, optional
        Field list of the real-time log configuration, in its order. Default:
        :data:`~qos_ml._formats.CLOUDFRONT_REALTIME_FIELDS`.
    """

    name: ClassVar[str] = "cloudfront_realtime"
    bronze_table: ClassVar[str] = "bronze.cloudfront_realtime"
    silver_table: ClassVar[str] = "silver.cdn_requests"

    def __init__(self, fields: Sequence[str] | None = None) -> None:
        chosen = tuple(fields) if fields is not None else CLOUDFRONT_REALTIME_FIELDS
        if "timestamp" not in chosen:
            raise ConfigError(
                "fields",
                list(chosen)[:5],
                "a real-time log field list that includes 'timestamp'",
            )
        self.fields = chosen

    def parse(self, files: DataFrame) -> DataFrame:
        """Parse real-time log files by the configured field list."""
        parsed = parse_delimited(
            files,
            realtime_kinds(),
            default_fields=self.fields,
            required=("timestamp",),
            time_column=lambda typed: typed["timestamp"],
        )
        return parsed.drop("timestamp")

    def to_silver(self, bronze: DataFrame) -> DataFrame:
        """Map bronze real-time rows to intermediate silver rows."""
        return _cloudfront_silver(_realtime_cmcd(bronze), self.name)

"""Akamai DataStream 2: JSON records, every value a string, CMCD in ``queryStr``.

This source is registered like a third-party plugin would be and proves the
source contract on a second CDN. DataStream 2 delivers JSON lines; a file that
holds one JSON array of records (as in Akamai's documentation) is read too,
each record numbered by its position in the array.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from pyspark.sql import Column
from pyspark.sql import functions as F

from qos_ml.ingest._cmcd import cmcd_query_payload
from qos_ml.ingest._registry import Source, register_source

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

__all__ = ["AkamaiDataStream2Source"]

#: DataStream 2 field -> (bronze column, kind).
_FIELDS: dict[str, tuple[str, str]] = {
    "reqId": ("req_id", "string"),
    "cliIP": ("cli_ip", "string"),
    "statusCode": ("status_code", "bigint"),
    "bytes": ("bytes", "bigint"),
    "reqMethod": ("req_method", "string"),
    "reqHost": ("req_host", "string"),
    "reqPath": ("req_path", "string"),
    "queryStr": ("query_str", "string"),
    "UA": ("user_agent", "string"),
    "proto": ("proto", "string"),
    "rspContentType": ("rsp_content_type", "string"),
    "range": ("range", "string"),
    "country": ("country", "string"),
    "cacheStatus": ("cache_status", "string"),
    "turnAroundTimeMSec": ("turn_around_time_ms", "double"),
    "transferTimeMSec": ("transfer_time_ms", "double"),
}
_EXTRA_KNOWN = ("reqTimeSec",)


def _records(files: DataFrame) -> DataFrame:
    """One row per record: JSON lines, or the elements of one JSON array."""
    content = F.col("content")
    as_array = F.from_json(content, "array<string>")
    is_array = F.ltrim(content).startswith("[")
    lines = F.split(F.regexp_replace(content, "\n\\z", ""), "\n", -1)
    # An unreadable array stays one record, which is then quarantined whole.
    items = F.when(is_array, F.coalesce(as_array, F.array(content))).otherwise(lines)
    exploded = files.select("source_file", F.posexplode(items).alias("pos", "line"))
    line = F.regexp_replace("line", "\r\\z", "")
    return exploded.select(
        "source_file",
        (F.col("pos") + 1).cast("long").alias("line_number"),
        line.alias("line"),
        F.when(line.rlike(r"\A[ \t\n\x0B\f\r]*\z"), "blank")
        .otherwise("data")
        .alias("kind"),
    )


@register_source
class AkamaiDataStream2Source(Source):
    """Akamai DataStream 2 JSON records into ``silver.cdn_requests``."""

    name: ClassVar[str] = "akamai_ds2"
    bronze_table: ClassVar[str] = "bronze.akamai_ds2"
    silver_table: ClassVar[str] = "silver.cdn_requests"

    def parse(self, files: DataFrame) -> DataFrame:
        """Parse DataStream 2 files into typed bronze rows."""
        records = _records(files)
        fields = F.from_json(F.col("line"), "map<string,string>")
        valid = F.try_parse_json(F.col("line")).isNotNull() & fields.isNotNull()
        df = records.withColumn("_m", F.when(valid, fields))

        typed: dict[str, Column] = {}
        errors: list[Column] = []
        for key, (column, kind) in _FIELDS.items():
            raw = F.nullif(F.col("_m").getItem(key), F.lit("-"))
            typed[column] = raw if kind == "string" else raw.try_cast(kind)
            if kind != "string":
                errors.append(
                    F.when(
                        raw.isNotNull() & typed[column].isNull(),
                        F.lit(f"field {key} is not a number"),
                    )
                )
        seconds = F.col("_m").getItem("reqTimeSec")
        request_time = F.timestamp_seconds(seconds.try_cast("decimal(20,6)"))
        errors.insert(
            0,
            F.when(
                request_time.isNull(),
                F.lit("required field reqTimeSec is missing or not a number"),
            ),
        )
        errors.insert(
            0,
            F.when(typed["req_id"].isNull(), F.lit("required field reqId is missing")),
        )
        # Blank lines are no input rows and need no reason.
        reason = (
            F.when(F.col("kind") != "data", F.lit(None))
            .when(F.col("_m").isNull(), F.lit("not a JSON object"))
            .otherwise(F.nullif(F.concat_ws("; ", F.array(*errors)), F.lit("")))
        )
        known = [*_FIELDS, *_EXTRA_KNOWN]
        return df.select(
            "source_file",
            "line_number",
            "kind",
            F.col("line").alias("raw"),
            request_time.alias("request_time"),
            *(value.alias(name) for name, value in typed.items()),
            F.map_filter("_m", lambda k, _: ~k.isin(*known)).alias("extra_fields"),
            reason.alias("_reason"),
        )

    def to_silver(self, bronze: DataFrame) -> DataFrame:
        """Map bronze DataStream 2 rows to intermediate silver rows."""
        col = F.col
        # DataStream 2 form-encodes values ('+' is a space) and prefixes the
        # CMCD payload with its own '//<version>@V/' marker.
        payload = F.try_url_decode(cmcd_query_payload(col("query_str")))
        range_match = r"^(\d+)-(\d*)$"
        turnaround = col("turn_around_time_ms") / 1000.0
        return bronze.select(
            col("req_id").alias("request_id"),
            "request_time",
            F.lit("akamai").alias("cdn"),
            F.lit(self.name).alias("source_format"),
            F.lit(None).cast("string").alias("edge_location"),
            F.upper(col("extra_fields").getItem("serverCountry")).alias("edge_country"),
            col("cli_ip").alias("client_ip"),
            col("country").alias("viewer_country"),
            col("req_method").alias("method"),
            col("req_host").alias("host"),
            F.coalesce(F.try_url_decode("req_path"), col("req_path")).alias("uri_stem"),
            col("status_code").alias("status"),
            col("bytes").alias("bytes_sent"),
            (turnaround + col("transfer_time_ms") / 1000.0).alias("time_taken_s"),
            turnaround.alias("ttfb_s"),
            F.when(col("cache_status") == "1", "Hit")
            .when(col("cache_status") == "0", "Miss")
            .alias("result_type"),
            F.lower("proto").alias("protocol"),
            col("rsp_content_type").alias("content_type"),
            F.regexp_extract("range", range_match, 1)
            .try_cast("bigint")
            .alias("range_start"),
            F.regexp_extract("range", range_match, 2)
            .try_cast("bigint")
            .alias("range_end"),
            F.coalesce(F.try_url_decode("user_agent"), col("user_agent")).alias(
                "user_agent"
            ),
            F.regexp_replace(payload, r"^//[^/]*/", "").alias("cmcd_payload"),
            "source_file",
            "line_number",
            "ingested_at",
        )

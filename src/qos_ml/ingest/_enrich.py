"""Enrichment of silver rows: user agents and edge locations.

* User agents are parsed with ``ua-parser`` in a pandas UDF, applied to the
  *distinct* user agents of a batch only, then joined back: a log has few
  distinct agents and many lines.
* Edge location codes (``FRA53``, ``EWR52-C4``) start with the IATA code of a
  nearby airport; ``airportsdata`` gives its city, country and coordinates as
  a small DataFrame that is broadcast to the join.
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING

import pandas as pd
from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql.types import BooleanType, StringType, StructField, StructType

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = [
    "UA_SCHEMA",
    "airports_frame",
    "classify_user_agent",
    "edge_airport",
    "with_edge_location",
    "with_user_agent",
]

UA_SCHEMA = StructType(
    [
        StructField("device_type", StringType(), True),
        StructField("os_family", StringType(), True),
        StructField("browser_family", StringType(), True),
        StructField("is_bot", BooleanType(), True),
    ]
)

_BOT = re.compile(r"bot|crawl|spider|slurp|curl|wget|python-requests|headless", re.I)
_TV = re.compile(
    r"smart-?tv|appletv|apple tv|crkey|roku|aft[a-z]|bravia|webos|tizen", re.I
)
_TABLET = re.compile(r"ipad|tablet|kindle|silk|playbook", re.I)
_MOBILE = re.compile(r"mobile|iphone|ipod|android.*mobile|windows phone", re.I)
_DESKTOP_OS = ("Windows", "Mac OS X", "Linux", "Ubuntu", "Chrome OS", "Fedora")


@functools.lru_cache(maxsize=4096)
def classify_user_agent(agent: str) -> tuple[str, str, str, bool]:
    """Device type, OS family, browser family and bot flag of one user agent.

    Examples
    --------
    >>> classify_user_agent("Mozilla/5.0 (compatible; bingbot/2.0)")[3]
    True
    """
    from ua_parser import parse

    result = parse(agent)
    browser = result.user_agent.family if result.user_agent else "Other"
    os_family = result.os.family if result.os else "Other"
    device = result.device.family if result.device else "Other"
    is_bot = device == "Spider" or bool(_BOT.search(agent))
    if is_bot:
        kind = "bot"
    elif _TV.search(agent):
        kind = "tv"
    elif _TABLET.search(agent) or (
        os_family == "Android" and "mobile" not in agent.lower()
    ):
        kind = "tablet"
    elif _MOBILE.search(agent) or os_family in ("iOS", "Android"):
        kind = "mobile"
    elif os_family.startswith(_DESKTOP_OS):
        kind = "desktop"
    else:
        kind = "other"
    return kind, os_family, browser, is_bot


@F.pandas_udf(UA_SCHEMA)
def _parse_agents(agents: pd.Series) -> pd.DataFrame:
    rows = [classify_user_agent(a) for a in agents]
    return pd.DataFrame(
        rows, columns=["device_type", "os_family", "browser_family", "is_bot"]
    )


def with_user_agent(df: DataFrame, column: str = "user_agent") -> DataFrame:
    """Add ``device_type``, ``os_family``, ``browser_family``, ``is_bot``.

    The parser runs once per distinct non-null user agent of ``df``.
    """
    agents = (
        df.select(F.col(column).alias("_ua")).where(F.col("_ua").isNotNull()).distinct()
    )
    parsed = agents.select("_ua", _parse_agents("_ua").alias("_p")).select(
        "_ua", "_p.*"
    )
    dropped = [c for c in UA_SCHEMA.fieldNames() if c in df.columns]
    return (
        df.drop(*dropped)
        .join(parsed, F.col(column).eqNullSafe(F.col("_ua")), "left")
        .drop("_ua")
    )


def edge_airport(edge_location: Column) -> Column:
    """IATA code of an edge location: its first three letters, upper case."""
    code = F.upper(F.substring(edge_location, 1, 3))
    return F.when(code.rlike("^[A-Z]{3}$"), code)


@functools.lru_cache(maxsize=1)
def _airport_rows() -> pd.DataFrame:
    import airportsdata

    airports = airportsdata.load("IATA")
    return pd.DataFrame(
        [
            (code, a["city"] or None, a["country"] or None, a["lat"], a["lon"])
            for code, a in airports.items()
        ],
        columns=[
            "edge_airport",
            "edge_city",
            "edge_country",
            "edge_latitude",
            "edge_longitude",
        ],
    )


def airports_frame(spark: SparkSession) -> DataFrame:
    """IATA airports with city, ISO country and coordinates (``airportsdata``)."""
    schema = (
        "edge_airport string, edge_city string, edge_country string, "
        "edge_latitude double, edge_longitude double"
    )
    return spark.createDataFrame(_airport_rows(), schema=schema)


def with_edge_location(df: DataFrame, airports: DataFrame) -> DataFrame:
    """Add ``edge_airport``, ``edge_city``, ``edge_country`` and coordinates.

    Values ``df`` already has are kept; the airport of the edge location's
    first three letters fills the rest.
    """
    renamed = airports.select(*(F.col(c).alias(f"_a_{c}") for c in airports.columns))
    joined = df.withColumn("_a_key", edge_airport(F.col("edge_location"))).join(
        F.broadcast(renamed), F.col("_a_key") == F.col("_a_edge_airport"), "left"
    )
    # What the source itself knows about its edge (Akamai's server country)
    # wins over the airport table.
    filled = {
        c: F.coalesce(F.col(c), F.col(f"_a_{c}"))
        if c in df.columns
        else F.col(f"_a_{c}")
        for c in airports.columns
    }
    return joined.withColumns(filled).drop(
        "_a_key", *(f"_a_{c}" for c in airports.columns)
    )

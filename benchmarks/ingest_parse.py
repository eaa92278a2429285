"""Benchmark: CloudFront standard log parsing against Spark's own CSV reader.

Generates a few million 33-field CloudFront standard log lines (plain text,
several files, each with its ``#Version``/``#Fields`` header) into a temporary
folder, then in the same Spark session:

* baseline: ``spark.read.csv(sep="\\t", comment="#")`` with every column a
  string (no typing, no line numbers, no quarantine);
* ours: ``CloudFrontStandardSource().parse`` (line numbers, header mapping,
  typing, reasons), counting bronze and quarantine rows.

Both are forced with an aggregation over every column so that neither can
skip the parsing. Prints rows/s of each and the ratio (aim: >= 0.7).

Usage: ``.venv/bin/python benchmarks/ingest_parse.py [--lines 3000000]``
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from qos_ml._formats import CLOUDFRONT_STANDARD_FIELDS

EDGES = ["FRA56-P1", "EWR52-C4", "LAX1", "NRT57-P2", "GRU3-C1", "SIN2"]
AGENTS = [
    "Mozilla/5.0%2520(Windows%2520NT%252010.0;%2520Win64;%2520x64)%2520Chrome/120",
    "Mozilla/5.0%2520(iPhone;%2520CPU%2520iPhone%2520OS%252017_0)%2520Mobile",
    "AppleCoreMedia/1.0.0.21A329%2520(Apple%2520TV;%2520U;%2520CPU%2520OS%252017)",
]


def _line(rng: random.Random, i: int) -> str:
    status = rng.choice(["200", "200", "206", "304", "404", "000"])
    br, bl = rng.choice([800, 1600, 3200]), rng.randint(0, 30000)
    client = f"203.0.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
    uri = f"/vod/t{rng.randint(1, 200)}/seg{i % 900}.m4s"
    size = str(rng.randint(200, 4_000_000))
    values = [
        "2026-01-05", f"18:{i // 60 % 60:02d}:{i % 60:02d}", rng.choice(EDGES),
        size, client, "GET", "d111111abcdef8.cloudfront.net", uri, status, "-",
        rng.choice(AGENTS), f"CMCD=br%253D{br}%252Cbl%253D{bl}", "-", "Hit",
        f"req{i:012d}==", "video.example.com", "https", "310",
        f"{rng.random():.3f}", "-", "TLSv1.3", "TLS_AES_128_GCM_SHA256", "Hit",
        "HTTP/2.0", "-", "-", str(rng.randint(1024, 65535)),
        f"{rng.random() / 2:.3f}", "Hit", "video/mp4", size, "-", "-",
    ]  # fmt: skip
    return "\t".join(values)


def generate(folder: Path, lines: int, files: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    header = "#Version: 1.0\n#Fields: " + " ".join(CLOUDFRONT_STANDARD_FIELDS) + "\n"
    per_file = lines // files
    for f in range(files):
        with open(folder / f"E2X.2026-01-05-18.{f:04d}.log", "w") as out:
            out.write(header)
            base = f * per_file
            out.write("\n".join(_line(rng, base + i) for i in range(per_file)))
            out.write("\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=3_000_000)
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()

    from pyspark.sql import functions as F

    from qos_ml import QosConfig, get_spark
    from qos_ml.ingest import CloudFrontStandardSource, read_files

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "logs"
        folder.mkdir()
        started = time.perf_counter()
        generate(folder, args.lines, args.files)
        print(f"generated {args.lines:,} lines in {args.files} files "
              f"in {time.perf_counter() - started:.1f} s")  # fmt: skip
        spark = get_spark(
            QosConfig.load(use_file=False, lakehouse_root=Path(tmp) / "lake")
        )

        def baseline() -> int:
            df = spark.read.csv(str(folder), sep="\t", comment="#")
            return int(df.agg(F.count(F.concat_ws("", *df.columns))).first()[0])

        def ours() -> int:
            parsed = CloudFrontStandardSource().parse(read_files(spark, str(folder)))
            data = parsed.where("kind = 'data'")
            row = data.agg(
                F.count(F.when(F.col("_reason").isNull(), 1)).alias("bronze"),
                F.count(F.when(F.col("_reason").isNotNull(), 1)).alias("quarantine"),
                F.count(F.concat_ws("", *(F.col(c).cast("string") for c in data.columns
                                          if c not in ("extra_fields",)))).alias("n"),
            ).first()  # fmt: skip
            return int(row["bronze"]) + int(row["quarantine"])

        results = {}
        for name, run in (("spark csv reader", baseline), ("qos_ml parser", ours)):
            run()  # warm-up: code generation, file listing
            best = float("inf")
            for _ in range(args.repeat):
                t = time.perf_counter()
                rows = run()
                best = min(best, time.perf_counter() - t)
            results[name] = rows / best
            print(
                f"{name:>17}: {rows:,} rows in {best:.2f} s = {rows / best:,.0f} rows/s"
            )
        ratio = results["qos_ml parser"] / results["spark csv reader"]
        print(f"ratio qos_ml / csv reader: {ratio:.2f} (aim >= 0.7)")


if __name__ == "__main__":
    main()

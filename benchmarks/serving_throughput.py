"""Rows per second of model scoring: the Spark streaming path vs plain predict.

Trains a small buffering model on synthetic rows of the ``buffering`` feature
set (registered in a throw-away MLflow SQLite registry as the champion),
writes N feature rows to a Delta table, then scores the same rows

* through :func:`~qos_ml.serving.start_scoring_stream` (Delta source, one
  ``availableNow`` micro-batch, scores appended to ``ml.scores``: the live
  path, ``mlflow.pyfunc.spark_udf`` on every local core);
* through :func:`~qos_ml.serving.score_batch` into Spark's ``noop`` sink
  (scoring alone, no write);
* with the same model's plain ``predict`` on a pandas DataFrame of the same
  rows in this one process (the baseline).

OpenMP is limited to one thread everywhere (``OMP_NUM_THREADS=1``), so the
baseline is one core and the Spark path is one core per task.

Usage: ``.venv/bin/python benchmarks/serving_throughput.py [--rows 1000000]``
"""

from __future__ import annotations

import os

os.environ["OMP_NUM_THREADS"] = "1"  # before numpy/sklearn and the Spark workers

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pyspark.sql import functions as F  # noqa: E402
from tests.serving.serving_rows import feature_set_frame  # noqa: E402

from qos_ml import QosConfig, TableCatalog, configure_mlflow, get_spark  # noqa: E402
from qos_ml.features import BUFFERING  # noqa: E402
from qos_ml.serving import ModelHandle, score_batch, start_scoring_stream  # noqa: E402
from qos_ml.training import FeatureSpec, train_classifier  # noqa: E402


def _feature_rows(spark, n: int, partitions: int):
    """N rows of the buffering set's columns, generated natively."""
    columns = [
        F.concat(F.lit("s"), F.col("id").cast("string")).alias("session_key"),
        (
            F.lit("2026-01-01").cast("timestamp") + F.make_interval(secs=F.col("id"))
        ).alias("obs_time"),
    ]
    for i, feature in enumerate(BUFFERING):
        if feature.categorical:
            value = F.element_at(
                F.array(F.lit("a"), F.lit("b"), F.lit("c")),
                (F.floor(F.rand(i) * 3) + 1).cast("int"),
            )
        elif feature.dtype == "long":
            value = F.floor(-F.log(F.rand(i)) * 0.6).cast("long")
        else:
            value = -F.log(F.rand(i))
        columns.append(value.alias(feature.name))
    return spark.range(n, numPartitions=partitions).select(*columns)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument(
        "--partitions", type=int, default=4, help="Files (tasks) of the input."
    )
    parser.add_argument(
        "--arrow-batch",
        type=int,
        default=None,
        help="spark.sql.execution.arrow.maxRecordsPerBatch: rows per model call "
        "in the Spark path (Spark's default: 10000).",
    )
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="qos-serving-bench-"))
    config = QosConfig.load(
        use_file=False,
        use_env=False,
        lakehouse_root=root,
        secret="benchmark-secret-0123456789",
        shuffle_partitions=2,
        spark_conf={"spark.ui.enabled": "false"},
    )
    spark = get_spark(config)
    if args.arrow_batch:
        spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", args.arrow_batch)
    catalog = TableCatalog(config, spark)
    configure_mlflow(config)

    started = time.perf_counter()
    train = feature_set_frame(BUFFERING, n=2000, seed=0)
    numeric = [f.name for f in BUFFERING if not f.categorical]
    categorical = [f.name for f in BUFFERING if f.categorical]
    spec = FeatureSpec("label", numeric=numeric, categorical=categorical, group="group")
    trained = train_classifier(
        train, spec, task="buffering", config=config, max_evals=0, n_splits=2
    )
    print(
        f"model {config.model_name('buffering')} v{trained.version} trained in "
        f"{time.perf_counter() - started:.1f} s"
    )

    source = str(root / "bench_rows")
    started = time.perf_counter()
    _feature_rows(spark, args.rows, args.partitions).write.format("delta").save(source)
    print(
        f"{args.rows:,} feature rows written in {args.partitions} files in "
        f"{time.perf_counter() - started:.1f} s"
    )

    # Baseline: the same model, plain predict, one process, same rows.
    handle = ModelHandle("buffering", config=config)
    handle.refresh(spark)
    frame = spark.read.format("delta").load(source).toPandas()
    inputs = frame[[*numeric, *categorical]].copy()
    for column in numeric:
        inputs[column] = inputs[column].astype("float64")
    started = time.perf_counter()
    plain = handle.pyfunc.predict(inputs)
    plain_s = time.perf_counter() - started
    plain_rate = len(plain) / plain_s
    print(f"plain predict, one process: {plain_rate:,.0f} rows/s ({plain_s:.1f} s)")
    del frame, inputs, plain

    # Spark, scoring alone (noop sink).
    batch = spark.read.format("delta").load(source)
    started = time.perf_counter()
    score_batch(batch, "buffering", config=config).write.format("noop").mode(
        "overwrite"
    ).save()
    batch_s = time.perf_counter() - started
    batch_rate = args.rows / batch_s
    print(
        f"spark score_batch -> noop: {batch_rate:,.0f} rows/s ({batch_s:.1f} s), "
        f"{batch_rate / plain_rate:.2f} x plain predict"
    )

    # Spark, the streaming path with the write to ml.scores.
    started = time.perf_counter()
    stream = start_scoring_stream(
        spark.readStream.format("delta").load(source),
        ["buffering"],
        catalog,
        query_name="bench_scoring",
        trigger={"availableNow": True},
    )
    stream.await_termination()
    stream_s = time.perf_counter() - started
    stream.stop()
    written = catalog.read("ml.scores").count()
    stream_rate = written / stream_s
    print(
        f"spark scoring stream -> ml.scores: {stream_rate:,.0f} rows/s "
        f"({stream_s:.1f} s, {written:,} rows written), "
        f"{stream_rate / plain_rate:.2f} x plain predict"
    )
    arrow = spark.conf.get("spark.sql.execution.arrow.maxRecordsPerBatch")
    print(
        f"cores: {os.cpu_count()}, spark master {config.spark_master}, "
        f"OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']}, arrow batch {arrow}"
    )
    handle.close()
    spark.stop()
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()

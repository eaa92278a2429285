"""Scoring with registered models on a real local Spark and a real MLflow registry."""

from __future__ import annotations

import numpy as np
import pytest
from mlflow import MlflowClient
from pyspark.sql import functions as F
from tests.serving.serving_rows import NUMERIC, feature_rows

from qos_ml import ConfigError, ModelLoadError, SchemaMismatchError
from qos_ml.serving import (
    SCORE_COLUMNS,
    ModelHandle,
    parse_model_reference,
    score_batch,
    start_scoring_stream,
)


def test_model_references_parse() -> None:
    assert parse_model_reference("models:/m@champion") == ("m", "champion", None)
    assert parse_model_reference("models:/a.b.m/12") == ("a.b.m", None, "12")
    with pytest.raises(ConfigError, match=r"'models:/m'.*models:/<name>@<alias>"):
        parse_model_reference("models:/m")
    with pytest.raises(ConfigError, match=r"'runs:/abc/model'"):
        parse_model_reference("runs:/abc/model")


def test_signature_mismatch_names_missing_columns(spark, serving_env) -> None:
    name, (_, v2) = serving_env["name"], serving_env["versions"]
    rows = feature_rows(serving_env["data"]).drop(columns=["error_count", "device"])
    frame = spark.createDataFrame(rows)
    with pytest.raises(SchemaMismatchError, match=r"needs \['error_count', 'device'\]"):
        score_batch(frame, f"models:/{name}/{v2}")

    # A stream: refused before the query starts, not inside a worker.
    path = str(serving_env["config"].lakehouse_root / "partial_rows")
    frame.write.format("delta").mode("overwrite").save(path)
    stream = spark.readStream.format("delta").load(path)
    active = len(spark.streams.active)
    with pytest.raises(SchemaMismatchError, match=r"\['error_count', 'device'\]"):
        start_scoring_stream(
            stream, [f"models:/{name}/{v2}"], serving_env["catalog"], table=None,
            on_batch=lambda rows, batch_id: None,
        )  # fmt: skip
    assert len(spark.streams.active) == active

    # A version that needs more than the stream carries, met mid-stream:
    # unavailable with the reason, or an error when strict.
    handle = ModelHandle(f"models:/{name}/{v2}")
    handle.refresh(spark)
    status = handle.score(frame).select("model_status").first()[0]
    assert status == (
        f"unavailable: version {v2} needs columns ['error_count', 'device'] the "
        "input lacks"
    )
    strict = ModelHandle(f"models:/{name}/{v2}", strict=True)
    strict.refresh(spark)
    with pytest.raises(SchemaMismatchError, match=r"\['error_count', 'device'\]"):
        strict.score(frame)
    handle.close()
    strict.close()


def test_integer_columns_and_nulls_score_like_plain_predict(spark, serving_env):
    name, (_, v2) = serving_env["name"], serving_env["versions"]
    rows = feature_rows(serving_env["data"], n=30)
    rows["error_count"] = rows["error_count"].astype("Int64")  # nulls stay nulls
    rows.loc[3, "device"] = None
    frame = (
        spark.createDataFrame(rows)
        .withColumn("rtt_ms", F.round("rtt_ms").cast("int"))
        .withColumn("bitrate_kbps", F.col("bitrate_kbps").cast("long"))
    )
    assert dict(frame.dtypes)["rtt_ms"] == "int"

    scored = score_batch(frame, f"models:/{name}/{v2}")
    assert scored.columns == [*frame.columns, *SCORE_COLUMNS]
    out = scored.orderBy("session_key").toPandas().set_index("session_key")

    handle = ModelHandle(f"models:/{name}/{v2}")
    handle.refresh(spark)
    plain = frame.toPandas().set_index("session_key").loc[out.index]
    for column in NUMERIC:
        plain[column] = plain[column].astype("float64")
    expected = handle.pyfunc.predict(plain[[*NUMERIC, "device"]])
    assert np.allclose(out["score"], expected["score"], atol=1e-9)
    assert (out["decision"] == expected["decision"]).all()
    threshold = handle.current.threshold
    assert (out["decision"] == (out["score"] >= threshold)).all()
    assert set(out["model_version"]) == {v2}
    assert set(out["model_status"]) == {"ok"}
    assert out["error_count"].isna().any()
    handle.close()


def test_unavailable_model_scores_null_or_raises_when_strict(spark, serving_env):
    name = serving_env["name"]
    frame = spark.createDataFrame(feature_rows(serving_env["data"], n=5))
    scored = score_batch(frame, f"models:/{name}@missing_alias").toPandas()
    assert scored["score"].isna().all()
    assert scored["decision"].isna().all()
    assert scored["model_version"].isna().all()
    status = scored["model_status"].iloc[0]
    assert status.startswith("unavailable: alias 'missing_alias'"), status

    with pytest.raises(ModelLoadError, match=r"alias 'missing_alias' of model"):
        score_batch(frame, f"models:/{name}@missing_alias", strict=True)

    # A version whose files are gone: it resolves but cannot be loaded.
    client = MlflowClient()
    client.create_registered_model("serving_test_broken")
    empty = serving_env["config"].lakehouse_root / "no_model_here"
    empty.mkdir()
    broken = client.create_model_version("serving_test_broken", empty.as_uri())
    client.set_registered_model_alias(
        "serving_test_broken", "champion", str(broken.version)
    )
    scored = score_batch(frame, "models:/serving_test_broken@champion").toPandas()
    assert scored["score"].isna().all()
    assert set(scored["model_version"]) == {str(broken.version)}
    assert scored["model_status"].iloc[0].startswith("unavailable: ")
    with pytest.raises(ModelLoadError, match=r"serving_test_broken@champion cannot"):
        score_batch(frame, "models:/serving_test_broken@champion", strict=True)


def test_alias_move_is_picked_up_between_micro_batches(spark, serving_env):
    catalog, name = serving_env["catalog"], serving_env["name"]
    v1, v2 = serving_env["versions"]
    client = MlflowClient()
    client.set_registered_model_alias(name, "champion", v1)
    path = str(serving_env["config"].lakehouse_root / "live_rows")
    data = serving_env["data"]

    def land(start: int) -> None:
        rows = spark.createDataFrame(feature_rows(data, start=start, n=10))
        rows.write.format("delta").mode("append").save(path)

    land(0)
    seen: list[tuple[int, int]] = []
    stream = start_scoring_stream(
        spark.readStream.format("delta").load(path),
        [f"models:/{name}@champion"],
        catalog,
        on_batch=lambda rows, batch_id: seen.append((batch_id, rows.count())),
        query_name="serving_test_alias",
        trigger={"processingTime": "1 second"},
    )
    try:
        stream.query.processAllAvailable()
        client.set_registered_model_alias(name, "champion", v2)
        land(10)
        stream.query.processAllAvailable()
        assert stream.query.isActive  # the same query all along: no restart
    finally:
        stream.stop()
        client.set_registered_model_alias(name, "champion", v1)

    scores = catalog.read("ml.scores").where(F.col("model_name") == name).toPandas()
    by_session = scores.set_index("session_id")["model_version"]
    assert set(by_session[[f"s{i}" for i in range(10)]]) == {v1}
    assert set(by_session[[f"s{i}" for i in range(10, 20)]]) == {v2}
    assert len(scores) == 20
    assert scores["score"].notna().all()
    assert [n for _, n in seen] == [10, 10]
    assert stream.versions == {name: [v1, v2]}
    # Loaded once per version, not once per micro-batch.
    assert stream.scorer.handles[0].loads == 2

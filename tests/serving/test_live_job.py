"""The live job: scores beside the rules, and a model that cannot be loaded."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from pyspark.sql import functions as F

from qos_ml import ConfigError, PluginError, SchemaMismatchError
from qos_ml.features import FEATURE_SETS, feature_table_spec
from qos_ml.rules import ErrorEventShare, LiveJob, ModelUnavailable, measure, rules
from qos_ml.sinks import WebhookSink

T0 = dt.datetime(2026, 1, 1, 12, 0)


def _player_events(spark, catalog, n: int = 40):
    """``n`` silver player events in one minute, every fourth an ERROR."""
    rows = [
        {
            "event_id": f"e{i}",
            "event_type": "ERROR" if i % 4 == 0 else "PLAY",
            "event_time": T0 + dt.timedelta(seconds=i),
            "session_id": f"s{i % 5}",
        }
        for i in range(n)
    ]
    schema = catalog.spec("silver.player_events").schema
    ddl = "event_id string, event_type string, event_time timestamp, session_id string"
    frame = spark.createDataFrame(rows, ddl)
    return frame.select(
        *(
            (F.col(f.name) if f.name in frame.columns else F.lit(None))
            .cast(f.dataType)
            .alias(f.name)
            for f in schema
        )
    )


@pytest.mark.slow  # minutes of Delta work on 2 shared cores
def test_unavailable_model_runs_rules_only_and_alerts_about_itself(
    spark, serving_catalog, serving_mlflow, http_server
) -> None:
    catalog = serving_catalog
    url, recorder = http_server
    catalog.write(_player_events(spark, catalog), "silver.player_events")
    # Feature rows of the buffering set, as the feature stream writes them.
    key = feature_table_spec(FEATURE_SETS.get("buffering"), "rows").key
    keys = spark.range(6).select(
        F.concat(F.lit("s"), F.col("id").cast("string")).alias("session_key"),
        (F.lit(T0) + F.make_interval(secs=F.col("id") * 5)).alias("obs_time"),
    )
    catalog.write(
        keys.select(
            *(
                (F.col(f.name) if f.name in keys.columns else F.lit(None))
                .cast(f.dataType)
                .alias(f.name)
                for f in catalog.spec(key).schema
            )
        ),
        key,
    )

    missing = "models:/serving_test_nowhere@champion"
    job = LiveJob(
        catalog,
        models={"buffering": [missing]},
        rules=[ErrorEventShare(min_support=10), ModelUnavailable()],
        sinks=[WebhookSink(url=url)],
        gold=False,
        features=False,  # the rows above stand for the feature stream's
        prefix="livetest",
        start="earliest",  # the rows above were written before the job
    )
    report = job.run_once()

    assert report.score_rows == 6
    assert report.models["serving_test_nowhere"].startswith(
        "unavailable: alias 'champion' of model 'serving_test_nowhere'"
    )
    by_rule = {a["rule"]: a for a in report.alerts}
    assert set(by_rule) == {"error_event_share", "model_unavailable"}
    self_alert = by_rule["model_unavailable"]
    assert self_alert["severity"] == "warning"
    assert self_alert["scope_key"] == "model_name=serving_test_nowhere"
    assert self_alert["observed"] == 6
    assert self_alert["explanation"].startswith(
        "Model unavailable (model_name=serving_test_nowhere): 6 row(s) not scored "
        "in the window; unavailable: alias 'champion'"
    )
    assert by_rule["error_event_share"]["observed"] == 0.25

    scores = (
        catalog.read("ml.scores")
        .where(F.col("model_name") == "serving_test_nowhere")
        .toPandas()
    )
    assert len(scores) == 6
    assert scores["score"].isna().all()
    delivered = [json.loads(r["body"]) for r in recorder.requests]
    assert sorted(a["rule"] for d in delivered for a in d["records"]) == [
        "error_event_share",
        "model_unavailable",
    ]


def test_live_job_refuses_what_it_cannot_run(serving_catalog) -> None:
    with pytest.raises(SchemaMismatchError, match=r"'anomaly_model_score'.*"
                       r"\['dimension', 'dimension_value'\]"):  # fmt: skip
        LiveJob(serving_catalog, rules=[rules.get("anomaly_model_score")])
    with pytest.raises(ConfigError, match=r"'models'.*at least one model"):
        LiveJob(serving_catalog, models={"buffering": []})
    with pytest.raises(PluginError, match=r"'nope'.*buffering"):
        LiveJob(serving_catalog, models={"nope": ["buffering"]})


def test_model_unavailable_rule_counts_unscored_rows(spark) -> None:
    rows = [
        (T0, "qos_ml_failure", None, "unavailable: alias 'champion' missing"),
        (T0, "qos_ml_failure", None, "unavailable: alias 'champion' missing"),
        (T0, "qos_ml_buffering", "4", "ok"),
    ]
    ddl = "window_start timestamp, model_name string, model_version string, "
    scores = spark.createDataFrame(rows, ddl + "model_status string")
    fired = {r.scope_key: r for r in measure(ModelUnavailable(), scores).collect()}
    assert fired["model_name=qos_ml_failure"].fired
    assert fired["model_name=qos_ml_failure"].observed == 2
    assert fired["model_name=qos_ml_failure"].detail.endswith("'champion' missing")
    assert not fired["model_name=qos_ml_buffering"].fired
    # Score rows without a status (older writers) count as scored.
    plain = scores.drop("model_status")
    assert not any(r.fired for r in measure(ModelUnavailable(), plain).collect())


def test_live_job_starts_where_the_batch_history_ended(
    spark, qos_config, tmp_path
) -> None:
    """History built in batch is neither scored, alerted on nor put in gold again."""
    from qos_ml import TableCatalog
    from qos_ml.qoe import build_gold

    catalog = TableCatalog(qos_config.replace(lakehouse_root=tmp_path), spark)
    history = _player_events(spark, catalog).withColumn(
        "event_type", F.lit("PLAY")
    )  # no errors in the history
    catalog.write(history, "silver.player_events")
    built = build_gold(catalog)
    assert built["gold.views"] == 5
    key = feature_table_spec(FEATURE_SETS.get("buffering"), "rows").key

    def feature_rows(prefix: str, start: dt.datetime, n: int):
        keys = spark.range(n).select(
            F.concat(F.lit(prefix), F.col("id").cast("string")).alias("session_key"),
            (F.lit(start) + F.make_interval(secs=F.col("id") * 5)).alias("obs_time"),
        )
        return keys.select(
            *(
                (F.col(f.name) if f.name in keys.columns else F.lit(None))
                .cast(f.dataType)
                .alias(f.name)
                for f in catalog.spec(key).schema
            )
        )

    catalog.write(feature_rows("old", T0, 7), key)

    def live_job() -> LiveJob:
        return LiveJob(
            catalog,
            models={"buffering": ["models:/serving_test_nowhere@champion"]},
            rules=[ErrorEventShare(min_support=10)],
            gold=True,
            features=False,
            prefix="livestart",
        )

    job = live_job()
    # Nothing new yet: every stream starts at "latest" and finds nothing.
    idle = job.run_once()
    assert idle.score_rows == 0
    assert [a["rule"] for a in idle.alerts] == []

    later = T0 + dt.timedelta(hours=1)
    live = _player_events(spark, catalog).select(
        *(
            (F.col(c) + F.expr("INTERVAL 1 HOUR")).alias(c)
            if c == "event_time"
            else (F.concat(F.lit("new_"), F.col(c))).alias(c)
            if c in ("event_id", "session_id")
            else F.col(c)
            for c in catalog.spec("silver.player_events").schema.names
        )
    )
    catalog.write(live, "silver.player_events")
    catalog.write(feature_rows("new", later, 3), key)
    report = job.run_once(final=True)

    assert report.score_rows == 3
    scored = catalog.read("ml.scores").select("session_id").toPandas()
    assert len(scored) == 3
    assert scored["session_id"].str.startswith("new").all()
    windows = {a["window_start"] for a in report.alerts}
    assert windows
    assert all(w >= later for w in windows)
    # gold.views still holds each history view once.
    views = catalog.read("gold.views")
    assert views.where(~F.col("session_id").startswith("new_")).count() == 5
    assert views.groupBy("view_id").count().where("count > 1").count() == 0
    # A second job object resumes with the same starting points.
    again = live_job()
    assert again.start_versions == job.start_versions
    assert again.run_once().score_rows == 0

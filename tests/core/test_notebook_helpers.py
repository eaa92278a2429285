"""The notebooks' shared helpers outside Databricks: env parameters, printed results."""

from __future__ import annotations

import pandas as pd
import pytest

from qos_ml.notebook import param, show


def test_param_reads_the_environment_then_the_default(monkeypatch):
    monkeypatch.delenv("DATABRICKS_RUNTIME_VERSION", raising=False)
    monkeypatch.setenv("QOS_ML_NB_SESSIONS", "60")
    assert param("sessions", 400) == "60"
    monkeypatch.delenv("QOS_ML_NB_SESSIONS")
    assert param("sessions", 400) == "400"
    assert param("catalog") == ""


def test_show_prints_pandas_frames(capsys):
    show(pd.DataFrame({"edge": ["FRA56"], "views": [3]}))
    assert "FRA56" in capsys.readouterr().out


@pytest.mark.spark
def test_show_prints_spark_frames_untruncated(spark, capsys):
    long_agent = "AppleCoreMedia/1.0.0.21A329 (Apple TV; U; CPU OS 17_0 like Mac OS X)"
    show(spark.createDataFrame([(long_agent,)], "agent string"), 5)
    assert long_agent in capsys.readouterr().out


@pytest.mark.spark
def test_setup_reuses_the_session_and_reads_location_parameters(
    spark, tmp_path, monkeypatch, capsys
):
    import mlflow

    from qos_ml.notebook import setup

    monkeypatch.delenv("DATABRICKS_RUNTIME_VERSION", raising=False)
    monkeypatch.delenv("QOS_ML_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)  # no ./qos_ml.toml
    monkeypatch.setenv("QOS_ML_NB_LAKEHOUSE_ROOT", str(tmp_path / "lh"))
    monkeypatch.setenv("QOS_ML_NB_LANDING_ROOT", str(tmp_path / "in"))
    monkeypatch.setenv("QOS_ML_SECRET", "test-secret-0123456789abcdef")
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
        monkeypatch.delenv(name, raising=False)  # restored after the test
    saved = mlflow.get_tracking_uri()
    try:
        config, session, catalog = setup()
        assert session is spark  # the active session, not a second one
        assert config.lakehouse_root == tmp_path / "lh"
        assert config.landing == tmp_path / "in"
        assert catalog.config is config
        assert mlflow.get_tracking_uri() == config.tracking_uri
        assert f"lakehouse {tmp_path / 'lh'}" in capsys.readouterr().out
    finally:
        mlflow.set_tracking_uri(saved)

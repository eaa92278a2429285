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

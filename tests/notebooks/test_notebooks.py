"""The notebooks: Databricks source format, readable by jupytext, and they run.

Every notebook is executed in order, in this process (``runpy``), in one shared
temporary lakehouse configured through a TOML file (``$QOS_ML_CONFIG``), so the
session's Spark is reused (``get_spark()`` returns the active session) and MLflow
tracks into SQLite in that lakehouse. Sizes are tiny (``QOS_ML_NB_*`` variables);
a loopback HTTP server receives what the alert and update sinks send.
"""

from __future__ import annotations

import json
import os
import runpy
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

NOTEBOOK_DIR = Path(__file__).resolve().parents[2] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.py"))
HEADER = "# Databricks notebook source"
SEPARATOR = "# COMMAND ----------"
SECRET = "notebook-test-secret-0123456789"

#: Tiny sizes, enough for every stage to have both classes and some incidents.
TINY = {
    "QOS_ML_NB_SESSIONS": "60",
    # Sixty views over ~8 minutes (not ~1), so that the injected incidents touch
    # some; and a higher failure hazard, so that the failure model has positives.
    "QOS_ML_NB_CONCURRENCY": "15",
    "QOS_ML_NB_PLAYBACK_FAILURES_PER_HOUR": "1.0",
    "QOS_ML_NB_TRIALS": "2",
    "QOS_ML_NB_LIVE_SESSIONS": "40",
    "QOS_ML_NB_LIVE_CYCLES": "1",
    "QOS_ML_NB_SPEEDUP": "3000",
    "QOS_ML_NB_ROUNDS": "1",
    "QOS_ML_NB_ROUND_PAUSE_S": "0",
    "QOS_ML_NB_SPARK_CHECK": "false",  # the session is up: skip its Delta round trip
}


def _cells(path: Path) -> list[tuple[str, str]]:
    """Split a Databricks source file into (kind, source) cells."""
    text = path.read_text(encoding="utf-8")
    body = text.split("\n", 1)[1]
    cells = []
    for chunk in body.split(f"\n{SEPARATOR}\n"):
        source = chunk.strip("\n")
        lines = source.splitlines()
        kind = "md" if lines and lines[0].startswith("# MAGIC %md") else "code"
        cells.append((kind, source))
    return cells


def test_there_are_notebooks() -> None:
    assert [p.name[:2] for p in NOTEBOOKS] == [f"{i:02d}" for i in range(8)]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_databricks_source_format(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.startswith(HEADER + "\n")
    cells = _cells(path)
    kinds = [kind for kind, _ in cells]
    assert kinds[0] == "md", "a notebook opens with its title"
    assert "code" in kinds
    for kind, source in cells:
        assert source, f"{path.name}: an empty cell"
        if kind == "md":
            bad = [
                line for line in source.splitlines() if not line.startswith("# MAGIC")
            ]
            assert not bad, f"{path.name}: markdown lines without '# MAGIC': {bad}"
        else:
            assert "# MAGIC" not in source, f"{path.name}: a magic line in a code cell"
            compile(source, f"{path.name} cell", "exec")
    assert "import qos_ml" in text or "from qos_ml" in text
    # No machine-specific paths: locations come from the configuration.
    assert "/tmp/" not in text
    assert "/work/" not in text
    assert "shared/data" not in text


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_jupytext_reads_it(path: Path) -> None:
    import jupytext

    notebook = jupytext.read(path)
    code = "\n".join(c.source for c in notebook.cells if c.cell_type == "code")
    for kind, source in _cells(path):
        if kind == "code":
            first = next(line for line in source.splitlines() if line.strip())
            assert first in code, f"{path.name}: jupytext lost {first!r}"
    # And it converts to a Jupyter notebook.
    assert json.loads(jupytext.writes(notebook, fmt="ipynb"))["cells"]


class _Recorder(BaseHTTPRequestHandler):
    bodies: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        self.bodies.append(json.loads(self.rfile.read(length)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def notebook_env(spark, tmp_path_factory) -> Iterator[dict[str, Any]]:
    """A lakehouse, a TOML configuration and a webhook receiver for the notebooks."""
    root = tmp_path_factory.mktemp("notebook_lakehouse")
    toml = root / "qos_ml.toml"
    toml.write_text(
        f'[qos_ml]\nlakehouse_root = "{root / "lakehouse"}"\nsecret = "{SECRET}"\n',
        encoding="utf-8",
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    _Recorder.bodies = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    saved = {
        k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")
    }
    with pytest.MonkeyPatch.context() as patch:
        for key in list(os.environ):
            if key.startswith("QOS_ML_"):
                patch.delenv(key)
        patch.setenv("QOS_ML_CONFIG", str(toml))
        patch.setenv("QOS_ML_NB_WEBHOOK_URL", url)
        for key, value in TINY.items():
            patch.setenv(key, value)
        yield {
            "lakehouse": root / "lakehouse",
            "received": _Recorder.bodies,
            "results": {},
            "timings": {},
        }
    server.shutdown()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.mark.spark
@pytest.mark.slow  # the chain takes 15-20 minutes on the shared 2-core machine
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path: Path, notebook_env: dict[str, Any]) -> None:
    results = notebook_env["results"]
    failed = [name for name, ok in results.items() if not ok]
    if failed:
        pytest.skip(f"an earlier notebook failed: {failed}")
    results[path.stem] = False
    started = time.perf_counter()
    namespace = runpy.run_path(str(path), run_name="__main__")
    notebook_env["timings"][path.stem] = time.perf_counter() - started
    results[path.stem] = True
    print(f"{path.stem}: {notebook_env['timings'][path.stem]:.0f} s")
    _check(path.stem, namespace, notebook_env)


def _check(stem: str, ns: dict[str, Any], env: dict[str, Any]) -> None:
    """What each notebook must have produced (beyond running without an error)."""
    from pyspark.sql import functions as F

    if stem == "00_setup":
        assert ns["config"].lakehouse_root == env["lakehouse"]
        assert ns["checks"]["ok"].all()
        return
    catalog = ns["catalog"]
    if stem == "01_ingest":
        reports = {r.source: r for r in ns["reports"]}
        assert reports["player_events"].silver_new > 0
        assert reports["cloudfront_realtime"].silver_new > 0
        quarantine = catalog.read("quarantine.ingest")
        assert quarantine.where(F.col("reason").isNotNull()).count() >= 3
    elif stem == "02_qoe_metrics":
        assert ns["counts"]["gold.views"] > 0
        assert set(ns["ops"].qoe_by_dimension["dimension"]) >= {
            "edge_location",
            "viewer_asn",
            "viewer_country",
            "device_type",
        }
        assert Path(ns["page"]).stat().st_size > 0
    elif stem == "03_train_buffering":
        assert ns["result"].version == "1"
        assert set(ns["result"].summary().index) == {"boosted", "logistic", "rule"}
    elif stem == "04_train_failure_and_anomaly":
        assert ns["result"].version == "1"
        assert ns["anomaly"].version == "1"
    elif stem == "05_deploy_registry":
        assert ns["challenger"].version == "2"
        assert ns["decision"].challenger_version == "2"
        assert len(ns["versions_table"]()) >= 3
    elif stem == "06_realtime_alerts":
        assert ns["cycles"][-1].score_rows > 0
        statuses = {
            r["model_status"]
            for r in catalog.read("ml.scores").select("model_status").collect()
        }
        assert statuses == {"ok"}
        alerts = catalog.read("alerts.alerts").count()
        delivered = [b for b in env["received"] if b.get("kind") == "alert"]
        assert alerts > 0
        assert delivered, "the webhook sink received no alert"
    elif stem == "07_realtime_updates":
        last = ns["progress"][-1]
        assert last["silver.player_events"] > 0
        assert last["gold.views"] > 0
        assert last["gold.active_users"] > 0
        assert last["features.buffering_rows"] > 0
        kinds = {b.get("kind") for b in env["received"]}
        assert {"active_users", "recent_views", "total_views"} <= kinds
        _check_privacy(catalog)


def _check_privacy(catalog: Any) -> None:
    """No table past bronze holds an IP address or a raw user id (#4)."""
    from qos_ml import scan_tables

    raw = {
        r[0]
        for r in catalog.read("bronze.player_events").select("user_id").collect()
        if r[0]
    }
    assert len(raw) >= 10, "the chain's input has raw user ids: the scan can fail"
    outputs = {k for k in catalog.tables if catalog.exists(k)}
    assert {
        "silver.player_events",
        "gold.views",
        "gold.qoe_by_dimension_minute",
        "features.buffering_rows",
        "ml.scores",
        "alerts.alerts",
    } <= outputs
    assert scan_tables(catalog, raw_values=raw) == []

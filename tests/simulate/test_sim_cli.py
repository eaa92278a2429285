"""``qos-ml simulate`` and ``qos-ml replay`` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from qos_ml.cli import main


def test_simulate_then_replay(tmp_path: Path) -> None:
    runner = CliRunner()
    incidents = tmp_path / "incidents.yaml"
    incidents.write_text("- {kind: origin_outage, id: o1, start_s: 0, end_s: 30}\n")
    out = tmp_path / "sim"
    result = runner.invoke(
        main,
        ["--lakehouse", str(tmp_path / "lake"), "simulate", "--sessions", "4",
         "--seed", "9", "--incidents", str(incidents), "--out", str(out),
         "--workers", "2"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "4 sessions" in result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["parameters"]["incidents"][0]["id"] == "o1"
    assert "workers" not in manifest["parameters"]  # the output does not depend on it

    result = runner.invoke(
        main,
        ["--lakehouse", str(tmp_path / "lake"), "replay", str(out), "--speedup",
         "100000", "--max-duration", "30"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "stopped by end_of_data" in result.output
    assert list(
        (tmp_path / "lake" / "landing" / "player_events").glob("replay-*.jsonl")
    )


def test_simulate_rejects_bad_options(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(
        main,
        ["--lakehouse", str(tmp_path), "simulate", "--sessions", "0", "--incidents",
         "none", "--out", str(tmp_path / "x")],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "'sessions'" in result.output
    result = runner.invoke(
        main, ["--lakehouse", str(tmp_path), "simulate", "--incidents", "nope.yaml"]
    )
    assert result.exit_code == 2
    assert "an existing YAML or JSON file" in result.output
    result = runner.invoke(
        main, ["--lakehouse", str(tmp_path), "simulate", "--workers", "0"]
    )
    assert result.exit_code == 2
    assert "--workers" in result.output

"""Same seed, same bytes; another seed, other data."""

from __future__ import annotations

import hashlib
from pathlib import Path

from qos_ml.simulate import SimulationConfig, default_incidents, simulate


def _digest(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def test_same_seed_gives_byte_identical_output(tmp_path: Path) -> None:
    base = SimulationConfig.create(sessions=8, seed=7, rows_per_file=500)
    config = SimulationConfig.create(
        sessions=8, seed=7, rows_per_file=500, incidents=default_incidents(base)
    )
    simulate(config, tmp_path / "a")
    simulate(config, tmp_path / "b")
    first, second = _digest(tmp_path / "a"), _digest(tmp_path / "b")
    assert first == second
    assert len([p for p in first if p.startswith("player_events/")]) > 1  # rolled
    assert not [p for p in first if ".inprogress" in p]

    other = SimulationConfig.create(sessions=8, seed=8, rows_per_file=500)
    simulate(other, tmp_path / "c")
    third = _digest(tmp_path / "c")
    assert (
        third["player_events/part-00000.jsonl"]
        != first["player_events/part-00000.jsonl"]
    )


def test_sized_by_duration_and_concurrency(tmp_path: Path) -> None:
    config = SimulationConfig.create(
        duration_s=300, concurrency=10, seed=3, mean_watch_s=60
    )
    summary = simulate(config, tmp_path)
    # Poisson arrivals at concurrency / mean session length: about 41 sessions.
    assert 20 <= summary.sessions <= 70
    starts = [
        line
        for line in (tmp_path / "ground_truth" / "sessions.jsonl")
        .read_text()
        .splitlines()
    ]
    assert len(starts) == summary.sessions
    manifest = (tmp_path / "manifest.json").read_text()
    assert '"seed": 3' in manifest
    assert f'"sessions": {summary.sessions}' in manifest

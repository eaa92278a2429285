"""Same seed, same bytes; another seed, other data."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import pytest

from qos_ml.simulate import SimulationConfig, default_incidents, simulate
from qos_ml.simulate._simulate import _run_batch, _start_method, _worker_count


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


def _incident_run(sessions: int, **extra: object) -> SimulationConfig:
    base = SimulationConfig.create(sessions=sessions, seed=4)
    return SimulationConfig.create(
        sessions=sessions,
        seed=4,
        rows_per_file=400,
        incidents=default_incidents(base),
        **extra,
    )


def test_output_does_not_depend_on_the_worker_count(tmp_path: Path) -> None:
    digests = {}
    for workers in (1, 2, 3):
        summary = simulate(_incident_run(20, workers=workers), tmp_path / f"w{workers}")
        digests[workers] = _digest(tmp_path / f"w{workers}")
        assert summary.sessions == 20
    assert digests[1] == digests[2] == digests[3]
    assert len([p for p in digests[1] if p.startswith("player_events/")]) > 1


def test_workers_are_spawned_while_other_threads_run(tmp_path: Path) -> None:
    # Forking a process that runs threads can deadlock the child: with a
    # thread alive (a progress bar, a Spark gateway), workers are spawned.
    done = threading.Event()
    thread = threading.Thread(target=done.wait, daemon=True)
    thread.start()
    try:
        assert _start_method() == "spawn"
        simulate(_incident_run(6, workers=2), tmp_path / "spawned")
    finally:
        done.set()
        thread.join()
    assert _start_method() in ("fork", "spawn")
    simulate(_incident_run(6, workers=1), tmp_path / "in-process")
    assert _digest(tmp_path / "spawned") == _digest(tmp_path / "in-process")


def test_worker_count_defaults() -> None:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    small = SimulationConfig.create(sessions=10)
    assert _worker_count(small) == 1  # starting workers would cost more
    assert _worker_count(SimulationConfig.create(sessions=10, workers=3)) == 3
    assert _worker_count(SimulationConfig.create(sessions=5000)) == max(1, min(2, cpus))


def test_a_worker_needs_its_initializer() -> None:
    with pytest.raises(RuntimeError, match="before its initializer"):
        _run_batch([(0, 0.0, 0)])

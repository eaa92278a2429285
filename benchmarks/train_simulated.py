"""Buffering and failure models on simulated views, against both baselines (#7).

Simulates a platform with the default incidents (the demo's settings, more
views), ingests the player events and real-time CDN logs, builds each task's
training set with the feature layer and trains the tuned boosted model, the
logistic baseline and the best single-threshold rule on the same split (whole
sessions, the latest in test). Prints held-out PR-AUC and ROC-AUC of each and
the test set's size, since a few dozen positives make PR-AUC noisy.

The demo's 400 views give test sets of about 30 buffering and 6 failure
positives; this runs the same pipeline at a size where the comparison means
something.

    .venv/bin/python benchmarks/train_simulated.py [--sessions 1500]
        [--negatives-per-positive 10] [--max-evals 10]
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

from qos_ml import QosConfig, TableCatalog, configure_mlflow
from qos_ml.features import build_training_set
from qos_ml.ingest import ingest_batch
from qos_ml.simulate import SimulationConfig, default_incidents, simulate
from qos_ml.training import train_from_training_set


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--negatives-per-positive", type=float, default=10.0)
    parser.add_argument("--max-evals", type=int, default=10)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    root = Path(tempfile.mkdtemp(prefix="qos_ml_train_sim_"))
    config = QosConfig.load(use_file=False, use_env=False, lakehouse_root=root)
    catalog = TableCatalog(config)
    configure_mlflow(config)

    started = time.perf_counter()
    sim = SimulationConfig.create(
        sessions=args.sessions,
        seed=args.seed,
        mean_watch_s=150.0,
        concurrency=120.0,
        rows_per_file=5_000,
    )
    sim = SimulationConfig.create(
        **{**sim.model_dump(), "incidents": tuple(default_incidents(sim))}
    )
    summary = simulate(sim, root / "sim")
    for source in ("player_events", "cloudfront_realtime"):
        ingest_batch(str(root / "sim" / source), source, catalog)
    prepared = time.perf_counter() - started
    print(
        f"{summary.sessions} views, {summary.player_events:,} player events, "
        f"{summary.cdn_requests:,} CDN requests, {summary.stalls} stalls, outcomes "
        f"{summary.outcomes}; simulated and ingested in {prepared:.0f} s"
    )

    print(
        f"{'task':<10} {'train':>6} {'test':>6} {'test pos':>8} "
        f"{'model PR-AUC':>12} {'logistic':>9} {'rule':>6} {'model ROC-AUC':>13}"
    )
    for task in ("buffering", "failure"):
        t0 = time.perf_counter()
        training = build_training_set(
            catalog, task, negatives_per_positive=args.negatives_per_positive
        )
        result = train_from_training_set(
            catalog, training, task=task, max_evals=args.max_evals, n_splits=3
        )
        m = result.metrics
        print(
            f"{task:<10} {training.rows_written - len(result.test):>6} "
            f"{len(result.test):>6} "
            f"{int(result.test['label'].sum()):>8} {m['test_pr_auc']:>12.3f} "
            f"{m['logistic_pr_auc']:>9.3f} {m['rule_pr_auc']:>6.3f} "
            f"{m['test_roc_auc']:>13.3f}  ({time.perf_counter() - t0:.0f} s)"
        )
    print(f"lakehouse: {root}")


if __name__ == "__main__":
    main()

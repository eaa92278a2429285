"""Buffering model on the real YouTube sessions (yt_ifip2016), split by video.

Trains the boosted model (hyperopt-tuned), the logistic baseline and the best
single-threshold rule on several video splits and prints held-out ROC-AUC and
PR-AUC of each, with the boosted model's lift over both baselines.

    .venv/bin/python benchmarks/train_real_sessions.py [--seeds 3] [--max-evals 15]
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

import pandas as pd

from qos_ml import QosConfig
from qos_ml.training import LEAK_COLUMNS, train_yt_sessions

DATA = (
    Path(__file__).resolve().parents[2]
    / "shared/data/sessions/yt_ifip2016/sessions.csv.gz"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--max-evals", type=int, default=15)
    parser.add_argument("--folds", type=int, default=3)
    args = parser.parse_args()
    if not DATA.exists():
        raise SystemExit(f"{DATA} is absent (see shared/data/MANIFEST.md)")
    logging.basicConfig(level=logging.WARNING)

    print("dropped as leaks:", ", ".join(LEAK_COLUMNS))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        config = QosConfig.load(
            use_file=False, use_env=False, lakehouse_root=tmp, secret="b" * 32
        )
        for seed in range(args.seeds):
            started = time.perf_counter()
            result = train_yt_sessions(
                DATA,
                config=config,
                max_evals=args.max_evals,
                n_splits=args.folds,
                seed=seed,
            )
            m = result.metrics
            rows.append(
                {
                    "seed": seed,
                    "test_sessions": int(m["test_rows"]),
                    "positive_rate": m["test_positive_rate"],
                    "boosted_roc": m["test_roc_auc"],
                    "logistic_roc": m["logistic_roc_auc"],
                    "rule_roc": m["rule_roc_auc"],
                    "boosted_pr": m["test_pr_auc"],
                    "logistic_pr": m["logistic_pr_auc"],
                    "rule_pr": m["rule_pr_auc"],
                    "rule_binary_pr": m["rule_binary_pr_auc"],
                    "rule": result.rule.describe(),
                    "trials": result.tuning.n_trials if result.tuning else 0,
                    "seconds": time.perf_counter() - started,
                }
            )
            print(pd.DataFrame(rows[-1:]).to_string(index=False))
    table = pd.DataFrame(rows)
    numeric = table.drop(columns=["rule"])
    print("\nper split:")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    print("\nmean over splits:")
    print(numeric.mean().to_string(float_format=lambda v: f"{v:.4f}"))
    print(
        "\nPR-AUC lift of boosted: over logistic "
        f"{(table.boosted_pr / table.logistic_pr).mean():.3f}x, over the best rule "
        f"{(table.boosted_pr / table.rule_pr).mean():.3f}x; boosted beats logistic "
        f"on {(table.boosted_pr > table.logistic_pr).sum()}/{len(table)} splits and "
        f"the rule on {(table.boosted_pr > table.rule_pr).sum()}/{len(table)}"
    )


if __name__ == "__main__":
    main()

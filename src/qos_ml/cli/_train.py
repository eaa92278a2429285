"""``qos-ml train``: train, evaluate and log models from the command line."""

from __future__ import annotations

import logging
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table


@click.group("train")
def command() -> None:
    """Train, tune and evaluate models; runs are logged to MLflow."""


@command.command("yt-sessions")
@click.option(
    "--path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="sessions.csv.gz of the yt_ifip2016 data set (real YouTube sessions).",
)
@click.option("--max-evals", default=20, show_default=True, help="hyperopt trials.")
@click.option("--folds", default=3, show_default=True, help="Cross-validation folds.")
@click.option(
    "--test-fraction", default=0.2, show_default=True, help="Share of videos held out."
)
@click.option("--seed", default=0, show_default=True, help="Seed of split and models.")
@click.option(
    "--register/--no-register",
    default=False,
    show_default=True,
    help="Register the model as a buffering model version (challenger).",
)
@click.pass_context
def yt_sessions(
    ctx: click.Context,
    path: Path,
    max_evals: int,
    folds: int,
    test_fraction: float,
    seed: int,
    register: bool,
) -> None:
    """Train the buffering model on real YouTube sessions, split by video.

    Columns computed from the outcome (stall counts, run lengths that include
    stall time) are dropped. Prints ROC-AUC and PR-AUC on the held-out videos
    for the boosted model, the logistic baseline and the best single-threshold
    rule.
    """
    from qos_ml.cli import load_config
    from qos_ml.training import LEAK_COLUMNS, train_yt_sessions

    config = load_config(ctx)
    console = Console()
    logging.getLogger("qos_ml").setLevel(logging.INFO)
    console.print(f"Dropping {len(LEAK_COLUMNS)} leaking column(s):")
    for column, reason in LEAK_COLUMNS.items():
        console.print(f"  [dim]{column}[/dim]: {reason}", highlight=False)
    with console.status("Training (tuning, baseline, evaluation, MLflow)..."):
        result = train_yt_sessions(
            path,
            config=config,
            max_evals=max_evals,
            n_splits=folds,
            test_fraction=test_fraction,
            register=register,
            seed=seed,
        )
    table = Table(
        title=f"Held-out videos ({int(result.metrics['test_rows'])} sessions)"
    )
    for header in ("model", "ROC-AUC", "PR-AUC", "precision", "recall"):
        table.add_column(header, justify="right" if header != "model" else "left")
    names = {"boosted": "boosted trees", "logistic": "logistic baseline"}
    names["rule"] = f"rule: {result.rule.describe()}"
    for name, row in result.summary().iterrows():
        table.add_row(
            names[str(name)],
            *(f"{row[m]:.4f}" for m in ("roc_auc", "pr_auc", "precision", "recall")),
        )
    console.print(table)
    console.print(
        f"threshold {result.threshold:.4f}; PR-AUC lift over logistic "
        f"{result.metrics['lift_pr_auc_over_logistic']:.3f}x, over the rule "
        f"{result.metrics['lift_pr_auc_over_rule']:.3f}x; MLflow run {result.run_id}"
    )
    if result.version:
        console.print(f"registered {result.registered_name} version {result.version}")

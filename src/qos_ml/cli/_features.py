"""``qos-ml features``: list and document feature sets, build training sets."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.table import Table

from qos_ml._errors import ConfigError, PluginError

if TYPE_CHECKING:
    from qos_ml.features import FeatureRegistry


def _registry() -> FeatureRegistry:
    # Imported on use: ``qos-ml --help`` must not pay for importing PySpark.
    from qos_ml.features import FEATURE_SETS

    return FEATURE_SETS


@click.group("features")
def command() -> None:
    """Feature sets: list them, print their documentation, build training sets."""


@command.command("list")
def list_sets() -> None:
    """List the registered feature sets and labels."""
    registry = _registry()
    table = Table("feature set", "version", "features", "default label", "description")
    for name in registry.set_names():
        fs = registry.get(name)
        table.add_row(
            fs.name, fs.version, str(len(fs)), fs.default_label or "-", fs.description
        )
    console = Console()
    console.print(table)
    labels = Table("label", "horizon (s)", "description")
    for name in registry.label_names():
        label = registry.label(name)
        horizon = (
            "by the end of the view"
            if label.horizon_s is None
            else f"{label.horizon_s:g}"
        )
        labels.add_row(label.name, horizon, label.description)
    console.print(labels)


@command.command("show")
@click.argument("name")
def show(name: str) -> None:
    """Print a feature set's documentation as a Markdown table (for a README)."""
    from qos_ml.features import document_feature_set

    try:
        feature_set = _registry().get(name)
    except PluginError as exc:
        raise click.UsageError(str(exc)) from exc
    click.echo(document_feature_set(feature_set))


@command.command("build")
@click.argument("name")
@click.option("--label", default=None, help="Label name (default: the set's own).")
@click.option(
    "--horizon",
    type=float,
    default=None,
    help="Label horizon H in seconds (default: the label's own).",
)
@click.option(
    "--by-end",
    is_flag=True,
    help="Failure label: the view fails at any time before its end (no horizon).",
)
@click.option(
    "--every",
    type=float,
    default=10.0,
    show_default=True,
    help="Seconds between a session's observation points.",
)
@click.option(
    "--balance",
    type=float,
    default=None,
    help="Keep about this many negatives per positive (default: keep all rows).",
)
@click.option("--seed", type=int, default=7, show_default=True)
@click.pass_context
def build(
    ctx: click.Context,
    name: str,
    label: str | None,
    horizon: float | None,
    by_end: bool,
    every: float,
    balance: float | None,
    seed: int,
) -> None:
    """Build the training set of feature set NAME from the silver Delta tables."""
    from qos_ml._catalog import TableCatalog
    from qos_ml.cli import load_config
    from qos_ml.features import ObservationPolicy, build_training_set

    registry = _registry()
    try:
        feature_set = registry.get(name)
    except PluginError as exc:
        raise click.UsageError(str(exc)) from exc
    horizon_s: float | str | None = "default"
    if by_end:
        horizon_s = None
    elif horizon is not None:
        horizon_s = horizon
    catalog = TableCatalog(load_config(ctx))
    console = Console()
    try:
        with console.status(f"Building the {feature_set.name} training set..."):
            built = build_training_set(
                catalog,
                feature_set,
                label,
                horizon_s=horizon_s,
                policy=ObservationPolicy(every_s=every),
                negatives_per_positive=balance,
                seed=seed,
            )
    except (ConfigError, PluginError) as exc:
        raise click.UsageError(str(exc)) from exc
    console.print(
        f"[bold]{built.table_key}[/bold] version {built.table_version}: "
        f"{built.rows_written} rows written of {built.rows_total} "
        f"({built.positives} positive, negatives kept: {built.negative_fraction:.3f}); "
        f"training set id {built.training_set_id}"
    )

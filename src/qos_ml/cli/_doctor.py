"""``qos-ml doctor``: check Java, Spark, the Delta jar, MLflow and the locations."""

from __future__ import annotations

import click
from rich.console import Console

from qos_ml._doctor import run_checks


@click.command("doctor")
@click.option("--no-spark", is_flag=True, help="Skip starting Spark (the slow check).")
@click.pass_context
def command(ctx: click.Context, no_spark: bool) -> None:
    """Check that everything qos_ml needs is installed and configured."""
    from qos_ml.cli import load_config

    config = load_config(ctx)
    console = Console()
    for key, value in config.describe().items():
        console.print(f"[dim]{key:>22}[/dim] {value}")
    failed = 0
    for check in run_checks(config, spark=not no_spark):
        mark = "[green]ok[/green]  " if check.ok else "[red]FAIL[/red]"
        console.print(f"{mark} {check.name:<14} {check.detail}", highlight=False)
        failed += not check.ok
    if failed:
        raise SystemExit(f"{failed} check(s) failed; see the lines marked FAIL above")
    console.print("[green]Everything qos_ml needs is in place.[/green]")

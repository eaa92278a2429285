"""``qos-ml demo``: the end-to-end main job on the embedded default.

It runs every stage that the library has, for real, in data-flow order, and
prints where the results are. Stages are added here as the layers land.
"""

from __future__ import annotations

import time

import click
from rich.console import Console

from qos_ml._catalog import TableCatalog
from qos_ml._doctor import run_checks
from qos_ml._mlflow import configure_mlflow


@click.command("demo")
@click.option("--fresh", is_flag=True, help="Replace the results of an earlier run.")
@click.pass_context
def command(ctx: click.Context, fresh: bool) -> None:
    """Run the whole pipeline on the embedded default and say where everything is."""
    from qos_ml.cli import load_config

    config = load_config(ctx)
    console = Console()
    started = time.perf_counter()

    console.rule("1. environment")
    for check in run_checks(config, spark=False):
        if not check.ok:
            raise SystemExit(f"{check.name}: {check.detail} (run 'qos-ml doctor')")
        console.print(f"ok {check.name}: {check.detail}", highlight=False)

    console.rule("2. lakehouse tables")
    catalog = TableCatalog(config)
    if fresh and config.storage_mode == "path":
        import shutil

        for layer in ("bronze", "quarantine", "silver", "gold", "features", "alerts"):
            shutil.rmtree(config.lakehouse_root / layer, ignore_errors=True)
        shutil.rmtree(config.checkpoints, ignore_errors=True)
    for key in catalog.create_all():
        console.print(f"{key:<28} {catalog.qualified_name(key)}", highlight=False)

    console.rule("3. MLflow")
    experiment_id = configure_mlflow(config)
    console.print(f"experiment {config.experiment_name} ({experiment_id})")
    console.print(
        f"browse it with: mlflow ui --backend-store-uri {config.tracking_uri}",
        highlight=False,
    )
    console.rule(f"done in {time.perf_counter() - started:.0f} s")

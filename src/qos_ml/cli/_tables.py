"""``qos-ml tables``: list the declared tables and create them."""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table

from qos_ml._catalog import TableCatalog, declared_tables


@click.command("tables")
@click.option(
    "--create", is_flag=True, help="Create every declared table that is missing."
)
@click.pass_context
def command(ctx: click.Context, create: bool) -> None:
    """List the declared bronze, silver and gold tables and where they live."""
    from qos_ml.cli import load_config

    catalog = TableCatalog(load_config(ctx))
    if create:
        catalog.create_all()
    table = Table("table", "stored as", "columns", "description")
    for key, spec in declared_tables().items():
        table.add_row(
            key, catalog.qualified_name(key), str(len(spec.schema)), spec.description
        )
    Console().print(table)

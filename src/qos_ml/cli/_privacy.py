"""``qos-ml privacy-scan``: search every table past bronze for raw identifiers."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console


@click.command("privacy-scan")
@click.option(
    "--raw-values",
    "raw_values_file",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="File of raw identifiers (one per line) that must appear nowhere.",
)
@click.option(
    "--table", "tables", multiple=True, help="Table key to scan (default: all)."
)
@click.pass_context
def command(
    ctx: click.Context, raw_values_file: str | None, tables: tuple[str, ...]
) -> None:
    """Check silver, gold, features, scores and alerts for IPs and raw ids.

    Exits with status 1 and lists the columns when anything is found.
    """
    from qos_ml._catalog import TableCatalog
    from qos_ml._privacy import scan_tables
    from qos_ml.cli import load_config

    catalog = TableCatalog(load_config(ctx))
    raw = (
        Path(raw_values_file).read_text(encoding="utf-8").split()
        if raw_values_file
        else []
    )
    findings = scan_tables(catalog, tables=tables or None, raw_values=raw)
    console = Console()
    for finding in findings:
        console.print(f"[red]FOUND[/red] {finding}", highlight=False)
    if findings:
        raise SystemExit(f"{len(findings)} column(s) hold identifiers")
    console.print(
        f"[green]No IP address and none of {len(raw)} raw value(s) found.[/green]"
    )

"""``qos-ml gold``: build the gold tables (views, QoE, real-time aggregates)."""

from __future__ import annotations

import time

import click
from rich.console import Console
from rich.table import Table


@click.command("gold")
@click.option(
    "--session-gap",
    default="10 minutes",
    show_default=True,
    help="Inactivity that ends a viewer's activity session, e.g. '10 minutes'.",
)
@click.option(
    "--seek-window",
    "seek_window_s",
    type=float,
    default=2.0,
    show_default=True,
    help="Seconds after a seek in which a stall counts as caused by the seek.",
)
@click.option(
    "--slack",
    default="1 minute",
    show_default=True,
    help="How far outside a view a CDN request matched by CMCD session id may lie.",
)
@click.pass_context
def command(
    ctx: click.Context, session_gap: str, seek_window_s: float, slack: str
) -> None:
    """Rebuild the gold tables from silver player events and CDN requests.

    Sessionises player events into views, computes each view's QoE metrics and
    CDN figures (gold.views), the real-time aggregates (gold.active_users,
    gold.recent_views, gold.total_views) and QoE per minute and dimension
    (gold.qoe_by_dimension_minute), then prints the row counts.
    """
    from qos_ml._catalog import TableCatalog
    from qos_ml._errors import QosMlError
    from qos_ml.cli import load_config
    from qos_ml.qoe import build_gold

    console = Console()
    catalog = TableCatalog(load_config(ctx))
    for key in ("silver.player_events", "silver.cdn_requests"):
        catalog.create(key)
    started = time.perf_counter()
    with console.status("Building the gold tables from silver..."):
        try:
            counts = build_gold(
                catalog,
                session_gap=session_gap,
                seek_window_s=seek_window_s,
                slack=slack,
            )
        except QosMlError as exc:
            raise click.UsageError(str(exc)) from exc
    table = Table("table", "rows", "stored as")
    for key, rows in counts.items():
        where = catalog.qualified_name(key) if key.startswith("gold.") else "-"
        table.add_row(key, f"{rows:,}", where)
    console.print(table)
    console.print(f"done in {time.perf_counter() - started:.1f} s", highlight=False)

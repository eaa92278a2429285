"""``qos-ml ingest``: files into bronze, quarantine and silver, once or streaming."""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table


@click.command("ingest")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option(
    "--source",
    "source_name",
    required=True,
    help="Registered source: cloudfront_standard, cloudfront_realtime, "
    "player_events, akamai_ds2 or a plugin's name.",
)
@click.option(
    "--stream",
    is_flag=True,
    help="Treat PATH as a landing folder and ingest it as a stream with a "
    "checkpoint (resumes where the last run stopped).",
)
@click.option(
    "--continuous",
    is_flag=True,
    help="With --stream: keep running and poll for new files every 10 s "
    "(default: process what is there and stop).",
)
@click.option(
    "--glob", default=None, help="Only read files matching this pattern (*.gz)."
)
@click.pass_context
def command(
    ctx: click.Context,
    paths: tuple[str, ...],
    source_name: str,
    stream: bool,
    continuous: bool,
    glob: str | None,
) -> None:
    """Ingest CDN logs or player events from PATHS into the lakehouse.

    Prints the rows in (input lines), written to bronze and to the quarantine,
    and new in silver; header, comment and blank lines are counted apart.
    """
    from qos_ml._catalog import TableCatalog
    from qos_ml._errors import PluginError
    from qos_ml.cli import load_config
    from qos_ml.ingest import ingest_batch, sources, start_ingest_stream

    try:
        source = sources.get(source_name)
    except PluginError as exc:
        raise click.BadParameter(str(exc), param_hint="--source") from exc
    catalog = TableCatalog(load_config(ctx))
    options = {"pathGlobFilter": glob} if glob else {}
    console = Console()

    if stream:
        if len(paths) != 1:
            raise click.BadParameter(
                f"--stream reads one landing folder; got {len(paths)} paths",
                param_hint="PATHS",
            )
        trigger = {"processingTime": "10 seconds"} if continuous else None
        with console.status(f"Streaming {source.name} from {paths[0]}"):
            query = start_ingest_stream(
                paths[0], source, catalog, trigger=trigger, options=options
            )
            query.awaitTermination()
        console.print(f"Stream {query.name} stopped; counts per table:")
        table = Table("table", "rows")
        for key in (source.bronze_table, "quarantine.ingest", source.silver_table):
            table.add_row(key, str(catalog.read(key).count()))
        console.print(table)
        return

    with console.status(f"Ingesting {source.name} from {len(paths)} path(s)"):
        report = ingest_batch(list(paths), source, catalog, options=options)
    table = Table("count", "rows", title=f"qos-ml ingest {source.name}")
    table.add_row("rows in (input lines)", str(report.lines_in))
    table.add_row(f"bronze ({source.bronze_table})", str(report.bronze))
    table.add_row("quarantine (quarantine.ingest)", str(report.quarantine))
    table.add_row(f"silver new ({source.silver_table})", str(report.silver_new))
    table.add_row("silver duplicates (already there)", str(report.duplicates))
    table.add_row("silver rows flagged (value out of range)", str(report.flagged))
    table.add_row("header/comment/blank lines (not input)", str(report.skipped_lines))
    console.print(table)

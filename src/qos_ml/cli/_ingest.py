"""``qos-ml ingest``: files into bronze, quarantine and silver, once or streaming."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from qos_ml.ingest import IngestReport, Source

#: Counts of an IngestReport that add up over micro-batches.
_COUNTS = (
    "lines_in",
    "bronze",
    "quarantine",
    "silver_new",
    "duplicates",
    "flagged",
    "skipped_lines",
)


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

    PATHS are files, folders or globs, or one Kafka location
    kafka://HOST:PORT[,HOST:PORT]/TOPIC[,TOPIC] whose record values are read as
    lines (the session needs Spark's Kafka connector; see the README).

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
    if stream and len(paths) != 1:
        raise click.BadParameter(
            f"--stream reads one landing folder; got {len(paths)} paths",
            param_hint="PATHS",
        )
    if continuous and not stream:
        raise click.BadParameter("--continuous needs --stream", param_hint="--stream")
    kafka = [p for p in paths if p.startswith("kafka://")]
    if kafka and len(paths) != 1:
        raise click.BadParameter(
            "a kafka:// location is read alone; give it as the only PATH",
            param_hint="PATHS",
        )
    if kafka and glob:
        raise click.BadParameter("--glob applies to files, not to Kafka")
    catalog = TableCatalog(load_config(ctx))
    options = {"pathGlobFilter": glob} if glob else {}
    console = Console()

    if stream:
        trigger = {"processingTime": "10 seconds"} if continuous else None
        batches: list[IngestReport] = []
        with console.status(f"Streaming {source.name} from {paths[0]}") as status:

            def on_report(report: IngestReport) -> None:
                batches.append(report)
                status.update(
                    f"Streaming {source.name} from {paths[0]}: {len(batches)} "
                    f"micro-batch(es), {sum(b.lines_in for b in batches)} rows in"
                )

            query = start_ingest_stream(
                paths[0],
                source,
                catalog,
                trigger=trigger,
                options=options,
                on_report=on_report,
            )
            query.awaitTermination()
        error = query.exception()
        if error is not None:
            raise click.ClickException(f"stream {query.name} failed: {error}")
        totals = {field: sum(getattr(b, field) for b in batches) for field in _COUNTS}
        title = f"qos-ml ingest --stream {source.name} ({len(batches)} batches)"
        console.print(_counts_table(title, source, totals))
        return

    with console.status(f"Ingesting {source.name} from {len(paths)} path(s)"):
        targets: str | list[str] = paths[0] if kafka else list(paths)
        report = ingest_batch(targets, source, catalog, options=options)
    console.print(
        _counts_table(f"qos-ml ingest {source.name}", source, report.as_dict())
    )


def _counts_table(title: str, source: Source, counts: dict[str, Any]) -> Table:
    table = Table("count", "rows", title=title)
    table.add_row("rows in (input lines)", str(counts["lines_in"]))
    table.add_row(f"bronze ({source.bronze_table})", str(counts["bronze"]))
    table.add_row("quarantine (quarantine.ingest)", str(counts["quarantine"]))
    table.add_row(f"silver new ({source.silver_table})", str(counts["silver_new"]))
    table.add_row("silver duplicates (already there)", str(counts["duplicates"]))
    table.add_row("silver rows flagged (value out of range)", str(counts["flagged"]))
    table.add_row(
        "header/comment/blank lines (not input)", str(counts["skipped_lines"])
    )
    return table

"""``qos-ml dashboard``: write the network operations dashboard, or serve it live."""

from __future__ import annotations

import time
from pathlib import Path

import click
from rich.console import Console


@click.command("dashboard")
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="HTML file to write (default: <lakehouse>/dashboard/index.html).",
)
@click.option(
    "--serve",
    is_flag=True,
    help="Serve the dashboard live and rebuild it as the tables change.",
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to serve on; anything but loopback exposes it to the network.",
)
@click.option("--port", default=8050, show_default=True, help="Port (0: any free).")
@click.option(
    "--refresh",
    "refresh_s",
    type=float,
    default=60.0,
    show_default=True,
    help="With --serve: rebuild at least every this many seconds.",
)
@click.pass_context
def command(
    ctx: click.Context,
    out_path: Path | None,
    serve: bool,
    host: str,
    port: int,
    refresh_s: float,
) -> None:
    """Write the dashboard from the gold tables, the alerts and the model registry.

    One self-contained HTML file (it opens offline): viewers and views over
    time, QoE by edge location, ASN, country and device, start-up time and
    rebuffering distributions, errors, cache hit ratio, open alerts with their
    explanations, and the models' champion and challenger with their quality.
    With --serve the page is served on localhost, rebuilt whenever a table
    changes, and an open browser tab reloads itself. Stop with Ctrl-C.
    """
    from qos_ml._catalog import TableCatalog
    from qos_ml._errors import QosMlError
    from qos_ml.cli import load_config
    from qos_ml.dashboard import build_dashboard, serve_dashboard

    console = Console()
    config = load_config(ctx)
    catalog = TableCatalog(config)
    out = out_path or config.lakehouse_root / "dashboard" / "index.html"
    started = time.perf_counter()
    if not serve:
        with console.status("Reading the gold and alert tables..."):
            try:
                written = build_dashboard(catalog, out)
            except QosMlError as exc:
                raise click.UsageError(str(exc)) from exc
        console.print(
            f"Dashboard written to {written} in {time.perf_counter() - started:.1f} s",
            highlight=False,
        )
        return

    with console.status("Building the first page..."):
        try:
            server = serve_dashboard(
                catalog, host=host, port=port, refresh_s=refresh_s, out_path=out
            )
        except (QosMlError, OSError) as exc:
            raise click.UsageError(f"cannot serve the dashboard: {exc}") from exc
    console.print(f"Serving the dashboard at {server.url} (Ctrl-C to stop)")
    console.print(f"The latest page is also kept in {out}", highlight=False)
    try:
        while True:
            time.sleep(1.0)
    except KeyboardInterrupt:
        console.print("Stopping the dashboard server...")
    finally:
        server.stop()

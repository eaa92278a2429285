"""``qos-ml replay``: emit a simulation into a landing folder, paced."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console

from qos_ml._errors import ConfigError


@click.command("replay")
@click.argument("src_dir", type=click.Path(exists=True, file_okay=False))
@click.option(
    "--landing",
    "landing_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Landing folder (default: the configured landing folder).",
)
@click.option("--rate", type=float, default=None, help="Player events per second.")
@click.option(
    "--speedup", type=float, default=None, help="Simulated seconds per wall second."
)
@click.option(
    "--max-duration",
    type=float,
    default=600.0,
    show_default=True,
    help="Stop after this many seconds.",
)
@click.pass_context
def command(
    ctx: click.Context,
    src_dir: str,
    landing_dir: str | None,
    rate: float | None,
    speedup: float | None,
    max_duration: float,
) -> None:
    """Replay the output of 'qos-ml simulate' into a landing folder at a pace.

    Give --rate (events per second) or --speedup (e.g. 60: one simulated
    minute per second). Ctrl-C stops cleanly after the current file.
    """
    from qos_ml.cli import load_config
    from qos_ml.simulate import replay

    if rate is None and speedup is None:
        speedup = 60.0
    landing = Path(landing_dir) if landing_dir else load_config(ctx).landing
    console = Console()
    with console.status(f"replaying {src_dir} into {landing}"):
        try:
            summary = replay(
                src_dir,
                landing,
                rate=rate,
                speedup=speedup,
                max_duration_s=max_duration,
            )
        except ConfigError as exc:
            raise click.UsageError(str(exc)) from exc
        except KeyboardInterrupt:  # files already landed are complete (atomic)
            console.print("stopped by the user")
            return
    console.print(
        f"{summary.lines} lines in {summary.files} files, {summary.wall_s:.1f} s "
        f"(stopped by {summary.stopped_by})",
        highlight=False,
    )

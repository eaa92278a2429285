"""``qos-ml simulate``: generate player events, CDN logs and their ground truth."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

from qos_ml._errors import ConfigError


@click.command("simulate")
@click.option("--sessions", type=int, default=None, help="Number of playback sessions.")
@click.option(
    "--duration",
    type=float,
    default=None,
    help="Seconds of simulated time in which sessions start (instead of --sessions).",
)
@click.option(
    "--concurrency",
    type=float,
    default=50.0,
    show_default=True,
    help="Average number of sessions running at once.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@click.option(
    "--traces",
    "traces_dir",
    type=click.Path(exists=True, file_okay=False),
    default=None,
    help="Folder of Pensieve throughput traces (default: the built-in generator).",
)
@click.option(
    "--incidents",
    default="default",
    show_default=True,
    help="'default' (one of each kind), 'none', or a YAML/JSON file of incidents.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Output folder (default: <landing folder>/sim).",
)
@click.option(
    "--legacy-layout",
    is_flag=True,
    help="Write the 26-field (2018) CloudFront standard log layout.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1, max=64),
    default=None,
    help="Processes simulating sessions (default: min(2, CPUs); in-process for "
    "small runs). The files written do not depend on it.",
)
@click.pass_context
def command(
    ctx: click.Context,
    sessions: int | None,
    duration: float | None,
    concurrency: float,
    seed: int,
    traces_dir: str | None,
    incidents: str,
    out_dir: str | None,
    legacy_layout: bool,
    workers: int | None,
) -> None:
    """Simulate viewers streaming video: player events, CDN logs, ground truth.

    Size the run with --sessions, or with --duration and --concurrency. The
    same seed and options write byte-identical files.
    """
    from qos_ml.cli import load_config
    from qos_ml.simulate import (
        SimulationConfig,
        default_incidents,
        load_incidents,
        simulate,
    )

    if sessions is None and duration is None:
        sessions = 200
    out = Path(out_dir) if out_dir else load_config(ctx).landing / "sim"
    try:
        values: dict[str, object] = {
            "sessions": sessions,
            "duration_s": duration,
            "concurrency": concurrency,
            "seed": seed,
            "legacy_layout": legacy_layout,
            "workers": workers,
        }
        config = SimulationConfig.create(**values)
        if incidents == "default":
            chosen = default_incidents(config)
        elif incidents == "none":
            chosen = []
        else:
            chosen = load_incidents(incidents)
        config = SimulationConfig.create(**values, incidents=chosen)
        console = Console()
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        ) as progress:
            task = progress.add_task("sessions", total=config.expected_sessions())

            def advance(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            summary = simulate(config, out, traces_dir, progress=advance)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from exc
    console.print(
        f"{summary.sessions} sessions, {summary.player_events} player events, "
        f"{summary.cdn_requests} CDN requests in {summary.wall_s:.1f} s",
        highlight=False,
    )
    console.print(f"outcomes: {summary.outcomes}", highlight=False)
    console.print(f"written to {out}", highlight=False)

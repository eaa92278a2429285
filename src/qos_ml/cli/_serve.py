"""``qos-ml serve``: the live job (scores with the champion models, rules, alerts)."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.table import Table

from qos_ml._errors import ConfigError, PluginError, RuleError

if TYPE_CHECKING:
    from qos_ml.rules import CycleReport


def _models(values: tuple[str, ...]) -> dict[str, list[str]] | None:
    """``buffering`` or ``failure=models:/name@alias`` -> feature set: models."""
    if not values:
        return None
    chosen: dict[str, list[str]] = {}
    for value in values:
        feature_set, sep, reference = value.partition("=")
        if not sep:
            reference = value
        if not feature_set or not reference:
            raise click.BadParameter(
                f"{value!r}: give a task (buffering) or FEATURE_SET=MODEL_URI",
                param_hint="--model",
            )
        chosen.setdefault(feature_set, []).append(reference)
    return chosen


@click.command("serve")
@click.option(
    "--landing",
    "landing_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Folder files arrive in, with player_events/ and cloudfront_realtime/ "
    "below it (default: the configured landing folder).",
)
@click.option(
    "--replay",
    "replay_dir",
    type=click.Path(exists=True, file_okay=False),
    default=None,
    help="Also replay this 'qos-ml simulate' output into the landing folder.",
)
@click.option(
    "--speedup",
    type=float,
    default=60.0,
    show_default=True,
    help="With --replay: simulated seconds per wall second.",
)
@click.option(
    "--model",
    "model_specs",
    multiple=True,
    help="A task (buffering, failure: its champion) or FEATURE_SET=MODEL_URI "
    "(models:/name@alias); repeatable. Default: the buffering and failure "
    "champions.",
)
@click.option(
    "--rules",
    "rules_file",
    type=click.Path(dir_okay=False),
    default=None,
    help="YAML file of declarative rules, evaluated beside the built-ins.",
)
@click.option("--webhook", default=None, help="Also POST alerts to this URL.")
@click.option(
    "--interval",
    type=float,
    default=30.0,
    show_default=True,
    help="Seconds between cycles (each cycle processes what has arrived).",
)
@click.option(
    "--once", is_flag=True, help="Process what has arrived once (after the replay)."
)
@click.option(
    "--timeout", type=float, default=None, help="Stop after this many seconds."
)
@click.option(
    "--gold/--no-gold",
    default=True,
    show_default=True,
    help="Keep the gold tables current and run view and aggregate rules.",
)
@click.option("--strict", is_flag=True, help="Fail when a model cannot be loaded.")
@click.option(
    "--from-start",
    is_flag=True,
    help="On the first run, process the silver and gold tables from their first "
    "version (default: only what arrives after the job first started).",
)
@click.pass_context
def command(
    ctx: click.Context,
    landing_dir: str | None,
    replay_dir: str | None,
    speedup: float,
    model_specs: tuple[str, ...],
    rules_file: str | None,
    webhook: str | None,
    interval: float,
    once: bool,
    timeout: float | None,
    gold: bool,
    strict: bool,
    from_start: bool,
) -> None:
    """Score the live stream with the champion models and evaluate the rules.

    Files landing in the landing folder are ingested, turned into feature rows,
    scored (ml.scores), and the rules fire deduplicated alerts (alerts.alerts)
    that are delivered to the webhook. A model that cannot be loaded raises a
    model_unavailable alert while the rules go on.
    """
    from qos_ml._catalog import TableCatalog
    from qos_ml._mlflow import configure_mlflow
    from qos_ml.cli import load_config
    from qos_ml.rules import LiveJob, default_live_rules, load_rule_file
    from qos_ml.simulate import replay
    from qos_ml.sinks import WebhookSink

    config = load_config(ctx)
    landing = Path(landing_dir) if landing_dir else config.landing
    models = _models(model_specs)
    rule_set = default_live_rules(gold=gold)
    if rules_file is not None:
        try:
            extra = load_rule_file(rules_file)
        except RuleError as exc:
            raise click.BadParameter(str(exc), param_hint="--rules") from exc
        names = {r.name for r in extra}
        rule_set = [r for r in rule_set if r.name not in names] + list(extra)
    sinks = [WebhookSink(url=webhook)] if webhook else []
    configure_mlflow(config)
    catalog = TableCatalog(config)
    try:
        job = LiveJob(
            catalog,
            landing=landing,
            models=models,
            rules=rule_set,
            sinks=sinks,
            strict=strict,
            gold=gold,
            start="earliest" if from_start else "latest",
        )
    except (ConfigError, PluginError) as exc:
        raise click.UsageError(str(exc)) from exc

    console = Console()
    stop = threading.Event()
    replayer: threading.Thread | None = None
    if replay_dir is not None:
        if once:  # everything lands first, then one pass over it
            with console.status(f"replaying {replay_dir} into {landing}"):
                summary = replay(
                    replay_dir, landing, speedup=speedup, max_duration_s=timeout or 600
                )
            console.print(
                f"replayed {summary.lines} lines in {summary.files} files",
                highlight=False,
            )
        else:
            replayer = threading.Thread(
                target=replay,
                args=(replay_dir, landing),
                kwargs={"speedup": speedup, "stop": stop},
                name="qos-ml-replay",
                daemon=True,
            )
            replayer.start()

    reports: list[CycleReport] = []
    try:
        if once:
            reports.append(job.run_once(final=True))
        else:

            def on_cycle(report: CycleReport) -> None:
                reports.append(report)
                console.print(_cycle_line(report), highlight=False)

            job.run(interval_s=interval, timeout_s=timeout, on_cycle=on_cycle)
    except KeyboardInterrupt:
        console.print("stopped by the user; every stage resumes from its checkpoint")
    finally:
        stop.set()
        if replayer is not None:
            replayer.join(timeout=10)
    console.print(_summary(reports, catalog))


def _cycle_line(report: CycleReport) -> str:
    models = ", ".join(f"{name} {state}" for name, state in report.models.items())
    return (
        f"cycle {report.cycle}: {report.score_rows} score rows, "
        f"{len(report.alerts)} alert(s) in {report.seconds:.0f} s; {models}"
    )


def _summary(reports: list[CycleReport], catalog: Any) -> Table:
    rules = Counter(a["rule"] for r in reports for a in r.alerts)
    table = Table("what", "value", title="qos-ml serve")
    table.add_row("cycles", str(len(reports)))
    table.add_row("score rows", str(sum(r.score_rows for r in reports)))
    for rule, count in sorted(rules.items()):
        table.add_row(f"alerts: {rule}", str(count))
    if reports:
        for name, state in reports[-1].models.items():
            table.add_row(f"model {name}", state)
    table.add_row("scores", catalog.qualified_name("ml.scores"))
    table.add_row("alerts", catalog.qualified_name("alerts.alerts"))
    return table

"""``qos-ml demo``: the end-to-end main job on the embedded default.

It runs every stage the library has, for real, in data-flow order, on data the
simulator makes, and prints where the results are: simulate a platform with
injected incidents, ingest it into bronze/silver, build gold, build feature
training sets, train and register the buffering, failure and anomaly models with
hyperopt, run the rules engine over the aggregates (alerts table, optional
webhook) and backtest it against the simulator's ground truth. Each stage is a
library function a notebook or a Databricks job calls the same way.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from qos_ml._catalog import TableCatalog
from qos_ml._config import QosConfig
from qos_ml._doctor import run_checks
from qos_ml._mlflow import configure_mlflow


class _Stages:
    """Runs numbered stages with a rule and a duration each."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.number = 0
        self.timings: dict[str, float] = {}

    def run(self, title: str, action: Callable[[], Any]) -> Any:
        self.number += 1
        self.console.rule(f"{self.number}. {title}")
        started = time.perf_counter()
        result = action()
        took = time.perf_counter() - started
        self.timings[title] = took
        self.console.print(f"[dim]{title}: {took:.0f} s[/dim]")
        return result


@click.command("demo")
@click.option("--sessions", default=400, show_default=True, help="Simulated views.")
@click.option("--seed", default=0, show_default=True, help="Seed of the simulation.")
@click.option(
    "--traces",
    type=click.Path(exists=True, file_okay=False),
    default=None,
    help="Folder of real Pensieve throughput traces (default: built-in model).",
)
@click.option(
    "--trials", default=8, show_default=True, help="hyperopt trials per model."
)
@click.option("--webhook", default=None, help="Also POST alerts to this URL.")
@click.option("--fresh", is_flag=True, help="Replace the results of an earlier run.")
@click.pass_context
def command(
    ctx: click.Context,
    sessions: int,
    seed: int,
    traces: str | None,
    trials: int,
    webhook: str | None,
    fresh: bool,
) -> None:
    """Run the whole pipeline on the embedded default and say where everything is.

    A second run without --fresh replaces the simulated data and appends a new
    model version (the challenger) that is promoted only if it is better.
    """
    from qos_ml.cli import load_config

    config = load_config(ctx)
    console = Console()
    stages = _Stages(console)
    started = time.perf_counter()

    stages.run("environment", lambda: _environment(config, console))
    catalog = TableCatalog(config)
    if fresh:
        _clear(config, console)
    sim_dir = config.landing / "demo" / "history"
    summary = stages.run(
        "simulate a platform with incidents",
        lambda: _simulate(sim_dir, sessions, seed, traces, console),
    )
    reports = stages.run(
        "ingest into bronze and silver", lambda: _ingest(catalog, sim_dir, console)
    )
    gold = stages.run("gold: views and QoE aggregates", lambda: _gold(catalog, console))
    sets = stages.run("feature training sets", lambda: _features(catalog, console))
    models = stages.run(
        "train and register models", lambda: _train(catalog, sets, trials, console)
    )
    alerts = stages.run(
        "rules: alerts and backtest",
        lambda: _rules(catalog, sim_dir, webhook, console),
    )

    live = stages.run(
        "live: replay, score with the champions, rules, alerts",
        lambda: _live(catalog, config.landing / "demo", seed, webhook, console),
    )
    alerts["live"] = live
    dashboard = stages.run(
        "dashboard", lambda: _dashboard(catalog, config.lakehouse_root, console)
    )

    stages.run("privacy scan of every output table", lambda: _privacy(catalog, console))

    console.rule(f"done in {time.perf_counter() - started:.0f} s")
    _where(config, catalog, summary, reports, gold, models, alerts, dashboard, console)


def _environment(config: QosConfig, console: Console) -> None:
    for check in run_checks(config, spark=False):
        if not check.ok:
            raise click.ClickException(
                f"{check.name}: {check.detail} (run 'qos-ml doctor')"
            )
        console.print(f"ok {check.name}: {check.detail}", highlight=False)
    configure_mlflow(config)


def _clear(config: QosConfig, console: Console) -> None:
    if config.storage_mode != "path":
        raise click.UsageError("--fresh only clears a path-mode lakehouse")
    for name in ("bronze", "quarantine", "silver", "gold", "features", "alerts"):
        shutil.rmtree(config.lakehouse_root / name, ignore_errors=True)
    shutil.rmtree(config.checkpoints, ignore_errors=True)
    console.print(f"cleared the tables and checkpoints under {config.lakehouse_root}")


def _simulate(
    out: Path, sessions: int, seed: int, traces: str | None, console: Console
) -> Any:
    from qos_ml.simulate import SimulationConfig, default_incidents, simulate

    shutil.rmtree(out, ignore_errors=True)
    # Short views keep the demo to minutes; many at once fill the minute windows.
    # Small part files: ingestion reads a file as one row (TODO(#4)).
    sim = SimulationConfig.create(
        sessions=sessions,
        seed=seed,
        mean_watch_s=150.0,
        concurrency=120.0,
        rows_per_file=5_000,
    )
    sim = SimulationConfig.create(
        **{**sim.model_dump(), "incidents": tuple(default_incidents(sim))}
    )
    summary = simulate(sim, out, traces=traces)
    console.print(
        f"{summary.sessions} views, {summary.player_events:,} player events, "
        f"{summary.cdn_requests:,} CDN requests, {summary.stalls} stalls; "
        f"outcomes {summary.outcomes}",
        highlight=False,
    )
    return summary


def _ingest(catalog: TableCatalog, sim_dir: Path, console: Console) -> list[Any]:
    from qos_ml.ingest import ingest_batch

    reports = []
    for folder, source in (
        ("player_events", "player_events"),
        ("cloudfront_realtime", "cloudfront_realtime"),
        ("cloudfront_standard", "cloudfront_standard"),
    ):
        report = ingest_batch(str(sim_dir / folder), source, catalog)
        console.print(
            f"{source:<22} lines {report.lines_in:>9,}  bronze {report.bronze:>9,}  "
            f"quarantine {report.quarantine:>5,}  silver new {report.silver_new:>9,}  "
            f"duplicates {report.duplicates:>7,}  flagged {report.flagged:>5,}",
            highlight=False,
        )
        reports.append(report)
    return reports


def _gold(catalog: TableCatalog, console: Console) -> dict[str, int]:
    from qos_ml.qoe import build_gold

    counts = build_gold(catalog)
    for key, rows in counts.items():
        console.print(f"{key:<34} {rows:>8,} rows", highlight=False)
    return counts


def _features(catalog: TableCatalog, console: Console) -> dict[str, Any]:
    from qos_ml.features import build_training_set

    sets = {}
    for task in ("buffering", "failure"):
        training = build_training_set(catalog, task, negatives_per_positive=5.0)
        console.print(
            f"{training.table_key:<30} version {training.table_version}: "
            f"{training.rows_written:,} rows ({training.positives:,} positive, "
            f"negatives kept {training.negative_fraction:.0%})",
            highlight=False,
        )
        sets[task] = training
    return sets


def _train(
    catalog: TableCatalog, sets: dict[str, Any], trials: int, console: Console
) -> dict[str, dict[str, Any]]:
    from qos_ml.training import promote, train_anomaly_detector, train_from_training_set

    models: dict[str, dict[str, Any]] = {}
    for task, training in sets.items():
        result = train_from_training_set(
            catalog, training, task=task, max_evals=trials, n_splits=3, progress=True
        )
        decision = promote(task, result.test, "label", config=catalog.config)
        models[task] = {
            "version": result.version,
            "pr_auc": result.metrics.get("test_pr_auc"),
            "roc_auc": result.metrics.get("test_roc_auc"),
            "baseline_pr_auc": result.metrics.get("logistic_pr_auc"),
            "rule_pr_auc": result.metrics.get("rule_pr_auc"),
            "promoted": f"{decision.promoted} ({decision.reason})",
        }
    history = catalog.read("gold.qoe_by_dimension_minute")
    anomaly = train_anomaly_detector(history, kind="seasonal", config=catalog.config)
    models["anomaly"] = {"version": anomaly.version, **anomaly.metrics}
    table = Table(
        "model", "version", "PR-AUC", "ROC-AUC", "logistic PR-AUC", "rule PR-AUC"
    )
    for task in ("buffering", "failure"):
        m = models[task]
        table.add_row(
            catalog.config.model_name(task),
            str(m["version"]),
            *(
                f"{m[k]:.3f}" if m[k] is not None else "-"
                for k in ("pr_auc", "roc_auc", "baseline_pr_auc", "rule_pr_auc")
            ),
        )
    console.print(table)
    for task in ("buffering", "failure"):
        console.print(f"{task}: champion decision {models[task]['promoted']}")
    return models


def _rules(
    catalog: TableCatalog, sim_dir: Path, webhook: str | None, console: Console
) -> dict[str, Any]:
    import pandas as pd

    from qos_ml.rules import AlertEngine, backtest, rules
    from qos_ml.simulate import incident_truth
    from qos_ml.sinks import WebhookSink

    spark = catalog.spark
    chosen = [r for r in rules.rule_set() if r.target in ("aggregate", "view", "event")]
    inputs = {
        "aggregate": catalog.read("gold.qoe_by_dimension_minute"),
        "view": catalog.read("gold.views"),
        "event": catalog.read("silver.player_events"),
    }
    truth = spark.createDataFrame(pd.DataFrame(incident_truth(sim_dir)))
    report = backtest(chosen, inputs, truth)
    table = Table(
        "rule", "alerts", "precision", "incidents", "detected", "median detect s"
    )
    for row in report.per_rule:
        table.add_row(
            row["rule"],
            str(row["alerts"]),
            "-" if row["precision"] is None else f"{row['precision']:.2f}",
            str(row["incidents"]),
            str(row["detected"]),
            "-"
            if row["median_time_to_detect_s"] is None
            else f"{row['median_time_to_detect_s']:.0f}",
        )
    console.print(table)

    sinks = [WebhookSink(url=webhook)] if webhook else []
    engine = AlertEngine(chosen, catalog, sinks=sinks)
    batch = engine.process(inputs)
    console.print(
        f"{len(batch.alerts)} alerts written to alerts.alerts "
        f"({catalog.qualified_name('alerts.alerts')})",
        highlight=False,
    )
    return {"alerts": len(batch.alerts), "backtest": report.per_rule}


#: The live window starts this long after the history's start, past its end.
LIVE_OFFSET = timedelta(hours=2)
#: Query-name prefix of the demo's live job (its checkpoints).
LIVE_PREFIX = "demo_live"


def _live(
    catalog: TableCatalog,
    demo_dir: Path,
    seed: int,
    webhook: str | None,
    console: Console,
) -> dict[str, int]:
    """Replay a fresh window with incidents while the live job runs.

    The live job ingests what has landed, scores it with the champions,
    evaluates the rules and alerts, cycle after cycle, until the replay ends.
    """
    import threading

    from qos_ml.rules import LiveJob, default_live_rules
    from qos_ml.simulate import SimulationConfig, default_incidents, replay, simulate
    from qos_ml.sinks import WebhookSink

    source, landing = demo_dir / "live_source", demo_dir / "live"
    # A rerun replays the same file names: its streams start from scratch.
    stale = list(catalog.config.checkpoints.glob(f"{LIVE_PREFIX}_*"))
    for folder in (source, landing, *stale):
        shutil.rmtree(folder, ignore_errors=True)
    start = SimulationConfig.model_fields["start"].default + LIVE_OFFSET
    sim = SimulationConfig.create(
        sessions=40, seed=seed + 1, start=start, mean_watch_s=90.0,
        concurrency=40.0, rows_per_file=2_000,
    )  # fmt: skip
    sim = SimulationConfig.create(
        **{**sim.model_dump(), "incidents": tuple(default_incidents(sim))}
    )
    summary = simulate(sim, source)
    console.print(
        f"live window: {summary.sessions} views, {summary.player_events:,} player "
        f"events with {len(sim.incidents)} incidents, replayed 30x into {landing}",
        highlight=False,
    )
    # The job's streams start after the batch history: only the live window is
    # ingested, scored, added to gold and checked by the rules.
    job = LiveJob(
        catalog,
        landing=landing,
        rules=default_live_rules(gold=True),
        sinks=[WebhookSink(url=webhook)] if webhook else [],
        gold=True,
        prefix=LIVE_PREFIX,
    )
    replayer = threading.Thread(
        target=replay,
        args=(source, landing),
        kwargs={"speedup": 30.0, "max_duration_s": 600.0},
        name="qos-ml-demo-replay",
        daemon=True,
    )
    replayer.start()
    totals = {"cycles": 0, "score_rows": 0, "alerts": 0}
    while True:
        arriving = replayer.is_alive()
        report = job.run_once(final=not arriving)
        totals["cycles"] += 1
        totals["score_rows"] += report.score_rows
        totals["alerts"] += len(report.alerts)
        models = ", ".join(f"{n} {state}" for n, state in report.models.items())
        console.print(
            f"cycle {report.cycle}: {report.score_rows:,} rows scored, "
            f"{len(report.alerts)} alert(s) "
            f"({', '.join(sorted({a['rule'] for a in report.alerts})) or 'none'}) "
            f"in {report.seconds:.0f} s; {models}",
            highlight=False,
        )
        if not arriving:
            return totals


def _dashboard(catalog: TableCatalog, root: Path, console: Console) -> Path:
    from qos_ml.dashboard import build_dashboard

    out = build_dashboard(catalog, root / "dashboard.html")
    console.print(
        f"wrote {out}; 'qos-ml dashboard --serve' serves it live", highlight=False
    )
    return out


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _privacy(catalog: TableCatalog, console: Console) -> None:
    """No table past bronze and quarantine may hold an IP or a raw user id."""
    from qos_ml import scan_tables

    raw = {
        r[0]
        for r in catalog.read("bronze.player_events").select("user_id").collect()
        if r[0]
    }
    findings = scan_tables(catalog, raw_values=raw)
    for finding in findings:
        console.print(f"[red]privacy: {finding}[/red]")
    if findings:
        raise click.ClickException(
            f"{len(findings)} privacy finding(s) in the output tables (see above)"
        )
    console.print(
        f"no IP address and none of the {len(raw):,} raw user ids in any table "
        "past bronze and quarantine",
        highlight=False,
    )


def _where(
    config: QosConfig,
    catalog: TableCatalog,
    summary: Any,
    reports: list[Any],
    gold: dict[str, int],
    models: dict[str, dict[str, Any]],
    alerts: dict[str, Any],
    dashboard: Path,
    console: Console,
) -> None:
    table = Table("what", "where")
    table.add_row("simulated input", str(summary.out_dir))
    for key in (
        "silver.player_events",
        "silver.cdn_requests",
        "gold.views",
        "gold.qoe_by_dimension_minute",
        "alerts.alerts",
    ):
        table.add_row(key, catalog.qualified_name(key))
    table.add_row("MLflow", f"mlflow ui --backend-store-uri {config.tracking_uri}")
    table.add_row("dashboard", str(dashboard))
    console.print(table)
    console.print(
        f"views {gold.get('gold.views', 0):,}; alerts {alerts['alerts']} from "
        f"history, {alerts['live']['alerts']} from the live replay; "
        f"buffering PR-AUC {_fmt(models['buffering']['pr_auc'])}; "
        f"failure PR-AUC {_fmt(models['failure']['pr_auc'])}",
        highlight=False,
    )

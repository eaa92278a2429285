"""The live job: files landing -> silver -> features -> model scores -> alerts.

:class:`LiveJob` chains the streaming stages the other layers provide, each a
Structured Streaming query with its own checkpoint: ingestion of the landing
folder (:func:`~qos_ml.ingest.start_ingest_stream`), the feature stream of each
model's feature set (:func:`~qos_ml.features.start_feature_stream`), scoring
with the champion models (:func:`~qos_ml.serving.start_scoring_stream`, whose
micro-batches feed the alert engine), optionally the gold tables
(:func:`~qos_ml.qoe.start_gold_stream`), and alert streams for the rules on
player events, CDN requests, views and per-minute aggregates.

A *cycle* runs every stage once over what has arrived (``availableNow``), in
data-flow order; :meth:`LiveJob.run` repeats cycles at an interval. Stages run
one after the other so that only one query at a time merges into
``alerts.alerts`` (concurrent Delta MERGEs conflict) and a 2-core machine is not
oversubscribed. Model handles live as long as the job: a version is loaded
once, and a moved alias is picked up at the next micro-batch.

Where the live job starts: by default (``start="latest"``) every stream over
a Delta table (silver, feature rows, gold views) begins after the version the
table had when the job was first created, so a live job started after a
batch build of history processes only what arrives from then on, and the gold
stream does not append the history's views a second time. The versions are
kept beside the checkpoints, so a restarted job resumes where it stopped.
``start="earliest"`` processes the tables from their first version.

A model that cannot be resolved or loaded does not stop anything: its rows
carry ``model_status = "unavailable: <reason>"``, the other rules still run,
and the built-in rule ``model_unavailable`` raises a warning alert scoped to
the model's name through the same engine and alerts table.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from qos_ml._errors import ConfigError
from qos_ml.rules._engine import AlertEngine
from qos_ml.rules._params import Param
from qos_ml.rules._registry import register_rule, rules
from qos_ml.rules._rule import Rule
from qos_ml.rules._stream import start_alert_stream
from qos_ml.serving import MODEL_OK, SCORES, ModelHandle, start_scoring_stream

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

    from qos_ml._catalog import TableCatalog
    from qos_ml.sinks import Sink

__all__ = [
    "DEFAULT_MODELS",
    "CycleReport",
    "LiveJob",
    "ModelUnavailable",
    "default_live_rules",
]

logger = logging.getLogger(__name__)

#: Feature set -> the models scoring its rows (task names mean champions).
DEFAULT_MODELS: Mapping[str, tuple[str, ...]] = {
    "buffering": ("buffering",),
    "failure": ("failure",),
}
#: Landing sub-folder -> ingestion source, as ``qos-ml replay`` lays them out.
LANDING_SOURCES = (
    ("player_events", "player_events"),
    ("cloudfront_realtime", "cloudfront_realtime"),
)
#: Rule target -> the table its alert stream reads.
_TARGET_TABLES = {
    "event": "silver.player_events",
    "cdn_request": "silver.cdn_requests",
    "view": "gold.views",
    "aggregate": "gold.qoe_by_dimension_minute",
}
_GOLD_TARGETS = ("view", "aggregate")
#: Delta tables the live job's streams read (the landing folder is files).
_STREAM_SOURCES = (
    "silver.player_events",
    "silver.cdn_requests",
    "gold.views",
    "gold.qoe_by_dimension_minute",
)
_AVAILABLE_NOW: Mapping[str, Any] = {"availableNow": True}


@register_rule
class ModelUnavailable(Rule):
    """A model of the live scoring could not be resolved or loaded.

    Counts score rows whose ``model_status`` is not ``"ok"``; the alert's
    detail is the reason (alias missing, registry unreachable, broken model).
    Inputs without ``model_status`` count as scored.
    """

    name = "model_unavailable"
    description = (
        "A model could not score the live rows (alias missing, registry down, "
        "model broken); the rules go on without it."
    )
    target = "score"
    source = "model"
    default_scope = ("model_name",)
    explanation = (
        "Model unavailable ({scope}): {observed:.0f} row(s) not scored in the "
        "window; {detail}"
    )
    parameters: ClassVar[Mapping[str, Param]] = {
        "threshold": Param("float", 0.0, low=0, doc="Fires above this many rows."),
        "min_support": Param("int", 1, low=0, doc="Least score rows."),
        "time_column": Param(
            "str", "window_start", doc="Event-time column of the scores."
        ),
    }

    @property
    def time_column(self) -> str:
        """The ``time_column`` parameter."""
        return str(self.params["time_column"])

    def input_columns(self) -> tuple[str, ...]:
        """The model name (``model_status`` is read when present)."""
        return ("model_name",)

    def prepare(self, df: DataFrame) -> DataFrame:
        """Flag the rows the model could not score."""
        from pyspark.sql import functions as F

        status = (
            F.col("model_status") if "model_status" in df.columns else F.lit(MODEL_OK)
        )
        version = (
            F.col("model_version").cast("string")
            if "model_version" in df.columns
            else F.lit(None).cast("string")
        )
        return (
            df.withColumn("_status", status)
            .withColumn("_unscored", (status != F.lit(MODEL_OK)).cast("int"))
            .withColumn("_version", version)
        )

    def observed(self) -> Column:
        """Rows of the window the model could not score."""
        from pyspark.sql import functions as F

        return F.sum("_unscored")

    def extra_aggregates(self) -> dict[str, Column]:
        """The reason, and the version the alias pointed at if it resolved."""
        from pyspark.sql import functions as F

        return {
            "model_version": F.max("_version"),
            "detail": F.max(F.when(F.col("_unscored") == 1, F.col("_status"))),
        }


def default_live_rules(*, gold: bool = True) -> list[Rule]:
    """The registered rules the live job can feed.

    Every rule on scores, player events and CDN requests, and with ``gold``
    on views and per-minute aggregates. The anomaly model's score rule is left
    out: anomaly scores of the aggregates are not served live yet.
    """
    # TODO(#8): serve the anomaly detector over gold.qoe_by_dimension_minute
    # so that anomaly_model_score runs live too.
    targets = {"score", "event", "cdn_request", *(_GOLD_TARGETS if gold else ())}
    chosen = [r for r in rules.rule_set() if r.target in targets]
    return [r for r in chosen if r.name != "anomaly_model_score"]


@dataclass
class CycleReport:
    """What one :meth:`LiveJob.run_once` did.

    Attributes
    ----------
    cycle : int
    score_rows : int
        Rows scored (one per feature row and model).
    alerts : list of dict
        Rows of ``alerts.alerts`` written, extended or resolved by this cycle.
    models : dict of str to str
        Model name -> ``"v<version> ok"`` or its unavailability.
    seconds : float
    """

    cycle: int
    score_rows: int = 0
    alerts: list[dict[str, Any]] = field(default_factory=list)
    models: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


class LiveJob:
    """Score the live stream with the champion models beside the rules engine.

    Parameters
    ----------
    catalog : TableCatalog
        Tables, checkpoints and (through its configuration) MLflow; call
        :func:`qos_ml.configure_mlflow` first.
    landing : path, optional
        Folder the files arrive in, with ``player_events/`` and
        ``cloudfront_realtime/`` below it (what ``qos-ml replay`` writes).
        ``None``: the silver tables are fed by someone else.
    models : mapping of str to sequence of str, optional
        Feature set -> model references scoring its rows; default
        :data:`DEFAULT_MODELS` (the buffering and failure champions).
    rules : sequence of Rule, optional
        Default :func:`default_live_rules`; rules on targets the job does not
        feed are dropped with a log line; ``model_unavailable`` is always added.
    sinks : sequence of Sink, optional
        Notification sinks besides the alerts table.
    strict : bool, default False
        Fail when a model cannot be loaded, instead of alerting about it.
    gold : bool, default True
        Also keep the gold tables current and evaluate view and aggregate rules.
    features : bool, default True
        Compute the feature rows from silver; ``False`` when another job
        appends them to ``features.<set>_rows``.
    prefix : str, default "live"
        Prefix of query names and checkpoints.
    lateness_s : float, default 30
        Lateness the feature streams allow (see ``start_feature_stream``).
    source_options : mapping, optional
        Options of the landing file readers (``maxFilesPerTrigger``).
    start : {"latest", "earliest"}, default "latest"
        Where streams over Delta tables begin the first time they run:
        after the versions the tables had when the job was first created
        (history built in batch is not processed again), or at their first
        version. Restarts resume from the checkpoints either way.

    Raises
    ------
    ConfigError
        For an empty model list.
    PluginError
        For an unknown feature set.
    SchemaMismatchError
        When a rule on scores needs a column ``ml.scores`` does not have.
    """

    def __init__(
        self,
        catalog: TableCatalog,
        *,
        landing: str | Path | None = None,
        models: Mapping[str, Sequence[str]] | None = None,
        rules: Sequence[Rule] | None = None,
        sinks: Sequence[Sink] = (),
        strict: bool = False,
        gold: bool = True,
        features: bool = True,
        prefix: str = "live",
        lateness_s: float = 30.0,
        source_options: Mapping[str, str] | None = None,
        start: Literal["latest", "earliest"] = "latest",
    ) -> None:
        from qos_ml.features import FEATURE_SETS, feature_table_spec

        self.catalog = catalog
        self.landing = Path(landing) if landing is not None else None
        self.gold = gold
        self.compute_features = features
        self.prefix = prefix
        self.lateness_s = lateness_s
        self.source_options = dict(source_options or {})
        if start not in ("latest", "earliest"):
            raise ConfigError("start", start, "'latest' or 'earliest'", "LiveJob")
        chosen = dict(models if models is not None else DEFAULT_MODELS)
        if not chosen or not all(chosen.values()):
            raise ConfigError(
                "models", chosen, "feature sets each with at least one model", "LiveJob"
            )
        self.feature_sets = {name: FEATURE_SETS.get(name) for name in chosen}
        sources = [
            *_STREAM_SOURCES,
            *(feature_table_spec(f, "rows").key for f in self.feature_sets.values()),
        ]
        self.start_versions = self._start_versions(sources) if start == "latest" else {}
        self.handles = {
            name: [ModelHandle(m, config=catalog.config, strict=strict) for m in refs]
            for name, refs in chosen.items()
        }
        fed = {"score", "event", "cdn_request", *(_GOLD_TARGETS if gold else ())}
        rule_set = list(rules) if rules is not None else default_live_rules(gold=gold)
        if not any(r.name == ModelUnavailable.name for r in rule_set):
            rule_set.append(ModelUnavailable())
        dropped = [r.name for r in rule_set if r.target not in fed]
        if dropped:
            logger.info("Live job: no input for rules %s; left out", dropped)
        self.engine = AlertEngine(
            [r for r in rule_set if r.target in fed], catalog, sinks=sinks
        )
        # Fail now, not inside the first micro-batch.
        empty = catalog.spark.createDataFrame([], SCORES.schema)
        for rule in self.engine.rules_for(["score"]):
            rule.check_input(empty)
        self.cycles = 0
        self._report: CycleReport | None = None

    # -- one cycle ----------------------------------------------------------------

    def run_once(self, *, final: bool = False) -> CycleReport:
        """Run every stage once over what has arrived, in data-flow order.

        Parameters
        ----------
        final : bool, default False
            Emit every pending feature row, as at the end of a replay (an
            observation point normally waits ``lateness_s`` for late events).

        Returns
        -------
        CycleReport
        """
        from pyspark.sql import functions as F

        started = time.perf_counter()
        since = self.catalog.spark.sql("SELECT current_timestamp() AS t").first()["t"]
        report = CycleReport(cycle=self.cycles)
        self._report = report
        try:
            self._ingest()
            if self.compute_features:
                self._features(final)
            self._score()
            self._other_rules()
        finally:
            self._report = None
        if self.catalog.exists(self.engine.alerts_table):
            touched = self.catalog.read(self.engine.alerts_table).where(
                F.col("updated_at") >= F.lit(since)
            )
            report.alerts = [r.asDict(recursive=True) for r in touched.collect()]
        for handles in self.handles.values():
            for handle in handles:
                current = handle.current
                report.models[handle.name] = (
                    f"v{current.version} {current.status}"
                    if current.available
                    else current.status
                )
        self.cycles += 1
        report.seconds = time.perf_counter() - started
        logger.info(
            "Live cycle %d: %d score rows, %d alert(s) in %.1f s",
            report.cycle,
            report.score_rows,
            len(report.alerts),
            report.seconds,
        )
        return report

    def run(
        self,
        *,
        interval_s: float = 30.0,
        timeout_s: float | None = None,
        max_cycles: int | None = None,
        on_cycle: Callable[[CycleReport], None] | None = None,
    ) -> list[CycleReport]:
        """Repeat cycles every ``interval_s`` until the timeout or cycle count.

        The last cycle (reached by ``max_cycles``) emits pending feature rows.
        Ctrl-C stops between stages; every stage resumes from its checkpoint.

        Parameters
        ----------
        interval_s : float, default 30
            Seconds from the start of one cycle to the start of the next.
        timeout_s : float, optional
            No cycle starts after this many seconds.
        max_cycles : int, optional
        on_cycle : callable, optional
            Called with each cycle's report (progress output).

        Returns
        -------
        list of CycleReport
        """
        reports: list[CycleReport] = []
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            began = time.monotonic()
            last = max_cycles is not None and len(reports) + 1 >= max_cycles
            reports.append(self.run_once(final=last))
            if on_cycle is not None:
                on_cycle(reports[-1])
            if last:
                return reports
            pause = max(0.0, interval_s - (time.monotonic() - began))
            if deadline is not None and time.monotonic() + pause >= deadline:
                return reports
            time.sleep(pause)

    # -- where streams start ------------------------------------------------------

    def _start_versions(self, keys: Sequence[str]) -> dict[str, int]:
        """First version each stream reads: kept from the job's first run."""
        path = Path(self.catalog.checkpoint(self._query("start_versions"))) / (
            "versions.json"
        )
        kept: dict[str, int] = {}
        if path.exists():
            kept = {k: int(v) for k, v in json.loads(path.read_text()).items()}
        missing = [k for k in keys if k not in kept]
        if not missing:
            return kept
        for key in missing:
            # A table the job creates itself is read from its first version.
            kept[key] = self.catalog.version(key) + 1 if self.catalog.exists(key) else 0
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(kept, indent=1, sort_keys=True))
        tmp.replace(path)
        logger.info(
            "Live job %s: streams start after versions %s",
            self.prefix,
            {k: v - 1 for k, v in kept.items() if v > 0},
        )
        return kept

    def _read(self, key: str) -> DataFrame:
        """A stream of a table's appends from the job's starting point.

        Delta applies ``startingVersion`` only to a query without a
        checkpoint; a restarted query resumes from its checkpoint.
        """
        self.catalog.create(key)
        first = self.start_versions.get(key, 0)
        if first <= 0:
            return self.catalog.read_stream(key)
        # A version that does not exist yet cannot be named; "latest" is the
        # same point while nothing has been committed since.
        latest = self.catalog.version(key)
        version = str(first) if latest >= first else "latest"
        return self.catalog.read_stream(key, startingVersion=version)

    # -- stages -------------------------------------------------------------------

    def _query(self, name: str) -> str:
        return f"{self.prefix}_{name}"

    def _ingest(self) -> None:
        from qos_ml.ingest import start_ingest_stream

        if self.landing is None:
            return
        for folder, source in LANDING_SOURCES:
            path = self.landing / folder
            if not path.is_dir():
                logger.info("Live job: no %s folder under %s", folder, self.landing)
                continue
            query = start_ingest_stream(
                str(path),
                source,
                self.catalog,
                trigger=_AVAILABLE_NOW,
                query_name=self._query(f"ingest_{source}"),
                options=self.source_options,
            )
            _wait(query)

    def _features(self, final: bool) -> None:
        from qos_ml.features import feature_table_spec, start_feature_stream

        for name, feature_set in self.feature_sets.items():
            stream = start_feature_stream(
                self.catalog,
                feature_set,
                output=feature_table_spec(feature_set, "rows").key,
                lateness_s=self.lateness_s,
                query_name=self._query(f"features_{name}"),
                trigger=_AVAILABLE_NOW,
                player_stream=self._read("silver.player_events"),
                cdn_stream=self._read("silver.cdn_requests"),
            )
            stream.await_termination()
            if final:
                stream.flush()

    def _score(self) -> None:
        from qos_ml.features import feature_table_spec

        for name, feature_set in self.feature_sets.items():
            key = feature_table_spec(feature_set, "rows").key
            stream = start_scoring_stream(
                self._read(key),
                self.handles[name],
                self.catalog,
                on_batch=self._on_scores,
                query_name=self._query(f"scoring_{name}"),
                trigger=_AVAILABLE_NOW,
            )
            stream.await_termination()

    def _on_scores(self, scores: DataFrame, batch_id: int) -> None:
        self.engine.process({"score": scores}, batch_id=batch_id)
        if self._report is not None:
            self._report.score_rows += scores.count()

    def _other_rules(self) -> None:
        from qos_ml.qoe import start_gold_stream

        if self.gold:
            gold = start_gold_stream(
                self.catalog,
                trigger=_AVAILABLE_NOW,
                prefix=self._query("gold"),
                reader=self._read,
            )
            gold.await_termination()
        for target, key in _TARGET_TABLES.items():
            if not self.engine.rules_for([target]):
                continue
            query = start_alert_stream(
                self._read(key),
                target,
                self.engine,
                query_name=self._query(f"alerts_{target}"),
                trigger=_AVAILABLE_NOW,
            )
            _wait(query)


def _wait(query: Any) -> None:
    query.awaitTermination()
    error = query.exception()
    if error is not None:
        raise error

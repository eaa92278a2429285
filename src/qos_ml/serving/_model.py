"""Registered models for serving: alias to version, and one Spark UDF per version.

A :class:`ModelHandle` stands for a model reference such as
``models:/qos_ml_buffering@champion``. :meth:`ModelHandle.refresh` asks the
registry which version the alias points at (one cheap call on the driver, made
once per micro-batch) and, only when that version changed, downloads it once,
loads it once on the driver (so a broken model is found here, not in a worker),
reads its signature and operating threshold and builds its
``mlflow.pyfunc.spark_udf``. A model that cannot be resolved or loaded makes the
handle *unavailable* with the reason, logged once per change; in strict mode it
raises :class:`~qos_ml._errors.ModelLoadError` instead.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qos_ml._config import QosConfig
from qos_ml._errors import ConfigError, ModelLoadError, SchemaMismatchError

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

__all__ = [
    "MODEL_OK",
    "ModelHandle",
    "ResolvedModel",
    "parse_model_reference",
]

logger = logging.getLogger(__name__)

#: ``model_status`` of a row scored by an available model.
MODEL_OK = "ok"
#: Prefix of ``model_status`` when the model could not be used.
UNAVAILABLE = "unavailable"
_DEFAULT_ALIAS = "champion"
#: Signature types cast natively before the UDF (MLflow refuses to widen
#: int64 to double under signature enforcement).
_SPARK_TYPES = {
    "double": "double",
    "float": "float",
    "long": "bigint",
    "integer": "int",
    "string": "string",
    "boolean": "boolean",
}


def parse_model_reference(
    model: str, config: QosConfig | None = None
) -> tuple[str, str | None, str | None]:
    """Split a model reference into (name, alias, version).

    Parameters
    ----------
    model : str
        ``models:/<name>@<alias>``, ``models:/<name>/<version>``, or a task
        name (``buffering``, ``failure``) meaning its champion, whose name is
        ``config.model_name(task)``.
    config : QosConfig, optional
        For task names; default :meth:`QosConfig.load`.

    Returns
    -------
    tuple
        Registered name, and exactly one of alias and version.

    Raises
    ------
    ConfigError
        For a reference of another form.

    Examples
    --------
    >>> parse_model_reference("models:/qos_ml_buffering@champion")
    ('qos_ml_buffering', 'champion', None)
    >>> parse_model_reference("models:/qos_ml_failure/3")
    ('qos_ml_failure', None, '3')
    """
    allowed = (
        "'models:/<name>@<alias>', 'models:/<name>/<version>' or a task name "
        "such as 'buffering'"
    )
    if not isinstance(model, str) or not model:
        raise ConfigError("model", model, allowed)
    if not model.startswith("models:/"):
        if "/" in model or "@" in model or ":" in model:
            raise ConfigError("model", model, allowed)
        name = (config or QosConfig.load()).model_name(model)
        return name, _DEFAULT_ALIAS, None
    rest = model.removeprefix("models:/")
    if "@" in rest:
        name, _, alias = rest.partition("@")
        if name and alias and "/" not in alias:
            return name, alias, None
    else:
        name, _, version = rest.rpartition("/")
        if name and version.isdigit():
            return name, None, version
    raise ConfigError("model", model, allowed)


@dataclass(frozen=True)
class ResolvedModel:
    """What a model reference points at now.

    Attributes
    ----------
    name : str
        Registered model name.
    version : str or None
        The version the alias resolved to (``None`` when it did not resolve).
    status : str
        ``"ok"``, or ``"unavailable: <reason>"``.
    inputs : tuple of (str, str)
        Input columns of the signature and their MLflow types.
    threshold : float or None
        The operating threshold stored with the model, when it has one.
    """

    name: str
    version: str | None
    status: str
    inputs: tuple[tuple[str, str], ...] = ()
    threshold: float | None = None

    @property
    def available(self) -> bool:
        """Whether rows can be scored with this version."""
        return self.status == MODEL_OK

    @property
    def input_names(self) -> tuple[str, ...]:
        """Input column names of the signature."""
        return tuple(name for name, _ in self.inputs)

    def missing_columns(self, columns: list[str]) -> list[str]:
        """Signature inputs absent from ``columns``."""
        return [c for c in self.input_names if c not in columns]

    def input_columns(self) -> list[Column]:
        """The signature's columns cast to its types, in signature order."""
        from pyspark.sql import functions as F

        columns = []
        for name, kind in self.inputs:
            spark_type = _SPARK_TYPES.get(kind)
            columns.append(F.col(name).cast(spark_type) if spark_type else F.col(name))
        return columns


class ModelHandle:
    """A registered model followed by alias, with one Spark UDF per version.

    Parameters
    ----------
    model : str
        See :func:`parse_model_reference`.
    config : QosConfig, optional
        Names task references; MLflow must be configured already
        (:func:`qos_ml.configure_mlflow`).
    strict : bool, default False
        Raise :class:`ModelLoadError` when the model cannot be resolved or
        loaded, instead of reporting it unavailable.

    Attributes
    ----------
    loads : int
        How many versions were loaded (and their UDF built) so far; it grows
        only when the alias moves.
    """

    def __init__(
        self, model: str, *, config: QosConfig | None = None, strict: bool = False
    ) -> None:
        self.reference = model
        self.name, self.alias, self.pinned = parse_model_reference(model, config)
        self.strict = strict
        self.loads = 0
        self._current = ResolvedModel(self.name, None, f"{UNAVAILABLE}: not resolved")
        self._udf: Callable[..., Column] | None = None
        self._pyfunc: Any = None
        self._workdir: Path | None = None

    def __repr__(self) -> str:
        return f"ModelHandle({self.reference!r}, current={self._current!r})"

    @property
    def current(self) -> ResolvedModel:
        """The version in use since the last :meth:`refresh`."""
        return self._current

    @property
    def pyfunc(self) -> Any:
        """The current version as a loaded pyfunc model on the driver.

        Raises
        ------
        ModelLoadError
            When no version is available.
        """
        if self._pyfunc is None:
            raise ModelLoadError(f"model {self.reference}: {self._current.status}")
        return self._pyfunc

    def udf(self) -> Callable[..., Column]:
        """The Spark UDF of the current version (``struct<score, decision>``).

        Raises
        ------
        ModelLoadError
            When no version is available.
        """
        if self._udf is None:
            raise ModelLoadError(f"model {self.reference}: {self._current.status}")
        return self._udf

    # -- resolution -------------------------------------------------------------

    def resolve_version(self) -> str:
        """Ask the registry which version the reference points at now.

        Raises
        ------
        ModelLoadError
            When the name, alias or version does not resolve.
        """
        from mlflow import MlflowClient
        from mlflow.exceptions import MlflowException

        if self.pinned is not None:
            return self.pinned
        try:
            found = MlflowClient().get_model_version_by_alias(self.name, self.alias)
        except MlflowException as exc:
            raise ModelLoadError(
                f"alias {self.alias!r} of model {self.name!r} does not resolve: "
                f"{exc.message}"
            ) from exc
        return str(found.version)

    def refresh(self, spark: SparkSession) -> ResolvedModel:
        """Resolve the reference; load the version and build its UDF if it changed.

        Parameters
        ----------
        spark : SparkSession
            Session the UDF is built for.

        Returns
        -------
        ResolvedModel
            Available, or unavailable with the reason.

        Raises
        ------
        ModelLoadError
            In strict mode, when the model cannot be resolved or loaded.
        """
        version = None
        try:
            version = self.resolve_version()
            if version != self._current.version or not self._current.available:
                self._load(spark, version)
        except Exception as exc:
            # A registry outage, a missing alias or a broken model (any error of
            # third-party model code) must not stop the stream: scores become
            # null with the reason; strict callers get ModelLoadError.
            self._set_unavailable(exc, version)
            if self.strict:
                if isinstance(exc, ModelLoadError):
                    raise
                raise ModelLoadError(
                    f"model {self.reference} cannot be loaded: {exc}"
                ) from exc
        return self._current

    def _set_unavailable(self, exc: BaseException, version: str | None) -> None:
        reason = " ".join(str(exc).split())[:300] or type(exc).__name__
        status = f"{UNAVAILABLE}: {reason}"
        if status != self._current.status:
            logger.warning("Model %s is unavailable: %s", self.reference, reason)
        self._current = ResolvedModel(self.name, version, status)
        self._udf = None
        self._pyfunc = None

    def _load(self, spark: SparkSession, version: str) -> None:
        import mlflow
        from mlflow.models import Model

        started = time.perf_counter()
        workdir = Path(tempfile.mkdtemp(prefix=f"qos_ml_{self.name}_v{version}_"))
        try:
            local = mlflow.artifacts.download_artifacts(
                artifact_uri=f"models:/{self.name}/{version}", dst_path=str(workdir)
            )
            metadata = Model.load(local)
            inputs, result_type = _signature(metadata, self.name, version)
            pyfunc = mlflow.pyfunc.load_model(local)
            # TODO(#8): on a cluster spark_udf caches the model per worker
            # process (SparkModelCache); with a local master MLflow loads it once
            # per task instead (each micro-batch partition), not once per process.
            udf = mlflow.pyfunc.spark_udf(
                spark, local, result_type=result_type, env_manager="local"
            )
        except BaseException:
            shutil.rmtree(workdir, ignore_errors=True)
            raise
        threshold = (metadata.metadata or {}).get("threshold")
        previous = self._workdir
        self._workdir, self._pyfunc, self._udf = workdir, pyfunc, udf
        self._current = ResolvedModel(
            self.name,
            version,
            MODEL_OK,
            inputs,
            None if threshold is None else float(threshold),
        )
        self.loads += 1
        if previous is not None:
            shutil.rmtree(previous, ignore_errors=True)
        logger.info(
            "Model %s: version %s loaded (%d inputs, threshold %s) in %.1f s",
            self.reference,
            version,
            len(inputs),
            self._current.threshold,
            time.perf_counter() - started,
        )

    # -- scoring ----------------------------------------------------------------

    def check_columns(self, df: DataFrame) -> None:
        """Fail when ``df`` lacks a column the current version's signature needs.

        Raises
        ------
        SchemaMismatchError
            Naming the model, the version and the missing columns.
        """
        missing = self._current.missing_columns(df.columns)
        if missing:
            raise SchemaMismatchError(
                f"model {self.name} version {self._current.version} needs columns "
                f"{missing} which the input lacks; the input has {df.columns}"
            )

    def score(self, df: DataFrame) -> DataFrame:
        """Add the score columns: score, decision, model name, version and status.

        Uses the version of the last :meth:`refresh`; rows of an unavailable
        model get null scores and the reason in ``model_status``.

        Raises
        ------
        SchemaMismatchError
            In strict mode, when the version needs columns ``df`` lacks.
        """
        from pyspark.sql import functions as F

        current = self._current
        if current.available and current.missing_columns(df.columns):
            if self.strict:
                self.check_columns(df)
            # A new version that needs columns the stream does not carry.
            missing = current.missing_columns(df.columns)
            self._set_unavailable(
                SchemaMismatchError(
                    f"version {current.version} needs columns {missing} the input lacks"
                ),
                current.version,
            )
            current = self._current
        if current.available and self._udf is not None:
            result = self._udf(*current.input_columns())
            score = result["score"]
            decision = result["decision"]
        else:
            score = F.lit(None).cast("double")
            decision = F.lit(None).cast("boolean")
        return (
            df.withColumn("score", score.cast("double"))
            .withColumn("decision", decision.cast("boolean"))
            .withColumn("model_name", F.lit(current.name))
            .withColumn("model_version", F.lit(current.version).cast("string"))
            .withColumn("model_status", F.lit(current.status))
        )

    def close(self) -> None:
        """Remove the downloaded model files."""
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None


def _signature(
    metadata: Any, name: str, version: str
) -> tuple[tuple[tuple[str, str], ...], Any]:
    """Input columns and the UDF result type of a logged model."""
    signature = metadata.signature
    if signature is None or signature.inputs is None:
        raise SchemaMismatchError(
            f"model {name} version {version} has no input signature; log it with one"
        )
    if not signature.inputs.has_input_names():
        raise SchemaMismatchError(
            f"model {name} version {version}: its signature has no column names"
        )
    inputs = tuple(
        (spec.name, getattr(spec.type, "name", str(spec.type)))
        for spec in signature.inputs.inputs
    )
    outputs = {}
    if signature.outputs is not None and signature.outputs.has_input_names():
        outputs = {
            spec.name: getattr(spec.type, "name", str(spec.type))
            for spec in signature.outputs.inputs
        }
    if outputs.get("score") != "double" or outputs.get("decision") != "boolean":
        raise SchemaMismatchError(
            f"model {name} version {version} must output 'score' (double) and "
            f"'decision' (boolean); its output signature is {outputs or 'absent'}"
        )
    from pyspark.sql.types import BooleanType, DoubleType, StructField, StructType

    result = StructType(
        [StructField("score", DoubleType()), StructField("decision", BooleanType())]
    )
    return inputs, result

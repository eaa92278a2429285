"""One configuration object for where qos_ml keeps its tables, checkpoints and models.

A :class:`QosConfig` is read, in increasing order of precedence, from its
defaults, a TOML file, ``QOS_ML_*`` environment variables and keyword
arguments. It runs in one of two storage modes:

* **path mode** (the embedded default): Delta tables live in folders under
  ``lakehouse_root``, MLflow tracks into a SQLite database beside them;
* **metastore mode**: ``catalog`` and ``database`` are set and tables are
  addressed by three-part names (``catalog.database.table``, as in Unity
  Catalog); checkpoints then need a path of their own (a volume, say).

On Databricks (detected by ``DATABRICKS_RUNTIME_VERSION``) MLflow defaults to
the workspace's tracking server and the Unity Catalog model registry.
"""

from __future__ import annotations

import logging
import os
import secrets
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError, field_validator

from qos_ml._errors import ConfigError

__all__ = ["ENV_PREFIX", "QosConfig", "on_databricks"]

logger = logging.getLogger(__name__)

ENV_PREFIX = "QOS_ML_"
_CONFIG_FILE_ENV = "QOS_ML_CONFIG"
_DEFAULT_FILE = "qos_ml.toml"
_SECRET_FILE = ".pseudonymisation_key"
_MIN_SECRET_LENGTH = 16


def on_databricks() -> bool:
    """Tell whether the process runs inside a Databricks runtime."""
    return "DATABRICKS_RUNTIME_VERSION" in os.environ


class QosConfig(BaseModel):
    """Where qos_ml keeps everything, and how it reaches Spark and MLflow.

    Parameters
    ----------
    mode : {"development", "production"}, default "development"
        In production a pseudonymisation secret must be configured; in
        development a random one is generated once per lakehouse.
    lakehouse_root : path, default "./lakehouse"
        Folder of the Delta tables, checkpoints, landing files and, by
        default, the MLflow database and artifacts (path mode).
    catalog, database : str, optional
        Set both to use a metastore: tables become ``catalog.database.name``.
    table_names : dict of str to str, optional
        Overrides of physical table names by logical name (``"silver.cdn_requests"``
        -> ``"my_cdn_requests"``).
    checkpoint_root, landing_root : path, optional
        Streaming checkpoints and the folder streaming jobs read files from.
        Default: ``<lakehouse_root>/_checkpoints`` and ``<lakehouse_root>/landing``.
    mlflow_tracking_uri, mlflow_registry_uri : str, optional
        Default: ``sqlite:///<lakehouse_root>/mlflow.db`` locally;
        ``databricks`` and ``databricks-uc`` on Databricks.
    mlflow_artifact_root : path, optional
        Default: ``<lakehouse_root>/mlartifacts`` (path mode only).
    experiment_name : str, default "qos_ml"
        MLflow experiment of every training run.
    model_prefix : str, default "qos_ml"
        Registered model names are ``<model_prefix>_<task>``; with Unity
        Catalog they are placed in ``catalog.database``.
    secret : str, optional
        Pseudonymisation key (HMAC). Prefer ``QOS_ML_SECRET`` or a Databricks
        secret scope; never written to logs or MLflow.
    secret_scope, secret_key : str, optional
        Databricks secret scope and key holding the pseudonymisation key.
    spark_master : str, default "local[2]"
        Master of a locally built session; ignored when a session is active.
    spark_driver_memory : str, default "4g"
    shuffle_partitions : int, default 4
    spark_conf : dict of str to str, optional
        Extra Spark settings for a locally built session.
    delta_jars : str, optional
        Comma-separated local jar paths to use instead of resolving the Delta
        jar from Maven (offline machines).

    Examples
    --------
    >>> cfg = QosConfig.load(lakehouse_root="/tmp/qos-doc", use_file=False)
    >>> cfg.storage_mode
    'path'
    >>> QosConfig.load(catalog="main", database="qos", use_file=False).storage_mode
    'metastore'
    """

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    mode: Literal["development", "production"] = "development"
    lakehouse_root: Path = Path("lakehouse")
    catalog: str | None = None
    database: str | None = None
    table_names: dict[str, str] = {}
    checkpoint_root: Path | None = None
    landing_root: Path | None = None
    mlflow_tracking_uri: str | None = None
    mlflow_registry_uri: str | None = None
    mlflow_artifact_root: Path | None = None
    experiment_name: str = "qos_ml"
    model_prefix: str = "qos_ml"
    secret: SecretStr | None = None
    secret_scope: str | None = None
    secret_key: str | None = None
    spark_master: str = "local[2]"
    spark_driver_memory: str = "4g"
    shuffle_partitions: int = 4
    spark_conf: dict[str, str] = {}
    delta_jars: str | None = None

    # -- validation -----------------------------------------------------------

    @field_validator("lakehouse_root", "checkpoint_root", "landing_root")
    @classmethod
    def _absolute(cls, value: Path | None) -> Path | None:
        return None if value is None else value.expanduser().absolute()

    @field_validator("mlflow_artifact_root")
    @classmethod
    def _absolute_artifacts(cls, value: Path | None) -> Path | None:
        return None if value is None else value.expanduser().absolute()

    @field_validator("catalog", "database", "model_prefix", "experiment_name")
    @classmethod
    def _identifier(cls, value: str | None) -> str | None:
        if value is not None and (not value or any(c in value for c in " `.;")):
            raise ValueError("a non-empty name without spaces, dots, backticks or ';'")
        return value

    @field_validator("shuffle_partitions")
    @classmethod
    def _positive(cls, value: int) -> int:
        if value < 1:
            raise ValueError("a whole number of at least 1")
        return value

    @field_validator("spark_master")
    @classmethod
    def _master(cls, value: str) -> str:
        if not value.startswith(("local", "spark://", "yarn", "k8s://")):
            raise ValueError(
                "local, local[N], local[*], spark://..., yarn or k8s://..."
            )
        return value

    @field_validator("secret")
    @classmethod
    def _secret_length(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < _MIN_SECRET_LENGTH:
            # The message must not echo the secret itself.
            raise ValueError(f"a secret of at least {_MIN_SECRET_LENGTH} characters")
        return value

    # -- loading --------------------------------------------------------------

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str] | None = None,
        *,
        use_env: bool = True,
        use_file: bool = True,
        **overrides: Any,
    ) -> QosConfig:
        """Read the configuration from a TOML file, the environment and keywords.

        Parameters
        ----------
        path : path-like, optional
            TOML file to read. Default: ``$QOS_ML_CONFIG``, else ``qos_ml.toml``
            in the working directory when it exists.
        use_env : bool, default True
            Read ``QOS_ML_<KEY>`` environment variables (``QOS_ML_SPARK_CONF``
            and ``QOS_ML_TABLE_NAMES`` take ``key=value,key=value``).
        use_file : bool, default True
            Read a TOML file at all.
        **overrides
            Keys of :class:`QosConfig`; they win over the file and environment.

        Returns
        -------
        QosConfig

        Raises
        ------
        ConfigError
            Naming the key, the value, what is allowed and where it came from.
        """
        values: dict[str, Any] = {}
        sources: dict[str, str] = {}

        if use_file:
            file_values, file_name = _read_toml(path)
            values.update(file_values)
            sources.update(dict.fromkeys(file_values, file_name))
        if use_env:
            env_values = _read_env()
            values.update(env_values)
            sources.update({k: f"${ENV_PREFIX}{k.upper()}" for k in env_values})
        for key, value in overrides.items():
            if value is not None:
                values[key] = value
                sources[key] = "keyword argument"
        return cls._validated(values, sources)

    @classmethod
    def _validated(cls, values: dict[str, Any], sources: dict[str, str]) -> QosConfig:
        try:
            config = cls(**values)
        except ValidationError as exc:
            error = exc.errors()[0]
            key = ".".join(str(p) for p in error["loc"]) or "?"
            top = str(error["loc"][0]) if error["loc"] else key
            value = "***" if top == "secret" else values.get(top, error.get("input"))
            if error["type"] == "extra_forbidden":
                allowed = "one of " + ", ".join(sorted(cls.model_fields))
            else:
                allowed = str(error["msg"]).removeprefix("Value error, ")
            raise ConfigError(key, value, allowed, sources.get(top)) from None
        config._check_consistency(sources)
        return config

    def _check_consistency(self, sources: Mapping[str, str]) -> None:
        if (self.catalog is None) != (self.database is None):
            key = "database" if self.database is None else "catalog"
            raise ConfigError(
                key,
                None,
                "catalog and database are set together (metastore mode) or not at all",
                sources.get("catalog") or sources.get("database"),
            )
        if self.mode == "production" and self.secret is None and not self.secret_scope:
            raise ConfigError(
                "secret",
                None,
                f"in production mode, a secret in ${ENV_PREFIX}SECRET or a "
                "Databricks secret_scope and secret_key",
                sources.get("mode"),
            )
        if bool(self.secret_scope) != bool(self.secret_key):
            raise ConfigError(
                "secret_key" if self.secret_scope else "secret_scope",
                None,
                "secret_scope and secret_key are set together",
                sources.get("secret_scope") or sources.get("secret_key"),
            )

    def replace(self, **changes: Any) -> QosConfig:
        """Return a copy with some keys changed, validated like :meth:`load`."""
        values = self.model_dump(exclude_unset=True)
        if self.secret is not None:
            values["secret"] = self.secret.get_secret_value()
        values.update(changes)
        return self._validated(values, dict.fromkeys(changes, "keyword argument"))

    # -- derived locations ----------------------------------------------------

    @property
    def storage_mode(self) -> Literal["path", "metastore"]:
        """``"metastore"`` when catalog and database are set, else ``"path"``."""
        return "metastore" if self.catalog else "path"

    @property
    def checkpoints(self) -> Path:
        """Root folder of streaming checkpoints."""
        return self.checkpoint_root or self.lakehouse_root / "_checkpoints"

    @property
    def landing(self) -> Path:
        """Folder that streaming jobs read arriving files from."""
        return self.landing_root or self.lakehouse_root / "landing"

    @property
    def tracking_uri(self) -> str:
        """MLflow tracking URI: the configured one, the workspace's, or SQLite."""
        if self.mlflow_tracking_uri:
            return self.mlflow_tracking_uri
        if on_databricks():
            return "databricks"
        return f"sqlite:///{self.lakehouse_root / 'mlflow.db'}"

    @property
    def registry_uri(self) -> str:
        """MLflow model registry URI (Unity Catalog on Databricks)."""
        if self.mlflow_registry_uri:
            return self.mlflow_registry_uri
        if on_databricks() and not self.mlflow_tracking_uri:
            return "databricks-uc"
        return self.tracking_uri

    @property
    def artifact_root(self) -> Path:
        """Folder of MLflow artifacts for experiments qos_ml creates (path mode)."""
        return self.mlflow_artifact_root or self.lakehouse_root / "mlartifacts"

    def model_name(self, task: str) -> str:
        """Registered model name of a task (``buffering``, ``failure``, ``anomaly``)."""
        name = f"{self.model_prefix}_{task}"
        if self.registry_uri == "databricks-uc" and self.catalog:
            return f"{self.catalog}.{self.database}.{name}"
        return name

    def pseudonymisation_key(self) -> bytes:
        """Return the key for keyed hashing of user ids and IPs.

        Looked up in order: the ``secret`` key (keyword, file or
        ``QOS_ML_SECRET``), the Databricks secret scope, and in development mode
        a random key generated once and kept in ``<lakehouse_root>``. The key is
        never logged.

        Raises
        ------
        ConfigError
            In production mode when no secret is configured, or when the
            Databricks secret cannot be read.
        """
        if self.secret is not None:
            return self.secret.get_secret_value().encode()
        if self.secret_scope and self.secret_key:
            return _databricks_secret(self.secret_scope, self.secret_key).encode()
        if self.mode == "production":  # _check_consistency makes this unreachable
            raise ConfigError("secret", None, "a configured secret in production")
        return self._development_key()

    def _development_key(self) -> bytes:
        path = self.lakehouse_root / _SECRET_FILE
        if path.exists():
            return path.read_bytes().strip()
        path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_hex(32).encode()
        # Create with owner-only permissions before writing the key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(key)
        logger.info(
            "Generated a development pseudonymisation key in %s; set %sSECRET "
            "(or mode='production') for real data.",
            path,
            ENV_PREFIX,
        )
        return key

    def describe(self) -> dict[str, str]:
        """Return the effective settings as strings, with the secret masked."""
        out = {
            "mode": self.mode,
            "storage_mode": self.storage_mode,
            "lakehouse_root": str(self.lakehouse_root),
            "checkpoints": str(self.checkpoints),
            "landing": str(self.landing),
            "mlflow_tracking_uri": self.tracking_uri,
            "mlflow_registry_uri": self.registry_uri,
            "mlflow_artifact_root": str(self.artifact_root),
            "experiment_name": self.experiment_name,
            "spark_master": self.spark_master,
            "secret": "set"
            if self.secret
            else (
                f"scope {self.secret_scope}" if self.secret_scope else "development key"
            ),
        }
        if self.catalog:
            out["catalog"] = f"{self.catalog}.{self.database}"
        return out


def _read_toml(path: str | os.PathLike[str] | None) -> tuple[dict[str, Any], str]:
    explicit = path is not None or _CONFIG_FILE_ENV in os.environ
    candidate = Path(path or os.environ.get(_CONFIG_FILE_ENV) or _DEFAULT_FILE)
    if not candidate.exists():
        if explicit:
            raise ConfigError(
                "config file", str(candidate), "an existing TOML file", "load()"
            )
        return {}, str(candidate)
    try:
        data = tomllib.loads(candidate.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            "config file", str(candidate), f"valid TOML ({exc})", str(candidate)
        ) from exc
    # Accept both a bare file and a [qos_ml] table (e.g. inside another file).
    section = data.get("qos_ml", data)
    if not isinstance(section, dict):
        raise ConfigError("qos_ml", section, "a TOML table", str(candidate))
    return dict(section), str(candidate)


def _parse_pairs(field: str, name: str, raw: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in filter(None, (p.strip() for p in raw.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(field, raw, "comma-separated key=value pairs", f"${name}")
        pairs[key.strip()] = value.strip()
    return pairs


def _read_env() -> dict[str, Any]:
    values: dict[str, Any] = {}
    for field in QosConfig.model_fields:
        name = f"{ENV_PREFIX}{field.upper()}"
        raw = os.environ.get(name)
        if raw is None or raw == "":
            continue
        values[field] = (
            _parse_pairs(field, name, raw)
            if field in ("spark_conf", "table_names")
            else raw
        )
    return values


def _databricks_secret(scope: str, key: str) -> str:
    if not on_databricks():
        raise ConfigError(
            "secret_scope",
            scope,
            "secret scopes only inside a Databricks runtime; elsewhere set "
            f"${ENV_PREFIX}SECRET",
        )
    try:
        from databricks.sdk.runtime import dbutils

        return str(dbutils.secrets.get(scope=scope, key=key))
    except Exception as exc:  # the SDK raises its own error types
        raise ConfigError(
            "secret_key",
            key,
            f"a key readable in Databricks secret scope {scope!r} ({exc})",
        ) from exc

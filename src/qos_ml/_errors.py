"""The error and warning hierarchy of qos_ml.

Every error the library raises on purpose derives from :class:`QosMlError` and
also from the built-in exception it resembles, so that callers can catch either
``QosMlError`` or, say, ``ValueError``. Messages say what was given, what is
allowed and where.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "DataQualityError",
    "ModelLoadError",
    "PluginError",
    "QosMlError",
    "QosMlWarning",
    "RuleError",
    "SchemaMismatchError",
    "SinkError",
    "SparkSetupError",
    "TableNotFoundError",
]


class QosMlError(Exception):
    """Root of every error raised by qos_ml."""


class QosMlWarning(UserWarning):
    """Root of every warning issued by qos_ml; the test suite turns it into errors."""


class ConfigError(QosMlError, ValueError):
    """A configuration key has a value that is not allowed.

    Parameters
    ----------
    key : str
        The offending configuration key, as the user wrote it.
    value : object
        The value that was given (secrets are never passed here).
    allowed : str
        What would have been accepted.
    source : str, optional
        Where the value came from: a file path, an environment variable, or
        ``"keyword argument"``.
    """

    def __init__(
        self, key: str, value: object, allowed: str, source: str | None = None
    ) -> None:
        self.key = key
        self.value = value
        self.allowed = allowed
        self.source = source
        where = f" (from {source})" if source else ""
        super().__init__(
            f"configuration key {key!r}{where} has value {value!r}; allowed: {allowed}"
        )


class SparkSetupError(QosMlError, RuntimeError):
    """Spark could not be started or lacks something qos_ml needs (Java, Delta)."""


class TableNotFoundError(QosMlError, KeyError):
    """A table name is not declared in the table catalog."""

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0]) if self.args else ""


class SchemaMismatchError(QosMlError, ValueError):
    """A DataFrame or Delta table does not have the columns or types expected."""


class DataQualityError(QosMlError, ValueError):
    """Input data failed a check that a caller asked to enforce."""


class ModelLoadError(QosMlError, RuntimeError):
    """A registered model could not be resolved or loaded."""


class RuleError(QosMlError, ValueError):
    """A rule definition or a rule file is invalid."""


class PluginError(QosMlError, LookupError):
    """A plugin name is unknown or a plugin does not satisfy its contract."""


class SinkError(QosMlError, ConnectionError):
    """A notification sink failed to deliver after its retries."""

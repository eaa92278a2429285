"""Sinks: where alerts and application updates go, and the registry that names them.

A :class:`Sink` receives :class:`Message` objects (a kind such as ``"alert"``
and a list of JSON-ready records) and delivers them somewhere: a Delta table, a
webhook, an e-mail, an SNS topic. Its settings are a pydantic model validated at
construction, so a misspelt URL or a negative timeout fails when the sink is
built, naming the sink, the field and the value. :meth:`Sink.deliver` retries
:meth:`Sink.send` with exponential backoff and raises :class:`SinkError` once
the attempts are spent.

Built-in sinks register with :func:`register_sink`; third-party packages
declare an entry point in the group ``qos_ml.sinks`` whose object is a
:class:`Sink` subclass.
"""

from __future__ import annotations

import datetime as dt
import importlib
import logging
import math
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from importlib.metadata import entry_points
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from tenacity import (
    RetryError,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

from qos_ml._errors import ConfigError, PluginError, QosMlWarning, SinkError

__all__ = [
    "ENTRY_POINT_GROUP",
    "DeliveryError",
    "Message",
    "PluginRegistry",
    "Sink",
    "SinkPluginWarning",
    "SinkRegistry",
    "SinkSettings",
    "jsonable",
    "register_sink",
    "sinks",
]

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "qos_ml.sinks"


class DeliveryError(SinkError):
    """A sink failed to deliver a message after its attempts.

    Attributes
    ----------
    sink : str
        Registry name of the sink.
    attempts : int
        Attempts made, the first included.
    """

    def __init__(self, message: str, *, sink: str, attempts: int) -> None:
        super().__init__(message)
        self.sink = sink
        self.attempts = attempts


class SinkPluginWarning(QosMlWarning):
    """A sink plugin declared through an entry point could not be loaded."""


def jsonable(value: Any) -> Any:
    """Turn a Spark/pandas value into something :func:`json.dumps` accepts.

    Timestamps become ISO 8601 strings in UTC, decimals floats, NaN ``None``,
    mappings and sequences are converted element by element.

    Examples
    --------
    >>> jsonable({"t": dt.datetime(2024, 1, 1, 12, 0), "x": float("nan")})
    {'t': '2024-01-01T12:00:00Z', 'x': None}
    """
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value.isoformat() + "Z"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "asDict"):  # a pyspark Row
        return jsonable(value.asDict(recursive=True))
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [jsonable(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return value.item()
    return value


@dataclass(frozen=True)
class Message:
    """What a sink delivers: a kind and JSON-ready records.

    Parameters
    ----------
    kind : str
        ``"alert"`` for an alert (one record), or an application update type
        such as ``"active_users"`` for :func:`~qos_ml.sinks.publish`.
    records : tuple of dict
        JSON-ready records (see :func:`jsonable`).
    key : str, optional
        Idempotency key: the alert id for alerts. Sinks that can pass it on
        (the webhook's ``Idempotency-Key`` header) do.
    """

    kind: str
    records: tuple[dict[str, Any], ...]
    key: str | None = None
    attributes: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def alert(cls, alert: Mapping[str, Any]) -> Message:
        """Build the message of one alert record (a row of ``alerts.alerts``)."""
        record = jsonable(dict(alert))
        return cls(
            kind="alert",
            records=(record,),
            key=record.get("alert_id"),
            attributes={
                "severity": str(record.get("severity")),
                "rule": str(record.get("rule")),
            },
        )

    def subject(self, limit: int = 100) -> str:
        """A one-line summary for e-mail subjects and SNS (at most ``limit``)."""
        if self.kind == "alert" and self.records:
            alert = self.records[0]
            scope = alert.get("scope_key") or "global"
            text = (
                f"[qos_ml {alert.get('severity', '?')}] {alert.get('rule', '?')} "
                f"on {scope}"
            )
        else:
            text = f"[qos_ml] {self.kind}: {len(self.records)} record(s)"
        return text if len(text) <= limit else text[: limit - 1] + "…"

    def body(self) -> dict[str, Any]:
        """The JSON document the webhook posts and SNS publishes."""
        return {"kind": self.kind, "key": self.key, "records": list(self.records)}


class SinkSettings(BaseModel):
    """Settings every sink has: how often and how patiently to retry.

    Parameters
    ----------
    max_attempts : int, default 4
        Attempts of one delivery, the first included.
    backoff_s : float, default 0.5
        First wait between attempts; it doubles each time.
    backoff_max_s : float, default 30
        Longest wait between attempts.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_attempts: int = Field(default=4, ge=1, le=20)
    backoff_s: float = Field(default=0.5, ge=0, le=600)
    backoff_max_s: float = Field(default=30.0, ge=0, le=3600)


class Sink(ABC):
    """A destination for alerts and application updates.

    Subclasses set :attr:`name` and :attr:`Settings` (a :class:`SinkSettings`
    subclass) and implement :meth:`send`.

    Parameters
    ----------
    **settings
        Fields of the sink's :attr:`Settings`, validated here.

    Raises
    ------
    ConfigError
        Naming the sink, the field, the value and what is allowed.
    """

    name: ClassVar[str]
    Settings: ClassVar[type[SinkSettings]] = SinkSettings

    def __init__(self, **settings: Any) -> None:
        self.settings = self.validate_settings(settings)

    @classmethod
    def validate_settings(cls, settings: Mapping[str, Any]) -> SinkSettings:
        """Validate settings against :attr:`Settings` and return them."""
        try:
            return cls.Settings(**settings)
        except ValidationError as exc:
            # A misspelt field explains a missing one: name it first.
            order = {"extra_forbidden": 0, "missing": 2}
            error = sorted(exc.errors(), key=lambda e: order.get(e["type"], 1))[0]
            where = ".".join(str(p) for p in error["loc"]) or "settings"
            value = (
                settings.get(str(error["loc"][0]), "<missing>")
                if error["loc"]
                else settings
            )
            if "secret" in where or "password" in where:
                value = "<hidden>"
            raise ConfigError(
                f"sinks.{cls.name}.{where}", value, error["msg"], "sink settings"
            ) from exc

    @abstractmethod
    def send(self, message: Message) -> None:
        """Deliver one message once; raise on failure (retries are not done here)."""

    def retryable(self, error: BaseException) -> bool:
        """Tell whether a failure of :meth:`send` is worth another attempt."""
        return not isinstance(error, ConfigError)

    def deliver(
        self, message: Message, *, sleep: Callable[[float], None] | None = None
    ) -> int:
        """Send a message, retrying with exponential backoff.

        Parameters
        ----------
        message : Message
        sleep : callable, optional
            Replaces :func:`time.sleep` between attempts (tests).

        Returns
        -------
        int
            The number of attempts it took.

        Raises
        ------
        DeliveryError
            A :class:`SinkError` raised after the last attempt, naming the sink,
            the attempts and the error; the cause is chained.
        """
        settings = self.settings
        attempts = 0
        options: dict[str, Any] = {
            "stop": stop_after_attempt(settings.max_attempts),
            "wait": wait_exponential(
                multiplier=settings.backoff_s, max=settings.backoff_max_s
            ),
            "retry": retry_if_exception(self.retryable),
            "reraise": False,
        }
        if sleep is not None:
            options["sleep"] = sleep
        retrying = Retrying(**options)
        try:
            for attempt in retrying:
                with attempt:
                    attempts = attempt.retry_state.attempt_number
                    self.send(message)
        except RetryError as exc:
            cause = exc.last_attempt.exception()
            raise DeliveryError(
                f"sink {self.name!r} failed to deliver {message.kind} "
                f"{message.key or ''} after {attempts} attempt(s): "
                f"{type(cause).__name__}: {cause}",
                sink=self.name,
                attempts=attempts,
            ) from cause
        except Exception as exc:  # not retryable: fail at once, same contract
            raise DeliveryError(
                f"sink {self.name!r} failed to deliver {message.kind} "
                f"{message.key or ''} after {attempts} attempt(s) (not retried): "
                f"{type(exc).__name__}: {exc}",
                sink=self.name,
                attempts=attempts,
            ) from exc
        return attempts

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


T = TypeVar("T")


class PluginRegistry(Generic[T]):
    """Classes by name: built-ins by decorator, plugins by entry point.

    Parameters
    ----------
    kind : str
        What the registry holds, for messages (``"sink"``, ``"rule"``).
    base : type
        Every registered class must subclass it.
    group : str
        Entry-point group of third-party plugins.
    warning : type of Warning
        Category of the warning a broken plugin raises.
    """

    def __init__(
        self,
        kind: str,
        base: type[T],
        group: str,
        warning: type[QosMlWarning] = QosMlWarning,
    ) -> None:
        self.kind = kind
        self.base = base
        self.group = group
        self.warning = warning
        self._classes: dict[str, type[T]] = {}
        self._plugins_loaded = False

    def check(self, cls: object) -> type[T]:
        """Check a class against the contract and return it.

        Raises
        ------
        PluginError
            When it is no subclass of the base or has no ``name``.
        """
        if not (isinstance(cls, type) and issubclass(cls, self.base)):
            raise PluginError(
                f"{self.kind} {cls!r} is not a subclass of "
                f"{self.base.__module__}.{self.base.__qualname__}"
            )
        name = getattr(cls, "name", None)
        if not isinstance(name, str) or not name.isidentifier():
            raise PluginError(
                f"{self.kind} class {cls.__qualname__} has no 'name' that is a "
                f"Python identifier (got {name!r})"
            )
        return cls

    def register(self, cls: type[T], *, replace: bool = False) -> type[T]:
        """Register a class under its ``name``.

        Raises
        ------
        PluginError
            When the contract is not met, or the name is taken by another class
            and ``replace`` is false.
        """
        self.check(cls)
        name: str = cls.name  # type: ignore[attr-defined]
        known = self._classes.get(name)
        if known is not None and known is not cls and not replace:
            raise PluginError(
                f"a {self.kind} named {name!r} is registered already "
                f"({known.__module__}.{known.__qualname__})"
            )
        self._classes[name] = cls
        return cls

    def unregister(self, name: str) -> None:
        """Remove a name (tests, plugin reloads)."""
        self._classes.pop(name, None)

    def load_plugins(self, *, force: bool = False) -> None:
        """Load the entry points of the group once; a broken one warns."""
        if self._plugins_loaded and not force:
            return
        self._plugins_loaded = True
        for entry in entry_points(group=self.group):
            try:
                self.register(entry.load(), replace=force)
            except Exception as exc:  # import or contract failure of one plugin
                warnings.warn(
                    f"{self.kind} plugin {entry.name!r} ({entry.value}) from "
                    f"entry-point group {self.group!r} could not be loaded and is "
                    f"skipped: {type(exc).__name__}: {exc}",
                    self.warning,
                    stacklevel=3,
                )
                logger.debug("Plugin %s failed", entry.name, exc_info=True)

    def names(self) -> list[str]:
        """Every registered name, sorted (plugins included)."""
        self.load_plugins()
        return sorted(self._classes)

    def resolve(self, name: str) -> type[T]:
        """Return the class of a registered name or of a dotted path.

        A dotted path (``"package.module:Class"`` or ``"package.module.Class"``)
        is imported and checked against the base class.

        Raises
        ------
        PluginError
            Naming the unknown name and listing the known ones, or naming the
            dotted path and why it is not usable.
        """
        self.load_plugins()
        if name in self._classes:
            return self._classes[name]
        if "." in name or ":" in name:
            return self._import(name)
        raise PluginError(
            f"unknown {self.kind} {name!r}; known {self.kind}s: "
            f"{', '.join(self.names()) or 'none'}"
        )

    def _import(self, path: str) -> type[T]:
        module_name, sep, attribute = path.partition(":")
        if not sep:
            module_name, _, attribute = path.rpartition(".")
        try:
            module = importlib.import_module(module_name)
            obj = getattr(module, attribute)
        except (ImportError, AttributeError, ValueError) as exc:
            raise PluginError(
                f"{self.kind} path {path!r} could not be imported: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        return self.check(obj)

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __contains__(self, name: object) -> bool:
        self.load_plugins()
        return name in self._classes


class SinkRegistry(PluginRegistry[Sink]):
    """Sinks by name (see :data:`sinks`)."""

    def __init__(self, group: str = ENTRY_POINT_GROUP) -> None:
        super().__init__(
            "sink",
            Sink,  # type: ignore[type-abstract]
            group,
            SinkPluginWarning,
        )

    def create(self, name: str, **settings: Any) -> Sink:
        """Build a sink by registered name or dotted path with its settings."""
        return self.resolve(name)(**settings)

    def from_config(self, configs: Sequence[Mapping[str, Any]]) -> list[Sink]:
        """Build sinks from mappings with a ``type`` key and the settings.

        Raises
        ------
        ConfigError
            When a mapping has no ``type``.
        """
        built = []
        for index, config in enumerate(configs):
            settings = dict(config)
            kind = settings.pop("type", None)
            if not isinstance(kind, str):
                raise ConfigError(
                    f"sinks[{index}].type", kind, f"one of {', '.join(self.names())}"
                )
            built.append(self.create(kind, **settings))
        return built


#: The registry notification and publishing functions look sinks up in.
sinks = SinkRegistry()

S = TypeVar("S", bound=type[Sink])


def register_sink(cls: S) -> S:
    """Class decorator registering a built-in :class:`Sink` in :data:`sinks`."""
    sinks.register(cls)
    return cls

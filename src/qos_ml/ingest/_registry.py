"""The registry of ingestion sources: built-ins by decorator, plugins by entry point.

A source turns files of one format into bronze rows, quarantine reasons and
intermediate silver rows (see :class:`Source`). Built-in sources register with
:func:`register_source`; third-party packages declare an entry point in the
group ``qos_ml.sources`` whose object is a :class:`Source` subclass. Entry
points load on the first lookup; one that fails to load warns and the others
still load.
"""

from __future__ import annotations

import logging
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, ClassVar, TypeVar

from qos_ml._errors import PluginError, QosMlWarning

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

__all__ = [
    "ENTRY_POINT_GROUP",
    "SILVER_TABLES",
    "Source",
    "SourceRegistry",
    "register_source",
    "sources",
]

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "qos_ml.sources"
#: Silver tables a source may feed.
SILVER_TABLES = ("silver.cdn_requests", "silver.player_events")


class Source(ABC):
    """One input format: how its files become bronze, quarantine and silver rows.

    Subclasses set the class attributes and implement :meth:`parse` and
    :meth:`to_silver`; both are DataFrame in, DataFrame out, native column
    expressions, and work unchanged on streaming DataFrames.

    Attributes
    ----------
    name : str
        Registry name, e.g. ``"cloudfront_standard"``.
    bronze_table : str
        Declared bronze table key.
    silver_table : str
        ``"silver.cdn_requests"`` or ``"silver.player_events"``.
    """

    name: ClassVar[str]
    bronze_table: ClassVar[str]
    silver_table: ClassVar[str]

    @abstractmethod
    def parse(self, files: DataFrame) -> DataFrame:
        """Parse whole files into one row per line.

        Parameters
        ----------
        files : DataFrame
            ``source_file`` and ``content`` (see :func:`read_files`).

        Returns
        -------
        DataFrame
            ``source_file``, ``line_number``, ``kind`` (``data`` rows are the
            input rows; ``header``, ``comment`` and ``blank`` are counted
            apart), ``raw``, ``_reason`` (null when the line parsed) and the
            bronze table's typed columns.
        """

    @abstractmethod
    def to_silver(self, bronze: DataFrame) -> DataFrame:
        """Map good bronze rows to intermediate silver rows.

        For ``silver.cdn_requests``: ``request_id``, ``request_time``,
        ``client_ip``, ``user_agent`` (decoded), ``edge_location``,
        ``cmcd_payload`` (decoded CMCD text or null) and any other silver
        column the source has. For ``silver.player_events``: ``event_id``,
        ``event_time``, ``user_id``, ``user_agent`` and the other columns.
        Raw addresses and ids are removed by the finishing step.
        """

    def reader_options(self) -> dict[str, str]:
        """Reader options for this source's files (e.g. ``pathGlobFilter``)."""
        return {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


S = TypeVar("S", bound=type[Source])


class SourceRegistry:
    """Sources by name: built-ins, then plugins from entry points."""

    def __init__(self, group: str = ENTRY_POINT_GROUP) -> None:
        self._group = group
        self._sources: dict[str, type[Source]] = {}
        self._plugins_loaded = False

    def register(self, cls: type[Source], *, replace: bool = False) -> type[Source]:
        """Register a source class under its ``name``.

        Raises
        ------
        PluginError
            When it is no :class:`Source`, lacks a name or table, feeds an
            unknown silver table, or the name is taken and ``replace`` is false.
        """
        if not (isinstance(cls, type) and issubclass(cls, Source)):
            raise PluginError(
                f"source {cls!r} is not a subclass of qos_ml.ingest.Source"
            )
        for attribute in ("name", "bronze_table", "silver_table"):
            if not isinstance(getattr(cls, attribute, None), str):
                raise PluginError(
                    f"source class {cls.__name__} has no str attribute {attribute!r}"
                )
        if cls.silver_table not in SILVER_TABLES:
            raise PluginError(
                f"source {cls.name!r} has silver_table {cls.silver_table!r}; "
                f"allowed: {', '.join(SILVER_TABLES)}"
            )
        if (
            cls.name in self._sources
            and not replace
            and self._sources[cls.name] is not cls
        ):
            raise PluginError(f"a source named {cls.name!r} is registered already")
        self._sources[cls.name] = cls
        return cls

    def unregister(self, name: str) -> None:
        """Remove a source (tests and plugin reloads)."""
        self._sources.pop(name, None)

    def _load_plugins(self) -> None:
        if self._plugins_loaded:
            return
        self._plugins_loaded = True
        for entry in entry_points(group=self._group):
            try:
                self.register(entry.load())
            except Exception as exc:  # any import or contract failure of a plugin
                warnings.warn(
                    f"ingestion source plugin {entry.name!r} ({entry.value}) could "
                    f"not be loaded and is skipped: {type(exc).__name__}: {exc}",
                    QosMlWarning,
                    stacklevel=3,
                )
                logger.debug("Plugin %s failed", entry.name, exc_info=True)

    def names(self) -> list[str]:
        """Names of every registered source, sorted."""
        self._load_plugins()
        return sorted(self._sources)

    def get(self, name: str) -> Source:
        """Return a new instance of the named source.

        Raises
        ------
        PluginError
            Naming the unknown source and listing the known ones.
        """
        self._load_plugins()
        try:
            return self._sources[name]()
        except KeyError:
            raise PluginError(
                f"unknown ingestion source {name!r}; known sources: "
                f"{', '.join(sorted(self._sources))}"
            ) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __contains__(self, name: object) -> bool:
        self._load_plugins()
        return name in self._sources


#: The registry ``ingest_batch`` and ``qos-ml ingest`` look sources up in.
sources = SourceRegistry()


def register_source(cls: S) -> S:
    """Class decorator registering a built-in :class:`Source` in :data:`sources`."""
    sources.register(cls)
    return cls


_Decorator = Callable[[S], S]

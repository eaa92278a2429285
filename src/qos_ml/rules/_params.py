"""Rule parameters: one declared table per rule, checked in one place.

Every rule declares its parameters as a mapping of name to :class:`Param`
(kind, default, bounds or choices, a one-line doc). :func:`validate_params`
checks what a user gave against that table and raises :class:`RuleError`
naming the rule, the parameter, the value and what is allowed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from qos_ml._errors import RuleError
from qos_ml.sinks._tables import SEVERITIES

__all__ = [
    "COMPARISONS",
    "Param",
    "duration_seconds",
    "validate_params",
]

#: Comparisons a condition may use, as written in rule files.
COMPARISONS = (">", ">=", "<", "<=")

_DURATION = re.compile(
    r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|secs|second|seconds|m|min|mins|minute|minutes"
    r"|h|hour|hours|d|day|days)\s*$",
    re.IGNORECASE,
)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}

Kind = Literal["float", "int", "bool", "str", "choice", "duration", "columns"]


def duration_seconds(value: str) -> int:
    """Seconds of a duration such as ``"5 minutes"``, ``"30 s"`` or ``"1 hour"``.

    Raises
    ------
    ValueError
        When the text is not ``<number> <unit>`` or is not a whole second.

    Examples
    --------
    >>> duration_seconds("5 minutes"), duration_seconds("30 s")
    (300, 30)
    """
    match = _DURATION.match(value) if isinstance(value, str) else None
    if not match:
        raise ValueError(value)
    # Every unit spelling starts with its letter: s, m (min, minutes), h, d.
    seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)[0].lower()]
    if seconds != int(seconds):
        raise ValueError(value)
    return int(seconds)


@dataclass(frozen=True)
class Param:
    """Declaration of one rule parameter.

    Parameters
    ----------
    kind : {"float", "int", "bool", "str", "choice", "duration", "columns"}
        ``duration`` is text like ``"5 minutes"``; ``columns`` a tuple of
        column names (possibly empty).
    default : object
        Used when the parameter is not given. ``None`` means "not set" and is
        only accepted when ``optional``.
    low, high : float, optional
        Inclusive bounds of numbers.
    choices : tuple, optional
        Allowed values of a ``choice``.
    optional : bool, default False
        Whether ``None`` is accepted.
    doc : str
        One line for ``qos-ml rules`` and the docs.
    """

    kind: Kind
    default: Any = None
    low: float | None = None
    high: float | None = None
    choices: tuple[Any, ...] = ()
    optional: bool = False
    doc: str = ""

    def allowed(self) -> str:
        """Describe the accepted values, for error messages."""
        if self.kind == "choice":
            text = "one of " + ", ".join(repr(c) for c in self.choices)
        elif self.kind == "duration":
            text = "a duration such as '30 seconds', '5 minutes' or '1 hour'"
        elif self.kind == "columns":
            text = "a list of column names (identifiers)"
        elif self.kind in ("float", "int"):
            noun = "a number" if self.kind == "float" else "a whole number"
            low = "-inf" if self.low is None else f"{self.low:g}"
            high = "inf" if self.high is None else f"{self.high:g}"
            text = f"{noun} in [{low}, {high}]"
        elif self.kind == "bool":
            text = "true or false"
        else:
            text = "a non-empty string"
        return text + (" or null" if self.optional else "")

    def coerce(self, value: Any) -> Any:
        """Return the value in its canonical type, or raise ``ValueError``."""
        if value is None:
            if self.optional:
                return None
            raise ValueError("null")
        if self.kind == "choice":
            if value not in self.choices:
                raise ValueError(value)
            return value
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise ValueError(value)
            return value
        if self.kind == "duration":
            duration_seconds(value)
            return " ".join(str(value).split())
        if self.kind == "columns":
            columns = (value,) if isinstance(value, str) else value
            if not isinstance(columns, (list, tuple)) or not all(
                isinstance(c, str) and c.isidentifier() for c in columns
            ):
                raise ValueError(value)
            return tuple(columns)
        if self.kind == "str":
            if not isinstance(value, str) or not value.strip():
                raise ValueError(value)
            return value
        return self._number(value)

    def _number(self, value: Any) -> float | int:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(value)
        if self.kind == "int" and (isinstance(value, float) and not value.is_integer()):
            raise ValueError(value)
        number = int(value) if self.kind == "int" else float(value)
        if not math.isfinite(number):
            raise ValueError(value)
        if (self.low is not None and number < self.low) or (
            self.high is not None and number > self.high
        ):
            raise ValueError(value)
        return number


def validate_params(
    rule: str, table: Mapping[str, Param], given: Mapping[str, Any]
) -> dict[str, Any]:
    """Check parameters against a rule's table; return every parameter's value.

    Parameters
    ----------
    rule : str
        The rule's name, for messages.
    table : mapping of str to Param
    given : mapping
        What the user passed.

    Raises
    ------
    RuleError
        For an unknown parameter (listing the known ones) or a value that is
        not allowed (naming rule, parameter, value and what is allowed).
    """
    unknown = sorted(set(given) - set(table))
    if unknown:
        raise RuleError(
            f"rule {rule!r}: unknown parameter(s) {', '.join(unknown)}; "
            f"parameters of this rule: {', '.join(sorted(table))}"
        )
    values = {}
    for name, param in table.items():
        value = given.get(name, param.default)
        try:
            values[name] = param.coerce(value)
        except ValueError:
            raise RuleError(
                f"rule {rule!r}: parameter {name!r} has value {value!r}; "
                f"allowed: {param.allowed()}"
            ) from None
    return values


#: Parameters every rule has.
COMMON_PARAMS: dict[str, Param] = {
    "severity": Param(
        "choice", "warning", choices=SEVERITIES, doc="Severity of an alert."
    ),
    "min_support": Param(
        "int", 20, low=0, doc="Least support (views, requests, events) in a window."
    ),
    "cooldown": Param(
        "duration",
        "5 minutes",
        doc="Quiet time after which a new firing is a new incident (new alert).",
    ),
    "window": Param("duration", "1 minute", doc="Length of the evaluation window."),
}

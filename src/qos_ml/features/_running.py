"""Which "so far" feature expressions can be computed as running aggregates.

A "so far" feature aggregates every event of its entity up to the row's time.
Joined point by point that is quadratic in a session's length; computed as a
window aggregate over the entity's events ordered by time (``RANGE BETWEEN
UNBOUNDED PRECEDING AND CURRENT ROW``) and picked as of each point it is
linear, and equal, because Spark evaluates a window aggregate with the same
aggregate function over the same rows.

:func:`running_form` decides conservatively, from the expression text, whether
that holds: every aggregate call must be a plain (not ``DISTINCT``, not
``FILTER``-ed) call of a known aggregate whose arguments do not read
``_obs_t``, and outside the calls only ``_obs_t``, literals, operators, SQL
keywords and known scalar functions may appear. Anything else returns ``None``
and is computed by the range join.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["RunningForm", "running_form"]

#: Aggregates whose window value (rows up to the current time) is the group value.
_AGGREGATES = frozenset(
    {
        "any",
        "avg",
        "bool_and",
        "bool_or",
        "count",
        "count_if",
        "every",
        "max",
        "max_by",
        "mean",
        "min",
        "min_by",
        "some",
        "sum",
    }
)
#: Row-level functions allowed around the aggregate calls.
_SCALARS = frozenset(
    {
        "abs",
        "cast",
        "ceil",
        "coalesce",
        "exp",
        "floor",
        "greatest",
        "if",
        "ifnull",
        "isnotnull",
        "isnull",
        "least",
        "ln",
        "log",
        "nullif",
        "nvl",
        "nvl2",
        "pow",
        "power",
        "round",
        "sign",
        "sqrt",
        "try_cast",
    }
)
_KEYWORDS = frozenset(
    {
        "and",
        "as",
        "between",
        "bigint",
        "boolean",
        "case",
        "div",
        "double",
        "else",
        "end",
        "false",
        "float",
        "in",
        "int",
        "integer",
        "is",
        "long",
        "not",
        "null",
        "or",
        "smallint",
        "string",
        "then",
        "true",
        "when",
    }
)
_TOKEN = re.compile(
    r"""(?P<space>\s+)
    |(?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
    |(?P<quoted>`[^`]*`)
    |(?P<name>[A-Za-z_][A-Za-z0-9_]*)
    |(?P<number>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?[LDldBbSsYy]?|\.\d+(?:[eE][+-]?\d+)?)
    |(?P<op><=>|<=|>=|<>|!=|==|\|\||[-+*/%(),.<>=!&|^~])""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class RunningForm:
    """An expression split into aggregate calls and the row expression around them.

    Attributes
    ----------
    calls : tuple of str
        The aggregate calls, as Spark SQL text.
    outer : str
        The expression with call ``i`` replaced by the column ``_a<i>``; it may
        read ``_obs_t``.
    """

    calls: tuple[str, ...]
    outer: str


def _tokens(text: str) -> list[tuple[str, str, int, int]] | None:
    out: list[tuple[str, str, int, int]] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            return None
        kind = match.lastgroup or ""
        if kind != "space":
            out.append((kind, match.group(), match.start(), match.end()))
        pos = match.end()
    return out


def running_form(expression: str) -> RunningForm | None:
    """Split ``expression`` for the running computation, or ``None`` when unsafe.

    Parameters
    ----------
    expression : str
        A source feature's Spark SQL aggregate expression.

    Returns
    -------
    RunningForm or None
    """
    tokens = _tokens(expression)
    if not tokens:
        return None
    calls: list[str] = []
    pieces: list[str] = []
    last_end = 0
    i = 0
    while i < len(tokens):
        kind, text, start, _end = tokens[i]
        lower = text.lower()
        is_call = kind == "name" and i + 1 < len(tokens) and tokens[i + 1][1] == "("
        previous = tokens[i - 1][1] if i else ""
        if kind == "quoted" or (kind == "name" and previous == "."):
            return None  # a column reference outside any aggregate
        if is_call and lower in _AGGREGATES:
            depth, j = 0, i + 1
            while j < len(tokens):
                if tokens[j][1] == "(":
                    depth += 1
                elif tokens[j][1] == ")":
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            if j == len(tokens):
                return None
            inner = tokens[i + 2 : j]
            for inner_kind, inner_text, _s, _e in inner:
                name = inner_text.lower()
                if inner_kind in ("name", "quoted") and name.strip("`") in (
                    "distinct",
                    "_obs_t",
                    "over",
                    "filter",
                ):
                    return None
                if inner_kind == "name" and name in _AGGREGATES:
                    return None  # nested aggregate: not valid SQL anyway
            following = tokens[j + 1][1].lower() if j + 1 < len(tokens) else ""
            if following in ("filter", "over", "within"):
                return None
            call = expression[start : tokens[j][3]]
            if call not in calls:
                calls.append(call)
            pieces += [expression[last_end:start], f"_a{calls.index(call)}"]
            last_end = tokens[j][3]
            i = j + 1
            continue
        if kind == "name":
            if is_call:
                if lower not in _SCALARS:
                    return None
            elif lower not in _KEYWORDS and lower != "_obs_t":
                return None  # a bare column: not defined per group
        i += 1
    if not calls:
        return None
    pieces.append(expression[last_end:])
    return RunningForm(tuple(calls), "".join(pieces))

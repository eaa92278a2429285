"""The rule registry: built-ins by decorator, YAML rules, plugins by entry point.

Three sources, one contract (:class:`~qos_ml.rules.Rule`):

* built-in rule classes register with :func:`register_rule`;
* declarative rules loaded from a YAML file (:func:`~qos_ml.rules.load_rule_file`)
  are added as instances with :meth:`RuleRegistry.add`;
* third-party packages declare an entry point in the group ``qos_ml.rules``
  whose object is a :class:`Rule` subclass; they load on the first lookup and
  one that fails warns (:class:`RulePluginWarning`) while the others load.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from qos_ml._errors import PluginError, QosMlWarning
from qos_ml.rules._rule import TARGETS, Rule
from qos_ml.sinks._base import PluginRegistry

__all__ = [
    "ENTRY_POINT_GROUP",
    "RulePluginWarning",
    "RuleRegistry",
    "register_rule",
    "rules",
]

ENTRY_POINT_GROUP = "qos_ml.rules"


class RulePluginWarning(QosMlWarning):
    """A rule plugin declared through an entry point could not be loaded."""


class RuleRegistry(PluginRegistry[Rule]):
    """Rules by name: classes (built-ins, plugins) and configured instances (YAML).

    Parameters
    ----------
    group : str, default "qos_ml.rules"
        Entry-point group of third-party rules.
    """

    def __init__(self, group: str = ENTRY_POINT_GROUP) -> None:
        super().__init__(
            "rule",
            Rule,  # type: ignore[type-abstract]
            group,
            RulePluginWarning,
        )
        self._instances: dict[str, Rule] = {}

    def check(self, cls: object) -> type[Rule]:
        """Check a rule class: a concrete :class:`Rule` with a name and a target.

        Raises
        ------
        PluginError
            Naming the class and what it lacks.
        """
        checked = super().check(cls)
        if getattr(checked, "__abstractmethods__", None):
            raise PluginError(
                f"rule class {checked.__qualname__} is abstract: it does not "
                f"implement {', '.join(sorted(checked.__abstractmethods__))}"
            )
        if checked.target not in TARGETS:
            raise PluginError(
                f"rule class {checked.__qualname__} has target {checked.target!r}; "
                f"allowed: {', '.join(TARGETS)}"
            )
        if not checked.description:
            raise PluginError(f"rule class {checked.__qualname__} has no description")
        return checked

    def add(self, rule: Rule, *, replace: bool = False) -> Rule:
        """Register a configured rule instance (a declarative rule) by its name.

        Raises
        ------
        PluginError
            When it is no :class:`Rule` or the name is taken and ``replace`` is
            false.
        """
        if not isinstance(rule, Rule):
            raise PluginError(f"{rule!r} is not an instance of qos_ml.rules.Rule")
        taken = rule.name in self._instances or rule.name in self._classes
        if taken and not replace:
            raise PluginError(f"a rule named {rule.name!r} is registered already")
        self._classes.pop(rule.name, None)
        self._instances[rule.name] = rule
        return rule

    def unregister(self, name: str) -> None:
        """Remove a rule class or instance (tests, reloads)."""
        super().unregister(name)
        self._instances.pop(name, None)

    def names(self) -> list[str]:
        """Every registered rule name, sorted (plugins and YAML rules included)."""
        self.load_plugins()
        return sorted({*self._classes, *self._instances})

    def get(self, name: str, **params: Any) -> Rule:
        """Return a rule by name or dotted path, with parameters applied.

        Raises
        ------
        PluginError
            For an unknown name, listing the known ones.
        RuleError
            For a parameter that is not allowed.
        """
        self.load_plugins()
        if name in self._instances:
            rule = self._instances[name]
            return rule.with_params(**params) if params else rule
        return self.resolve(name)(**params)

    def rule_set(
        self,
        names: Iterable[str] | None = None,
        overrides: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> list[Rule]:
        """Build several rules: the named ones (default: all) with overrides.

        Parameters
        ----------
        names : iterable of str, optional
        overrides : mapping of rule name to parameters, optional

        Raises
        ------
        PluginError
            When an override names a rule that is not in the set.
        """
        chosen = list(names) if names is not None else self.names()
        overrides = dict(overrides or {})
        stray = sorted(set(overrides) - set(chosen))
        if stray:
            raise PluginError(
                f"parameter overrides for rule(s) {stray} which are not in the rule "
                f"set; rules in the set: {', '.join(chosen)}"
            )
        return [self.get(n, **overrides.get(n, {})) for n in chosen]

    def __contains__(self, name: object) -> bool:
        self.load_plugins()
        return name in self._classes or name in self._instances


#: The registry every evaluation looks rules up in.
rules = RuleRegistry()

R = TypeVar("R", bound=type[Rule])


def register_rule(cls: R) -> R:
    """Class decorator registering a built-in :class:`Rule` in :data:`rules`."""
    rules.register(cls)
    return cls

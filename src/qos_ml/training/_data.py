"""Training tables: which columns mean what, and splits that do not leak.

A training table is any pandas or Spark DataFrame with a label column and a
list of feature columns; a :class:`FeatureSpec` names them. Splits respect time
(train on the past, test on the future) and groups (a video, a viewer: never in
both train and test), because a random row split over sessions lets the model
memorise the video instead of learning the network.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.model_selection import (
    StratifiedGroupKFold,
    StratifiedKFold,
    TimeSeriesSplit,
)

from qos_ml._errors import (
    ConfigError,
    DataQualityError,
    QosMlWarning,
    SchemaMismatchError,
)

__all__ = [
    "FeatureSpec",
    "RarePositivesWarning",
    "SplitWarning",
    "cv_folds",
    "split_train_test",
    "training_frame",
]

logger = logging.getLogger(__name__)

SplitKind = Literal["auto", "time", "group", "time_group", "random"]
_SPLITS = ("auto", "time", "group", "time_group", "random")
_TRUE = {"true", "1", "yes", "t", "y"}
_FALSE = {"false", "0", "no", "f", "n"}


class RarePositivesWarning(QosMlWarning):
    """Too few positives (or negatives) for the requested cross-validation."""


class SplitWarning(QosMlWarning):
    """A split could not respect time or groups, or dropped unusable rows."""


@dataclass(frozen=True)
class FeatureSpec:
    """The roles of the columns of a training table.

    Parameters
    ----------
    label : str
        Binary outcome: bool, 0/1 or ``"true"``/``"false"``.
    numeric : sequence of str
        Numeric features; integers and booleans are read as float64 so that a
        count which is null in the live stream still fits the model signature.
    categorical : sequence of str, default ()
        Categorical features, read as strings.
    time : str, optional
        Observation time (timestamp or number); enables time-ordered splits.
    group : str, optional
        Unit that must not straddle train and test (video, viewer, session).
    time_to_event : str, optional
        Seconds from the observation to the event (the stall), null when no
        event followed; enables the lead-time measure.

    Examples
    --------
    >>> spec = FeatureSpec("stalled", numeric=["rtt_ms"], categorical=["device"])
    >>> spec.features
    ('rtt_ms', 'device')
    """

    label: str
    numeric: Sequence[str]
    categorical: Sequence[str] = ()
    time: str | None = None
    group: str | None = None
    time_to_event: str | None = None
    name: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "numeric", tuple(self.numeric))
        object.__setattr__(self, "categorical", tuple(self.categorical))
        if not self.numeric and not self.categorical:
            raise ConfigError(
                "numeric",
                [],
                "at least one numeric or categorical feature",
                "FeatureSpec",
            )
        seen: set[str] = set()
        for column in self.features:
            if column in seen:
                raise ConfigError(
                    "features", column, "each feature column listed once", "FeatureSpec"
                )
            seen.add(column)
        roles = {"label": self.label, "time": self.time, "group": self.group}
        for role, role_column in roles.items():
            if role_column is not None and role_column in seen:
                raise ConfigError(
                    role,
                    role_column,
                    "a column that is not also a feature",
                    "FeatureSpec",
                )

    @property
    def features(self) -> tuple[str, ...]:
        """Numeric then categorical feature columns, the model's input order."""
        return (*self.numeric, *self.categorical)

    @property
    def columns(self) -> tuple[str, ...]:
        """Every column the training reads."""
        extra = (self.time, self.group, self.time_to_event)
        return (self.label, *self.features, *(c for c in extra if c is not None))


def training_frame(data: Any, spec: FeatureSpec) -> pd.DataFrame:
    """Return the columns of ``spec`` from a pandas or Spark DataFrame, typed.

    Numeric features become float64, categorical features strings (missing
    values stay missing), the label 0/1 integers. Rows with a missing label are
    dropped with a :class:`SplitWarning` that counts them.

    Parameters
    ----------
    data : pandas.DataFrame or pyspark.sql.DataFrame
        The training table; a Spark DataFrame is narrowed to the needed columns
        before it is collected.
    spec : FeatureSpec

    Returns
    -------
    pandas.DataFrame

    Raises
    ------
    SchemaMismatchError
        A column of ``spec`` is missing, or a numeric feature holds text.
    DataQualityError
        The label holds a value that is not binary.
    """
    available = list(data.columns)
    missing = [c for c in spec.columns if c not in available]
    if missing:
        raise SchemaMismatchError(
            f"training table lacks column(s) {missing}; it has {sorted(available)}"
        )
    if not isinstance(data, pd.DataFrame):  # Spark (classic or Connect)
        data = data.select(*spec.columns).toPandas()
    frame = data.loc[:, list(spec.columns)].copy()

    for column in (
        *spec.numeric,
        *([spec.time_to_event] if spec.time_to_event else []),
    ):
        frame[column] = _as_float(frame[column], column)
    for column in spec.categorical:
        values = frame[column]
        frame[column] = (
            values.astype(object)
            .where(values.notna(), None)
            .map(lambda v: v if v is None else str(v))
        )

    label = frame[spec.label]
    unlabelled = int(label.isna().sum())
    if unlabelled:
        warnings.warn(
            f"{unlabelled} of {len(frame)} rows have no value in label column "
            f"{spec.label!r} and are left out of training",
            SplitWarning,
            stacklevel=2,
        )
        frame = frame.loc[label.notna()].copy()
    frame[spec.label] = _as_binary(frame[spec.label], spec.label)
    return frame.reset_index(drop=True)


def _as_float(values: pd.Series, column: str) -> pd.Series:
    if pd.api.types.is_bool_dtype(values):
        return values.astype("float64")
    converted = pd.to_numeric(values, errors="coerce").astype("float64")
    bad = values.notna() & converted.isna()
    if bad.any():
        example = values[bad].iloc[0]
        raise SchemaMismatchError(
            f"numeric feature {column!r} holds {int(bad.sum())} non-numeric "
            f"value(s), e.g. {example!r}; declare it categorical or clean it"
        )
    return converted


def _as_binary(values: pd.Series, column: str) -> pd.Series:
    if pd.api.types.is_bool_dtype(values):
        return values.astype("int64")

    def convert(value: object) -> int:
        if isinstance(value, bool | np.bool_):
            return int(value)
        if isinstance(value, int | float | np.integer | np.floating) and value in (
            0,
            1,
        ):
            return int(value)
        text = str(value).strip().lower()
        if text in _TRUE:
            return 1
        if text in _FALSE:
            return 0
        raise DataQualityError(
            f"label column {column!r} holds {value!r}; allowed: true/false or 0/1"
        )

    return values.map(convert).astype("int64")


def split_train_test(
    frame: pd.DataFrame,
    spec: FeatureSpec,
    *,
    by: SplitKind = "auto",
    test_fraction: float = 0.2,
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split a training frame into train and test without leaking across them.

    Parameters
    ----------
    frame : pandas.DataFrame
        Output of :func:`training_frame`.
    spec : FeatureSpec
    by : {"auto", "time", "group", "time_group", "random"}, default "auto"
        ``"time"``: the latest ``test_fraction`` of rows are the test set.
        ``"group"``: whole groups go to the test set at random.
        ``"time_group"``: whole groups, those that start latest, go to test.
        ``"auto"`` picks the strictest one the spec allows; with neither a time
        nor a group column it falls back to a stratified random row split and
        warns (:class:`SplitWarning`).
    test_fraction : float, default 0.2
        Share of rows (time) or of groups (group) in the test set.
    seed : int, default 0

    Returns
    -------
    train, test : pandas.DataFrame

    Raises
    ------
    ConfigError
        ``by`` or ``test_fraction`` is not allowed, or ``by`` needs a column
        the spec does not name.
    DataQualityError
        The test or train set lacks positives or negatives.
    """
    if by not in _SPLITS:
        raise ConfigError("by", by, f"one of {', '.join(_SPLITS)}", "split_train_test")
    if not 0.0 < test_fraction < 1.0:
        raise ConfigError(
            "test_fraction", test_fraction, "a number in (0, 1)", "split_train_test"
        )
    if by == "auto":
        if spec.time and spec.group:
            by = "time_group"
        elif spec.group:
            by = "group"
        elif spec.time:
            by = "time"
        else:
            warnings.warn(
                "the training table has no time or group column: rows are split "
                "at random, so one viewer's sessions can land in train and test; "
                "name a time or group column in FeatureSpec to avoid this",
                SplitWarning,
                stacklevel=2,
            )
            by = "random"
    needs = {"time": ("time",), "group": ("group",), "time_group": ("time", "group")}
    for role in needs.get(by, ()):
        if getattr(spec, role) is None:
            raise ConfigError(
                "by", by, f"a FeatureSpec with a {role} column", "split_train_test"
            )

    rng = np.random.default_rng(seed)
    if by == "time":
        order = frame[spec.time].rank(method="first").to_numpy()
        is_test = order > len(frame) * (1.0 - test_fraction)
    elif by == "group":
        groups = frame[spec.group].astype(str).unique()
        rng.shuffle(groups)
        n_test = max(1, round(len(groups) * test_fraction))
        is_test = frame[spec.group].astype(str).isin(set(groups[:n_test])).to_numpy()
    elif by == "time_group":
        starts = frame.groupby(frame[spec.group].astype(str))[spec.time].min()
        starts = starts.sort_values(kind="stable")
        n_test = max(1, round(len(starts) * test_fraction))
        test_groups = set(starts.index[-n_test:])
        is_test = frame[spec.group].astype(str).isin(test_groups).to_numpy()
    else:
        is_test = np.zeros(len(frame), dtype=bool)
        for _, index in frame.groupby(spec.label).groups.items():
            chosen = rng.permutation(np.asarray(index))
            is_test[chosen[: round(len(chosen) * test_fraction)]] = True

    train, test = frame.loc[~is_test], frame.loc[is_test]
    for name, part in (("train", train), ("test", test)):
        positives = int(part[spec.label].sum())
        if positives == 0 or positives == len(part):
            raise DataQualityError(
                f"the {name} set of the {by} split has {positives} positive(s) in "
                f"{len(part)} rows of label {spec.label!r}; both classes are needed "
                "(more data, or another test_fraction)"
            )
    logger.info(
        "Split %d rows by %s: %d train, %d test", len(frame), by, len(train), len(test)
    )
    return train.reset_index(drop=True), test.reset_index(drop=True)


def cv_folds(
    frame: pd.DataFrame, spec: FeatureSpec, *, n_splits: int = 5, seed: int = 0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Cross-validation folds that respect groups and time and cope with rare positives.

    Groups are kept whole (stratified by label where possible); without groups
    but with a time column, folds chain forward in time; otherwise stratified.
    When there are fewer positives (or negatives, or groups) than ``n_splits``
    the number of folds shrinks to what the data allows, with a
    :class:`RarePositivesWarning`; folds whose train or validation part lacks a
    class are dropped. With fewer than two usable folds the result is empty
    (the caller then skips tuning), again with a warning.

    Parameters
    ----------
    frame : pandas.DataFrame
    spec : FeatureSpec
    n_splits : int, default 5
    seed : int, default 0

    Returns
    -------
    list of (train_index, validation_index)
    """
    if n_splits < 2:
        raise ConfigError("n_splits", n_splits, "an integer >= 2", "cv_folds")
    y = frame[spec.label].to_numpy()
    positives = int(y.sum())
    negatives = len(y) - positives
    limit = min(n_splits, positives, negatives)
    groups = frame[spec.group].astype(str).to_numpy() if spec.group else None
    if groups is not None:
        limit = min(limit, len(np.unique(groups)))
    no_tuning = (
        "hyperparameters are not tuned and the threshold is chosen on the "
        "training predictions"
    )
    if limit < n_splits:
        counts = (
            f"label {spec.label!r} has {positives} positive(s) and {negatives} "
            f"negative(s) in {len(y)} rows"
        )
        if limit < 2:
            message = f"{counts}: too few for cross-validation; {no_tuning}"
        else:
            message = f"{counts}; using {limit} folds instead of n_splits={n_splits}"
        warnings.warn(message, RarePositivesWarning, stacklevel=2)
    if limit < 2:
        return []

    splitter: Any
    if groups is not None:
        splitter = StratifiedGroupKFold(n_splits=limit, shuffle=True, random_state=seed)
        folds = list(splitter.split(frame, y, groups))
    elif spec.time:
        order = np.argsort(frame[spec.time].to_numpy(), kind="stable")
        splitter = TimeSeriesSplit(n_splits=limit)
        folds = [(order[a], order[b]) for a, b in splitter.split(order)]
    else:
        splitter = StratifiedKFold(n_splits=limit, shuffle=True, random_state=seed)
        folds = list(splitter.split(frame, y))

    usable = [
        (train, valid)
        for train, valid in folds
        if 0 < y[train].sum() < len(train) and 0 < y[valid].sum() < len(valid)
    ]
    if len(usable) < len(folds):
        message = (
            f"{len(folds) - len(usable)} of {len(folds)} fold(s) lack a positive or a "
            f"negative in label {spec.label!r} and are skipped"
        )
        if len(usable) < 2:
            message += f"; fewer than two usable folds: {no_tuning}"
        warnings.warn(message, RarePositivesWarning, stacklevel=2)
    return usable if len(usable) >= 2 else []

"""scikit-learn pipelines of the supervised tasks: preprocessing, then a classifier.

Each pipeline starts with :class:`FrameCoercer`, so the fitted pipeline alone
turns whatever the live stream hands it (integer counts, nulls, numbers in a
string column) into the types it was trained on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from threadpoolctl import threadpool_limits

from qos_ml._errors import ConfigError, SchemaMismatchError

__all__ = [
    "MISSING_CATEGORY",
    "FrameCoercer",
    "limit_threads",
    "make_classifier",
    "make_preprocessor",
    "resolve_class_weight",
]

ModelKind = Literal["boosted", "logistic"]

#: The category a missing categorical value is imputed with.
MISSING_CATEGORY = "__missing__"

#: Below this share of the minority class, ``class_weight="auto"`` balances.
_IMBALANCE_SHARE = 0.25


def limit_threads(n_threads: int | None) -> Any:
    """Context manager capping the OpenMP threads of the boosted trees.

    Measured on a shared 2-core machine under load: one fit of a 600-row model
    took 78 s with OpenMP's default threads (spin-waiting against other
    processes) and 3 s with one thread. Tuning parallelises across trials
    (``SparkTrials``) rather than inside a fit, so one thread is the default.

    Parameters
    ----------
    n_threads : int or None
        None leaves OpenMP's default.
    """
    return threadpool_limits(limits=n_threads, user_api="openmp")


class FrameCoercer(TransformerMixin, BaseEstimator):
    """Cast numeric features to float64 and categorical features to strings.

    Missing values stay missing (NaN); the imputers after this step fill them.

    Parameters
    ----------
    numeric : sequence of str
    categorical : sequence of str
    """

    def __init__(self, numeric: Sequence[str] = (), categorical: Sequence[str] = ()):
        self.numeric = numeric
        self.categorical = categorical

    def fit(self, X: pd.DataFrame, y: Any = None) -> FrameCoercer:  # noqa: N803
        """Check that the input has the feature columns; nothing is learned."""
        self._check(X)
        self.n_features_in_ = len(self.numeric) + len(self.categorical)
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:  # noqa: N803
        """Return the feature columns with the training types."""
        self._check(X)
        out = pd.DataFrame(index=X.index)
        for column in self.numeric:
            out[column] = pd.to_numeric(X[column], errors="coerce").astype("float64")
        for column in self.categorical:
            values = X[column]
            out[column] = (
                values.astype(object)
                .where(values.notna(), np.nan)
                .map(lambda v: v if isinstance(v, float) and np.isnan(v) else str(v))
            )
        return out

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names of the output columns (the feature columns)."""
        return np.asarray([*self.numeric, *self.categorical], dtype=object)

    def _check(self, X: Any) -> None:  # noqa: N803
        if not isinstance(X, pd.DataFrame):
            raise SchemaMismatchError(
                "the model takes a pandas DataFrame of features, got "
                f"{type(X).__name__}"
            )
        missing = [c for c in (*self.numeric, *self.categorical) if c not in X.columns]
        if missing:
            raise SchemaMismatchError(
                f"model input lacks feature column(s) {missing}; it has "
                f"{sorted(map(str, X.columns))}"
            )


def make_preprocessor(
    numeric: Sequence[str],
    categorical: Sequence[str] = (),
    *,
    scale: bool = False,
    min_frequency: float = 0.01,
    max_categories: int = 30,
) -> Pipeline:
    """Impute, indicate missing values and one-hot encode the features.

    Numeric features: median imputation plus a missing-value indicator (a null
    RTT is information), optionally standardised. Categorical features:
    missing values become :data:`MISSING_CATEGORY`, rare categories fold into
    an "infrequent" column and categories never seen in training are encoded
    as infrequent instead of failing.

    Parameters
    ----------
    numeric, categorical : sequence of str
    scale : bool, default False
        Standardise numeric features (for linear models).
    min_frequency : float, default 0.01
        Share below which a category is infrequent.
    max_categories : int, default 30

    Returns
    -------
    sklearn.pipeline.Pipeline
    """
    numeric_steps: list[tuple[str, Any]] = [
        (
            "impute",
            SimpleImputer(
                strategy="median", add_indicator=True, keep_empty_features=True
            ),
        )
    ]
    if scale:
        numeric_steps.append(("scale", StandardScaler()))
    branches: list[tuple[str, Any, list[str]]] = []
    if numeric:
        branches.append(("numeric", Pipeline(numeric_steps), list(numeric)))
    if categorical:
        encoder = OneHotEncoder(
            handle_unknown="infrequent_if_exist",
            min_frequency=min_frequency,
            max_categories=max_categories,
            sparse_output=False,
        )
        imputer = SimpleImputer(strategy="constant", fill_value=MISSING_CATEGORY)
        branches.append(
            (
                "categorical",
                Pipeline([("impute", imputer), ("onehot", encoder)]),
                list(categorical),
            )
        )
    return Pipeline(
        [
            ("coerce", FrameCoercer(tuple(numeric), tuple(categorical))),
            ("columns", ColumnTransformer(branches, sparse_threshold=0.0)),
        ]
    )


def resolve_class_weight(y: Any, class_weight: str | None) -> str | None:
    """Turn ``"auto"`` into ``"balanced"`` for imbalanced labels, else ``None``.

    Parameters
    ----------
    y : array-like of 0/1
    class_weight : {"auto", "balanced", None}

    Returns
    -------
    {"balanced", None}
    """
    if class_weight not in ("auto", "balanced", None):
        raise ConfigError(
            "class_weight", class_weight, '"auto", "balanced" or None', "training"
        )
    if class_weight != "auto":
        return class_weight
    share = float(np.mean(np.asarray(y)))
    return "balanced" if min(share, 1.0 - share) < _IMBALANCE_SHARE else None


def make_classifier(
    kind: ModelKind,
    numeric: Sequence[str],
    categorical: Sequence[str] = (),
    *,
    params: Mapping[str, Any] | None = None,
    class_weight: str | None = None,
    seed: int = 0,
) -> Pipeline:
    """Build the (unfitted) pipeline of one model kind.

    Parameters
    ----------
    kind : {"boosted", "logistic"}
        ``"boosted"``: :class:`~sklearn.ensemble.HistGradientBoostingClassifier`;
        ``"logistic"``: the baseline, on standardised features.
    numeric, categorical : sequence of str
    params : mapping, optional
        Hyperparameters of the classifier (for example from tuning).
    class_weight : {"balanced", None}
    seed : int, default 0

    Returns
    -------
    sklearn.pipeline.Pipeline
        Steps ``preprocess`` and ``model``.
    """
    params = dict(params or {})
    if kind == "boosted":
        model: Any = HistGradientBoostingClassifier(
            class_weight=class_weight, random_state=seed, early_stopping=False
        )
    elif kind == "logistic":
        model = LogisticRegression(class_weight=class_weight, max_iter=2000, C=1.0)
    else:
        raise ConfigError("kind", kind, '"boosted" or "logistic"', "make_classifier")
    unknown = sorted(set(params) - set(model.get_params()))
    if unknown:
        raise ConfigError(
            "params",
            unknown,
            f"parameters of {type(model).__name__}: {sorted(model.get_params())}",
            "make_classifier",
        )
    model.set_params(**params)
    preprocess = make_preprocessor(numeric, categorical, scale=kind == "logistic")
    return Pipeline([("preprocess", preprocess), ("model", model)])

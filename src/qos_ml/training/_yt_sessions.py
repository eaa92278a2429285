"""The real YouTube sessions of the IFIP 2016 testbed as a buffering training set.

10,640 sessions of 35 videos played under traffic shaping (csieber/yt-dataset,
MIT). The label is ``pl_buffering_boolean`` (at least one stall). Several
columns are computed from the outcome and would leak it; they are dropped,
each with its reason in :data:`LEAK_COLUMNS`. Identifiers and duplicates of
other columns are dropped too (:data:`NON_FEATURE_COLUMNS`). The split is by
video: no video is in both train and test.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd

from qos_ml._config import QosConfig
from qos_ml._errors import SchemaMismatchError
from qos_ml.training._data import FeatureSpec
from qos_ml.training._train import TrainingResult, train_classifier

__all__ = [
    "LEAK_COLUMNS",
    "NON_FEATURE_COLUMNS",
    "YT_LABEL",
    "load_yt_sessions",
    "train_yt_sessions",
]

logger = logging.getLogger(__name__)

YT_LABEL = "pl_buffering_boolean"
YT_GROUP = "yt_id"

#: Columns computed from the outcome (stalls), with the reason each leaks.
LEAK_COLUMNS: dict[str, str] = {
    "pl_buffering_events": "the stall count; the label is pl_buffering_events > 0",
    "pl_norm_buf_events": "stalls per minute: pl_buffering_events / video minutes",
    "run_length": (
        "wall-clock length of the run including set-up; every stall adds its "
        "duration to it"
    ),
    "run_length_ratio": "run_length / vid_length: grows with stall time",
    "run_overlength": (
        "run_length - vid_length: set-up plus start-up plus stall time, close to "
        "the total stall duration"
    ),
}

#: Columns that are not features: ids, the time of the run, the video (the split
#: group: test videos are unseen) and numeric ids duplicating a categorical.
NON_FEATURE_COLUMNS: dict[str, str] = {
    YT_LABEL: "the label",
    "run_id": "identifier of the run",
    "run_id_nr": "numeric identifier of the run (increases with time)",
    "run_start": "start time of the run",
    "run_date": "start date of the run",
    YT_GROUP: "the video: the split group, unseen in test",
    "content_id": "random numeric id of the video",
    "vid_category_id": "random numeric id of vid_category",
    "pl_version_id": "numeric id of pl_version",
}

_CATEGORICAL = ("vid_category", "pl_version")


def load_yt_sessions(path: str | Path) -> tuple[pd.DataFrame, FeatureSpec]:
    """Read the sessions CSV and return it with the leak-free feature spec.

    Parameters
    ----------
    path : str or path
        ``sessions.csv.gz`` of the yt_ifip2016 data set.

    Returns
    -------
    frame : pandas.DataFrame
    spec : FeatureSpec
        Label ``pl_buffering_boolean``, group ``yt_id``, time ``run_start``;
        features are every other column except :data:`LEAK_COLUMNS` and
        :data:`NON_FEATURE_COLUMNS`.

    Raises
    ------
    SchemaMismatchError
        The file lacks the label, the video id or a categorical column.
    """
    frame = pd.read_csv(path)
    needed = [YT_LABEL, YT_GROUP, "run_start", *_CATEGORICAL]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise SchemaMismatchError(
            f"{path} lacks column(s) {missing} of the yt_ifip2016 sessions"
        )
    excluded = set(LEAK_COLUMNS) | set(NON_FEATURE_COLUMNS) | set(_CATEGORICAL)
    numeric = [c for c in frame.columns if c not in excluded]
    spec = FeatureSpec(
        YT_LABEL,
        numeric=numeric,
        categorical=_CATEGORICAL,
        group=YT_GROUP,
        time="run_start",
        name="yt_ifip2016",
    )
    logger.info(
        "Read %d sessions of %d videos: %d numeric and %d categorical features, "
        "%d leaking column(s) dropped",
        len(frame),
        frame[YT_GROUP].nunique(),
        len(numeric),
        len(_CATEGORICAL),
        sum(c in frame.columns for c in LEAK_COLUMNS),
    )
    return frame, spec


def train_yt_sessions(
    path: str | Path,
    *,
    config: QosConfig | None = None,
    max_evals: int = 30,
    n_splits: int = 5,
    test_fraction: float = 0.2,
    register: bool = False,
    seed: int = 0,
    progress: bool = False,
    **kwargs: Any,
) -> TrainingResult:
    """Train the buffering pipeline on the real sessions with a split by video.

    Parameters
    ----------
    path : str or path
    config : QosConfig, optional
    max_evals : int, default 30
    n_splits : int, default 5
    test_fraction : float, default 0.2
        Share of videos held out.
    register : bool, default False
        Register as a buffering model version; off by default because its
        features are the testbed's, not those of the live stream.
    seed : int, default 0
        Seed of the split (which videos are held out) and of the models.
    progress : bool, default False
    **kwargs
        Passed to :func:`train_classifier`.

    Returns
    -------
    TrainingResult
    """
    frame, spec = load_yt_sessions(path)
    return train_classifier(
        frame,
        spec,
        task="buffering",
        config=config,
        split="group",
        test_fraction=test_fraction,
        n_splits=n_splits,
        max_evals=max_evals,
        register=register,
        training_table=str(path),
        feature_set="yt_ifip2016",
        seed=seed,
        progress=progress,
        run_name=kwargs.pop("run_name", f"yt-sessions-seed{seed}"),
        **kwargs,
    )

"""The real YouTube sessions: leaks dropped, split by video, the CLI."""

from __future__ import annotations

import pandas as pd
import pytest
from click.testing import CliRunner
from tests.conftest import shared_data

from qos_ml import SchemaMismatchError
from qos_ml.cli import main
from qos_ml.training import LEAK_COLUMNS, NON_FEATURE_COLUMNS, load_yt_sessions

pytestmark = pytest.mark.shared_data

PATH = "sessions/yt_ifip2016/sessions.csv.gz"


def test_loader_drops_leaks_and_ids():
    frame, spec = load_yt_sessions(shared_data(PATH))
    assert len(frame) == 10640
    assert spec.group == "yt_id"
    for column in (*LEAK_COLUMNS, *NON_FEATURE_COLUMNS):
        assert column not in spec.features, column
    assert "net_avg_shaping_rate" in spec.numeric
    assert set(spec.categorical) == {"vid_category", "pl_version"}


def test_loader_names_missing_columns(tmp_path):
    path = tmp_path / "other.csv"
    pd.DataFrame({"a": [1]}).to_csv(path, index=False)
    with pytest.raises(
        SchemaMismatchError, match=r"lacks column\(s\) \['pl_buffering_boolean'"
    ):
        load_yt_sessions(path)


@pytest.mark.slow
def test_cli_trains_split_by_video(lakehouse, mlflow_env):
    path = shared_data(PATH)
    result = CliRunner().invoke(
        main,
        [
            "--lakehouse",
            str(lakehouse),
            "train",
            "yt-sessions",
            "--path",
            str(path),
            "--max-evals",
            "1",
            "--folds",
            "2",
        ],
        env={"QOS_ML_SECRET": "s" * 32},
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert "pl_norm_buf_events" in result.output
    assert "boosted trees" in result.output
    assert "logistic baseline" in result.output
    assert "rule: " in result.output


def test_train_help_is_meaningful():
    result = CliRunner().invoke(main, ["train", "yt-sessions", "--help"])
    assert result.exit_code == 0
    assert "split by video" in result.output

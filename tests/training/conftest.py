"""Fixtures of the training tests."""

from __future__ import annotations

import pandas as pd
import pytest
from tests.training.synthetic import make_sessions


@pytest.fixture
def sessions() -> pd.DataFrame:
    return make_sessions()

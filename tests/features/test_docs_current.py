"""The feature documentation in docs/FEATURES.md matches the built-in sets."""

from __future__ import annotations

from pathlib import Path

from qos_ml.features import BUFFERING, FAILURE, document_feature_set

DOC = Path(__file__).resolve().parents[2] / "docs" / "FEATURES.md"


def test_feature_docs_are_current() -> None:
    text = DOC.read_text(encoding="utf-8")
    for feature_set in (BUFFERING, FAILURE):
        assert document_feature_set(feature_set).strip() in text, (
            f"docs/FEATURES.md is out of date for {feature_set.name}; regenerate it "
            "with qos_ml.features.document_feature_set"
        )

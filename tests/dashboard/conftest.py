"""Fixtures of the dashboard tests (defined in :mod:`tests.dashboard.dash_tables`)."""

from tests.dashboard.dash_tables import dash_catalog, empty_catalog

__all__ = ["dash_catalog", "empty_catalog"]

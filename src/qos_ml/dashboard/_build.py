"""Write the dashboard to one HTML file."""

from __future__ import annotations

import logging
import os
import tempfile
import time
from pathlib import Path

from qos_ml._catalog import TableCatalog
from qos_ml.dashboard._data import collect_dashboard_data
from qos_ml.dashboard._render import render_dashboard

__all__ = ["build_dashboard", "write_atomically"]

logger = logging.getLogger(__name__)


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename.

    A reader (a browser, a file server) never sees a half-written page.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def build_dashboard(catalog: TableCatalog, out_path: str | Path) -> Path:
    """Write the network operations dashboard as one self-contained HTML file.

    The page shows viewers and views over time; QoE (start-up time p95,
    rebuffering ratio, failure rates) by edge location, ASN, country and
    device; the start-up time and rebuffering distributions; the most frequent
    errors; the cache hit ratio over time; the open alerts with their
    explanations; and the registered models' champion and challenger with
    their test quality. plotly.js is inlined, so the file opens offline.

    Parameters
    ----------
    catalog : TableCatalog
        Where the gold and alert tables are; tables that do not exist yet
        show an empty state.
    out_path : str or path
        The HTML file to write (its folder is created).

    Returns
    -------
    pathlib.Path
        The absolute path of the written file.
    """
    started = time.perf_counter()
    out = Path(out_path).expanduser().absolute()
    data = collect_dashboard_data(catalog)
    write_atomically(out, render_dashboard(data))
    logger.info(
        "Wrote the dashboard to %s in %.1f s", out, time.perf_counter() - started
    )
    return out

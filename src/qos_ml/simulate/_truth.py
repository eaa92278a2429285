"""The simulator's incidents as ground truth for the rules backtest."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["INCIDENT_DIMENSIONS", "incident_truth"]

#: Simulator incident kind -> the gold dimension its scope lives in.
INCIDENT_DIMENSIONS = {
    "edge_degradation": ("edge_location", "edge_locations"),
    "isp_congestion": ("viewer_asn", "asns"),
    "corrupted_asset": ("video_id", "video_ids"),
}


def incident_truth(sim_dir: str | Path) -> list[dict[str, Any]]:
    """Turn the simulator's incidents into the rules backtest's ground truth.

    Incidents scoped to a gold dimension (edge location, ASN, video) become one
    row per scope value; platform-wide ones (origin outage, device failure) match
    any scope (``dimension`` null).

    Parameters
    ----------
    sim_dir : path
        A simulation's output folder (``ground_truth/incidents.jsonl`` in it).

    Returns
    -------
    list of dict
        ``incident_id``, ``start``, ``end`` (naive UTC), ``dimension`` and
        ``dimension_value``: the ``truth`` of :func:`qos_ml.rules.backtest`.
    """
    rows = []
    path = Path(sim_dir) / "ground_truth" / "incidents.jsonl"
    for line in path.read_text(encoding="utf-8").splitlines():
        incident = json.loads(line)
        start = datetime.fromtimestamp(incident["start_ms"] / 1000, UTC)
        end = datetime.fromtimestamp(incident["end_ms"] / 1000, UTC)
        dimension, key = INCIDENT_DIMENSIONS.get(incident["kind"], (None, None))
        values = incident["scope"].get(key, [None]) if key else [None]
        for value in values:
            rows.append(
                {
                    "incident_id": incident["incident_id"],
                    "start": start.replace(tzinfo=None),
                    "end": end.replace(tzinfo=None),
                    "dimension": dimension,
                    "dimension_value": None if value is None else str(value),
                }
            )
    return rows

"""Hand-written silver rows for the QoE tests."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

T0 = datetime(2026, 12, 1, 12, 0, 0)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def event(
    kind: str,
    t: float,
    user: str,
    *,
    video: str = "v1",
    session: str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """One silver.player_events row; its event_id hashes its content like silver."""
    row: dict[str, Any] = {
        "event_type": kind,
        "event_time": at(t),
        "event_date": at(t).date(),
        "user_id_hash": user,
        "session_id": session,
        "video_id": video,
        "playlist_type": "vod",
        **fields,
    }
    row["event_id"] = hashlib.sha256(repr(sorted(row.items())).encode()).hexdigest()
    return row


def player_events(spark, rows: list[dict[str, Any]]):
    from qos_ml._tables import SILVER_PLAYER_EVENTS

    schema = SILVER_PLAYER_EVENTS.schema
    full = [tuple(r.get(f.name) for f in schema) for r in rows]
    return spark.createDataFrame(full, schema)


def cdn_requests(spark, rows: list[dict[str, Any]]):
    from qos_ml._tables import SILVER_CDN_REQUESTS

    schema = SILVER_CDN_REQUESTS.schema
    full = [tuple(r.get(f.name) for f in schema) for r in rows]
    return spark.createDataFrame(full, schema)


def streams(
    user: str, times: list[float], bitrate: float, first_playhead: float, **kw: Any
) -> list[dict[str, Any]]:
    return [
        event(
            "STREAM",
            t,
            user,
            avg_bitrate_kbps=bitrate,
            playhead_s=first_playhead + i,
            duration_s=600.0,
            **kw,
        )
        for i, t in enumerate(times)
    ]

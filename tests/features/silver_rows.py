"""Small, deterministic silver tables for feature tests and the benchmark.

Each session plays a few dozen seconds over one edge location and ASN: a PLAY,
manifest and segment requests with CMCD keys, a first frame, one STREAM event
per played second, bitrate steps down, stalls (some right after a seek), CDN
errors, and an ending by STOP or by a fatal ERROR. Values follow the silver
contract in ``src/qos_ml/_tables.py``.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from qos_ml._tables import SILVER_CDN_REQUESTS, SILVER_PLAYER_EVENTS

T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC).replace(tzinfo=None)
EDGES = ("FRA53", "EWR52-C4", "LHR61")
ASNS = (3320, 7922)
DEVICES = (("desktop", "Windows", "Chrome"), ("mobile", "Android", "Chrome Mobile"))


def _player(
    rows: list[dict[str, Any]], sid: str, user: str, video: str, device: tuple
) -> Any:
    def emit(event_type: str, t: float, **fields: Any) -> None:
        when = T0 + timedelta(seconds=t)
        row = {
            "event_id": f"{sid}-{len(rows)}",
            "event_type": event_type,
            "event_time": when,
            "event_date": when.date(),
            "user_id_hash": user,
            "session_id": sid,
            "video_id": video,
            "playlist_type": "vod",
            "device_type": device[0],
            "os_family": device[1],
            "browser_family": device[2],
            "quality_flags": [],
        }
        row.update(fields)
        rows.append(row)

    return emit


def _request(
    cdn: list[dict[str, Any]],
    rng: random.Random,
    ctx: dict[str, Any],
    at: float,
    kind: str,
    status: int = 200,
    **cmcd: Any,
) -> str:
    rid = f"{ctx['sid']}-r{len(cdn)}"
    when = T0 + timedelta(seconds=at)
    size = 600_000 if kind == "v" else 1_500
    taken = 0.05 + rng.random() * (0.9 if ctx["slow"] else 0.3)
    cdn.append(
        {
            "request_id": rid,
            "request_time": when,
            "request_date": when.date(),
            "cdn": "cloudfront",
            "source_format": "cloudfront_realtime",
            "edge_location": ctx["edge"],
            "edge_airport": ctx["edge"][:3],
            "viewer_asn": ctx["asn"],
            "method": "GET",
            "uri_stem": f"/{ctx['video']}/{kind}/{len(cdn)}",
            "status": status,
            "bytes_sent": size if status < 400 else 300,
            "time_taken_s": taken,
            "ttfb_s": taken / 3,
            "result_type": "Miss" if rng.random() < 0.3 else "Hit",
            "device_type": ctx["device"],
            "cmcd_sid": ctx["sid"],
            "cmcd_cid": ctx["video"],
            "cmcd_ot": kind,
            "quality_flags": [],
            **{f"cmcd_{k}": v for k, v in cmcd.items()},
        }
    )
    return rid


def silver_rows(
    sessions: int = 6, seed: int = 11, start_spread_s: float = 9.0
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Return (player event rows, CDN request rows) as dicts of silver columns."""
    rng = random.Random(seed)
    player: list[dict[str, Any]] = []
    cdn: list[dict[str, Any]] = []
    for i in range(sessions):
        sid = f"sess-{i:04d}"
        user, video = f"user-{i % 4}", f"video-{i % 3}"
        edge, asn = EDGES[i % len(EDGES)], ASNS[i % len(ASNS)]
        device = DEVICES[i % len(DEVICES)]
        connection = "wifi" if i % 2 == 0 else "cellular"
        emit = _player(player, sid, user, video, device)
        t = i * start_spread_s + rng.random()

        ctx = {"sid": sid, "slow": i % 3 == 1, "edge": edge, "asn": asn}
        ctx.update(video=video, device=device[0])
        request = partial(_request, cdn, rng, ctx)

        duration = 40 + rng.randrange(30)
        emit("PLAY", t, playhead_s=0.0, duration_s=600.0, connection_type=connection)
        request(t + 0.05, "m", su=True)
        if i % 5 == 4:  # a start failure: the first segment fails, the player gives up
            rid = request(t + 0.3, "v", 503, d_ms=4000, br_kbps=1400, su=True)
            rid = request(t + 2.3, "v", 503, d_ms=4000, br_kbps=1400, su=True)
            emit(
                "ERROR", t + 4.0, error_message="manifest load failed",
                error_fatal=True, cdn_tracking_id=rid,
            )  # fmt: skip
            continue
        rid = request(t + 0.3, "v", d_ms=4000, br_kbps=1400, su=True)
        startup = 1.0 + rng.random() * (3 if i % 3 == 2 else 1)
        t += startup
        emit(
            "BUFFER", t, buffer_type="FirstBuffer", time_ms=startup * 1000,
            cdn_tracking_id=rid,
        )  # fmt: skip
        emit(
            "FIRSTFRAME", t, time_ms=startup * 1000, connection_type=connection,
            avg_bitrate_kbps=1400.0, rtt_ms=40.0 + 20 * i, cdn_tracking_id=rid,
        )  # fmt: skip
        bitrate, playhead, next_segment = 1400.0, 0.0, t
        ended = False
        for second in range(duration):
            t += 1.0
            if t >= next_segment:
                starved = rng.random() < 0.15
                status = 200
                roll = rng.random()
                if roll < 0.06:
                    status = 503
                elif roll < 0.08:
                    status = 0
                fields: dict[str, Any] = {"d_ms": 4000, "br_kbps": int(bitrate)}
                if i % 2 == 0:  # half the players send CMCD buffer and throughput
                    fields["bl_ms"] = int(rng.randrange(0, 20000, 100))
                    fields["mtp_kbps"] = int(rng.randrange(500, 8000, 100))
                if starved:
                    fields["bs"] = True
                rid = request(t - 0.5, "v", status, **fields)
                next_segment = t + 2.0 + rng.random() * 2
            playhead += 1.0
            emit(
                "STREAM", t, playhead_s=playhead, avg_bitrate_kbps=bitrate,
                rtt_ms=40.0 + rng.random() * 80, connection_type=connection,
                cdn_tracking_id=rid,
            )  # fmt: skip
            roll = rng.random()
            if roll < 0.05 and bitrate > 400:
                emit(
                    "STEP", t + 0.2, bitrate_from_kbps=bitrate,
                    bitrate_to_kbps=bitrate / 2, direction="DOWN",
                    playhead_s=playhead,
                )  # fmt: skip
                bitrate /= 2
            elif roll < 0.08:
                stall = 0.5 + rng.random() * 3
                t += stall
                emit(
                    "BUFFER", t, buffer_type="ScreenFreezedBuffer",
                    time_ms=stall * 1000, playhead_s=playhead, cdn_tracking_id=rid,
                )  # fmt: skip
            elif roll < 0.10:
                emit("SEEK", t + 0.1, seek_from_s=playhead, seek_to_s=playhead + 30)
                playhead += 30
                stall = 1.0 + rng.random()
                t += 0.3 + stall
                emit(
                    "BUFFER", t, buffer_type="ScreenFreezedBuffer",
                    time_ms=stall * 1000, playhead_s=playhead, cdn_tracking_id=rid,
                )  # fmt: skip
            elif (roll < 0.11 and second > 10) or (
                i % 3 == 0 and second == duration - 5
            ):
                emit(
                    "ERROR", t + 0.4, error_message="segment decode failed",
                    error_fatal=i % 3 == 0, cdn_tracking_id=rid,
                )  # fmt: skip
                if i % 3 == 0:
                    ended = True
                    break
        if not ended:
            emit("STOP", t + 0.5, playhead_s=playhead, duration_s=600.0)
    return player, cdn


def silver_frames(spark: Any, rows: tuple[list[dict], list[dict]] | None = None):
    """The rows of :func:`silver_rows` as DataFrames with the silver schemas."""
    player, cdn = rows if rows is not None else silver_rows()

    def frame(records: list[dict], schema: Any) -> Any:
        names = schema.fieldNames()
        return spark.createDataFrame(
            [tuple(r.get(n) for n in names) for r in records], schema
        )

    return (
        frame(player, SILVER_PLAYER_EVENTS.schema),
        frame(cdn, SILVER_CDN_REQUESTS.schema),
    )

"""CloudFront log lines: the standard (access) layout and the real-time layout."""

from __future__ import annotations

import re
import time
from typing import NamedTuple
from urllib.parse import quote

from qos_ml._formats import (
    CLOUDFRONT_STANDARD_FIELDS,
    CLOUDFRONT_STANDARD_FIELDS_26,
    CMCD_REALTIME_FIELDS,
)

__all__ = [
    "CdnRequest",
    "CmcdEncoder",
    "LogFormatter",
    "cmcd_query",
    "standard_header",
]

#: Characters CloudFront leaves as they are in the user-agent and query fields;
#: everything else (spaces first of all) is percent-encoded.
_SAFE = "!$&'()*+,-./:;=?@_~"

_PLAIN = re.compile(r'[A-Za-z0-9_.~=,"-]*')

_CMCD_STRINGS = frozenset({"sid", "cid", "nor", "nrr"})
_CMCD_TOKENS = frozenset({"ot", "sf", "st"})
_CMCD_BOOLEANS = frozenset({"bs", "su"})


class CdnRequest(NamedTuple):
    """One request as the edge saw it; formatted into both log layouts.

    A named tuple rather than a dataclass: a session builds one per request,
    and a tuple is several times cheaper to build.
    """

    end_s: float  # epoch seconds at which the edge finished responding
    request_id: str
    edge: str
    uri_stem: str
    status: str  # "200", "206", "304", "403", "404", "50x" or "000"
    sc_bytes: int
    cs_bytes: int
    time_taken: float
    ttfb: float
    result_type: str
    response_result_type: str
    detailed_result_type: str
    content_type: str
    content_len: int | None
    range_start: int | None
    range_end: int | None
    origin_fbl: float | None
    origin_lbl: float | None
    query: str  # cs-uri-query: the CMCD argument
    cmcd_fields: tuple[str, ...]  # the cmcd-* real-time fields, in order


def cmcd_query(cmcd: dict[str, object]) -> str:
    """CMCD payload as the ``CMCD=`` query argument (CTA-5004 section 3.3.1).

    Keys are sorted, strings quoted, tokens bare and true booleans given as
    the key alone; the whole payload is URL-encoded.

    Examples
    --------
    >>> cmcd_query({"br": 3000, "ot": "v", "sid": "a-b", "su": True})
    'CMCD=br%3D3000%2Cot%3Dv%2Csid%3D%22a-b%22%2Csu'
    """
    parts = []
    for key in sorted(cmcd):
        value = cmcd[key]
        if key in _CMCD_BOOLEANS:
            if value:
                parts.append(key)
        elif key in _CMCD_STRINGS:
            parts.append(f'{key}="{value}"')
        else:
            parts.append(f"{key}={value}")
    payload = ",".join(parts)
    if _PLAIN.fullmatch(payload):  # the usual case: ids of letters, digits, - and _
        return "CMCD=" + payload.replace("=", "%3D").replace(",", "%2C").replace(
            '"', "%22"
        )
    return "CMCD=" + quote(payload, safe="")


class CmcdEncoder:
    """Encodes a session's CMCD payloads quickly for both log layouts.

    The session constants (content id, session id, format, stream type, top
    bitrate, version) are encoded once; :meth:`encode` adds the per-request
    keys. The result equals :func:`cmcd_query` of the same keys.
    """

    def __init__(self, *, cid: str, sid: str, sf: str, st: str, tb: int) -> None:
        if not (_PLAIN.fullmatch(cid) and _PLAIN.fullmatch(sid)):
            raise ValueError(f"CMCD ids must be URL-safe: cid={cid!r}, sid={sid!r}")
        self._cid = f"%2Ccid%3D%22{cid}%22"
        self._after_ot = f"%2Csf%3D{sf}%2Csid%3D%22{sid}%22%2Cst%3D{st}"
        self._tail = f"%2Ctb%3D{tb}%2Cv%3D1"
        # The real-time fields in their order: "-" for a key absent from the
        # payload, the session constants filled in once.
        constant = {"cid": cid, "sid": sid, "sf": sf, "st": st, "tb": str(tb), "v": "1"}
        keys = list(CMCD_REALTIME_FIELDS.values())
        self._fields = [constant.get(key, "-") for key in keys]
        self._at = {key: keys.index(key) for key in ("bl", "br", "bs", "d", "mtp")}
        self._at |= {key: keys.index(key) for key in ("ot", "su")}

    def encode(
        self,
        *,
        ot: str,
        bl: int,
        br: int | None = None,
        d: int | None = None,
        mtp: int | None = None,
        su: bool = False,
        bs: bool = False,
    ) -> tuple[str, tuple[str, ...]]:
        """The ``CMCD=`` query argument and the ``cmcd-*`` real-time fields."""
        at = self._at
        fields = self._fields.copy()
        fields[at["ot"]] = ot
        fields[at["bl"]] = text = str(bl)
        query = "CMCD=bl%3D" + text
        if br is not None:
            fields[at["br"]] = text = str(br)
            query += "%2Cbr%3D" + text
        if bs:
            fields[at["bs"]] = "true"
            query += "%2Cbs"
        query += self._cid
        if d is not None:
            fields[at["d"]] = text = str(d)
            query += "%2Cd%3D" + text
        if mtp is not None:
            fields[at["mtp"]] = text = str(mtp)
            query += "%2Cmtp%3D" + text
        query += "%2Cot%3D" + ot + self._after_ot
        if su:
            fields[at["su"]] = "true"
            query += "%2Csu"
        return query + self._tail, tuple(fields)


def standard_header(legacy: bool = False) -> str:
    """The two header lines of a standard log file."""
    fields = CLOUDFRONT_STANDARD_FIELDS_26 if legacy else CLOUDFRONT_STANDARD_FIELDS
    return "#Version: 1.0\n#Fields: " + " ".join(fields) + "\n"


def _template(parts: list[str | None]) -> str:
    """A ``%``-template of tab-separated fields: None marks a per-request field."""
    return "\t".join("%s" if p is None else p.replace("%", "%%") for p in parts)


#: ``YYYY-MM-DD`` of each UTC day seen, by day number since the epoch.
_DAYS: dict[int, str] = {}


def _date_time(epoch_s: float) -> str:
    """``date<TAB>time`` (UTC, whole seconds) of epoch seconds.

    Arithmetic on the time of day and a cached date: ``time.strftime`` costs
    more than the rest of a log line, and requests rarely share a second.
    """
    second = int(epoch_s)
    day, rest = divmod(second, 86_400)
    date = _DAYS.get(day)
    if date is None:
        date = _DAYS[day] = time.strftime("%Y-%m-%d", time.gmtime(day * 86_400))
    hour, rest = divmod(rest, 3600)
    minute, sec = divmod(rest, 60)
    return f"{date}\t{hour:02d}:{minute:02d}:{sec:02d}"


class LogFormatter:
    """Formats the requests of one session in the standard and real-time layouts.

    Per-session constants are baked into two ``%``-templates once, so that a
    request costs one formatting call per layout.

    Parameters
    ----------
    session : dict
        Per-session constants: ``ip``, ``ip_version``, ``user_agent``,
        ``referer``, ``port``, ``country``, ``asn``, ``http_version``,
        ``behavior`` (cache behaviour path pattern), ``edge``.
    domain, alias, distribution_id : str
        The distribution's CloudFront domain, its alternate domain name and id.
    legacy : bool
        26-field standard layout with a doubly encoded user agent (as in the
        2018 logs) instead of the current 33-field layout.
    """

    def __init__(
        self,
        session: dict[str, object],
        *,
        domain: str,
        alias: str,
        distribution_id: str,
        legacy: bool = False,
    ) -> None:
        s = {key: str(value) for key, value in session.items()}
        agent = quote(s["user_agent"], safe=_SAFE)
        # Older logs show the percent sign itself encoded again (%2520).
        agent_std = agent.replace("%", "%25") if legacy else agent
        v = None
        standard: list[str | None] = [
            v, s["edge"], v, s["ip"], "GET", domain, v, v, s["referer"], agent_std,
            v, "-", v, v, alias, "https", v, v, "-", "TLSv1.3",
            "TLS_AES_128_GCM_SHA256", v, s["http_version"], "-", "-", s["port"], v, v,
            v, v, v, v,
        ]  # fmt: skip
        # The first element stands for two fields (date and time).
        count = len(
            CLOUDFRONT_STANDARD_FIELDS_26 if legacy else CLOUDFRONT_STANDARD_FIELDS
        )
        self._standard = _template(standard[: count - 1])
        self._standard_vars = sum(p is None for p in standard[: count - 1])
        realtime: list[str | None] = [
            v, s["ip"], v, v, v, "GET", "https", domain, v, v, s["edge"], v, alias, v,
            s["http_version"], f"IPv{s['ip_version']}", agent, s["referer"], "-", v, v,
            "-", "TLSv1.3", "TLS_AES_128_GCM_SHA256", v, "-", "-", v, v, v, v,
            s["port"], v, s["country"], "gzip", "*/*", s["behavior"], "-", "-", "9",
            distribution_id, domain, v, v, s["asn"],
        ]  # fmt: skip
        realtime.extend([v] * len(CMCD_REALTIME_FIELDS))
        self._realtime = _template(realtime)

    def lines(self, r: CdnRequest) -> tuple[str, str]:
        """The request's standard line and real-time line (without newlines)."""
        (
            end_s, request_id, _, uri, status, sc_bytes, cs_bytes, time_taken, ttfb,
            result, response_result, detailed, content_type, content_len, range_start,
            range_end, origin_fbl, origin_lbl, query, cmcd_fields,
        ) = r  # fmt: skip
        sent, received = str(sc_bytes), str(cs_bytes)
        taken, first_byte = f"{time_taken:.3f}", f"{ttfb:.3f}"
        clen = "-" if content_len is None else str(content_len)
        lo = "-" if range_start is None else str(range_start)
        hi = "-" if range_end is None else str(range_end)
        standard = (
            _date_time(end_s), sent, uri, status, query, result, request_id, received,
            taken, response_result, first_byte, detailed, content_type, clen, lo, hi,
        )  # fmt: skip
        realtime = (
            f"{end_s:.3f}", first_byte, status, sent, uri, received, request_id, taken,
            query, response_result, result, content_type, clen, lo, hi, detailed,
            "-" if origin_fbl is None else f"{origin_fbl:.3f}",
            "-" if origin_lbl is None else f"{origin_lbl:.3f}",
            *cmcd_fields,
        )  # fmt: skip
        return (
            self._standard % standard[: self._standard_vars],
            self._realtime % realtime,
        )

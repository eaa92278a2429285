"""CloudFront log lines: the standard (access) layout and the real-time layout."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
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


@dataclass(slots=True)
class CdnRequest:
    """One request as the edge saw it; formatted into both log layouts."""

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
        self._keys = tuple(CMCD_REALTIME_FIELDS.values())
        self._dashes = ("-",) * len(self._keys)  # "-" for every absent key
        self._constant = {"cid": cid, "sid": sid, "sf": sf, "st": st, "tb": str(tb)}
        self._constant["v"] = "1"

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
        values = dict(self._constant)
        values["ot"] = ot
        values["bl"] = str(bl)
        query = [f"CMCD=bl%3D{bl}"]
        if br is not None:
            query.append(f"%2Cbr%3D{br}")
            values["br"] = str(br)
        if bs:
            query.append("%2Cbs")
            values["bs"] = "true"
        query.append(self._cid)
        if d is not None:
            query.append(f"%2Cd%3D{d}")
            values["d"] = str(d)
        if mtp is not None:
            query.append(f"%2Cmtp%3D{mtp}")
            values["mtp"] = str(mtp)
        query.append(f"%2Cot%3D{ot}")
        query.append(self._after_ot)
        if su:
            query.append("%2Csu")
            values["su"] = "true"
        query.append(self._tail)
        return "".join(query), tuple(map(values.get, self._keys, self._dashes))


def standard_header(legacy: bool = False) -> str:
    """The two header lines of a standard log file."""
    fields = CLOUDFRONT_STANDARD_FIELDS_26 if legacy else CLOUDFRONT_STANDARD_FIELDS
    return "#Version: 1.0\n#Fields: " + " ".join(fields) + "\n"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _opt(value: int | None) -> str:
    return "-" if value is None else str(value)


def _template(parts: list[str | None]) -> str:
    """A ``%``-template of tab-separated fields: None marks a per-request field."""
    return "\t".join("%s" if p is None else p.replace("%", "%%") for p in parts)


class _Clock:
    """``date<TAB>time`` of epoch seconds, cached: requests cluster in time."""

    __slots__ = ("_second", "_text")

    def __init__(self) -> None:
        self._second = -1
        self._text = ""

    def __call__(self, epoch_s: float) -> str:
        second = int(epoch_s)
        if second != self._second:
            self._second = second
            self._text = time.strftime("%Y-%m-%d\t%H:%M:%S", time.gmtime(second))
        return self._text


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
        self._clock = _Clock()

    def lines(self, r: CdnRequest) -> tuple[str, str]:
        """The request's standard line and real-time line (without newlines)."""
        query = r.query
        taken = f"{r.time_taken:.3f}"
        ttfb = f"{r.ttfb:.3f}"
        clen, lo, hi = _opt(r.content_len), _opt(r.range_start), _opt(r.range_end)
        standard = (
            self._clock(r.end_s), str(r.sc_bytes), r.uri_stem, r.status, query,
            r.result_type, r.request_id, str(r.cs_bytes), taken,
            r.response_result_type, ttfb, r.detailed_result_type, r.content_type,
            clen, lo, hi,
        )  # fmt: skip
        realtime = (
            f"{r.end_s:.3f}", ttfb, r.status, str(r.sc_bytes), r.uri_stem,
            str(r.cs_bytes), r.request_id, taken, query, r.response_result_type,
            r.result_type, r.content_type, clen, lo, hi, r.detailed_result_type,
            _num(r.origin_fbl), _num(r.origin_lbl),
            *r.cmcd_fields,
        )  # fmt: skip
        return (
            self._standard % standard[: self._standard_vars],
            self._realtime % realtime,
        )

"""Anonymisation with native column expressions: network prefixes and keyed hashes.

* :func:`ip_prefix` keeps the network part only: IPv4 ``/24``, IPv6 ``/48``
  (written canonically, ``::`` compression understood on input and used on
  output; IPv4-mapped IPv6 addresses are treated as IPv4).
* :func:`keyed_hash` is HMAC-SHA256 with the configured pseudonymisation key,
  built from ``sha2``/``unhex``/``concat`` so that it runs in the JVM with no
  Python worker: ``HMAC(K, m) = H((K ^ opad) || H((K ^ ipad) || m))``. The
  padded keys are computed once in Python and enter the plan as hex literals.
"""

from __future__ import annotations

import hashlib

from pyspark.sql import Column
from pyspark.sql import functions as F

__all__ = ["hmac_pads", "ip_prefix", "ip_version", "keyed_hash"]

_BLOCK = 64  # SHA-256 block size in bytes
_IPV4 = r"^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$"
_MAPPED = r"(?i)^::ffff:(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})$"
_IPV6 = r"^[0-9A-Fa-f:.]+$"
#: One group of an expanded IPv6 address, or its embedded IPv4 tail.
_GROUP = r"^[0-9a-f]{1,4}$|^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$"


def hmac_pads(key: bytes) -> tuple[str, str]:
    """Return the inner and outer padded HMAC-SHA256 keys as hex strings."""
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(_BLOCK, b"\0")
    inner = bytes(b ^ 0x36 for b in key).hex()
    outer = bytes(b ^ 0x5C for b in key).hex()
    return inner, outer


def keyed_hash(value: Column, key: bytes) -> Column:
    """HMAC-SHA256 of a string column under ``key``, as 64 hex characters.

    Null stays null. Equal to ``hmac.new(key, value.encode(), "sha256")
    .hexdigest()``.
    """
    inner, outer = hmac_pads(key)
    message = value.cast("binary")
    inner_digest = F.unhex(F.sha2(F.concat(F.unhex(F.lit(inner)), message), 256))
    return F.when(
        value.isNotNull(),
        F.sha2(F.concat(F.unhex(F.lit(outer)), inner_digest), 256),
    )


def _ipv4_prefix(address: Column) -> Column:
    octets = [F.regexp_extract(address, _IPV4, i).cast("int") for i in (1, 2, 3, 4)]
    valid = address.rlike(_IPV4) & (F.greatest(*octets) <= 255)
    return F.when(
        valid,
        F.concat_ws(".", *(o.cast("string") for o in octets[:3]), F.lit("0/24")),
    )


def _ipv6_prefix(address: Column) -> Column:
    text = F.lower(F.trim(address))
    left = F.substring_index(text, "::", 1)
    right = F.substring_index(text, "::", -1)

    def groups(part: Column) -> Column:
        return F.when(part == "", F.array().cast("array<string>")).otherwise(
            F.split(part, ":", -1)
        )

    # An embedded IPv4 tail counts as two 16-bit groups. With '::' at least
    # one zero group is left out; without it all eight are written.
    v4_tail = F.when(text.rlike(r"\d+\.\d+\.\d+\.\d+$"), 1).otherwise(0)
    gap = text.contains("::")
    missing = F.when(
        gap, 8 - F.size(groups(left)) - F.size(groups(right)) - v4_tail
    ).otherwise(8 - F.size(F.split(text, ":", -1)) - v4_tail)
    expanded = F.when(
        gap,
        F.concat(groups(left), F.array_repeat(F.lit("0"), missing), groups(right)),
    ).otherwise(F.split(text, ":", -1))
    first3 = [F.regexp_replace(F.get(expanded, i), "^0+(?=.)", "") for i in (0, 1, 2)]
    # The /48 network is g1:g2:g3 followed by zeros; trailing zero groups of
    # the prefix join the zero run that '::' stands for.
    body = (
        F.when(first3[2] != "0", F.concat_ws(":", *first3))
        .when(first3[1] != "0", F.concat_ws(":", first3[0], first3[1]))
        .when(first3[0] != "0", first3[0])
        .otherwise(F.lit(""))
    )
    well_formed = (
        text.rlike(_IPV6)
        & text.contains(":")
        & (F.size(F.split(text, "::", -1)) <= 2)
        & F.when(gap, missing >= 1).otherwise(missing == 0)
        & F.forall(expanded, lambda g: g.rlike(_GROUP))
    )
    return F.when(well_formed, F.concat(body, F.lit("::/48")))


def ip_prefix(address: Column) -> Column:
    """Network prefix of an IP address: IPv4 ``/24``, IPv6 ``/48``; else null.

    Examples: ``203.0.113.77`` -> ``203.0.113.0/24``; ``2001:db8:1:2::5`` ->
    ``2001:db8:1::/48``; ``2001:db8::1`` -> ``2001:db8::/48``.
    """
    mapped = F.regexp_extract(address, _MAPPED, 1)
    return (
        F.when(address.rlike(_MAPPED), _ipv4_prefix(mapped))
        .when(address.contains(":"), _ipv6_prefix(address))
        .otherwise(_ipv4_prefix(address))
    )


def ip_version(address: Column) -> Column:
    """4 or 6 for a recognisable address, else null."""
    return (
        F.when(address.rlike(_MAPPED), F.lit(4))
        .when(address.contains(":") & address.rlike(_IPV6), F.lit(6))
        .when(address.rlike(_IPV4), F.lit(4))
        .cast("int")
    )

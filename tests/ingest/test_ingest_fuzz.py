"""Thousands of hostile input lines per source, through the whole ingestion (#10).

Valid simulator lines are mutated with a seeded generator: fields replaced by
random bytes, invalid UTF-8, huge values, wrong types, injection-looking
strings, impossible numbers, future and ancient timestamps; fields dropped or
added; lines truncated; JSON broken or retyped. Each source's file goes through
``ingest_batch`` into its own lakehouse. Nothing may crash, every data line
must be in bronze or in the quarantine, and every quarantined line must carry a
reason. The number of cases tried is printed in the run's "qos_ml figures".
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

CASES_PER_SOURCE = 3_000

_JUNK_TEXT = [
    "",
    "-",
    "'; DROP TABLE bronze; --",
    "<script>alert(1)</script>",
    "${jndi:ldap://127.0.0.1/a}",
    "%00%ZZ%",
    "%252525",
    "\u202e\u0000\ufeff",
    "NaN",
    "-1",
    "1e309",
    "99999999999999999999999",
    "9999-99-99",
    "25:61:61",
    "0.0.0.0.0",
    "::::::",
    "1.2.3.4",
    "2001:db8::1",
    "x" * 70_000,
    "é" * 5_000,
    "\r",
]
_JUNK_BYTES = [b"\xff\xfe\xfd", b"\xc3\x28", b"\xed\xa0\x80", b"\x00\x01\x02", b"\x80"]
_TIMES = [
    "0",
    "-86400",
    "253402300800",
    "32503680000.5",
    "1e12",
    "-0",
    "NaT",
    "99999999999999",
]


def _junk(rng: random.Random) -> bytes:
    if rng.random() < 0.2:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 40))).replace(
            b"\n", b""
        )
    if rng.random() < 0.15:
        return rng.choice(_JUNK_BYTES)
    value = rng.choice(_JUNK_TEXT + _TIMES)
    return value.encode("utf-8")


def _mutate_delimited(rng: random.Random, line: str) -> bytes:
    fields = [f.encode("utf-8") for f in line.split("\t")]
    action = rng.randrange(6)
    if action == 0:  # one or more fields replaced
        for _ in range(rng.randint(1, 4)):
            fields[rng.randrange(len(fields))] = _junk(rng).replace(b"\t", b" ")
    elif action == 1:  # fields dropped
        del fields[rng.randrange(len(fields))]
    elif action == 2:  # fields added
        fields.insert(rng.randrange(len(fields)), _junk(rng))
    elif action == 3:  # truncated
        joined = b"\t".join(fields)
        return joined[: rng.randrange(len(joined))]
    elif action == 4:  # a random byte line
        return _junk(rng)
    else:  # the timestamp or status out of range
        fields[0] = rng.choice(_TIMES).encode()
    return b"\t".join(fields)


def _mutate_json(rng: random.Random, line: str) -> bytes:
    event = json.loads(line)
    action = rng.randrange(6)
    keys = list(event)
    if action == 0:  # wrong types
        for _ in range(rng.randint(1, 3)):
            event[rng.choice(keys)] = rng.choice(
                [[1, 2], {"a": None}, None, True, "12abc", 1e308, -(2**70)]
            )
    elif action == 1:  # missing fields
        for key in rng.sample(keys, rng.randint(1, len(keys))):
            del event[key]
    elif action == 2:  # huge or hostile strings
        event[rng.choice(keys)] = rng.choice(_JUNK_TEXT)
    elif action == 3:  # future and ancient timestamps
        event["TimeStamp"] = rng.choice(
            [0, -1, 32503680000000, 10**18, 1e300, float("nan"), "soon"]
        )
    elif action == 4:  # broken JSON
        text = json.dumps(event)
        return text[: rng.randrange(1, len(text))].encode()
    else:  # random bytes
        return _junk(rng)
    return json.dumps(event).encode()


SOURCES = {
    # source: (simulator folder and files, mutation, comment prefix, file written)
    "cloudfront_realtime": ("cloudfront_realtime/part-*.log", _mutate_delimited, "#"),
    "cloudfront_standard": ("cloudfront_standard/*.gz", _mutate_delimited, "#"),
    "player_events": ("player_events/part-*.jsonl", _mutate_json, None),
}
OUT_NAMES = {"player_events": "fuzz.jsonl"}


def _data_lines(raw: bytes, comment: str | None) -> int:
    """Lines ingestion must account for: not blank, not a header or comment."""
    count = 0
    for part in raw.split(b"\n"):
        line = part.decode("utf-8", errors="replace").removesuffix("\r")
        if re.fullmatch(r"[ \t\n\x0b\f\r]*", line):
            continue
        if comment is not None and line.startswith(comment):
            continue
        count += 1
    return count


@pytest.fixture(scope="module")
def sim_dir(tmp_path_factory) -> Path:
    from qos_ml.simulate import SimulationConfig, simulate

    out = tmp_path_factory.mktemp("fuzz_sim")
    simulate(SimulationConfig(seed=21, sessions=4, mean_watch_s=60), out)
    return out


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_hostile_lines_land_in_bronze_or_quarantine_with_a_reason(
    source, sim_dir, qos_config, spark, tmp_path, record_property
) -> None:
    import gzip

    from pyspark.sql import functions as F

    from qos_ml import TableCatalog
    from qos_ml.ingest import ingest_batch, sources

    files, mutate, comment = SOURCES[source]
    valid: list[str] = []
    header = ""
    for path in sorted(sim_dir.glob(files)):
        data = path.read_bytes()
        text = (gzip.decompress(data) if path.suffix == ".gz" else data).decode()
        for line in text.splitlines():
            if line.startswith("#"):
                header = header or text[: text.index("\n", text.index("#Fields"))]
            elif line.strip():
                valid.append(line)
    assert valid
    rng = random.Random(f"fuzz-{source}")
    lines = [mutate(rng, rng.choice(valid)) for _ in range(CASES_PER_SOURCE)]
    lines += [v.encode() for v in rng.sample(valid, min(200, len(valid)))]
    rng.shuffle(lines)
    raw = (header.encode() + b"\n" if header else b"") + b"\n".join(lines) + b"\n"
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / OUT_NAMES.get(source, "fuzz.log")).write_bytes(raw)

    catalog = TableCatalog(qos_config.replace(lakehouse_root=tmp_path / "lh"), spark)
    report = ingest_batch(str(tmp_path / "in"), source, catalog)

    expected = _data_lines(raw, comment)
    assert report.lines_in == expected
    bronze = catalog.read(sources.get(source).bronze_table).count()
    quarantine = catalog.read("quarantine.ingest").where(F.col("source") == source)
    assert bronze == report.bronze
    assert quarantine.count() == report.quarantine
    assert bronze + report.quarantine == expected
    assert quarantine.where(F.coalesce(F.length("reason"), F.lit(0)) == 0).count() == 0
    assert report.quarantine > CASES_PER_SOURCE // 4  # the mutations do bite
    assert report.bronze >= 200  # and the valid lines pass
    record_property(
        "figure",
        f"fuzz {source}: {CASES_PER_SOURCE:,} hostile + 200 valid lines tried, "
        f"{expected:,} data lines = {report.bronze:,} bronze + "
        f"{report.quarantine:,} quarantine (all with reasons), "
        f"{report.silver_new:,} new in silver, {report.flagged:,} flagged",
    )

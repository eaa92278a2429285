"""The simulated world: devices, networks, edge locations, titles and viewers.

Everything here is either a constant table of real-world names (user-agent
strings of real device families, ISPs with their autonomous system numbers
and address blocks, CloudFront edge location codes built on IATA airport
codes) or derived deterministically from the seed.
"""

from __future__ import annotations

import base64
import ipaddress
import random
import uuid
from dataclasses import dataclass

from qos_ml.simulate._config import SimulationConfig

__all__ = ["DEVICES", "EDGES", "ISPS", "Device", "Isp", "Video", "Viewer", "World"]


@dataclass(frozen=True)
class Device:
    """A device model of the viewer population.

    ``package`` is the streaming format its player uses (HLS or DASH);
    ``top_kbps`` the highest rendition it is allowed (CMCD ``tb``);
    ``connections`` the connection types it is seen on.
    """

    model: str
    family: str
    user_agent: str
    package: str
    top_kbps: int
    connections: tuple[str, ...]
    weight: float
    web: bool = False
    http_version: str = "HTTP/2.0"


DEVICES: tuple[Device, ...] = (
    Device(
        "Windows PC Chrome", "desktop",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like "
        "Gecko) Chrome/120.0.0.0 Safari/537.36",
        "DASH", 5800, ("wifi", "ethernet"), 0.20, web=True,
    ),
    Device(
        "Windows PC Edge", "desktop",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like "
        "Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91",
        "DASH", 5800, ("wifi", "ethernet"), 0.06, web=True,
    ),
    Device(
        "Mac Safari", "desktop",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, "
        "like Gecko) Version/17.2 Safari/605.1.15",
        "HLS", 5800, ("wifi",), 0.07, web=True,
    ),
    Device(
        "Linux Firefox", "desktop",
        "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
        "DASH", 5800, ("wifi", "ethernet"), 0.02, web=True,
    ),
    Device(
        "iPhone Safari", "mobile",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1",
        "HLS", 3000, ("cellular", "wifi"), 0.14, web=True,
    ),
    Device(
        "iPad App", "tablet",
        "AppleCoreMedia/1.0.0.21C62 (iPad; U; CPU OS 17_2 like Mac OS X; en_us)",
        "HLS", 4300, ("wifi",), 0.04,
    ),
    Device(
        "Samsung Galaxy S23 App", "mobile",
        "QosPlay/5.2.1 (Linux;Android 14; SM-S911B) ExoPlayerLib/2.19.1",
        "DASH", 3000, ("cellular", "wifi"), 0.10,
    ),
    Device(
        "Pixel 7 Chrome", "mobile",
        "Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 (KHTML, like "
        "Gecko) Chrome/120.0.6099.144 Mobile Safari/537.36",
        "DASH", 3000, ("cellular", "wifi"), 0.06, web=True,
    ),
    Device(
        "Samsung Tizen TV", "tv",
        "Mozilla/5.0 (SMART-TV; LINUX; Tizen 6.5) AppleWebKit/537.36 (KHTML, like "
        "Gecko) 85.0.4183.93/6.5 TV Safari/537.36",
        "DASH", 5800, ("wifi", "ethernet"), 0.09, http_version="HTTP/1.1",
    ),
    Device(
        "LG webOS TV", "tv",
        "Mozilla/5.0 (Web0S; Linux/SmartTV) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/79.0.3945.79 Safari/537.36 WebAppManager",
        "DASH", 5800, ("wifi", "ethernet"), 0.05, http_version="HTTP/1.1",
    ),
    Device(
        "Roku Ultra", "tv",
        "Roku/DVP-12.5 (12.5.0.4178-AE)",
        "HLS", 5800, ("wifi", "ethernet"), 0.07, http_version="HTTP/1.1",
    ),
    Device(
        "Apple TV 4K", "tv",
        "AppleCoreMedia/1.0.0.21K69 (Apple TV; U; CPU OS 17_2 like Mac OS X; en_us)",
        "HLS", 5800, ("wifi", "ethernet"), 0.05,
    ),
    Device(
        "Fire TV Stick", "tv",
        "Mozilla/5.0 (Linux; Android 9; AFTKA Build/PS7633.3445N; wv) "
        "AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 "
        "Chrome/120.0.6099.230 Mobile Safari/537.36",
        "DASH", 4300, ("wifi",), 0.05, http_version="HTTP/1.1",
    ),
)  # fmt: skip


@dataclass(frozen=True)
class Isp:
    """An access network: its AS number, country and announced address blocks."""

    name: str
    asn: int
    country: str  # ISO 3166-1 alpha-2
    ipv4: tuple[str, ...]
    ipv6: str
    ipv6_share: float
    cellular: bool
    weight: float


#: Address blocks believed to be announced by these networks (from memory of
#: public registry data, not verified offline here; TODO(#3) check them against
#: an IP database once one is a dependency). Viewers get addresses inside them
#: so that an offline IP database can place them in the right country.
ISPS: tuple[Isp, ...] = (
    Isp("Deutsche Telekom", 3320, "DE", ("79.192.0.0/10", "80.128.0.0/11"),
        "2003::/19", 0.45, False, 0.10),
    Isp("Vodafone DE", 3209, "DE", ("88.64.0.0/12",),
        "2a02:8100::/27", 0.30, True, 0.06),
    Isp("BT", 2856, "GB", ("86.128.0.0/10",),
        "2a00:23c0::/27", 0.35, False, 0.07),
    Isp("Sky UK", 5607, "GB", ("90.192.0.0/11",),
        "2a02:c7c::/30", 0.50, False, 0.05),
    Isp("Orange FR", 3215, "FR", ("90.0.0.0/9",),
        "2a01:cb00::/24", 0.50, True, 0.07),
    Isp("Free", 12322, "FR", ("82.64.0.0/14",),
        "2a01:e00::/26", 0.60, False, 0.05),
    Isp("Comcast", 7922, "US", ("73.0.0.0/8", "24.0.0.0/12"),
        "2601::/20", 0.55, False, 0.20),
    Isp("Charter", 20115, "US", ("66.188.0.0/14",),
        "2600:6c00::/24", 0.40, False, 0.10),
    Isp("T-Mobile US", 21928, "US", ("172.32.0.0/11",),
        "2607:fb90::/28", 0.80, True, 0.08),
    Isp("NTT Docomo", 9605, "JP", ("1.66.0.0/15",),
        "2001:268::/30", 0.40, True, 0.05),
    Isp("Claro BR", 28573, "BR", ("177.32.0.0/11",),
        "2804:14c::/31", 0.35, False, 0.05),
    Isp("Vivo", 26599, "BR", ("177.64.0.0/11",),
        "2804:18::/32", 0.35, True, 0.04),
)  # fmt: skip

#: CloudFront edge locations by viewer country: IATA code, site number and,
#: for some, the ``-C<n>``/``-P<n>`` suffixes real logs carry; with a cache hit
#: rate and a base latency (ms) for each.
EDGES: dict[str, tuple[tuple[str, float, float], ...]] = {
    "DE": (("FRA53", 0.94, 8.0), ("FRA56-C1", 0.92, 9.0), ("MUC50-P1", 0.90, 12.0),
           ("HAM50-C1", 0.89, 13.0), ("DUS51-C1", 0.90, 11.0)),
    "GB": (("LHR61-C1", 0.95, 7.0), ("LHR50-C1", 0.93, 8.0), ("MAN51-C3", 0.88, 12.0)),
    "FR": (("CDG50-C1", 0.94, 8.0), ("CDG52-P2", 0.92, 9.0), ("MRS52-C2", 0.87, 14.0)),
    "US": (("IAD89-C1", 0.95, 10.0), ("JFK50-C1", 0.93, 11.0), ("EWR52-C4", 0.92, 12.0),
           ("ORD51-C1", 0.93, 12.0), ("DFW56-C1", 0.91, 14.0), ("LAX50-C1", 0.94, 11.0),
           ("SEA19-C1", 0.90, 15.0), ("ATL56-C3", 0.91, 13.0)),
    "JP": (("NRT57-P2", 0.94, 9.0), ("NRT20-C4", 0.92, 10.0), ("KIX56-P1", 0.89, 12.0)),
    "BR": (("GRU3-C1", 0.91, 14.0), ("GRU1-C1", 0.90, 15.0), ("GIG51-C1", 0.86, 18.0)),
}  # fmt: skip

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

_LIVE_CHANNELS = ("live-News24", "live-SportsHD", "live-MusicTV", "live-KidsZone")


def base62(rng: random.Random, length: int) -> str:
    """A random mixed-case identifier (case is significant in ids)."""
    return "".join(rng.choices(_ALPHABET, k=length))


def request_id(rng: random.Random) -> str:
    """A CloudFront-like request id: 40 random bytes, base64url, 56 characters."""
    return base64.urlsafe_b64encode(rng.randbytes(40)).decode("ascii")


def guid(rng: random.Random) -> str:
    """A version-4 GUID drawn from ``rng`` (CMCD session ids)."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


@dataclass(frozen=True)
class Video:
    """A title: VOD with a duration, or a live channel (duration 0)."""

    video_id: str
    live: bool
    duration_s: float
    popularity: float


@dataclass(frozen=True)
class Viewer:
    """A user with one device on one network, behind one address."""

    user_id: str
    device: Device
    isp: Isp
    ip: str
    ip_version: int
    edge: str
    edge_hit_rate: float
    edge_latency_ms: float
    connection_type: str
    rtt_ms: float


class World:
    """The catalog and the viewer population of one seeded simulation."""

    def __init__(self, config: SimulationConfig) -> None:
        self.config = config
        rng = random.Random(f"catalog:{config.seed}")
        vod = []
        for rank in range(config.catalog_size):
            kind = rng.random()
            if kind < 0.25:  # clips
                duration = rng.uniform(120, 600)
            elif kind < 0.75:  # episodes
                duration = rng.uniform(22 * 60, 58 * 60)
            else:  # films
                duration = rng.uniform(85 * 60, 150 * 60)
            duration = round(duration / config.segment_s) * config.segment_s
            vod.append(Video(f"vod-{base62(rng, 10)}", False, duration, 1 / (rank + 1)))
        self.vod = tuple(vod)
        self.live = tuple(Video(name, True, 0.0, 1.0) for name in _LIVE_CHANNELS)
        self._vod_weights = [v.popularity for v in vod]
        self.viewer_count = config.viewers or max(1, config.expected_sessions() // 3)
        self.edge_codes = {code for edges in EDGES.values() for code, _, _ in edges}
        self.device_models = {device.model for device in DEVICES}
        self.asns = {isp.asn for isp in ISPS}

    def pick_video(self, rng: random.Random) -> Video:
        """Choose a title: live with ``live_share``, else VOD by Zipf popularity."""
        if rng.random() < self.config.live_share:
            return rng.choice(self.live)
        return rng.choices(self.vod, weights=self._vod_weights)[0]

    def viewer(self, index: int) -> Viewer:
        """The viewer with population index ``index`` (the same on every call)."""
        rng = random.Random(f"viewer:{self.config.seed}:{index}")
        device = rng.choices(DEVICES, weights=[d.weight for d in DEVICES])[0]
        isp = rng.choices(ISPS, weights=[i.weight for i in ISPS])[0]
        if rng.random() < isp.ipv6_share:
            net6 = ipaddress.IPv6Network(isp.ipv6)
            address = net6[rng.getrandbits(64) % net6.num_addresses]
            ip, version = str(address), 6
        else:
            net4 = ipaddress.IPv4Network(rng.choice(isp.ipv4))
            address4 = net4[rng.randrange(1, net4.num_addresses - 1)]
            ip, version = str(address4), 4
        edges = EDGES[isp.country]
        code, hit_rate, latency = rng.choices(
            edges, weights=[4, 2, 1, 1, 1, 1, 1, 1][: len(edges)]
        )[0]
        if "cellular" in device.connections and isp.cellular and rng.random() < 0.6:
            connection = "cellular"
        else:
            fixed = [c for c in device.connections if c != "cellular"] or ["wifi"]
            connection = rng.choice(fixed)
        rtt = latency + (45.0 if connection == "cellular" else 12.0) * rng.uniform(
            0.6, 1.8
        )
        return Viewer(
            user_id=f"usr_{base62(rng, 12)}",
            device=device,
            isp=isp,
            ip=ip,
            ip_version=version,
            edge=code,
            edge_hit_rate=hit_rate,
            edge_latency_ms=latency,
            connection_type=connection,
            rtt_ms=round(rtt, 1),
        )

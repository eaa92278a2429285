"""The live dashboard: headless Chromium renders it, a new alert reloads it.

Also what the server refuses: other paths (no listing, no traversal), other
Host names, other bind addresses than the ones given explicitly.
"""

from __future__ import annotations

import http.client
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from tests.dashboard.dash_tables import OPEN_EXPLANATION, alert_row, write_alerts

from qos_ml import ConfigError
from qos_ml.dashboard import DashboardServer, serve_dashboard

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
NEW_EXPLANATION = "video start failures 12 % above 5 % at ASN 3320 (new)"


def chromium(url: str, *extra: str, budget_ms: int = 3000) -> subprocess.Popen:
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    profile = tempfile.mkdtemp(prefix="qos_ml_chromium_")
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--window-size=1400,3000",
        f"--virtual-time-budget={budget_ms}",
        *extra,
        url,
    ]
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def raw_get(server: DashboardServer, path: str, host: str | None = None):
    address = server._httpd.server_address  # type: ignore[union-attr]
    conn = http.client.HTTPConnection(address[0], address[1], timeout=30)
    headers = {"Host": host} if host else {}
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response.status, body


@pytest.fixture(scope="module")
def server(dash_catalog):
    # Headless Chromium's virtual time waits for every open request: the
    # reloaded page's own held poll ends the last dump after ``hold_s``. A
    # data change written later than that is still seen by the next poll.
    with serve_dashboard(
        dash_catalog, port=0, check_s=0.5, poll_interval_s=1.0, hold_s=15.0
    ) as running:
        yield running


def test_binds_loopback_by_default(server) -> None:
    assert server._httpd.server_address[0] == "127.0.0.1"
    assert server.url.startswith("http://127.0.0.1:")
    # Reachable on loopback, refused on this machine's other addresses.
    port = server._httpd.server_address[1]
    others = {
        info[4][0]
        for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)
        if not info[4][0].startswith("127.")
    }
    for address in others:
        with pytest.raises(OSError, match=r"refused|unreachable|timed out"):
            socket.create_connection((address, port), timeout=5).close()


@pytest.mark.parametrize(
    "path",
    [
        "/../../../../etc/passwd",
        "/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/..%2f..%2f..%2fetc%2fpasswd",
        "//etc/passwd",
        "/index.html/../../../etc/passwd",
        "/dashboard/",
        "/test-artifacts/",
        "/.",
    ],
)
def test_serves_nothing_but_its_page(server, path: str) -> None:
    status, body = raw_get(server, path)
    assert status == 404
    assert b"root:" not in body
    assert b"<html" not in body


def test_serves_page_and_version(server) -> None:
    status, body = raw_get(server, "/")
    assert status == 200
    assert OPEN_EXPLANATION.encode() in body
    status, body = raw_get(server, "/version")
    assert status == 200
    assert server.version.encode() in body


def test_refuses_foreign_host_names(server) -> None:
    status, _ = raw_get(server, "/", host="attacker.example:80")
    assert status == 403
    status, _ = raw_get(server, "/", host=f"localhost:{server.url.split(':')[2]}")
    assert status == 200


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"host": "my host"}, "host.*'my host'.*IP address"),
        ({"port": 70000}, "port.*70000.*0 to 65535"),
        ({"refresh_s": 0}, "refresh_s.*above 0"),
    ],
)
def test_rejects_bad_settings(dash_catalog, kwargs, match) -> None:
    with pytest.raises(ConfigError, match=match):
        DashboardServer(dash_catalog, **kwargs)


def test_chromium_renders_charts_and_reloads_on_new_alert(server, dash_catalog) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "dashboard.png"
    shot.unlink(missing_ok=True)
    # A budget below the poll interval (1 s): the live page's version request
    # is held open until the data change, and virtual time waits for it.
    proc = chromium(server.url, f"--screenshot={shot}", budget_ms=800)
    proc.communicate(timeout=180)
    assert shot.stat().st_size > 20_000

    proc = chromium(server.url, "--dump-dom", budget_ms=800)
    dom, _ = proc.communicate(timeout=300)
    assert dom.count('class="plot-container plotly"') >= 9
    assert dom.count('class="main-svg"') >= 9
    assert OPEN_EXPLANATION in dom
    assert NEW_EXPLANATION not in dom

    # An open page (its first poll is held until the data change) reloads
    # itself when the stream writes a new alert.
    version = server.version
    proc = chromium(server.url, "--dump-dom", budget_ms=1500)
    deadline = time.monotonic() + 120
    while server.waiting == 0 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert server.waiting >= 1, "the page never polled the server"
    write_alerts(dash_catalog, [alert_row("a-new", NEW_EXPLANATION, rule="vsf")])
    dom, err = proc.communicate(timeout=400)
    assert server.version != version
    assert NEW_EXPLANATION in dom, err[-2000:]
    assert dom.count('class="main-svg"') >= 9

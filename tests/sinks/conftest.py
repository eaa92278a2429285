"""Real servers on loopback: an HTTP server with scripted answers, an SMTP server."""

from __future__ import annotations

import json
import socket
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest


def _install_plugin_dist() -> None:
    """A real installed distribution declaring a dummy sink entry point."""
    root = Path(tempfile.mkdtemp(prefix="qos_ml_sink_plugin_"))
    (root / "qos_ml_test_sink_plugin.py").write_text(
        textwrap.dedent(
            '''
            from qos_ml.sinks import Sink

            class ListSink(Sink):
                """Keeps messages in a list (a dummy third-party sink)."""

                name = "test_list"
                sent = []

                def send(self, message):
                    self.sent.append(message)
            '''
        )
    )
    dist = root / "qos_ml_test_sink_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: qos-ml-test-sink-plugin\nVersion: 0.1\n"
    )
    (dist / "entry_points.txt").write_text(
        "[qos_ml.sinks]\ntest_list = qos_ml_test_sink_plugin:ListSink\n\n"
        "[qos_ml_test.broken_sinks]\n"
        "broken = qos_ml_test_sink_plugin:DoesNotExist\n"
        "good = qos_ml_test_sink_plugin:ListSink\n"
    )
    sys.path.insert(0, str(root))


_install_plugin_dist()


class Recorder:
    """What the HTTP server received, and what it answers next."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.script: list[int | float] = []  # status codes; a float sleeps first

    def next_answer(self) -> tuple[int, float]:
        item = self.script.pop(0) if self.script else 200
        if isinstance(item, float):
            return 200, item
        return item, 0.0


@pytest.fixture
def http_server() -> Iterator[tuple[str, Recorder]]:
    recorder = Recorder()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            body = self.rfile.read(length)
            status, delay = recorder.next_answer()
            recorder.requests.append(
                {"headers": dict(self.headers), "body": body, "status": status}
            )
            if delay:
                time.sleep(delay)
            payload = json.dumps({"ok": status < 400}).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout test)

        def log_message(self, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", recorder
    server.shutdown()
    server.server_close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp_server() -> Iterator[tuple[int, list]]:
    from aiosmtpd.controller import Controller

    received: list = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802
            received.append(envelope)
            return "250 Message accepted for delivery"

    port = free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    yield port, received
    controller.stop()


def sample_alert(alert_id: str = "a" * 32, **overrides: object) -> dict:
    import datetime as dt

    alert = {
        "alert_id": alert_id,
        "rule": "cdn_5xx_rate",
        "source": "rule",
        "severity": "critical",
        "target": "cdn_request",
        "scope": {"edge_location": "FRA53"},
        "scope_key": "edge_location=FRA53",
        "window_start": dt.datetime(2024, 5, 1, 12, 0),
        "window_end": dt.datetime(2024, 5, 1, 12, 1),
        "observed": 0.12,
        "threshold": 0.02,
        "baseline": None,
        "support": 400,
        "model_version": None,
        "explanation": "12.0% of CDN requests got a 5xx answer on edge_location=FRA53",
        "first_seen": dt.datetime(2024, 5, 1, 12, 0),
        "last_seen": dt.datetime(2024, 5, 1, 12, 1),
        "status": "open",
        "windows_fired": 1,
        "created_at": dt.datetime(2024, 5, 1, 12, 1, 5),
        "updated_at": dt.datetime(2024, 5, 1, 12, 1, 5),
    }
    alert.update(overrides)
    return alert

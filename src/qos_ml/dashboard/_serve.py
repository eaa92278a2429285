"""Serve the dashboard live on localhost, rebuilding it as the tables change.

The server serves exactly three things: the page (``/`` and ``/index.html``),
its version (``/version``, a JSON long poll) and nothing else — it maps no URL
to the file system, so there is no directory listing and no path to traverse.
It binds to 127.0.0.1 unless another address is given explicitly, and while it
is bound to loopback it answers only requests addressed to a loopback host name
(a web page elsewhere cannot reach it through DNS rebinding).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import socket
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from qos_ml._catalog import TableCatalog
from qos_ml._errors import ConfigError
from qos_ml.dashboard._build import write_atomically
from qos_ml.dashboard._data import (
    DASHBOARD_TABLES,
    collect_dashboard_data,
    table_fingerprint,
)
from qos_ml.dashboard._render import render_dashboard

__all__ = ["DashboardServer", "serve_dashboard"]

logger = logging.getLogger(__name__)

_PAGE_PATHS = ("/", "/index.html")
_LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1", "[::1]")


def _check_host(host: str) -> bool:
    """Validate a bind address; return whether it is a loopback address."""
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ConfigError(
            "host", host, "an IP address such as 127.0.0.1 or ::1, or 'localhost'"
        ) from None
    return address.is_loopback


def _check_positive(name: str, value: float) -> float:
    if not value > 0:
        raise ConfigError(name, value, "a number of seconds above 0")
    return float(value)


class _Handler(BaseHTTPRequestHandler):
    server: _DashboardHTTPServer
    server_version = "qos_ml-dashboard"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s " + format, self.client_address[0], *args)

    def _send(self, status: HTTPStatus, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("X-Frame-Options", "DENY")
        self.send_header("Referrer-Policy", "no-referrer")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _host_allowed(self) -> bool:
        if not self.server.loopback_only:
            return True
        host = (self.headers.get("Host") or "").strip().lower()
        if host.startswith("["):  # [::1]:port
            name = host[: host.find("]") + 1] if "]" in host else host
        else:
            name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
        return name in _LOOPBACK_NAMES

    def do_GET(self) -> None:
        """Answer the page, its version, or 404."""
        owner = self.server.owner
        if not self._host_allowed():
            self._send(HTTPStatus.FORBIDDEN, b"forbidden host\n", "text/plain")
            return
        url = urlsplit(self.path)
        if url.path in _PAGE_PATHS:
            page = owner.page.encode("utf-8")
            self._send(HTTPStatus.OK, page, "text/html; charset=utf-8")
        elif url.path == "/version":
            since = parse_qs(url.query).get("since", [None])[0]
            version = owner.wait_for_change(since)
            body = json.dumps({"version": version}).encode()
            self._send(HTTPStatus.OK, body, "application/json")
        else:
            self._send(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain")

    def do_HEAD(self) -> None:
        """Answer like GET without a body (a version request does not wait)."""
        if urlsplit(self.path).path == "/version":
            self._send(HTTPStatus.OK, b"", "application/json")
            return
        self.do_GET()


class _DashboardHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    owner: DashboardServer
    loopback_only: bool


class DashboardServer:
    """The live dashboard: an HTTP server and a thread that rebuilds the page.

    Use :func:`serve_dashboard` to make and start one.

    Parameters
    ----------
    catalog : TableCatalog
    host : str, default "127.0.0.1"
        Address to bind. Anything but a loopback address must be given
        explicitly and is logged as a warning.
    port : int, default 8050
        0 picks a free port (see :attr:`url`).
    refresh_s : float, default 60.0
        Rebuild at least this often even when no table changed (the model
        registry is not watched).
    check_s : float, default 2.0
        How often the tables' Delta versions are checked for changes.
    poll_interval_s : float, default 5.0
        How often an open page asks the server for a new version.
    hold_s : float, default 25.0
        How long the server holds a version request open when nothing changed
        (long polling), before answering the unchanged version.
    out_path : path, optional
        Also write each rebuilt page to this file.
    """

    def __init__(
        self,
        catalog: TableCatalog,
        *,
        host: str = "127.0.0.1",
        port: int = 8050,
        refresh_s: float = 60.0,
        check_s: float = 2.0,
        poll_interval_s: float = 5.0,
        hold_s: float = 25.0,
        out_path: str | Path | None = None,
    ) -> None:
        self.catalog = catalog
        self.host = host
        self.loopback_only = _check_host(host)
        if not 0 <= int(port) <= 65535:
            raise ConfigError("port", port, "a whole number from 0 to 65535")
        self.port = int(port)
        self.refresh_s = _check_positive("refresh_s", refresh_s)
        self.check_s = _check_positive("check_s", check_s)
        self.poll_interval_s = _check_positive("poll_interval_s", poll_interval_s)
        self.hold_s = _check_positive("hold_s", hold_s)
        self.out_path = Path(out_path).absolute() if out_path is not None else None
        self.page = ""
        self.version = ""
        self.builds = 0
        #: Version requests being held open right now (open pages waiting).
        self.waiting = 0
        self.failed_builds = 0
        self._fingerprint: str | None = None
        self._built_at = 0.0
        self._changed = threading.Condition()
        self._build_lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: _DashboardHTTPServer | None = None
        self._threads: list[threading.Thread] = []

    # -- building -------------------------------------------------------------

    def rebuild(self) -> bool:
        """Read the tables and render the page now; return whether it changed."""
        with self._build_lock:
            return self._rebuild()

    def _rebuild(self) -> bool:
        started = time.perf_counter()
        fingerprint = table_fingerprint(self.catalog, DASHBOARD_TABLES)
        data = collect_dashboard_data(self.catalog)
        digest = data.digest()
        self._fingerprint = fingerprint
        self._built_at = time.monotonic()
        self.builds += 1
        if digest == self.version:
            logger.debug("Dashboard data unchanged (%s)", digest)
            return False
        page = render_dashboard(
            data, live_version=digest, poll_interval_s=self.poll_interval_s
        )
        if self.out_path is not None:
            write_atomically(self.out_path, page)
        with self._changed:
            self.page, self.version = page, digest
            self._changed.notify_all()
        logger.info(
            "Rebuilt the dashboard (version %s) in %.1f s",
            digest,
            time.perf_counter() - started,
        )
        return True

    def _watch(self) -> None:
        while not self._stopping.wait(self.check_s):
            try:
                due = time.monotonic() - self._built_at >= self.refresh_s
                if not due:
                    due = (
                        table_fingerprint(self.catalog, DASHBOARD_TABLES)
                        != self._fingerprint
                    )
                if due:
                    self.rebuild()
            except Exception:  # keep serving the last good page
                self.failed_builds += 1
                self._built_at = time.monotonic()
                logger.exception(
                    "Rebuilding the dashboard failed (%d so far); serving the "
                    "previous page",
                    self.failed_builds,
                )

    def wait_for_change(self, since: str | None) -> str:
        """Return the current version once it differs from ``since`` (or on timeout).

        Without ``since`` the current version is returned at once.
        """
        deadline = time.monotonic() + self.hold_s
        with self._changed:
            self.waiting += 1
            try:
                while since is not None and self.version == since:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0 or self._stopping.is_set():
                        break
                    self._changed.wait(min(remaining, 1.0))
                return self.version
            finally:
                self.waiting -= 1

    # -- lifecycle ------------------------------------------------------------

    @property
    def url(self) -> str:
        """Address of the page, e.g. ``http://127.0.0.1:8050/``."""
        if self._httpd is None:
            raise RuntimeError("the dashboard server is not started")
        host, port = self._httpd.server_address[:2]
        host = host.decode() if isinstance(host, bytes) else str(host)
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}/"

    def start(self) -> DashboardServer:
        """Build the first page, bind the socket and start serving in threads."""
        if not self.loopback_only:
            logger.warning(
                "Serving the dashboard on %s: reachable from other machines", self.host
            )
        self.rebuild()
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        server_class: type[_DashboardHTTPServer] = type(
            "_BoundDashboardHTTPServer",
            (_DashboardHTTPServer,),
            {"address_family": family},
        )
        httpd = server_class((self.host, self.port), _Handler)
        httpd.owner = self
        httpd.loopback_only = self.loopback_only
        self._httpd = httpd
        self._threads = [
            threading.Thread(
                target=httpd.serve_forever,
                kwargs={"poll_interval": 0.2},
                name="qos_ml-dashboard-http",
                daemon=True,
            ),
            threading.Thread(
                target=self._watch, name="qos_ml-dashboard-watch", daemon=True
            ),
        ]
        for thread in self._threads:
            thread.start()
        logger.info("Serving the dashboard at %s", self.url)
        return self

    def stop(self) -> None:
        """Stop serving and watching; waits for the threads to end."""
        self._stopping.set()
        with self._changed:
            self._changed.notify_all()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        for thread in self._threads:
            thread.join(timeout=max(self.check_s, 1.0) + 120)
        self._threads = []

    def __enter__(self) -> DashboardServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def serve_dashboard(
    catalog: TableCatalog,
    host: str = "127.0.0.1",
    port: int = 8050,
    refresh_s: float = 60.0,
    *,
    check_s: float = 2.0,
    poll_interval_s: float = 5.0,
    hold_s: float = 25.0,
    out_path: str | Path | None = None,
) -> DashboardServer:
    """Serve the dashboard live and return the started server.

    The page is rebuilt whenever one of the gold or alert tables gets a new
    Delta version (checked every ``check_s``) and at least every
    ``refresh_s``; an open page reloads itself when what it shows changed.
    Call :meth:`DashboardServer.stop` (or use it as a context manager) to stop.

    Parameters
    ----------
    catalog : TableCatalog
    host : str, default "127.0.0.1"
        Loopback by default; another address must be given explicitly.
    port : int, default 8050
        0 picks a free port.
    refresh_s : float, default 60.0
    check_s, poll_interval_s, hold_s : float
        See :class:`DashboardServer`.
    out_path : path, optional
        Also keep the latest page in this file.

    Returns
    -------
    DashboardServer

    Raises
    ------
    ConfigError
        When ``host`` is not an IP address or ``localhost``, ``port`` is out
        of range or an interval is not positive.
    """
    server = DashboardServer(
        catalog,
        host=host,
        port=port,
        refresh_s=refresh_s,
        check_s=check_s,
        poll_interval_s=poll_interval_s,
        hold_s=hold_s,
        out_path=out_path,
    )
    return server.start()

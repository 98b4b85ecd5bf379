"""/healthz, /readyz and /metrics over HTTP, from what the loop reports.

- /healthz: 200 while the last successful cycle (or standby check) is recent, 503 once it is older than
  `stale_after_seconds` (by default 5 × the loop interval, at least 30 s), so a replica whose loop is stuck or
  failing every cycle is restarted by its liveness probe, while one bad cycle is not enough.
- /readyz: 200 once the caches the loop reads are synced (leader and standby alike: a standby is ready to take
  over), 503 before.
- Both turn 503 at once while the caches are stale (`stale()` gives a reason: no successful list or watch for
  longer than the staleness window, as in an API server outage). Cycles then fail too, but a replica blind to
  the cluster must not answer "ok" from a view of the past for the whole of the stale-after delay.
- /metrics: the Prometheus text format of the given registries (the loop's own, and the process-wide default
  one where the Kubernetes adapter keeps its watch metrics).

The server is stdlib `ThreadingHTTPServer` on a daemon thread: three read-only endpoints need nothing more.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from luna_autoscaler.ports import Clock


class Health:
    def __init__(
        self,
        clock: Clock,
        *,
        interval_seconds: float,
        stale_after_seconds: float | None = None,
        synced: Callable[[], bool] = lambda: True,
        stale: Callable[[], str | None] = lambda: None,
    ) -> None:
        self._clock = clock
        self.stale_after_seconds = stale_after_seconds or max(30.0, 5 * interval_seconds)
        self._synced = synced
        self._stale = stale
        self._lock = threading.Lock()
        self._started = clock()
        self._last_ok: datetime | None = None
        self._last_error = ""

    def succeeded(self, now: datetime) -> None:
        with self._lock:
            self._last_ok, self._last_error = now, ""

    def standby(self, now: datetime) -> None:
        self.succeeded(now)

    def failed(self, now: datetime, error: str) -> None:
        with self._lock:
            self._last_error = error

    def healthy(self) -> tuple[bool, str]:
        if (why := self._stale()) is not None:
            return False, why
        now = self._clock()
        with self._lock:
            reference = self._last_ok or self._started
            age = (now - reference).total_seconds()
            error = self._last_error
        if age <= self.stale_after_seconds:
            return True, "ok"
        what = "last successful cycle" if self._last_ok else "no successful cycle since start"
        detail = f"; last error: {error}" if error else ""
        return False, f"stale: {what} {age:.0f}s ago (limit {self.stale_after_seconds:.0f}s){detail}"

    def ready(self) -> tuple[bool, str]:
        if not self._synced():
            return False, "caches not synced yet"
        why = self._stale()
        return (True, "ok") if why is None else (False, why)


class HealthServer:
    """Serves the three endpoints on `host:port` (port 0: any free port, see `.port`)."""

    def __init__(
        self,
        health: Health,
        registries: Sequence[CollectorRegistry],
        *,
        host: str = "0.0.0.0",
        port: int = 8080,
    ) -> None:
        handler = _handler(health, tuple(registries))
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="health-server", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> HealthServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def _handler(health: Health, registries: tuple[CollectorRegistry, ...]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._send(200, b"".join(generate_latest(r) for r in registries), CONTENT_TYPE_LATEST)
            elif path in ("/healthz", "/livez"):
                ok, text = health.healthy()
                self._send(200 if ok else 503, text.encode() + b"\n", "text/plain; charset=utf-8")
            elif path == "/readyz":
                ok, text = health.ready()
                self._send(200 if ok else 503, text.encode() + b"\n", "text/plain; charset=utf-8")
            else:
                self._send(404, b"not found\n", "text/plain; charset=utf-8")

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # probes every few seconds: not worth a line
            return

    return Handler

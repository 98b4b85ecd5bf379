"""List + watch one resource into a sink, on a background thread, forever (client-go's Reflector, in small).

The loop: list (paginated, so a 20,000-pod cluster never sits in memory as one JSON document), hand the items to
the sink as a replacement, then watch from the list's resourceVersion and hand over each event. When a watch ends
(server timeout) it resumes from the last resourceVersion seen (a watch that ends at once with nothing in it
counts as a failure); when it is cut (connection dropped, read timeout, 5xx) it resumes from there too after a
backoff; only 410 Expired (the version left the server's history) forces a re-list, at once the first time and
with backoff if it repeats. Resuming instead of re-listing after a dropped
stream is what client-go does: the history still has those events, and re-listing 20,000 pods on every hiccup of
a load balancer would be the expensive choice. Nothing is lost or duplicated either way: a re-list replaces the
sink's whole state, and watch events carry whole objects keyed by namespace/name.

No exception ever leaves the thread: failures are logged, counted, exposed as `last_error` for health checks, and
retried with backoff. `failing_for_seconds` says how long the resource has gone without a successful list, event
or watch renewal: a cache that is not being refreshed must not be acted on as if it were current (see
`KubeCluster.staleness`).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog
import urllib3

from luna_autoscaler.backoff import Backoff
from luna_autoscaler.kube.metrics import RELISTS, WATCH_RESTARTS
from luna_autoscaler.kube.rest import KubeApiError, Rest, classify

log = structlog.get_logger("luna_autoscaler.kube")

SHORT_WATCH_SECONDS = 0.5
"""A watch that ends sooner than this with no event is treated as a failure (backoff), not a normal renewal:
otherwise a proxy that closes streams at once would make the loop re-watch as fast as it can."""

Json = Mapping[str, Any]


class Sink(Protocol):
    """Where a reflector delivers a resource's objects (raw JSON, converted by the sink)."""

    def replace(self, objects: Iterable[Json], resource_version: str) -> None:
        """The complete current set (a list); consume the iterable before returning."""
        ...

    def upsert(self, obj: Json, resource_version: str) -> None: ...

    def remove(self, obj: Json, resource_version: str) -> None: ...


@dataclass(frozen=True, slots=True)
class WatchSettings:
    page_size: int = 500  # items per list request: bounds the JSON held at once
    watch_timeout_seconds: int = 300  # server-side timeoutSeconds; the watch is renewed from its last version
    read_grace_seconds: float = 30.0  # a stream silent this long past its timeout is presumed dead
    backoff: Backoff = field(default_factory=lambda: Backoff(initial_seconds=0.5, max_seconds=30.0))


def _lines(response: urllib3.BaseHTTPResponse) -> Iterator[bytes]:
    buffer = b""
    for chunk in response.stream(amt=None, decode_content=False):
        buffer += chunk
        while (newline := buffer.find(b"\n")) >= 0:
            line, buffer = buffer[:newline], buffer[newline + 1 :]
            if line.strip():
                yield line


class Reflector:
    def __init__(
        self,
        resource: str,
        rest: Rest,
        list_call: Callable[..., Any],
        sink: Sink,
        *,
        settings: WatchSettings,
        list_args: tuple[Any, ...] = (),
        list_kwargs: Mapping[str, Any] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.resource = resource
        self.synced = threading.Event()
        self.last_error: str | None = None
        self._monotonic = monotonic
        self._failing_since: float | None = None  # first failure since the last success
        self._rest = rest
        self._list_call = list_call
        self._list_args = list_args
        self._list_kwargs = dict(list_kwargs or {})
        self._sink = sink
        self._settings = settings
        self._stop = threading.Event()
        self._rv: str | None = None
        self._failures = 0
        self._response: urllib3.BaseHTTPResponse | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name=f"reflector-{self.resource}", daemon=True)
        self._thread.start()

    def stop(self, timeout_seconds: float = 5.0) -> None:
        self._stop.set()
        response = self._response
        if response is not None:
            with contextlib.suppress(ValueError, RuntimeError, OSError):  # it may have just finished on its own
                response.shutdown()  # unblocks a read waiting on a quiet watch
        if self._thread is not None:
            self._thread.join(timeout_seconds)

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                if self._rv is None:
                    self._rv = self._list()
                    self.synced.set()
                started = time.monotonic()
                delivered = self._watch(self._rv)
                lasted = time.monotonic() - started
                if delivered == 0 and lasted < SHORT_WATCH_SECONDS and not self._stop.is_set():
                    raise KubeApiError(f"watch {self.resource}: ended after {lasted:.2f} s with no event", status=None)
                WATCH_RESTARTS.labels(self.resource, "timeout").inc()
                self._failures = 0
                self._failing_since = None
            except KubeApiError as e:
                self._failed(e)
            except Exception as e:  # a bug in a sink must not kill the loop: report, back off, retry
                log.exception("kube.reflector_bug", resource=self.resource)
                self._failed(KubeApiError(f"{self.resource}: {type(e).__name__}: {e}", status=None))

    def failing_for_seconds(self) -> float:
        """How long every list and watch of this resource has been failing (0: the last one succeeded)."""
        since = self._failing_since
        return 0.0 if since is None else max(0.0, self._monotonic() - since)

    def _failed(self, error: KubeApiError) -> None:
        self._failures += 1
        if self._failing_since is None:
            self._failing_since = self._monotonic()
        expired = error.status == 410
        self.last_error = str(error)
        WATCH_RESTARTS.labels(self.resource, "expired" if expired else "error").inc()
        if expired:
            self._rv = None
        delay = 0.0 if expired and self._failures == 1 else self._settings.backoff.delay_seconds(self._failures - 1)
        if not self._stop.is_set():
            log.warning(
                "kube.watch_interrupted",
                resource=self.resource,
                error=str(error),
                relist=expired,
                retry_in_seconds=round(delay, 3),
            )
        self._stop.wait(delay)

    def _pages(self) -> Iterator[tuple[list[Json], str]]:
        token: str | None = None
        while True:
            extra: dict[str, Any] = {"_continue": token} if token else {}
            body = self._rest.call(
                f"list {self.resource}",
                self._list_call,
                *self._list_args,
                limit=self._settings.page_size,
                **self._list_kwargs,
                **extra,
            )
            meta = body.get("metadata") or {}
            yield body.get("items") or [], str(meta.get("resourceVersion") or "")
            token = meta.get("continue")
            if not token:
                return

    def _list(self) -> str:
        pages = self._pages()
        first, rv = next(pages)

        def items() -> Iterator[Json]:
            yield from first
            first.clear()  # let the first page go as soon as it is consumed
            for page, _ in pages:
                yield from page

        self._sink.replace(items(), rv)
        RELISTS.labels(self.resource).inc()
        self._failures = 0
        self._failing_since = None
        self.last_error = None
        log.info("kube.listed", resource=self.resource, resource_version=rv)
        return rv

    def _watch(self, rv: str) -> int:
        """Follow one watch stream until it ends; the number of events it delivered."""
        what = f"watch {self.resource}"
        delivered = 0
        response = self._rest.open_stream(
            what,
            self._list_call,
            *self._list_args,
            resource_version=rv,
            timeout_seconds=self._settings.watch_timeout_seconds,
            allow_watch_bookmarks=True,
            read_timeout_seconds=self._settings.watch_timeout_seconds + self._settings.read_grace_seconds,
            **self._list_kwargs,
        )
        self._response = response
        # the server answered: from here the stream keeps the cache current (and a quiet resource, which may see
        # no event for hours, must not go on reporting the outage it has recovered from)
        self._failing_since = None
        self.last_error = None
        try:
            if self._stop.is_set():  # stop() ran before the response was published: it could not cut it
                return delivered
            for line in _lines(response):
                self._apply(json.loads(line))
                delivered += 1
                if self._stop.is_set():
                    break
        except (urllib3.exceptions.HTTPError, OSError, ValueError) as e:
            if self._stop.is_set():
                return delivered
            raise classify(e, what) from e
        finally:
            self._response = None
            response.release_conn()
            response.close()
        return delivered

    def _apply(self, event: Json) -> None:
        kind = event.get("type")
        obj = event.get("object") or {}
        if kind == "ERROR":
            raise KubeApiError(
                f"watch {self.resource}: {obj.get('reason', '')}: {obj.get('message', '')}",
                status=int(obj.get("code") or 0) or None,
                reason=str(obj.get("reason") or ""),
            )
        rv = str((obj.get("metadata") or {}).get("resourceVersion") or "")
        if kind in ("ADDED", "MODIFIED"):
            self._sink.upsert(obj, rv)
        elif kind == "DELETED":
            self._sink.remove(obj, rv)
        if rv:
            self._rv = rv
        self._failures = 0
        self._failing_since = None
        self.last_error = None

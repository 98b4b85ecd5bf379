"""A fake Kubernetes API server over real HTTP, for driving the official client in tests.

    with FakeApiServer() as api:
        api.create(pod("web-1", unschedulable=True))
        api.inject(Fault(path=r"/api/v1/pods$", status=500, times=2))
        client = api.client()            # a kubernetes.client.ApiClient pointed at it
        ...
        api.drop_watches()               # cut every open watch stream, as a load balancer would
        api.compact()                    # make every older resourceVersion 410 Expired

It binds 127.0.0.1 on a free port and serves each connection on its own thread (stdlib ThreadingHTTPServer,
HTTP/1.1 keep-alive, chunked watch streams). Every request is recorded with its RBAC (group, resource, verb), so a
test can check that an adapter calls only what it declares. Test-side writes (`create`, `replace`, `patch`,
`delete`) go straight to the store, bypassing the status-subresource rules, as a kubelet or controller would; they
take and return copies, so a test cannot change stored objects behind the server's back.
"""

from __future__ import annotations

import contextlib
import copy
import json
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

import urllib3
import yaml
from kubernetes import client as k8s

from tests.kubeapi import discovery, watch
from tests.kubeapi.errors import ApiError
from tests.kubeapi.faults import Fault, FaultPlan
from tests.kubeapi.patches import merge_patch
from tests.kubeapi.resource_api import ResourceApi
from tests.kubeapi.resources import RESOURCES, ResourceType, resource_of
from tests.kubeapi.routing import Request, parse
from tests.kubeapi.store import Obj, Store

_REASONS = {
    400: "BadRequest",
    403: "Forbidden",
    404: "NotFound",
    409: "Conflict",
    410: "Expired",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


@dataclass(frozen=True, slots=True)
class RequestRecord:
    method: str
    path: str
    query: dict[str, str]
    verb: str
    group: str | None  # None: not a resource request (discovery, /version)
    resource: str | None  # plural, with "/subresource" when there is one
    namespace: str | None
    name: str | None
    status: int

    @property
    def call(self) -> tuple[str, str, str] | None:
        """(API group, resource, verb) as RBAC sees it; None for non-resource requests."""
        if self.group is None or self.resource is None:
            return None
        return (self.group, self.resource, self.verb)


@dataclass
class _OpenWatch:
    resource: ResourceType
    connection: socket.socket
    dropped: bool = False


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are separate writes: without this, 40 ms delayed ACKs
    server: _HttpServer

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: a failing test shows the requests through FakeApiServer.requests instead."""

    def handle(self) -> None:
        with contextlib.suppress(ConnectionResetError, BrokenPipeError):
            super().handle()

    def do_GET(self) -> None:
        self.server.fake.handle(self)

    def do_POST(self) -> None:
        self.server.fake.handle(self)

    def do_PUT(self) -> None:
        self.server.fake.handle(self)

    def do_PATCH(self) -> None:
        self.server.fake.handle(self)

    def do_DELETE(self) -> None:
        self.server.fake.handle(self)

    def read_body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        if not length:
            return None
        raw = self.rfile.read(length)
        try:
            return json.loads(raw)
        except ValueError:
            raise ApiError.bad_request("the request body is not JSON") from None

    def send_json(self, code: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body, separators=(",", ":")).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def start_chunked(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def send_chunk(self, event: dict[str, Any]) -> None:
        data = json.dumps(event, separators=(",", ":")).encode() + b"\n"
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def end_chunked(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, fake: FakeApiServer) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fake = fake


class FakeApiServer:
    def __init__(self, *, history: int = 10_000) -> None:
        self.store = Store(history=history)
        self.api = ResourceApi(self.store)
        self.faults = FaultPlan()
        self._requests: list[RequestRecord] = []
        self.internal_errors: list[str] = []  # exceptions the fake raised while serving (its own bugs)
        self._watches: list[_OpenWatch] = []
        self._lock = threading.Condition()
        self._http: _HttpServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------------------------------------------

    def start(self) -> FakeApiServer:
        self._http = _HttpServer(self)
        self._thread = threading.Thread(
            target=self._http.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-apiserver", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.store.close()
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
        self.drop_watches()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeApiServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._http is not None, "start the server first"
        host, port = self._http.server_address[:2]
        return f"http://{host!s}:{port}"

    def configuration(self) -> k8s.Configuration:
        config = k8s.Configuration(host=self.url)
        config.connection_pool_maxsize = 32
        # show the server's answers as they are: urllib3 would otherwise sleep through a 429's Retry-After
        config.retries = urllib3.Retry(
            total=3, connect=3, read=0, status=0, other=0, redirect=0, respect_retry_after_header=False
        )
        return config

    def client(self) -> k8s.ApiClient:
        """A fresh official ApiClient pointed at this server (close it when done)."""
        return k8s.ApiClient(self.configuration())

    def write_kubeconfig(self, path: Path, *, context: str = "fake") -> Path:
        path.write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [{"name": context, "cluster": {"server": self.url}}],
                    "users": [{"name": context, "user": {"token": "fake-token"}}],
                    "contexts": [{"name": context, "context": {"cluster": context, "user": context}}],
                    "current-context": context,
                }
            )
        )
        return path

    # -- test-side access to the store --------------------------------------------------------------------------

    @staticmethod
    def resource_type(kind: str, api_version: str | None = None) -> ResourceType:
        matches = [r for r in RESOURCES if r.kind == kind and (api_version is None or r.api_version == api_version)]
        if len(matches) != 1:
            raise ValueError(f"kind {kind!r} (apiVersion {api_version}) names {len(matches)} resources")
        return matches[0]

    def _type_of(self, obj: Obj) -> ResourceType:
        rt = resource_of(str(obj.get("apiVersion", "")), str(obj.get("kind", "")))
        if rt is None:
            raise ValueError(f"not a served resource: {obj.get('apiVersion')} {obj.get('kind')}")
        return rt

    @staticmethod
    def _namespace(rt: ResourceType, obj: Obj) -> str:
        return str(obj["metadata"].get("namespace") or "default") if rt.namespaced else ""

    def create(self, obj: Obj) -> Obj:
        rt = self._type_of(obj)
        return copy.deepcopy(self.store.create(rt, self._namespace(rt, obj), copy.deepcopy(obj)))

    def load(self, objects: Iterable[Obj]) -> int:
        """Bulk-create without copying (the caller hands the objects over): for benchmarks of 20,000 pods."""
        count = 0
        for obj in objects:
            rt = self._type_of(obj)
            self.store.create(rt, self._namespace(rt, obj), obj)
            count += 1
        return count

    def replace(self, obj: Obj) -> Obj:
        """Overwrite an object whole (status included), unconditionally."""
        rt = self._type_of(obj)
        new = copy.deepcopy(obj)
        return copy.deepcopy(self.store.update(rt, self._namespace(rt, obj), obj["metadata"]["name"], lambda _: new))

    def patch(
        self, kind: str, name: str, patch: dict[str, Any], *, namespace: str = "default", api_version: str | None = None
    ) -> Obj:
        """JSON-merge-patch an object (status included)."""
        rt = self.resource_type(kind, api_version)
        ns = namespace if rt.namespaced else ""
        return copy.deepcopy(self.store.update(rt, ns, name, lambda current: merge_patch(current, patch)))

    def get(self, kind: str, name: str, *, namespace: str = "default", api_version: str | None = None) -> Obj:
        rt = self.resource_type(kind, api_version)
        return copy.deepcopy(self.store.get(rt, namespace if rt.namespaced else "", name))

    def exists(self, kind: str, name: str, *, namespace: str = "default", api_version: str | None = None) -> bool:
        try:
            self.get(kind, name, namespace=namespace, api_version=api_version)
        except ApiError:
            return False
        return True

    def list(self, kind: str, *, namespace: str | None = None, api_version: str | None = None) -> list[Obj]:
        rt = self.resource_type(kind, api_version)
        return copy.deepcopy(self.store.list(rt, namespace if rt.namespaced else None, lambda o: True)[0])

    def delete(self, kind: str, name: str, *, namespace: str = "default", api_version: str | None = None) -> Obj:
        rt = self.resource_type(kind, api_version)
        return copy.deepcopy(self.store.delete(rt, namespace if rt.namespaced else "", name))

    # -- faults -------------------------------------------------------------------------------------------------

    def inject(self, fault: Fault) -> Fault:
        return self.faults.add(fault)

    def clear_faults(self) -> None:
        self.faults.clear()

    def drop_watches(self, plural: str | None = None) -> int:
        """Cut open watch streams (of one resource, or all) without the closing chunk; returns how many."""
        with self._lock:
            victims = [w for w in self._watches if plural is None or w.resource.plural == plural]
            for w in victims:
                w.dropped = True
                with contextlib.suppress(OSError):
                    w.connection.shutdown(socket.SHUT_RDWR)
        return len(victims)

    def compact(self) -> None:
        self.store.compact()

    # -- observation --------------------------------------------------------------------------------------------

    @property
    def requests(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._requests)

    def calls(self) -> set[tuple[str, str, str]]:
        """Every (group, resource, verb) requested so far."""
        return {c for r in self.requests if (c := r.call) is not None}

    def wait_for_watches(self, plural: str, count: int = 1, *, timeout_seconds: float = 5.0) -> bool:
        with self._lock:
            return self._lock.wait_for(
                lambda: sum(1 for w in self._watches if w.resource.plural == plural) >= count, timeout_seconds
            )

    def wait_for_requests(self, resource: str, verb: str, *, count: int, timeout_seconds: float = 5.0) -> bool:
        """Wait until the server has received `count` requests with this RBAC resource and verb."""

        def received() -> bool:
            return sum(1 for r in self._requests if r.resource == resource and r.verb == verb) >= count

        with self._lock:
            return self._lock.wait_for(received, timeout_seconds)

    @contextlib.contextmanager
    def _watch_registered(self, resource: ResourceType, connection: socket.socket) -> Iterator[_OpenWatch]:
        entry = _OpenWatch(resource, connection)
        with self._lock:
            self._watches.append(entry)
            self._lock.notify_all()
        try:
            yield entry
        finally:
            with self._lock:
                self._watches.remove(entry)
                self._lock.notify_all()

    # -- HTTP ---------------------------------------------------------------------------------------------------

    def handle(self, http: _Handler) -> None:
        """Answer one request. It is recorded before its answer leaves, so a client that has seen the answer
        finds the request in `requests`."""
        req = parse(http.command, http.path)
        headers: dict[str, str] = {}
        try:
            body = http.read_body()
            verdict = self.faults.verdict(req.method, req.path, req.is_watch)
            if verdict.delay_seconds:
                time.sleep(verdict.delay_seconds)
            if verdict.status is not None:
                if verdict.retry_after_seconds:
                    headers["Retry-After"] = str(verdict.retry_after_seconds)
                reason = _REASONS.get(verdict.status, "InternalError")
                raise ApiError(verdict.status, reason, f"injected fault ({verdict.status})")
            if req.target is not None and req.method == "GET" and req.target.name is None and req.is_watch:
                start = watch.start_position(req.query.get("resourceVersion"))
                match = self.api.matcher(req)
                self._record(req, 200)
                self._serve_watch(http, req, start, match)
                return
            status, response = self._serve(req, body, http.headers.get("Content-Type") or "")
        except ApiError as e:
            status, response = e.code, e.status()
        except Exception as e:  # a bug in the fake: answer 500 and keep it for the test to fail on
            with self._lock:
                self.internal_errors.append(f"{req.method} {req.path}: {e!r}")
            status, response = 500, ApiError(500, "InternalError", f"fake API server bug: {e!r}").status()
        self._record(req, status)
        try:
            http.send_json(status, response, headers)
        except (BrokenPipeError, ConnectionResetError):
            http.close_connection = True

    def _serve(self, req: Request, body: Any, content_type: str) -> tuple[int, Any]:
        target = req.target
        if target is None:
            doc = discovery.document(req.discovery or ())
            if doc is None or req.method != "GET":
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            return 200, doc
        if target.subresource is not None and target.subresource not in target.resource.subresources:
            raise ApiError(404, "NotFound", f"{target.rbac_resource}: no such subresource")
        match req.method:
            case "GET" if target.name is None:
                return 200, self.api.list(req)
            case "GET":
                return 200, self.api.get(target)
            case "POST":
                return 201, self.api.create(target, body)
            case "PUT" if target.name is not None:
                return 200, self.api.update(target, body)
            case "PATCH" if target.name is not None:
                return 200, self.api.patch(target, content_type, body)
            case "DELETE" if target.name is not None:
                return 200, self.api.delete(target, body)
        raise ApiError(405, "MethodNotAllowed", f"{req.method} is not supported on {req.path}")

    def _serve_watch(self, http: _Handler, req: Request, start: int | None, match: Callable[[Obj], bool]) -> None:
        target = req.target
        assert target is not None
        rt = target.resource
        timeout = float(req.query.get("timeoutSeconds") or watch.DEFAULT_TIMEOUT_SECONDS)
        http.start_chunked()
        with self._watch_registered(rt, http.connection) as entry:
            try:
                watch.stream(
                    self.store,
                    rt,
                    target.namespace if rt.namespaced else None,
                    match,
                    start=start,
                    timeout_seconds=timeout,
                    send=http.send_chunk,
                    dropped=lambda: entry.dropped,
                )
                if not entry.dropped:
                    http.end_chunked()
            except OSError:
                pass
            if entry.dropped:
                http.close_connection = True

    def _record(self, req: Request, status: int) -> None:
        target = req.target
        record = RequestRecord(
            method=req.method,
            path=req.path,
            query=req.query,
            verb=req.verb,
            group=target.resource.group if target else None,
            resource=target.rbac_resource if target else None,
            namespace=target.namespace if target else None,
            name=target.name if target else None,
            status=status,
        )
        with self._lock:
            self._requests.append(record)
            self._lock.notify_all()

"""A local HTTP server speaking enough GKE, Compute Engine and Cloud Billing REST for the real Google clients.

No GCP emulator exists, so this fixture answers the calls the provider makes with the JSON the real APIs return
(field names, operation shapes, error bodies), keeps the state those calls change (node pools and their managed
instance groups, operations), and records every request. Operations are polled for real: a node pool creation
stays RUNNING for `pool_polls` GetOperation calls, then is DONE and the pool RUNNING with its instance group; a
createInstances operation is DONE at the first zone-operation poll; a created VM stays CREATING until `boot()`.

Faults: `fail(route, status, reason)` queues an HTTP error for the next call of a route; `stock_out(machine type,
zone, spot)` makes the group fail to create such VMs (`lastAttempt.errors` ZONE_RESOURCE_POOL_EXHAUSTED, and the
createInstances operation too with `in_operation`); `fail_next_pool(code, message)` makes the next pool
creation finish with an error and its node-pool condition; `preempt(name)` records a `compute.instances.preempted`
operation. `/token` answers OAuth refreshes, for clients built from Application Default Credentials.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

FIXTURES = Path(__file__).parent / "fixtures"
COMPUTE = "https://www.googleapis.com/compute/v1"
_ROUTES = [
    ("POST", r"^/token$", "token"),
    ("GET", r"^/v1/projects/(?P<p>[^/]+)/locations/(?P<l>[^/]+)/clusters/(?P<c>[^/]+)/nodePools$", "listNodePools"),
    ("POST", r"^/v1/projects/(?P<p>[^/]+)/locations/(?P<l>[^/]+)/clusters/(?P<c>[^/]+)/nodePools$", "createNodePool"),
    ("GET", r"^/v1/projects/(?P<p>[^/]+)/locations/(?P<l>[^/]+)/operations/(?P<op>[^/]+)$", "getOperation"),
    ("GET", r"^/v1/projects/(?P<p>[^/]+)/locations/(?P<l>[^/]+)/operations$", "listOperations"),
    (
        "POST",
        r"^/compute/v1/projects/(?P<p>[^/]+)/zones/(?P<z>[^/]+)/instanceGroupManagers/(?P<g>[^/]+)/createInstances$",
        "createInstances",
    ),
    (
        "POST",
        r"^/compute/v1/projects/(?P<p>[^/]+)/zones/(?P<z>[^/]+)/instanceGroupManagers/(?P<g>[^/]+)/deleteInstances$",
        "deleteInstances",
    ),
    (
        "POST",
        r"^/compute/v1/projects/(?P<p>[^/]+)/zones/(?P<z>[^/]+)/instanceGroupManagers/(?P<g>[^/]+)/listManagedInstances$",
        "listManagedInstances",
    ),
    ("GET", r"^/compute/v1/projects/(?P<p>[^/]+)/zones/(?P<z>[^/]+)/operations/(?P<op>[^/]+)$", "getZoneOperation"),
    ("GET", r"^/compute/v1/projects/(?P<p>[^/]+)/zones/(?P<z>[^/]+)/operations$", "listZoneOperations"),
    ("GET", r"^/v1/services/(?P<s>[^/]+)/skus$", "listSkus"),
]
_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


@dataclass
class Recorded:
    route: str
    path: str
    query: dict[str, str]
    body: dict[str, Any]


@dataclass
class _Fault:
    status: int
    reason: str
    message: str


@dataclass
class _Group:
    zone: str
    name: str
    pool: str
    machine_type: str
    spot: bool
    instances: dict[str, dict[str, Any]] = field(default_factory=dict)


class RecordingGcpServer:
    def __init__(self, *, pool_polls: int = 1) -> None:
        self.pool_polls = pool_polls
        self.requests: list[Recorded] = []
        self.pools: dict[str, dict[str, Any]] = {}
        self.groups: dict[str, _Group] = {}
        self.sku_pages: list[Path] = sorted(FIXTURES.glob("skus_page*.json"))
        self._container_ops: dict[str, dict[str, Any]] = {}
        self._zone_ops: dict[str, dict[str, Any]] = {}
        self._polls_left: dict[str, int] = {}
        self._request_ids: dict[str, dict[str, Any]] = {}
        self._stockouts: dict[tuple[str, str, bool], bool] = {}  # (machine type, zone, spot) → in the operation too
        self._pool_failures: list[tuple[str, str]] = []
        self._faults: dict[str, list[_Fault]] = {}
        self._ids = itertools.count(7_000_000_000_000_000_001)
        self._lock = threading.RLock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self, method: str) -> None:
                url = urlparse(self.path)
                length = int(self.headers.get("Content-Length", "0") or 0)
                raw = self.rfile.read(length) if length else b""
                status, payload = server._answer(
                    method, url.path, {k: v[0] for k, v in parse_qs(url.query).items()}, raw
                )
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._http.server_address[1]}"

    def start(self) -> RecordingGcpServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()

    # --- what tests drive ----------------------------------------------------------------------------------

    def fail(self, route: str, status: int, reason: str = "", message: str = "injected by the test") -> None:
        with self._lock:
            self._faults.setdefault(route, []).append(_Fault(status, reason, message))

    def stock_out(self, machine_type: str, zone: str, spot: bool, *, in_operation: bool = False) -> None:
        with self._lock:
            self._stockouts[(machine_type, zone, spot)] = in_operation

    def fail_next_pool(self, code: str, message: str) -> None:
        with self._lock:
            self._pool_failures.append((code, message))

    def boot(self) -> None:
        """Every VM being created without error is now running."""
        with self._lock:
            for group in self.groups.values():
                for mi in group.instances.values():
                    if mi["currentAction"] == "CREATING" and "lastAttempt" not in mi:
                        mi.update(currentAction="NONE", instanceStatus="RUNNING", id=str(next(self._ids)))

    def preempt(self, name: str, insert_time: str) -> None:
        with self._lock:
            group = next(g for g in self.groups.values() if name in g.instances)
            op = self._zone_operation(group.zone, "compute.instances.preempted", f"{group.zone}/instances/{name}")
            op.update(status="DONE", insertTime=insert_time, user="system", statusMessage="Instance was preempted.")

    def routes(self) -> list[str]:
        return [r.route for r in self.requests]

    def calls(self, route: str) -> list[Recorded]:
        return [r for r in self.requests if r.route == route]

    # --- answers -------------------------------------------------------------------------------------------

    def _answer(self, method: str, path: str, query: dict[str, str], raw: bytes) -> tuple[int, dict[str, Any]]:
        found = next(((r, m) for v, p, r in _ROUTES if v == method and (m := re.match(p, path))), None)
        if found is None:
            return self._error(_Fault(404, "notFound", f"no route {method} {path}"))
        route, match = found
        body = json.loads(raw) if raw and route != "token" else {}
        with self._lock:
            self.requests.append(Recorded(route, path, query, body))
            queued = self._faults.get(route)
            if queued:
                return self._error(queued.pop(0))
            handler = getattr(self, f"_{route}")
            return handler(match.groupdict(), query, body)

    @staticmethod
    def _error(fault: _Fault) -> tuple[int, dict[str, Any]]:
        errors = [{"message": fault.message, "domain": "global", "reason": fault.reason}] if fault.reason else []
        return fault.status, {
            "error": {
                "code": fault.status,
                "message": fault.message,
                "errors": errors,
                "status": _STATUS_NAMES.get(fault.status, "UNKNOWN"),
            }
        }

    def _token(self, _m: dict[str, str], _q: dict[str, str], _b: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return 200, {"access_token": "ya29.fake-token", "expires_in": 3600, "token_type": "Bearer"}

    # GKE

    def _listNodePools(self, m: dict[str, str], _q: dict[str, str], _b: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return 200, {"nodePools": list(self.pools.values())}

    def _createNodePool(
        self, m: dict[str, str], _q: dict[str, str], body: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        pool = dict(body["nodePool"])
        name = pool["name"]
        if name in self.pools:
            return self._error(_Fault(409, "alreadyExists", f"Node pool {name} already exists."))
        base = f"projects/{m['p']}/locations/{m['l']}/clusters/{m['c']}"
        pool.update(status="PROVISIONING", selfLink=f"https://container.googleapis.com/v1/{base}/nodePools/{name}")
        pool.setdefault("config", {}).setdefault("metadata", {})
        self.pools[name] = pool
        op_name = f"operation-{next(self._ids)}-{hashlib.sha1(name.encode()).hexdigest()[:8]}"
        op = {
            "name": op_name,
            "zone": m["l"],
            "operationType": "CREATE_NODE_POOL",
            "status": "RUNNING",
            "selfLink": f"https://container.googleapis.com/v1/projects/{m['p']}/locations/{m['l']}/operations/{op_name}",
            "targetLink": pool["selfLink"],
            "location": m["l"],
            "startTime": "2026-12-01T23:50:00.000000Z",
        }
        self._container_ops[op_name] = op
        self._polls_left[op_name] = self.pool_polls
        if self.pool_polls == 0:
            self._finish_pool(op, m["p"])
        return 200, op

    def _finish_pool(self, op: dict[str, Any], project: str) -> None:
        name = op["targetLink"].rsplit("/", 1)[-1]
        pool = self.pools[name]
        op.update(status="DONE", endTime="2026-12-01T23:52:00.000000Z")
        if self._pool_failures:
            code, message = self._pool_failures.pop(0)
            op["error"] = {"code": 8 if "QUOTA" in code else 14, "message": message}
            op["nodepoolConditions"] = [{"code": code, "message": message}]
            pool.update(status="ERROR", statusMessage=message, conditions=[{"code": code, "message": message}])
            return
        zone = pool["locations"][0]
        group = f"gke-cluster-{name}-{hashlib.sha1(name.encode()).hexdigest()[:8]}-grp"
        self.groups[group] = _Group(zone, group, name, pool["config"]["machineType"], bool(pool["config"].get("spot")))
        pool.update(
            status="RUNNING",
            instanceGroupUrls=[f"{COMPUTE}/projects/{project}/zones/{zone}/instanceGroupManagers/{group}"],
        )

    def _getOperation(self, m: dict[str, str], _q: dict[str, str], _b: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        op = self._container_ops.get(m["op"])
        if op is None:
            return self._error(_Fault(404, "notFound", f"operation {m['op']} not found"))
        if op["status"] != "DONE":
            self._polls_left[m["op"]] -= 1
            if self._polls_left[m["op"]] <= 0:
                self._finish_pool(op, m["p"])
        return 200, op

    def _listOperations(self, m: dict[str, str], _q: dict[str, str], _b: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return 200, {"operations": [op for op in self._container_ops.values() if op["location"] == m["l"]]}

    # Compute Engine

    def _zone_operation(self, zone: str, kind: str, target: str) -> dict[str, Any]:
        op_id = str(next(self._ids))
        op = {
            "kind": "compute#operation",
            "id": op_id,
            "name": f"operation-{op_id}",
            "zone": f"{COMPUTE}/projects/luna-test/zones/{zone}",
            "operationType": kind,
            "targetLink": f"{COMPUTE}/projects/luna-test/zones/{target}",
            "status": "RUNNING",
            "progress": 0,
            "insertTime": "2026-12-01T23:55:00.000-08:00",
            "selfLink": f"{COMPUTE}/projects/luna-test/zones/{zone}/operations/operation-{op_id}",
        }
        self._zone_ops[op["name"]] = op
        return op

    def _group(self, m: dict[str, str]) -> _Group | None:
        return self.groups.get(m["g"])

    def _createInstances(
        self, m: dict[str, str], q: dict[str, str], body: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        if q.get("requestId") in self._request_ids:
            return 200, self._request_ids[q["requestId"]]
        group = self._group(m)
        if group is None:
            return self._error(_Fault(404, "notFound", f"The resource 'instanceGroupManagers/{m['g']}' was not found"))
        op = self._zone_operation(
            group.zone,
            "compute.instanceGroupManagers.createInstances",
            f"{group.zone}/instanceGroupManagers/{group.name}",
        )
        for spec in body.get("instances", []):
            name = spec["name"]
            if name in group.instances:
                return self._error(_Fault(409, "alreadyExists", f"The resource '{name}' already exists"))
            mi = {
                "instance": f"{COMPUTE}/projects/{m['p']}/zones/{group.zone}/instances/{name}",
                "name": name,
                "currentAction": "CREATING",
                "version": {"instanceTemplate": f"{COMPUTE}/projects/{m['p']}/global/instanceTemplates/{group.name}"},
            }
            stockout = self._stockouts.get((group.machine_type, group.zone, group.spot))
            if stockout is not None:
                message = f"The zone 'projects/{m['p']}/zones/{group.zone}' does not have enough resources available to fulfill the request."
                error = {"code": "ZONE_RESOURCE_POOL_EXHAUSTED", "message": message}
                mi["lastAttempt"] = {"errors": {"errors": [error]}}
                if stockout:
                    op.update(status="DONE", error={"errors": [error]}, httpErrorStatusCode=503)
            group.instances[name] = mi
        if "requestId" in q:
            self._request_ids[q["requestId"]] = op
        return 200, op

    def _deleteInstances(
        self, m: dict[str, str], q: dict[str, str], body: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        group = self._group(m)
        if group is None:
            return self._error(_Fault(404, "notFound", f"The resource 'instanceGroupManagers/{m['g']}' was not found"))
        for url in body.get("instances", []):
            group.instances.pop(url.rsplit("/", 1)[-1], None)
        op = self._zone_operation(
            group.zone,
            "compute.instanceGroupManagers.deleteInstances",
            f"{group.zone}/instanceGroupManagers/{group.name}",
        )
        op["status"] = "DONE"
        return 200, op

    def _listManagedInstances(
        self, m: dict[str, str], _q: dict[str, str], _b: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        group = self._group(m)
        if group is None:
            return self._error(_Fault(404, "notFound", f"The resource 'instanceGroupManagers/{m['g']}' was not found"))
        return 200, {"managedInstances": [dict(mi) for mi in group.instances.values()]}

    def _getZoneOperation(
        self, m: dict[str, str], _q: dict[str, str], _b: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        op = self._zone_ops.get(m["op"])
        if op is None:
            return self._error(_Fault(404, "notFound", f"The resource 'operations/{m['op']}' was not found"))
        if op["status"] != "DONE":
            op.update(status="DONE", progress=100, endTime="2026-12-01T23:55:02.000-08:00")
        return 200, op

    def _listZoneOperations(
        self, m: dict[str, str], q: dict[str, str], _b: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        wanted = re.search(r'operationType\s*=\s*"?([^"\s]+)"?', q.get("filter", ""))
        items = [
            op
            for op in self._zone_ops.values()
            if op["zone"].endswith(f"/zones/{m['z']}") and (wanted is None or op["operationType"] == wanted.group(1))
        ]
        return 200, {
            "kind": "compute#operationList",
            "id": f"projects/{m['p']}/zones/{m['z']}/operations",
            "items": items,
        }

    # Cloud Billing

    def _listSkus(self, _m: dict[str, str], q: dict[str, str], _b: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        pages = [json.loads(p.read_text()) for p in self.sku_pages]
        token = q.get("pageToken")
        index = next((i + 1 for i, page in enumerate(pages) if page.get("nextPageToken") == token), 0) if token else 0
        page: dict[str, Any] = pages[index]
        return 200, page

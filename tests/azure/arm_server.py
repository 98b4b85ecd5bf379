"""A local HTTP server speaking the part of Azure Resource Manager the AKS provider uses, plus the Retail Prices API.

Real SDK clients (azure-mgmt-containerservice) talk to it over HTTP, so their serialisation, their reading of
`201 + Azure-AsyncOperation` and their error parsing run for real. It keeps one managed cluster's agent pools and
their machines the way AKS does: a PUT answers 201 (new pool) or 200 with `provisioningState` `Creating`/`Scaling`
and an `Azure-AsyncOperation` URL whose status stays `InProgress` until the test finishes the operation
(`finish_operations`) or, with `auto_finish=True`, at its first status check. A finished scale makes or removes
machines (`aks-<pool>-12345678-vmss<base36>`) to match the count; `deleteMachines` removes named machines and
lowers the count. Every request is recorded (`requests`); faults are queued per route (`fail`), per next operation
(`fail_next_operation`) or per VM size (`no_capacity`); `evict` removes a machine as a spot eviction does.
The Retail Prices API is served at `/api/retail/prices` from pages the test gives (`price_pages`).
"""

from __future__ import annotations

import itertools
import json
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from tests.local_server import LocalHttpServer

SUBSCRIPTION = "00000000-1111-2222-3333-444444444444"
RESOURCE_GROUP = "gpu-rg"
CLUSTER = "gpu-aks"
REGION = "eastus"
TOKEN = "fake-token"
_CLUSTER_PATH = (
    f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}/providers/Microsoft.ContainerService/"
    f"managedClusters/{CLUSTER}"
)
_ROUTE = re.compile(
    rf"^{re.escape(_CLUSTER_PATH)}/agentPools(?:/(?P<pool>[^/]+)(?:/(?P<sub>machines|deleteMachines))?)?$",
    re.IGNORECASE,
)
_OPERATION = re.compile(
    r"^/subscriptions/[^/]+/providers/Microsoft\.ContainerService/locations/[^/]+/operations/(?P<id>[^/]+)$"
)
_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"


def base36(n: int, width: int = 6) -> str:
    out = ""
    while n:
        n, d = divmod(n, 36)
        out = _BASE36[d] + out
    return out.rjust(width, "0")


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    body: Any


@dataclass
class Fault:
    status: int
    code: str
    message: str
    retry_after: float | None = None


@dataclass
class Operation:
    id: str
    pool: str
    kind: str  # scale | delete-machines
    machines: tuple[str, ...] = ()
    status: str = "InProgress"
    error: Fault | None = None
    polls: int = 0


@dataclass
class Pool:
    name: str
    properties: dict[str, Any]
    machines: dict[str, int] = field(default_factory=dict)  # name → VMSS instance index
    next_index: int = 0


class RecordingArmServer:
    def __init__(self, *, auto_finish: bool = False) -> None:
        self.auto_finish = auto_finish
        self.requests: list[Recorded] = []
        self.pools: dict[str, Pool] = {}
        self.operations: dict[str, Operation] = {}
        self.price_pages: list[dict[str, Any]] = []
        self.price_faults: list[Fault] = []
        self.exhausted: set[tuple[str, str, str]] = set()  # (vm size, zone or "", priority)
        self.refused: dict[tuple[str, str], Fault] = {}  # (vm size, priority) → the PUT's error answer
        self._faults: dict[str, list[Fault]] = {}
        self._next_operation_faults: list[Fault] = []
        self._ids = itertools.count(1)
        self._lock = threading.RLock()
        self.add_system_pool()
        self._local = LocalHttpServer(self._respond)

    # --- control -----------------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return self._local.url

    def start(self) -> RecordingArmServer:
        self._local.start()
        return self

    def stop(self) -> None:
        self._local.stop()

    def add_system_pool(self) -> None:
        self.pools["nodepool1"] = Pool(
            "nodepool1",
            {"count": 1, "vmSize": "Standard_D4ds_v5", "mode": "System", "provisioningState": "Succeeded"},
        )
        self._grow(self.pools["nodepool1"], 1)

    def fail(
        self, route: str, status: int, code: str, message: str = "injected", retry_after: float | None = None
    ) -> None:
        """Queue an error answer for the next request of `route`: `PUT pool`, `GET pool`, `GET pools`,
        `GET machines`, `POST deleteMachines`, `GET operation`."""
        with self._lock:
            self._faults.setdefault(route, []).append(Fault(status, code, message, retry_after))

    def fail_next_operation(self, code: str, message: str) -> None:
        with self._lock:
            self._next_operation_faults.append(Fault(200, code, message))

    def no_capacity(self, vm_size: str, zone: str, priority: str) -> None:
        """Operations scaling a pool of this size, zone ("" regional) and priority fail: ZonalAllocationFailed
        (zonal) or AllocationFailed (regional), as AKS reports a stock-out."""
        with self._lock:
            self.exhausted.add((vm_size, zone, priority))

    def refuse_put(self, vm_size: str, priority: str, code: str, message: str) -> None:
        """A PUT of a pool of this size and priority is refused at once (409 with this code)."""
        with self._lock:
            self.refused[(vm_size, priority)] = Fault(409, code, message)

    def finish_operations(self) -> None:
        with self._lock:
            for op in self.operations.values():
                if op.status == "InProgress":
                    self._finish(op)

    def evict(self, machine: str) -> None:
        with self._lock:
            for pool in self.pools.values():
                if pool.machines.pop(machine, None) is not None:
                    pool.properties["count"] -= 1

    def operations_of(self, method: str, marker: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and marker in r.path]

    # --- answers ------------------------------------------------------------------------------------------------

    def _respond(
        self, method: str, target: str, headers: Mapping[str, str], raw: bytes
    ) -> tuple[int, Mapping[str, str], bytes]:
        status, extra, payload = self._answer(method, target, headers, raw)
        base = {"Content-Type": "application/json; charset=utf-8", "x-ms-request-id": f"req-{next(self._ids)}"}
        return status, {**base, **extra}, json.dumps(payload).encode() if payload is not None else b""

    def _answer(
        self, method: str, target: str, headers: Mapping[str, str], raw: bytes
    ) -> tuple[int, dict[str, str], Any]:
        split = urlsplit(target)
        query = {k: v[0] for k, v in parse_qs(split.query).items()}
        body = json.loads(raw) if raw else None
        with self._lock:
            self.requests.append(Recorded(method, split.path, query, body))
            if split.path == "/api/retail/prices":
                return self._prices(query)
            if headers.get("Authorization") != f"Bearer {TOKEN}":
                return 401, {}, _error("InvalidAuthenticationToken", "The access token is missing or invalid.")
            if "api-version" not in query:
                return 400, {}, _error("MissingApiVersionParameter", "The api-version query parameter is required.")
            op = _OPERATION.match(split.path)
            if op is not None:
                return self._operation(op["id"])
            m = _ROUTE.match(split.path)
            if m is None:
                return 404, {}, _error("InvalidResourceType", f"no route for {split.path}")
            pool, sub = m["pool"], m["sub"]
            route = {
                ("GET", False, None): "GET pools",
                ("GET", True, None): "GET pool",
                ("PUT", True, None): "PUT pool",
                ("GET", True, "machines"): "GET machines",
                ("POST", True, "deleteMachines"): "POST deleteMachines",
            }.get((method, pool is not None, sub))
            if route is None:
                return 405, {}, _error("MethodNotAllowed", f"{method} {split.path}")
            queued = self._faults.get(route)
            if queued:
                fault = queued.pop(0)
                extra = {"Retry-After": str(int(fault.retry_after))} if fault.retry_after is not None else {}
                return fault.status, extra, _error(fault.code, fault.message)
            if route == "GET pools":
                return 200, {}, {"value": [self._pool_json(p) for p in self.pools.values()]}
            found = self.pools.get(pool or "")
            if route == "PUT pool":
                return self._put(pool or "", body or {}, found)
            if found is None:
                return 404, {}, _error("NotFound", f"agent pool {pool} not found")
            if route == "GET pool":
                return 200, {}, self._pool_json(found)
            if route == "GET machines":
                return 200, {}, {"value": [self._machine_json(found, n) for n in sorted(found.machines)]}
            return self._delete_machines(found, (body or {}).get("machineNames") or [])

    def _put(self, name: str, body: Mapping[str, Any], pool: Pool | None) -> tuple[int, dict[str, str], Any]:
        props = dict(body.get("properties") or {})
        if not re.fullmatch(r"[a-z][a-z0-9]{0,11}", name):
            return 400, {}, _error("InvalidParameter", f"agent pool name {name!r} is invalid")
        if any(k.startswith("kubernetes.azure.com/") for k in props.get("nodeLabels") or {}):
            return 400, {}, _error("InvalidParameter", "nodeLabels with the kubernetes.azure.com prefix are reserved")
        if pool is not None and pool.properties.get("provisioningState") not in ("Succeeded", "Failed"):
            return (
                409,
                {},
                _error(
                    "OperationNotAllowed",
                    f"Operation is not allowed because there's an in progress scale agent pool operation on {name}",
                ),
            )
        for immutable in ("vmSize", "scaleSetPriority", "availabilityZones"):
            if pool is not None and immutable in props and props[immutable] != pool.properties.get(immutable):
                return 400, {}, _error("PropertyChangeNotAllowed", f"Changing property '{immutable}' is not allowed.")
        refused = self.refused.get((str(props.get("vmSize", "")), str(props.get("scaleSetPriority") or "Regular")))
        if refused is not None:
            return refused.status, {}, _error(refused.code, refused.message)
        created = pool is None
        if pool is None:
            pool = self.pools[name] = Pool(name, {})
        state = "Creating" if created else "Scaling"
        pool.properties = {**pool.properties, **props, "provisioningState": state}
        pool.properties.pop("status", None)
        op = self._start(name, "scale")
        return (201 if created else 200), self._async_headers(op), self._pool_json(pool)

    def _delete_machines(self, pool: Pool, names: list[str]) -> tuple[int, dict[str, str], Any]:
        missing = [n for n in names if n not in pool.machines]
        if missing:
            return 400, {}, _error("InvalidParameter", f"machines {missing} are not in agent pool {pool.name}")
        pool.properties["provisioningState"] = "Scaling"
        op = self._start(pool.name, "delete-machines", tuple(names))
        return 202, {**self._async_headers(op), "Location": self._operation_url(op) + "&type=result"}, None

    def _start(self, pool: str, kind: str, machines: tuple[str, ...] = ()) -> Operation:
        op = Operation(f"op-{next(self._ids):04d}", pool, kind, machines)
        if self._next_operation_faults:
            op.error = self._next_operation_faults.pop(0)
        self.operations[op.id] = op
        return op

    def _operation_url(self, op: Operation) -> str:
        return (
            f"{self.url}/subscriptions/{SUBSCRIPTION}/providers/Microsoft.ContainerService/locations/{REGION}/"
            f"operations/{op.id}?api-version=2017-08-31"
        )

    def _async_headers(self, op: Operation) -> dict[str, str]:
        return {"Azure-AsyncOperation": self._operation_url(op), "Retry-After": "0"}

    def _operation(self, op_id: str) -> tuple[int, dict[str, str], Any]:
        queued = self._faults.get("GET operation")
        if queued:
            fault = queued.pop(0)
            return fault.status, {}, _error(fault.code, fault.message)
        op = self.operations.get(op_id)
        if op is None:
            return 404, {}, _error("NotFound", f"operation {op_id} not found")
        op.polls += 1
        if op.status == "InProgress" and self.auto_finish:
            self._finish(op)
        doc: dict[str, Any] = {"name": op.id, "status": op.status, "startTime": "2026-11-28T12:00:00.0000000Z"}
        if op.status == "Failed" and op.error is not None:
            doc["error"] = {
                "code": op.error.code,
                "message": op.error.message,
                "details": [{"code": op.error.code.split(".")[-1], "message": op.error.message}],
            }
        elif op.status == "InProgress":
            return 200, {"Retry-After": "0"}, doc
        doc["endTime"] = "2026-11-28T12:03:00.0000000Z"
        return 200, {}, doc

    def _finish(self, op: Operation) -> None:
        pool = self.pools.get(op.pool)
        if pool is None:
            op.status = "Succeeded"
            return
        props = pool.properties
        zone = (props.get("availabilityZones") or [""])[0]
        exhausted = (props.get("vmSize", ""), zone, props.get("scaleSetPriority") or "Regular") in self.exhausted
        if op.error is None and exhausted and op.kind == "scale" and props.get("count", 0) > len(pool.machines):
            code = "ZonalAllocationFailed" if zone else "AllocationFailed"
            op.error = Fault(
                200,
                code,
                f'Code="{code}" Message="Allocation failed. We do not have sufficient capacity for the requested VM '
                f"size {props.get('vmSize')} in zone {zone or '(none)'}. Read more about improving likelihood of "
                'allocation success at http://aka.ms/allocation-guidance"',
            )
        if op.error is not None:
            op.status = "Failed"
            props["provisioningState"] = "Failed"
            props["status"] = {"provisioningError": {"code": op.error.code, "message": op.error.message}}
            return
        if op.kind == "delete-machines":
            for name in op.machines:
                pool.machines.pop(name, None)
            props["count"] = len(pool.machines)
        else:
            self._grow(pool, int(props.get("count", 0)))
        op.status = "Succeeded"
        props["provisioningState"] = "Succeeded"

    @staticmethod
    def _grow(pool: Pool, count: int) -> None:
        while len(pool.machines) < count:
            pool.machines[f"aks-{pool.name}-12345678-vmss{base36(pool.next_index)}"] = pool.next_index
            pool.next_index += 1
        for name in sorted(pool.machines, reverse=True)[: max(0, len(pool.machines) - count)]:
            del pool.machines[name]

    def _pool_json(self, pool: Pool) -> dict[str, Any]:
        props = {
            "orchestratorVersion": "1.31.2",
            "currentOrchestratorVersion": "1.31.2",
            "nodeImageVersion": "AKSUbuntu-2204gen2containerd-202511.07.0",
            "powerState": {"code": "Running"},
            "osType": "Linux",
            "type": "VirtualMachineScaleSets",
            "eTag": f"etag-{len(self.requests)}",
            **pool.properties,
        }
        return {
            "id": f"{_CLUSTER_PATH}/agentPools/{pool.name}",
            "name": pool.name,
            "type": "Microsoft.ContainerService/managedClusters/agentPools",
            "properties": props,
        }

    def _machine_json(self, pool: Pool, name: str) -> dict[str, Any]:
        index = pool.machines[name]
        vmss = f"aks-{pool.name}-12345678-vmss"
        resource_id = (
            f"/subscriptions/{SUBSCRIPTION}/resourceGroups/MC_{RESOURCE_GROUP}_{CLUSTER}_{REGION}/providers/"
            f"Microsoft.Compute/virtualMachineScaleSets/{vmss}/virtualMachines/{index}"
        )
        doc: dict[str, Any] = {
            "id": f"{_CLUSTER_PATH}/agentPools/{pool.name}/machines/{name}",
            "name": name,
            "type": "Microsoft.ContainerService/managedClusters/agentPools/machines",
            "properties": {
                "resourceId": resource_id,
                "network": {"ipAddresses": [{"family": "IPv4", "ip": f"10.224.0.{4 + index}"}]},
            },
        }
        if pool.properties.get("availabilityZones"):
            doc["zones"] = list(pool.properties["availabilityZones"])
        return doc

    def _prices(self, query: Mapping[str, str]) -> tuple[int, dict[str, str], Any]:
        if self.price_faults:
            fault = self.price_faults.pop(0)
            return fault.status, {}, _error(fault.code, fault.message)
        index = int(query.get("$skip", "0")) // 1000 if "$skip" in query else 0
        if index >= len(self.price_pages):
            return 200, {}, {"BillingCurrency": "USD", "Items": [], "NextPageLink": None, "Count": 0}
        page = dict(self.price_pages[index])
        if index + 1 < len(self.price_pages):
            page["NextPageLink"] = (
                f"{self.url}/api/retail/prices?$filter={quote(query.get('$filter', ''))}&$skip={1000 * (index + 1)}"
            )
        else:
            page["NextPageLink"] = None
        return 200, {}, page


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}

"""A local HTTP server speaking enough OCI for the provider: Compute (instances, boot volume attachments), Work
Requests, Identity (availability domains), Container Engine (clusters) and the public price list. The real oci SDK
clients talk to it over HTTP (signed requests, JSON in OCI's camelCase, `opc-next-page` pagination), so their
serialisation, pagination and error parsing run for real. Every request is recorded.

Realistic behaviour it reproduces: `launch_instance` answers at once with a PROVISIONING instance and an
`opc-work-request-id`; the same `opc-retry-token` returns the same instance; a stock-out is HTTP 500 InternalError
"Out of host capacity." (at once, or later as the work request's error with the instance TERMINATED); limits
are HTTP 400 LimitExceeded; `fail(operation, status, code, message)` queues any error answer.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from tests.local_server import LocalHttpServer

FIXTURES = Path(__file__).parent / "fixtures"
REGION = "us-sanjose-1"
AVAILABILITY_DOMAINS = ("Uocm:US-SANJOSE-1-AD-1", "Uocm:US-SANJOSE-1-AD-2")
PAGE_SIZE = 2  # small, so that listing always pages
_VERSION = re.compile(r"^/20\d{6}")


@dataclass
class Recorded:
    method: str
    operation: str
    path: str
    query: dict[str, str]
    body: Any
    headers: dict[str, str]


@dataclass
class _Fault:
    status: int
    code: str
    message: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class OciState:
    """What the fake cloud holds; tests change it between calls."""

    instances: dict[str, dict[str, Any]] = field(default_factory=dict)
    work_requests: dict[str, dict[str, Any]] = field(default_factory=dict)
    work_request_errors: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    retry_tokens: dict[str, str] = field(default_factory=dict)
    boot_volumes: set[str] = field(default_factory=set)  # instance ids with a boot volume attached
    no_capacity: set[tuple[str, str, str]] = field(default_factory=set)  # (shape, zone, capacity): refused at once
    no_capacity_later: set[tuple[str, str, str]] = field(default_factory=set)  # found by the work request
    launch_work_request_status: str = "IN_PROGRESS"
    price_pages: list[Path] = field(default_factory=lambda: sorted(FIXTURES.glob("oci_products_page*.json")))


class RecordingOciServer:
    def __init__(self, clock: Callable[[], datetime]) -> None:
        self.clock = clock
        self.state = OciState()
        self.requests: list[Recorded] = []
        self._faults: dict[str, list[_Fault]] = {}
        self._lock = threading.Lock()
        self._serial = 0
        server = self

        def respond(
            method: str, path: str, headers: Mapping[str, str], raw: bytes
        ) -> tuple[int, dict[str, str], bytes]:
            status, extra, payload = server._answer(method, path, dict(headers), raw)
            body = json.dumps(payload).encode() if payload is not None else b""
            return (
                status,
                {"Content-Type": "application/json", "opc-request-id": f"req-{len(server.requests)}", **extra},
                body,
            )

        self._http = LocalHttpServer(respond)

    # --- lifecycle --------------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return self._http.url

    @property
    def price_list_url(self) -> str:
        return f"{self.url}/pls/apex/cetools/api/v1/products/"

    def start(self) -> RecordingOciServer:
        self._http.start()
        return self

    def stop(self) -> None:
        self._http.stop()

    # --- test controls ----------------------------------------------------------------------------------------

    def fail(self, operation: str, status: int, code: str, message: str = "", **headers: str) -> None:
        """The next call of `operation` (e.g. `LaunchInstance`) answers this error."""
        with self._lock:
            self._faults.setdefault(operation, []).append(_Fault(status, code, message or code, headers))

    def calls(self, operation: str) -> list[Recorded]:
        return [r for r in self.requests if r.operation == operation]

    def set_state(self, instance_id: str, lifecycle_state: str) -> None:
        with self._lock:
            self.state.instances[instance_id]["lifecycleState"] = lifecycle_state
            if lifecycle_state == "RUNNING":
                self.state.boot_volumes.add(instance_id)

    def finish_work_request(self, instance_id: str, status: str, message: str = "") -> None:
        with self._lock:
            wr = next(w for w in self.state.work_requests.values() if w["resources"][0]["identifier"] == instance_id)
            wr["status"] = status
            if message:
                self.state.work_request_errors[wr["id"]] = [
                    {"code": "InternalError", "message": message, "timestamp": self._now()}
                ]

    # --- dispatch ---------------------------------------------------------------------------------------------

    def _now(self) -> str:
        return self.clock().isoformat().replace("+00:00", "Z")

    def _next_id(self, kind: str) -> str:
        self._serial += 1
        return f"ocid1.{kind}.oc1.sjc.{self._serial:024x}"

    def _answer(
        self, method: str, raw_path: str, headers: dict[str, str], raw: bytes
    ) -> tuple[int, dict[str, str], Any]:
        parsed = urlparse(raw_path)
        path = _VERSION.sub("", parsed.path).rstrip("/") or "/"
        query = {k: v[0] for k, v in parse_qs(parsed.query).items()}
        body = json.loads(raw) if raw else None
        operation = _operation(method, path)
        with self._lock:
            self.requests.append(Recorded(method, operation, path, query, body, headers))
            queued = self._faults.get(operation)
            if queued:
                f = queued.pop(0)
                return f.status, f.headers, {"code": f.code, "message": f.message}
            return self._route(operation, path, query, headers, body)

    def _route(
        self, operation: str, path: str, query: dict[str, str], headers: dict[str, str], body: Any
    ) -> tuple[int, dict[str, str], Any]:
        if operation == "LaunchInstance":
            return self._launch(headers, body)
        if operation == "ListInstances":
            items = [
                i
                for i in self.state.instances.values()
                if i["compartmentId"] == query.get("compartmentId")
                and ("displayName" not in query or i["displayName"] == query["displayName"])
            ]
            return self._page(items, query)
        if operation == "TerminateInstance":
            instance = self.state.instances.get(path.rsplit("/", 1)[1])
            if instance is None or instance["lifecycleState"] == "TERMINATED":
                return (
                    404,
                    {},
                    {
                        "code": "NotAuthorizedOrNotFound",
                        "message": "Authorization failed or requested resource not found.",
                    },
                )
            instance["lifecycleState"] = "TERMINATING"
            return 204, {}, None
        if operation == "ListBootVolumeAttachments":
            instance_id = query.get("instanceId", "")
            attached = [
                {
                    "id": f"ocid1.bootvolumeattachment.oc1.sjc.{instance_id[-8:]}",
                    "availabilityDomain": query.get("availabilityDomain"),
                    "bootVolumeId": f"ocid1.bootvolume.oc1.sjc.{instance_id[-8:]}",
                    "compartmentId": query.get("compartmentId"),
                    "instanceId": instance_id,
                    "lifecycleState": "ATTACHED",
                    "timeCreated": self._now(),
                }
                for _ in [0]
                if instance_id in self.state.boot_volumes
            ]
            return self._page(attached, query)
        if operation == "GetWorkRequest":
            wr = self.state.work_requests.get(path.rsplit("/", 1)[1])
            return (200, {}, wr) if wr else (404, {}, {"code": "NotFound", "message": "no such work request"})
        if operation == "ListWorkRequestErrors":
            return self._page(self.state.work_request_errors.get(path.split("/")[2], []), query)
        if operation == "ListAvailabilityDomains":
            ads = [
                {"name": n, "id": f"ocid1.availabilitydomain.{i}", "compartmentId": query.get("compartmentId")}
                for i, n in enumerate(AVAILABILITY_DOMAINS)
            ]
            return 200, {}, ads
        if operation == "GetCluster":
            cluster_id = path.rsplit("/", 1)[1]
            return (
                200,
                {},
                {
                    "id": cluster_id,
                    "name": "oke-cluster",
                    "kubernetesVersion": "v1.31.1",
                    "lifecycleState": "ACTIVE",
                    "endpoints": {"kubernetes": "", "privateEndpoint": "10.0.0.10:6443", "publicEndpoint": ""},
                },
            )
        if operation == "ListProducts":
            return self._price_page(query)
        return 404, {}, {"code": "NotFound", "message": f"no route for {path}"}

    def _page(self, items: list[Any], query: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        start = int(query.get("page", "0"))
        page = items[start : start + PAGE_SIZE]
        more = start + PAGE_SIZE < len(items)
        return 200, ({"opc-next-page": str(start + PAGE_SIZE)} if more else {}), page

    def _price_page(self, query: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        index = int(query.get("offset", "0") or 0)
        pages = self.state.price_pages
        doc = json.loads(pages[index].read_text())
        if index + 1 < len(pages):
            doc["hasMore"] = True
            doc["links"] = [{"rel": "next", "href": f"{self.price_list_url}?currencyCode=USD&offset={index + 1}"}]
        return 200, {}, doc

    def _launch(self, headers: dict[str, str], body: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
        token = headers.get("opc-retry-token", "")
        if token and token in self.state.retry_tokens:
            instance_id = self.state.retry_tokens[token]
            wr = next(w for w in self.state.work_requests.values() if w["resources"][0]["identifier"] == instance_id)
            return 200, {"opc-work-request-id": wr["id"]}, self.state.instances[instance_id]
        zone = body["availabilityDomain"].rpartition(":")[2]
        shape_key = body["shape"]
        if body.get("shapeConfig"):
            shape_key += f".{round(body['shapeConfig']['ocpus'])}o.{round(body['shapeConfig']['memoryInGBs'])}g"
        capacity = "spot" if body.get("preemptibleInstanceConfig") else "on-demand"
        if (shape_key, zone, capacity) in self.state.no_capacity:
            return 500, {}, {"code": "InternalError", "message": "Out of host capacity."}
        instance_id = self._next_id("instance")
        instance = {
            "id": instance_id,
            "availabilityDomain": body["availabilityDomain"],
            "faultDomain": body.get("faultDomain") or "FAULT-DOMAIN-1",
            "compartmentId": body["compartmentId"],
            "displayName": body["displayName"],
            "shape": body["shape"],
            "shapeConfig": body.get("shapeConfig"),
            "freeformTags": body.get("freeformTags") or {},
            "definedTags": {},
            "metadata": body.get("metadata") or {},
            "preemptibleInstanceConfig": body.get("preemptibleInstanceConfig"),
            "lifecycleState": "PROVISIONING",
            "region": "sjc",
            "imageId": body["sourceDetails"]["imageId"],
            "sourceDetails": body["sourceDetails"],
            "timeCreated": self._now(),
        }
        wr_id = self._next_id("coreservicesworkrequest")
        status = self.state.launch_work_request_status
        if (shape_key, zone, capacity) in self.state.no_capacity_later:
            status = "FAILED"
            instance["lifecycleState"] = "TERMINATED"
            self.state.work_request_errors[wr_id] = [
                {"code": "InternalError", "message": "Out of host capacity.", "timestamp": self._now()}
            ]
        self.state.instances[instance_id] = instance
        self.state.work_requests[wr_id] = {
            "id": wr_id,
            "operationType": "LaunchInstance",
            "status": status,
            "compartmentId": body["compartmentId"],
            "percentComplete": 0.0,
            "resources": [
                {
                    "entityType": "instance",
                    "actionType": "CREATED",
                    "identifier": instance_id,
                    "entityUri": f"/20160918/instances/{instance_id}",
                }
            ],
            "timeAccepted": self._now(),
        }
        if token:
            self.state.retry_tokens[token] = instance_id
        return 200, {"opc-work-request-id": wr_id, "etag": "1"}, instance


def _operation(method: str, path: str) -> str:
    routes = [
        ("POST", r"^/instances$", "LaunchInstance"),
        ("GET", r"^/instances$", "ListInstances"),
        ("DELETE", r"^/instances/[^/]+$", "TerminateInstance"),
        ("GET", r"^/bootVolumeAttachments$", "ListBootVolumeAttachments"),
        ("GET", r"^/workRequests/[^/]+$", "GetWorkRequest"),
        ("GET", r"^/workRequests/[^/]+/errors$", "ListWorkRequestErrors"),
        ("GET", r"^/availabilityDomains$", "ListAvailabilityDomains"),
        ("GET", r"^/clusters/[^/]+$", "GetCluster"),
        ("GET", r"^/pls/apex/cetools/api/v1/products$", "ListProducts"),
    ]
    for m, pattern, name in routes:
        if m == method and re.match(pattern, path):
            return name
    return f"{method} {path}"

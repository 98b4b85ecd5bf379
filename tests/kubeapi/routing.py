"""URL → what is asked for: a discovery document, or a resource (collection or object, maybe a subresource).

Also derives the RBAC verb of a request (get, list, watch, create, update, patch, delete, deletecollection), the
same way the real API server's request-info resolver does, so tests can compare what an adapter really calls with
the permissions it declares.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from tests.kubeapi.resources import ResourceType, resource_at


@dataclass(frozen=True, slots=True)
class Target:
    resource: ResourceType
    namespace: str | None  # None: across all namespaces (or a cluster-scoped resource)
    name: str | None
    subresource: str | None

    @property
    def rbac_resource(self) -> str:
        return f"{self.resource.plural}/{self.subresource}" if self.subresource else self.resource.plural


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str
    query: dict[str, str]
    target: Target | None  # None: discovery or an unknown path
    discovery: tuple[str, ...] | None  # the path split, for discovery documents

    @property
    def is_watch(self) -> bool:
        return self.query.get("watch", "").lower() in ("true", "1")

    @property
    def verb(self) -> str:
        named = self.target is not None and self.target.name is not None
        match self.method:
            case "GET":
                if named:
                    return "get"
                return "watch" if self.is_watch else "list"
            case "POST":
                return "create"
            case "PUT":
                return "update"
            case "PATCH":
                return "patch"
            case "DELETE":
                return "delete" if named else "deletecollection"
        return self.method.lower()


def parse(method: str, raw_path: str) -> Request:
    split = urlsplit(raw_path)
    query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
    parts = tuple(p for p in split.path.split("/") if p)
    target = _target(parts)
    return Request(method, split.path, query, target, None if target else parts)


def _target(parts: tuple[str, ...]) -> Target | None:
    if parts[:2] == ("api", "v1"):
        group, version, rest = "", "v1", parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    namespace = None
    if len(rest) >= 3 and rest[0] == "namespaces" and rest[2] not in ("status", "finalize"):
        namespace, rest = rest[1], rest[2:]
    if not rest or len(rest) > 3:
        return None
    resource = resource_at(group, version, rest[0])
    if resource is None:
        return None
    name = rest[1] if len(rest) > 1 else None
    sub = rest[2] if len(rest) > 2 else None
    return Target(resource, namespace, name, sub)

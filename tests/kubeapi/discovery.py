"""Discovery documents (`/version`, `/api`, `/apis`, `/api/v1`, `/apis/<group>/<version>`) built from the
resource table, so clients that discover before they call (kubectl-style tools, the dynamic client) work."""

from __future__ import annotations

from typing import Any

from tests.kubeapi.resources import ResourceType, groups, in_group_version

VERSION = {
    "major": "1",
    "minor": "31",
    "gitVersion": "v1.31.0-luna-fake",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2024-08-13T00:00:00Z",
    "goVersion": "go1.22.5",
    "compiler": "gc",
    "platform": "linux/amd64",
}

_VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]


def _group_entry(name: str, versions: list[str]) -> dict[str, Any]:
    entries = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": entries, "preferredVersion": entries[0]}


def _resource_entries(rt: ResourceType) -> list[dict[str, Any]]:
    out = [
        {
            "name": rt.plural,
            "singularName": rt.kind.lower(),
            "namespaced": rt.namespaced,
            "kind": rt.kind,
            "verbs": _VERBS,
        }
    ]
    for sub in sorted(rt.subresources):
        if sub == "eviction":
            out.append(
                {
                    "name": f"{rt.plural}/eviction",
                    "singularName": "",
                    "namespaced": True,
                    "group": "policy",
                    "version": "v1",
                    "kind": "Eviction",
                    "verbs": ["create"],
                }
            )
        else:
            out.append(
                {
                    "name": f"{rt.plural}/{sub}",
                    "singularName": "",
                    "namespaced": rt.namespaced,
                    "kind": rt.kind,
                    "verbs": ["get", "patch", "update"],
                }
            )
    return out


def document(parts: tuple[str, ...]) -> dict[str, Any] | None:
    """The discovery document at this path, or None if there is none."""
    if parts == ("version",):
        return VERSION
    if parts == ("api",):
        return {
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}],
        }
    if parts == ("apis",):
        return {
            "kind": "APIGroupList",
            "apiVersion": "v1",
            "groups": [_group_entry(g, v) for g, v in sorted(groups().items())],
        }
    if len(parts) == 2 and parts[0] == "apis" and parts[1] in groups():
        return {"kind": "APIGroup", "apiVersion": "v1", **_group_entry(parts[1], groups()[parts[1]])}
    if parts == ("api", "v1") or (len(parts) == 3 and parts[0] == "apis"):
        group, version = ("", "v1") if parts[0] == "api" else (parts[1], parts[2])
        served = in_group_version(group, version)
        if not served:
            return None
        return {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": served[0].api_version,
            "resources": [e for rt in served for e in _resource_entries(rt)],
        }
    return None

"""The fake API server itself, driven by the official client: the semantics the adapter tests rely on."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import urllib3
from kubernetes import client as k8s
from kubernetes import watch

from tests.kubeapi import FakeApiServer, Fault
from tests.kubeapi.objects import node, pdb, pod

Api = k8s.CoreV1Api


@pytest.fixture
def server() -> Iterator[FakeApiServer]:
    with FakeApiServer() as fake:
        yield fake
        assert not fake.internal_errors, fake.internal_errors


@pytest.fixture
def core(server: FakeApiServer) -> Iterator[k8s.CoreV1Api]:
    c = server.client()
    yield k8s.CoreV1Api(c)
    c.close()


def _names(items: Any) -> list[str]:
    return [i.metadata.name for i in items.items]


def _raw(response: Any) -> Any:
    return json.loads(response.data)


def test_label_and_field_selectors(server: FakeApiServer, core: Api) -> None:
    server.create(pod("a", labels={"app": "web", "tier": "front"}, node_name="n1"))
    server.create(pod("b", labels={"app": "web"}, unschedulable=True))
    server.create(pod("c", labels={"app": "db"}, phase="Succeeded"))
    server.create(pod("d", "other"))

    def pods(**kw: str) -> list[str]:
        return _names(core.list_pod_for_all_namespaces(**kw))  # type: ignore[arg-type]

    assert pods(label_selector="app=web") == ["a", "b"]
    assert pods(label_selector="app!=web") == ["c", "d"]
    assert pods(label_selector="app in (db, cache)") == ["c"]
    assert pods(label_selector="app notin (web),tier") == []
    assert pods(label_selector="app,!tier") == ["b", "c"]
    assert pods(field_selector="spec.nodeName=n1") == ["a"]
    assert pods(field_selector="status.phase!=Succeeded,status.phase!=Failed") == ["a", "b", "d"]
    assert _names(core.list_namespaced_pod("other", field_selector="metadata.name=d")) == ["d"]
    with pytest.raises(k8s.ApiException) as info:
        pods(field_selector="spec.priority=1")
    assert info.value.status == 400 and "field label not supported" in str(info.value.body)


def test_paginated_lists_are_one_consistent_snapshot(server: FakeApiServer, core: Api) -> None:
    for i in range(7):
        server.create(pod(f"p{i}"))
    first = core.list_namespaced_pod("default", limit=3)
    server.create(pod("p9"))  # after the first page: not part of this list
    server.delete("Pod", "p5")
    second = core.list_namespaced_pod("default", limit=3, _continue=first.metadata._continue)
    third = core.list_namespaced_pod("default", limit=3, _continue=second.metadata._continue)
    assert _names(first) + _names(second) + _names(third) == [f"p{i}" for i in range(7)]
    assert first.metadata.remaining_item_count == 4 and third.metadata._continue is None
    assert first.metadata.resource_version == third.metadata.resource_version


def _collect(core: Api, server: FakeApiServer, events: list[tuple[str, str]], **kw: Any) -> threading.Thread:
    def run() -> None:
        for e in watch.Watch().stream(core.list_namespaced_pod, "default", **kw):
            events.append((e["type"], e["object"].metadata.name))

    thread = threading.Thread(target=run)
    thread.start()
    assert server.wait_for_watches("pods")
    return thread


def test_watch_replays_from_a_version_and_follows_selector_transitions(server: FakeApiServer, core: Api) -> None:
    server.create(pod("a", labels={"app": "web"}))
    start = server.store.resource_version
    server.create(pod("b", labels={"app": "web"}))
    events: list[tuple[str, str]] = []
    thread = _collect(core, server, events, label_selector="app=web", resource_version=str(start), timeout_seconds=1)
    server.patch("Pod", "a", {"metadata": {"labels": {"app": "db"}}})  # leaves the selection
    server.patch("Pod", "a", {"metadata": {"labels": {"app": "web"}}})  # comes back
    server.patch("Pod", "b", {"status": {"phase": "Running"}})
    server.delete("Pod", "b")
    thread.join(5.0)
    assert events == [("ADDED", "b"), ("DELETED", "a"), ("ADDED", "a"), ("MODIFIED", "b"), ("DELETED", "b")]


def test_watch_from_zero_starts_with_the_current_objects(server: FakeApiServer, core: Api) -> None:
    server.create(pod("a"))
    events: list[tuple[str, str]] = []
    thread = _collect(core, server, events, timeout_seconds=1)
    server.create(pod("b"))
    thread.join(5.0)
    assert events == [("ADDED", "a"), ("ADDED", "b")]


def test_watch_from_a_compacted_version_is_410(server: FakeApiServer, core: Api) -> None:
    server.create(pod("a"))
    old = server.store.resource_version
    server.create(pod("b"))
    server.compact()
    response = core.list_namespaced_pod("default", watch=True, resource_version=str(old), _preload_content=False)
    (line,) = response.data.decode().splitlines()
    event = json.loads(line)
    assert event["type"] == "ERROR" and event["object"]["code"] == 410 and event["object"]["reason"] == "Expired"


def test_history_is_bounded() -> None:
    with FakeApiServer(history=3) as small:
        c = small.client()
        for i in range(5):
            small.create(pod(f"p{i}"))
        response = k8s.CoreV1Api(c).list_namespaced_pod(
            "default", watch=True, resource_version="1", timeout_seconds=1, _preload_content=False
        )
        assert json.loads(response.data.decode().splitlines()[0])["object"]["code"] == 410
        c.close()


def test_dropped_watch_ends_without_the_final_chunk(server: FakeApiServer, core: Api) -> None:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            for _ in watch.Watch().stream(core.list_namespaced_pod, "default", timeout_seconds=30):
                pass
        except (urllib3.exceptions.HTTPError, OSError) as e:
            errors.append(e)

    thread = threading.Thread(target=run)
    thread.start()
    assert server.wait_for_watches("pods")
    assert server.drop_watches() == 1
    thread.join(5.0)
    assert not thread.is_alive() and isinstance(errors[0], urllib3.exceptions.ProtocolError)


def test_optimistic_concurrency_and_patches(server: FakeApiServer, core: Api) -> None:
    server.create(node("n1", taints=[{"key": "a", "effect": "NoSchedule"}]))
    stale = core.read_node("n1")
    core.patch_node("n1", {"metadata": {"labels": {"x": "1"}}})
    with pytest.raises(k8s.ApiException) as info:
        core.replace_node("n1", stale)
    assert info.value.status == 409

    # strategic merge: taints are replaced, conditions merge by type; merge patch: null deletes
    core.patch_node("n1", {"spec": {"taints": [{"key": "b", "effect": "NoExecute"}]}})
    core.patch_node_status("n1", {"status": {"conditions": [{"type": "Ready", "status": "False"}]}})
    core.patch_node("n1", {"metadata": {"labels": {"x": None}}}, _content_type="application/merge-patch+json")
    stored = server.get("Node", "n1")
    assert stored["spec"]["taints"] == [{"key": "b", "effect": "NoExecute"}]
    assert [(c["type"], c["status"]) for c in stored["status"]["conditions"]] == [
        ("MemoryPressure", "False"),
        ("Ready", "False"),
    ]
    assert "x" not in stored["metadata"]["labels"]

    # JSON patch, with a failing test op → 422; a stale resourceVersion in a patch → 409
    core.patch_node("n1", [{"op": "add", "path": "/spec/unschedulable", "value": True}])
    with pytest.raises(k8s.ApiException) as info:
        core.patch_node("n1", [{"op": "test", "path": "/spec/unschedulable", "value": False}])
    assert info.value.status == 422
    with pytest.raises(k8s.ApiException) as info:
        core.patch_node("n1", {"metadata": {"resourceVersion": "1"}, "spec": {"unschedulable": False}})
    assert info.value.status == 409
    assert server.get("Node", "n1")["spec"]["unschedulable"] is True


def test_status_is_a_separate_subresource(server: FakeApiServer, core: Api) -> None:
    server.create(pod("p", unschedulable=True))
    core.patch_namespaced_pod("p", "default", {"status": {"phase": "Running"}, "metadata": {"labels": {"l": "1"}}})
    core.patch_namespaced_pod_status("p", "default", {"status": {"phase": "Failed"}, "spec": {"nodeName": "n9"}})
    stored = server.get("Pod", "p")
    assert stored["status"]["phase"] == "Failed" and stored["metadata"]["labels"] == {"l": "1"}
    assert "nodeName" not in stored["spec"]


def test_eviction_honours_pdbs_and_preconditions(server: FakeApiServer, core: Api) -> None:
    for name in ("a", "b", "c"):
        server.create(pod(name, labels={"app": "web"}, node_name="n1"))
    server.create(pdb("web", match_labels={"app": "web"}, disruptions_allowed=1))

    def evict(name: str, uid: str | None = None) -> int:
        body: dict[str, Any] = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name}}
        if uid:
            body["deleteOptions"] = {"preconditions": {"uid": uid}}
        try:
            return int(core.create_namespaced_pod_eviction(name, "default", body, _preload_content=False).status)
        except k8s.ApiException as e:
            return int(e.status)

    assert evict("b", uid="not-its-uid") == 409
    assert evict("a") == 201 and not server.exists("Pod", "a")
    assert server.get("PodDisruptionBudget", "web")["status"]["disruptionsAllowed"] == 0
    assert evict("b") == 429 and server.exists("Pod", "b")
    assert evict("a") == 404
    server.create(pdb("web-too", match_labels={"app": "web"}, disruptions_allowed=5))
    assert evict("c") == 500  # two budgets for one pod: the API server refuses


def test_events_and_leases(server: FakeApiServer) -> None:
    c = server.client()
    events = k8s.EventsV1Api(c)
    body = {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {"generateName": "p."},
        "eventTime": "2025-01-01T00:00:00.000001Z",
        "reportingController": "c",
        "reportingInstance": "i",
        "action": "A",
        "reason": "R",
        "regarding": {"kind": "Pod", "name": "p", "namespace": "default"},
    }
    created = events.create_namespaced_event("default", body)
    assert created.metadata.name.startswith("p.") and len(created.metadata.name) == 7
    with pytest.raises(k8s.ApiException) as info:
        events.create_namespaced_event("default", {**body, "eventTime": "2025-01-01T00:00:00Z"})
    assert info.value.status == 400  # MicroTime needs its six fraction digits, as on a real server
    with pytest.raises(k8s.ApiException) as info:
        events.create_namespaced_event("default", {k: v for k, v in body.items() if k != "reportingController"})
    assert info.value.status == 422

    leases = k8s.CoordinationV1Api(c)
    lease = {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "l"},
        "spec": {"holderIdentity": "x"},
    }
    leases.create_namespaced_lease("ns", lease)
    with pytest.raises(k8s.ApiException) as info:
        leases.create_namespaced_lease("ns", lease)
    assert info.value.status == 409 and "AlreadyExists" in str(info.value.body)
    c.close()


def test_discovery_and_version(server: FakeApiServer) -> None:
    c = server.client()
    assert k8s.VersionApi(c).get_code().git_version == "v1.31.0-luna-fake"
    core_resources = {r.name for r in k8s.CoreV1Api(c).get_api_resources().resources}
    assert {"pods", "pods/eviction", "pods/status", "nodes", "nodes/status", "configmaps", "events"} <= core_resources
    groups = {g.name for g in k8s.ApisApi(c).get_api_versions().groups}
    assert groups == {"apps", "policy", "coordination.k8s.io", "events.k8s.io"} | {
        "scheduling.run.ai",
        "scheduling.x-k8s.io",
        "scheduling.volcano.sh",
        "kueue.x-k8s.io",
        "autoscaling.x-k8s.io",
    }
    lease_resources = k8s.CoordinationV1Api(c).get_api_resources()
    assert [r.name for r in lease_resources.resources] == ["leases"]
    c.close()


def test_faults_errors_latency_and_records(server: FakeApiServer, core: Api) -> None:
    server.create(node("n1"))
    flaky = server.inject(Fault(path=r"^/api/v1/nodes$", status=500, times=2))
    throttle = server.inject(Fault(path=r"/nodes/n1$", method="GET", status=429, retry_after_seconds=3, times=1))
    for _ in range(2):
        with pytest.raises(k8s.ApiException) as info:
            core.list_node()
        assert info.value.status == 500
    assert _names(core.list_node()) == ["n1"] and flaky.hits == 2
    with pytest.raises(k8s.ApiException) as info:
        core.read_node("n1", _preload_content=False)
    assert info.value.status == 429 and info.value.headers["Retry-After"] == "3" and throttle.hits == 1
    server.inject(Fault(path=r"/nodes/n1$", delay_seconds=0.5, times=1))
    with pytest.raises(urllib3.exceptions.MaxRetryError) as timeout:
        core.read_node("n1", _request_timeout=0.1)
    assert isinstance(timeout.value.reason, urllib3.exceptions.ReadTimeoutError)
    calls = [(r.verb, r.resource, r.status) for r in server.requests]
    assert calls[:3] == [("list", "nodes", 500), ("list", "nodes", 500), ("list", "nodes", 200)]
    assert ("get", "nodes", 429) in calls

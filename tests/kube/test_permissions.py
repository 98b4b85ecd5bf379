"""API_CALLS (what the deploy helper turns into RBAC rules) is exactly what the adapter calls.

The whole adapter runs against the fake API server, which records the (group, resource, verb) of every request it
receives; the set must equal API_CALLS. Every other test in this package also checks its server saw nothing
outside API_CALLS (conftest.py), so a path exercised only there is covered too.
"""

from __future__ import annotations

from collections.abc import Callable

from kubernetes.client import ApiClient

from luna_autoscaler.kube import API_CALLS, ElectionSettings, KubeCluster, LeaseElector
from luna_autoscaler.models.scheduling import Taint
from luna_autoscaler.models.workloads import Condition
from luna_autoscaler.ports import EvictionOutcome, ObjectRef
from tests.kube.conftest import FakeClock
from tests.kubeapi import FakeApiServer, Fault
from tests.kubeapi.objects import configmap, daemonset, node, pdb, pod, provisioning_request


def test_the_adapter_calls_exactly_what_api_calls_declares(
    api: FakeApiServer, start_cluster: Callable[..., KubeCluster], client: ApiClient, clock: FakeClock
) -> None:
    api.create(node("n1"))
    api.create(pod("app", node_name="n1", labels={"app": "web"}))
    api.create(daemonset("agent"))
    api.create(pdb("web", match_labels={"app": "web"}, disruptions_allowed=1))
    api.create(configmap("luna-autoscaler-config", "luna-autoscaler", {"maxNodes": "not a number"}))

    api.create(provisioning_request("train", "worker", 2))
    cluster = start_cluster()
    for resource in ("pods", "nodes", "daemonsets", "poddisruptionbudgets", "configmaps"):
        assert api.wait_for_watches(resource)
    for resource, count in (
        ("podgroups", 3),
        ("queues", 1),
        ("clusterqueues", 1),
        ("localqueues", 1),
        ("provisioningrequests", 1),
        ("podtemplates", 1),
    ):
        assert api.wait_for_watches(resource, count)
    (request,) = cluster.workloads().provisioning_requests
    cluster.set_conditions(request, [Condition("Accepted", "True", "Accepted", "accepted", "2026-01-01T00:00:00Z")])
    cluster.label_node("n1", {"node.elotl.co/managed-by": "luna-autoscaler"})
    cluster.taint_node("n1", Taint("nvidia.com/gpu", "present", "NoSchedule"))
    cluster.cordon("n1")
    (app,) = cluster.snapshot().pods_on("n1")
    assert cluster.evict(app) is EvictionOutcome.EVICTED
    cluster.delete_node("n1")
    api.inject(Fault(path=r"^/apis/events\.k8s\.io/", status=404, times=None))
    cluster.post_event(ObjectRef("Pod", "app", "default"), "TriggeredScaleUp", "launching")

    elector = LeaseElector(client, ElectionSettings(identity="me"), clock=clock)
    assert elector.step()  # get (404), create
    assert elector.step()  # get, update
    elector.release()  # get, update

    assert api.calls() == set(API_CALLS)
    assert len(API_CALLS) == len(set(API_CALLS))

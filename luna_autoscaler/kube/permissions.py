"""Every Kubernetes API call the adapter makes, as RBAC sees it: the one list the deploy helper derives its
ClusterRole from.

Kept honest by tests/kube/test_permissions.py, which runs the whole adapter against the fake API server, records
the (group, resource, verb) of every request the server received, and asserts the two sets are equal: a call added
without a line here fails the test, and so does a line here that no code uses.
"""

from __future__ import annotations

from typing import NamedTuple


class ApiCall(NamedTuple):
    group: str  # "" is the core API group
    resource: str  # plural, "resource/subresource" for subresources
    verb: str


API_CALLS: tuple[ApiCall, ...] = (
    # the cluster cache (cache.py): list + watch
    ApiCall("", "pods", "list"),
    ApiCall("", "pods", "watch"),
    ApiCall("", "nodes", "list"),
    ApiCall("", "nodes", "watch"),
    ApiCall("apps", "daemonsets", "list"),
    ApiCall("apps", "daemonsets", "watch"),
    ApiCall("policy", "poddisruptionbudgets", "list"),
    ApiCall("policy", "poddisruptionbudgets", "watch"),
    # the configuration ConfigMap (config_source.py), in its own namespace
    ApiCall("", "configmaps", "list"),
    ApiCall("", "configmaps", "watch"),
    # gang and queue CRDs (workloads.py): list + watch where installed; ProvisioningRequest answers
    *(
        ApiCall(group, resource, verb)
        for group, resource in (
            ("scheduling.run.ai", "podgroups"),
            ("scheduling.x-k8s.io", "podgroups"),
            ("scheduling.volcano.sh", "podgroups"),
            ("scheduling.run.ai", "queues"),
            ("kueue.x-k8s.io", "clusterqueues"),
            ("kueue.x-k8s.io", "localqueues"),
            ("autoscaling.x-k8s.io", "provisioningrequests"),
            ("", "podtemplates"),
        )
        for verb in ("list", "watch")
    ),
    ApiCall("autoscaling.x-k8s.io", "provisioningrequests/status", "patch"),
    # node operations (cluster.py)
    ApiCall("", "nodes", "get"),
    ApiCall("", "nodes", "patch"),
    ApiCall("", "nodes", "delete"),
    ApiCall("", "pods/eviction", "create"),
    # Events (events.py): events.k8s.io/v1, core/v1 as the fallback
    ApiCall("events.k8s.io", "events", "create"),
    ApiCall("", "events", "create"),
    # leader election (leader.py), in the daemon's namespace
    ApiCall("coordination.k8s.io", "leases", "get"),
    ApiCall("coordination.k8s.io", "leases", "create"),
    ApiCall("coordination.k8s.io", "leases", "update"),
)

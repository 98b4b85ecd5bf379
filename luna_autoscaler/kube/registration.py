"""Node objects written as a kubelet writes them: for machines that have no kubelet (the fake cloud's).

`luna-autoscaler run --provider fake` against a local API server (kind, the tests' fake server) launched machines
that never became Nodes, so pods waited forever after TriggeredScaleUp. With `fake.registerNodes` the fake cloud
registers each running machine's Node through the `NodeRegistrar` port (luna_autoscaler.simulation.kubelet builds
the Node, this module writes it). The whole object is created in one POST, taints included, as `kubelet
--register-with-taints` does: a taint patched on afterwards would leave a window in which the scheduler puts a
CPU pod on a GPU node.

Creating Nodes is not in the daemon's ClusterRole (kube/permissions.py lists what the daemon itself does on a real
cluster); a local run's kubeconfig user may do it.
"""

from __future__ import annotations

from typing import Any

from luna_autoscaler.kube.rest import KubeApiError, Rest
from luna_autoscaler.models.pod import Node


def node_object(node: Node) -> dict[str, Any]:
    """A domain Node as the API object its kubelet registers (Ready, with its taints from the start)."""
    spec: dict[str, Any] = {
        "taints": [{"key": t.key, "effect": t.effect, **({"value": t.value} if t.value else {})} for t in node.taints]
    }
    if node.provider_id:
        spec["providerID"] = node.provider_id
    if node.unschedulable:
        spec["unschedulable"] = True
    ready = "True" if node.ready else "False"
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": node.name, "labels": dict(node.labels), "annotations": dict(node.annotations)},
        "spec": spec,
        "status": {
            "capacity": node.capacity.as_quantities(),
            "allocatable": node.allocatable.as_quantities(),
            "conditions": [{"type": "Ready", "status": ready, "reason": "KubeletReady" if node.ready else ""}],
        },
    }


class NodeObjects:
    """Create and delete Node objects; both idempotent (a Node that already exists, or is already gone, is fine)."""

    def __init__(self, rest: Rest) -> None:
        self._rest = rest

    def register_node(self, node: Node) -> None:
        try:
            self._rest.call(f"register node {node.name}", self._rest.core.create_node, node_object(node))
        except KubeApiError as e:
            if not e.conflict:  # 409 AlreadyExists: registered by an earlier call whose answer was lost
                raise

    def delete_node(self, node_name: str) -> None:
        try:
            self._rest.call(f"delete node {node_name}", self._rest.core.delete_node, node_name)
        except KubeApiError as e:
            if not e.not_found:
                raise

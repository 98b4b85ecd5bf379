"""The Kubernetes adapter: everything the daemon says to and hears from the API server, on the official client.

This is the only package that imports `kubernetes`. It gives the rest of the product the `Cluster` port
(`KubeCluster`: a watch-fed cache of pods, nodes, DaemonSets and PDBs, node operations, evictions, Events, the
hot-reloaded configuration ConfigMap), the `Leadership` port on a Lease (`LeaseElector`), `connect()` for the
CLI, and `API_CALLS` for RBAC. Draining is the reconcile loop's (luna_autoscaler.reconcile.drain), through the
`Cluster` port. docs/design/kube-adapter.md records the choices.
"""

from luna_autoscaler.kube.cache import NotSynced
from luna_autoscaler.kube.cluster import KubeCluster, KubeSettings
from luna_autoscaler.kube.connection import check_reachable, connect
from luna_autoscaler.kube.leader import ElectionSettings, LeaseElector
from luna_autoscaler.kube.permissions import API_CALLS, ApiCall
from luna_autoscaler.kube.reflector import WatchSettings
from luna_autoscaler.kube.rest import CallPolicy, KubeApiError

__all__ = [
    "API_CALLS",
    "ApiCall",
    "CallPolicy",
    "ElectionSettings",
    "KubeApiError",
    "KubeCluster",
    "KubeSettings",
    "LeaseElector",
    "NotSynced",
    "WatchSettings",
    "check_reachable",
    "connect",
]

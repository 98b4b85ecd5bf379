"""A fake Kubernetes API server over real HTTP, good enough for the official `kubernetes` client.

No real kube-apiserver can run on the test machines (testing.md), and the existing fakes ignore selectors and
resourceVersions; this one keeps the semantics adapters depend on (list + watch from a resourceVersion, 410 on
expired versions, selectors, optimistic concurrency, patches, eviction vs PodDisruptionBudgets, status
subresources, discovery) and adds what a real server cannot: injected faults and dropped watch streams.
"""

from tests.kubeapi.faults import Fault
from tests.kubeapi.server import FakeApiServer, RequestRecord

__all__ = ["FakeApiServer", "Fault", "RequestRecord"]

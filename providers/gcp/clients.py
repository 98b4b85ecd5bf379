"""The Google clients the GKE provider uses, built once from the credentials and `gcp.*` endpoints (REST).

REST rather than gRPC: one transport to reach through proxies and Private Service Connect, and the one our tests
drive against a local recording server. The SDKs' own retries are switched off per call (`NO_RETRY`): a call that
fails is classified and the reconcile loop backs off, so no call ever sleeps inside a cycle.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from google.api_core.client_options import ClientOptions
from google.cloud import billing_v1, compute_v1, container_v1

from providers.gcp.config import GcpConfig

NO_RETRY: Any = None


def _options(endpoint: str) -> ClientOptions | None:
    return ClientOptions(api_endpoint=endpoint) if endpoint else None


@dataclass(frozen=True, slots=True)
class GcpClients:
    container: Any  # container_v1.ClusterManagerClient
    instance_groups: Any  # compute_v1.InstanceGroupManagersClient
    zone_operations: Any  # compute_v1.ZoneOperationsClient
    billing: Any  # billing_v1.CloudCatalogClient

    @staticmethod
    def build(gcp: GcpConfig, credentials: Any) -> GcpClients:
        compute = {"credentials": credentials, "transport": "rest", "client_options": _options(gcp.compute_endpoint)}
        return GcpClients(
            container=container_v1.ClusterManagerClient(
                credentials=credentials, transport="rest", client_options=_options(gcp.container_endpoint)
            ),
            instance_groups=compute_v1.InstanceGroupManagersClient(**compute),
            zone_operations=compute_v1.ZoneOperationsClient(**compute),
            billing=billing_v1.CloudCatalogClient(
                credentials=credentials, transport="rest", client_options=_options(gcp.billing_endpoint)
            ),
        )

"""The Azure SDK clients the provider uses, built once: AKS agent pools and machines (azure-mgmt-containerservice).

Credentials come from azure-identity's `DefaultAzureCredential`, which on AKS picks up Workload Identity (the
`AZURE_CLIENT_ID`, `AZURE_TENANT_ID` and `AZURE_FEDERATED_TOKEN_FILE` the webhook injects). The SDK's own retry
policy is switched off (`retry_total=0`): it would sleep inside the reconcile loop, up to a throttled answer's
Retry-After; a refused call is classified `Transient` with that Retry-After instead and the loop backs off.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from azure.mgmt.containerservice import ContainerServiceClient

from providers.azure.config import PUBLIC_ARM_ENDPOINT, AzureConfig


@dataclass(frozen=True)
class AzureClients:
    containers: Any  # ContainerServiceClient

    @staticmethod
    def build(azure: AzureConfig, credential: Any, **client_options: Any) -> AzureClients:
        """Clients for `azure.subscriptionId` at `azure.armEndpoint`; `client_options` reach the SDK client (tests
        give an authentication policy for a plain-HTTP endpoint)."""
        options: dict[str, Any] = {"retry_total": 0, "polling_interval": 0, **client_options}
        if azure.arm_endpoint != PUBLIC_ARM_ENDPOINT:
            options.setdefault("credential_scopes", [f"{azure.arm_endpoint.rstrip('/')}/.default"])
        client = ContainerServiceClient(credential, azure.subscription_id, base_url=azure.arm_endpoint, **options)
        return AzureClients(containers=client)

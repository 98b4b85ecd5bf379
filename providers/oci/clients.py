"""The OCI SDK clients the provider uses, built once from `oci.*` (auth, region, optional endpoint override).

In a pod the default is OKE Workload Identity (the service account token exchanged for a resource principal
session token); `instancePrincipal` uses the node's identity (a dynamic group), `apiKey` a config file.
`serviceEndpoint` points every client at one URL (a proxy, or a test's recording server). The SDK's own retries
are switched off: a call that fails is classified and the reconcile loop decides when to try again, so no call
sleeps inside the SDK.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import oci

from luna_autoscaler.errors import ProviderConfigurationError
from providers.oci.config import OciConfig


@dataclass(frozen=True)
class OciClients:
    compute: oci.core.ComputeClient
    work_requests: oci.work_requests.WorkRequestClient
    identity: oci.identity.IdentityClient
    container_engine: oci.container_engine.ContainerEngineClient

    @staticmethod
    def build(config: dict[str, Any], *, signer: Any = None, service_endpoint: str = "") -> OciClients:
        kwargs: dict[str, Any] = {"retry_strategy": oci.retry.NoneRetryStrategy()}
        if signer is not None:
            kwargs["signer"] = signer
        if service_endpoint:
            kwargs["service_endpoint"] = service_endpoint
        return OciClients(
            compute=oci.core.ComputeClient(config, **kwargs),
            work_requests=oci.work_requests.WorkRequestClient(config, **kwargs),
            identity=oci.identity.IdentityClient(config, **kwargs),
            container_engine=oci.container_engine.ContainerEngineClient(config, **kwargs),
        )

    @staticmethod
    def for_section(section: OciConfig) -> OciClients:
        try:
            if section.auth == "apiKey":
                config = oci.config.from_file(os.path.expanduser(section.config_file), section.profile)
                config["region"] = section.region or config.get("region", "")
                return OciClients.build(config, service_endpoint=section.service_endpoint)
            if section.auth == "instancePrincipal":
                signer: Any = oci.auth.signers.InstancePrincipalsSecurityTokenSigner()
            else:
                signer = oci.auth.signers.get_oke_workload_identity_resource_principal_signer()
        except (oci.exceptions.ClientError, OSError, ValueError, KeyError) as e:
            raise ProviderConfigurationError(f"oci.auth {section.auth}: cannot build credentials: {e}") from e
        return OciClients.build({"region": section.region}, signer=signer, service_endpoint=section.service_endpoint)


def all_pages(list_call: Callable[..., Any], *args: Any, **kwargs: Any) -> list[Any]:
    """Every item of a paginated OCI list call, following `opc-next-page`. Not `oci.pagination`: that wraps each
    call in the SDK's default retry strategy, which sleeps between attempts."""
    items: list[Any] = []
    page: str | None = None
    while True:
        response = list_call(*args, **kwargs, **({"page": page} if page else {}))
        items.extend(response.data)
        page = response.next_page
        if not page:
            return items

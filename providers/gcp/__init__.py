"""The GCP (GKE) provider: GKE node pools per node configuration, live Cloud Billing prices, preemption notices
from GCE operations (docs/gcp.md).

Importing this package needs no SDK (its config section is read by the core); `create` imports the Google
libraries and turns their absence into `MissingExtra`.
"""

from __future__ import annotations

from luna_autoscaler.errors import MissingExtra, ProviderConfigurationError
from luna_autoscaler.ports import NodeProvider, ProviderContext
from providers.gcp.config import GcpConfig

CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"


def create(ctx: ProviderContext) -> NodeProvider:
    """The `luna_autoscaler.providers` entry point: Application Default Credentials (Workload Identity on GKE)."""
    try:
        import google.auth
        from google.auth.exceptions import DefaultCredentialsError
        from google.cloud import billing_v1, compute_v1, container_v1  # noqa: F401
    except ImportError as e:
        raise MissingExtra("gcp", "google-cloud-container, google-cloud-compute and google-cloud-billing") from e
    from pricing.catalog import provider_catalog
    from providers.gcp.clients import GcpClients
    from providers.gcp.provider import GkeProvider

    config = ctx.config
    gcp = GcpConfig.of(config)
    bundled = provider_catalog("gcp", gcp.region, "gcp.region")
    try:
        credentials, _project = google.auth.default(scopes=[CLOUD_PLATFORM_SCOPE])
    except DefaultCredentialsError as e:
        raise ProviderConfigurationError(
            f"no Google credentials ({e}): bind the Kubernetes service account through Workload Identity (docs/gcp.md)"
        ) from e
    return GkeProvider(
        config=config,
        cluster_name=ctx.cluster_name,
        clients=GcpClients.build(gcp, credentials),
        clock=ctx.clock,
        bundled=bundled,
        metrics_registry=ctx.metrics_registry,
    )

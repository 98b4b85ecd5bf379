"""The OCI (OKE) provider: self-managed OKE nodes as Compute instances, live OCI prices (docs/oci.md).

Importing this package needs no SDK (its config section is read by the core); `create` imports the oci SDK and
turns its absence into `MissingExtra`, so a cluster on another cloud never trips over a missing OCI SDK.
"""

from __future__ import annotations

from luna_autoscaler.errors import MissingExtra
from luna_autoscaler.ports import NodeProvider, ProviderContext
from providers.oci.config import OciConfig

# The bundled snapshot lists OCI's shapes and prices in this region only; prices do not vary by region on OCI,
# and the provider places the shapes in the cluster's own region and availability domains.
BUNDLED_REGION = "us-sanjose-1"


def create(ctx: ProviderContext) -> NodeProvider:
    """The `luna_autoscaler.providers` entry point: credentials per `oci.auth` (workload identity by default)."""
    try:
        import oci  # noqa: F401
    except ImportError as e:
        raise MissingExtra("oci", "oci") from e
    from pricing.catalog import provider_catalog
    from providers.oci.clients import OciClients
    from providers.oci.provider import OciProvider

    config = ctx.config
    bundled = provider_catalog("oci", BUNDLED_REGION, "bundled OCI catalog")
    return OciProvider(
        config=config,
        cluster_name=ctx.cluster_name,
        clients=OciClients.for_section(OciConfig.of(config)),
        clock=ctx.clock,
        bundled=bundled,
        metrics_registry=ctx.metrics_registry,
    )

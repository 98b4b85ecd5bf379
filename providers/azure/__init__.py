"""The Azure (AKS) provider: one agent pool per node configuration, live retail prices (docs/azure.md).

Importing this package costs nothing and needs no SDK (its config section is read by the core); `create` imports
the Azure SDK and turns its absence into `MissingExtra`, so a cluster on another cloud never needs it.
"""

from __future__ import annotations

from typing import Any

from luna_autoscaler.errors import MissingExtra
from luna_autoscaler.ports import NodeProvider, ProviderContext
from providers.azure.config import AzureConfig


def create(ctx: ProviderContext, *, credential: Any = None, **client_options: Any) -> NodeProvider:
    """The `luna_autoscaler.providers` entry point: credentials from `DefaultAzureCredential` (Workload Identity
    on AKS). `credential` and `client_options` replace them (tests: a local endpoint over plain HTTP)."""
    try:
        from azure.identity import DefaultAzureCredential
    except ImportError as e:
        raise MissingExtra("azure", "azure-identity") from e
    try:
        import azure.mgmt.containerservice
    except ImportError as e:
        raise MissingExtra("azure", "azure-mgmt-containerservice") from e
    from pricing.azure.live_catalog import LiveAzureCatalog
    from pricing.catalog import provider_catalog
    from providers.azure.clients import AzureClients
    from providers.azure.provider import AzureProvider

    config = ctx.config
    azure = AzureConfig.of(config)
    bundled = provider_catalog("azure", azure.region, "azure.region")
    prices = LiveAzureCatalog(
        bundled, base_url=azure.retail_prices_url, clock=ctx.clock, refresh_seconds=azure.pricing_refresh_seconds
    )
    return AzureProvider(
        config=config,
        cluster_name=ctx.cluster_name,
        clients=AzureClients.build(azure, credential or DefaultAzureCredential(), **client_options),
        clock=ctx.clock,
        prices=prices,
        metrics_registry=ctx.metrics_registry,
    )

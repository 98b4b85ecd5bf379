"""The in-memory fake cloud (see providers.fake.provider), and its entry point for `--provider fake`.

`create` gives the fake the bundled catalog that its config section names (`fake.cloud`, `fake.region`; default:
AWS in its default region): a real price list makes simulations and demos plan as they would on that cloud, under
that cloud's configuration section (`Config.with_cloud_policy`: `aws.maxSpotInterruptBucket`...). Spot prices the
snapshot never observed are estimated by the planner from the live `spotPriceRatioEstimate`. With
`fake.registerNodes` it registers its machines' Nodes through the registrar the composition root gives it
(`ProviderContext.node_registrar`), so a local `run` goes all the way from a pending pod to a bound one.
"""

from __future__ import annotations

from pathlib import Path

from luna_autoscaler.errors import CatalogError, ProviderConfigurationError
from luna_autoscaler.ports import ProviderContext
from pricing.catalog import default_region, provider_catalog
from providers.fake.config import FakeConfig
from providers.fake.provider import FakeProvider, ProviderCall

__all__ = ["FakeProvider", "ProviderCall", "create"]


def create(ctx: ProviderContext) -> FakeProvider:
    """A fake selling the bundled catalog of `fake.cloud` / `fake.region`."""
    section = FakeConfig.of(ctx.config)
    try:
        region = section.region or default_region(section.cloud)
    except CatalogError as e:
        raise ProviderConfigurationError(f"fake.cloud/fake.region: {e}") from e
    if section.register_nodes and ctx.node_registrar is None:
        raise ProviderConfigurationError(
            "fake.registerNodes: nothing here can register Nodes (only `run` gives the fake a cluster to register "
            "them in; a simulation registers its own)"
        )
    catalog = ctx.config.with_cloud_policy(provider_catalog(section.cloud, region, "fake.cloud/fake.region"))
    return FakeProvider(
        catalog,
        ctx.clock,
        cluster_name=ctx.cluster_name,
        state_file=Path(section.state_file) if section.state_file else None,
        pool_shaped=section.pool_shaped,
        join_delay_seconds=section.join_delay_seconds,
        node_registrar=ctx.node_registrar if section.register_nodes else None,
    )

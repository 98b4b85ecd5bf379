"""The in-memory fake cloud (see providers.fake.provider), and its entry point for `--provider fake`.

`create` gives the fake the bundled catalog that its config section names (`fake.cloud`, `fake.region`; default:
AWS in its default region): a real price list makes simulations and demos plan as they would on that cloud. Spot
prices the snapshot never observed are estimated with `spotPriceRatioEstimate`, so spot-only pods can be placed
on every type.
"""

from __future__ import annotations

from pathlib import Path

from luna_autoscaler.errors import CatalogError, ProviderConfigurationError
from luna_autoscaler.ports import ProviderContext
from pricing.catalog import default_region, load_catalog
from providers.fake.config import FakeConfig
from providers.fake.provider import FakeProvider, ProviderCall

__all__ = ["FakeProvider", "ProviderCall", "create"]


def create(ctx: ProviderContext) -> FakeProvider:
    """A fake selling the bundled catalog of `fake.cloud` / `fake.region`."""
    section = FakeConfig.of(ctx.config)
    try:
        region = section.region or default_region(section.cloud)
        catalog = load_catalog(section.cloud, region, spot_price_ratio_estimate=ctx.config.spot_price_ratio_estimate)
    except CatalogError as e:
        raise ProviderConfigurationError(f"fake.cloud/fake.region: {e}") from e
    return FakeProvider(
        catalog,
        ctx.clock,
        cluster_name=ctx.cluster_name,
        state_file=Path(section.state_file) if section.state_file else None,
        pool_shaped=section.pool_shaped,
    )

"""The in-memory fake cloud (see providers.fake.provider), and its entry point for `--provider fake`.

`create` gives the fake the bundled AWS catalog of the configured AWS region (`aws.region`, default us-east-1):
a real price list makes simulations and demos plan as they would on EKS. Spot prices the snapshot never observed
are estimated with `spotPriceRatioEstimate`, so spot-only pods can be placed on every type.
"""

from __future__ import annotations

from luna_autoscaler.ports import ProviderContext
from pricing.catalog import load_catalog
from providers.fake.provider import FakeProvider, ProviderCall

__all__ = ["FakeProvider", "ProviderCall", "create"]

FAKE_CLOUD = "aws"


def create(ctx: ProviderContext) -> FakeProvider:
    """A fake selling `ctx.catalog` when the caller chose one (e.g. `simulate --cloud gcp`), else AWS's."""
    catalog = ctx.catalog or load_catalog(
        FAKE_CLOUD, ctx.config.aws.region, spot_price_ratio_estimate=ctx.config.spot_price_ratio_estimate
    )
    return FakeProvider(catalog, ctx.clock, cluster_name=ctx.cluster_name)

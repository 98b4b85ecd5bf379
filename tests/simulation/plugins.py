"""Provider plugins the `simulate` tests install under the entry point name `fake`, as a third party would."""

from __future__ import annotations

from luna_autoscaler.ports import ProviderContext
from pricing.catalog import load_catalog
from providers.fake import FakeProvider
from providers.fake.config import FakeConfig
from tests.simulation.conftest import SMALL_CATALOG


def selling_the_given_catalog(ctx: ProviderContext) -> FakeProvider:
    """Sells the catalog its config section names, as the real fake does (but without its own defaults)."""
    section = FakeConfig.of(ctx.config)
    return FakeProvider(load_catalog(section.cloud, section.region), ctx.clock, cluster_name=ctx.cluster_name)


def selling_its_own_catalog(ctx: ProviderContext) -> FakeProvider:
    return FakeProvider(SMALL_CATALOG, ctx.clock, cluster_name=ctx.cluster_name)

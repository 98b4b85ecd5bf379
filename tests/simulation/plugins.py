"""Provider plugins the `simulate` tests install under the entry point name `fake`, as a third party would."""

from __future__ import annotations

from luna_autoscaler.ports import ProviderContext
from providers.fake import FakeProvider
from tests.simulation.conftest import SMALL_CATALOG


def selling_the_given_catalog(ctx: ProviderContext) -> FakeProvider:
    return FakeProvider(ctx.catalog or SMALL_CATALOG, ctx.clock, cluster_name=ctx.cluster_name)


def selling_its_own_catalog(ctx: ProviderContext) -> FakeProvider:
    return FakeProvider(SMALL_CATALOG, ctx.clock, cluster_name=ctx.cluster_name)

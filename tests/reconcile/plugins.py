"""A provider plugin the `run` tests install by entry point: the product's fake, remembering the context it got."""

from __future__ import annotations

from luna_autoscaler.ports import NodeProvider, ProviderContext
from providers.fake import create

CONTEXTS: list[ProviderContext] = []


def remembering_its_context(ctx: ProviderContext) -> NodeProvider:
    CONTEXTS.append(ctx)
    return create(ctx)

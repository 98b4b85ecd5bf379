"""The product's `azure` entry point with a test credential and authentication policy: what `run --provider azure`
loads in tests/azure/test_run.py (the configuration, from `--config`, points it at the recording server)."""

from __future__ import annotations

from luna_autoscaler.ports import NodeProvider, ProviderContext
from providers.azure import create as create_azure
from tests.azure.world import FakeCredential, client_options


def create(ctx: ProviderContext) -> NodeProvider:
    return create_azure(ctx, credential=FakeCredential(), **client_options())

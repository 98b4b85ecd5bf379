"""An AKS cluster for tests: the recording ARM server on 127.0.0.1 and real SDK clients pointed at it.

The SDK needs a credential and, over plain HTTP, an authentication policy of its own (the bearer token policy
refuses a non-TLS endpoint): `FakeCredential` hands out a token and `StaticBearer` puts it on every request, as
/work/shared/design/testing.md describes. Retries are off and polling has no delay, so nothing in a test sleeps.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from azure.core.credentials import AccessToken
from azure.core.pipeline import PipelineRequest
from azure.core.pipeline.policies import SansIOHTTPPolicy

from luna_autoscaler.config import Config, config_from_mapping
from pricing.azure.live_catalog import LiveAzureCatalog
from pricing.catalog import load_catalog
from providers.azure.clients import AzureClients
from providers.azure.config import AzureConfig
from providers.azure.provider import AzureProvider
from tests.aws.clock import FakeClock
from tests.azure.arm_server import CLUSTER, REGION, RESOURCE_GROUP, SUBSCRIPTION, TOKEN, RecordingArmServer


class FakeCredential:
    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(TOKEN, int(time.time()) + 3600)


class StaticBearer(SansIOHTTPPolicy):  # type: ignore[type-arg]
    def on_request(self, request: PipelineRequest) -> None:  # type: ignore[type-arg]
        request.http_request.headers["Authorization"] = f"Bearer {TOKEN}"


def client_options() -> dict[str, Any]:
    return {"authentication_policy": StaticBearer()}


def azure_section(server: RecordingArmServer, **azure: Any) -> dict[str, Any]:
    """The `azure.*` keys of a cluster on `server`; keyword arguments override them (their user-facing names)."""
    section: dict[str, Any] = {
        "subscriptionId": SUBSCRIPTION,
        "resourceGroup": RESOURCE_GROUP,
        "clusterName": CLUSTER,
        "region": REGION,
        "armEndpoint": server.url,
        "retailPricesUrl": f"{server.url}/api/retail/prices",
        "pricingRefreshInterval": 0,
    }
    section.update(azure)
    return section


def azure_config(server: RecordingArmServer, **azure: Any) -> Config:
    return config_from_mapping({"azure": azure_section(server, **azure), "defaultOfferings": "spot,on-demand"})


def provider(server: RecordingArmServer, clock: FakeClock, cluster_name: str = CLUSTER, **azure: Any) -> AzureProvider:
    config = azure_config(server, **azure)
    section = AzureConfig.of(config)
    prices = LiveAzureCatalog(
        load_catalog("azure", REGION),
        base_url=section.retail_prices_url,
        clock=clock,
        refresh_seconds=section.pricing_refresh_seconds,
    )
    return AzureProvider(
        config=config,
        cluster_name=cluster_name,
        clients=AzureClients.build(section, FakeCredential(), **client_options()),
        clock=clock,
        prices=prices,
    )


@contextmanager
def running_server(**kwargs: Any) -> Iterator[RecordingArmServer]:
    server = RecordingArmServer(**kwargs).start()
    try:
        yield server
    finally:
        server.stop()

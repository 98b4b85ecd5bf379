"""The GCP world of a test: the recording server on 127.0.0.1, the real Google clients (REST) pointed at it with
anonymous credentials, and the `gcp.*` configuration that names the test project and cluster."""

from __future__ import annotations

from typing import Any

from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import billing_v1, compute_v1, container_v1

from luna_autoscaler.config import Config, config_from_mapping
from pricing.catalog import load_catalog
from providers.gcp.clients import GcpClients
from providers.gcp.provider import GkeProvider
from tests.aws.clock import FakeClock
from tests.gcp.recording_server import RecordingGcpServer

PROJECT = "luna-test"
REGION = "us-central1"
CLUSTER = "ml-cluster"


def clients(server: RecordingGcpServer) -> GcpClients:
    kw: dict[str, Any] = {
        "credentials": AnonymousCredentials(),
        "transport": "rest",
        "client_options": ClientOptions(api_endpoint=server.url),
    }
    return GcpClients(
        container=container_v1.ClusterManagerClient(**kw),
        instance_groups=compute_v1.InstanceGroupManagersClient(**kw),
        zone_operations=compute_v1.ZoneOperationsClient(**kw),
        billing=billing_v1.CloudCatalogClient(**kw),
    )


def config(**gcp: Any) -> Config:
    section = {"project": PROJECT, "region": REGION, "clusterName": CLUSTER, **gcp}
    return config_from_mapping({"gcp": section, "defaultOfferings": "spot,on-demand"})


def provider(server: RecordingGcpServer, clock: FakeClock, *, cluster_name: str = CLUSTER, **gcp: Any) -> GkeProvider:
    cfg = config(**gcp)
    return GkeProvider(
        config=cfg,
        cluster_name=cluster_name,
        clients=clients(server),
        clock=clock,
        bundled=load_catalog("gcp", REGION),
    )

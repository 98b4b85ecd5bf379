"""The `gcp.*` configuration section, owned by the GKE provider (docs/gcp.md lists every key).

It imports no SDK: the core validates every registered section at load time, whichever clouds are installed.
Registered in pyproject.toml under the entry point group `luna_autoscaler.config_sections`.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from luna_autoscaler.config import ConfigSection, Seconds
from luna_autoscaler.models.catalog import Catalog
from pricing.overhead import with_nodes

_POOL_PREFIX = re.compile(r"^[a-z][-a-z0-9]{0,15}$")


class GcpConfig(ConfigSection):
    section_name = "gcp"

    project: str = ""
    region: str = "us-central1"
    zones: tuple[str, ...] = ()  # zones the autoscaler may launch in; () → every zone of the region in the catalog
    cluster_name: str = Field(default="", alias="clusterName")  # the GKE cluster; "" → --cluster-name
    cluster_location: str = Field(default="", alias="clusterLocation")  # region or zone of the cluster; "" → region
    node_pool_prefix: str = Field(default="luna-", alias="nodePoolPrefix")
    disk_size_gib: int = Field(default=100, ge=10, alias="diskSizeGb")
    disk_type: str = Field(default="pd-balanced", alias="diskType")
    image_type: str = Field(default="COS_CONTAINERD", alias="imageType")
    service_account: str = Field(default="", alias="serviceAccount")  # nodes' service account; "" → GKE default
    gpu_driver_version: Literal["DEFAULT", "LATEST", "INSTALLATION_DISABLED"] = Field(
        default="DEFAULT", alias="gpuDriverVersion"
    )
    pricing_refresh_seconds: Seconds = Field(default=3600.0, alias="pricingRefreshInterval")
    preemption_poll_seconds: Seconds = Field(default=15.0, alias="preemptionPollInterval")
    # API endpoints ("" → Google's public ones): Private Service Connect, a restricted VIP, or a test server.
    container_endpoint: str = Field(default="", alias="containerEndpoint")
    compute_endpoint: str = Field(default="", alias="computeEndpoint")
    billing_endpoint: str = Field(default="", alias="billingEndpoint")

    @field_validator("node_pool_prefix")
    @classmethod
    def _pool_prefix(cls, value: str) -> str:
        if not _POOL_PREFIX.match(value):
            raise ValueError(
                "must start with a lowercase letter, hold only lowercase letters, digits and '-', and be at most 16 "
                "characters (GKE node pool names are at most 40)"
            )
        return value

    @property
    def location(self) -> str:
        return self.cluster_location or self.region

    def catalog_policy(self, catalog: Catalog) -> Catalog:
        """Node storage on the configured boot disk."""
        return with_nodes(catalog, self.disk_size_gib)

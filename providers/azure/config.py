"""The `azure.*` configuration section, owned by the AKS provider (docs/azure.md lists every key).

It imports no SDK: the core validates every registered section at load time, whichever clouds are installed.
Registered in pyproject.toml under the entry point group `luna_autoscaler.config_sections`.
"""

from __future__ import annotations

from pydantic import Field

from luna_autoscaler.config import ConfigSection, Seconds
from luna_autoscaler.models.catalog import Catalog
from pricing.overhead import with_nodes

PUBLIC_ARM_ENDPOINT = "https://management.azure.com"
PUBLIC_RETAIL_PRICES_URL = "https://prices.azure.com/api/retail/prices"


class AzureConfig(ConfigSection):
    section_name = "azure"

    subscription_id: str = Field(default="", alias="subscriptionId")
    resource_group: str = Field(default="", alias="resourceGroup")
    region: str = "eastus"
    cluster_name: str = Field(default="", alias="clusterName")
    # Availability zones ("1", "2", "3") the autoscaler may place nodes in; empty: regional pools (no zone).
    zones: tuple[str, ...] = ()
    os_disk_gib: int = Field(default=128, ge=30, alias="osDiskSizeGb")
    os_sku: str = Field(default="Ubuntu", alias="osSku")
    vnet_subnet_id: str = Field(default="", alias="vnetSubnetId")  # "": the cluster's default node subnet
    max_pods: int | None = Field(default=None, ge=10, le=250, alias="maxPods")
    skip_gpu_driver_install: bool = Field(default=False, alias="skipGpuDriverInstall")
    arm_endpoint: str = Field(default=PUBLIC_ARM_ENDPOINT, alias="armEndpoint")
    retail_prices_url: str = Field(default=PUBLIC_RETAIL_PRICES_URL, alias="retailPricesUrl")
    pricing_refresh_seconds: Seconds = Field(default=3600.0, alias="pricingRefreshInterval")

    def catalog_policy(self, catalog: Catalog) -> Catalog:
        """Node storage on the configured boot disk."""
        return with_nodes(catalog, self.os_disk_gib)
